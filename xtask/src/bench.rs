//! `cargo xtask bench`: builds in release, runs `ccgw-bench` (per-request cost, the
//! demo-client pattern, simulator capacity, agents with open streams), then measures
//! code generation and what depending on `ccgw` costs a consumer's clean build.
//! Writes `target/bench/results.md`, `results.json` and `results.svg` (copied to
//! `docs/benchmark.svg` for `docs/benchmarks.md`); prints the tables.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::command::{cargo, run};

/// The chart of the latest run, shown in `docs/benchmarks.md`.
const CHART: &str = "docs/benchmark.svg";

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

pub(crate) fn bench(root: &Path, quick: bool) -> Result<()> {
    let started = Instant::now();
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
        bench.args([
            "--sequential",
            "300",
            "--rounds",
            "1",
            "--seconds",
            "0.5",
            "--scale",
            "1000",
        ]);
    }
    run(&mut bench, "ccgw-bench")?;

    let gen_ms = gen_times(root)?;

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
    for (name, dir) in [
        ("on ccgw", &ccgw_consumer),
        ("on plain reqwest", &reqwest_consumer),
    ] {
        // Fill the lock file first, so only compilation is timed.
        run(
            Command::new(cargo())
                .current_dir(dir)
                .args(["generate-lockfile", "--offline"]),
            "cargo generate-lockfile",
        )?;
        let t = Instant::now();
        run(
            Command::new(cargo())
                .current_dir(dir)
                .args(["build", "--offline", "--quiet"])
                .env("CARGO_TARGET_DIR", dir.join("target")),
            "consumer build",
        )?;
        let secs = t.elapsed().as_secs_f64();
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
        rows.push(serde_json::json!({"consumer": name, "clean_build_seconds": secs, "crates": crates.len(),
            "code_generators": generators, "syn": crates.contains(&"syn")}));
    }

    let mut md = std::fs::read_to_string(out.join("results.md")).unwrap_or_default();
    md.push_str(&format!(
        "\n### Code generation and what a consumer builds\n\n`cargo xtask gen --check` (release, whole process): median {:.1} ms (min {:.1}, max {:.1}, 10 runs).\n\n| small binary | clean build s (dev) | crates | code generators in its tree |\n|---|---|---|---|\n",
        gen_ms.0, gen_ms.1, gen_ms.2
    ));
    for r in &rows {
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
    // `docs/benchmarks.md` shows the latest chart.
    std::fs::copy(out.join("results.svg"), root.join(CHART))
        .with_context(|| format!("cannot copy the chart to {CHART}"))?;
    eprintln!(
        "written: {}, results.json, results.svg (copied to {CHART})",
        out.join("results.md").display()
    );
    Ok(())
}

fn consumer(dir: &Path, name: &str, deps: &str, main: &str) -> Result<std::path::PathBuf> {
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
