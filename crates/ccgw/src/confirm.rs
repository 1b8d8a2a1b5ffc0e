//! State changes ([`Change`]: a rest, prolonged or not, and its cancellation) sent once,
//! confirmed — returning only once the agent is known to be where they asked — or
//! ensured (driving it there); and the settled sign-out.
//!
//! The rules, the same for every confirmed operation:
//!
//! - the event stream is opened before the request is sent, so the event cannot slip by;
//! - only an event that matches the request confirms it (a rest's
//!   `AgentState_SetRest_Success` must carry the request's cause), and only when the state
//!   read after it agrees — a late event of an earlier request, or a rest that became
//!   pre-rest because the agent is in a call, does not;
//! - an unknown outcome is settled by waiting for the event or reading the state, never by
//!   sending again — and where neither can tell (a prolong: the agent is in rest before and
//!   after, and an event of the same shape may be an earlier request's, still unread), it
//!   stays unknown: [`Error::NotConfirmed`] at once, never a confirmation;
//! - when the event does not come (another consumer's poll may have taken it: the gateway
//!   has one event queue per agent), the state is read after [`FIRST_STATE_READ`] and
//!   then every [`STATE_READ_EVERY`]; the result says which of the two confirmed it;
//! - once the request was accepted (or its outcome is unknown), a failure is never
//!   reported as a refusal: a session that ends before the change is confirmed gives
//!   [`Error::NotConfirmed`] (settle it: the change may have been applied).

use std::future::Future;
use std::time::Duration;

use ccgw_client::operations::{self, Operation};
use tokio::time::Instant;

use crate::agent::{Agent, AgentState, Change, Kind};
use crate::error::{Disposition, Error, RetCode};
use crate::events::AgentEvent;
use crate::values::RestCause;

/// When the state is first read if the confirming event has not come.
const FIRST_STATE_READ: Duration = Duration::from_secs(1);
/// How often the state is read after that, until the wait ends.
const STATE_READ_EVERY: Duration = Duration::from_secs(2);
/// Pause before trying again after a passing refusal ([`Disposition::BackOff`]) or a
/// request that was not sent ([`Disposition::Resend`]) in `ensure_*`.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// How long [`Agent::sign_out`] keeps settling a sign-out (trying again after passing
/// refusals and unsent requests, reading the state after an unknown outcome).
const SIGN_OUT_WAIT: Duration = Duration::from_secs(30);

/// What confirmed a state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Confirmed {
    /// The operation's own event arrived, and the state read after it agreed.
    ByEvent,
    /// The event did not arrive (another poller may have taken it); the state, read,
    /// shows the change.
    ByState,
}

/// How [`Change::ensured`] got the agent to the wanted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Converged {
    /// It was already there; nothing was sent.
    AlreadyThere,
    /// The request was accepted and confirmed.
    Applied(Confirmed),
    /// The request's outcome was unknown (no answer); the event or the state settled it.
    AppliedAfterUnknown(Confirmed),
}

/// The state a confirmed operation drives the agent to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// In rest, with this cause.
    Rest(RestCause),
    /// Idle.
    Idle,
}

impl Target {
    /// Whether `event` is this target's event.
    fn confirmed_by(self, event: &AgentEvent) -> bool {
        match (self, event) {
            (Target::Rest(cause), AgentEvent::RestStarted { reason }) => {
                // The gateway echoes the cause as `content.reason`; a reason that is not a
                // number (none at all, say) cannot contradict it.
                reason
                    .trim()
                    .parse::<u8>()
                    .map_or(true, |r| r == cause.get())
            }
            (Target::Idle, AgentEvent::RestCancelled) => true,
            _ => false,
        }
    }

    fn reached(self, state: AgentState) -> bool {
        match self {
            Target::Rest(_) => state == AgentState::Rest,
            Target::Idle => state == AgentState::Idle,
        }
    }
}

