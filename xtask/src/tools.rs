//! The spec tools other teams use, pinned in `xtask/tools/` and installed on first use
//! under `target/xtask-tools/` (a Python virtualenv and an npm prefix). Re-installed
//! only when the pinned versions change.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};
use xtask::{SPEC, sha256_hex};

use crate::command::{cargo, run};

const REQUIREMENTS: &str = "xtask/tools/requirements.txt";
const PACKAGE_JSON: &str = "xtask/tools/package.json";
const PACKAGE_LOCK: &str = "xtask/tools/package-lock.json";
const REDOCLY_CONFIG: &str = "openapi/redocly.yaml";

/// Runs openapi-spec-validator and `redocly lint` on the spec; fails on any error or warning.
pub(crate) fn spec_lint(root: &Path) -> Result<()> {
    let tools = root.join("target/xtask-tools");
    let validator = ensure_python_tools(root, &tools)?;
    let redocly = ensure_node_tools(root, &tools)?;

    eprintln!("openapi-spec-validator {SPEC}");
    run(
        Command::new(&validator).current_dir(root).arg(SPEC),
        "openapi-spec-validator",
    )?;

    eprintln!("redocly lint {SPEC} (config {REDOCLY_CONFIG})");
    let output = Command::new(&redocly)
        .current_dir(root)
        .args([
            "lint",
            "--config",
            REDOCLY_CONFIG,
            "--format",
            "stylish",
            SPEC,
        ])
        // Lint is offline: no telemetry, no update check.
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .env("NO_UPDATE_NOTIFIER", "1")
        .output()
        .context("cannot start redocly")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprint!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!("redocly lint found errors ({})", output.status);
    }
    // Redocly exits 0 on warnings; this project keeps the spec warning-free (silence a
    // rule in the config, with a reason, if it truly does not apply).
    let warnings = stdout.lines().filter(|l| is_stylish_warning(l)).count();
    if warnings > 0 {
        bail!(
            "redocly lint reported {warnings} warning(s); fix them or silence the rule with a reason in {REDOCLY_CONFIG}"
        );
    }
    Ok(())
}

/// A stylish-format problem line such as `  139:17  warning  rule-id  message`.
fn is_stylish_warning(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let position = words.next().unwrap_or_default();
    let is_position = position.split_once(':').is_some_and(|(l, c)| {
        !l.is_empty() && !c.is_empty() && (l.to_owned() + c).bytes().all(|b| b.is_ascii_digit())
    });
    is_position && words.next() == Some("warning")
}

/// Fewest generated cases the simulator conformance run must reach.
const MIN_SCHEMATHESIS_CASES: u64 = 1000;

/// Runs schemathesis against the simulator over HTTPS on loopback: every operation, all
/// checks but one, at least [`MIN_SCHEMATHESIS_CASES`] cases in total, zero failures.
///
/// Excluded check, on purpose: `ignored_auth` expects HTTP 401/403 for a missing or
/// wrong credential. The gateway answers every auth failure with HTTP 200 and `retcode`
/// `000-003` / `100-006` in the body (the spec documents this; real clients discard
/// non-200 bodies), which that check cannot see. Generation is `positive`: the gateway
/// reports invalid values with HTTP 200 and a return code too, so negative-data checks
/// would contradict the documented contract in the same way.
pub(crate) fn schemathesis(root: &Path) -> Result<()> {
    let tools = root.join("target/xtask-tools");
    ensure_python_tools(root, &tools)?;
    let sim = Sim::start(root, &tools, "schemathesis")?;
    let (base_url, ca_file, guid) = (
        sim.base_url.as_str(),
        sim.ca_file.as_str(),
        sim.guid.as_str(),
    );
    eprintln!("schemathesis against {base_url}");
    let output = Command::new(tools.join("venv/bin/schemathesis"))
        .current_dir(&tools)
        .arg("run")
        .arg(root.join(SPEC))
        .args(["--url", base_url, "--tls-verify", ca_file])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "ignored_auth",
            "--mode",
            "positive",
        ])
        .args(["--max-examples", "150", "--seed", "20261125", "--no-color"])
        .arg("--header")
        .arg(format!("Guid: {guid}"))
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .context("cannot start schemathesis")?;
    drop(sim);
    let report = String::from_utf8_lossy(&output.stdout);
    eprint!("{report}{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!("schemathesis found failures ({})", output.status);
    }
    let cases = generated_cases(&report).context("schemathesis printed no case count")?;
    if cases < MIN_SCHEMATHESIS_CASES {
        bail!(
            "schemathesis generated only {cases} cases; at least {MIN_SCHEMATHESIS_CASES} are required"
        );
    }
    eprintln!("schemathesis: {cases} generated cases, 0 failures");
    Ok(())
}

/// A simulator started for one tool (`cargo run -p ccgw-sim`), stopped when dropped.
pub(crate) struct Sim {
    _process: ccgw_testkit::SimProcess,
    pub(crate) base_url: String,
    pub(crate) ca_file: String,
    /// Guid of agent 101, signed in at start.
    pub(crate) guid: String,
}

