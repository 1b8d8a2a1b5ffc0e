//! A sign-out that ends the session: `Agent::sign_out` and `SupervisedAgent::sign_out`
//! settle like the other state changes, over HTTPS against the simulator — a lost
//! answer is settled by the state, a request lost on its way and a passing refusal are
//! sent again, a session already gone counts as signed out, and a supervised sign-out
//! between a loss and its recovery leaves nothing signed in.

use crate::common;

use std::time::Duration;

use ccgw::{AgentId, Disposition, SessionEvent, SignIn};
use ccgw_sim::{Config, Simulator, operation};
use common::{client_for, signed_in_101};

const WAIT: Duration = Duration::from_secs(10);

fn id() -> AgentId {
    AgentId::new(101).expect("in range")
}

/// The gateway signed the agent out but the answer was lost: the state (`100-006`)
/// settles it, nothing is sent twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_out_whose_answer_is_lost_is_settled_by_the_state() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.lose_next_answer("/logout");
    agent.sign_out().await.expect("settled as signed out");
    assert_eq!(handle.agent_state(101), None, "signed out");
    assert_eq!(handle.stats().logouts, 1);
    assert_eq!(handle.stats().faults_dropped_after, 1);
    sim.shutdown().await;
}

/// The sign-out was lost before the gateway: the state shows the agent still signed in,
/// so it is sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_out_lost_on_its_way_is_sent_again() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.lose_next_request("/logout");
    agent.sign_out().await.expect("signed out");
    assert_eq!(handle.agent_state(101), None, "signed out");
    assert_eq!(handle.stats().faults_dropped_before, 1);
    assert_eq!(handle.stats().logouts, 1);
    sim.shutdown().await;
}

/// A passing refusal (`000-007`: called repeatedly) is tried again.
#[tokio::test(flavor = "multi_thread")]
async fn a_passing_refusal_is_tried_again() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.inject(operation::LOGOUT, "000-007");
    agent.sign_out().await.expect("signed out");
    assert_eq!(handle.agent_state(101), None, "signed out");
    sim.shutdown().await;
}

/// A session the gateway already ended (a supervisor's forced sign-out) is signed out:
/// `100-006` to the sign-out is its goal, not a failure. A Guid the gateway refuses
/// (`000-003`) is reported: this handle cannot tell whose the session is.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_already_gone_is_signed_out_and_a_refused_guid_is_reported() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    assert!(handle.force_sign_out(101));
    agent.sign_out().await.expect("already signed out");

    let other = client_for(&sim)
        .sign_in(id(), &SignIn::new("pw101", "40101"))
        .await
        .expect("signed in again");
    let stale = client_for(&sim).agent(
        id(),
        ccgw::Guid::new("STALE-GUID.AgentGateway0").expect("guid"),
        None,
    );
    let e = stale.sign_out().await.expect_err("not this session's Guid");
    assert_eq!(e.disposition(), Disposition::TakeOver, "{e}");
    assert_eq!(handle.agent_state(101), Some(4), "the session stays");
    other.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// Signed out between a loss and its recovery, while the recovery waits out a passing
/// refusal: the recovery stops and nothing is signed in — no sign-in was under way, so
/// none is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_supervised_sign_out_between_a_loss_and_its_recovery_leaves_nothing_signed_in() {
    // An agent no other test uses: the supervision's log lines for it are this test's.
    const ALONE: u32 = 4711;
    let sim = Simulator::start(Config {
        agents: vec![ccgw_sim::AgentConfig::numbered(ALONE)],
        ..common::quick_sim()
    })
    .await
    .expect("sim");
    let handle = sim.handle();
    let client = common::client_with(&sim, |c| {
        c.backoff_min = Duration::from_secs(60);
        c.backoff_max = Duration::from_secs(60);
    });
    let mut session = ccgw::SupervisedAgent::start(
        &client,
        AgentId::new(ALONE).expect("in range"),
        SignIn::new(format!("pw{ALONE}"), format!("40{ALONE}")),
    );
    let item = tokio::time::timeout(WAIT, session.next())
        .await
        .expect("in time");
    assert!(
        matches!(item, Some(SessionEvent::SignedIn { .. })),
        "{item:?}"
    );
    // The next sign-in meets a passing refusal, so the recovery waits a minute.
    handle.inject(operation::LOGIN, "000-004");
    let logins = handle.stats().logins;
    assert!(handle.force_sign_out(ALONE));
    let logouts = handle.stats().logouts;
    loop {
        let item = tokio::time::timeout(WAIT, session.next())
            .await
            .expect("in time");
        match item {
            Some(SessionEvent::Lost(_)) => break,
            Some(SessionEvent::Event(_)) => {}
            other => panic!("expected the loss, got {other:?}"),
        }
    }
    assert!(
        session.agent().is_none(),
        "between the loss and its recovery"
    );
    // The refusal has reached the supervision: it says so once it has taken it.
    let refused = |line: &str| {
        line.contains("sign-in failed; trying again") && line.contains(&format!("agent_id={ALONE}"))
    };
    common::wait_until("the recovery's sign-in refused", || {
        ccgw_testkit::logs::captured().lines().any(refused)
    })
    .await;
    tokio::time::timeout(WAIT, session.sign_out())
        .await
        .expect("in time")
        .expect("nothing to sign out");
    assert_eq!(handle.agent_state(ALONE), None, "nothing signed in");
    let stats = handle.stats();
    assert_eq!(
        (stats.logins, stats.logouts),
        (logins, logouts),
        "no sign-in, no sign-out sent"
    );
    sim.shutdown().await;
}

