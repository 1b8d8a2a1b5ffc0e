//! A supervised agent session: one agent kept signed in, its events flowing, through
//! forced sign-outs, orphaned Guids and outages — the model is kube-rs's `watcher`, a
//! stream that recovers by itself and reports what it did as stream items.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::agent::Agent;
use crate::client::{GatewayClient, Supervision};
use crate::confirm::Converged;
use crate::error::{Disposition, Error};
use crate::events::AgentEvent;
use crate::signin::SignIn;
use crate::values::{AgentId, RestCause, RestDuration};

/// Items buffered for a slow reader of a supervised session before its event pump
/// starts to drop events (reported as [`SessionEvent::EventsMissed`]).
const CAPACITY: usize = 256;

/// Why a supervised session lost its gateway session.
#[derive(Debug)]
enum LostBecause {
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
    /// [`Config::take_back`](crate::Config::take_back) allows it; otherwise the
    /// supervision stops after reporting it.
    TakenOver(Error),
    /// Events could not be polled for as long as the gateway keeps a session.
    Unreachable(Error),
}

impl LostBecause {
    /// The item that reports it.
    fn into_item(self) -> SessionEvent {
        match self {
            LostBecause::TakenOver(e) => SessionEvent::TakenOver(e),
            LostBecause::SignedOut(e)
            | LostBecause::GuidRefused(e)
            | LostBecause::Unreachable(e) => SessionEvent::Lost(e),
        }
    }

    fn of(error: Error) -> LostBecause {
        match error.disposition() {
            Disposition::TakeOver => LostBecause::GuidRefused(error),
            Disposition::SignInAgain if matches!(error, Error::EventsUnavailable { .. }) => {
                LostBecause::Unreachable(error)
            }
            _ => LostBecause::SignedOut(error),
        }
    }

