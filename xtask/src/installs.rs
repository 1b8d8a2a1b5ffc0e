//! Tools the test command needs beyond the toolchain, installed on first use: the cargo
//! subcommands cargo-deny and cargo-fuzz, pinned, into `target/xtask-tools/` (as the
//! Python and npm tools are, in `tools.rs`); Chromium and curl from the system's packages.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::command::{cargo, run};

/// A cargo subcommand installed from crates.io at a pinned version.
pub(crate) struct CargoTool {
    /// Crate name, which is also the binary's (`cargo-deny`).
    pub(crate) name: &'static str,
    pub(crate) version: &'static str,
}

/// The supply-chain check (`deny.toml` is the policy).
pub(crate) const CARGO_DENY: CargoTool = CargoTool {
    name: "cargo-deny",
    version: "0.20.2",
};

/// The fuzzing front end (the targets build with the nightly toolchain).
pub(crate) const CARGO_FUZZ: CargoTool = CargoTool {
    name: "cargo-fuzz",
    version: "0.13.2",
};

/// The public-API check of the published crates against their last release.
pub(crate) const CARGO_SEMVER_CHECKS: CargoTool = CargoTool {
    name: "cargo-semver-checks",
    version: "0.51.0",
};

/// Mutation testing (`cargo xtask mutants`).
pub(crate) const CARGO_MUTANTS: CargoTool = CargoTool {
    name: "cargo-mutants",
    version: "27.1.0",
};

/// The test runner of mutation testing: it stops at a mutant's first failing test
/// (`.cargo/mutants.toml`) instead of running the whole suite.
pub(crate) const CARGO_NEXTEST: CargoTool = CargoTool {
    name: "cargo-nextest",
    version: "0.9.114",
};

/// Where pinned cargo tools are installed (`bin/` inside).
pub(crate) fn cargo_tools_root(root: &Path) -> PathBuf {
    root.join("target/xtask-tools/cargo")
}

/// Installs `tool` unless the pinned version is there already (`cargo install --locked
/// --version V --root target/xtask-tools/cargo`).
pub(crate) fn ensure_cargo_tool(root: &Path, tool: &CargoTool) -> Result<()> {
    let dir = cargo_tools_root(root);
    let stamp = dir.join(format!(".installed-{}", tool.name));
    if dir.join("bin").join(tool.name).exists()
        && std::fs::read_to_string(&stamp).is_ok_and(|v| v == tool.version)
    {
        return Ok(());
    }
    eprintln!(
        "installing {} {} (pinned) into {} — once; later runs reuse it",
        tool.name,
        tool.version,
        dir.display()
    );
    run(
        Command::new(cargo())
            .args([
                "install",
                "--locked",
                "--quiet",
                "--version",
                tool.version,
                "--root",
            ])
            .arg(&dir)
            .arg(tool.name)
            // One build directory for every tool: the dependencies they share (syn,
            // serde, clap and more, at the same versions) are compiled once, not once
            // per tool in a temporary directory of its own.
            .env("CARGO_TARGET_DIR", dir.join("build"))
            // Built for a short build, not for peak speed: these tools spend seconds
            // of each run working, and minutes of a fresh machine's first run building
            // (cargo-semver-checks' own release profile alone takes about ten).
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false"),
        &format!("cargo install {} {}", tool.name, tool.version),
    )?;
    std::fs::create_dir_all(&dir)?;
    std::fs::write(&stamp, tool.version)?;
    Ok(())
}

/// `cargo` (the rustup proxy on `PATH`, so that `+nightly` works) with the pinned cargo
/// tools first on `PATH`, so that `cargo deny` and `cargo fuzz` find them.
pub(crate) fn cargo_with_tools(root: &Path) -> Result<Command> {
    let bin = cargo_tools_root(root).join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let joined = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path)))
        .context("cannot build PATH")?;
    let mut cmd = Command::new("cargo");
    // The rustup proxy picks the toolchain; the `CARGO` of this xtask's run is stable's.
    cmd.env("PATH", joined)
        .env_remove("CARGO")
        .env_remove("RUSTUP_TOOLCHAIN");
    Ok(cmd)
}

/// The Chromium binary, installed from the system's packages when missing (see
/// [`ensure_command`]).
pub(crate) fn ensure_chromium() -> Result<&'static str> {
    ensure_command(
        &["chromium", "chromium-browser", "google-chrome"],
        "chromium",
    )
}

/// Java (for openapi-generator), installed from the system's packages when missing.
pub(crate) fn ensure_java() -> Result<&'static str> {
    ensure_command(&["java"], "default-jre-headless")
}

/// The first of `candidates` that runs (`--version`); when none does, Debian's `package`
/// is installed if this runs as root with apt, otherwise the error names the command
/// that installs it.
pub(crate) fn ensure_command(candidates: &[&'static str], package: &str) -> Result<&'static str> {
    if let Some(found) = find(candidates) {
        return Ok(found);
    }
    apt_install(&[package], candidates[0])?;
    find(candidates).with_context(|| format!("{package} was installed but is not on PATH"))
}

/// The Java libraries of the system's packages that the generated Java client compiles
/// and runs with (Jackson, the JSR-305 and JSR-250 annotations), as class-path entries;
/// installed when missing, as [`ensure_command`] does.
pub(crate) fn ensure_java_libraries() -> Result<Vec<PathBuf>> {
    const JARS: [(&str, &str); 5] = [
        ("jackson-core.jar", "libjackson2-core-java"),
        ("jackson-databind.jar", "libjackson2-databind-java"),
        ("jackson-annotations.jar", "libjackson2-annotations-java"),
        ("jsr305.jar", "libjsr305-java"),
        (
            "geronimo-annotation-1.3-spec.jar",
            "libgeronimo-annotation-1.3-spec-java",
        ),
    ];
    let dir = Path::new("/usr/share/java");
    let missing: Vec<&str> = JARS
        .iter()
        .filter(|(jar, _)| !dir.join(jar).is_file())
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        apt_install(&missing, "the Java client's libraries")?;
    }
    JARS.iter()
        .map(|(jar, package)| {
            let path = dir.join(jar);
            if path.is_file() {
                Ok(path)
            } else {
                bail!("{package} was installed but {} is missing", path.display())
            }
        })
        .collect()
}

/// Installs Debian's `packages` (for `what`) if this runs as root with apt; otherwise the
/// error names the command that installs them.
fn apt_install(packages: &[&str], what: &str) -> Result<()> {
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = Command::new("apt-get")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let list = packages.join(" ");
    if !(root_user && apt) {
        bail!(
            "{what} is missing: install it with `sudo apt-get install -y {list}` (Debian's packages)"
        );
    }
    eprintln!("installing {list} from the system's packages (apt-get install {list})");
    run(
        Command::new("apt-get").args(["update", "-qq"]),
        "apt-get update",
    )?;
    run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &format!("apt-get install {list}"),
    )
}

fn find(candidates: &[&'static str]) -> Option<&'static str> {
    candidates.iter().copied().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}
