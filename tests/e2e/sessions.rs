//! The session contract under the settings integrators pick: the poll timeout applies
//! when the request timeout is shorter than the gateway's hold, forced sign-in takes a
//! session over, a supervised session recovers an orphaned one, confirmations accept only
//! their own outcome, a signed-out handle sends nothing, and no event stream hangs.

use crate::common;

use std::time::Duration;

use crate::common::needs_sign_in;
use ccgw::{
    AgentEvent, AgentState, Confirmed, Disposition, Error, RestCause, RetCode, SessionEvent,
    SignIn, SupervisedAgent,
};
use ccgw_client::operations;
use ccgw_sim::{AuthMode, Clock, Config, Faults, Simulator};
use common::{
    client_for, client_with, id, quick_sim, secs, signed_in_101, wait_until, wait_until_within,
};

const WAIT: Duration = Duration::from_secs(10);

/// The next item that is not a sign-in event, within `WAIT`.
async fn next_rest_item(session: &mut SupervisedAgent) -> SessionEvent {
    loop {
        let item = tokio::time::timeout(WAIT, session.next())
            .await
            .expect("an item in time")
            .expect("the session is supervised");
        match item {
            SessionEvent::Event(AgentEvent::Other { .. } | AgentEvent::Gap { .. }) => {}
            item => return item,
        }
    }
}

/// A request timeout of 5 s against the gateway's 10 s hold: the event poll runs under
/// the poll timeout (default 40 s), so an idle poll is answered, not lost. If the poll
/// timeout were not applied, the poll would fail after 5 s and the stream would report a
/// gap long before the hold ends.
#[tokio::test(flavor = "multi_thread")]
async fn the_poll_timeout_applies_when_the_request_timeout_is_shorter_than_the_hold() {
    let sim = Simulator::start(Config::default()).await.expect("sim");
    assert_eq!(sim.handle().config().poll_hold, Duration::from_secs(10));
    let client = client_with(&sim, |c| c.request_timeout = Duration::from_secs(5));
    let agent = client
        .sign_in(id(101), &SignIn::new("pw101", "40101"))
        .await
        .expect("signed in");
    let mut events = agent.events();
    let handle = sim.handle();
    wait_until_within(
        Duration::from_secs(20),
        "an idle poll answered after the whole hold",
        || handle.stats().polls_held_out >= 1,
    )
    .await;
    // The answer is on its way; the next poll starts once it arrived.
    let requests = handle.stats().requests;
    wait_until("the next poll", || handle.stats().requests > requests).await;
    while let Ok(item) = tokio::time::timeout(Duration::ZERO, events.next()).await {
        match item {
            Some(Ok(AgentEvent::Other { .. })) => {}
            other => panic!("only the sign-in events were expected, got {other:?}"),
        }
    }
    agent.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forced_sign_in_takes_the_session_over() {
    let sim = Simulator::start(quick_sim()).await.expect("sim");
    let client = client_for(&sim);
    let first = client
        .sign_in(id(101), &SignIn::new("pw101", "40101"))
        .await
        .expect("signed in");
    let mut first_events = first.events();

    let refused = client
        .sign_in(id(101), &SignIn::new("pw101", "40101"))
        .await
        .expect_err("already signed in");
    assert_eq!(refused.retcode(), Some(&RetCode::AlreadySignedIn));
    assert_eq!(refused.disposition(), Disposition::TakeOver);

    let second = client
        .sign_in(id(101), &SignIn::new("pw101", "40101").take_over(true))
        .await
        .expect("taken over");
    assert!(second.took_over());
    assert_eq!(sim.handle().stats().takeovers, 1);
    assert_eq!(
        second.status().await.expect("status").state,
        AgentState::Idle
    );

    // The previous Guid stops working at once, and its stream ends.
    let stale = first.status().await.expect_err("the old Guid is refused");
    assert_eq!(stale.retcode(), Some(&RetCode::NoPermission));
    assert_eq!(stale.disposition(), Disposition::TakeOver);
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match first_events.next().await {
                Some(Ok(_)) => {}
                other => return other,
            }
        }
    })
    .await
    .expect("the old stream ends");
    assert!(
        matches!(&end, Some(Err(e)) if e.retcode() == Some(&RetCode::NoPermission)),
        "{end:?}"
    );
    second.sign_out().await.expect("signed out");

    // A platform that does not allow it.
    let strict = Simulator::start(Config {
        forced_sign_in: false,
        ..quick_sim()
    })
    .await
    .expect("sim");
    let client = client_for(&strict);
    let _held = client
        .sign_in(id(102), &SignIn::new("pw102", "40102"))
        .await
        .expect("signed in");
    let refused = client
        .sign_in(id(102), &SignIn::new("pw102", "40102").take_over(true))
        .await
        .expect_err("100-015");
    assert_eq!(refused.retcode(), Some(&RetCode::CannotForceSignIn));
    assert_eq!(refused.disposition(), Disposition::DoNotResend);
    sim.shutdown().await;
    strict.shutdown().await;
}

