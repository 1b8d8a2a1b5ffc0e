//! Confirmations that cannot be fooled by an earlier request's event: the gateway keeps
//! one event queue per agent, so an `AgentState_SetRest_Success` (or
//! `AgentState_CancelRest_Success`) of an earlier request may still be unread when a new
//! request is lost on its way. Over HTTPS against the simulator, each such case ends in
//! "outcome unknown" or a true confirmation — never a confirmation of a change the
//! gateway did not apply.

use crate::common;

use std::time::Duration;

use ccgw::{Agent, AgentState, Confirmed, Disposition, Error, RestCause};
use ccgw_sim::{SimHandle, operation};
use common::{secs, signed_in_101};

/// Long enough for the confirming event and a state read, short enough for a test that
/// waits it out when nothing can confirm.
const WAIT: Duration = Duration::from_secs(3);
/// Long enough for three state reads (after 1 s, then every 2 s).
const LONG_WAIT: Duration = Duration::from_secs(6);

/// `confirmation`, which must end within three times the longest wait here: a
/// confirmation that never ends fails the test instead of hanging it.
async fn ends<T>(confirmation: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LONG_WAIT * 3, confirmation)
        .await
        .expect("the confirmation ends")
}

/// A rest confirmed within `LONG_WAIT` whose request is lost on its way, and a
/// supervisor's forced sign-out once it is lost: what the confirmation says.
async fn lost_rest_then_signed_out_by_force(
    handle: &SimHandle,
    agent: &Agent,
) -> Result<Confirmed, Error> {
    handle.lose_next_request("/rest/");
    let supervisor = async {
        common::wait_until("the rest lost on its way", || {
            handle.stats().faults_dropped_before == 1
        })
        .await;
        assert!(handle.force_sign_out(101));
    };
    let (result, ()) = tokio::join!(
        ends(
            agent
                .rest(secs(600), RestCause::from(3u8))
                .confirmed(LONG_WAIT)
        ),
        supervisor
    );
    result
}

/// The state an unconfirmed change ended in; fails unless it waited at least `waited_for`.
fn not_confirmed(
    result: Result<Confirmed, Error>,
    waited_for: Duration,
    what: &str,
) -> Option<AgentState> {
    match result {
        Err(e @ Error::NotConfirmed { .. }) => {
            assert_eq!(e.disposition(), Disposition::SettleUnknown, "{what}: {e}");
            match e {
                Error::NotConfirmed { state, waited, .. } => {
                    assert!(waited >= waited_for, "{what}: gave up after {waited:?}");
                    state
                }
                _ => None,
            }
        }
        other => panic!("{what}: expected an unknown outcome, got {other:?}"),
    }
}

/// The request for a prolong is lost before the gateway, while the rest's own
/// `AgentState_SetRest_Success` with the same cause is still unread: the agent is in
/// rest either way, so the outcome stays unknown — it is not confirmed by the old event.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_prolong_is_not_confirmed_by_the_rest_s_unread_event() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let cause = RestCause::from(3u8);
    agent.rest(secs(600), cause).await.expect("rest accepted");
    handle.lose_next_request("/rest/");
    let state = not_confirmed(
        ends(agent.rest(secs(900), cause).prolong().confirmed(WAIT)).await,
        Duration::ZERO,
        "lost prolong",
    );
    assert_eq!(state, Some(AgentState::Rest));
    assert_eq!(
        handle.stats().faults_dropped_before,
        1,
        "the prolong was lost"
    );
    assert_eq!(handle.stats().rest_prolonged, 0, "nothing was prolonged");
    let (kept, left) = handle.agent_rest(101).expect("in rest");
    assert!(
        kept == 3 && left <= Duration::from_secs(600),
        "the gateway keeps the first rest: cause {kept}, {left:?} left"
    );
    sim.shutdown().await;
}

/// The same with the prolong answered: the gateway applied it, so the confirmation is
/// true even if the event that came first was the rest's.
#[tokio::test(flavor = "multi_thread")]
async fn an_answered_prolong_is_confirmed() {
    let (sim, agent) = signed_in_101().await;
    let cause = RestCause::from(3u8);
    agent.rest(secs(600), cause).await.expect("rest accepted");
    let by = ends(agent.rest(secs(900), cause).prolong().confirmed(WAIT))
        .await
        .expect("confirmed");
    assert_eq!(by, Confirmed::ByEvent);
    assert_eq!(sim.handle().stats().rest_prolonged, 1);
    let (_, left) = sim.handle().agent_rest(101).expect("in rest");
    assert!(left > Duration::from_secs(600), "prolonged: {left:?} left");
    sim.shutdown().await;
}

/// A rest lost before the gateway while an earlier rest's `AgentState_SetRest_Success`
/// (same cause; that rest was cancelled since) is unread: the state reads idle, so the
/// old event does not confirm it.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_rest_is_not_confirmed_by_an_earlier_rest_s_event() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let cause = RestCause::from(3u8);
    agent.rest(secs(600), cause).await.expect("rest accepted");
    agent.cancel_rest().await.expect("cancel accepted");
    handle.lose_next_request("/rest/");
    let state = not_confirmed(
        ends(agent.rest(secs(600), cause).confirmed(WAIT)).await,
        WAIT,
        "lost rest",
    );
    assert_eq!(state, Some(AgentState::Idle));
    assert_eq!(handle.stats().rest_entered, 1, "only the first rest");
    sim.shutdown().await;
}

