//! What depending on `ccgw` costs a consumer: the clean build of a small binary on
//! `ccgw` against the same on plain reqwest, and the crates in each one's tree.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::command::cargo;

/// Builds both consumers clean: a row per consumer measured, and why any was not.
pub(super) fn measure(root: &Path, out: &Path) -> Result<(Vec<Value>, Vec<String>)> {
    eprintln!(
        "consumer builds: a small binary on ccgw against the same on plain reqwest (clean, dev profile)"
    );
    let consumers = out.join("consumers");
    let _ = std::fs::remove_dir_all(&consumers);
    let ccgw_path = root.join("crates/ccgw");
    let ccgw_consumer = consumer(
        &consumers,
        "on-ccgw",
        &format!(
            "ccgw = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\n",
            ccgw_path.display().to_string()
        ),
        r#"#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ccgw::Error> {
    let client = ccgw::Config {
        url: Some("https://gateway.example:8043".into()),
        ..ccgw::Config::default()
    }
    .build_client()?;
    let agent = client.agent(ccgw::AgentId::new(101)?, ccgw::Guid::new("g")?, None);
    agent.rest(ccgw::RestDuration::from_secs(600)?, ccgw::RestCause::from(3)).await
}
"#,
    )?;
    let reqwest_consumer = consumer(
        &consumers,
        "on-reqwest",
        "reqwest = { version = \"0.13\", default-features = false, features = [\"rustls\", \"json\"] }\nserde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\ntokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n",
        r#"#[derive(serde::Deserialize)]
struct Answer { retcode: String }

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let answer: Answer = reqwest::Client::new()
        .post("https://gateway.example:8043/agentgateway/resource/onlineagent/101/rest/600/3?prolong=false")
        .header("guid", "g")
        .header("content-type", "application/json; charset=UTF-8")
        .send().await?.json().await?;
    if answer.retcode != "0" { return Err(answer.retcode.into()); }
    Ok(())
}
"#,
    )?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (name, dir) in [
        ("on ccgw", &ccgw_consumer),
        ("on plain reqwest", &reqwest_consumer),
    ] {
        match build(root, name, dir)? {
            Ok(row) => rows.push(row),
            Err(why) => skipped.push(why),
        }
    }
    Ok((rows, skipped))
}

/// Fills `dir`'s lock file and fetches what it needs, untimed: `Err` with the reason
/// when that cannot be done.
fn resolve(root: &Path, name: &str, dir: &Path) -> Result<Result<(), String>> {
    // A crate the workspace never needed (reqwest's optional `quinn`) is not in the
    // local index, so a resolution that fails offline is tried against the registry,
    // and what it needs is fetched before the timed build.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    let update = |offline: bool| {
        let mut cmd = Command::new(cargo());
        cmd.current_dir(dir)
            .args(["update", "--workspace", "--quiet"]);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().context("cannot run cargo update")
    };
    let mut resolved = update(true)?;
    if !resolved.status.success() {
        resolved = update(false)?;
    }
    let fetched = resolved.status.success()
        && Command::new(cargo())
            .current_dir(dir)
            .args(["fetch", "--quiet"])
            .status()
            .is_ok_and(|s| s.success());
    if !fetched {
        let why = String::from_utf8_lossy(&resolved.stderr);
        let why = why
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("cargo fetch failed");
        eprintln!("consumer build {name} skipped: its dependencies cannot be resolved ({why})");
        return Ok(Err(format!(
            "{name}: its dependencies cannot be resolved ({why})"
        )));
    }
    Ok(Ok(()))
}

/// One consumer's clean build: its row, or why its dependencies could not be resolved.
fn build(root: &Path, name: &str, dir: &Path) -> Result<Result<Value, String>> {
    // Fill the lock file first, so only compilation is timed: from the workspace's
    // lock, so that what is resolved is what this machine has fetched.
    if let Err(why) = resolve(root, name, dir)? {
        return Ok(Err(why));
    }
    let t = Instant::now();
    let built = Command::new(cargo())
        .current_dir(dir)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .context("cannot run cargo build")?;
    let secs = t.elapsed().as_secs_f64();
    if !built.status.success() {
        let why = String::from_utf8_lossy(&built.stderr);
        let why = why.lines().find(|l| l.starts_with("error")).unwrap_or("");
        eprintln!("consumer build {name} skipped: it does not build offline ({why})");
        return Ok(Err(format!("{name}: it does not build offline ({why})")));
    }
    let tree = Command::new(cargo())
        .current_dir(dir)
        .args([
            "tree",
            "--offline",
            "--prefix",
            "none",
            "-e",
            "normal,build",
            "--format",
            "{p}",
        ])
        .output()?;
    let tree = String::from_utf8_lossy(&tree.stdout);
    let mut crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    crates.sort_unstable();
    crates.dedup();
    let generators: Vec<&str> = crates
        .iter()
        .copied()
        .filter(|c| {
            c.starts_with("progenitor-impl")
                || c.starts_with("progenitor-macro")
                || c.starts_with("typify")
                || *c == "openapiv3"
        })
        .collect();
    Ok(Ok(
        serde_json::json!({"consumer": name, "clean_build_seconds": secs, "crates": crates.len(),
        "code_generators": generators, "syn": crates.contains(&"syn")}),
    ))
}

/// The report's section: code generation's time and the consumers' rows.
pub(super) fn section(gen_ms: (f64, f64, f64), rows: &[Value], skipped: &[String]) -> String {
    let mut md = String::new();
    md.push_str(&format!(
        "\n### Code generation and what a consumer builds\n\n`cargo xtask gen --check` (release, whole process): median {:.1} ms (min {:.1}, max {:.1}, 10 runs).\n\n| small binary | clean build s (dev) | crates | code generators in its tree |\n|---|---|---|---|\n",
        gen_ms.0, gen_ms.1, gen_ms.2
    ));
    for r in rows {
        let gens = r["code_generators"]
            .as_array()
            .map(|g| g.len())
            .unwrap_or(0);
        md.push_str(&format!(
            "| {} | {:.1} | {} | {} |\n",
            r["consumer"].as_str().unwrap_or_default(),
            r["clean_build_seconds"].as_f64().unwrap_or_default(),
            r["crates"],
            if gens == 0 {
                "none (syn only as serde's derive)".to_owned()
            } else {
                r["code_generators"].to_string()
            }
        ));
    }
    for why in skipped {
        md.push_str(&format!("\nNot measured: the consumer build {why}.\n"));
    }
    md
}

fn consumer(dir: &Path, name: &str, deps: &str, main: &str) -> Result<PathBuf> {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("src"))?;
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\n{deps}"
        ),
    )?;
    std::fs::write(root.join("src/main.rs"), main)?;
    Ok(root)
}
