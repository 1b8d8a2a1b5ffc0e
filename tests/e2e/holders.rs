//! Two holders of one agent, over HTTPS against the simulator: a supervised session that
//! another holder takes over reports it as such (`SessionEvent::TakenOver`) and stops, so
//! two supervisors do not take the agent from each other for ever; taking back is an
//! explicit, bounded policy (`Config::take_back`).

use crate::common;

use std::time::Duration;

use ccgw::{AgentId, SessionEvent, SignIn, SupervisedAgent};
use ccgw_sim::{Config, Simulator};
use common::client_with;

const WAIT: Duration = Duration::from_secs(15);

/// Agent 101 supervised, taking the session back at most `take_back` times.
fn supervise(sim: &Simulator, take_back: u32) -> SupervisedAgent {
    SupervisedAgent::start(
        &client_with(sim, |c| c.take_back = take_back),
        AgentId::new(101).expect("in range"),
        SignIn::new("pw101", "40101"),
    )
}

/// The next item that is not a gateway event, or `None` once the supervision stopped.
async fn next_change(session: &mut SupervisedAgent) -> Option<SessionEvent> {
    loop {
        match tokio::time::timeout(WAIT, session.next())
            .await
            .expect("an item in time")
        {
            Some(SessionEvent::Event(_)) => {}
            other => return other,
        }
    }
}

/// Whether the first sign-in took the session over.
async fn signed_in_by(session: &mut SupervisedAgent) -> bool {
    match next_change(session).await {
        Some(SessionEvent::SignedIn { took_over }) => took_over,
        other => panic!("expected the first sign-in, got {other:?}"),
    }
}

async fn taken_over_and_stopped(session: &mut SupervisedAgent) {
    match next_change(session).await {
        Some(SessionEvent::TakenOver(_)) => {}
        other => panic!("expected the loss to another holder, got {other:?}"),
    }
    assert!(
        next_change(session).await.is_none(),
        "the supervision stopped"
    );
    assert!(session.agent().is_none());
}

fn quick() -> Config {
    Config {
        poll_hold: Duration::from_millis(200),
        ..Config::default()
    }
}

/// By default: the second supervisor takes the agent over once, the first reports the
/// loss to another holder and stops; the second keeps the session.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_of_two_supervisors_reports_the_takeover_and_stops() {
    let sim = Simulator::start(quick()).await.expect("sim");
    let handle = sim.handle();
    let mut first = supervise(&sim, 0);
    assert!(!signed_in_by(&mut first).await);
    let mut second = supervise(&sim, 0);
    assert!(signed_in_by(&mut second).await);
    taken_over_and_stopped(&mut first).await;
    assert_eq!(handle.stats().takeovers, 1, "one takeover, none back");
    let agent = second.agent().expect("the second holds the session");
    agent.status().await.expect("its session works");
    second.sign_out().await.expect("signed out");
    assert_eq!(handle.agent_state(101), None);
    sim.shutdown().await;
}

/// With `take_back(1)` the first takes the session back once; the second (default) then
/// reports the loss and stops: two takeovers in all, and the first holds the session.
#[tokio::test(flavor = "multi_thread")]
async fn taking_back_is_bounded_by_the_policy() {
    let sim = Simulator::start(quick()).await.expect("sim");
    let handle = sim.handle();
    let mut first = supervise(&sim, 1);
    assert!(!signed_in_by(&mut first).await);
    let mut second = supervise(&sim, 0);
    assert!(signed_in_by(&mut second).await);
    match next_change(&mut first).await {
        Some(SessionEvent::TakenOver(_)) => {}
        other => panic!("expected the loss to another holder, got {other:?}"),
    }
    match next_change(&mut first).await {
        Some(SessionEvent::Recovered { took_over, .. }) => assert!(took_over),
        other => panic!("expected the session taken back, got {other:?}"),
    }
    taken_over_and_stopped(&mut second).await;
    assert_eq!(handle.stats().takeovers, 2);
    first.sign_out().await.expect("signed out");
    assert_eq!(handle.agent_state(101), None);
    sim.shutdown().await;
}
