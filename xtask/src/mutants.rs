//! `cargo xtask mutants`: mutation testing of the crates users depend on — cargo-mutants
//! (pinned, installed on first use) changes the hand-written code of `ccgw` and
//! `ccgw-client` one mutant at a time and asks whether a test notices. The settings
//! (what is excluded and why, which tests run, the timeout) are in
//! `.cargo/mutants.toml`; the README's "Test strength" has the latest score.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::installs::{CARGO_MUTANTS, cargo_with_tools, ensure_cargo_tool};

/// The packages mutated (their hand-written files; `.cargo/mutants.toml` excludes the
/// generated one).
const PACKAGES: [&str; 2] = ["ccgw", "ccgw-client"];
/// The source directories those packages' mutants come from.
const SOURCES: [&str; 2] = ["crates/ccgw/src", "crates/ccgw-client/src"];
/// Tests run at once in each test binary (unless `RUST_TEST_THREADS` says otherwise).
const TEST_THREADS: &str = "8";
/// Where cargo-mutants writes its results (`mutants.out/`).
const OUTPUT: &str = "target/mutants";

/// What to run: all mutants, a shard, some files, or those a diff touches.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// `K/N`: the K-th of N shards.
    pub(crate) shard: Option<String>,
    /// Only mutants in these files (globs as cargo-mutants takes them).
    pub(crate) files: Vec<String>,
    /// Only mutants on lines this unified diff touches.
    pub(crate) in_diff: Option<PathBuf>,
    /// Build and test this many mutants at once (default 1; each needs its own build).
    pub(crate) jobs: Option<u32>,
    /// List the mutants instead of testing them.
    pub(crate) list: bool,
    /// Skip the mutants the previous runs (in the same output directory) caught or found
    /// unviable: after adding tests, re-test only what was missed.
    pub(crate) iterate: bool,
}

pub(crate) fn mutants(root: &Path, selection: &Selection) -> Result<()> {
    ensure_cargo_tool(root, &CARGO_MUTANTS)?;
    let mut cmd = cargo_with_tools(root)?;
    cmd.current_dir(root).arg("mutants");
    for package in PACKAGES {
        cmd.args(["--package", package]);
    }
    cmd.args(["--output", OUTPUT]);
    if selection.list {
        cmd.arg("--list");
    }
    if let Some(shard) = &selection.shard {
        cmd.args(["--shard", shard]);
    }
    for file in &selection.files {
        cmd.args(["--file", file]);
    }
    if let Some(diff) = &selection.in_diff {
        cmd.arg("--in-diff").arg(diff);
    }
    if let Some(jobs) = selection.jobs {
        cmd.args(["--jobs", &jobs.to_string()]);
    }
    if selection.iterate {
        cmd.arg("--iterate");
    }
    // The end-to-end tests mostly wait on sockets and timers, not on the CPU: more of
    // them at once cut the whole suite from 45 s to 31 s on two cores.
    if std::env::var_os("RUST_TEST_THREADS").is_none() {
        cmd.env("RUST_TEST_THREADS", TEST_THREADS);
    }
    let status = cmd.status().context("cannot run cargo mutants")?;
    if selection.list {
        return if status.success() {
            Ok(())
        } else {
            bail!("cargo mutants --list failed ({status})")
        };
    }
    let results = root.join(OUTPUT).join("mutants.out");
    let tally = Tally::read(&results.join("outcomes.json"))?;
    eprintln!("{tally}");
    if selection.iterate {
        let earlier =
            std::fs::read_to_string(results.join("previously_caught.txt")).unwrap_or_default();
        eprintln!(
            "not tested again: {} mutants earlier runs caught or found unviable (mutants.out/previously_caught.txt)",
            earlier.lines().count()
        );
    }
    let missed = std::fs::read_to_string(results.join("missed.txt")).unwrap_or_default();
    if !missed.trim().is_empty() {
        eprintln!(
            "missed (add a test that notices, or an exclusion with its reason in .cargo/mutants.toml):\n{missed}"
        );
    }
    // 0: every mutant caught; 2: some missed; 3: some timed out (cargo-mutants' codes).
    match status.code() {
        Some(0) => Ok(()),
        Some(2) => bail!("{} mutant(s) missed", tally.missed),
        Some(3) => bail!(
            "{} mutant(s) timed out: a test hung on them (see {OUTPUT}/mutants.out/timeout.txt)",
            tally.timeout
        ),
        _ => bail!("cargo mutants failed ({status}); see {OUTPUT}/mutants.out/"),
    }
}

/// The test command's step: the mutants on lines this branch changed against `main`;
/// skipped when there is no such change (on `main` itself, for one).
pub(crate) fn mutants_of_the_change(root: &Path) -> Result<()> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let Some(base) = git(&["merge-base", "main", "HEAD"]) else {
        eprintln!("skipped: no `main` branch to compare with");
        return Ok(());
    };
    let mut args = vec!["diff", base.trim(), "--"];
    args.extend(SOURCES);
    let diff = git(&args).context("git diff failed")?;
    if diff.trim().is_empty() {
        eprintln!("skipped: no change to {SOURCES:?} against main");
        return Ok(());
    }
    let path = root.join("target/mutants-change.diff");
    std::fs::create_dir_all(root.join("target"))?;
    std::fs::write(&path, diff)?;
    mutants(
        root,
        &Selection {
            in_diff: Some(path),
            ..Selection::default()
        },
    )
}

/// Outcomes of one run, from cargo-mutants' `outcomes.json`.
#[derive(Debug, Default)]
struct Tally {
    caught: u64,
    missed: u64,
    timeout: u64,
    unviable: u64,
}

impl Tally {
    fn read(path: &Path) -> Result<Tally> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let outcomes: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let count = |key: &str| outcomes[key].as_u64().unwrap_or(0);
        Ok(Tally {
            caught: count("caught"),
            missed: count("missed"),
            timeout: count("timeout"),
            unviable: count("unviable"),
        })
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let viable = self.caught + self.missed + self.timeout;
        write!(
            f,
            "mutants: {} caught, {} missed, {} timed out, {} unviable",
            self.caught, self.missed, self.timeout, self.unviable
        )?;
        if viable > 0 {
            // Timeouts count as not caught: a test that hangs is not a test that fails.
            let score = self.caught as f64 * 100.0 / viable as f64;
            write!(f, " — {score:.1} % of {viable} viable mutants caught")?;
        }
        Ok(())
    }
}
