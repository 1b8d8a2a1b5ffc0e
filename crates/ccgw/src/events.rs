//! Typed events and the long-poll pump behind [`Agent::events`](crate::Agent::events).
//!
//! One pump per agent polls the gateway with the documented cadence — again 200 ms after
//! each answer, a request timeout longer than the gateway's hold, backoff on transport
//! errors and on unexpected return codes (never a busy loop), a short tolerance for
//! `000-003` while a Guid rotates, asking for the current Guid after a poll whose answer
//! was lost (it may have carried a rotated one) — and fans each event out to every open stream. It
//! stops when the last stream is dropped, or ends every stream with the typed error when
//! the session is gone. After a poll whose answer was lost (it may have carried an event)
//! it reads the agent's state and reports [`AgentEvent::Gap`].
//!
//! Whether a pump runs is decided under one lock shared by the agent's clones and the
//! pump itself, so a stream opened while the pump ends either joins it before its end
//! (and receives the end) or starts a new pump.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use tokio::time::Instant;

use crate::agent::{Agent, AgentState};
use crate::error::{Disposition, Error, ErrorChain, RetCode};

/// Pause after each poll answer before the next poll (the vendor recommends 200–500 ms).
pub(crate) const REPOLL: Duration = Duration::from_millis(200);
/// First pause after a failed poll.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// The longest pause of an event stream between failed polls (doubling from 500 ms);
/// shorter where the gateway's Guid grace is short (see
/// [`ClientBuilder::guid_grace`](crate::ClientBuilder::guid_grace)).
pub const EVENT_BACKOFF_MAX: Duration = Duration::from_secs(30);
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
pub const EVENT_BUFFER: usize = 32;

/// One event of the agent.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AgentEvent {
    /// `AgentState_SetRest_Success`: the agent is in rest.
    RestStarted {
        /// `content.reason`: the rest cause code as the gateway sent it.
        reason: String,
    },
    /// `AgentState_Rest_Timeout`: the requested duration has elapsed; the agent stays in rest.
    RestTimeout,
    /// `AgentState_CancelRest_Success`: rest has ended; the agent is idle.
    RestCancelled,
    /// Not an event of the gateway: a poll's answer was lost in transit, so an event may
    /// have been missed. `state` is the agent's state read right after (`None` if it
    /// could not be read); compare it with what the events so far said.
    Gap {
        /// The state read after the loss.
        state: Option<AgentState>,
    },
    /// Any other event, as sent.
    Other {
        /// `eventType`.
        event_type: String,
        /// `content` (`Null` when absent).
        content: Value,
    },
}

impl AgentEvent {
    /// The gateway's name of the event (`AgentState_SetRest_Success`, …);
    /// `ccgw_EventsMayBeMissing` for [`AgentEvent::Gap`], which is this crate's.
    pub fn event_type(&self) -> &str {
        match self {
            AgentEvent::RestStarted { .. } => "AgentState_SetRest_Success",
            AgentEvent::RestTimeout => "AgentState_Rest_Timeout",
            AgentEvent::RestCancelled => "AgentState_CancelRest_Success",
            AgentEvent::Gap { .. } => "ccgw_EventsMayBeMissing",
            AgentEvent::Other { event_type, .. } => event_type,
        }
    }

    /// Types an event as the gateway sent it (`{eventType, workNo, content, …}`). Never
    /// fails: anything unexpected becomes [`AgentEvent::Other`].
    pub fn from_json(event: Value) -> AgentEvent {
        let event_type = event
            .get("eventType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content = event.get("content").cloned().unwrap_or(Value::Null);
        match event_type {
            "AgentState_SetRest_Success" => AgentEvent::RestStarted {
                reason: match content.get("reason") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                },
            },
            "AgentState_Rest_Timeout" => AgentEvent::RestTimeout,
            "AgentState_CancelRest_Success" => AgentEvent::RestCancelled,
            other => AgentEvent::Other {
                event_type: other.to_owned(),
                content,
            },
        }
    }
}

/// Why the pump stopped for good (cloneable, so every stream gets its own error).
#[derive(Debug, Clone)]
enum End {
    Gateway { code: RetCode, message: String },
    Unavailable(String),
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

/// A stream of `agent`'s events: joins its running pump or starts one. Without a tokio
/// runtime, the returned stream only reports that.
pub(crate) fn subscribe(agent: &Agent) -> EventStream {
    let mut slot = lock(&agent.pump);
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
        slot: Arc::clone(&agent.pump),
        id,
    };
    let agent = agent.clone();
    runtime.spawn(async move {
        tokio::select! {
            () = run(agent, tx, guard) => {}
            // Dropping `run` drops its place in the slot and its sender: every stream ends.
            () = stop.notified() => {}
        }
    });
    EventStream::new(rx)
}

