//! `cargo xtask bench`: builds in release, runs `ccgw-bench` (per-request cost, the
//! demo-client pattern, simulator capacity, agents with open streams), then measures
//! code generation and what depending on `ccgw` costs a consumer's clean build.
//! Writes `target/bench/results.md`, `results.json` and `results.svg`; a whole run (not
//! `--quick`) also writes `docs/benchmarks.md` (its intro and these results, dated) and
//! `docs/benchmark.svg`. Prints the tables.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::command::{cargo, git, now_utc, run};

mod consumer_build;

/// The chart of the latest run, shown in [`PAGE`].
const CHART: &str = "docs/benchmark.svg";
/// The page a whole run writes: [`INTRO`], then the run's results.
const PAGE: &str = "docs/benchmarks.md";
/// What the page says before the latest run's figures (prose, no measurement).
const INTRO: &str = include_str!("intro.md");

/// `xtask gen --check` (release) ten times: the median, fastest and slowest, in ms.
fn gen_times(root: &Path) -> Result<(f64, f64, f64)> {
    eprintln!("code generation: `xtask gen --check` (release), 10 runs");
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let output = Command::new(root.join("target/release/xtask"))
            .current_dir(root)
            .args(["gen", "--check"])
            .output()
            .context("cannot run xtask")?;
        if !output.status.success() {
            bail!("xtask gen --check failed");
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[0], times[times.len() - 1]))
}

/// `--quick`: one short round of each part, at small scale.
const QUICK: [&str; 12] = [
    "--sequential",
    "300",
    "--rounds",
    "1",
    "--seconds",
    "0.5",
    "--scale",
    "1000",
    "--storm",
    "64",
    "--failover",
    "1000",
];

pub(crate) fn bench(root: &Path, quick: bool) -> Result<()> {
    let started = Instant::now();
    // What is measured: the tree as it is before the run writes anything.
    let tree = measured_tree(root)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    eprintln!("building ccgw-bench, ccgw-sim and xtask in release");
    run(
        Command::new(cargo()).current_dir(root).args([
            "build",
            "--release",
            "--locked",
            "-p",
            "ccgw-bench",
            "-p",
            "ccgw-sim",
            "-p",
            "xtask",
            // aws-lc-rs as well, to compare rustls's crypto providers; plain reqwest.
            "--features",
            "ccgw-bench/aws-lc,ccgw-bench/plain-reqwest",
        ]),
        "cargo build --release",
    )?;
    let mut bench = Command::new(root.join("target/release/ccgw-bench"));
    bench
        .current_dir(root)
        .arg("--out")
        .arg(&out)
        .arg("--sim-bin")
        .arg(root.join("target/release/ccgw-sim"));
    if quick {
        bench.args(QUICK);
    }
    run(&mut bench, "ccgw-bench")?;

    let gen_ms = gen_times(root)?;

    let (rows, skipped) = consumer_build::measure(root, &out)?;

    let mut md = std::fs::read_to_string(out.join("results.md")).unwrap_or_default();
    md.push_str(&consumer_build::section(gen_ms, &rows, &skipped));
    md.push_str(&format!(
        "\nWhole run: {:.0} s.\n",
        started.elapsed().as_secs_f64()
    ));
    std::fs::write(out.join("results.md"), &md)?;
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json"))?)?;
    json["codegen"] = serde_json::json!({"gen_check_ms_median": gen_ms.0, "min": gen_ms.1, "max": gen_ms.2, "consumers": rows});
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    println!("{md}");
    eprintln!(
        "written: {}, results.json, results.svg",
        out.join("results.md").display()
    );
    if quick {
        eprintln!("a quick run: {PAGE} and {CHART} are left as they are");
        return Ok(());
    }
    std::fs::copy(out.join("results.svg"), root.join(CHART))
        .with_context(|| format!("cannot copy the chart to {CHART}"))?;
    std::fs::write(root.join(PAGE), page(&tree, &md))
        .with_context(|| format!("cannot write {PAGE}"))?;
    eprintln!("written: {PAGE} and {CHART}");
    Ok(())
}

/// When the run started, its commit, and whether the tree had uncommitted changes.
fn measured_tree(root: &Path) -> Result<String> {
    let commit = git(root, &["rev-parse", "--short=10", "HEAD"])?;
    let changed = !git(root, &["status", "--porcelain", "--untracked-files=no"])?
        .trim()
        .is_empty();
    Ok(format!(
        "{}, commit `{}`{}",
        now_utc()?,
        commit.trim(),
        if changed {
            " with uncommitted changes"
        } else {
            ""
        }
    ))
}

/// [`PAGE`]: the intro, then the run's results under a heading with its date, commit and
/// machine.
fn page(tree: &str, results: &str) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{INTRO}\n## Latest run\n\n{tree}, {cores} cores.\n\n![Ratios to raw hyper and latency distributions](benchmark.svg)\n\n{}",
        results.trim_start()
    )
}