/// The longest a confirmation may wait.
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// `wait` if it is at most [`LONGEST_WAIT`]; nothing is sent otherwise.
fn checked_wait(wait: Duration) -> Result<Duration, Error> {
    if wait > LONGEST_WAIT {
        return Err(Error::InvalidArgument {
            field: "wait",
            value: format!("{wait:?}"),
            problem: "must be at most 24 h".to_owned(),
        });
    }
    Ok(wait)
}

impl Change<'_> {
    /// Sends the change and returns once the gateway confirms it (see the module rules):
    /// the matching event (`AgentState_SetRest_Success` with this cause,
    /// `AgentState_CancelRest_Success`), or the state read as the target when the event
    /// does not come. After `wait` without either: [`Error::NotConfirmed`] with the state
    /// read last. A talking agent enters rest only when its call ends (pre-rest), so give
    /// such agents a longer `wait`.
    pub async fn confirmed(self, wait: Duration) -> Result<Confirmed, Error> {
        self.confirm(wait).await.map(|(by, _)| by)
    }

    /// Sends and confirms within `wait`: what confirmed it, and whether the outcome had
    /// been unknown.
    async fn confirm(&self, wait: Duration) -> Result<(Confirmed, bool), Error> {
        let wait = checked_wait(wait)?;
        self.agent
            .confirmed(
                self.operation(),
                self.target(),
                wait,
                self.settles_unknown(),
                || self.send(),
            )
            .await
    }

    /// Drives the agent to the change's state: nothing if it is there already (in rest or
    /// pre-rest for a rest that is not prolonged, idle for a cancellation), otherwise a
    /// confirmed change. Passing refusals (`000-004`, `000-007`, `100-007`) and requests
    /// that certainly were not sent are tried again within `wait`; an unknown outcome is
    /// settled, never resent. A cancellation refuses any state other than rest, pre-rest
    /// and idle (busy, talking, …: not this crate's to change) with
    /// [`Error::WrongState`], without sending. Returns how the agent got there.
    ///
    /// ```no_run
    /// # async fn demo(agent: ccgw::Agent) -> Result<(), ccgw::Error> {
    /// use std::time::Duration;
    /// use ccgw::{Converged, RestCause, RestDuration};
    /// let rest = agent.rest(RestDuration::from_secs(900)?, RestCause::from(3));
    /// match rest.ensured(Duration::from_secs(30)).await? {
    ///     Converged::AlreadyThere => println!("was resting already"),
    ///     Converged::Applied(by) => println!("rest applied, confirmed {by:?}"),
    ///     Converged::AppliedAfterUnknown(by) => println!("an unknown outcome settled {by:?}"),
    ///     _ => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn ensured(self, wait: Duration) -> Result<Converged, Error> {
        let wait = checked_wait(wait)?;
        let agent = self.agent;
        agent
            .ensure(self.target(), wait, |state, left| async move {
                let Some(kind) = plan(self.kind, state)? else {
                    return Ok(None);
                };
                Change { agent, kind }.confirm(left).await.map(Some)
            })
            .await
    }

    pub(crate) fn target(&self) -> Target {
        match self.kind {
            Kind::Rest { cause, .. } => Target::Rest(cause),
            Kind::Cancel => Target::Idle,
        }
    }
}

/// What to send from `state` to get there: nothing (`None`) when the agent is there
/// already; a plain rest where a prolonged one has no rest to prolong.
fn plan(kind: Kind, state: AgentState) -> Result<Option<Kind>, Error> {
    let resting = matches!(state, AgentState::Rest | AgentState::PreRest);
    Ok(match kind {
        Kind::Rest { prolong: true, .. } if resting => Some(kind),
        Kind::Rest { .. } if resting => None,
        Kind::Rest {
            duration, cause, ..
        } => Some(Kind::Rest {
            duration,
            cause,
            prolong: false,
        }),
        Kind::Cancel if state == AgentState::Idle => None,
        Kind::Cancel if resting => Some(Kind::Cancel),
        Kind::Cancel => {
            return Err(Error::WrongState {
                operation: operations::CANCEL_REST.log_name,
                state,
            });
        }
    })
}

