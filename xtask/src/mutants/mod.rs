//! `cargo xtask mutants`: mutation testing of the crates users depend on — cargo-mutants
//! (pinned, installed on first use) changes the hand-written code of `ccgw` and
//! `ccgw-client` one mutant at a time and asks whether a test notices. The settings
//! (what is excluded and why, which tests run, the timeout) are in
//! `.cargo/mutants.toml`; the mutants no test catches, each with why it stays, in
//! `.cargo/mutants-survivors.toml`.
//!
//! - A whole run (no selection) on a clean tree writes the report the README quotes
//!   (`docs/test-strength.*`, see [`report`]).
//! - The test command's step tests the mutants on lines changed since that run's commit,
//!   and a sample of the rest that rotates with the commit, within a budget.
//! - Every run fails on a missed or timed-out mutant the survivors list does not name.

mod report;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::command::{git, now_utc};
use crate::installs::{CARGO_MUTANTS, CARGO_NEXTEST, cargo_with_tools, ensure_cargo_tool};
use report::{Fate, Report, ReportMeta, Run, SURVIVORS, survivors};

/// The packages mutated (their hand-written files; `.cargo/mutants.toml` excludes the
/// generated one).
const PACKAGES: [&str; 2] = ["ccgw", "ccgw-client"];
/// The source directories those packages' mutants come from.
const SOURCES: [&str; 2] = ["crates/ccgw/src", "crates/ccgw-client/src"];
/// What a whole run's tree must not have changed in (the mutants and their tests).
const WATCHED: [&str; 5] = [
    "crates/ccgw",
    "crates/ccgw-client",
    "tests",
    ".cargo",
    "Cargo.lock",
];
/// Tests nextest runs at once (unless `NEXTEST_TEST_THREADS` says otherwise). The
/// end-to-end tests mostly wait on sockets and timers, not on the CPU: 32 at once run
/// the `e2e` binary in 11 s on two cores, 8 at once in 16 s.
const TEST_THREADS: &str = "32";
/// Where cargo-mutants writes its results (`mutants.out/`).
const OUTPUT: &str = "target/mutants";
/// The test command's budget: mutants tested per run (about 30 s each in place on two
/// cores: a relink, then the suite), so that the step, with cargo-mutants' first
/// install (about 5 minutes), keeps the test command well under an hour (12 took the
/// step to 8.6 minutes and the command past it).
const STEP_BUDGET: usize = 8;
/// The step builds with the profile `cargo test` uses, so that it starts from what the
/// test command's earlier steps built instead of building every dependency again in
/// the `mutants` profile (minutes on two cores); its links are slower (debug info).
const STEP_PROFILE: &str = "test";
/// The fewest mutants worth a sample of the unchanged code.
const SAMPLE_MIN: usize = 8;
/// A test phase longer than this is a hang (the suite takes about 15 s); the step skips
/// the baseline run that would otherwise derive it.
const STEP_TEST_TIMEOUT_SECS: &str = "60";

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
    /// Mutate the working tree and build in its `target/` instead of a copy (one job;
    /// no baseline run: the tests are known to pass).
    pub(crate) in_place: bool,
    /// Build with this cargo profile instead of `.cargo/mutants.toml`'s.
    pub(crate) profile: Option<&'static str>,
    /// Run the tests with cargo-nextest (installed on first use), stopping at the first
    /// failure, instead of `cargo test`.
    pub(crate) nextest: bool,
}

impl Selection {
    /// No selection: every mutant of both crates, the run the report describes.
    fn is_whole(&self) -> bool {
        self.shard.is_none()
            && self.files.is_empty()
            && self.in_diff.is_none()
            && !self.list
            && !self.iterate
    }
}

/// `cargo xtask mutants`.
pub(crate) fn mutants(root: &Path, selection: &Selection) -> Result<()> {
    let listed = survivors(root)?;
    if !selection.is_whole() {
        let run = run_mutants(root, selection, Path::new(OUTPUT))?;
        return match run {
            Some(run) => verdict(&run, &listed),
            None => Ok(()),
        };
    }
    let commit = git(root, &["rev-parse", "HEAD"])?.trim().to_owned();
    let mut status = vec!["status", "--porcelain", "--"];
    status.extend(WATCHED);
    let dirty = git(root, &status)?;
    if !dirty.trim().is_empty() {
        bail!("a whole run describes one commit: commit or stash these changes first\n{dirty}");
    }
    let date = now_utc()?;
    let started = Instant::now();
    let run = run_mutants(root, selection, Path::new(OUTPUT))?.unwrap_or_default();
    let report = Report::new(
        &run,
        &listed,
        ReportMeta {
            commit,
            date,
            cargo_mutants: CARGO_MUTANTS.version.to_owned(),
            jobs: selection.jobs.unwrap_or(1),
            duration_secs: started.elapsed().as_secs(),
        },
    );
    report.write(root)?;
    eprintln!(
        "wrote {}, {} and the README's paragraph",
        report::REPORT_JSON,
        report::REPORT_MD
    );
    verdict(&run, &listed)
}

