//! The long-poll pump behind [`Agent::events`](crate::Agent::events).
//!
//! One pump per agent polls the gateway with the documented cadence — again 200 ms after
//! each answer, a request timeout longer than the gateway's hold, backoff on transport
//! errors and on unexpected return codes (never a busy loop), a short tolerance for
//! `000-003` while a Guid rotates, asking for the current Guid after a poll whose answer
//! was lost (it may have carried a rotated one) — and fans each event out to every open
//! stream. It stops when the last stream is dropped, or ends every stream with the typed
//! error when the session is gone. After a poll whose answer was lost (it may have
//! carried an event) it reads the agent's state and reports [`AgentEvent::Gap`].
//!
//! Whether a pump runs is decided under one lock shared by the agent's clones and the
//! pump itself, so a stream opened while the pump ends either joins it before its end
//! (and receives the end) or starts a new pump.
//!
//! The pump polls a [`Source`]: the agent, or a script in this module's tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::{Disposition, Error, ErrorChain, RetCode};
use crate::events::AgentEvent;
use crate::state::AgentState;

/// What the pump polls.
pub(crate) trait Source: Clone + Send + Sync + 'static {
    /// The agent's ID, for logs.
    fn agent_id(&self) -> u32;
    /// The longest pause between failed polls (within the Guid's grace).
    fn backoff_max(&self) -> Duration;
    /// One poll: `Ok(None)` when the gateway held it and no event came.
    fn poll(&self) -> impl Future<Output = Result<Option<AgentEvent>, Error>> + Send;
    /// Asks for the current Guid after a lost answer; whether to try that again first.
    fn refresh(&self) -> impl Future<Output = bool> + Send;
    /// The agent's state, if it can be read.
    fn state(&self) -> impl Future<Output = Option<AgentState>> + Send;
}