/// Signs every agent out at once; the errors of those that failed.
async fn sign_out_all(agents: Vec<ccgw::Agent>) -> Vec<String> {
    let outs: Vec<_> = agents
        .into_iter()
        .map(|agent| tokio::spawn(async move { agent.sign_out().await }))
        .collect();
    let mut failed = Vec::new();
    for out in outs {
        if let Err(e) = out.await.expect("no panic") {
            failed.push(e.to_string());
        }
    }
    failed
}

/// 200 agents signed out through `Agent::sign_out` alone while the gateway drops
/// connections before and after handling, stalls nothing but delays answers, answers
/// `000-004`, `000-007` and HTTP 500 pages, and a supervisor signs agents out by force
/// every 50 ms: every sign-out succeeds and no agent is left signed in.
#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_sign_outs_under_heavy_faults_leave_nothing_signed_in() {
    const AGENTS: u32 = 200;
    let sim = Simulator::start(Config {
        agents: (101..101 + AGENTS)
            .map(ccgw_sim::AgentConfig::numbered)
            .collect(),
        poll_hold: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .expect("sim");
    let handle = sim.handle();
    let client = common::client_with(&sim, |c| c.request_timeout = Duration::from_secs(5));
    let mut agents = Vec::new();
    for n in 101..101 + AGENTS {
        let id = AgentId::new(n).expect("in range");
        let agent = client
            .sign_in(id, &SignIn::new(format!("pw{n}"), format!("40{n}")))
            .await
            .expect("signed in");
        agents.push(agent);
    }
    handle.set_faults(ccgw_sim::Faults {
        seed: 7,
        drop_before: 0.05,
        drop_after: 0.05,
        delay: 0.05,
        delay_max: Duration::from_millis(400),
        switch_over: 0.05,
        repeated_call: 0.05,
        server_error: 0.05,
        ..ccgw_sim::Faults::default()
    });
    let chaos_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let chaos = {
        let (handle, stop) = (handle.clone(), std::sync::Arc::clone(&chaos_stop));
        tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(11);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                handle.force_sign_out(rng.u32(101..101 + AGENTS));
            }
        })
    };
    let failed = sign_out_all(agents).await;
    chaos_stop.store(true, std::sync::atomic::Ordering::SeqCst);
    chaos.await.expect("chaos ends");
    handle.set_faults(ccgw_sim::Faults::default());
    let stats = handle.stats();
    let left = (101..101 + AGENTS)
        .filter(|&n| handle.agent_state(n).is_some())
        .count();
    println!(
        "sign-outs under faults: {} failed, {left} left signed in; faults: {} dropped before, {} after, {} HTTP 500, {} 000-004, {} 000-007",
        failed.len(),
        stats.faults_dropped_before,
        stats.faults_dropped_after,
        stats.faults_server_error,
        stats.faults_switch_over,
        stats.faults_repeated_call
    );
    assert!(
        stats.faults_dropped_before > 0
            && stats.faults_dropped_after > 0
            && stats.faults_server_error > 0
            && stats.faults_switch_over > 0,
        "the faults happened: {stats:?}"
    );
    assert_eq!(left, 0, "agents left signed in");
    assert!(failed.is_empty(), "failed sign-outs: {failed:?}");
    sim.shutdown().await;
}
