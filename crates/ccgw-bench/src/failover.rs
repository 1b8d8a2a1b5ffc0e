//! The failover storm: a 2-node simulator cluster, every agent signed in, its stream
//! open and in rest; node 0 dies. Measured: the time from the node's death until every
//! agent it held is signed in again on node 1, its stream open and its rest restored —
//! through ccgw's supervised agents, and through the floor's agents, which notice the
//! loss on their next poll (pausing [`raw::PAUSE`] after each answer, `000-004` included),
//! sign in again within the same turns and put the agent back in rest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ccgw::{RetCode, SessionEvent};
use ccgw_client::operations::REST;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use crate::Args;
use crate::streams::raw::{self, RawLine};
use crate::streams::side::Side;
use ccgw_testkit::{Child, SimProcess, json_line};

/// How long the simulator's dead node answers `000-004` before its agents' requests go
/// to the node that is up: the protocol's own part of a failover.
const SWITCHOVER_MS: u64 = 3_000;
/// How long a side may take to recover before the run fails.
const DEADLINE: Duration = Duration::from_secs(300);

/// What an agent's task reports.
enum Step {
    Ready {
        on_node_0: bool,
    },
    /// The agent found its session lost.
    Lost,
    /// Signed in again.
    Recovered,
    /// Its rest restored (and confirmed by its event).
    Restored,
}

/// When the last of the lost agents passed each phase, from the node's death.
#[derive(Default)]
struct Phases {
    lost: Duration,
    recovered: Duration,
}

/// ccgw against the floor: `agents` on a 2-node cluster, node 0 dies.
pub(crate) fn failover(args: &Args, agents: u32) -> Result<Value> {
    let sim_bin = args.sim_bin.as_ref().context("--sim-bin is needed")?;
    let mut rows = Vec::new();
    for kind in ["raw", "ccgw"] {
        let dir = args.out.join(format!("sim-failover-{kind}-{agents}"));
        let sim = SimProcess::start(
            std::process::Command::new(sim_bin),
            &dir,
            &[
                "--agents",
                &format!("101-{}", 100 + agents),
                "--nodes",
                "2",
                "--switchover-ms",
                &SWITCHOVER_MS.to_string(),
            ],
        )?;
        let (holder, mut out) = Child::spawn(
            std::process::Command::new(std::env::current_exe()?)
                .arg("--out")
                .arg(&args.out)
                .args(["failover", kind, "--agents", &agents.to_string()])
                .args(["--base", sim.base_url()])
                .args(["--ca-file", sim.ca_file().context("ca_file")?])
                .args(["--concurrency", &crate::streams::CONCURRENCY.to_string()]),
        )?;
        let row =
            json_line(&mut out).with_context(|| format!("no figures from {kind}'s failover"))?;
        drop(sim);
        drop(holder);
        rows.push(row);
    }
    let (floor, ccgw) = (&rows[0], &rows[1]);
    Ok(json!({
        "agents": agents,
        "switchover_seconds": SWITCHOVER_MS as f64 / 1000.0,
        "recovery_ratio": ccgw["recovery_seconds"].as_f64().unwrap_or(f64::NAN)
            / floor["recovery_seconds"].as_f64().unwrap_or(f64::NAN),
        "floor": floor,
        "ccgw": ccgw,
    }))
}

/// In the failover process: sets the agents up, kills node 0, prints the figures.
pub(crate) fn run(side: &Side) -> Result<()> {
    let (base, ca_file) = match (side.bases.as_slice(), side.ca_files.as_slice()) {
        ([base], [ca_file]) => (base.clone(), ca_file.clone()),
        _ => bail!("the failover runs against one simulator"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let started = Instant::now();
        let tasks = match side.kind.as_str() {
            "ccgw" => ccgw_agents(side, &base, &ca_file, tx)?,
            "raw" => raw_agents(side, &base, &ca_file, tx)?,
            other => bail!("no failover kind {other:?}"),
        };
        let mut on_node_0 = 0;
        for _ in 0..side.agents {
            let step = rx
                .recv()
                .await
                .context("an agent ended before it was set up")??;
            if let Step::Ready { on_node_0: true } = step {
                on_node_0 += 1;
            }
        }
        let setup = started.elapsed();
        let died = Instant::now();
        RawLine::connect(&raw::connector(&ca_file)?, &base, 0)
            .await?
            .control("nodes/0/down")
            .await?;
        let mut restored = 0;
        let mut phases = Phases::default();
        while restored < on_node_0 {
            let step =
                tokio::time::timeout_at(tokio::time::Instant::from_std(died) + DEADLINE, rx.recv())
                    .await
                    .with_context(|| {
                        format!("{restored} of {on_node_0} agents back after {DEADLINE:?}")
                    })?
                    .context("the agents ended")??;
            match step {
                Step::Restored => restored += 1,
                Step::Lost => phases.lost = died.elapsed(),
                Step::Recovered => phases.recovered = died.elapsed(),
                Step::Ready { .. } => {}
            }
        }
        println!(
            "{}",
            json!({
                "kind": side.kind,
                "agents": side.agents,
                "lost": on_node_0,
                "setup_seconds": setup.as_secs_f64(),
                "recovery_seconds": died.elapsed().as_secs_f64(),
                "all_lost_seconds": phases.lost.as_secs_f64(),
                "all_signed_in_seconds": phases.recovered.as_secs_f64(),
            })
        );
        drop(tasks);
        Ok(())
    })
}