impl Sim {
    pub(crate) fn start(root: &Path, tools: &Path, purpose: &str) -> Result<Sim> {
        Self::start_with(root, tools, purpose, &[])
    }

    /// Like [`start`](Self::start), with more of the simulator's options.
    pub(crate) fn start_with(
        root: &Path,
        tools: &Path,
        purpose: &str,
        options: &[&str],
    ) -> Result<Sim> {
        let cert_dir = tools.join(format!("sim-{purpose}"));
        eprintln!("starting the simulator for {purpose} (cargo run -p ccgw-sim)");
        let mut command = Command::new(cargo());
        command
            .current_dir(root)
            .args(["run", "--quiet", "--locked", "-p", "ccgw-sim", "--"]);
        let mut args = vec![
            "--poll-hold-ms",
            "300",
            "--agents",
            "101-59999",
            "--sign-in",
            "101",
        ];
        args.extend_from_slice(options);
        let sim = ccgw_testkit::SimProcess::start(command, &cert_dir, &args)
            .context("cannot start the simulator")?;
        let (Some(ca_file), Some(guid)) = (sim.ca_file(), sim.guid(101)) else {
            bail!(
                "the simulator's start line lacks ca_file or a Guid: {}",
                sim.start_line()
            );
        };
        let (base_url, ca_file, guid) = (
            sim.base_url().to_owned(),
            ca_file.to_owned(),
            guid.to_owned(),
        );
        Ok(Sim {
            _process: sim,
            base_url,
            ca_file,
            guid,
        })
    }
}

/// The TypeScript proof: openapi-typescript generates types from the spec, a small
/// consumer (`tests/ts/`) type-checks with `tsc --strict` and runs the rest workflow
/// against the simulator with Node's test runner.
pub(crate) fn typescript(root: &Path) -> Result<()> {
    let dir = root.join("tests/ts");
    let lock = std::fs::read(dir.join("package-lock.json"))
        .context("cannot read tests/ts/package-lock.json")?;
    let stamp = dir.join("node_modules/.installed-from");
    let want = sha256_hex(&lock);
    if !std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        eprintln!("installing the pinned TypeScript tools (tests/ts/package-lock.json)");
        npm_ci(&dir)?;
        std::fs::write(&stamp, want)?;
    }
    let _ = std::fs::remove_dir_all(dir.join("dist"));
    run(
        Command::new("npm")
            .current_dir(&dir)
            .args(["run", "-s", "generate"]),
        "openapi-typescript",
    )?;
    run(
        Command::new("npm")
            .current_dir(&dir)
            .args(["run", "-s", "build"]),
        "tsc --strict",
    )?;
    let sim = Sim::start(root, &root.join("target/xtask-tools"), "typescript")?;
    let output = Command::new("node")
        .current_dir(&dir)
        .args(["--test", "dist/"])
        .env("CCGW_URL", &sim.base_url)
        .env("NODE_EXTRA_CA_CERTS", &sim.ca_file)
        .env("CCGW_TS_AGENT", "102")
        .output()
        .context("cannot start node")?;
    drop(sim);
    let report = String::from_utf8_lossy(&output.stdout);
    eprint!("{report}{}", String::from_utf8_lossy(&output.stderr));
    let count = |key: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {key} ")))
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    if !output.status.success()
        || count("fail") != Some(0)
        || count("pass").unwrap_or(0) == 0
        || count("skipped") != Some(0)
    {
        bail!("the TypeScript tests failed ({})", output.status);
    }
    Ok(())
}

/// Checks the request/response pairs recorded by `tests/e2e/recorded_pairs.rs` against
/// the spec with openapi-core (run after the Rust tests, which write them).
pub(crate) fn recorded_pairs(root: &Path) -> Result<()> {
    let tools = root.join("target/xtask-tools");
    ensure_python_tools(root, &tools)?;
    let pairs = root.join("target/recordings/pairs.jsonl");
    if !pairs.exists() {
        bail!(
            "{} is missing: run `cargo test -p ccgw-tests --test e2e recorded_pairs` first",
            pairs.display()
        );
    }
    run(
        Command::new(tools.join("venv/bin/python"))
            .arg(root.join("xtask/tools/check_pairs.py"))
            .arg(root.join(SPEC))
            .arg(&pairs),
        "the recorded-pairs check",
    )
}

/// The screenshot of the rendered spec the README shows.
const SCREENSHOT: &str = "openapi/docs-screenshot.png";

