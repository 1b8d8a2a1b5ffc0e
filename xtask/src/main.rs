//! `cargo xtask`: the maintainer chores of this workspace (see the cargo-xtask pattern).
//! `cargo xtask --help` lists them with their options:
//!
//! - `gen` regenerates `crates/ccgw-client/src/generated.rs`, `openapi/ccgateway.json`
//!   and the surface snapshot from `openapi/ccgateway.yaml`; `gen --check` writes
//!   nothing and fails on any difference;
//! - `spec-lint`, `spec`, `docs`, `typescript`, `python`, `java`, `consumers`, `pairs`, `schemathesis`: the spec as
//!   other teams use it (tools pinned, installed on first use under
//!   `target/xtask-tools/`);
//! - `fuzz`, `soak`, `bench`: the longer runs, with their lengths as options;
//! - `test` runs everything CI runs (`--only`/`--skip` for part of it).

mod bench;
mod command;
mod consumers;
mod fuzz;
mod generators;
mod installs;
mod mutants;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use xtask::{GEN_COMMAND, GENERATED, SPEC, SPEC_JSON, generate, load_spec, workspace_root};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Maintainer chores for the ccgw workspace",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Regenerate from the spec: the client (crates/ccgw-client/src/generated.rs), the
    /// simulator's operation names (crates/ccgw-sim/src/operation.rs), the JSON spec and
    /// the surface snapshot.
    Gen {
        /// Write nothing; fail with a diff if the committed files differ from a fresh generation.
        #[arg(long)]
        check: bool,
        /// Generate from another spec (e.g. to try a change); requires --out.
        #[arg(long, requires = "out", value_name = "PATH")]
        spec: Option<PathBuf>,
        /// Write the generated module here instead of the client crate (nothing else is written).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Validate the spec with openapi-spec-validator and Redocly CLI (installed on first use).
    SpecLint,
    /// Write openapi/ccgateway.json, the spec as JSON (also done by `gen`).
    Spec,
    /// Render the spec to target/docs/ccgateway.html, check it in headless Chromium, and
    /// take openapi/docs-screenshot.png afresh.
    Docs,
    /// The TypeScript proof: generate types, tsc --strict, run the workflow against the simulator.
    Typescript,
    /// The Python proof: the client openapi-generator generates runs the rest workflow
    /// against the simulator (tests/python/, pytest).
    Python,
    /// The Java client openapi-generator generates (native library), with no error.
    Java,
    /// The published crates as consumers get them: cargo package, and
    /// cargo-semver-checks against the last release (releases.json) unless the version
    /// is already a breaking release over it.
    Consumers,
    /// Check the pairs recorded by the Rust end-to-end tests against the spec (openapi-core).
    Pairs,
    /// Run every fuzz target (cargo-fuzz, nightly) for a bounded time on its seeds.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
    },
    /// Benchmarks (release build): ccgw against raw hyper, reqwest, the generated client and
    /// the demo-client pattern; simulator capacity; open streams; codegen and consumer builds.
    Bench {
        /// A short run (one round, 1,000 agents) to check that everything works.
        #[arg(long)]
        quick: bool,
    },
    /// Mutation testing (cargo-mutants, pinned, installed on first use) of the
    /// hand-written code of ccgw and ccgw-client: how many changed programs the tests
    /// notice. Without a selection, a whole run on a clean tree: it writes
    /// docs/test-strength.{json,md} and the README's paragraph. Fails on a survivor
    /// .cargo/mutants-survivors.toml does not list. Settings in .cargo/mutants.toml;
    /// results in target/mutants/mutants.out/.
    Mutants {
        /// Run the K-th of N shards only, e.g. `--shard 0/8`.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Only the mutants in this file (repeatable), e.g. `--file crates/ccgw/src/values.rs`.
        #[arg(long, value_name = "PATH")]
        file: Vec<String>,
        /// Only the mutants on lines this unified diff changes.
        #[arg(long, value_name = "DIFF")]
        in_diff: Option<PathBuf>,
        /// Mutants built and tested at once (each needs its own build directory).
        #[arg(long, value_name = "N")]
        jobs: Option<u32>,
        /// List the mutants without testing them.
        #[arg(long)]
        list: bool,
        /// Skip the mutants that earlier runs caught or found unviable (kept in
        /// target/mutants/mutants.out/): after adding tests, test only what was missed.
        #[arg(long)]
        iterate: bool,
        /// Mutate the working tree and build in its target/ (one job, no baseline run):
        /// no copy of the tree to build from scratch.
        #[arg(long, conflicts_with = "jobs")]
        in_place: bool,
        /// Write the reasons .cargo/mutants-survivors.toml gives into the last whole
        /// run's report (after listing its survivors); runs no mutant.
        #[arg(long, conflicts_with_all = ["shard", "file", "in_diff", "jobs", "list", "iterate", "in_place"])]
        explain: bool,
    },
    /// Run schemathesis (installed on first use) against the simulator, every operation.
    Schemathesis,
    /// The soak under faults (`tests/e2e/soak/`), longer than the test command gives it:
    /// agents work against the simulator while it injects faults, then every agent's
    /// state must converge, with no session orphaned, no task leaked and memory flat.
    Soak {
        /// Minutes of faults.
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Agents.
        #[arg(long, default_value_t = 1000)]
        agents: u32,
        /// Seed of the simulator's fault dice and the agents' choices.
        #[arg(long)]
        seed: Option<u64>,
        /// Run one profile only: classic (short timeouts) or integrator (a 5 s request
        /// timeout against the gateway's 10 s hold). Default: both.
        #[arg(long, value_parser = ["classic", "integrator"])]
        profile: Option<String>,
        /// Build optimised (less CPU per request; the default matches the test command).
        #[arg(long)]
        release: bool,
    },
    /// Run everything CI runs, step by step with a summary: fmt, gen --check, spec tools,
    /// clippy, cargo deny, the operator's binary without a server stack, the tests, the
    /// 10,000-agent runs, the soak, the Rust consumers' check, the recorded pairs,
    /// schemathesis, the TypeScript, Python and Java proofs, the rendered docs, fuzzing,
    /// mutation testing and cargo doc.
    Test {
        /// Run only the steps whose name contains one of these words (e.g. `--only soak
        /// --only fuzz`).
        #[arg(long, value_name = "WORD")]
        only: Vec<String>,
        /// Skip the steps whose name contains one of these words.
        #[arg(long, value_name = "WORD")]
        skip: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Cmd::Gen { check, spec, out } => gen_cmd(&root, check, spec.as_deref(), out.as_deref()),
        Cmd::SpecLint => tools::spec_lint(&root),
        Cmd::Spec => write_spec_json(&root),
        Cmd::Docs => tools::docs(&root),
        Cmd::Typescript => tools::typescript(&root),
        Cmd::Python => generators::python(&root),
        Cmd::Java => generators::java(&root),
        Cmd::Consumers => consumers::consumers(&root),
        Cmd::Pairs => tools::recorded_pairs(&root),
        Cmd::Bench { quick } => bench::bench(&root, quick),
        Cmd::Fuzz { seconds, target } => {
            fuzz::fuzz(&root, seconds, target.as_deref(), fuzz::Build::Full)
        }
        Cmd::Schemathesis => tools::schemathesis(&root),
        Cmd::Mutants {
            shard,
            file,
            in_diff,
            jobs,
            list,
            iterate,
            in_place,
            explain: false,
        } => mutants::mutants(
            &root,
            &mutants::Selection {
                shard,
                files: file,
                in_diff,
                jobs,
                list,
                iterate,
                in_place,
                profile: None,
                nextest: true,
            },
        ),
        Cmd::Mutants { explain: true, .. } => mutants::explain(&root),
        Cmd::Soak {
            minutes,
            agents,
            seed,
            profile,
            release,
        } => soak(&root, minutes, agents, seed, profile.as_deref(), release),
        Cmd::Test { only, skip } => test_cmd(&root, &only, &skip),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn gen_cmd(root: &Path, check: bool, spec: Option<&Path>, out: Option<&Path>) -> Result<()> {
    if let Some(out) = out {
        let (spec_path, display) = match spec {
            Some(p) => (p.to_path_buf(), p.display().to_string()),
            None => (root.join(SPEC), SPEC.to_owned()),
        };
        let code = generate(&load_spec(&spec_path, &display)?)?;
        if check {
            let current = std::fs::read_to_string(out).unwrap_or_default();
            return compare(&out.display().to_string(), &current, &code);
        }
        std::fs::write(out, code).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {}", out.display());
        return Ok(());
    }

    let spec_value = xtask::spec_value(root)?;
    let version = xtask::check_version(root, &spec_value)?;
    let (released, changes) = xtask::check_compatibility(root, &spec_value, &version)?;
    let spec = load_spec(&root.join(SPEC), SPEC)?;
    let code = generate(&spec)?;
    let files = [
        (SPEC_JSON, xtask::spec_json(&spec_value)?),
        (xtask::SIM_OPERATIONS, xtask::sim_operations(&spec)?),
        (
            xtask::SURFACE,
            xtask::surface_snapshot(&xtask::surface(&code)?),
        ),
        (GENERATED, code),
    ];
    for (path, contents) in &files {
        let written = xtask::ensure_file_contents(root, path, contents, check)?;
        if written {
            eprintln!("wrote {path} ({} lines)", contents.lines().count());
        }
    }
    if check {
        eprintln!(
            "{GENERATED}, {}, {} and {SPEC_JSON} are up to date with {SPEC} (version {version})",
            xtask::SIM_OPERATIONS,
            xtask::SURFACE
        );
    }
    eprintln!(
        "{SPEC} {version} against the released {released}: {}",
        if changes.is_empty() {
            "no change a client depends on".to_owned()
        } else {
            format!("{} change(s), each allowed by the version", changes.len())
        }
    );
    Ok(())
}

/// Writes the JSON form of the spec (`cargo xtask spec`).
fn write_spec_json(root: &Path) -> Result<()> {
    let json = xtask::spec_json(&xtask::spec_value(root)?)?;
    if xtask::ensure_file_contents(root, SPEC_JSON, &json, false)? {
        eprintln!("wrote {SPEC_JSON}");
    }
    Ok(())
}

fn compare(path: &str, current: &str, fresh: &str) -> Result<()> {
    if current == fresh {
        return Ok(());
    }
    eprint!("{}", xtask::unified_diff(path, current, fresh));
    bail!(
        "{path} is out of date with {SPEC}: the diff above is what regeneration changes\n  \
         run `{GEN_COMMAND}` and commit the result"
    )
}

use command::cargo;

/// What one step of `cargo xtask test` runs, given the workspace root.
type StepFn = Box<dyn Fn(&Path) -> Result<()>>;

/// One step of `cargo xtask test`.
struct Step {
    name: &'static str,
    run: StepFn,
}

fn cargo_step(
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
) -> Step {
    Step {
        name,
        run: Box::new(move |root| {
            let status = Command::new(cargo())
                .current_dir(root)
                .args(args)
                .envs(env.iter().copied())
                .status()
                .context("cannot run cargo")?;
            if status.success() {
                Ok(())
            } else {
                bail!("`cargo {}` failed ({status})", args.join(" "))
            }
        }),
    }
}

fn soak(
    root: &Path,
    minutes: u64,
    agents: u32,
    seed: Option<u64>,
    profile: Option<&str>,
    release: bool,
) -> Result<()> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root)
        .args(["test", "--locked", "-p", "ccgw-tests", "--test", "soak"])
        .env("CCGW_SOAK_SECS", (minutes.max(1) * 60).to_string())
        .env("CCGW_SOAK_AGENTS", agents.to_string());
    if release {
        cmd.arg("--release");
    }
    if let Some(seed) = seed {
        cmd.env("CCGW_SOAK_SEED", seed.to_string());
    }
    if let Some(profile) = profile {
        cmd.env("CCGW_SOAK_PROFILE", profile);
    }
    let status = cmd.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("the soak failed ({status})");
    }
    Ok(())
}

