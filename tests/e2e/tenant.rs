//! The gateway as the vendor's current pages describe it, configured each documented way,
//! over real HTTPS against the simulator: agent IDs up to 999999, a tenant that ends rest
//! when its time is up, a sign-out event that never comes, a platform that forbids forced
//! sign-in (`100-015`) and a locked account (`110-016`). Each ends in the documented
//! outcome, and nothing hangs.

use crate::common;

use std::time::Duration;

use ccgw::{
    AgentEvent, AgentId, AgentState, Confirmed, Converged, Disposition, Error, EventStream,
    RestCause, RetCode, SessionEvent, SignIn, SupervisedAgent,
};
use ccgw_sim::{AgentConfig, AuthMode, Clock, Config, Simulator};
use common::{client_for, client_with, secs, wait_until};

const WAIT: Duration = Duration::from_secs(10);

fn id(n: u32) -> AgentId {
    AgentId::new(n).expect("in range")
}

fn sign_in(n: u32) -> SignIn {
    SignIn::new(format!("pw{n}"), format!("40{n}"))
}

/// A simulator whose clock only moves when the test moves it, with static Guids and a
/// long inactivity limit, so that moving the clock past a rest's end changes nothing else.
fn still_sim(configure: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config {
        poll_hold: Duration::from_millis(200),
        auth_mode: AuthMode::Static,
        inactivity: Duration::from_secs(24 * 3600),
        ..Config::default()
    };
    configure(&mut config);
    config
}

/// Agent 101 signed in on `sim` through a default client.
async fn signed_in_on(sim: &Simulator) -> ccgw::Agent {
    client_for(sim)
        .sign_in(id(101), &sign_in(101))
        .await
        .expect("signed in")
}

/// The next event of `events` within `WAIT`, skipping none.
async fn next_event(events: &mut EventStream) -> Option<Result<AgentEvent, Error>> {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("the stream moves within the wait")
}

/// Reads events until one of type `name` (by the gateway's name), within `WAIT`.
async fn until_event(events: &mut EventStream, name: &str) {
    loop {
        match next_event(events).await {
            Some(Ok(event)) if event.event_type() == name => return,
            Some(Ok(_)) => {}
            other => panic!("the stream ended before {name}: {other:?}"),
        }
    }
}

/// The next supervision item that is not a gateway event, within `WAIT`.
async fn next_supervision_item(session: &mut SupervisedAgent) -> SessionEvent {
    loop {
        let item = tokio::time::timeout(WAIT, session.next())
            .await
            .expect("an item in time")
            .expect("the session is supervised");
        if !matches!(item, SessionEvent::Event(_)) {
            return item;
        }
    }
}

/// Agent `n` supervised with the defaults, once its first sign-in is reported.
async fn supervised_and_signed_in(sim: &Simulator, n: u32) -> SupervisedAgent {
    let mut session = SupervisedAgent::start(&client_for(sim), id(n), sign_in(n));
    assert!(matches!(
        next_supervision_item(&mut session).await,
        SessionEvent::SignedIn { .. }
    ));
    session
}

/// The supervision's next item is `GaveUp` with the return code `code`.
async fn assert_gave_up_with(session: &mut SupervisedAgent, code: &RetCode) {
    match next_supervision_item(session).await {
        SessionEvent::GaveUp(e) => assert_eq!(gateway_code(&e), Some(code), "{e}"),
        other => panic!("expected GaveUp with {code}, got {other:?}"),
    }
}

fn gateway_code(e: &Error) -> Option<&RetCode> {
    match e {
        Error::Gateway { code, .. } => Some(code),
        _ => None,
    }
}

