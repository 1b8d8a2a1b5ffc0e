//! A supervised agent session: one agent kept signed in, its events flowing, through
//! forced sign-outs, orphaned Guids and outages — the model is kube-rs's `watcher`, a
//! stream that recovers by itself and reports what it did as stream items.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::agent::{Agent, SignedInBy};
use crate::client::GatewayClient;
use crate::confirm::Converged;
use crate::error::{Disposition, Error};
use crate::events::AgentEvent;
use crate::signin::{IfSignedIn, SignIn};
use crate::values::{AgentId, RestCause, RestDuration};

/// Items buffered for a slow reader of a supervised session before its event pump
/// starts to drop events (reported as [`SessionEvent::EventsMissed`]).
const CAPACITY: usize = 256;

/// How a supervised session retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Supervision {
    /// First pause after a failed sign-in (default 500 ms); doubled after each failure.
    pub backoff_min: Duration,
    /// Longest pause (default 30 s). Each pause is drawn between half of it and all of
    /// it (jitter), so many agents that lost their sessions together do not come back
    /// in step.
    pub backoff_max: Duration,
    /// Consecutive failed sign-ins after which the session gives up (`None`, the
    /// default: never, as long as the failures are passing ones). A refusal that cannot
    /// pass (wrong password, `100-015`, …) gives up at once.
    pub max_attempts: Option<u32>,
    /// How many times the session may be taken back after another holder took it over
    /// ([`LostBecause::TakenOver`]; default 0: the supervision reports it and stops, so
    /// two supervisors of one agent do not take it from each other for ever).
    pub take_back: u32,
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_attempts: None,
            take_back: 0,
        }
    }
}

impl Supervision {
    /// The default with another backoff range.
    #[must_use]
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// The default, taking the session back at most `times` times after another holder
    /// took it over (see [`LostBecause::TakenOver`]).
    #[must_use]
    pub fn take_back(mut self, times: u32) -> Self {
        self.take_back = times;
        self
    }

    /// The default, giving up after `attempts` consecutive failed sign-ins.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }
}

/// Why a supervised session lost its gateway session.
#[derive(Debug)]
#[non_exhaustive]
pub enum LostBecause {
    /// Signed out by someone else: `100-006` (a supervisor's forced sign-out, the
    /// gateway's inactivity sign-out).
    SignedOut(Error),
    /// The gateway kept refusing the session's Guid (`000-003` past the rotation
    /// tolerance) long after it last accepted it: the Guid expired, the session is
    /// orphaned and will be taken over.
    GuidRefused(Error),
    /// The gateway refused the session's Guid (`000-003`) sooner after it last accepted
    /// it than a Guid can expire (the client's `guid_grace`): another holder took the
    /// session over with a forced sign-in. Not taken back unless
    /// [`Supervision::take_back`] allows it; otherwise the supervision stops after
    /// reporting it.
    TakenOver(Error),
    /// Events could not be polled for as long as the gateway keeps a session.
    Unreachable(Error),
}

impl LostBecause {
    fn of(error: Error) -> LostBecause {
        match error.disposition() {
            Disposition::TakeOver => LostBecause::GuidRefused(error),
            Disposition::SignInAgain if matches!(error, Error::EventsUnavailable { .. }) => {
                LostBecause::Unreachable(error)
            }
            _ => LostBecause::SignedOut(error),
        }
    }

    /// The `reason` label of [`metrics::SESSIONS_LOST`](crate::metrics::SESSIONS_LOST).
    fn label(&self) -> &'static str {
        match self {
            LostBecause::SignedOut(_) => "signed_out",
            LostBecause::GuidRefused(_) => "guid_refused",
            LostBecause::TakenOver(_) => "taken_over",
            LostBecause::Unreachable(_) => "unreachable",
        }
    }

    /// The error that ended the session.
    pub fn error(&self) -> &Error {
        match self {
            LostBecause::SignedOut(e)
            | LostBecause::GuidRefused(e)
            | LostBecause::TakenOver(e)
            | LostBecause::Unreachable(e) => e,
        }
    }
}