/// A simulator rotating Guids every minute (a replaced one valid a minute) on a clock
/// the test moves.
async fn dynamic_on_a_manual_clock() -> Simulator {
    let config = Config {
        auth_mode: AuthMode::Dynamic {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        },
        ..quick_sim()
    };
    Simulator::start_with_clock(config, Clock::manual())
        .await
        .expect("sim")
}

/// The session is orphaned: while every answer is lost, the Guid rotates twice, so the
/// Guid the client holds is past the gateway's grace, and the gateway still holds the
/// session. The supervised session notices (000-003 past the tolerance), takes the
/// session over with a forced sign-in, reports it, and its stream continues.
#[tokio::test(flavor = "multi_thread")]
async fn a_supervised_session_recovers_an_orphaned_session_by_taking_it_over() {
    let sim = dynamic_on_a_manual_clock().await;
    let handle = sim.handle();
    // The manual clock moves the gateway's time, not the client's: the client is told a
    // grace that passes in real time during the test (the gateway's 60 s pass at once),
    // so that it can tell this expiry from a takeover by another holder.
    let client = client_with(&sim, |c| {
        c.poll_hold = Duration::from_millis(200);
        c.guid_grace = Duration::from_secs(1);
        c.backoff_min = Duration::from_millis(100);
        c.backoff_max = Duration::from_secs(2);
    });
    let mut session = SupervisedAgent::start(&client, id(101), SignIn::new("pw101", "40101"));
    assert!(matches!(
        next_rest_item(&mut session).await,
        SessionEvent::SignedIn { took_over: false }
    ));
    let orphaned = handle.current_guid(101).expect("signed in");

    handle.set_faults(Faults {
        drop_after: 1.0,
        ..Faults::default()
    });
    // The Guid rotates on a poll whose answer is lost; then the client's Guid passes
    // its grace while every answer is still lost.
    let rotations = handle.stats().guid_rotations;
    handle.advance(Duration::from_secs(61));
    wait_until("a rotation whose answer is lost", || {
        handle.stats().guid_rotations > rotations
    })
    .await;
    handle.advance(Duration::from_secs(61));
    let dropped = handle.stats().faults_dropped_after;
    wait_until("requests with the expired Guid", || {
        handle.stats().faults_dropped_after >= dropped + 2
    })
    .await;
    handle.set_faults(Faults::default());
    let faults_ended = tokio::time::Instant::now();

    let lost = next_rest_item(&mut session).await;
    assert!(
        matches!(&lost, SessionEvent::Lost(e) if e.retcode() == Some(&RetCode::NoPermission)),
        "{lost:?}"
    );
    let recovered = next_rest_item(&mut session).await;
    let SessionEvent::Recovered { took_over, after } = recovered else {
        panic!("expected the recovery, got {recovered:?}");
    };
    assert!(took_over);
    assert_eq!(handle.stats().takeovers, 1);
    println!(
        "recovered by a takeover {after:?} after the loss was reported, {:?} after the faults ended",
        faults_ended.elapsed()
    );
    assert_ne!(handle.current_guid(101), Some(orphaned.clone()));

    // The stream continues on the new session.
    let agent = session.agent().expect("a session");
    agent
        .rest(secs(600), RestCause::from(4))
        .await
        .expect("rest on the new session");
    assert!(matches!(
        next_rest_item(&mut session).await,
        SessionEvent::Event(AgentEvent::RestStarted { reason }) if reason == "4"
    ));
    session.sign_out().await.expect("signed out");
    assert_eq!(handle.agent_state(101), None);
    common::assert_logs_clean_of(&orphaned);
    sim.shutdown().await;
}