/// Agent IDs of the vendor's current range (101..=999999) work from end to end: the
/// simulator serves 70000 and 999999, and a confirmed rest reaches the gateway for each.
#[tokio::test(flavor = "multi_thread")]
async fn agent_ids_up_to_999999_work_end_to_end() {
    let sim = Simulator::start(Config {
        agents: vec![
            AgentConfig::numbered(70_000),
            AgentConfig::numbered(999_999),
        ],
        poll_hold: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .expect("sim");
    let client = client_for(&sim);
    for n in [70_000, 999_999] {
        let agent = client.sign_in(id(n), &sign_in(n)).await.expect("signed in");
        let by = agent
            .rest(secs(600), RestCause::from(3u8))
            .confirmed(WAIT)
            .await
            .expect("rest confirmed");
        assert_eq!(by, Confirmed::ByEvent, "agent {n}");
        assert_eq!(sim.handle().agent_state(n), Some(8), "agent {n} in rest");
        agent.sign_out().await.expect("signed out");
    }
    sim.shutdown().await;
}

/// With "Forcibly End Agent Rest After Timeout" on, the platform ends rest when its time
/// is up: the stream shows `AgentState_Rest_Timeout`, then `AgentState_Ready` (the spec's
/// *Choice*), the state reads idle, `ensure_idle` has nothing to do and `ensure_rest`
/// starts a new rest. With the setting off (the default) the same moment leaves the agent
/// in rest — the setting is what makes the difference.
#[tokio::test(flavor = "multi_thread")]
async fn the_platform_ending_rest_at_its_timeout() {
    for ends in [true, false] {
        let sim = Simulator::start_with_clock(
            still_sim(|c| c.end_rest_at_timeout = ends),
            Clock::manual(),
        )
        .await
        .expect("sim");
        let handle = sim.handle();
        let agent = signed_in_on(&sim).await;
        let mut events = agent.events();
        let by = agent
            .rest(secs(600), RestCause::from(3u8))
            .confirmed(WAIT)
            .await
            .expect("rest confirmed");
        assert_eq!(by, Confirmed::ByEvent);
        until_event(&mut events, "AgentState_SetRest_Success").await;

        handle.advance(Duration::from_secs(601));
        until_event(&mut events, "AgentState_Rest_Timeout").await;
        let state = agent.status().await.expect("state").state;
        if ends {
            until_event(&mut events, "AgentState_Ready").await;
            assert_eq!(state, AgentState::Idle, "the platform ended rest");
            assert_eq!(handle.stats().rest_ended_by_platform, 1);
            assert_eq!(
                agent.cancel_rest().ensured(WAIT).await.expect("idle"),
                Converged::AlreadyThere
            );
            assert_eq!(
                agent
                    .rest(secs(600), RestCause::from(3u8))
                    .ensured(WAIT)
                    .await
                    .expect("rest again"),
                Converged::Applied(Confirmed::ByEvent)
            );
        } else {
            assert_eq!(state, AgentState::Rest, "the agent stays in rest");
            assert_eq!(handle.stats().rest_ended_by_platform, 0);
            assert_eq!(
                agent
                    .rest(secs(600), RestCause::from(3u8))
                    .ensured(WAIT)
                    .await
                    .expect("in rest"),
                Converged::AlreadyThere
            );
        }
        sim.shutdown().await;
    }
}

/// A supervised session sees the platform end rest as plain events: it is not a lost
/// session, and the session's handle reads the agent idle afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn a_supervised_session_follows_the_platform_ending_rest() {
    let sim =
        Simulator::start_with_clock(still_sim(|c| c.end_rest_at_timeout = true), Clock::manual())
            .await
            .expect("sim");
    let handle = sim.handle();
    let mut session = supervised_and_signed_in(&sim, 101).await;
    let agent = session.agent().expect("signed in");
    agent
        .rest(secs(60), RestCause::from(3u8))
        .confirmed(WAIT)
        .await
        .expect("rest confirmed");
    handle.advance(Duration::from_secs(61));
    // The sign-in's events, the rest's, then the end of rest: all plain events.
    let mut seen = Vec::new();
    while seen[seen.len().saturating_sub(2)..] != ["AgentState_Rest_Timeout", "AgentState_Ready"] {
        let item = tokio::time::timeout(WAIT, session.next())
            .await
            .expect("an item in time")
            .expect("supervised");
        match item {
            SessionEvent::Event(event) => seen.push(event.event_type().to_owned()),
            other => panic!("the end of rest is not a session change: {other:?} after {seen:?}"),
        }
    }
    assert!(
        seen.iter().any(|t| t == "AgentState_SetRest_Success"),
        "{seen:?}"
    );
    assert_eq!(agent.status().await.expect("state").state, AgentState::Idle);
    session.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// The sign-out event "will not always be received": whether the gateway delivers
/// `AgentOther_ShutdownService` or not, `sign_out` returns at once with `Ok`, the event
/// stream ends as signed out, and a supervised session's `sign_out` does not wait for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_sign_out_event_is_not_waited_for() {
    for delivered in [true, false] {
        // The gateway's 10 s hold: the poll held at the sign-out is still held when it
        // comes, so the event (when delivered) goes to it.
        let sim = Simulator::start(still_sim(|c| {
            c.sign_out_event = delivered;
            c.poll_hold = Duration::from_secs(10);
        }))
        .await
        .expect("sim");
        let handle = sim.handle();
        let agent = signed_in_on(&sim).await;
        let mut events = agent.events();
        until_event(&mut events, "AgentState_Ready").await;
        wait_until("a poll held at the gateway", || {
            handle.stats().polls_holding >= 1
        })
        .await;
        tokio::time::timeout(WAIT, agent.sign_out())
            .await
            .expect("sign-out does not wait for its event")
            .expect("signed out");
        let mut shutdown_seen = false;
        loop {
            match next_event(&mut events).await {
                Some(Ok(event)) if event.event_type() == "AgentOther_ShutdownService" => {
                    shutdown_seen = true;
                }
                Some(Ok(other)) => panic!("unexpected event {other:?}"),
                Some(Err(e)) => {
                    assert_eq!(e.disposition(), Disposition::SignInAgain, "{e}");
                    break;
                }
                None => break,
            }
        }
        assert_eq!(shutdown_seen, delivered, "delivered: {delivered}");
        assert_eq!(handle.agent_state(101), None, "signed out");

        let session = supervised_and_signed_in(&sim, 102).await;
        tokio::time::timeout(WAIT, session.sign_out())
            .await
            .expect("a supervised sign-out does not wait for the event")
            .expect("signed out");
        assert_eq!(handle.agent_state(102), None, "signed out");
        sim.shutdown().await;
    }
}

/// A platform whose forced sign-in switch is off answers `100-015`: a sign-in that may
/// take over gets it from the one request it sends (no `forceLogin` loop), a supervised
/// session gives up at once, and the holder's session
/// stays usable. With the switch on, the same sign-in takes the session over.
#[tokio::test(flavor = "multi_thread")]
async fn a_takeover_the_platform_forbids_ends_at_once() {
    for allowed in [false, true] {
        let sim = Simulator::start(still_sim(|c| c.forced_sign_in = allowed))
            .await
            .expect("sim");
        let handle = sim.handle();
        let holder = signed_in_on(&sim).await;
        let other = client_for(&sim);
        let requests = handle.stats().requests;
        let taking_over = other.sign_in(id(101), &sign_in(101).take_over(true)).await;
        if allowed {
            taking_over.expect("taken over");
            assert_eq!(handle.stats().takeovers, 1);
            sim.shutdown().await;
            continue;
        }
        let e = taking_over.expect_err("not allowed");
        assert_eq!(gateway_code(&e), Some(&RetCode::CannotForceSignIn), "{e}");
        assert_eq!(e.disposition(), Disposition::DoNotResend);
        assert_eq!(
            handle.stats().requests,
            requests + 1,
            "one request, no loop"
        );
        let other = client_with(&sim, |c| {
            c.backoff_min = Duration::from_millis(50);
            c.backoff_max = Duration::from_millis(100);
        });
        let mut session = SupervisedAgent::start(&other, id(101), sign_in(101));
        assert_gave_up_with(&mut session, &RetCode::CannotForceSignIn).await;
        assert_eq!(handle.stats().takeovers, 0);
        assert_eq!(
            holder.status().await.expect("still usable").state,
            AgentState::Idle
        );
        sim.shutdown().await;
    }
}

/// A locked account (`110-016`) is a configuration problem: the sign-in fails with the
/// code and its advice, and a supervised session gives up after that one refusal instead
/// of trying again. Another agent of the same gateway signs in as usual.
#[tokio::test(flavor = "multi_thread")]
async fn a_locked_account_is_not_retried() {
    let sim = Simulator::start(still_sim(|c| c.locked = vec![102]))
        .await
        .expect("sim");
    let handle = sim.handle();
    let client = client_for(&sim);
    let e = client
        .sign_in(id(102), &sign_in(102))
        .await
        .expect_err("locked");
    assert_eq!(gateway_code(&e), Some(&RetCode::AccountLocked), "{e}");
    assert_eq!(e.disposition(), Disposition::FixConfiguration);
    assert!(e.to_string().contains("110-016"), "{e}");

    let client = client_with(&sim, |c| {
        c.backoff_min = Duration::from_millis(50);
        c.backoff_max = Duration::from_millis(100);
    });
    let mut session = SupervisedAgent::start(&client, id(102), sign_in(102));
    assert_gave_up_with(&mut session, &RetCode::AccountLocked).await;
    assert!(session.next().await.is_none(), "the supervision stopped");
    assert_eq!(
        handle.stats().locked_refusals,
        2,
        "one refusal each, no retry"
    );
    client
        .sign_in(id(101), &sign_in(101))
        .await
        .expect("another agent signs in");
    sim.shutdown().await;
}

/// A gateway whose Guid grace (GUIDTIMEOUT) is 15 s, rotating every second: a client
/// configured with that grace (a `Config` literal with the CA in memory) builds, keeps its event stream through three poll answers
/// lost in a row (its pauses stay within the grace, and it asks for the current Guid),
/// and confirms a rest after many rotations.
#[tokio::test(flavor = "multi_thread")]
async fn a_15_s_guid_grace_configures_and_works() {
    let sim = Simulator::start(Config {
        auth_mode: AuthMode::Dynamic {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(15),
        },
        poll_hold: Duration::from_secs(1),
        ..Config::default()
    })
    .await
    .expect("sim");
    let handle = sim.handle();
    // The configuration as a literal, its CA in memory: what a service that gets its
    // settings from elsewhere than a file writes.
    let config = ccgw::Config {
        url: Some(sim.base_url().to_owned()),
        ca_pem: Some(sim.ca_pem().expect("CA").to_owned()),
        system_roots: false,
        poll_hold: Duration::from_secs(1),
        poll_timeout: Duration::from_secs(5),
        guid_grace: Duration::from_secs(15),
        ..ccgw::Config::default()
    };
    let client = config.build_client().expect("a 15 s grace builds");
    let agent = client
        .sign_in(id(101), &sign_in(101))
        .await
        .expect("signed in");
    let mut events = agent.events();
    until_event(&mut events, "AgentState_Ready").await;
    for _ in 0..3 {
        handle.lose_next_answer("/agentevent/");
    }
    // Each lost answer is reported as a gap once the stream has the current Guid again.
    let mut gaps = 0;
    while gaps < 3 {
        match next_event(&mut events).await {
            // The state read after each loss: the agent is idle.
            Some(Ok(AgentEvent::Gap { state })) => {
                assert_eq!(
                    state,
                    Some(AgentState::Idle),
                    "the state read after the loss"
                );
                gaps += 1;
            }
            Some(Ok(_)) => {}
            other => panic!("the stream ended after {gaps} gaps: {other:?}"),
        }
    }
    assert_eq!(handle.stats().faults_dropped_after, 3);
    // Confirmed by the state if the stream is still pausing; the stream brings the
    // event all the same.
    agent
        .rest(secs(600), RestCause::from(3u8))
        .confirmed(WAIT)
        .await
        .expect("rest confirmed");
    until_event(&mut events, "AgentState_SetRest_Success").await;
    common::wait_until_polling(&handle).await;
    assert!(
        handle.stats().guid_rotations >= 3,
        "{} rotations",
        handle.stats().guid_rotations
    );
    sim.shutdown().await;
}
