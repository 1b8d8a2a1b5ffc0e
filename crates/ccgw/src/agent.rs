//! One signed-in agent: its operations (through the generated client), its Guid (rotated
//! from every `Set-GUID` answer), its events (one long-poll pump shared by every
//! subscriber) and a heartbeat keeper.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ccgw_client::ResponseValue;
use ccgw_client::operations::{self, Operation};
use ccgw_client::types;
use tokio::time::Instant;
use tracing::Instrument as _;
use tracing::field::Empty;
use zeroize::Zeroizing;

use crate::client::{GatewayClient, classify_body_error, classify_transport, read_excerpt};
use crate::error::{Disposition, Error, ErrorChain, RetCode};
use crate::events::{AgentEvent, EventStream, PumpSlot};
use crate::guid::{Affinity, Guid};
use crate::redact;
use crate::signin::{IfSignedIn, SignIn};
pub use crate::state::{AgentState, AgentStatus};
use crate::values::{AgentId, RestCause, RestDuration};

/// The span of one gateway operation, named after the gateway's method name in logs,
/// with the fields every operation records.
macro_rules! op_span {
    ($level:ident, $op:expr, $agent:expr) => {
        tracing::$level!(
            $op.log_name,
            agent_id = $agent,
            retcode = Empty,
            http_status = Empty,
            elapsed_ms = Empty
        )
    };
}

/// What an answer envelope offers whatever its operation.
pub(crate) trait Answer {
    fn retcode(&self) -> &str;
    fn message(&self) -> &str;
}

macro_rules! answers {
    ($($ty:ty),*) => {$(
        impl Answer for $ty {
            fn retcode(&self) -> &str { &self.retcode }
            fn message(&self) -> &str { &self.message }
        }
    )*};
}
answers!(
    types::RestResponse,
    types::Envelope,
    types::LoginResponse,
    types::AgentStatusResponse,
    types::EventResponse,
    types::UpdateGuidResponse
);

/// One signed-in agent on a gateway: the shared client, the agent's ID and its session
/// (Guid). Cheap to clone; clones share the session, so a Guid rotated through one clone
/// (by any `Set-GUID` answer) is used by all.
#[derive(Clone)]
pub struct Agent {
    pub(crate) id: AgentId,
    /// Index of the gateway (base URL, then fallbacks) the session lives on.
    gateway: usize,
    pub(crate) client: GatewayClient,
    api: ccgw_client::Client,
    pub(crate) session: ccgw_client::Session,
    pub(crate) pump: PumpSlot,
    /// When the gateway last accepted a call of this session (ms on [`clock_ms`]).
    accepted_ms: Arc<AtomicU64>,
    /// When the calls of this session started to fail (ms on [`clock_ms`], plus one;
    /// 0 while they succeed).
    failing_ms: Arc<AtomicU64>,
}

/// Milliseconds on a process-wide monotonic clock.
fn clock_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    u64::try_from(
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.id)
            .field("gateway", &self.gateway_url())
            .field("guid", &"<redacted>")
            .finish()
    }
}

/// How a sign-in got its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignedInBy {
    /// `login`: the agent was not signed in.
    SignIn,
    /// `forceLogin`: a session the gateway held (elsewhere, or one whose Guid this client
    /// lost) was taken over.
    TakeOver,
}

impl GatewayClient {
    /// Signs agent `id` in and returns its handle, holding the Guid from the answer's
    /// `Set-GUID` header. When the agent is already signed in (`100-002`), the request's
    /// [`IfSignedIn`] policy decides: fail (the default) or take the session over with a
    /// forced sign-in ([`force_sign_in`](Self::force_sign_in)).
    ///
    /// Start polling events (or keep a heartbeat) right away: the gateway signs out an
    /// agent that does neither for 2 minutes.
    pub async fn sign_in(&self, id: AgentId, request: &SignIn) -> Result<Agent, Error> {
        self.sign_in_reporting(id, request)
            .await
            .map(|(agent, _)| agent)
    }

