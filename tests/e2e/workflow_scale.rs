//! Scale, bounded in count and time: 10,000 agent handles on one shared `GatewayClient`,
//! each with its event stream open, each doing one confirmed rest and a cancel, against
//! `ccgw-sim` over HTTPS on loopback.
//!
//! The simulator runs in a child process (this test binary started again, see
//! `simulator_child`), so the client's memory is measured alone and neither process
//! holds both ends of 10,000 connections.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccgw::{Agent, AgentEvent, AgentId, EventStream, RestCause, RestDuration, SignIn};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const AGENTS: u32 = 10_000;
const FIRST: u32 = 101;
/// Sign-ins in flight at once (streams open as agents sign in, so connections ramp up).
const SIGN_IN_CONCURRENCY: usize = 64;
/// Agents doing their rest and cancel at once.
const WORK_CONCURRENCY: usize = 256;
/// The whole run must finish within this.
const DEADLINE: Duration = Duration::from_secs(420);
const CHILD_ENV: &str = "CCGW_SCALE_SIMULATOR_CHILD";

/// The simulator side: the test below started again with `CHILD_ENV` set.
fn simulator_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = ccgw_sim::Config {
            agents: (FIRST..FIRST + AGENTS).map(ccgw_sim::AgentConfig::numbered).collect(),
            ..ccgw_sim::Config::default()
        };
        let sim = ccgw_sim::Simulator::start(config).await.expect("simulator starts");
        let start = serde_json::json!({"base_url": sim.base_url(), "ca_pem": sim.ca_pem()});
        println!("{start}");
        let _ = std::io::stdout().flush();
        // Serve until the parent closes stdin, then report the counters.
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
        let s = sim.handle().stats();
        println!(
            "{}",
            serde_json::json!({"logins": s.logins, "rest_entered": s.rest_entered, "rest_cancelled": s.rest_cancelled,
                "events_emitted": s.events_emitted, "events_delivered": s.events_delivered, "requests": s.requests})
        );
        let _ = std::io::stdout().flush();
        sim.shutdown().await;
    });
}

/// Peak resident memory of this process (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    ccgw_testkit::memory_kib("VmHWM")
}

fn json_line(lines: &mut ccgw_testkit::Output) -> serde_json::Value {
    ccgw_testkit::json_line(lines).expect("a JSON line from the simulator process")
}

#[test]
fn ten_thousand_agents_on_one_client() {
    if std::env::var_os(CHILD_ENV).is_some() {
        simulator_child();
        return;
    }
    let (mut child, mut lines) = ccgw_testkit::Child::spawn(
        Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "ten_thousand_agents_on_one_client",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .stdin(Stdio::piped()),
    )
    .expect("the simulator process starts");
    let start = json_line(&mut lines);
    let base_url = start["base_url"].as_str().expect("base_url").to_owned();
    let ca_pem = start["ca_pem"].as_str().expect("ca_pem").to_owned();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let baseline_kib = peak_rss_kib();
    let started = Instant::now();
    let outcome =
        runtime.block_on(async { tokio::time::timeout(DEADLINE, run(&base_url, &ca_pem)).await });
    let elapsed = started.elapsed();
    let peak_kib = peak_rss_kib();
    drop(runtime);

    drop(child.0.stdin.take()); // the simulator reports and stops
    let stats = json_line(&mut lines);
    let _ = child.0.wait();

    let failures = outcome.unwrap_or_else(|_| panic!("not finished within {DEADLINE:?}"));
    assert!(
        failures.is_empty(),
        "{} agents failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let n = u64::from(AGENTS);
    assert_eq!(stats["logins"], n, "{stats}");
    assert_eq!(stats["rest_entered"], n, "{stats}");
    assert_eq!(stats["rest_cancelled"], n, "{stats}");
    assert_eq!(
        stats["events_delivered"], stats["events_emitted"],
        "{stats}"
    );
    eprintln!(
        "{AGENTS} agents on one client: {elapsed:.1?}; client peak RSS {} MiB (baseline {} MiB), {:.1} KiB per agent; simulator answered {} requests",
        peak_kib / 1024,
        baseline_kib / 1024,
        peak_kib.saturating_sub(baseline_kib) as f64 / f64::from(AGENTS),
        stats["requests"],
    );
}

async fn run(base_url: &str, ca_pem: &str) -> Vec<String> {
    let client = ccgw::Config {
        url: Some(String::from(base_url)),
        system_roots: false,
        ca_pem: Some(String::from(ca_pem)),
        connect_timeout: Duration::from_secs(20),
        request_timeout: Duration::from_secs(60),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("client builds");
    let mut failures = Vec::new();

    // Sign in every agent and open its event stream.
    let permits = Arc::new(Semaphore::new(SIGN_IN_CONCURRENCY));
    let mut signing = JoinSet::new();
    for id in FIRST..FIRST + AGENTS {
        let (client, permits) = (client.clone(), Arc::clone(&permits));
        signing.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            let agent = client
                .sign_in(
                    AgentId::new(id).map_err(|e| e.to_string())?,
                    &SignIn::new(format!("pw{id}"), format!("40{id}")),
                )
                .await
                .map_err(|e| format!("agent {id}: sign-in: {e}"))?;
            let events = agent.events();
            Ok((agent, events))
        });
    }
    let agents = joined(signing, &mut failures).await;

    // Every agent: one confirmed rest and a cancel, seen on its own open stream.
    let permits = Arc::new(Semaphore::new(WORK_CONCURRENCY));
    let mut working = JoinSet::new();
    for (agent, events) in agents {
        let permits = Arc::clone(&permits);
        working.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            rest_and_cancel(agent, events).await
        });
    }
    // Every stream stays open until every agent is done.
    let open = joined(working, &mut failures).await;
    drop(open);
    failures
}

/// What the tasks of `set` gave, their failures added to `failures`.
async fn joined<T: 'static>(
    mut set: JoinSet<Result<T, String>>,
    failures: &mut Vec<String>,
) -> Vec<T> {
    let mut done = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(value)) => done.push(value),
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    done
}

/// One confirmed rest and a cancel, the cancel seen on the agent's open stream after the
/// events of its sign-in and its rest; the stream, still open.
async fn rest_and_cancel(agent: Agent, mut events: EventStream) -> Result<EventStream, String> {
    let id = agent.id();
    let duration = RestDuration::from_secs(600).map_err(|e| e.to_string())?;
    agent
        .rest(duration, RestCause::from(1))
        .confirmed(Duration::from_secs(120))
        .await
        .map_err(|e| format!("agent {id}: rest: {e}"))?;
    agent
        .cancel_rest()
        .await
        .map_err(|e| format!("agent {id}: cancel: {e}"))?;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(120), events.next()).await {
            Ok(Some(Ok(AgentEvent::RestCancelled))) => break,
            Ok(Some(Ok(event))) => seen.push(event.event_type().to_owned()),
            other => {
                return Err(format!(
                    "agent {id}: no RestCancelled ({other:?}, saw {seen:?})"
                ));
            }
        }
    }
    let expected = [
        "AgentOther_InService",
        "AgentState_Ready",
        "AgentState_SetRest_Success",
    ];
    if seen != expected {
        return Err(format!("agent {id}: events {seen:?}"));
    }
    Ok(events)
}
