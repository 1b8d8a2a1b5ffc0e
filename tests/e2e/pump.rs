//! The event pump's cadence under failure, over HTTPS against the simulator: it backs
//! off, doubling its pause, while every poll fails (refused, answered with an error
//! page, or lost with its connection) — never a busy loop; it tolerates a `000-003`
//! while a Guid rotates; and it stops when the supervision that owns it is dropped.

use crate::common;

use std::time::{Duration, Instant};

use ccgw::{AgentEvent, AgentId, SessionEvent, SignIn, SupervisedAgent};
use ccgw_sim::{Faults, Stats, operation};
use common::{client_for, secs, signed_in_101, wait_until, wait_until_within};

const WAIT: Duration = Duration::from_secs(10);

/// Every poll meets `faults` once the sign-in events are read: the fourth failure comes
/// no sooner than the pauses of 0.5, 1 and 2 s after the first, with no other request
/// in between.
async fn backs_off(faults: Faults, failures: fn(&Stats) -> u64) {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let _events = agent.events();
    common::wait_until_events_read(&handle).await;
    handle.set_faults(faults);
    let before = failures(&handle.stats());
    let started = Instant::now();
    wait_until_within(Duration::from_secs(20), "four failed polls", || {
        failures(&handle.stats()) >= before + 4
    })
    .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(3500),
        "four failures in {took:?}: the pump does not back off"
    );
    handle.set_faults(Faults::default());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pump_backs_off_while_its_polls_are_refused() {
    backs_off(
        Faults {
            repeated_call: 1.0,
            ..Faults::default()
        },
        |s| s.faults_repeated_call,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pump_backs_off_while_its_polls_meet_an_error_page() {
    backs_off(
        Faults {
            server_error: 1.0,
            ..Faults::default()
        },
        |s| s.faults_server_error,
    )
    .await;
}

/// A poll whose connection is closed may have carried an event or a rotated Guid: the
/// pump asks for the current Guid before it polls again, and backs off while that fails.
#[tokio::test(flavor = "multi_thread")]
async fn the_pump_backs_off_while_its_connections_are_dropped() {
    backs_off(
        Faults {
            drop_before: 1.0,
            ..Faults::default()
        },
        |s| s.faults_dropped_before,
    )
    .await;
}

/// A poll refused `000-003` (no permission: the Guid rotating under it) is tolerated:
/// the stream goes on and brings the next event.
#[tokio::test(flavor = "multi_thread")]
async fn a_poll_refused_while_the_guid_rotates_does_not_end_the_stream() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.inject(operation::GET_AGENT_EVENT, "000-003");
    let mut events = agent.events();
    wait_until("the refused poll", || {
        !handle.injected_pending(operation::GET_AGENT_EVENT)
    })
    .await;
    agent
        .rest(secs(600), ccgw::RestCause::from(3u8))
        .await
        .expect("rest accepted");
    loop {
        let item = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("the stream moves");
        match item {
            Some(Ok(AgentEvent::RestStarted { .. })) => break,
            Some(Ok(_)) => {}
            other => panic!("the stream ended at a tolerated refusal: {other:?}"),
        }
    }
    sim.shutdown().await;
}

/// Dropping a supervised agent stops its session's event pump: nothing keeps polling
/// in the background.
#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_supervised_agent_stops_its_pump() {
    let (sim, first) = signed_in_101().await;
    first.sign_out().await.expect("signed out");
    let session = common::supervised_101(&sim, |_| {}).await;
    let handle = sim.handle();
    common::wait_until_polling(&handle).await;
    drop(session);
    common::assert_polling_stopped(&handle, Duration::from_millis(200)).await;
    sim.shutdown().await;
}

/// A gateway that pushes events instead of letting them be polled (`000-001` to a
/// poll) is a setting to fix, not a lost session: the supervision gives up with that
/// refusal instead of signing in again or polling on.
#[tokio::test(flavor = "multi_thread")]
async fn a_supervision_whose_polls_are_refused_for_good_gives_up() {
    let (sim, first) = signed_in_101().await;
    first.sign_out().await.expect("signed out");
    let handle = sim.handle();
    handle.inject(operation::GET_AGENT_EVENT, "000-001");
    let logins = handle.stats().logins;
    let mut session = SupervisedAgent::start(
        &client_for(&sim),
        AgentId::new(101).expect("in range"),
        SignIn::new("pw101", "40101"),
    );
    loop {
        let item = tokio::time::timeout(WAIT, session.next())
            .await
            .expect("in time");
        match item {
            Some(SessionEvent::SignedIn { .. } | SessionEvent::Event(_)) => {}
            Some(SessionEvent::GaveUp(e)) => {
                assert_eq!(e.disposition(), ccgw::Disposition::FixConfiguration, "{e}");
                break;
            }
            other => panic!("expected it to give up, got {other:?}"),
        }
    }
    assert_eq!(handle.stats().logins, logins + 1, "not signed in again");
    sim.shutdown().await;
}
