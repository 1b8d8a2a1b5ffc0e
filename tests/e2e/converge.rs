//! `Change::ensured` (a rest, prolonged or not, or its cancellation) drives an agent to
//! a wanted state, over HTTPS against the simulator: they converge and say how, try again after a passing refusal (of the
//! change or of the state read) within their wait, stop at once on a refusal that will
//! not pass, and give up at their deadline when the state cannot be read.

use crate::common;

use std::time::{Duration, Instant};

use ccgw::{AgentState, Confirmed, Converged, Disposition, Error, InitialState, RestCause, SignIn};
use ccgw_sim::{Faults, Simulator, operation};
use common::{client_for, id, quick_sim, secs, signed_in_101};

const WAIT: Duration = Duration::from_secs(10);

/// `ensure_*` converge and say how: already there, applied, or applied after an answer
/// was lost (settled by the event, never by sending again).
#[tokio::test(flavor = "multi_thread")]
async fn ensure_rest_and_idle_converge_and_settle_lost_answers() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let _events = agent.events();

    handle.lose_next_answer("/rest/");
    assert_eq!(
        agent
            .rest(secs(600), RestCause::from(3))
            .ensured(WAIT)
            .await
            .expect("in rest"),
        Converged::AppliedAfterUnknown(Confirmed::ByEvent)
    );
    assert_eq!(handle.stats().rest_entered, 1, "sent once, never resent");
    assert_eq!(
        agent
            .rest(secs(600), RestCause::from(3))
            .ensured(WAIT)
            .await
            .expect("in rest"),
        Converged::AlreadyThere
    );
    assert_eq!(
        agent.cancel_rest().ensured(WAIT).await.expect("idle"),
        Converged::Applied(Confirmed::ByEvent)
    );
    assert_eq!(
        agent.cancel_rest().ensured(WAIT).await.expect("idle"),
        Converged::AlreadyThere
    );
    assert_eq!(handle.agent_state(101), Some(4));
    agent.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// A prolonged rest, ensured: an agent in rest gets the new rest (`prolong=true`); an
/// idle one, which has no rest to prolong, gets a plain rest.
#[tokio::test(flavor = "multi_thread")]
async fn an_ensured_prolonged_rest_prolongs_only_a_rest() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    let _events = agent.events();
    let prolonged = || agent.rest(secs(900), RestCause::from(4)).prolong();

    // Its answer lost: a plain rest's outcome is settled (a prolonged one's could not be).
    handle.lose_next_answer("/rest/");
    assert!(
        matches!(
            prolonged().ensured(WAIT).await.expect("in rest"),
            Converged::AppliedAfterUnknown(_)
        ),
        "an idle agent gets a plain rest"
    );
    let stats = handle.stats();
    assert_eq!((stats.rest_entered, stats.rest_prolonged), (1, 0));

    assert!(
        matches!(
            prolonged().ensured(WAIT).await.expect("still in rest"),
            Converged::Applied(_)
        ),
        "an agent in rest gets the prolonged rest"
    );
    let stats = handle.stats();
    assert_eq!((stats.rest_entered, stats.rest_prolonged), (1, 1));
    agent.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// A busy agent is not this crate's to make idle: `ensure_idle` refuses at once, sending
