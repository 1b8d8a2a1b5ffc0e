//! Running other programs: the one cargo binary, and a command that must succeed. Below
//! every module that runs tools (installs, tools, generators, bench, consumers).

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// The cargo that runs xtask (`$CARGO`), so that tools run with the same toolchain.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs `cmd`, failing with `what` when it cannot start or does not succeed.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {what} (is it installed?)"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Runs git in `root`; its output.
pub(crate) fn git(root: &Path, args: &[&str]) -> Result<String> {
    output(root, "git", args)
}

/// Runs [`cargo`] in `root`; its output.
pub(crate) fn cargo_output(root: &Path, args: &[&str]) -> Result<String> {
    output(root, &cargo(), args)
}

/// Runs `program` in `root`; its output, or an error with what it said.
fn output(root: &Path, program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .current_dir(root)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The time now, UTC, to the minute (`date`, to keep a calendar crate out of xtask).
pub(crate) fn now_utc() -> Result<String> {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%MZ"])
        .output()
        .context("cannot run date")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