/// Renders the spec to one static HTML page with Redocly (`target/docs/ccgateway.html`),
/// opens it in headless Chromium, checks that every operation and every return code is
/// on the page (and the spec's version), and takes the README's screenshot afresh
/// (`openapi/docs-screenshot.png`).
pub(crate) fn docs(root: &Path) -> Result<()> {
    let tools = root.join("target/xtask-tools");
    let redocly = ensure_node_tools(root, &tools)?;
    let out_dir = root.join("target/docs");
    std::fs::create_dir_all(&out_dir)?;
    let html = out_dir.join("ccgateway.html");
    run(
        Command::new(&redocly)
            .current_dir(root)
            .args(["build-docs", SPEC, "--output"])
            .arg(&html)
            .env("REDOCLY_TELEMETRY", "off")
            .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true"),
        "redocly build-docs",
    )?;
    let chromium = crate::installs::ensure_chromium()?;
    let url = format!("file://{}", html.display());
    let profile = out_dir.join("chromium-profile");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=5000",
    ];
    let dom = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .context("cannot run Chromium")?;
    let page = String::from_utf8_lossy(&dom.stdout);
    let spec: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root.join(SPEC))?)?;
    let (missing, operations, codes) = missing_from_page(&page, &spec);
    if !missing.is_empty() {
        bail!(
            "the rendered page lacks {missing:?} ({} bytes of DOM)",
            page.len()
        );
    }
    // The README's picture of the rendered spec, taken from this spec every run.
    let shot = root.join(SCREENSHOT);
    run(
        Command::new(chromium)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--window-size=1400,1000")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "Chromium screenshot",
    )?;
    eprintln!(
        "rendered {} ({operations} operations and {} return codes found on the page); screenshot {}",
        html.display(),
        codes.len(),
        shot.display()
    );
    Ok(())
}

/// What of `spec` (each operation's summary and id, the version, every return code) the
/// rendered `page` lacks; the number of operations and the codes looked for.
fn missing_from_page(
    page: &str,
    spec: &serde_json::Value,
) -> (Vec<String>, usize, std::collections::BTreeSet<String>) {
    let mut missing = Vec::new();
    let (mut operations, mut codes) = (0, std::collections::BTreeSet::new());
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            operations += 1;
            for text in [op["summary"].as_str(), op["operationId"].as_str()]
                .into_iter()
                .flatten()
            {
                if !page.contains(text) {
                    missing.push(text.to_owned());
                }
            }
            for code in op["x-ccgw-retcodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["code"].as_str())
            {
                codes.insert(code.to_owned());
            }
        }
    }
    // The screenshot in the README must show this version of the spec.
    if let Some(version) = spec["info"]["version"].as_str()
        && !page.contains(version)
    {
        missing.push(format!("version {version}"));
    }
    for code in codes.iter().filter(|c| *c != "0") {
        if !page.contains(code.as_str()) {
            missing.push(code.clone());
        }
    }
    (missing, operations, codes)
}

/// `N` from schemathesis's summary line `N generated, N passed`.
fn generated_cases(report: &str) -> Option<u64> {
    report
        .lines()
        .find_map(|l| l.trim().split_once(" generated"))
        .and_then(|(n, _)| n.trim().parse().ok())
}

fn ensure_python_tools(root: &Path, tools: &Path) -> Result<PathBuf> {
    let venv = ensure_venv(root, &tools.join("venv"), REQUIREMENTS, "schemathesis")?;
    Ok(venv.join("bin/openapi-spec-validator"))
}

/// A virtual environment at `venv` with exactly the pinned `requirements` (a file in the
/// repository), made afresh when they change or `bin/<probe>` is missing.
pub(crate) fn ensure_venv(
    root: &Path,
    venv: &Path,
    requirements: &str,
    probe: &str,
) -> Result<PathBuf> {
    let pinned = std::fs::read(root.join(requirements))
        .with_context(|| format!("cannot read {requirements}"))?;
    let stamp = venv.join(".installed-from");
    let want = sha256_hex(&pinned);
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == want)
        && venv.join("bin").join(probe).exists()
    {
        return Ok(venv.to_path_buf());
    }
    eprintln!(
        "installing the pinned Python tools ({requirements}) into {}",
        venv.display()
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    run(
        Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(venv),
        "python3 -m venv",
    )?;
    run(
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(root.join(requirements)),
        "pip install",
    )?;
    std::fs::write(&stamp, want)?;
    Ok(venv.to_path_buf())
}

fn ensure_node_tools(root: &Path, tools: &Path) -> Result<PathBuf> {
    let prefix = tools.join("node");
    let manifest = std::fs::read(root.join(PACKAGE_JSON))
        .with_context(|| format!("cannot read {PACKAGE_JSON}"))?;
    let lock = std::fs::read(root.join(PACKAGE_LOCK))
        .with_context(|| format!("cannot read {PACKAGE_LOCK}"))?;
    let want = sha256_hex(&[manifest.as_slice(), lock.as_slice()].concat());
    let stamp = prefix.join(".installed-from");
    let redocly = prefix.join("node_modules/.bin/redocly");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) && redocly.exists() {
        return Ok(redocly);
    }
    eprintln!(
        "installing the pinned npm spec tools ({PACKAGE_JSON}) into {}",
        prefix.display()
    );
    std::fs::create_dir_all(&prefix)?;
    std::fs::write(prefix.join("package.json"), &manifest)?;
    std::fs::write(prefix.join("package-lock.json"), &lock)?;
    npm_ci(&prefix)?;
    std::fs::write(&stamp, want)?;
    Ok(redocly)
}

/// `npm ci` quietly in `dir`.
fn npm_ci(dir: &Path) -> Result<()> {
    run(
        Command::new("npm").current_dir(dir).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
        "npm ci",
    )
}
