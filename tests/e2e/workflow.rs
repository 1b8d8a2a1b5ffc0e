//! The rest workflow through `ccgw` against `ccgw-sim` over HTTPS on loopback: sign in,
//! confirmed rest, typed events, Guid rotation handled for the caller, the rest timeout
//! on the simulator's test clock, a forced sign-out ending the event stream.

use crate::common;

use common::{client_for, secs, wait_until};

use std::time::Duration;

use crate::common::needs_sign_in;
use ccgw::{AgentEvent, AgentId, AgentState, Error, EventStream, InitialState, RestCause, SignIn};
use ccgw_sim::{AuthMode, Clock, Config, Simulator};

const WAIT: Duration = Duration::from_secs(10);

fn sim_config(auth_mode: AuthMode) -> Config {
    Config {
        auth_mode,
        poll_hold: Duration::from_millis(200),
        ..Config::default()
    }
}

fn dynamic() -> AuthMode {
    AuthMode::Dynamic {
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(120),
    }
}

/// A simulator with dynamic authentication and agent 104 signed in on it.
async fn agent_104() -> (Simulator, ccgw::Agent) {
    let sim = Simulator::start(sim_config(dynamic())).await.expect("sim");
    let agent = client_for(&sim)
        .sign_in(
            AgentId::new(104).expect("id"),
            &SignIn::new("pw104", "40104"),
        )
        .await
        .expect("signed in");
    (sim, agent)
}

/// The next event that is not one of the sign-in events, within `WAIT`.
async fn next_rest_event(events: &mut EventStream) -> AgentEvent {
    loop {
        let item = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("an event in time")
            .expect("the stream is open");
        match item.expect("no error") {
            AgentEvent::Other { .. } | AgentEvent::Gap { .. } => {}
            event => return event,
        }
    }
}

async fn rest_cancel_rounds(auth_mode: AuthMode) {
    let sim = Simulator::start_with_clock(sim_config(auth_mode), Clock::manual())
        .await
        .expect("sim");
    let handle = sim.handle();
    let client = client_for(&sim);
    let agent = client
        .sign_in(
            AgentId::new(101).expect("id"),
            &SignIn::new("pw101", "40101"),
        )
        .await
        .expect("signed in");
    let mut events = agent.events();
    let rotating = matches!(auth_mode, AuthMode::Dynamic { .. });
    for round in 1..=4u64 {
        if round > 1 {
            handle.advance(Duration::from_secs(60));
            if rotating {
                // The next poll answer carries Set-GUID; the handle takes it.
                wait_until("the Guid rotation", || {
                    handle.stats().guid_rotations >= round - 1
                })
                .await;
            }
        }
        // A clone shares the session: whoever holds it uses the newest Guid.
        let clone = agent.clone();
        clone
            .rest(secs(600), RestCause::from(3))
            .confirmed(WAIT)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        assert_eq!(
            agent.status().await.expect("status").state,
            AgentState::Rest
        );
        agent
            .cancel_rest()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        // The stream saw both rest events of this round, in order.
        assert_eq!(
            next_rest_event(&mut events).await,
            AgentEvent::RestStarted { reason: "3".into() }
        );
        assert_eq!(
            next_rest_event(&mut events).await,
            AgentEvent::RestCancelled
        );
    }
    let stats = handle.stats();
    assert_eq!(stats.guid_rotations, if rotating { 3 } else { 0 });
    assert_eq!((stats.rest_entered, stats.rest_cancelled), (4, 4));
    let last_guid = handle.current_guid(101).expect("still signed in");
    agent.sign_out().await.expect("signed out");
    assert_eq!(handle.agent_state(101), None);
    common::assert_logs_clean_of(&last_guid);
    sim.shutdown().await;
}

#[tokio::test]
async fn dynamic_auth_rest_cancel_rest_across_three_guid_rotations() {
    rest_cancel_rounds(dynamic()).await;
}

/// A simulator in dynamic authentication on the test clock, with agent `id` signed in.
async fn signed_in_on_test_clock(id: u32) -> (Simulator, ccgw::Agent) {
    // Polls held 2 s: long enough to move the clock while one is held.
    let config = Config {
        poll_hold: Duration::from_secs(2),
        ..sim_config(dynamic())
    };
    let sim = Simulator::start_with_clock(config, Clock::manual())
        .await
        .expect("sim");
    let agent = client_for(&sim)
        .sign_in(
            AgentId::new(id).expect("id"),
            &SignIn::new(format!("pw{id}"), format!("40{id}")),
        )
        .await
        .expect("signed in");
    (sim, agent)
}