impl Agent {
    /// Signs the agent out and settles it like the other state changes, so that nothing
    /// is left signed in: a passing refusal (`000-004`, `000-007`, `100-007`, an agent
    /// still in a call: `100-010`) or a request that was not sent is tried again, and an
    /// answer that was lost is settled by reading the state — `100-006` there, or
    /// `100-006` / `100-008` to the sign-out itself, means the agent is signed out —
    /// for up to 30 s. The sign-out event is not waited for (the gateway does not always
    /// send it). Its Guid then stops being valid and its event stream ends; every later
    /// call on this handle (and its clones) fails with [`Error::HandleSignedOut`] without
    /// sending anything. Fails with the last
    /// error when the gateway refuses for good (`000-003`: the Guid is not this
    /// session's any more) or the 30 s pass.
    pub async fn sign_out(&self) -> Result<(), Error> {
        let deadline = Instant::now() + SIGN_OUT_WAIT;
        loop {
            let error = match self.sign_out_once().await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let gone = |e: &Error| {
                matches!(
                    e.retcode(),
                    Some(RetCode::NotSignedIn | RetCode::AlreadySignedOut)
                )
            };
            if gone(&error) {
                self.line.session.clear_guid();
                return Ok(());
            }
            match error.disposition() {
                Disposition::SettleUnknown => {
                    // Applied or not? A signed-out agent's state is answered `100-006`.
                    if self.status().await.is_err_and(|e| gone(&e)) {
                        self.line.session.clear_guid();
                        return Ok(());
                    }
                }
                Disposition::Resend | Disposition::BackOff => {}
                _ => return Err(error),
            }
            if !retry_fits(Instant::now(), deadline) {
                return Err(error);
            }
            tracing::debug!(agent_id = self.line.id.get(), error = %error, "signing out again");
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Reads the state and runs `step` (act if needed) until it converges, trying again
    /// after passing refusals and unsent requests — and after any failed state read,
    /// which changes nothing — until `wait` has elapsed.
    pub(crate) async fn ensure<F, Fut>(
        &self,
        target: Target,
        wait: Duration,
        step: F,
    ) -> Result<Converged, Error>
    where
        F: Fn(AgentState, Duration) -> Fut,
        Fut: Future<Output = Result<Option<(Confirmed, bool)>, Error>>,
    {
        let deadline = Instant::now() + wait;
        let retry = |e: &Error, passing: &[Disposition]| {
            passing.contains(&e.disposition()) && retry_fits(Instant::now(), deadline)
        };
        loop {
            let state = match self.status().await {
                Ok(status) => status.state,
                Err(e)
                    if retry(
                        &e,
                        &[
                            Disposition::Resend,
                            Disposition::BackOff,
                            Disposition::SettleUnknown,
                        ],
                    ) =>
                {
                    tracing::debug!(agent_id = self.line.id.get(), ?target, error = %e, "reading the state again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match step(state, left).await {
                Ok(None) => return Ok(Converged::AlreadyThere),
                Ok(Some((by, false))) => return Ok(Converged::Applied(by)),
                Ok(Some((by, true))) => return Ok(Converged::AppliedAfterUnknown(by)),
                Err(e) if retry(&e, &[Disposition::BackOff, Disposition::Resend]) => {
                    tracing::debug!(agent_id = self.line.id.get(), ?target, error = %e, "trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends with `send` and confirms (see the module rules). Returns what confirmed it
    /// and whether the request's outcome had been unknown. `settles_unknown`: whether
    /// reading the state can tell an unknown outcome (not for a prolong, whose target
    /// state is the state before).
    /// Sends with `send`; whether its outcome is unknown (no answer), when that can be
    /// settled (`settles_unknown`) — otherwise [`Error::NotConfirmed`] at once.
    async fn send_settling<F, Fut>(
        &self,
        operation: Operation,
        settles_unknown: bool,
        started: Instant,
        send: F,
    ) -> Result<bool, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), Error>>,
    {
        match send().await {
            Ok(()) => Ok(false),
            Err(e) if e.is_outcome_unknown() && settles_unknown => {
                tracing::info!(agent_id = self.line.id.get(), error = %e, "outcome unknown; settling it by event or state");
                Ok(true)
            }
            Err(e) if e.is_outcome_unknown() => {
                tracing::info!(
                    agent_id = self.line.id.get(),
                    "neither the state nor an event can tell whether it was applied"
                );
                let state = self.status().await.ok().map(|s| s.state);
                Err(Error::NotConfirmed {
                    operation: operation.log_name,
                    waited: started.elapsed(),
                    state,
                })
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn confirmed<F, Fut>(
        &self,
        operation: Operation,
        target: Target,
        wait: Duration,
        settles_unknown: bool,
        send: F,
    ) -> Result<(Confirmed, bool), Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), Error>>,
    {
        // Subscribe first, so the confirmation cannot slip past.
        let mut events = self.events();
        let started = Instant::now();
        let deadline = started + wait;
        let unknown = self
            .send_settling(operation, settles_unknown, started, send)
            .await?;
        let mut stream_open = true;
        let mut next_read = (started + FIRST_STATE_READ).min(deadline);
        loop {
            let item = if stream_open {
                tokio::select! {
                    item = events.next() => Some(item),
                    () = tokio::time::sleep_until(next_read) => None,
                }
            } else {
                tokio::time::sleep_until(next_read).await;
                None
            };
            let by_event = match item {
                Some(Some(Ok(event))) if target.confirmed_by(&event) => true,
                // Events may have been missed: read the state now.
                Some(Some(Ok(AgentEvent::Gap { .. }) | Err(Error::EventsLost { .. }))) => {
                    next_read = Instant::now();
                    continue;
                }
                Some(Some(Ok(_))) => continue,
                Some(Some(Err(e))) if e.needs_sign_in() => {
                    return Err(unconfirmed(operation, started, None, &e));
                }
                Some(Some(Err(_)) | None) => {
                    // The stream ended for another reason; the state still tells.
                    stream_open = false;
                    continue;
                }
                None => false,
            };
            let state = match self.status().await {
                Ok(status) => Some(status.state),
                Err(e) if e.needs_sign_in() => {
                    return Err(unconfirmed(operation, started, None, &e));
                }
                Err(_) => None,
            };
            if state.is_some_and(|s| target.reached(s)) {
                let by = if by_event {
                    Confirmed::ByEvent
                } else {
                    Confirmed::ByState
                };
                return Ok((by, unknown));
            }
            let now = Instant::now();
            if !by_event && now >= deadline {
                return Err(Error::NotConfirmed {
                    operation: operation.log_name,
                    waited: now - started,
                    state,
                });
            }
            if !by_event {
                next_read = (now + STATE_READ_EVERY).min(deadline);
            }
        }
    }
}

/// Whether another try, started after [`RETRY_PAUSE`] from `now`, begins before
/// `deadline` (a try that would begin at the deadline is not made).
fn retry_fits(now: Instant, deadline: Instant) -> bool {
    now + RETRY_PAUSE < deadline
}

/// The request was accepted (or its outcome is unknown) but the session ended before it
/// could be confirmed: not a refusal — the change may well have been applied.
fn unconfirmed(
    operation: Operation,
    started: Instant,
    state: Option<AgentState>,
    why: &Error,
) -> Error {
    tracing::info!(operation = operation.log_name, error = %why, "the session ended before the change was confirmed");
    Error::NotConfirmed {
        operation: operation.log_name,
        waited: started.elapsed(),
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_try_fits_only_when_it_begins_before_the_deadline() {
        let now = Instant::now();
        let just = Duration::from_millis(1);
        assert!(retry_fits(now, now + RETRY_PAUSE + just));
        assert!(
            !retry_fits(now, now + RETRY_PAUSE),
            "it would begin at the deadline"
        );
        assert!(!retry_fits(now, now + RETRY_PAUSE - just));
        assert!(!retry_fits(now, now));
        assert!(!retry_fits(now + just, now), "past the deadline");
    }
}
