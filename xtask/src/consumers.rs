//! The crates Rust consumers depend on, checked as they would get them (a step of
//! `cargo xtask test`):
//!
//! - `cargo package` succeeds for each (verified: the packaged crate builds on its own),
//!   and the package holds its generated code, README, changelog and both licences;
//! - cargo-semver-checks (pinned, installed on first use) compares each public API with
//!   the last release recorded in `releases.json` (a commit, since tags may not survive
//!   a clone): removing or changing anything public needs a new major version (for
//!   0.x, a new minor one). A crate whose version is already such a breaking release
//!   over the recorded one (0.2.0 after 0.1.0) may change anything, and
//!   cargo-semver-checks then skips every lint: the step says so and does not run it
//!   (nor install it), until the release is recorded.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::command::{cargo, cargo_output, run};
use crate::installs::{CARGO_SEMVER_CHECKS, cargo_with_tools, ensure_cargo_tool};

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
        let files = cargo_output(root, &["package", "--locked", "--list", "-p", name])?;
        let missing: Vec<&&str> = must_hold
            .iter()
            .filter(|f| !files.lines().any(|l| l == **f))
            .collect();
        if !missing.is_empty() {
            bail!("{name}'s package lacks {missing:?}");
        }
    }
    forget_unpacked_packages()?;
    let mut package = Command::new(cargo());
    package.current_dir(root).args(["package", "--locked"]);
    for (name, _) in PUBLISHED {
        package.args(["-p", name]);
    }
    run(&mut package, "cargo package")?;

    let mut to_check = Vec::new();
    for (name, _) in PUBLISHED {
        let (released, commit) = last_release(root, name)?;
        let version = current_version(root, name)?;
        if may_break(&released, &version)? {
            eprintln!(
                "{name}: {version} is a breaking release over the recorded {released}, so its \
                 public API may change and cargo-semver-checks has nothing to hold it to (it \
                 would skip every lint): not run until {version} is recorded in {RELEASES}"
            );
        } else {
            to_check.push((name, released, commit));
        }
    }
    if to_check.is_empty() {
        return Ok(());
    }
    ensure_cargo_tool(root, &CARGO_SEMVER_CHECKS)?;
    for (name, version, commit) in to_check {
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

/// Whether `version` may break the API of `released`: a new major version, or for 0.x a
/// new minor one (cargo's rule for which versions are compatible).
fn may_break(released: &str, version: &str) -> Result<bool> {
    let (old, new) = (
        xtask::compat::semver(released).map_err(anyhow::Error::msg)?,
        xtask::compat::semver(version).map_err(anyhow::Error::msg)?,
    );
    Ok(if old.0 == 0 && new.0 == 0 {
        new.1 > old.1
    } else {
        new.0 > old.0
    })
}

/// The version of the workspace's package `name` (`cargo pkgid`).
fn current_version(root: &Path, name: &str) -> Result<String> {
    let id = cargo_output(root, &["pkgid", "--locked", "-p", name])?;
    // `path+file:///…/crates/ccgw#0.2.0`, or `…#name@0.2.0` when the directory differs.
    let tail = id.trim().rsplit('#').next().unwrap_or_default();
    Ok(tail.rsplit('@').next().unwrap_or(tail).to_owned())
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

/// `cargo package` verifies `ccgw` against the `ccgw-client` it just packaged, through a
/// local registry that cargo unpacks into `$CARGO_HOME/registry/src/-<hash>/` (the hash
/// names the registry's path) — once: a later run from the same path finds the unpacked
/// copy of the same version and uses it, however old. An unreleased version changes
/// between runs, so the copies of the published crates are removed first.
fn forget_unpacked_packages() -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return Ok(());
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        // Local registries only: crates.io's directory is `index.crates.io-<hash>`.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for (name, _) in PUBLISHED {
            let Ok(unpacked) = std::fs::read_dir(registry.path()) else {
                continue;
            };
            for dir in unpacked.flatten() {
                let file_name = dir.file_name();
                let file_name = file_name.to_string_lossy();
                let is_version = file_name
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()));
                if is_version {
                    std::fs::remove_dir_all(dir.path())
                        .with_context(|| format!("cannot remove {}", dir.path().display()))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::may_break;

    #[test]
    fn breaking_releases_follow_cargos_compatibility_rule() {
        for (released, version, breaks) in [
            ("0.1.0", "0.1.0", false),
            ("0.1.0", "0.1.7", false),
            ("0.1.0", "0.2.0", true),
            ("1.2.0", "1.9.3", false),
            ("1.2.0", "2.0.0", true),
            ("0.9.0", "1.0.0", true),
        ] {
            assert_eq!(
                may_break(released, version).expect("versions"),
                breaks,
                "{released} -> {version}"
            );
        }
        assert!(may_break("0.1", "0.2.0").is_err());
    }
}