/// Loses the answer that carries a rotated Guid — the answer of the next request on
/// `path` (`/agentevent/`: a held poll, rotated by moving the clock while it is held;
/// `/handshake`: a heartbeat after the clock moved) — then waits for `agent` to hold the
/// current Guid again, and across one more rotation, which retires the missed Guid's
/// predecessor. Returns the Guid the agent started with.
async fn lose_a_rotation_then_recover(
    handle: &ccgw_sim::SimHandle,
    agent: &ccgw::Agent,
    path: &str,
) -> String {
    let id = agent.id().get();
    let client_guid = || agent.guid().map(|g| g.expose_secret().to_owned());
    let first = handle.current_guid(id).expect("signed in");
    let rotations = handle.stats().guid_rotations;
    let dropped = handle.stats().faults_dropped_after;
    let held = path.contains("agentevent");
    if held {
        // Nothing queued, so the next poll is held.
        wait_until("the queued events delivered", || {
            let stats = handle.stats();
            stats.events_delivered == stats.events_emitted
        })
        .await;
    } else {
        handle.advance(Duration::from_secs(61));
    }
    handle.lose_next_answer(path);
    wait_until("the request whose answer is lost", || {
        handle.stats().faults_dropped_after > dropped
    })
    .await;
    if held {
        handle.advance(Duration::from_secs(61));
    }
    wait_until("the Guid rotated on a lost answer", || {
        handle.stats().guid_rotations == rotations + 1
    })
    .await;
    assert_eq!(client_guid(), Some(first.clone()), "the client missed it");

    wait_until("the client asked for the current Guid", || {
        client_guid() == handle.current_guid(id)
    })
    .await;
    assert_ne!(client_guid(), Some(first.clone()));
    handle.advance(Duration::from_secs(61));
    wait_until("the next rotation taken", || {
        handle.stats().guid_rotations == rotations + 2 && client_guid() == handle.current_guid(id)
    })
    .await;
    first
}