/// `cargo xtask mutants --explain`: after listing the last whole run's survivors with
/// their reasons, writes those reasons into its report (nothing else changes).
pub(crate) fn explain(root: &Path) -> Result<()> {
    let listed = survivors(root)?;
    let report = Report::read(root)?.explained(&listed)?;
    report.write(root)?;
    eprintln!(
        "wrote the survivors' reasons into {}, {} and the README's paragraph",
        report::REPORT_JSON,
        report::REPORT_MD
    );
    Ok(())
}

/// The test command's step: the mutants on lines changed since the last whole run (a
/// shard of them when they are over the budget), and a sample of the others that
/// rotates with the commit — tested in place, failing on a survivor not listed.
pub(crate) fn mutants_since_whole_run(root: &Path) -> Result<()> {
    let listed = survivors(root)?;
    let base = Report::read(root)?.commit;
    if git(root, &["cat-file", "-e", &format!("{base}^{{commit}}")]).is_err() {
        bail!(
            "{} names commit {base}, which this clone does not have (a shallow clone? \
             fetch the history)",
            report::REPORT_JSON
        );
    }
    let head = git(root, &["rev-parse", "HEAD"])?.trim().to_owned();
    let turn = u64::from_str_radix(&head[..8.min(head.len())], 16).unwrap_or(0);
    let mut diff_args = vec!["diff", base.as_str(), "--"];
    diff_args.extend(SOURCES);
    let diff = git(root, &diff_args)?;
    let step_output = Path::new("target/mutants-step");
    let mut run = Run::default();
    let mut tested = 0;
    if diff.trim().is_empty() {
        eprintln!("no change to {SOURCES:?} since the last whole run ({base})");
    } else {
        let path = root.join("target/mutants-since-whole-run.diff");
        std::fs::create_dir_all(root.join("target"))?;
        std::fs::write(&path, &diff)?;
        let changed = Selection {
            in_diff: Some(path),
            in_place: true,
            profile: Some(STEP_PROFILE),
            ..Selection::default()
        };
        let count = count_mutants(root, &changed)?;
        let shards = count.div_ceil(STEP_BUDGET).max(1);
        let shard = (turn % shards as u64) as usize;
        if shards > 1 {
            eprintln!(
                "{count} mutants on lines changed since the last whole run ({base}): over the \
                 budget of {STEP_BUDGET}, so this run tests shard {shard} of {shards} (the \
                 shard rotates with the commit; a whole run tests them all)"
            );
        } else {
            eprintln!("{count} mutants on lines changed since the last whole run ({base})");
        }
        let selection = Selection {
            shard: (shards > 1).then(|| format!("{shard}/{shards}")),
            ..changed
        };
        if let Some(part) = run_mutants(root, &selection, &step_output.join("changed"))? {
            tested += part.outcomes.len();
            run.extend(part);
        }
    }
    let room = STEP_BUDGET.saturating_sub(tested);
    if room >= SAMPLE_MIN {
        let all = count_mutants(root, &Selection::default())?;
        let shards = all.div_ceil(room).max(1);
        let shard = (turn % shards as u64) as usize;
        eprintln!(
            "a sample of the unchanged code too: shard {shard} of {shards} of all {all} mutants \
             (it rotates with the commit), so a test that is weakened or lost shows"
        );
        let sample = Selection {
            shard: Some(format!("{shard}/{shards}")),
            in_place: true,
            profile: Some(STEP_PROFILE),
            ..Selection::default()
        };
        if let Some(part) = run_mutants(root, &sample, &step_output.join("sample"))? {
            run.extend(part);
        }
    }
    eprintln!("{run}");
    verdict(&run, &listed)
}

