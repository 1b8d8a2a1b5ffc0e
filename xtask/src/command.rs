//! Running other programs: the one cargo binary, and a command that must succeed. Below
//! every module that runs tools (installs, tools, generators, bench, consumers).

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
