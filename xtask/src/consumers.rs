//! The crates Rust consumers depend on, checked as they would get them (a step of
//! `cargo xtask test`):
//!
//! - `cargo package` succeeds for each (verified: the packaged crate builds on its own),
//!   and the package holds its generated code, README, changelog and both licences;
//! - cargo-semver-checks (pinned, installed on first use) compares each public API with
//!   the last release recorded in `releases.json` (a commit, since tags may not survive
//!   a clone): removing or changing anything public needs a new major version (for
//!   0.x, a new minor one).

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::installs::{CARGO_SEMVER_CHECKS, cargo_with_tools, ensure_cargo_tool};
use crate::tools::{cargo, run};

/// The published crates and what each package must hold.
const PUBLISHED: [(&str, &[&str]); 2] = [
    (
        "ccgw-client",
        &[
            "src/generated.rs",
            "README.md",
            "CHANGELOG.md",
            "LICENSE-MIT",
            "LICENSE-APACHE",
        ],
    ),
    (
        "ccgw",
        &[
            "src/lib.rs",
            "README.md",
            "CHANGELOG.md",
            "LICENSE-MIT",
            "LICENSE-APACHE",
        ],
    ),
];

/// Where the last release of each published crate is recorded.
pub(crate) const RELEASES: &str = "releases.json";

pub(crate) fn consumers(root: &Path) -> Result<()> {
    for (name, must_hold) in PUBLISHED {
        let listed = Command::new(cargo())
            .current_dir(root)
            .args(["package", "--locked", "--list", "-p", name])
            .output()
            .with_context(|| format!("cannot list {name}'s package"))?;
        if !listed.status.success() {
            bail!(
                "cargo package --list -p {name} failed:\n{}",
                String::from_utf8_lossy(&listed.stderr)
            );
        }
        let files = String::from_utf8_lossy(&listed.stdout);
        let missing: Vec<&&str> = must_hold
            .iter()
            .filter(|f| !files.lines().any(|l| l == **f))
            .collect();
        if !missing.is_empty() {
            bail!("{name}'s package lacks {missing:?}");
        }
    }
    let mut package = Command::new(cargo());
    package.current_dir(root).args(["package", "--locked"]);
    for (name, _) in PUBLISHED {
        package.args(["-p", name]);
    }
    run(&mut package, "cargo package")?;

    ensure_cargo_tool(root, &CARGO_SEMVER_CHECKS)?;
    for (name, _) in PUBLISHED {
        let (version, commit) = last_release(root, name)?;
        eprintln!("{name}: public API against its release {version} ({commit})");
        run(
            cargo_with_tools(root)?.current_dir(root).args([
                "semver-checks",
                "--package",
                name,
                "--baseline-rev",
                &commit,
            ]),
            &format!("cargo semver-checks for {name} (against {version})"),
        )?;
    }
    Ok(())
}

/// `(version, commit)` of `crate_name`'s last release in [`RELEASES`].
fn last_release(root: &Path, crate_name: &str) -> Result<(String, String)> {
    let text = std::fs::read_to_string(root.join(RELEASES))
        .with_context(|| format!("cannot read {RELEASES}"))?;
    let releases: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{RELEASES} is not JSON"))?;
    let release = &releases[crate_name];
    match (release["version"].as_str(), release["commit"].as_str()) {
        (Some(version), Some(commit)) => Ok((version.to_owned(), commit.to_owned())),
        _ => bail!("{RELEASES} has no \"{crate_name}\" with a version and a commit"),
    }
}