/// One item of a supervised session: a gateway event, or what the supervision did.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionEvent {
    /// An event of the agent.
    Event(AgentEvent),
    /// The first sign-in succeeded (`by`: a plain sign-in or a takeover).
    SignedIn {
        /// How.
        by: SignedInBy,
    },
    /// The session was lost; the supervision signs in again — except after
    /// [`LostBecause::TakenOver`] beyond [`Supervision::take_back`], when it stops.
    Lost(LostBecause),
    /// Signed in again after a loss; events flow again.
    Recovered {
        /// How (a takeover when the gateway still held the lost session).
        by: SignedInBy,
        /// Time from the lost session's first failed call to the new session.
        after: Duration,
    },
    /// After a recovery, the agent was driven back to the state it was wanted in
    /// ([`SupervisedAgent::ensure_rest`] for the rest time left, or
    /// [`SupervisedAgent::ensure_idle`]): how that went.
    Restored(Result<Converged, Error>),
    /// A slow reader missed this many events.
    EventsMissed {
        /// How many.
        count: u64,
    },
    /// The supervision stopped for good; the stream ends after this item.
    GaveUp(Error),
}

/// One agent kept signed in with its events flowing (see [`SessionEvent`] for what it
/// reports). It signs in with [`IfSignedIn::TakeOver`], so a session the gateway still
/// holds — a Guid this client lost, a previous run of the same program — is taken over.
///
/// Dropping it stops the supervision at once: its task and its event pump end, even in
/// the middle of a held poll (the gateway signs the agent out after 2 minutes without a
/// poll); [`sign_out`](Self::sign_out) stops it and signs out. Connections stay in the
/// [`GatewayClient`]'s pool.
///
/// ```no_run
/// use ccgw::{AgentId, GatewayClient, SessionEvent, SignIn, SupervisedAgent, Supervision};
///
/// # async fn demo(client: GatewayClient) -> Result<(), ccgw::Error> {
/// let mut session = SupervisedAgent::start(&client, AgentId::new(101)?, SignIn::new("pw101", "40101"), Supervision::default());
/// while let Some(item) = session.next().await {
///     match item {
///         SessionEvent::Event(event) => println!("{}", event.event_type()),
///         SessionEvent::Lost(why) => eprintln!("session lost: {}", why.error()),
///         SessionEvent::Recovered { by, after } => eprintln!("back after {after:?} ({by:?})"),
///         SessionEvent::GaveUp(e) => return Err(e),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SupervisedAgent {
    id: AgentId,
    items: mpsc::Receiver<SessionEvent>,
    current: Arc<Mutex<Option<Agent>>>,
    /// The state the caller last drove the agent to, restored after a recovery.
    wanted: Arc<Mutex<Option<Wanted>>>,
    /// Whether a sign-in is under way (its outcome unknown until it answers).
    signing_in: Arc<AtomicBool>,
    client: GatewayClient,
    sign_in: SignIn,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SupervisedAgent {
    /// Starts supervising agent `id`: signs it in (taking an existing session over)
    /// and follows its events. Needs a tokio runtime; without one the stream reports
    /// [`SessionEvent::GaveUp`] at once.
    pub fn start(
        client: &GatewayClient,
        id: AgentId,
        sign_in: SignIn,
        supervision: Supervision,
    ) -> SupervisedAgent {
        let (tx, items) = mpsc::channel(CAPACITY);
        let current = Arc::new(Mutex::new(None));
        let wanted = Arc::new(Mutex::new(None));
        let signing_in = Arc::new(AtomicBool::new(false));
        let sign_in = sign_in.if_signed_in(IfSignedIn::TakeOver);
        let task = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Some(runtime.spawn(supervise(
                client.clone(),
                id,
                sign_in.clone(),
                supervision,
                tx,
                Shared {
                    current: Arc::clone(&current),
                    wanted: Arc::clone(&wanted),
                    signing_in: Arc::clone(&signing_in),
                },
            ))),
            Err(_) => {
                let _ = tx.try_send(SessionEvent::GaveUp(Error::EventsUnavailable {
                    reason: "no tokio runtime to supervise the session on".to_owned(),
                }));
                None
            }
        };
        SupervisedAgent {
            id,
            items,
            current,
            wanted,
            signing_in,
            client: client.clone(),
            sign_in,
            task,
        }
    }

    /// The agent's ID.
    pub fn id(&self) -> AgentId {
        self.id
    }

    /// The next item; `None` once the supervision has stopped.
    pub async fn next(&mut self) -> Option<SessionEvent> {
        self.items.recv().await
    }

    /// The handle of the current session, for operations (`None` while signed out
    /// between a loss and its recovery). A handle kept across a recovery answers
    /// [`Error::HandleSignedOut`] or `000-003`; take a new one.
    pub fn agent(&self) -> Option<Agent> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drives the agent into rest as [`Agent::ensure_rest`] does, and remembers it: after
    /// a recovery (a take-over, a failover) the new session is driven back into rest for
    /// the rest time left, reported as [`SessionEvent::Restored`]. Fails with
    /// [`Error::HandleSignedOut`] between a loss and its recovery (nothing is sent).
    pub async fn ensure_rest(
        &self,
        duration: RestDuration,
        cause: RestCause,
        wait: Duration,
    ) -> Result<Converged, Error> {
        let until = Instant::now() + Duration::from(duration);
        self.want(Wanted::Rest { cause, until });
        self.current_or_not_signed_in()?
            .ensure_rest(duration, cause, wait)
            .await
    }

    /// Drives the agent to idle as [`Agent::ensure_idle`] does, and remembers it (see
    /// [`ensure_rest`](Self::ensure_rest)).
    pub async fn ensure_idle(&self, wait: Duration) -> Result<Converged, Error> {
        self.want(Wanted::Idle);
        self.current_or_not_signed_in()?.ensure_idle(wait).await
    }

    fn want(&self, wanted: Wanted) {
        *self.wanted.lock().unwrap_or_else(PoisonError::into_inner) = Some(wanted);
    }

    fn current_or_not_signed_in(&self) -> Result<Agent, Error> {
        self.agent().ok_or(Error::HandleSignedOut {
            operation: ccgw_client::operations::LOGIN.log_name,
        })
    }

    /// Stops the supervision and signs the agent out, settled as
    /// [`Agent::sign_out`] settles it. Called between a loss and its recovery, it stops
    /// the recovery; if a sign-in was under way then (the gateway may have signed the
    /// agent in without the answer arriving), it takes that session over and signs it
    /// out, so that nothing is left signed in.
    pub async fn sign_out(mut self) -> Result<(), Error> {
        self.stop();
        if let Some(agent) = self.agent() {
            return agent.sign_out().await;
        }
        if !self.signing_in.load(Ordering::SeqCst) {
            return Ok(());
        }
        tracing::info!(
            agent_id = self.id.get(),
            "a sign-in was under way; taking its session over to sign it out"
        );
        match self.client.force_sign_in(self.id, &self.sign_in).await {
            Ok(agent) => agent.sign_out().await,
            Err(e) if matches!(e.retcode(), Some(crate::RetCode::NotSignedIn)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Ends the supervision's task and the current session's event pump, now.
    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(agent) = self.agent() {
            crate::events::stop(&agent);
        }
    }
}

impl Drop for SupervisedAgent {
    /// Stops the supervision without signing out (dropping cannot wait for the gateway):
    /// the agent stays signed in until the gateway's inactivity sign-out (2 minutes
    /// without a poll). [`sign_out`](SupervisedAgent::sign_out) is what ends a session.
    fn drop(&mut self) {
        if self.task.is_some() && self.agent().is_some() {
            tracing::warn!(
                agent_id = self.id.get(),
                "supervised agent dropped without sign_out: it stays signed in until the gateway signs it out for inactivity"
            );
        }
        self.stop();
    }
}

/// A pause between `min` and `max`: exponential in `attempt`, with jitter.
fn backoff(supervision: &Supervision, attempt: u32) -> Duration {
    let exp = supervision
        .backoff_min
        .saturating_mul(2u32.saturating_pow(attempt.min(16)));
    let top = exp.min(supervision.backoff_max);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let share = (hasher.finish() % 1000) as u32;
    top / 2 + top / 2 * share / 1000
}

/// A state the caller drove a supervised agent to.
#[derive(Debug, Clone, Copy)]
enum Wanted {
    Rest { cause: RestCause, until: Instant },
    Idle,
}

/// How long a restored state may take to converge.
const RESTORE_WAIT: Duration = Duration::from_secs(30);

impl Wanted {
    /// Drives `agent` back to this state; `None` when nothing is left to restore (a rest
    /// whose time is up).
    async fn restore(self, agent: &Agent) -> Option<Result<Converged, Error>> {
        match self {
            Wanted::Rest { cause, until } => {
                let left = until.saturating_duration_since(Instant::now()).as_secs();
                let left = RestDuration::from_secs(u32::try_from(left).ok()?).ok()?;
                Some(agent.ensure_rest(left, cause, RESTORE_WAIT).await)
            }
            Wanted::Idle => Some(agent.ensure_idle(RESTORE_WAIT).await),
        }
    }
}

/// What the supervision shares with its handle.
struct Shared {
    current: Arc<Mutex<Option<Agent>>>,
    wanted: Arc<Mutex<Option<Wanted>>>,
    signing_in: Arc<AtomicBool>,
}

async fn supervise(
    client: GatewayClient,
    id: AgentId,
    sign_in: SignIn,
    supervision: Supervision,
    tx: mpsc::Sender<SessionEvent>,
    shared: Shared,
) {
    let Shared {
        current,
        wanted,
        signing_in,
    } = shared;
    let set_current = |agent: Option<Agent>| {
        *current.lock().unwrap_or_else(PoisonError::into_inner) = agent;
    };
    let mut lost_at: Option<Instant> = None;
    let mut attempt = 0u32;
    let mut take_backs = supervision.take_back;
    loop {
        signing_in.store(true, Ordering::SeqCst);
        let signed_in = client.sign_in_reporting(id, &sign_in).await;
        if let Ok((agent, _)) = &signed_in {
            set_current(Some(agent.clone()));
        }
        signing_in.store(false, Ordering::SeqCst);
        let (agent, by) = match signed_in {
            Ok(signed_in) => signed_in,
            Err(e) => {
                attempt += 1;
                let passing = matches!(
                    e.disposition(),
                    Disposition::Resend
                        | Disposition::BackOff
                        | Disposition::SettleUnknown
                        | Disposition::SignInAgain
                        | Disposition::TakeOver
                );
                if !passing || supervision.max_attempts.is_some_and(|max| attempt >= max) {
                    let _ = tx.send(SessionEvent::GaveUp(e)).await;
                    return;
                }
                tracing::info!(agent_id = id.get(), attempt, error = %e, "sign-in failed; trying again");
                tokio::time::sleep(backoff(&supervision, attempt)).await;
                continue;
            }
        };
        attempt = 0;
        let signed_in = crate::metrics::Open::new(crate::metrics::SESSIONS);
        let item = match lost_at.take() {
            None => SessionEvent::SignedIn { by },
            Some(at) => SessionEvent::Recovered {
                by,
                after: at.elapsed(),
            },
        };
        let recovered = matches!(item, SessionEvent::Recovered { .. });
        if tx.send(item).await.is_err() {
            return;
        }
        let mut events = agent.events();
        let restore = *wanted.lock().unwrap_or_else(PoisonError::into_inner);
        if recovered
            && let Some(wanted) = restore
            && let Some(outcome) = wanted.restore(&agent).await
        {
            tracing::info!(
                agent_id = id.get(),
                ok = outcome.is_ok(),
                "wanted state restored after the recovery"
            );
            if tx.send(SessionEvent::Restored(outcome)).await.is_err() {
                return;
            }
        }
        let lost = loop {
            let item = match events.next().await {
                Some(Ok(event)) => SessionEvent::Event(event),
                Some(Err(Error::EventsLost { count })) => SessionEvent::EventsMissed { count },
                Some(Err(e)) if e.needs_sign_in() => break LostBecause::of(e),
                Some(Err(e))
                    if matches!(
                        e.disposition(),
                        Disposition::FixConfiguration | Disposition::DoNotResend
                    ) =>
                {
                    set_current(None);
                    let _ = tx.send(SessionEvent::GaveUp(e)).await;
                    return;
                }
                Some(Err(e)) => {
                    // Not a lost session (no runtime cannot happen here): open again.
                    tracing::debug!(agent_id = id.get(), error = %e, "event stream ended; opening it again");
                    events = agent.events();
                    continue;
                }
                None => {
                    tokio::time::sleep(supervision.backoff_min).await;
                    events = agent.events();
                    continue;
                }
            };
            if tx.send(item).await.is_err() {
                return;
            }
        };
        drop(events);
        drop(signed_in);
        let lost = match lost {
            LostBecause::GuidRefused(e) if agent.accepted_within(client.inner.guid_grace) => {
                LostBecause::TakenOver(e)
            }
            other => other,
        };
        let stop = matches!(lost, LostBecause::TakenOver(_)) && take_backs == 0;
        if matches!(lost, LostBecause::TakenOver(_)) {
            take_backs = take_backs.saturating_sub(1);
        }
        crate::metrics::lost(lost.label());
        set_current(None);
        // The outage began with the first failed call, not when the loss was noticed.
        let now = Instant::now();
        lost_at = Some(
            agent
                .failing_for()
                .and_then(|d| now.checked_sub(d))
                .unwrap_or(now),
        );
        if stop {
            tracing::warn!(agent_id = id.get(), error = %lost.error(), "another holder took the session over; not taking it back");
            let _ = tx.send(SessionEvent::Lost(lost)).await;
            return;
        }
        tracing::info!(agent_id = id.get(), error = %lost.error(), "session lost; signing in again");
        if tx.send(SessionEvent::Lost(lost)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetCode;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_in_its_upper_half() {
        let supervision =
            Supervision::default().backoff(Duration::from_secs(1), Duration::from_secs(60));
        for attempt in 0..=20 {
            let top = Duration::from_secs(1 << attempt.min(6)).min(Duration::from_secs(60));
            let pauses: Vec<Duration> = (0..50).map(|_| backoff(&supervision, attempt)).collect();
            for pause in &pauses {
                assert!(
                    (top / 2..=top).contains(pause),
                    "attempt {attempt}: {pause:?} outside {:?}..={top:?}",
                    top / 2
                );
            }
            // Jitter: agents that failed together do not come back in step.
            let spread = *pauses.iter().max().expect("50") - *pauses.iter().min().expect("50");
            assert!(spread >= top / 10, "attempt {attempt}: spread {spread:?}");
        }
    }

    #[test]
    fn a_lost_session_says_why_in_its_metric_label() {
        let gateway = |code| Error::Gateway {
            operation: ccgw_client::operations::GET_AGENT_EVENT.log_name,
            code,
            message: String::new(),
        };
        let cases = [
            (gateway(RetCode::NotSignedIn), "signed_out"),
            (gateway(RetCode::NoPermission), "guid_refused"),
            (
                Error::EventsUnavailable {
                    reason: "events could not be polled".into(),
                },
                "unreachable",
            ),
        ];
        for (error, label) in cases {
            let kind = error.kind();
            let lost = LostBecause::of(error);
            assert_eq!(lost.label(), label);
            assert_eq!(lost.error().kind(), kind);
        }
    }
}