    /// The `reason` label of the `ccgw_sessions_lost_total` metric.
    fn label(&self) -> &'static str {
        match self {
            LostBecause::SignedOut(_) => "signed_out",
            LostBecause::GuidRefused(_) => "guid_refused",
            LostBecause::TakenOver(_) => "taken_over",
            LostBecause::Unreachable(_) => "unreachable",
        }
    }

    /// The error that ended the session.
    #[cfg(test)]
    fn error(&self) -> &Error {
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
    /// The first sign-in succeeded.
    SignedIn {
        /// Whether it took an existing session over.
        took_over: bool,
    },
    /// The session was lost — signed out by someone else (`100-006`), its Guid expired
    /// (`000-003` long after the gateway last accepted it), or events could not be polled
    /// for as long as the gateway keeps a session ([`Error::EventsUnavailable`]); the
    /// supervision signs in again.
    Lost(Error),
    /// Another holder took the session over with a forced sign-in (`000-003` sooner after
    /// the gateway last accepted the Guid than a Guid can expire). The supervision takes
    /// it back only as often as [`Config::take_back`](crate::Config::take_back) allows;
    /// otherwise it stops after this item.
    TakenOver(Error),
    /// Signed in again after a loss; events flow again.
    Recovered {
        /// Whether it took a session over (the gateway still held the lost one).
        took_over: bool,
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
/// reports). It signs in with [`SignIn::take_over`], so a session the gateway still
/// holds — a Guid this client lost, a previous run of the same program — is taken over.
/// It retries as the client's [`Config`](crate::Config) says (`backoff_min`,
/// `backoff_max`, `max_attempts`, `take_back`).
///
/// Dropping it stops the supervision at once: its task and its event pump end, even in
/// the middle of a held poll (the gateway signs the agent out after 2 minutes without a
/// poll); [`sign_out`](Self::sign_out) stops it and signs out. Connections stay in the
/// [`GatewayClient`]'s pool.
///
/// ```no_run
/// use ccgw::{AgentId, GatewayClient, SessionEvent, SignIn, SupervisedAgent};
///
/// # async fn demo(client: GatewayClient) -> Result<(), ccgw::Error> {
/// let mut session = SupervisedAgent::start(&client, AgentId::new(101)?, SignIn::new("pw101", "40101"));
/// while let Some(item) = session.next().await {
///     match item {
///         SessionEvent::Event(event) => println!("{}", event.event_type()),
///         SessionEvent::Lost(why) => eprintln!("session lost: {}", why.chain()),
///         SessionEvent::Recovered { after, .. } => eprintln!("back after {after:?}"),
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
    pub fn start(client: &GatewayClient, id: AgentId, sign_in: SignIn) -> SupervisedAgent {
        let (tx, items) = mpsc::channel(CAPACITY);
        let current = Arc::new(Mutex::new(None));
        let wanted = Arc::new(Mutex::new(None));
        let signing_in = Arc::new(AtomicBool::new(false));
        let sign_in = sign_in.take_over(true);
        let task = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Some(runtime.spawn(supervise(
                client.clone(),
                id,
                sign_in.clone(),
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

    /// Drives the agent into rest as [`Change::ensured`](crate::Change::ensured) does, and remembers it: after
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
            .rest(duration, cause)
            .ensured(wait)
            .await
    }

    /// Drives the agent to idle as [`Agent::cancel_rest`]'s
    /// [`ensured`](crate::Change::ensured) does, and remembers it (see
    /// [`ensure_rest`](Self::ensure_rest)).
    pub async fn ensure_idle(&self, wait: Duration) -> Result<Converged, Error> {
        self.want(Wanted::Idle);
        self.current_or_not_signed_in()?
            .cancel_rest()
            .ensured(wait)
            .await
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
            crate::pump::stop(&agent.pump);
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
                Some(agent.rest(left, cause).ensured(RESTORE_WAIT).await)
            }
            Wanted::Idle => Some(agent.cancel_rest().ensured(RESTORE_WAIT).await),
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
    tx: mpsc::Sender<SessionEvent>,
    shared: Shared,
) {
    let supervision = client.inner.supervision;
    let mut lost_at: Option<Instant> = None;
    let mut take_backs = supervision.take_back;
    loop {
        let Some(agent) =
            sign_in_until_taken(&client, id, &sign_in, &supervision, &tx, &shared).await
        else {
            return;
        };
        let signed_in = crate::metrics::Open::new(crate::metrics::SESSIONS);
        let item = match lost_at.take() {
            None => SessionEvent::SignedIn {
                took_over: agent.took_over(),
            },
            Some(at) => SessionEvent::Recovered {
                took_over: agent.took_over(),
                after: at.elapsed(),
            },
        };
        let recovered = matches!(item, SessionEvent::Recovered { .. });
        if tx.send(item).await.is_err() {
            return;
        }
        let Some(lost) = follow(&agent, recovered, &supervision, &tx, &shared).await else {
            return;
        };
        drop(signed_in);
        let lost = match lost {
            LostBecause::GuidRefused(e) if agent.line.accepted_within(client.inner.guid_grace) => {
                LostBecause::TakenOver(e)
            }
            other => other,
        };
        let taken_over = matches!(lost, LostBecause::TakenOver(_));
        let stop = taken_over && take_backs == 0;
        if taken_over {
            take_backs = take_backs.saturating_sub(1);
        }
        crate::metrics::lost(lost.label());
        shared.set_current(None);
        // The outage began with the first failed call, not when the loss was noticed.
        let now = Instant::now();
        lost_at = Some(
            agent
                .line
                .failing_for()
                .and_then(|d| now.checked_sub(d))
                .unwrap_or(now),
        );
        let item = lost.into_item();
        if stop {
            tracing::warn!(
                agent_id = id.get(),
                "another holder took the session over; not taking it back"
            );
            let _ = tx.send(item).await;
            return;
        }
        tracing::info!(agent_id = id.get(), "session lost; signing in again");
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

impl Shared {
    fn set_current(&self, agent: Option<Agent>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = agent;
    }
}

/// Signs in until a gateway takes it, pausing between passing failures; `None` after
/// giving up (reported) or when nobody listens any more.
async fn sign_in_until_taken(
    client: &GatewayClient,
    id: AgentId,
    sign_in: &SignIn,
    supervision: &Supervision,
    tx: &mpsc::Sender<SessionEvent>,
    shared: &Shared,
) -> Option<Agent> {
    let mut attempt = 0u32;
    loop {
        shared.signing_in.store(true, Ordering::SeqCst);
        let signed_in = client.sign_in(id, sign_in).await;
        if let Ok(agent) = &signed_in {
            shared.set_current(Some(agent.clone()));
        }
        shared.signing_in.store(false, Ordering::SeqCst);
        let e = match signed_in {
            Ok(agent) => return Some(agent),
            Err(e) => e,
        };
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
            return None;
        }
        tracing::info!(agent_id = id.get(), attempt, error = %e, "sign-in failed; trying again");
        tokio::time::sleep(backoff(supervision, attempt)).await;
    }
}

/// Restores the wanted state after a recovery and hands the session's events on until
/// the session is lost; `None` when the supervision ends (gave up, or nobody listens).
async fn follow(
    agent: &Agent,
    recovered: bool,
    supervision: &Supervision,
    tx: &mpsc::Sender<SessionEvent>,
    shared: &Shared,
) -> Option<LostBecause> {
    let id = agent.id();
    let mut events = agent.events();
    let restore = *shared.wanted.lock().unwrap_or_else(PoisonError::into_inner);
    if recovered
        && let Some(wanted) = restore
        && let Some(outcome) = wanted.restore(agent).await
    {
        tracing::info!(
            agent_id = id.get(),
            ok = outcome.is_ok(),
            "wanted state restored after the recovery"
        );
        tx.send(SessionEvent::Restored(outcome)).await.ok()?;
    }
    loop {
        let item = match events.next().await {
            Some(Ok(event)) => SessionEvent::Event(event),
            Some(Err(Error::EventsLost { count })) => SessionEvent::EventsMissed { count },
            Some(Err(e)) if e.needs_sign_in() => return Some(LostBecause::of(e)),
            Some(Err(e))
                if matches!(
                    e.disposition(),
                    Disposition::FixConfiguration | Disposition::DoNotResend
                ) =>
            {
                shared.set_current(None);
                let _ = tx.send(SessionEvent::GaveUp(e)).await;
                return None;
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
        tx.send(item).await.ok()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetCode;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_in_its_upper_half() {
        let supervision = Supervision {
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_attempts: None,
            take_back: 0,
        };
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
