//! `cargo xtask fuzz`: runs every fuzz target in `fuzz/` (cargo-fuzz, nightly toolchain)
//! for a bounded time on its committed seeds, and reports executions per target. A crash
//! fails the run; libFuzzer leaves the input in `fuzz/artifacts/<target>/`.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::installs::{CARGO_FUZZ, cargo_with_tools, ensure_cargo_tool};

/// The fuzz targets (`fuzz/fuzz_targets/*.rs`).
const TARGETS: [&str; 6] = ["answer", "envelope", "event", "guid", "retcode", "sim_path"];

/// How the fuzz targets are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Build {
    /// Optimised as cargo-fuzz's `-O` builds (with debug info): for runs of minutes.
    Full,
    /// `opt-level = 1` without debug info: the test command's seconds per target need
    /// no peak speed, and its build is the step's cost (minutes on two cores).
    Quick,
}

pub(crate) fn fuzz(root: &Path, seconds: u64, only: Option<&str>, build: Build) -> Result<()> {
    ensure_cargo_tool(root, &CARGO_FUZZ)?;
    let version = cargo_with_tools(root)?
        .args(["+nightly", "fuzz", "--version"])
        .output();
    if !version.is_ok_and(|o| o.status.success()) {
        bail!(
            "cargo-fuzz needs the nightly toolchain: `rustup toolchain install nightly` (the fuzz targets use sanitizers)"
        );
    }
    let fuzz_dir = root.join("fuzz");
    let mut summary = Vec::new();
    for target in TARGETS.iter().filter(|t| only.is_none_or(|o| o == **t)) {
        // A scratch corpus grows during the run; the committed seeds stay as they are.
        let work = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&work)?;
        eprintln!("fuzzing {target} for {seconds} s");
        let mut cargo = cargo_with_tools(root)?;
        if build == Build::Quick {
            cargo
                .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
                .env("CARGO_PROFILE_RELEASE_DEBUG", "false");
        }
        let output = cargo
            .current_dir(&fuzz_dir)
            .args(["+nightly", "fuzz", "run", "-O", target])
            .arg(&work)
            .arg(fuzz_dir.join("corpus").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .output()
            .context("cannot run cargo fuzz")?;
        let log = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            eprint!("{log}");
            bail!("fuzz target {target} failed: the crashing input is in fuzz/artifacts/{target}/");
        }
        let runs = log
            .lines()
            .find_map(|l| {
                l.strip_prefix("Done ")
                    .and_then(|r| r.split_whitespace().next())
            })
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let cov = log
            .lines()
            .rev()
            .find_map(|l| {
                l.split_once(" cov: ")
                    .map(|(_, r)| r.split_whitespace().next().unwrap_or("?").to_owned())
            })
            .unwrap_or_else(|| "?".to_owned());
        summary.push(format!(
            "  {target}: {runs} executions, coverage {cov} edges, no crash"
        ));
    }
    eprintln!("fuzzing done:\n{}", summary.join("\n"));
    Ok(())
}
