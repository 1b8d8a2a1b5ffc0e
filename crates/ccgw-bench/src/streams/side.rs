//! In a streams process of its own: one side (`ccgw`, the `raw` floor, `quiet`: ccgw
//! agents signed in with no stream, or `mixed`: the floor's held polls with quiet ccgw
//! agents beside them) sets up its agents against the simulators it is given, then
//! measures what the parent asks for, and prints one JSON line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use super::raw::{self, RawLine};
use crate::measure::{percentile, process_cpu};
use ccgw_testkit::memory_kib;

/// How long the idle CPU is measured, after 2 s of settling.
const IDLE: Duration = Duration::from_secs(15);

/// What one streams process does.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Side {
    /// `ccgw`, `raw`, `quiet` (ccgw agents without streams) or `mixed` (the floor's
    /// polls with `--rests` ccgw agents without streams beside them).
    pub(crate) kind: String,
    /// Agents in all, spread over the simulators in order (IDs from 101 on each).
    #[arg(long)]
    pub(crate) agents: u32,
    /// Each simulator's base URL (one per `--ca-file`).
    #[arg(long = "base", required = true)]
    pub(crate) bases: Vec<String>,
    #[arg(long = "ca-file", required = true)]
    pub(crate) ca_files: Vec<PathBuf>,
    /// Sign-ins in flight at once, per simulator (ccgw: `Config::set_up_concurrency`).
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// Measure memory and idle CPU once every stream is open.
    #[arg(long)]
    pub(crate) idle: bool,
    /// Rest calls to time once set up (each on an agent of its own).
    #[arg(long, default_value_t = 0)]
    pub(crate) rests: usize,
}

/// `agents` spread over `shards` simulators: the count of each.
pub(crate) fn split(agents: u32, shards: usize) -> Vec<u32> {
    let shards = u32::try_from(shards.max(1)).unwrap_or(1);
    (0..shards)
        .map(|i| agents / shards + u32::from(i < agents % shards))
        .collect()
}

pub(crate) fn run(side: &Side) -> Result<()> {
    if side.bases.len() != side.ca_files.len() {
        bail!("one --ca-file for each --base");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rss_before = memory_kib("VmRSS");
    let started = Instant::now();
    rt.block_on(async {
        let shards = split(side.agents, side.bases.len());
        let held = match side.kind.as_str() {
            "ccgw" => Held::Ccgw(ccgw_side(side, 101, &shards, true).await?),
            "quiet" => Held::Ccgw(ccgw_side(side, 101, &shards, false).await?),
            "raw" => Held::Raw {
                _polls: raw_side(side).await?,
            },
            // The floor's polls held, and beside them on the first simulator, `rests`
            // ccgw agents without streams (IDs after the floor's).
            "mixed" => {
                let polls = raw_side(side).await?;
                let first = 101 + shards.first().copied().unwrap_or(0);
                let rests = u32::try_from(side.rests)?;
                Held::Mixed {
                    _polls: polls,
                    agents: ccgw_side(side, first, &[rests], false).await?,
                }
            }
            other => bail!("no stream kind {other:?}"),
        };
        let mut figures = json!({
            "kind": side.kind,
            "agents": side.agents,
            "concurrency": side.concurrency,
            "setup_seconds": started.elapsed().as_secs_f64(),
        });
        if side.idle {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let cpu_before = process_cpu();
            tokio::time::sleep(IDLE).await;
            let cpu = process_cpu() - cpu_before;
            let rss = memory_kib("VmRSS").saturating_sub(rss_before) as f64;
            figures["rss_kib_per_agent"] = json!(rss / f64::from(side.agents));
            figures["peak_rss_mib"] = json!(memory_kib("VmHWM") / 1024);
            figures["idle_cpu_seconds_per_minute"] = json!(cpu / IDLE.as_secs_f64() * 60.0);
        }
        if let (Held::Ccgw(agents) | Held::Mixed { agents, .. }, true) = (&held, side.rests > 0) {
            figures["rest_us"] = rest_latencies(agents, side.rests).await?;
        }
        println!("{figures}");
        drop(held);
        Ok(())
    })
}

/// What a side holds open while it is measured.
enum Held {
    Ccgw(Vec<(ccgw::Agent, Option<ccgw::EventStream>)>),
    Raw {
        _polls: tokio::task::JoinSet<()>,
    },
    Mixed {
        _polls: tokio::task::JoinSet<()>,
        agents: Vec<(ccgw::Agent, Option<ccgw::EventStream>)>,
    },
}

/// The client of a side with `agents` agents on the simulator at `base`, `concurrency`
/// sign-ins in flight.
pub(crate) fn ccgw_client(
    base: &str,
    ca_file: &std::path::Path,
    concurrency: usize,
    agents: u32,
) -> Result<ccgw::GatewayClient> {
    Ok(ccgw::Config {
        url: Some(base.to_owned()),
        system_roots: false,
        ca_file: Some(ca_file.to_owned()),
        connect_timeout: Duration::from_secs(20),
        set_up_concurrency: concurrency,
        // One held poll per agent: more agents than the default's 16,384 need as many
        // connections, as a user with that many agents would set.
        max_connections: (agents as usize + 1_024).max(ccgw::Config::default().max_connections),
        ..ccgw::Config::default()
    }
    .build_client()?)
}

/// One client per simulator; `counts` agents on each from ID `first` on, each signed
/// in (the client queues the sign-ins) and with `streams`, its stream open with the two
/// sign-in events read.
async fn ccgw_side(
    side: &Side,
    first: u32,
    counts: &[u32],
    streams: bool,
) -> Result<Vec<(ccgw::Agent, Option<ccgw::EventStream>)>> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for ((base, ca_file), &count) in side.bases.iter().zip(&side.ca_files).zip(counts) {
        let client = ccgw_client(base, ca_file, side.concurrency, count)?;
        for id in first..first + count {
            let (client, tx) = (client.clone(), tx.clone());
            tokio::spawn(async move {
                let set_up = async {
                    let sign_in = ccgw::SignIn::new(format!("pw{id}"), format!("40{id}"));
                    let agent = client.sign_in(ccgw::AgentId::new(id)?, &sign_in).await?;
                    if !streams {
                        return Ok((agent, None));
                    }
                    let mut events = agent.events();
                    for _ in 0..2 {
                        events.next().await.context("the stream ended")??;
                    }
                    Ok::<_, anyhow::Error>((agent, Some(events)))
                };
                let _ = tx.send(set_up.await);
            });
        }
    }
    drop(tx);
    let mut held = Vec::with_capacity(side.agents as usize);
    while let Some(done) = rx.recv().await {
        held.push(done?);
    }
    Ok(held)
}