/// An earlier rest's `AgentState_SetRest_Success`, still queued, does not confirm a new
/// rest: here the agent is in a call, so the new rest is only pre-rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_late_event_of_an_earlier_request_does_not_confirm_a_new_one() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    // Nobody polls yet: both events stay queued at the gateway.
    agent
        .rest(secs(600), RestCause::from(1))
        .await
        .expect("rest");
    agent.cancel_rest().await.expect("cancel");
    assert!(handle.set_talking(101, true));
    let err = tokio::time::timeout(
        WAIT,
        agent
            .rest(secs(600), RestCause::from(1))
            .confirmed(Duration::from_secs(3)),
    )
    .await
    .expect("unconfirmed once its wait is up")
    .expect_err("pre-rest is not rest");
    assert!(
        matches!(
            err,
            Error::NotConfirmed {
                state: Some(AgentState::PreRest),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::SettleUnknown);
    // The call ends: rest starts, and a confirmed prolong sees its own event.
    assert!(handle.set_talking(101, false));
    assert_eq!(
        agent
            .rest(secs(900), RestCause::from(2))
            .prolong()
            .confirmed(WAIT)
            .await
            .expect("prolonged"),
        Confirmed::ByEvent
    );
    agent.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// Another consumer's poll takes the event (the gateway has one queue per agent): the
/// confirmation reads the state instead of waiting out its whole wait.
#[tokio::test(flavor = "multi_thread")]
async fn a_confirmation_whose_event_another_poller_took_is_confirmed_by_the_state() {
    let sim = Simulator::start(quick_sim()).await.expect("sim");
    let client = client_for(&sim);
    let agent = client
        .sign_in(id(101), &SignIn::new("pw101", "40101"))
        .await
        .expect("signed in");
    let guid = agent.guid().expect("Guid");
    // Another process's handle: its own pump.
    let other = client.agent(id(101), guid, None);
    let mut taken = other.events();
    let thief = tokio::spawn(async move {
        while let Some(Ok(event)) = taken.next().await {
            if matches!(event, AgentEvent::RestStarted { .. }) {
                return true;
            }
        }
        false
    });
    let mut confirmed = Vec::new();
    for _ in 0..3 {
        let by = agent
            .rest(secs(600), RestCause::from(3))
            .confirmed(WAIT)
            .await
            .expect("confirmed within the wait");
        confirmed.push(by);
        agent
            .cancel_rest()
            .confirmed(WAIT)
            .await
            .expect("cancelled");
    }
    assert_eq!(
        agent.status().await.expect("status").state,
        AgentState::Idle
    );
    thief.abort();
    println!("confirmations with a second poller: {confirmed:?}");
    agent.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// After `sign_out`, the handle sends nothing: a typed error that says to sign in again.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_out_handle_sends_nothing() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    agent.sign_out().await.expect("signed out");
    let requests = handle.stats().requests;
    let err = agent.status().await.expect_err("signed out");
    assert!(
        matches!(err, Error::HandleSignedOut { operation } if operation == operations::GET_AGENT_STATUS.log_name),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::SignInAgain);
    assert!(needs_sign_in(&err));
    assert!(err.to_string().contains("sign in again"), "{err}");
    let err = agent.heartbeat().await.expect_err("signed out");
    assert!(matches!(err, Error::HandleSignedOut { .. }), "{err:?}");
    assert_eq!(
        handle.stats().requests,
        requests,
        "nothing was sent after sign-out"
    );
    // A stream opened now ends at once with the same error.
    let end = tokio::time::timeout(WAIT, agent.events().next())
        .await
        .expect("the stream ends");
    assert!(
        matches!(end, Some(Err(Error::HandleSignedOut { .. }))),
        "{end:?}"
    );
    sim.shutdown().await;
}

/// Streams opened while the pump is ending either get the end or start a new pump;
/// none hangs.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_opened_while_the_pump_ends_gets_the_end() {
    let sim = Simulator::start(quick_sim()).await.expect("sim");
    let handle = sim.handle();
    let client = client_for(&sim);
    for round in 0..20 {
        let agent = client
            .sign_in(id(101), &SignIn::new("pw101", "40101"))
            .await
            .expect("signed in");
        let mut first = agent.events();
        // Drain the sign-in events, so the pump sits in a held poll.
        for _ in 0..2 {
            let _ = tokio::time::timeout(WAIT, first.next()).await;
        }
        let opener = {
            let agent = agent.clone();
            tokio::spawn(async move {
                let mut streams = Vec::new();
                for _ in 0..200 {
                    streams.push(agent.events());
                    tokio::task::yield_now().await;
                }
                streams
            })
        };
        assert!(handle.force_sign_out(101));
        let streams = opener.await.expect("opener");
        for (n, mut stream) in streams.into_iter().enumerate() {
            let end = tokio::time::timeout(WAIT, async {
                loop {
                    match stream.next().await {
                        Some(Ok(_)) => {}
                        other => return other,
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("round {round}: stream {n} hangs"));
            assert!(
                matches!(&end, Some(Err(e)) if needs_sign_in(e)),
                "round {round}: stream {n} ended with {end:?}"
            );
        }
    }
    sim.shutdown().await;
}

/// A forced sign-out (100-006) is reported as lost and recovered with a plain sign-in;
/// dropping the supervised session and the client leaves no task behind, even while a
/// poll is held for the gateway's 10 s.
#[test]
fn a_supervised_session_signs_in_again_and_leaves_no_task_behind() {
    // The simulator on a runtime of its own, so that the client's runtime counts only
    // the client's tasks.
    let sim_runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = sim_runtime
        .block_on(Simulator::start(Config::default()))
        .expect("sim");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = sim.handle();
    runtime.block_on(async {
        let tasks = || {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
        };
        let before = tasks();
        let client = client_for(&sim);
        let mut session = SupervisedAgent::start(&client, id(103), SignIn::new("pw103", "40103"));
        assert!(matches!(
            next_rest_item(&mut session).await,
            SessionEvent::SignedIn { .. }
        ));
        assert!(handle.force_sign_out(103));
        assert!(matches!(
            next_rest_item(&mut session).await,
            SessionEvent::Lost(Error::Gateway {
                code: RetCode::NotSignedIn,
                ..
            })
        ));
        assert!(matches!(
            next_rest_item(&mut session).await,
            SessionEvent::Recovered {
                took_over: false,
                ..
            }
        ));
        let held = handle.stats().polls_held_out;
        // The sign-in events are polled; the poll after them is held for 10 s.
        wait_until("the sign-in events polled", || {
            let stats = handle.stats();
            stats.events_delivered + stats.events_discarded == stats.events_emitted
        })
        .await;
        let requests = handle.stats().requests;
        wait_until("a held poll", || handle.stats().requests > requests).await;
        drop(session);
        drop(client);
        wait_until_within(
            Duration::from_secs(3),
            "every task of the client gone",
            || tasks() <= before,
        )
        .await;
        assert_eq!(
            handle.stats().polls_held_out,
            held,
            "it did not wait for the hold"
        );
    });
    drop(runtime);
    sim_runtime.block_on(sim.shutdown());
}
