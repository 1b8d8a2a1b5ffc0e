//! The library against the simulator's hostile mode: for every hostile answer it knows
//! (`ccgw_sim::Hostile::ALL`), agent 101 signs in on a two-node cluster (so a
//! load balancer's cookie is set), then reads its state, rests, cancels, waits for an
//! event, sends a heartbeat and signs out, each answered in that hostile way. Every
//! result's `Debug`, every error's `Display`, `Debug` and sources, every event and every
//! log line (at TRACE) is checked: no Guid of any node, no UUID, no cookie, no password.

use crate::common;

use std::time::Duration;

use ccgw::{AgentId, Error, RestCause, SignIn};
use ccgw_sim::{Config, Faults, Hostile, Simulator};
use ccgw_testkit::leaks::{assert_none_shown, error_text};
use ccgw_testkit::logs;
use common::secs;

/// The operations each hostile answer meets.
pub(crate) const OPERATIONS: usize = 6;

fn shown<T: std::fmt::Debug>(result: &Result<T, Error>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("{} | {}", error_text(e), e.chain()),
    }
}

/// One hostile answer met by every operation; what they showed, and the secrets.
async fn meet(case: Hostile) -> (String, Vec<String>) {
    let sim = Simulator::start(Config {
        nodes: 2,
        affinity_cookie: "lbnode".to_owned(),
        poll_hold: Duration::from_millis(200),
        faults: Faults {
            hostile: Some(case),
            ..Faults::default()
        },
        ..Config::default()
    })
    .await
    .expect("simulator");
    let handle = sim.handle();
    let client = common::client_for(&sim);
    let id = AgentId::new(101).expect("in range");
    let agent = client
        .sign_in(id, &SignIn::new("pw101", "40101"))
        .await
        .expect("sign-in is not hostile");
    let mut text = format!("{agent:?}\n");
    text += &shown(&agent.status().await);
    text += &shown(&agent.rest(secs(600), RestCause::from(3u8)).await);
    text += &shown(&agent.cancel_rest().await);
    let mut events = agent.events();
    if let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(1), events.next()).await {
        text += &shown(&item);
    }
    drop(events);
    text += &shown(&agent.heartbeat().await);
    // A sign-out whose every answer is hostile keeps trying for its own 30 s: two do.
    if let Ok(out) = tokio::time::timeout(Duration::from_secs(2), agent.sign_out()).await {
        text += &shown(&out);
    }
    let mut secrets = vec!["pw101".to_owned()];
    for cookie in (0..2).filter_map(|n| handle.affinity_cookie(n)) {
        secrets.extend(cookie.split_once('=').map(|(_, v)| v.to_owned()));
        secrets.push(cookie);
    }
    sim.shutdown().await;
    (text, secrets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hostile_answer_gets_a_secret_shown() {
    logs::capture();
    let met = futures_util::future::join_all(Hostile::ALL.map(meet)).await;
    let mut all_secrets = Vec::new();
    for (case, (text, secrets)) in Hostile::ALL.iter().zip(met) {
        assert_none_shown(case.name(), &text, &secrets);
        all_secrets.extend(secrets);
    }
    assert_none_shown("logs", &logs::captured(), &all_secrets);
    // What docs/reliability.md says is what runs.
    let page = include_str!("../../docs/reliability.md").replace('\n', " ");
    let answers = format!("{} hostile answers", Hostile::ALL.len());
    assert!(page.contains(&answers), "docs/reliability.md: {answers}?");
    assert_eq!(OPERATIONS, 6);
    assert!(page.contains("meets six library operations"));
}
