//! Confirmations that cannot be fooled by an earlier request's event: the gateway keeps
//! one event queue per agent, so an `AgentState_SetRest_Success` (or
//! `AgentState_CancelRest_Success`) of an earlier request may still be unread when a new
//! request is lost on its way. Over HTTPS against the simulator, each such case ends in
//! "outcome unknown" or a true confirmation — never a confirmation of a change the
//! gateway did not apply.

use crate::common;

use std::time::Duration;

use ccgw::{AgentState, Confirmed, Disposition, Error, RestCause};
use common::{secs, signed_in_101};

/// Long enough for the confirming event and a state read, short enough for a test that
/// waits it out when nothing can confirm.
const WAIT: Duration = Duration::from_secs(3);

fn not_confirmed(result: Result<Confirmed, Error>, what: &str) -> Option<AgentState> {
    match result {
        Err(e @ Error::NotConfirmed { .. }) => {
            assert_eq!(e.disposition(), Disposition::SettleUnknown, "{what}: {e}");
            match e {
                Error::NotConfirmed { state, .. } => state,
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
        agent.prolong_confirmed(secs(900), cause, WAIT).await,
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
    let by = agent
        .prolong_confirmed(secs(900), cause, WAIT)
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
        agent.rest_confirmed(secs(600), cause, WAIT).await,
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
    let state = not_confirmed(agent.cancel_confirmed(WAIT).await, "lost cancel");
    assert_eq!(state, Some(AgentState::Rest));
    assert_eq!(handle.stats().rest_cancelled, 1, "only the first cancel");
    assert_eq!(handle.agent_state(101), Some(8), "still in rest");
    sim.shutdown().await;
}