/// The floor: per agent a task that connects and signs in within a turn, reads the
/// two sign-in events, then holds long polls with the same pause after each answer.
async fn raw_side(side: &Side) -> Result<tokio::task::JoinSet<()>> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    let shards = split(side.agents, side.bases.len());
    for ((base, ca_file), count) in side.bases.iter().zip(&side.ca_files).zip(shards) {
        let tls = raw::connector(ca_file)?;
        let turns = Arc::new(Semaphore::new(side.concurrency));
        for id in 101..101 + count {
            let (tls, base, turns, tx) =
                (tls.clone(), base.clone(), Arc::clone(&turns), tx.clone());
            tasks.spawn(async move {
                let set_up = async {
                    let mut line = {
                        let _turn = turns.acquire().await?;
                        let mut line = RawLine::connect(&tls, &base, id).await?;
                        line.sign_in().await?;
                        line
                    };
                    line.events(2, None).await?;
                    Ok::<_, anyhow::Error>(line)
                };
                match set_up.await {
                    Ok(mut line) => {
                        let _ = tx.send(Ok(()));
                        while line.poll().await.is_ok() {
                            tokio::time::sleep(raw::PAUSE).await;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        }
    }
    drop(tx);
    for _ in 0..side.agents {
        rx.recv().await.context("a floor agent ended")??;
    }
    Ok(tasks)
}

/// `count` rest calls one after the other, each on an agent of its own: p50 and p99 µs.
async fn rest_latencies(
    agents: &[(ccgw::Agent, Option<ccgw::EventStream>)],
    count: usize,
) -> Result<Value> {
    let duration = ccgw::RestDuration::from_secs(600)?;
    let mut took = Vec::with_capacity(count);
    for (agent, _) in agents.iter().take(count) {
        let start = Instant::now();
        agent.rest(duration, ccgw::RestCause::from(1)).await?;
        took.push(start.elapsed().as_secs_f64() * 1e6);
    }
    took.sort_by(f64::total_cmp);
    Ok(json!({
        "count": took.len(),
        "p50": percentile(&took, 0.5),
        "p99": percentile(&took, 0.99),
    }))
}