/// Stops `agent`'s pump at once (its streams end without an error); the next
/// [`subscribe`] starts a new one.
pub(crate) fn stop(agent: &Agent) {
    if let Some(pump) = lock(&agent.pump).as_ref() {
        pump.stop.notify_one();
    }
}

/// Whether `agent` has a pump (its task is running).
pub(crate) fn running(agent: &Agent) -> bool {
    lock(&agent.pump).is_some()
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

async fn run(agent: Agent, tx: broadcast::Sender<Arc<Item>>, running: Running) {
    let _open = crate::metrics::Open::new(crate::metrics::EVENT_STREAMS);
    // Within the Guid's grace (see `ClientBuilder::guid_grace`), never below the first pause.
    let backoff_max = agent.client.inner.event_backoff_max.max(BACKOFF_MIN);
    let mut backoff = BACKOFF_MIN;
    let mut no_permission = 0;
    let mut failing_since: Option<Instant> = None;
    // Set when a poll's answer was lost in transit: it may have carried a rotated Guid
    // or an event, so the next round first asks the gateway for the current Guid and
    // reads the state.
    let mut resync = false;
    loop {
        if running.leave_if_unheard(&tx) {
            return;
        }
        if resync {
            if agent.refresh_after_lost_answer().await {
                // Not refreshed: no poll (it may rotate the Guid again) until it is.
                if let Some(reason) = given_up(&mut failing_since) {
                    running.end(&tx, End::Unavailable(reason));
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(backoff_max);
                continue;
            }
            resync = false;
            let state = agent.status().await.ok().map(|s| s.state);
            let _ = tx.send(Arc::new(Item::Event(AgentEvent::Gap { state })));
        }
        let error = match agent.poll_once().await {
            Ok(event) => {
                backoff = BACKOFF_MIN;
                no_permission = 0;
                failing_since = None;
                if let Some(event) = event {
                    let _ = tx.send(Arc::new(Item::Event(event)));
                }
                tokio::time::sleep(REPOLL).await;
                continue;
            }
            Err(e) => e,
        };
        match (error.disposition(), error) {
            (_, Error::HandleSignedOut { .. }) => {
                running.end(&tx, End::SignedOut);
                return;
            }
            (Disposition::TakeOver, Error::Gateway { code, message, .. }) => {
                // 000-003: tolerated a few times while a Guid rotates.
                no_permission += 1;
                if no_permission >= NO_PERMISSION_TOLERANCE {
                    running.end(&tx, End::Gateway { code, message });
                    return;
                }
                tokio::time::sleep(BACKOFF_MIN).await;
            }
            (
                Disposition::SignInAgain | Disposition::FixConfiguration,
                Error::Gateway { code, message, .. },
            ) => {
                // 100-006 (the session is gone), 000-001 (events are pushed, not polled).
                running.end(&tx, End::Gateway { code, message });
                return;
            }
            (_, e @ Error::Gateway { .. }) => {
                // Not a reason to stop, nor to hammer the gateway (000-007 answers that).
                tracing::warn!(agent_id = agent.id.get(), error = %ErrorChain(&e), "event poll refused; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(backoff_max);
            }
            (_, e) => {
                resync = e.answer_may_be_lost();
                if let Some(reason) = given_up(&mut failing_since) {
                    let reason = format!("{reason}: {}", ErrorChain(&e));
                    running.end(&tx, End::Unavailable(reason));
                    return;
                }
                tracing::warn!(agent_id = agent.id.get(), error = %ErrorChain(&e), "event poll failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(backoff_max);
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_typed_and_never_fail() {
        let typed = |v: Value| AgentEvent::from_json(v);
        assert_eq!(
            typed(
                json!({"eventType": "AgentState_SetRest_Success", "workNo": "101", "content": {"reason": "200"}})
            ),
            AgentEvent::RestStarted {
                reason: "200".into()
            }
        );
        assert_eq!(
            typed(json!({"eventType": "AgentState_SetRest_Success", "content": {"reason": 7}})),
            AgentEvent::RestStarted { reason: "7".into() }
        );
        assert_eq!(
            typed(json!({"eventType": "AgentState_Rest_Timeout", "content": null})),
            AgentEvent::RestTimeout
        );
        assert_eq!(
            typed(json!({"eventType": "AgentState_CancelRest_Success"})),
            AgentEvent::RestCancelled
        );
        assert_eq!(
            typed(json!({"eventType": "AgentOther_InService", "workNo": "101", "content": null})),
            AgentEvent::Other {
                event_type: "AgentOther_InService".into(),
                content: Value::Null
            }
        );
        for odd in [json!(null), json!("x"), json!([1]), json!({"eventType": 5})] {
            assert!(matches!(typed(odd), AgentEvent::Other { .. }));
        }
    }
}