/// `cargo install ccgw-cli --no-default-features` gives a binary without the simulator's
/// server stack: no axum, no hyper server, no rcgen in its tree.
fn operator_binary_has_no_server(root: &Path) -> Result<()> {
    let out = Command::new(cargo())
        .current_dir(root)
        .args([
            "tree",
            "--locked",
            "-p",
            "ccgw-cli",
            "--no-default-features",
            "-e",
            "normal",
            "-f",
            "{p} {f}",
        ])
        .output()
        .context("cannot run cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let server: Vec<&str> = tree
        .lines()
        .filter(|l| {
            l.contains("axum")
                || l.contains("rcgen")
                || (l.contains(" hyper v") && l.contains("server"))
        })
        .collect();
    if !server.is_empty() {
        bail!(
            "ccgw-cli without default features has a server stack in its tree:\n{}",
            server.join("\n")
        );
    }
    Ok(())
}

/// Every step of `cargo xtask test`, in the order they run.
fn test_steps() -> Vec<Step> {
    let mut steps = static_checks();
    steps.extend(test_runs());
    steps.extend(proofs());
    steps
}

/// Format, generated code, spec, lints, supply chain, the operator's binary.
fn static_checks() -> Vec<Step> {
    vec![
        cargo_step(
            "format (cargo fmt --check)",
            &["fmt", "--all", "--", "--check"],
            &[],
        ),
        Step {
            name: "generated code is fresh (cargo xtask gen --check)",
            run: Box::new(|root| gen_cmd(root, true, None, None)),
        },
        Step {
            name: "spec tools (openapi-spec-validator, redocly lint)",
            run: Box::new(tools::spec_lint),
        },
        cargo_step(
            "lints (cargo clippy -D warnings)",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        ),
        // deny.toml says what is allowed and why; cargo-deny is installed on first use.
        Step {
            name: "supply chain (cargo deny check licenses bans sources)",
            run: Box::new(|root| {
                installs::ensure_cargo_tool(root, &installs::CARGO_DENY)?;
                command::run(
                    installs::cargo_with_tools(root)?
                        .current_dir(root)
                        .args(["deny", "--locked", "check", "licenses", "bans", "sources"]),
                    "cargo deny",
                )
            }),
        },
        Step {
            name: "operator's binary without a server stack (cargo tree)",
            run: Box::new(operator_binary_has_no_server),
        },
    ]
}

/// Tests at a time in the test step (`RUST_TEST_THREADS` overrides it).
const TEST_THREADS: &str = "8";

/// The test suites: the workspace's, scale, soak, the Rust consumers.
fn test_runs() -> Vec<Step> {
    vec![
        // INSTA_UPDATE=no: a test run never writes snapshots; accepting a change is
        // `cargo xtask gen`. curl: a test runs the sign-in line the simulator prints.
        // Eight tests at a time unless RUST_TEST_THREADS says otherwise: most of them
        // wait on a simulator's timers, not on a core (the end-to-end tests took 72 s
        // two at a time on two cores, 21 s eight at a time).
        Step {
            name: "tests (cargo test --workspace)",
            run: Box::new(|root| {
                installs::ensure_command(&["curl"], "curl")?;
                let mut test = Command::new(cargo());
                test.current_dir(root)
                    .args(["test", "--workspace", "--locked", "--no-fail-fast"])
                    .env("INSTA_UPDATE", "no");
                if std::env::var_os("RUST_TEST_THREADS").is_none() {
                    test.env("RUST_TEST_THREADS", TEST_THREADS);
                }
                command::run(&mut test, "cargo test")
            }),
        },
        // `--workspace` with `--test`: the features are the whole workspace's, as in the
        // step before, so nothing is built again (`-p` would unify fewer features and
        // rebuild dependencies for minutes).
        cargo_step(
            "scale: 10,000 agents at once (simulator and client)",
            &[
                "test",
                "--workspace",
                "--locked",
                "--test",
                "load",
                "--test",
                "workflow_scale",
            ],
            &[],
        ),
        cargo_step(
            "soak under faults, classic and integrator profiles",
            &["test", "--workspace", "--locked", "--test", "soak"],
            &[],
        ),
        Step {
            name: "Rust consumers (cargo package, cargo-semver-checks against the last release)",
            run: Box::new(consumers::consumers),
        },
    ]
}

/// Proofs against the spec and other generators, docs, fuzzing, mutation testing.
fn proofs() -> Vec<Step> {
    vec![
        Step {
            name: "recorded pairs match the spec (openapi-core)",
            run: Box::new(tools::recorded_pairs),
        },
        Step {
            name: "simulator conformance (schemathesis, >= 1000 cases)",
            run: Box::new(tools::schemathesis),
        },
        Step {
            name: "TypeScript proof (openapi-typescript, tsc --strict, node --test)",
            run: Box::new(tools::typescript),
        },
        Step {
            name: "Python proof (openapi-generator python client, pytest)",
            run: Box::new(generators::python),
        },
        Step {
            name: "Java proof (openapi-generator java client, javac, the rest workflow)",
            run: Box::new(generators::java),
        },
        Step {
            name: "rendered docs (redocly build-docs, headless Chromium)",
            run: Box::new(tools::docs),
        },
        Step {
            name: "fuzz targets (cargo-fuzz, nightly, 10 s each, opt-level 1)",
            run: Box::new(|root| fuzz::fuzz(root, 10, None, fuzz::Build::Quick)),
        },
        Step {
            name: "mutation testing: lines changed since the last whole run, and a rotating sample (cargo-mutants)",
            run: Box::new(mutants::mutants_since_whole_run),
        },
        cargo_step(
            "docs (cargo doc, warnings denied)",
            &["doc", "--workspace", "--no-deps", "--locked"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        ),
    ]
}

fn test_cmd(root: &Path, only: &[String], skip: &[String]) -> Result<()> {
    let steps = test_steps();
    let total = Instant::now();
    let mut results = Vec::new();
    let named = |name: &str, words: &[String]| {
        words
            .iter()
            .any(|w| name.to_lowercase().contains(&w.to_lowercase()))
    };
    let steps: Vec<&Step> = steps
        .iter()
        .filter(|s| (only.is_empty() || named(s.name, only)) && !named(s.name, skip))
        .collect();
    if steps.is_empty() {
        bail!("no step matches --only {only:?} --skip {skip:?}");
    }
    for (i, step) in steps.iter().enumerate() {
        eprintln!("\n==> [{}/{}] {}", i + 1, steps.len(), step.name);
        let started = Instant::now();
        let outcome = (step.run)(root);
        if let Err(e) = &outcome {
            eprintln!("error: {e:#}");
        }
        results.push((step.name, outcome.is_ok(), started.elapsed()));
    }
    eprintln!("\n==> summary ({:.0?} in all)", total.elapsed());
    for (name, ok, took) in &results {
        eprintln!(
            "  {} {name} ({took:.1?})",
            if *ok { "ok    " } else { "FAILED" }
        );
    }
    let failed = results.iter().filter(|(_, ok, _)| !ok).count();
    if failed > 0 {
        bail!("{failed} of {} steps failed", results.len());
    }
    eprintln!("all {} steps passed", results.len());
    Ok(())
}