type Report = mpsc::UnboundedSender<Result<Step>>;

/// Supervised agents kept in rest; each reports when set up, and each restored rest.
fn ccgw_agents(
    side: &Side,
    base: &str,
    ca_file: &std::path::Path,
    tx: Report,
) -> Result<tokio::task::JoinSet<()>> {
    let client = crate::streams::side::ccgw_client(base, ca_file, side.concurrency, side.agents)?;
    let mut tasks = tokio::task::JoinSet::new();
    for id in 101..101 + side.agents {
        let (client, tx) = (client.clone(), tx.clone());
        tasks.spawn(async move {
            let Ok(agent_id) = ccgw::AgentId::new(id) else {
                return;
            };
            let sign_in = ccgw::SignIn::new(format!("pw{id}"), format!("40{id}"));
            let mut session = ccgw::SupervisedAgent::start(&client, agent_id, sign_in);
            let set_up = async {
                loop {
                    match session.next().await.context("the supervision ended")? {
                        SessionEvent::SignedIn { .. } => break,
                        SessionEvent::GaveUp(e) => return Err(e.into()),
                        _ => {}
                    }
                }
                let rest = ccgw::RestDuration::from_secs(600)?;
                session
                    .ensure_rest(rest, ccgw::RestCause::from(1), Duration::from_secs(30))
                    .await?;
                let guid = session.agent().and_then(|a| a.guid()).context("no Guid")?;
                Ok(guid.expose_secret().ends_with(".AgentGateway0"))
            };
            match set_up.await {
                Ok(on_node_0) => {
                    let _ = tx.send(Ok(Step::Ready { on_node_0 }));
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            while let Some(item) = session.next().await {
                match item {
                    SessionEvent::Restored(Ok(_)) => {
                        let _ = tx.send(Ok(Step::Restored));
                    }
                    SessionEvent::Lost(_) => {
                        let _ = tx.send(Ok(Step::Lost));
                    }
                    SessionEvent::Recovered { .. } => {
                        let _ = tx.send(Ok(Step::Recovered));
                    }
                    SessionEvent::GaveUp(e) | SessionEvent::Restored(Err(e)) => {
                        let _ = tx.send(Err(anyhow::anyhow!("agent {id}: {e}")));
                    }
                    _ => {}
                }
            }
        });
    }
    Ok(tasks)
}

/// The floor's agents: set up, then hold polls; on a loss (any refusal but `000-004`),
/// sign in again and restore the rest.
fn raw_agents(
    side: &Side,
    base: &str,
    ca_file: &std::path::Path,
    tx: Report,
) -> Result<tokio::task::JoinSet<()>> {
    let tls = raw::connector(ca_file)?;
    let turns = Arc::new(Semaphore::new(side.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 101..101 + side.agents {
        let (tls, base, turns, tx) = (tls.clone(), base.to_owned(), Arc::clone(&turns), tx.clone());
        tasks.spawn(async move {
            if let Err(e) = raw_agent(&tls, &base, id, &turns, &tx).await {
                let _ = tx.send(Err(e));
            }
        });
    }
    Ok(tasks)
}

async fn raw_agent(
    tls: &tokio_rustls::TlsConnector,
    base: &str,
    id: u32,
    turns: &Semaphore,
    tx: &Report,
) -> Result<()> {
    let mut line = {
        let _turn = turns.acquire().await?;
        RawLine::connect(tls, base, id).await?
    };
    let mut first = true;
    loop {
        {
            let _turn = turns.acquire().await?;
            line.sign_in().await?;
        }
        if !first {
            let _ = tx.send(Ok(Step::Recovered));
        }
        line.events(2, None).await?;
        line.rest().await?;
        tokio::time::sleep(raw::PAUSE).await;
        line.events(usize::MAX, REST.events.first().copied())
            .await?;
        let step = if first {
            Step::Ready {
                on_node_0: line.on_node(0),
            }
        } else {
            Step::Restored
        };
        first = false;
        let _ = tx.send(Ok(step));
        loop {
            tokio::time::sleep(raw::PAUSE).await;
            let (code, _) = line.poll().await?;
            if !(code.is_success() || code == RetCode::SwitchingOver) {
                let _ = tx.send(Ok(Step::Lost));
                break;
            }
        }
    }
}