    /// Forced sign-in (`forceLogin`): signs agent `id` in even if it is signed in, taking
    /// the session over. The previous holder's Guid stops working at once and its event
    /// stream ends. Refused with `100-015` where the platform does not allow it.
    pub async fn force_sign_in(&self, id: AgentId, request: &SignIn) -> Result<Agent, Error> {
        self.on_first_taker(id, |agent| async move {
            agent.open_session(operations::FORCE_LOGIN, request).await?;
            Ok((agent, SignedInBy::TakeOver))
        })
        .await
        .map(|(agent, _)| agent)
    }

    /// [`sign_in`](Self::sign_in), also saying whether a session was taken over.
    pub async fn sign_in_reporting(
        &self,
        id: AgentId,
        request: &SignIn,
    ) -> Result<(Agent, SignedInBy), Error> {
        self.on_first_taker(id, |agent| async move {
            match agent.open_session(operations::LOGIN, request).await {
                Ok(()) => Ok((agent, SignedInBy::SignIn)),
                Err(e)
                    if e.retcode() == Some(&RetCode::AlreadySignedIn)
                        && request.if_signed_in == IfSignedIn::TakeOver =>
                {
                    tracing::info!(
                        agent_id = id.get(),
                        "already signed in; taking the session over"
                    );
                    agent.open_session(operations::FORCE_LOGIN, request).await?;
                    Ok((agent, SignedInBy::TakeOver))
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Runs a sign-in on each gateway in order until one takes it (see
    /// [`ClientBuilder::fallback_url`](crate::ClientBuilder::fallback_url)).
    async fn on_first_taker<F, Fut>(
        &self,
        id: AgentId,
        sign_in: F,
    ) -> Result<(Agent, SignedInBy), Error>
    where
        F: Fn(Agent) -> Fut,
        Fut: Future<Output = Result<(Agent, SignedInBy), Error>>,
    {
        let last = self.inner.gateways.len().saturating_sub(1);
        let mut gateway = 0;
        loop {
            match sign_in(Agent::new(self.clone(), id, gateway)).await {
                Err(e) if gateway < last && not_taken(&e) => {
                    tracing::info!(agent_id = id.get(), gateway, error = %ErrorChain(&e), "the gateway did not take the sign-in; trying the next one");
                    gateway += 1;
                }
                done => return done,
            }
        }
    }
}

/// The gateway did not take the request: nothing reached it, or it is switching over.
fn not_taken(e: &Error) -> bool {
    e.disposition() == crate::Disposition::Resend || e.retcode() == Some(&RetCode::SwitchingOver)
}

impl Agent {
    /// `login` or `forceLogin`: the session's Guid comes from the answer's `Set-GUID`.
    async fn open_session(&self, operation: Operation, request: &SignIn) -> Result<(), Error> {
        let body = request.to_generated()?;
        let forced = operation == operations::FORCE_LOGIN;
        // Span names are constants: one per operation.
        let span = if forced {
            op_span!(info_span, operations::FORCE_LOGIN, self.id.get())
        } else {
            op_span!(info_span, operations::LOGIN, self.id.get())
        };
        self.exchange(operation, || async {
            if forced {
                self.api.force_login(self.wire_id(), &body).await
            } else {
                self.api.login(self.wire_id(), &body).await
            }
        })
        .instrument(span)
        .await?;
        if !self.session.has_guid() {
            return Err(Error::MalformedResponse {
                reason: format!(
                    "{} succeeded without a usable Set-GUID header",
                    operation.log_name
                ),
                body_excerpt: String::new(),
                source: None,
            });
        }
        Ok(())
    }

    /// A handle for agent `id` on the `gateway`-th gateway of the client's list.
    pub(crate) fn new(client: GatewayClient, id: AgentId, gateway: usize) -> Agent {
        let gateway = gateway.min(client.inner.gateways.len().saturating_sub(1));
        let endpoint = &client.inner.gateways[gateway];
        let session = ccgw_client::Session::new()
            .with_response_limit(client.inner.response_limit)
            .with_poll_timeout(client.inner.poll_timeout)
            .with_transport(endpoint.transport.clone());
        let api = ccgw_client::Client::new_with_client(
            &endpoint.base_url,
            client.inner.http.clone(),
            session.clone(),
        );
        Agent {
            id,
            gateway,
            client,
            api,
            session,
            pump: PumpSlot::default(),
            accepted_ms: Arc::new(AtomicU64::new(clock_ms())),
            failing_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How long the calls of this session have been failing (`None` while the last one
    /// succeeded): where a lost session's outage began.
    pub(crate) fn failing_for(&self) -> Option<Duration> {
        match self.failing_ms.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(clock_ms().saturating_sub(since - 1))),
        }
    }

    /// Whether the gateway accepted a call of this session (or it was created) within
    /// `within`: a session whose Guid is refused so soon after was not lost to the Guid's
    /// expiry, which takes the whole grace.
    pub(crate) fn accepted_within(&self, within: Duration) -> bool {
        let since = clock_ms().saturating_sub(self.accepted_ms.load(Ordering::Relaxed));
        u128::from(since) < within.as_millis()
    }

    /// The agent's ID.
    pub fn id(&self) -> AgentId {
        self.id
    }

    /// The base URL of the gateway this session lives on (the client's base URL, or the
    /// [fallback](crate::ClientBuilder::fallback_url) that took the sign-in).
    pub fn gateway_url(&self) -> &str {
        &self.client.inner.gateways[self.gateway].base_url
    }

    /// Replaces the Guid. Rarely needed: every `Set-GUID` the gateway sends (dynamic
    /// authentication rotates the Guid on event polling and heartbeat answers) is taken
    /// automatically. Takes effect for the next request.
    pub fn set_guid(&self, guid: Guid) {
        if self.session.set_guid(guid.expose_secret()).is_err() {
            // Both sides accept the same characters, so this does not happen; should it,
            // sending nothing beats sending a stale Guid.
            self.session.clear_guid();
        }
    }

    /// The Guid the next request will carry (the newest `Set-GUID` included), for
    /// callers that keep it between runs. `None` after sign-out.
    pub fn current_guid(&self) -> Option<Guid> {
        self.session.guid_text().and_then(|g| Guid::new(g).ok())
    }

    /// The session's load-balancer affinity (the cookies its answers set), for callers
    /// that keep a session between runs with its Guid; `None` when the gateway set no
    /// cookie (a single gateway) or after sign-out.
    pub fn affinity(&self) -> Option<Affinity> {
        self.session
            .cookie_text()
            .and_then(|text| Affinity::new(text).ok())
    }

    /// Restores an affinity kept from [`affinity`](Self::affinity) (with
    /// [`GatewayClient::agent`] for the Guid): the next calls go to the node that holds
    /// the session.
    pub fn set_affinity(&self, affinity: &Affinity) {
        self.session.set_cookie_text(affinity.expose_secret());
    }

    fn wire_id(&self) -> i32 {
        // At most 999999 by construction.
        i32::try_from(self.id.get()).unwrap_or(i32::MAX)
    }

    pub(crate) fn secret(&self) -> Zeroizing<String> {
        Zeroizing::new(self.session.guid_text().unwrap_or_default())
    }

    /// Applies for rest: `POST …/onlineagent/{id}/rest/{time}/{cause}?prolong=false`.
    ///
    /// `Ok(())` means the gateway accepted the request (`retcode` `"0"`); the agent is in
    /// rest once `AgentState_SetRest_Success` arrives — [`rest_confirmed`](Self::rest_confirmed)
    /// waits for it. An agent already in rest needs [`prolong_rest`](Self::prolong_rest).
    /// Never retried, except once with the new Guid when the gateway refused the old one
    /// (`000-003`) because it rotated during the call — a refused request was not applied.
    pub async fn rest(&self, duration: RestDuration, cause: RestCause) -> Result<(), Error> {
        self.apply_rest(duration, cause, false).await
    }

    /// Sets rest again while the agent is already in rest (`prolong=true`), with a new
    /// duration and cause.
    pub async fn prolong_rest(
        &self,
        duration: RestDuration,
        cause: RestCause,
    ) -> Result<(), Error> {
        self.apply_rest(duration, cause, true).await
    }

    async fn apply_rest(
        &self,
        duration: RestDuration,
        cause: RestCause,
        prolong: bool,
    ) -> Result<(), Error> {
        let span = tracing::info_span!(
            operations::REST.log_name,
            agent_id = self.id.get(),
            time = duration.as_secs(),
            cause = cause.get(),
            prolong,
            retcode = Empty,
            http_status = Empty,
            elapsed_ms = Empty,
        );
        // In range by construction: durations start at 1.
        let time = NonZeroU64::new(u64::from(duration.as_secs())).unwrap_or(NonZeroU64::MIN);
        self.exchange(operations::REST, || {
            self.api
                .rest(self.wire_id(), time, cause.get(), Some(prolong))
        })
        .instrument(span)
        .await
        .map(drop)
    }

    /// Ends the agent's rest (or pre-rest); confirmed by `AgentState_CancelRest_Success`.
    pub async fn cancel_rest(&self) -> Result<(), Error> {
        let span = op_span!(info_span, operations::CANCEL_REST, self.id.get());
        self.exchange(operations::CANCEL_REST, || {
            self.api.cancel_rest(self.wire_id())
        })
        .instrument(span)
        .await
        .map(drop)
    }

    /// The agent's current state.
    pub async fn status(&self) -> Result<AgentStatus, Error> {
        let span = op_span!(info_span, operations::GET_AGENT_STATUS, self.id.get());
        let answer = self
            .exchange(operations::GET_AGENT_STATUS, || {
                self.api.get_agent_status(self.wire_id())
            })
            .instrument(span)
            .await?;
        // An object (the vendor's sample) or an array holding one (the vendor's table).
        let status = match answer.result {
            Some(types::AgentStatusResponseResult::Variant0(status)) => status,
            Some(types::AgentStatusResponseResult::Variant1(list)) => {
                let [status] = list.0;
                status
            }
            None => types::AgentStatus(None),
        };
        let Some(result) = status.0 else {
            return Err(Error::MalformedResponse {
                reason: "the agent status answer has no result".to_owned(),
                body_excerpt: String::new(),
                source: None,
            });
        };
        Ok(AgentStatus {
            state: result
                .agent_state
                .map_or(AgentState::Unknown, AgentState::from_code),
            in_call: result.is_working.unwrap_or(false),
        })
    }

    /// One `logout`, as sent: see [`sign_out`](Self::sign_out), which settles it.
    pub(crate) async fn sign_out_once(&self) -> Result<(), Error> {
        let span = op_span!(info_span, operations::LOGOUT, self.id.get());
        self.exchange(operations::LOGOUT, || self.api.logout(self.wire_id()))
            .instrument(span)
            .await?;
        self.session.clear_guid();
        Ok(())
    }

    /// One heartbeat (`handShake`), for sessions that do not poll events. In dynamic
    /// authentication its answer may carry the rotated Guid, which is taken.
    pub async fn heartbeat(&self) -> Result<(), Error> {
        let span = op_span!(info_span, operations::HAND_SHAKE, self.id.get());
        self.exchange(operations::HAND_SHAKE, || {
            self.api.hand_shake(self.wire_id(), None)
        })
        .instrument(span)
        .await
        .map(drop)
    }

    /// Asks the gateway for the session's current Guid (`updateGuid`) and uses it from
    /// now on. For a client that may have missed a rotated Guid: an event poll or
    /// heartbeat whose answer was lost in transit may have carried `Set-GUID`, and once
    /// the gateway stops accepting the previous Guid the session is lost to the client.
    /// The event pump and [`keep_alive`](Self::keep_alive) call this by themselves after
    /// such a loss; call it yourself after your own lost [`heartbeat`](Self::heartbeat).
    pub async fn refresh_guid(&self) -> Result<(), Error> {
        let span = op_span!(info_span, operations::UPDATE_GUID, self.id.get());
        let answer = self
            .exchange(operations::UPDATE_GUID, || {
                self.api.update_guid(self.wire_id())
            })
            .instrument(span)
            .await?;
        let value = Zeroizing::new(answer.result.and_then(|r| r.guid).unwrap_or_default());
        match Guid::new(value.as_str()) {
            Ok(guid) => {
                self.set_guid(guid);
                Ok(())
            }
            Err(e) => Err(Error::MalformedResponse {
                reason: format!("the updateGuid answer carries no usable Guid ({e})"),
                body_excerpt: String::new(),
                source: None,
            }),
        }
    }

    /// After an answer lost in transit, which may have carried a rotated Guid: asks for
    /// the current one. A failure is only logged; the caller's next request reports what
    /// matters (a gateway without the operation, a session that is gone, a network that
    /// is down).
    ///
    /// Returns whether to try again before the next poll or heartbeat: the refresh's own
    /// answer was lost, or nothing was sent. Polling meanwhile could rotate the Guid once
    /// more with its answer lost too, and then the Guid this client holds would no longer
    /// be accepted at all.
    pub(crate) async fn refresh_after_lost_answer(&self) -> bool {
        match self.refresh_guid().await {
            Ok(()) => false,
            Err(e) => {
                tracing::debug!(agent_id = self.id.get(), error = %ErrorChain(&e), "could not refresh the session credential");
                e.answer_may_be_lost() || e.disposition() == crate::error::Disposition::Resend
            }
        }
    }

    /// Sends a heartbeat every `every` (the gateway expects about 30 s; 2 minutes without
    /// one or a poll sign the agent out) until the returned keeper is dropped or the
    /// session is gone (an error whose [`Error::needs_sign_in`] is true — after
    /// [`sign_out`](Self::sign_out), at the next tick without sending anything). Needs a
    /// tokio runtime; without one the keeper does nothing.
    pub fn keep_alive(&self, every: Duration) -> KeepAlive {
        let agent = self.clone();
        let task = tokio::runtime::Handle::try_current().ok().map(|rt| {
            rt.spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await;
                // Set when a heartbeat's answer was lost: it may have carried a rotated Guid.
                let mut resync = false;
                loop {
                    ticks.tick().await;
                    if std::mem::take(&mut resync) && agent.refresh_after_lost_answer().await {
                        // Not refreshed yet: no heartbeat (it may rotate the Guid) until it is.
                        resync = true;
                        continue;
                    }
                    match agent.heartbeat().await {
                        Ok(()) => {}
                        Err(e) if e.needs_sign_in() => break,
                        Err(e) => {
                            resync = e.answer_may_be_lost();
                            tracing::warn!(agent_id = agent.id.get(), error = %ErrorChain(&e), "heartbeat failed");
                        }
                    }
                }
            })
        });
        KeepAlive { task }
    }

    /// The agent's events, oldest first. All streams of one agent (and of its clones)
    /// share one long poll, so every stream sees every event that arrives while it is
    /// open. The stream ends with the typed error when the session ends (`100-006`: sign
    /// in again).
    pub fn events(&self) -> EventStream {
        crate::events::subscribe(self)
    }

    /// Whether this agent's event pump is polling the gateway: from the first
    /// [`events`](Self::events) stream until the last one is dropped or the session ends.
    /// A health check can tell from it that nothing polls for an agent any more.
    pub fn events_running(&self) -> bool {
        crate::events::running(self)
    }

    /// One event poll: `Ok(None)` when the gateway held the request and no event came.
    pub(crate) async fn poll_once(&self) -> Result<Option<AgentEvent>, Error> {
        let span = op_span!(debug_span, operations::GET_AGENT_EVENT, self.id.get());
        let answer = self
            .exchange(operations::GET_AGENT_EVENT, || {
                self.api.get_agent_event(self.wire_id(), None)
            })
            .instrument(span)
            .await?;
        Ok(answer.event.map(AgentEvent::from_json))
    }

    /// Sends one operation, maps its answer, and — when the gateway refused a Guid that
    /// rotated while the request was under way — sends it once more with the new Guid.
    async fn exchange<T, F, Fut>(&self, op: Operation, send: F) -> Result<T, Error>
    where
        T: Answer,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, ccgw_client::Error<()>>>,
    {
        let operation = op.log_name;
        if op.sends_guid && !self.session.has_guid() {
            return Err(Error::HandleSignedOut { operation });
        }
        let started = Instant::now();
        let generation = self.session.generation();
        let mut outcome = self.settle(operation, send().await).await;
        if outcome
            .as_ref()
            .is_err_and(|e| e.retcode() == Some(&RetCode::NoPermission))
            && self.session.generation() != generation
        {
            tracing::debug!("the session credential rotated during the call; sending once more");
            outcome = self.settle(operation, send().await).await;
        }
        match &outcome {
            Ok(_) => {
                self.accepted_ms.store(clock_ms(), Ordering::Relaxed);
                self.failing_ms.store(0, Ordering::Relaxed);
            }
            // A refusal that leaves the session as it was is not a failing session.
            Err(e)
                if matches!(
                    e.disposition(),
                    Disposition::DoNotResend | Disposition::FixConfiguration
                ) => {}
            Err(_) => {
                let _ = self.failing_ms.compare_exchange(
                    0,
                    clock_ms() + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
        let elapsed = started.elapsed();
        crate::metrics::call(operation, &outcome, elapsed);
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        tracing::Span::current().record("elapsed_ms", elapsed_ms);
        match &outcome {
            Ok(_) => tracing::debug!("{operation} accepted by the gateway"),
            // The caller gets the error and decides; logged for diagnosis only.
            Err(e) => tracing::debug!(error = %ErrorChain(e), "{operation} failed"),
        }
        outcome
    }

    async fn settle<T: Answer>(
        &self,
        operation: &'static str,
        answer: Result<ResponseValue<T>, ccgw_client::Error<()>>,
    ) -> Result<T, Error> {
        match answer {
            Ok(value) => {
                tracing::Span::current().record("http_status", value.status().as_u16());
                let body = value.into_inner();
                let code = RetCode::parse(body.retcode());
                tracing::Span::current().record("retcode", code.as_str());
                if code.is_success() {
                    Ok(body)
                } else {
                    Err(Error::Gateway {
                        operation,
                        code,
                        message: redact::scrub(
                            &redact::printable(body.message(), redact::EXCERPT_CHARS),
                            &self.secret(),
                        ),
                    })
                }
            }
            Err(e) => Err(self.map_error(e).await),
        }
    }

    async fn map_error(&self, e: ccgw_client::Error<()>) -> Error {
        use ccgw_client::Error as Generated;
        match e {
            Generated::CommunicationError(e) | Generated::InvalidUpgrade(e) => {
                classify_transport(e)
            }
            Generated::ErrorResponse(value) => {
                tracing::Span::current().record("http_status", value.status().as_u16());
                Error::UnexpectedStatus {
                    status: value.status(),
                    body_excerpt: String::new(),
                }
            }
            Generated::UnexpectedResponse(response) => {
                let status = response.status();
                tracing::Span::current().record("http_status", status.as_u16());
                let body_excerpt = read_excerpt(response, &self.secret()).await;
                Error::UnexpectedStatus {
                    status,
                    body_excerpt,
                }
            }
            Generated::ResponseBodyError(e) => classify_body_error(e),
            Generated::InvalidResponsePayload(bytes, e) => Error::MalformedResponse {
                reason: format!("not the documented envelope ({e})"),
                body_excerpt: redact::excerpt(&bytes, &self.secret()),
                source: Some(Box::new(e)),
            },
            Generated::InvalidRequest(reason) | Generated::Custom(reason) => Error::Config {
                reason: format!("the request could not be built: {reason}"),
                source: None,
            },
        }
    }
}

/// Sends heartbeats until dropped (see [`Agent::keep_alive`]).
#[derive(Debug)]
pub struct KeepAlive {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl KeepAlive {
    /// Whether heartbeats are still being sent (`false` once the session is gone).
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