/// A cancel lost before the gateway while an earlier cancel's
/// `AgentState_CancelRest_Success` is unread: the state reads rest, so the old event does
/// not confirm it.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_cancel_is_not_confirmed_by_an_earlier_cancel_s_event() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let cause = RestCause::from(3u8);
    agent.rest(secs(600), cause).await.expect("rest accepted");
    agent.cancel_rest().await.expect("cancel accepted");
    agent.rest(secs(600), cause).await.expect("rest accepted");
    handle.lose_next_request("/cancelrest");
    let state = not_confirmed(
        ends(agent.cancel_rest().confirmed(WAIT)).await,
        WAIT,
        "lost cancel",
    );
    assert_eq!(state, Some(AgentState::Rest));
    assert_eq!(handle.stats().rest_cancelled, 1, "only the first cancel");
    assert_eq!(handle.agent_state(101), Some(8), "still in rest");
    sim.shutdown().await;
}

/// A rest whose request was lost while another holder of the agent put it into rest with
/// another cause: the agent is in rest (the state says so), but the event that came is
/// the other request's (its cause is not ours) and says nothing about ours — the
/// confirmation is by the state, never by that event.
#[tokio::test(flavor = "multi_thread")]
async fn another_holder_s_rest_event_does_not_confirm_this_one() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let other = common::client_for(&sim).agent(agent.id(), agent.guid().expect("Guid"), None);
    handle.lose_next_request("/rest/");
    let theirs = async {
        common::wait_until("our rest lost on its way", || {
            handle.stats().faults_dropped_before == 1
        })
        .await;
        other
            .rest(secs(600), RestCause::from(5u8))
            .await
            .expect("their rest accepted");
    };
    let (ours, ()) = tokio::join!(
        ends(agent.rest(secs(600), RestCause::from(3u8)).confirmed(WAIT)),
        theirs
    );
    assert_eq!(ours.expect("the agent is in rest"), Confirmed::ByState);
    assert_eq!(handle.agent_rest(101).map(|(cause, _)| cause), Some(5));
    assert_eq!(handle.stats().rest_entered, 1, "only their rest");
    sim.shutdown().await;
}

/// A gateway whose events are pushed, not polled (`000-001` to the poll), and whose first
/// state read is a passing refusal (`000-007`): the stream ends, but that is no reason to
/// give up — the state, read again, confirms the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_rest_is_confirmed_by_the_state_when_the_stream_ends_and_a_state_read_fails() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.inject(operation::GET_AGENT_EVENT, "000-001");
    handle.inject(operation::GET_AGENT_STATUS, "000-007");
    let by = ends(
        agent
            .rest(secs(600), RestCause::from(3u8))
            .confirmed(LONG_WAIT),
    )
    .await
    .expect("confirmed by the state");
    assert_eq!(by, Confirmed::ByState);
    assert!(!handle.injected_pending(operation::GET_AGENT_EVENT));
    assert!(!handle.injected_pending(operation::GET_AGENT_STATUS));
    sim.shutdown().await;
}

/// With no stream to tell (events pushed, `000-001`), the session ends by force while a
/// lost rest waits to be settled: the first state read (`100-006`) ends the confirmation
/// at once — the outcome stays unknown — instead of reading on until the wait is up.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_ends_while_confirming_ends_the_wait_at_once() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.inject(operation::GET_AGENT_EVENT, "000-001");
    let result = lost_rest_then_signed_out_by_force(&handle, &agent).await;
    match result {
        Err(Error::NotConfirmed { waited, state, .. }) => {
            assert_eq!(state, None, "the session is gone");
            assert!(waited < LONG_WAIT, "waited {waited:?} of {LONG_WAIT:?}");
        }
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    sim.shutdown().await;
}

/// A change that cannot be confirmed (the agent is in a call: its rest is pre-rest) waits
/// out its whole wait, reading the state now and then — not once, and not in a loop.
#[tokio::test(flavor = "multi_thread")]
async fn an_unconfirmed_change_waits_its_wait_reading_the_state_at_a_pace() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    assert!(handle.set_talking(101, true));
    let before = handle.stats().requests;
    let state = not_confirmed(
        ends(
            agent
                .rest(secs(600), RestCause::from(3u8))
                .confirmed(LONG_WAIT),
        )
        .await,
        LONG_WAIT,
        "pre-rest",
    );
    assert_eq!(state, Some(AgentState::PreRest));
    let requests = handle.stats().requests - before;
    // The rest, a state read every 2 s and a poll every 200 ms + 200 ms hold: about 20.
    assert!(requests < 60, "{requests} requests in {LONG_WAIT:?}");
    sim.shutdown().await;
}

/// The stream reports the session gone (`100-006` to a poll, after a supervisor's forced
/// sign-out) while a lost rest waits to be settled: the confirmation ends there, its
/// outcome unknown, without reading the state of an agent the gateway already said is
/// signed out (a state read would take the `000-007` waiting for it).
#[tokio::test(flavor = "multi_thread")]
async fn the_stream_reporting_the_session_gone_ends_the_confirmation() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let _stream = agent.events();
    common::wait_until_events_read(&handle).await;
    handle.inject(operation::GET_AGENT_STATUS, "000-007");
    let result = lost_rest_then_signed_out_by_force(&handle, &agent).await;
    assert!(
        matches!(result, Err(Error::NotConfirmed { state: None, .. })),
        "{result:?}"
    );
    assert!(
        handle.injected_pending(operation::GET_AGENT_STATUS),
        "the state was read"
    );
    sim.shutdown().await;
}
