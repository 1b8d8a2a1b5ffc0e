//! Clients other teams generate with openapi-generator (pinned, installed on first use
//! with the Python client's runtime and pytest into
//! `target/xtask-tools/python-client/venv`; Java from the system's packages if missing):
//!
//! - `cargo xtask python`: the `python` client runs the rest workflow against the
//!   simulator over HTTPS with its CA trusted (`tests/python/`), using nothing but the
//!   generated code;
//! - `cargo xtask java`: the `java` client (native library) is generated with no error.
//!   It is not compiled: it needs jackson-datatype-jsr310, which Debian does not
//!   package, and Maven Central is out of reach here (README, "For other teams").

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::installs::ensure_java;
use crate::tools::{Sim, ensure_venv, run};

const REQUIREMENTS: &str = "xtask/tools/python-client/requirements.txt";
/// The generator's name for the Python package, as `tests/python/` imports it.
const PACKAGE: &str = "ccgateway_client";

/// The generator's warnings on this spec, each explained (a new one fails the step, so
/// it gets fixed in the spec or explained here):
const EXPLAINED_WARNINGS: [(&str, &str); 3] = [
    (
        // `result` of the rest, heartbeat and sign-out answers has no type on purpose:
        // gateways send `{}`, `null`, `""` or nothing, and a client that insisted on one
        // shape would turn a successful rest into a parse failure (the spec says so).
        // The generator types it `Any`, which is what it is.
        "Codegen property is null (e.g. map/dict of undefined type). Default to typing.Any.",
        "untyped `result` of the envelope answers (typing.Any, on purpose)",
    ),
    (
        // `NoEvent` is the `null` a poll answers when no event came: a schema without a
        // name or properties, which the generator does not model (`event` is optional).
        "Failed to get the schema name: null",
        "`NoEvent` (the poll's `null`), not modelled: `event` is optional",
    ),
    (
        // The sign-in body's example is an object (password, phone number, status, …);
        // the Java generator only copies scalar examples into its docs.
        "Ignoring complex example on request body",
        "the sign-in body's example object is left out of the Java docs",
    ),
];

/// Generates the `generator` client of the spec into `out` with `options`; fails on any
/// error or unexplained warning. Returns the pinned tools' virtual environment.
fn generate(root: &Path, generator: &str, out: &Path, options: &[&str]) -> Result<PathBuf> {
    ensure_java()?;
    let venv = ensure_venv(
        root,
        &root.join("target/xtask-tools/python-client/venv"),
        REQUIREMENTS,
        "openapi-generator-cli",
    )?;
    let _ = std::fs::remove_dir_all(out);
    eprintln!("generating the {generator} client (openapi-generator 7.26.0)");
    let generated = Command::new(venv.join("bin/openapi-generator-cli"))
        .current_dir(root)
        .args(["generate", "-g", generator, "-i", xtask::SPEC])
        .arg("-o")
        .arg(out)
        .args(options)
        .output()
        .context("cannot run openapi-generator-cli")?;
    let log = String::from_utf8_lossy(&generated.stdout).into_owned()
        + &String::from_utf8_lossy(&generated.stderr);
    if !generated.status.success() {
        eprint!("{log}");
        bail!("openapi-generator failed ({})", generated.status);
    }
    let errors = log.lines().filter(|l| l.contains(" ERROR ")).count();
    if errors > 0 {
        eprint!("{log}");
        bail!("openapi-generator reported {errors} error(s)");
    }
    let mut unexplained = Vec::new();
    for warning in log.lines().filter(|l| l.contains(" WARN ")) {
        match EXPLAINED_WARNINGS
            .iter()
            .find(|(text, _)| warning.contains(text))
        {
            Some((_, why)) => eprintln!("  generator warning, explained: {why}"),
            None => unexplained.push(warning.trim().to_owned()),
        }
    }
    if !unexplained.is_empty() {
        bail!(
            "openapi-generator warned about something not explained in xtask/src/generators.rs; fix the spec or explain it there:\n  {}",
            unexplained.join("\n  ")
        );
    }
    eprintln!(
        "{generator} client generated into {}: 0 errors",
        out.display()
    );
    Ok(venv)
}

/// The Python proof: generate, install, run `tests/python/` against the simulator.
pub(crate) fn python(root: &Path) -> Result<()> {
    let out = root.join("target/xtask-tools/python-client/generated");
    let venv = generate(root, "python", &out, &["--package-name", PACKAGE])?;
    run(
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
            ])
            .arg(&out),
        "pip install (the generated client)",
    )?;
    let sim = Sim::start_with(
        root,
        &root.join("target/xtask-tools"),
        "python",
        &["--guid-interval", "1", "--guid-timeout", "3"],
    )?;
    let status = Command::new(venv.join("bin/pytest"))
        .current_dir(root)
        .args(["-q", "-p", "no:cacheprovider", "tests/python"])
        .env("CCGW_URL", &sim.base_url)
        .env("CCGW_CA_FILE", &sim.ca_file)
        .env("CCGW_AGENT", "103")
        // The tests take the Guid's header from what the generated docs list.
        .env("CCGW_CLIENT_DOCS", out.join("docs/SessionApi.md"))
        .status()
        .context("cannot run pytest")?;
    drop(sim);
    if !status.success() {
        bail!("the Python tests failed ({status})");
    }
    Ok(())
}

/// The Java client (native library), generated with no error.
pub(crate) fn java(root: &Path) -> Result<()> {
    let out = root.join("target/xtask-tools/java-client/generated");
    generate(
        root,
        "java",
        &out,
        &[
            "--library",
            "native",
            "--additional-properties",
            "openApiNullable=false,useJakartaEe=true,invokerPackage=org.ccgw.client,apiPackage=org.ccgw.client.api,modelPackage=org.ccgw.client.model",
        ],
    )?;
    Ok(())
}