/// A poll answer that carried the rotated Guid is lost in transit. Without help the
/// client keeps the previous Guid, which the gateway drops at the next rotation: the
/// session would be lost. The pump asks for the current Guid (`updateGuid`) instead.
#[tokio::test]
async fn a_rotated_guid_lost_with_its_poll_answer_is_asked_for_and_the_session_survives() {
    let (sim, agent) = signed_in_on_test_clock(101).await;
    let handle = sim.handle();
    let mut events = agent.events();
    let first = lose_a_rotation_then_recover(&handle, &agent, "/agentevent/").await;
    agent
        .rest(secs(600), RestCause::from(2))
        .confirmed(WAIT)
        .await
        .expect("rest with the current Guid");
    assert_eq!(
        next_rest_event(&mut events).await,
        AgentEvent::RestStarted { reason: "2".into() }
    );
    let last = handle.current_guid(101).expect("still signed in");
    agent.sign_out().await.expect("signed out");
    for guid in [&first, &last] {
        common::assert_logs_clean_of(guid);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn static_auth_rest_cancel_rest() {
    rest_cancel_rounds(AuthMode::Static).await;
}

#[tokio::test]
async fn a_guid_that_expired_unpolled_needs_a_new_sign_in() {
    let sim = Simulator::start_with_clock(sim_config(dynamic()), Clock::manual())
        .await
        .expect("sim");
    let client = client_for(&sim);
    let agent = client
        .sign_in(
            AgentId::new(102).expect("id"),
            &SignIn::new("pw102", "40102"),
        )
        .await
        .expect("signed in");
    sim.handle().advance(Duration::from_secs(121)); // nobody polled: the session is gone
    let err = agent
        .rest(secs(600), RestCause::NONE)
        .await
        .expect_err("session gone");
    assert!(needs_sign_in(&err), "{err:?}");
    assert_eq!(err.retcode(), Some(&ccgw::RetCode::NotSignedIn));
    // Signing in again gives a working handle.
    let agent = client
        .sign_in(
            AgentId::new(102).expect("id"),
            &SignIn::new("pw102", "40102"),
        )
        .await
        .expect("signed in");
    agent.rest(secs(600), RestCause::NONE).await.expect("rest");
}

#[tokio::test]
async fn rest_timeout_arrives_after_the_requested_time_on_the_test_clock() {
    let config = Config {
        inactivity: Duration::from_secs(3600),
        ..sim_config(AuthMode::Static)
    };
    let sim = Simulator::start_with_clock(config, Clock::manual())
        .await
        .expect("sim");
    let client = client_for(&sim);
    let agent = client
        .sign_in(
            AgentId::new(103).expect("id"),
            &SignIn::new("pw103", "40103").initial_state(InitialState::Busy),
        )
        .await
        .expect("signed in");
    let mut events = agent.events();
    agent
        .rest(secs(600), RestCause::from(5))
        .confirmed(WAIT)
        .await
        .expect("confirmed");
    assert_eq!(
        next_rest_event(&mut events).await,
        AgentEvent::RestStarted { reason: "5".into() }
    );

    sim.handle().advance(Duration::from_secs(599));
    let early = tokio::time::timeout(Duration::from_millis(800), events.next()).await;
    assert!(early.is_err(), "nothing before the time is up: {early:?}");
    sim.handle().advance(Duration::from_secs(1));
    assert_eq!(next_rest_event(&mut events).await, AgentEvent::RestTimeout);
    assert_eq!(
        agent.status().await.expect("status").state,
        AgentState::Rest,
        "still resting"
    );
}

/// Polling lasts as long as someone listens: dropping the last stream stops it.
#[tokio::test]
async fn dropping_the_last_stream_stops_the_polling() {
    let (sim, agent) = agent_104().await;
    let events = agent.events();
    let other = agent.events();
    assert_eq!(format!("{events:?}"), "EventStream { ended: false }");
    let handle = sim.handle();
    common::wait_until_polling(&handle).await;
    drop(events);
    // Polls go on after the first stream is gone: the other one still listens.
    let polled = handle.stats().requests;
    wait_until("more polls", || handle.stats().requests >= polled + 3).await;
    drop(other);
    common::assert_polling_stopped(&handle, Duration::from_millis(200)).await;
    agent.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_forced_sign_out_ends_the_stream_with_the_typed_error_and_polling_stops() {
    let (sim, agent) = agent_104().await;
    let mut events = agent.events();
    let first = tokio::time::timeout(WAIT, events.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("event");
    assert_eq!(first.event_type(), "AgentOther_InService");
    common::wait_until_polling(&sim.handle()).await;

    assert!(sim.handle().force_sign_out(104));
    let end = loop {
        match tokio::time::timeout(WAIT, events.next())
            .await
            .expect("in time")
        {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e,
            None => panic!("the stream ended without the typed error"),
        }
    };
    // Opened the moment the end is read: a new pump, which finds the session gone too
    // (not a silent stream joined to the pump that just ended).
    let mut at_once = agent.events();
    let at_once_end = tokio::time::timeout(WAIT, at_once.next())
        .await
        .expect("in time")
        .expect("an item")
        .expect_err("ended");
    assert!(needs_sign_in(&at_once_end), "{at_once_end:?}");
    assert!(
        matches!(
            &end,
            Error::Gateway {
                code: ccgw::RetCode::NotSignedIn,
                ..
            }
        ),
        "{end:?}"
    );
    assert!(needs_sign_in(&end));
    assert!(events.next().await.is_none(), "the stream has ended");

    // No further requests: the pump's task has ended.
    common::assert_polling_stopped(&sim.handle(), Duration::from_millis(200)).await;
    // A new stream on the ended session ends the same way, at once.
    let mut again = agent.events();
    let err = tokio::time::timeout(WAIT, again.next())
        .await
        .expect("in time")
        .expect("an item")
        .expect_err("ended");
    assert!(needs_sign_in(&err), "{err:?}");
}

#[tokio::test]
async fn sign_in_refusals_are_typed() {
    let sim = Simulator::start(sim_config(dynamic())).await.expect("sim");
    let client = client_for(&sim);
    let id = AgentId::new(105).expect("id");
    let err = client
        .sign_in(id, &SignIn::new("wrong", "40038"))
        .await
        .expect_err("wrong password");
    assert_eq!(err.retcode(), Some(&ccgw::RetCode::WrongCredentials));
    let err = client
        .sign_in(id, &SignIn::new("x".repeat(33), "40038"))
        .await
        .expect_err("too long");
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("xxxx"),
        "the password is not shown: {err}"
    );
    client
        .sign_in(id, &SignIn::new("pw105", "40105"))
        .await
        .expect("signed in");
    let err = client
        .sign_in(id, &SignIn::new("pw105", "40105"))
        .await
        .expect_err("twice");
    assert_eq!(err.retcode(), Some(&ccgw::RetCode::AlreadySignedIn));
}

#[tokio::test]
async fn a_heartbeat_keeps_an_unpolled_session_alive_and_takes_rotated_guids() {
    let (sim, agent) = signed_in_on_test_clock(106).await;
    for _ in 0..4 {
        sim.handle().advance(Duration::from_secs(60));
        agent.heartbeat().await.expect("heartbeat");
    }
    assert_eq!(sim.handle().stats().guid_rotations, 4);
    agent
        .rest(secs(60), RestCause::NONE)
        .await
        .expect("rest with the newest Guid");
}

/// A reader that falls more than the stream's buffer (32 events) behind is told how many
/// it missed, then reads on.
#[tokio::test]
async fn a_stream_read_too_late_reports_the_events_it_missed() {
    let (sim, agent) = agent_104().await;
    let mut events = agent.events();
    // Each rest and each cancel queues one event: a few more than the buffer holds.
    for _ in 0..32 / 2 + 2 {
        agent
            .rest(secs(600), RestCause::from(3))
            .await
            .expect("rest");
        agent.cancel_rest().await.expect("cancel");
    }
    let h = sim.handle();
    common::wait_until_within(Duration::from_secs(60), "every event polled", || {
        let s = h.stats();
        s.events_delivered == s.events_emitted
    })
    .await;
    let first = tokio::time::timeout(WAIT, events.next())
        .await
        .expect("in time")
        .expect("an item");
    assert!(
        matches!(first, Err(Error::EventsLost { count }) if count > 0),
        "{first:?}"
    );
    let next = tokio::time::timeout(WAIT, events.next())
        .await
        .expect("in time")
        .expect("an item")
        .expect("events again after the loss");
    assert!(!next.event_type().is_empty());
}
