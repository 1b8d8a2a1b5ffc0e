//! Agents with open event streams against `ccgw-sim` (processes of their own), through
//! ccgw and through the floor ([`raw`]: raw hyper + rustls following the same cadence,
//! one connection per agent). Each side runs in a fresh process against fresh
//! simulators, so its memory and idle CPU are its own; above [`PER_SIMULATOR`] agents
//! the agents are spread over several simulators, as one client address reaches one
//! port through at most the system's ephemeral ports.

pub(crate) mod raw;
pub(crate) mod side;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use std::process::Command;

use crate::Args;
use ccgw_testkit::{Child, SimProcess, json_line};

/// The most agents one simulator serves in the bench: the ephemeral ports towards one
/// address and port are about 28,000 by default, and a simulator holds a descriptor per
/// agent under the same descriptor limit as the client.
const PER_SIMULATOR: u32 = 15_000;
/// The sign-ins in flight of the rows that do not vary it: the library's default.
pub(crate) const CONCURRENCY: usize = 64;
/// Rest calls timed under load and quiet.
const RESTS: usize = 1_000;
/// Agents whose polls are held while the rest calls are timed.
pub(crate) const UNDER_LOAD: u32 = 10_000;

/// The protocol's own minimum for agents to have their streams open: the pauses take no
/// turn, so each agent's one pause between its two sign-in events runs beside the
/// others'.
pub(crate) fn protocol_minimum_seconds() -> f64 {
    raw::PAUSE.as_secs_f64()
}

/// What the parent asks one side for.
struct Ask<'a> {
    kind: &'a str,
    agents: u32,
    concurrency: usize,
    idle: bool,
    rests: usize,
}

/// Runs one side in a process of its own against fresh simulators; its JSON line.
fn run_side(args: &Args, ask: &Ask<'_>) -> Result<Value> {
    let sim_bin = args
        .sim_bin
        .as_ref()
        .context("--sim-bin is needed for the streams")?;
    let shards = ask.agents.div_ceil(PER_SIMULATOR).max(1) as usize;
    let mut sims = Vec::new();
    let mut child = Command::new(std::env::current_exe()?);
    child
        .arg("--out")
        .arg(&args.out)
        .args(["streams", ask.kind, "--agents", &ask.agents.to_string()])
        .args(["--concurrency", &ask.concurrency.to_string()])
        .args(["--rests", &ask.rests.to_string()]);
    if ask.idle {
        child.arg("--idle");
    }
    for (i, count) in side::split(ask.agents, shards).into_iter().enumerate() {
        // `mixed` puts its quiet agents on the first simulator after the floor's.
        let count = count
            + if i == 0 && ask.kind == "mixed" {
                ask.rests as u32
            } else {
                0
            };
        let dir = args
            .out
            .join(format!("sim-{}-{}-{i}", ask.kind, ask.agents));
        let sim = SimProcess::start(
            Command::new(sim_bin),
            &dir,
            &["--agents", &format!("101-{}", 100 + count)],
        )
        .with_context(|| format!("cannot start {}", sim_bin.display()))?;
        child
            .args(["--base", sim.base_url()])
            .args(["--ca-file", sim.ca_file().context("ca_file")?]);
        sims.push(sim);
    }
    let (holder, mut out) = Child::spawn(&mut child)?;
    let row = json_line(&mut out).with_context(|| {
        format!(
            "no figures from the {} side ({} agents)",
            ask.kind, ask.agents
        )
    })?;
    // The simulators first: the server closes first, so no client port waits in
    // TIME_WAIT for the next run.
    drop(sims);
    drop(holder);
    Ok(row)
}

/// ccgw against the floor with `agents` open streams, idle; ratios to the floor. At
/// [`UNDER_LOAD`] agents, ccgw also times rest calls while every poll is held.
pub(crate) fn streams(args: &Args, agents: u32) -> Result<Value> {
    let ask = |kind| Ask {
        kind,
        agents,
        concurrency: CONCURRENCY,
        idle: true,
        rests: if kind == "ccgw" && agents == UNDER_LOAD {
            RESTS
        } else {
            0
        },
    };
    let floor = run_side(args, &ask("raw"))?;
    let ccgw = run_side(args, &ask("ccgw"))?;
    Ok(json!({
        "agents": agents,
        "protocol_minimum_seconds": protocol_minimum_seconds(),
        "setup_ratio": ratio(&ccgw, &floor, "setup_seconds"),
        "memory_ratio": ratio(&ccgw, &floor, "rss_kib_per_agent"),
        "idle_cpu_ratio": ratio(&ccgw, &floor, "idle_cpu_seconds_per_minute"),
        "floor": floor,
        "ccgw": ccgw,
    }))
}

/// The sign-in storm: `agents` signed in from nothing at each of `concurrencies`
/// (set-up only), ccgw against the floor.
pub(crate) fn storm(args: &Args, agents: u32, concurrencies: &[usize]) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    for &concurrency in concurrencies {
        let ask = |kind| Ask {
            kind,
            agents,
            concurrency,
            idle: false,
            rests: 0,
        };
        let floor = run_side(args, &ask("raw"))?;
        let ccgw = run_side(args, &ask("ccgw"))?;
        rows.push(json!({
            "agents": agents,
            "concurrency": concurrency,
            "protocol_minimum_seconds": protocol_minimum_seconds(),
            "setup_ratio": ratio(&ccgw, &floor, "setup_seconds"),
            "floor": floor,
            "ccgw": ccgw,
        }));
    }
    Ok(rows)
}

/// ccgw's rest calls with no poll held (agents signed in without streams, against a
/// fresh simulator), and beside [`UNDER_LOAD`] polls held by the floor in the same
/// process: what holding that many polls costs a command wherever they are held.
pub(crate) fn quiet_rests(args: &Args) -> Result<Value> {
    let quiet = run_side(
        args,
        &Ask {
            kind: "quiet",
            agents: RESTS as u32,
            concurrency: CONCURRENCY,
            idle: false,
            rests: RESTS,
        },
    )?;
    let beside_floor = run_side(
        args,
        &Ask {
            kind: "mixed",
            agents: UNDER_LOAD,
            concurrency: CONCURRENCY,
            idle: false,
            rests: RESTS,
        },
    )?;
    Ok(json!({"quiet": quiet["rest_us"], "beside_floor_polls": beside_floor["rest_us"]}))
}

fn ratio(ccgw: &Value, floor: &Value, key: &str) -> Value {
    match (ccgw[key].as_f64(), floor[key].as_f64()) {
        (Some(c), Some(f)) if f > 0.0 => json!(c / f),
        _ => Value::Null,
    }
}
