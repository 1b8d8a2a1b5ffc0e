//! Clients other teams generate with openapi-generator (pinned, installed on first use
//! with the Python client's runtime and pytest into
//! `target/xtask-tools/python-client/venv`; Java from the system's packages if missing):
//!
//! - `cargo xtask python`: the `python` client runs the rest workflow against the
//!   simulator over HTTPS with its CA trusted (`tests/python/`), using nothing but the
//!   generated code;
//! - `cargo xtask java`: the `java` client (native library) is generated, compiled with
//!   Jackson from the system's packages and runs the rest workflow against the simulator
//!   (`tests/java/RestWorkflow.java`), using nothing but the generated code.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::command::run;
use crate::installs::{ensure_command, ensure_java, ensure_java_libraries};
use crate::tools::{Sim, ensure_venv};

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

/// How the Java proof generates the client (native library). `--schema-mappings`: the
/// agent state's `result` is an object or a one-element array (the spec's `oneOf`), and
/// openapi-generator 7.26.0's native library writes a `oneOf` holding an array as Java
/// that does not compile (`getList<AgentStatus>()`, its issues #22249 and #22304); the
/// mapping types `result` as `Object`, which Jackson fills with a map or a list.
const JAVA_OPTIONS: [&str; 6] = [
    "--library",
    "native",
    "--additional-properties",
    "openApiNullable=false,invokerPackage=org.ccgw.client,apiPackage=org.ccgw.client.api,modelPackage=org.ccgw.client.model",
    "--schema-mappings",
    "AgentStatusResponse_result=Object",
];

/// The Java proof: generate the `java` client, compile it with `javac` against Jackson and
/// the annotations from the system's packages, and run `tests/java/RestWorkflow.java` (the
/// rest workflow, nothing but the generated code) against the simulator over HTTPS.
///
/// The generated `ApiClient` registers jackson-datatype-jsr310, which Debian does not
/// package and Maven Central (out of reach here) would: its classes are taken from the
/// pinned openapi-generator jar, which carries them.
pub(crate) fn java(root: &Path) -> Result<()> {
    let dir = root.join("target/xtask-tools/java-client");
    let out = dir.join("generated");
    let venv = generate(root, "java", &out, &JAVA_OPTIONS)?;
    let javac = ensure_command(&["javac"], "default-jdk-headless")?;
    let jar = ensure_command(&["jar"], "default-jdk-headless")?;
    let mut classpath = ensure_java_libraries()?;
    let jsr310 = dir.join("jsr310");
    if !jsr310
        .join("com/fasterxml/jackson/datatype/jsr310")
        .is_dir()
    {
        std::fs::create_dir_all(&jsr310)?;
        run(
            Command::new(jar)
                .current_dir(&jsr310)
                .arg("xf")
                .arg(generator_jar(&venv)?)
                .arg("com/fasterxml/jackson/datatype/jsr310"),
            "jar xf (jackson-datatype-jsr310 from the generator's jar)",
        )?;
    }
    classpath.push(jsr310);
    let classpath = std::env::join_paths(&classpath)?;

    let classes = dir.join("classes");
    let _ = std::fs::remove_dir_all(&classes);
    std::fs::create_dir_all(&classes)?;
    let mut sources = Vec::new();
    java_sources(&out.join("src/main/java"), &mut sources)?;
    sources.push(root.join("tests/java/RestWorkflow.java"));
    eprintln!(
        "compiling the generated Java client ({} files)",
        sources.len()
    );
    run(
        Command::new(javac)
            .args(["-proc:none", "-nowarn", "-encoding", "UTF-8", "-d"])
            .arg(&classes)
            .arg("-cp")
            .arg(&classpath)
            .args(&sources),
        "javac (the generated Java client and tests/java/RestWorkflow.java)",
    )?;

    let sim = Sim::start_with(
        root,
        &root.join("target/xtask-tools"),
        "java",
        &["--guid-interval", "1", "--guid-timeout", "3"],
    )?;
    let mut run_classpath = std::ffi::OsString::from(&classes);
    run_classpath.push(":");
    run_classpath.push(&classpath);
    let status = Command::new(ensure_java()?)
        .arg("-cp")
        .arg(&run_classpath)
        .arg("RestWorkflow")
        .env("CCGW_URL", &sim.base_url)
        .env("CCGW_CA_FILE", &sim.ca_file)
        .env("CCGW_AGENT", "104")
        .status()
        .context("cannot run java")?;
    drop(sim);
    if !status.success() {
        bail!("the Java rest workflow failed ({status})");
    }
    Ok(())
}

/// The openapi-generator jar inside the pinned Python package.
fn generator_jar(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    for entry in
        std::fs::read_dir(&lib).with_context(|| format!("cannot read {}", lib.display()))?
    {
        let jar = entry?
            .path()
            .join("site-packages/openapi_generator_cli/openapi-generator.jar");
        if jar.is_file() {
            return Ok(jar);
        }
    }
    bail!("no openapi-generator.jar under {}", lib.display())
}

/// Every `.java` file under `dir`, recursively.
fn java_sources(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            java_sources(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "java") {
            found.push(path);
        }
    }
    Ok(())
}
