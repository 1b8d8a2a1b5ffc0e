//! The transport's bound on connections: 10,000 agents signing in at the same moment
//! (no throttle of the caller's) share at most `max_connections` connections, and every
//! one of them gets through.

mod common;

use std::time::Duration;

use ccgw::{AgentId, SignIn};
use ccgw_sim::{AgentConfig, Config, Simulator};
use common::client_with;

const AGENTS: u32 = 10_000;
const FIRST: u32 = 101;
const BOUND: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_sign_ins_at_once_never_open_more_connections_than_the_bound() {
    let sim = Simulator::start(Config {
        agents: (FIRST..FIRST + AGENTS).map(AgentConfig::numbered).collect(),
        ..Config::default()
    })
    .await
    .expect("simulator starts");
    let client = client_with(&sim, |b| b.max_connections(BOUND));
    let sign_ins = (FIRST..FIRST + AGENTS).map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
            let id = AgentId::new(n).expect("in range");
            let agent = client.sign_in(id, &SignIn::new(format!("pw{n}"))).await?;
            agent.sign_out().await
        })
    });
    let outcomes = tokio::time::timeout(
        Duration::from_secs(300),
        futures_join_all(sign_ins.collect()),
    )
    .await
    .expect("10,000 sign-ins and sign-outs within 5 minutes");
    let failed: Vec<String> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    let stats = sim.handle().stats();
    assert_eq!(stats.logins, u64::from(AGENTS));
    assert!(
        stats.connections_peak <= BOUND as u64,
        "{} connections were open at once; the bound is {BOUND}",
        stats.connections_peak
    );
    assert!(stats.connections_accepted >= 1);
    sim.shutdown().await;
}

/// Awaits every task (in order).
async fn futures_join_all<T>(
    tasks: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await);
    }
    out
}