/// nothing, instead of trying again until its wait is up.
#[tokio::test(flavor = "multi_thread")]
async fn ensure_idle_refuses_a_busy_agent_at_once() {
    let sim = Simulator::start(quick_sim()).await.expect("sim");
    let agent = client_for(&sim)
        .sign_in(
            id(101),
            &SignIn::new("pw101", "40101").initial_state(InitialState::Busy),
        )
        .await
        .expect("signed in");
    let requests = sim.handle().stats().requests;
    let err = tokio::time::timeout(WAIT * 2, agent.cancel_rest().ensured(WAIT))
        .await
        .expect("refused within the wait")
        .expect_err("busy");
    assert!(
        matches!(
            err,
            Error::WrongState {
                state: AgentState::Busy,
                ..
            }
        ),
        "{err:?}"
    );
    // Refused, not unknown: nothing was sent, sending again will not help.
    assert_eq!(err.disposition(), Disposition::DoNotResend);
    assert_eq!(
        sim.handle().stats().requests,
        requests + 1,
        "one state read, nothing else"
    );
    agent.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// A passing refusal of the state read and then of the rest itself (`000-007`: called
/// repeatedly) is tried again within the wait, and the rest is applied once.
#[tokio::test(flavor = "multi_thread")]
async fn passing_refusals_of_the_state_read_and_of_the_change_are_tried_again() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.inject(operation::GET_AGENT_STATUS, "000-007");
    handle.inject(operation::REST, "000-007");
    let converged = agent
        .rest(secs(600), RestCause::from(3u8))
        .ensured(WAIT)
        .await
        .expect("in rest after the refusals passed");
    assert!(matches!(converged, Converged::Applied(_)), "{converged:?}");
    assert!(!handle.injected_pending(operation::GET_AGENT_STATUS));
    assert!(!handle.injected_pending(operation::REST));
    assert_eq!(handle.stats().rest_entered, 1);
    sim.shutdown().await;
}

/// A refusal of the rest that will not pass (`000-002`: a parameter the gateway rejects)
/// ends `ensure_rest` with that refusal; the rest is not sent again (it would be
/// accepted: the refusal was injected once).
#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_that_will_not_pass_is_not_tried_again() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.inject(operation::REST, "000-002");
    let err = tokio::time::timeout(
        WAIT * 2,
        agent.rest(secs(600), RestCause::from(3u8)).ensured(WAIT),
    )
    .await
    .expect("it ends")
    .expect_err("refused");
    assert_eq!(err.disposition(), Disposition::DoNotResend, "{err:?}");
    assert!(!handle.injected_pending(operation::REST));
    assert_eq!(handle.stats().rest_entered, 0, "not sent again");
    assert_eq!(handle.agent_state(101), Some(4), "still idle");
    sim.shutdown().await;
}

/// A session the gateway ended (a supervisor's forced sign-out: `100-006` to the state
/// read) ends `ensure_rest` at once: one state read, nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_ended_by_force_ends_it_at_once() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    assert!(handle.force_sign_out(101));
    let before = handle.stats().requests;
    let err = tokio::time::timeout(
        WAIT * 2,
        agent.rest(secs(600), RestCause::from(3u8)).ensured(WAIT),
    )
    .await
    .expect("it ends")
    .expect_err("signed out by force");
    assert_eq!(err.disposition(), Disposition::SignInAgain, "{err:?}");
    assert_eq!(handle.stats().requests, before + 1, "one state read");
    sim.shutdown().await;
}

/// Every request answered `000-004` (switching over, a passing refusal): the state is
/// read again every half second until the wait is up, then the last refusal is reported
/// — not at the first refusal, and not for ever.
#[tokio::test(flavor = "multi_thread")]
async fn it_gives_up_at_its_deadline_while_the_state_cannot_be_read() {
    let (sim, agent) = signed_in_101().await;
    let handle = sim.handle();
    handle.set_faults(Faults {
        switch_over: 1.0,
        ..Faults::default()
    });
    let wait = Duration::from_secs(3);
    let started = Instant::now();
    let err = tokio::time::timeout(
        wait * 5,
        agent.rest(secs(600), RestCause::from(3u8)).ensured(wait),
    )
    .await
    .expect("it gives up")
    .expect_err("the state cannot be read");
    let took = started.elapsed();
    assert_eq!(err.disposition(), Disposition::BackOff, "{err:?}");
    // Tries every 500 ms; the last begins more than 500 ms before the deadline.
    assert!(
        took >= wait - Duration::from_millis(1000),
        "gave up after {took:?}"
    );
    let reads = handle.stats().faults_switch_over;
    assert!((4..=6).contains(&reads), "{reads} state reads in {took:?}");
    assert_eq!(handle.stats().rest_entered, 0);
    sim.shutdown().await;
}