/// Pause after each poll answer before the next poll (the vendor recommends 200–500 ms).
pub(crate) const REPOLL: Duration = Duration::from_millis(200);
/// First pause after a failed poll.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// The longest pause while the gateway answers `000-004` (switching over): a switch-over
/// ends within seconds, and the session is lost or back only when it has; doubling up
/// to the usual maximum would leave the agent signed out for seconds after it ended.
const SWITCHOVER_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Consecutive `000-003` answers tolerated while a Guid rotates (the vendor's own console
/// tolerates five).
const NO_PERMISSION_TOLERANCE: u32 = 5;
/// How long transport failures may last before the stream gives up: by then the gateway
/// has signed the agent out (2 minutes without a poll).
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(120);
/// Events an agent's streams buffer before a slow reader loses some
/// ([`Error::EventsLost`]). The buffer is allocated whole when the first stream opens
/// (about 40 bytes a slot; each event is allocated once and shared by the streams), so
/// it is sized for what an agent produces — a handful of events per state change — not
/// for a reader that stops reading.
pub(crate) const EVENT_BUFFER: usize = 32;

/// Why the pump stopped for good (cloneable, so every stream gets its own error).
#[derive(Debug, Clone)]
enum End {
    Gateway {
        code: RetCode,
        message: String,
    },
    Unavailable(String),
    /// The TLS handshake failed (the text is its cause's chain).
    Tls(String),
    SignedOut,
}

impl End {
    fn into_error(self) -> Error {
        match self {
            End::Gateway { code, message } => Error::Gateway {
                operation: ccgw_client::operations::GET_AGENT_EVENT.log_name,
                code,
                message,
            },
            End::Unavailable(reason) => Error::EventsUnavailable { reason },
            End::Tls(reason) => Error::Tls(reason.into()),
            End::SignedOut => Error::HandleSignedOut {
                operation: ccgw_client::operations::GET_AGENT_EVENT.log_name,
            },
        }
    }
}

/// What the pump hands its streams; each is allocated once and shared through an
/// `Arc`, so a slot of the buffer is a pointer, not an event.
#[derive(Debug, Clone)]
enum Item {
    Event(AgentEvent),
    End(End),
}

/// The running poller of one agent: present in the agent's [`PumpSlot`] exactly while
/// its task runs.
#[derive(Debug)]
pub(crate) struct Pump {
    tx: broadcast::Sender<Arc<Item>>,
    id: u64,
    /// Ends the pump at once, even in the middle of a held poll.
    stop: Arc<tokio::sync::Notify>,
}

/// Where an agent (and its clones) keep their pump.
pub(crate) type PumpSlot = Arc<Mutex<Option<Pump>>>;

fn lock(slot: &PumpSlot) -> std::sync::MutexGuard<'_, Option<Pump>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stream of `source`'s events: joins the pump in `pump` or starts one. Without a
/// tokio runtime, the returned stream only reports that.
pub(crate) fn subscribe<S: Source>(pump: &PumpSlot, source: &S) -> EventStream {
    let mut slot = lock(pump);
    if let Some(pump) = slot.as_ref() {
        return EventStream::new(pump.tx.subscribe());
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return EventStream::failed("no tokio runtime to poll events on");
    };
    let (tx, rx) = broadcast::channel(EVENT_BUFFER);
    let id = next_id();
    let stop = Arc::new(tokio::sync::Notify::new());
    *slot = Some(Pump {
        tx: tx.clone(),
        id,
        stop: Arc::clone(&stop),
    });
    let guard = Running {
        slot: Arc::clone(pump),
        id,
    };
    let source = source.clone();
    runtime.spawn(async move {
        tokio::select! {
            () = run(source, tx, guard) => {}
            // Dropping `run` drops its place in the slot and its sender: every stream ends.
            () = stop.notified() => {}
        }
    });
    EventStream::new(rx)
}

/// Stops the pump in `slot` at once (its streams end without an error); the next
/// [`subscribe`] starts a new one.
pub(crate) fn stop(slot: &PumpSlot) {
    if let Some(pump) = lock(slot).as_ref() {
        pump.stop.notify_one();
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The pump task's place in the slot: it leaves it when the task ends, however it ends
/// (returned, aborted with its runtime, panicked).
struct Running {
    slot: PumpSlot,
    id: u64,
}

impl Running {
    /// Whether the pump should stop because nobody listens; if so it has left the slot.
    fn leave_if_unheard(&self, tx: &broadcast::Sender<Arc<Item>>) -> bool {
        let mut slot = lock(&self.slot);
        if tx.receiver_count() > 0 {
            return false;
        }
        self.leave(&mut slot);
        true
    }

    /// Ends every open stream with `end`; no stream can join after it.
    fn end(&self, tx: &broadcast::Sender<Arc<Item>>, end: End) {
        let mut slot = lock(&self.slot);
        let _ = tx.send(Arc::new(Item::End(end)));
        self.leave(&mut slot);
    }

    /// Empties the slot if it still holds this pump (not a newer one).
    fn leave(&self, slot: &mut Option<Pump>) {
        if slot.as_ref().is_some_and(|p| p.id == self.id) {
            *slot = None;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut slot = lock(&self.slot);
        self.leave(&mut slot);
    }
}

async fn run<S: Source>(agent: S, tx: broadcast::Sender<Arc<Item>>, running: Running) {
    let _open = crate::metrics::Open::new(crate::metrics::EVENT_STREAMS);
    // Within the Guid's grace (see `Config::guid_grace`), never below the first pause.
    let mut spell = Spell::new(agent.backoff_max().max(BACKOFF_MIN));
    loop {
        if running.leave_if_unheard(&tx) {
            return;
        }
        if spell.resync {
            if agent.refresh().await {
                // Not refreshed: no poll (it may rotate the Guid again) until it is.
                if let Some(reason) = given_up(&mut spell.failing_since) {
                    running.end(&tx, End::Unavailable(reason));
                    return;
                }
                tokio::time::sleep(spell.back_off()).await;
                continue;
            }
            spell.resync = false;
            let state = agent.state().await;
            let _ = tx.send(Arc::new(Item::Event(AgentEvent::Gap { state })));
        }
        match agent.poll().await {
            Ok(event) => {
                spell = Spell::new(spell.backoff_max);
                if let Some(event) = event {
                    let _ = tx.send(Arc::new(Item::Event(event)));
                }
                tokio::time::sleep(REPOLL).await;
            }
            Err(error) => match spell.failed(error, agent.agent_id()) {
                Next::Pause(pause) => tokio::time::sleep(pause).await,
                Next::End(end) => {
                    running.end(&tx, end);
                    return;
                }
            },
        }
    }
}

/// What the pump knows of the polls that failed since the last one that did not.
struct Spell {
    backoff: Duration,
    backoff_max: Duration,
    /// Consecutive `000-003` answers.
    no_permission: u32,
    failing_since: Option<Instant>,
    /// Set when a poll's answer was lost in transit: it may have carried a rotated Guid
    /// or an event, so the next round first asks the gateway for the current Guid and
    /// reads the state.
    resync: bool,
}

/// What the pump does after a failed poll.
enum Next {
    Pause(Duration),
    End(End),
}

impl Spell {
    fn new(backoff_max: Duration) -> Spell {
        Spell {
            backoff: BACKOFF_MIN,
            backoff_max,
            no_permission: 0,
            failing_since: None,
            resync: false,
        }
    }

    /// The pause before the next try; the one after it doubles, up to the maximum.
    fn back_off(&mut self) -> Duration {
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(self.backoff_max);
        pause
    }

    /// After a poll of agent `agent_id` failed with `error`: pause, or end the streams.
    fn failed(&mut self, error: Error, agent_id: u32) -> Next {
        match (error.disposition(), error) {
            (_, Error::HandleSignedOut { .. }) => Next::End(End::SignedOut),
            (Disposition::TakeOver, Error::Gateway { code, message, .. }) => {
                // 000-003: tolerated a few times while a Guid rotates.
                self.no_permission += 1;
                if self.no_permission >= NO_PERMISSION_TOLERANCE {
                    return Next::End(End::Gateway { code, message });
                }
                Next::Pause(BACKOFF_MIN)
            }
            (
                Disposition::SignInAgain | Disposition::FixConfiguration,
                Error::Gateway { code, message, .. },
            ) => {
                // 100-006 (the session is gone), 000-001 (events are pushed, not polled).
                Next::End(End::Gateway { code, message })
            }
            (_, Error::Tls(cause)) => {
                // An untrusted certificate (a gateway that came back with another CA): no
                // retry mends it.
                let cause: &(dyn std::error::Error + 'static) = &*cause;
                Next::End(End::Tls(ErrorChain(cause).to_string()))
            }
            (
                _,
                Error::Gateway {
                    code: RetCode::SwitchingOver,
                    ..
                },
            ) => {
                let pause = self.back_off().min(SWITCHOVER_BACKOFF_MAX);
                tracing::debug!(agent_id, ?pause, "the gateway is switching over (000-004)");
                Next::Pause(pause)
            }
            (_, e @ Error::Gateway { .. }) => {
                // Not a reason to stop, nor to hammer the gateway (000-007 answers that).
                tracing::warn!(agent_id, error = %ErrorChain(&e), "event poll refused; backing off");
                Next::Pause(self.back_off())
            }
            (_, e) => {
                self.resync = e.answer_may_be_lost();
                if let Some(reason) = given_up(&mut self.failing_since) {
                    let reason = format!("{reason}: {}", ErrorChain(&e));
                    return Next::End(End::Unavailable(reason));
                }
                tracing::warn!(agent_id, error = %ErrorChain(&e), "event poll failed; backing off");
                Next::Pause(self.back_off())
            }
        }
    }
}

/// Starts the clock of a failure spell; after [`UNREACHABLE_LIMIT`] of it, the reason
/// to give up (by then the gateway has signed the agent out).
fn given_up(failing_since: &mut Option<Instant>) -> Option<String> {
    let since = *failing_since.get_or_insert_with(Instant::now);
    (since.elapsed() >= UNREACHABLE_LIMIT)
        .then(|| format!("events could not be polled for {UNREACHABLE_LIMIT:?}"))
}

/// The events of one agent, oldest first (see [`Agent::events`](crate::Agent::events)).
///
/// Implements [`Stream`]; [`EventStream::next`] reads it without other crates. After an
/// error that ends the session (e.g. `100-006`) the stream ends.
pub struct EventStream {
    inner: Option<BroadcastStream<Arc<Item>>>,
    failure: Option<String>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("ended", &self.inner.is_none())
            .finish()
    }
}

impl EventStream {
    /// The pause after each poll's answer before the next poll (the vendor recommends
    /// 200–500 ms): the protocol's own pacing, which no client can go below.
    pub const POLL_PAUSE: Duration = REPOLL;

    fn new(rx: broadcast::Receiver<Arc<Item>>) -> Self {
        Self {
            inner: Some(BroadcastStream::new(rx)),
            failure: None,
        }
    }

    fn failed(reason: &str) -> Self {
        Self {
            inner: None,
            failure: Some(reason.to_owned()),
        }
    }

    /// The next event; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<AgentEvent, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for EventStream {
    type Item = Result<AgentEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(reason) = self.failure.take() {
            return Poll::Ready(Some(Err(Error::EventsUnavailable { reason })));
        }
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.inner = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(item))) => match Arc::unwrap_or_clone(item) {
                Item::Event(event) => Poll::Ready(Some(Ok(event))),
                Item::End(end) => {
                    self.inner = None;
                    Poll::Ready(Some(Err(end.into_error())))
                }
            },
            Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(count)))) => {
                Poll::Ready(Some(Err(Error::EventsLost { count })))
            }
        }
    }
}

#[cfg(test)]
#[path = "pump_tests.rs"]
mod tests;