/// Fails on a missed or timed-out mutant that the survivors list does not explain.
fn verdict(run: &Run, listed: &[report::Survivor]) -> Result<()> {
    for stale in run.caught_survivors(listed) {
        eprintln!(
            "note: `{}` is listed in {SURVIVORS} but was caught: remove it",
            stale.mutant
        );
    }
    let unexplained = run.unexplained(listed);
    if unexplained.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = unexplained
        .iter()
        .map(|o| {
            let how = if o.fate == Fate::Timeout {
                "timed out (a test hung on it)"
            } else {
                "missed"
            };
            format!("  {} — {how}", o.name)
        })
        .collect();
    bail!(
        "{} mutant(s) survived that {SURVIVORS} does not list; add a test that notices, \
         or list the mutant with the reason it stays:\n{}",
        unexplained.len(),
        names.join("\n")
    )
}

/// Runs cargo-mutants on `selection` with its results in `output`; `None` when it
/// only listed, or found nothing to test.
fn run_mutants(root: &Path, selection: &Selection, output: &Path) -> Result<Option<Run>> {
    let mut cmd = cargo_mutants(root, selection)?;
    cmd.arg("--output").arg(output);
    // cargo-mutants makes `mutants.out/` but not the directories above it.
    std::fs::create_dir_all(root.join(output))
        .with_context(|| format!("cannot create {}", output.display()))?;
    let results = root.join(output).join("mutants.out");
    // A stale outcomes file must not pass for this run's.
    let _ = std::fs::remove_file(results.join("outcomes.json"));
    let status = cmd.status().context("cannot run cargo mutants")?;
    if selection.list {
        return if status.success() {
            Ok(None)
        } else {
            bail!("cargo mutants --list failed ({status})")
        };
    }
    // 0: every mutant caught; 2: some missed; 3: some timed out; the survivors list
    // decides which of those fail. Anything else is cargo-mutants failing.
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        bail!("cargo mutants failed ({status}); see {}", results.display());
    }
    if !results.join("outcomes.json").exists() {
        return Ok(None);
    }
    let run = Run::read(&results)?;
    eprintln!("{run}");
    if selection.iterate {
        let earlier =
            std::fs::read_to_string(results.join("previously_caught.txt")).unwrap_or_default();
        eprintln!(
            "not tested again: {} mutants earlier runs caught or found unviable (mutants.out/previously_caught.txt)",
            earlier.lines().count()
        );
    }
    Ok(Some(run))
}

/// How many mutants `selection` has (cargo-mutants' list, one per line).
fn count_mutants(root: &Path, selection: &Selection) -> Result<usize> {
    let list = Selection {
        list: true,
        in_diff: selection.in_diff.clone(),
        files: selection.files.clone(),
        ..Selection::default()
    };
    let mut cmd = cargo_mutants(root, &list)?;
    let out = cmd.output().context("cannot run cargo mutants --list")?;
    if !out.status.success() {
        bail!(
            "cargo mutants --list failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count())
}

/// The cargo-mutants command for `selection` (without `--output`).
fn cargo_mutants(root: &Path, selection: &Selection) -> Result<Command> {
    ensure_cargo_tool(root, &CARGO_MUTANTS)?;
    let nextest = selection.nextest && !selection.list;
    if nextest {
        ensure_cargo_tool(root, &CARGO_NEXTEST)?;
    }
    let mut cmd = cargo_with_tools(root)?;
    cmd.current_dir(root).arg("mutants");
    if nextest {
        cmd.args([
            "--test-tool",
            "nextest",
            "--cargo-test-arg=--max-fail=1:immediate",
        ]);
    }
    for package in PACKAGES {
        cmd.args(["--package", package]);
    }
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
        // Each job builds in a copy of the tree, from nothing: copying `target/` too
        // (`--copy-target`) was measured to rebuild every dependency all the same.
        cmd.args(["--jobs", &jobs.to_string()]);
    }
    if selection.iterate {
        cmd.arg("--iterate");
    }
    if selection.in_place {
        if selection.jobs.is_some_and(|j| j > 1) {
            bail!("--in-place builds in the working tree: one job only");
        }
        cmd.args([
            "--in-place",
            "--baseline",
            "skip",
            "--timeout",
            STEP_TEST_TIMEOUT_SECS,
        ]);
    }
    if let Some(profile) = selection.profile {
        cmd.args(["--profile", profile]);
    }
    for threads in ["NEXTEST_TEST_THREADS", "RUST_TEST_THREADS"] {
        if std::env::var_os(threads).is_none() {
            cmd.env(threads, TEST_THREADS);
        }
    }
    Ok(cmd)
}
