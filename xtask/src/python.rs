//! The Python proof (`cargo xtask python`, a step of `cargo xtask test`): the `python`
//! client generated from the spec by openapi-generator (pinned, installed on first use
//! with its runtime and pytest into `target/xtask-tools/python-client/venv`; Java from
//! the system's packages if missing) runs the rest workflow against the simulator over
//! HTTPS with its CA trusted (`tests/python/`), using nothing but the generated code.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::installs::ensure_java;
use crate::tools::{Sim, ensure_venv, run};

const REQUIREMENTS: &str = "xtask/tools/python-client/requirements.txt";
/// The generator's name for the package, as `tests/python/` imports it.
const PACKAGE: &str = "ccgateway_client";

/// The generator's warnings on this spec, each explained (a new one fails the step, so
/// it gets fixed in the spec or explained here):
const EXPLAINED_WARNINGS: [(&str, &str); 2] = [
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
        // name or properties, which the generator does not model (`event` is Optional).
        "Failed to get the schema name: null",
        "`NoEvent` (the poll's `null`), not modelled: `event` is optional",
    ),
];

pub(crate) fn python(root: &Path) -> Result<()> {
    let tools = root.join("target/xtask-tools/python-client");
    ensure_java()?;
    let venv = ensure_venv(
        root,
        &tools.join("venv"),
        REQUIREMENTS,
        "openapi-generator-cli",
    )?;
    let out = tools.join("generated");
    let _ = std::fs::remove_dir_all(&out);
    eprintln!("generating the python client (openapi-generator 7.26.0)");
    let generated = Command::new(venv.join("bin/openapi-generator-cli"))
        .current_dir(root)
        .args(["generate", "-g", "python", "-i", xtask::SPEC])
        .arg("-o")
        .arg(&out)
        .args(["--package-name", PACKAGE])
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
            "openapi-generator warned about something not explained in xtask/src/python.rs; fix the spec or explain it there:\n  {}",
            unexplained.join("\n  ")
        );
    }
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
        .status()
        .context("cannot run pytest")?;
    drop(sim);
    if !status.success() {
        bail!("the Python tests failed ({status})");
    }
    Ok(())
}
