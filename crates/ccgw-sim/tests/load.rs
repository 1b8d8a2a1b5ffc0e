//! Load, bounded in count and time: 10,000 agents signed in, each doing rest → poll →
//! cancel rest → poll concurrently over loopback. Every state change and every event is
//! delivered exactly once — checked per agent by the client and in total by the
//! simulator's counters.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccgw_sim::{AgentConfig, Clock, Config, Transport};
use common::{Gw, retcode};
use serde_json::json;
use tokio::sync::Semaphore;

const AGENTS: u32 = 10_000;
const FIRST: u32 = 101;
/// Requests in flight at once.
const CONCURRENCY: usize = 64;
/// The whole run must finish within this.
const DEADLINE: Duration = Duration::from_secs(240);

/// What one agent saw, in order.
const EXPECTED: [&str; 4] = [
    "AgentOther_InService",
    "AgentState_Ready",
    "AgentState_SetRest_Success",
    "AgentState_CancelRest_Success",
];

/// Polls until `wanted` arrives (at most 10 polls), following Guid rotation; returns the
/// event types received and the Guid to use next.
async fn poll_until(
    gw: &Gw,
    agent: u32,
    mut guid: String,
    wanted: &str,
) -> Result<(Vec<String>, String), String> {
    let mut got = Vec::new();
    for _ in 0..10 {
        let (body, rotated) = gw.poll(agent, &guid).await;
        if let Some(new) = rotated {
            guid = new;
        }
        if retcode(&body) != "0" {
            return Err(format!("agent {agent}: poll answered {body}"));
        }
        if let Some(t) = body["event"]["eventType"].as_str() {
            got.push(t.to_owned());
            if t == wanted {
                return Ok((got, guid));
            }
        }
    }
    Err(format!(
        "agent {agent}: {wanted} never arrived (got {got:?})"
    ))
}

async fn one_agent(gw: Arc<Gw>, agent: u32) -> Result<(), String> {
    let guid = gw.login(agent).await;
    let body = gw.rest(agent, &guid, 600, 3, Some(false)).await;
    if retcode(&body) != "0" {
        return Err(format!("agent {agent}: rest answered {body}"));
    }
    let (mut events, guid) = poll_until(&gw, agent, guid, "AgentState_SetRest_Success").await?;
    let body = gw
        .post(&format!("/onlineagent/{agent}/cancelrest"), Some(&guid))
        .await;
    if retcode(&body) != "0" {
        return Err(format!("agent {agent}: cancel answered {body}"));
    }
    let (more, _) = poll_until(&gw, agent, guid, "AgentState_CancelRest_Success").await?;
    events.extend(more);
    if events != EXPECTED {
        return Err(format!("agent {agent}: events {events:?}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_agents_rest_and_cancel_concurrently() {
    let config = Config {
        agents: (FIRST..FIRST + AGENTS).map(AgentConfig::numbered).collect(),
        transport: Transport::Http,
        poll_hold: Duration::from_secs(5),
        ..Config::default()
    };
    let gw = Arc::new(Gw::start(config, Clock::system()).await);
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for agent in FIRST..FIRST + AGENTS {
        let (gw, permits) = (Arc::clone(&gw), Arc::clone(&permits));
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            one_agent(gw, agent).await
        });
    }
    let mut failures = Vec::new();
    let outcome = tokio::time::timeout(DEADLINE, async {
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(e.to_string()),
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "not finished within {DEADLINE:?}");
    assert!(
        failures.is_empty(),
        "{} agents failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    let s = gw.handle().stats();
    let n = u64::from(AGENTS);
    assert_eq!(s.logins, n);
    assert_eq!(
        (s.rest_entered, s.rest_cancelled, s.rest_prolonged),
        (n, n, 0)
    );
    assert_eq!(
        s.events_emitted,
        4 * n,
        "InService, Ready, SetRest, CancelRest per agent"
    );
    assert_eq!(
        s.events_delivered, s.events_emitted,
        "every event delivered, none twice"
    );
    assert_eq!(s.events_discarded, 0);
    for agent in [FIRST, FIRST + AGENTS / 2, FIRST + AGENTS - 1] {
        assert_eq!(
            gw.handle().agent_state(agent),
            Some(4),
            "agent {agent} idle again"
        );
    }
    // A duplicate would show as an extra event; there is none left to poll.
    let guid = gw.handle().current_guid(FIRST).expect("signed in");
    let (_, _, body) = gw
        .send("GET", &format!("/agentevent/{FIRST}"), Some(&guid), None)
        .await;
    assert_eq!(
        body,
        json!({"message": "success", "retcode": "0", "event": null})
    );
    eprintln!(
        "{AGENTS} agents, {} requests in {:.1?} ({:.0} requests/s)",
        s.requests,
        started.elapsed(),
        s.requests as f64 / started.elapsed().as_secs_f64()
    );
}
