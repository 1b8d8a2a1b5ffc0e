//! One signed-in agent and its operations: rest and its cancellation (as requests to
//! send, confirm or ensure: [`Change`]), status, events, heartbeat and sign-out. Each
//! operation is one call on the agent's [`Line`]; the event pump and the confirmations
//! are built on these.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::num::NonZeroU64;
use std::pin::Pin;
use std::time::Duration;

use ccgw_client::operations::{self, Operation};
use ccgw_client::types;
use tracing::Instrument as _;
use tracing::field::Empty;
use zeroize::Zeroizing;

use crate::call::{Line, op_span};
use crate::client::GatewayClient;
use crate::error::{Error, ErrorChain};
use crate::events::AgentEvent;
use crate::guid::{Affinity, Guid};
use crate::pump::{EventStream, PumpSlot, Source};
pub use crate::state::{AgentState, AgentStatus};
use crate::values::{AgentId, RestCause, RestDuration};

/// One signed-in agent on a gateway: the shared client, the agent's ID and its session
/// (Guid). Cheap to clone; clones share the session, so a Guid rotated through one clone
/// (by any `Set-GUID` answer) is used by all.
#[derive(Clone)]
pub struct Agent {
    pub(crate) client: GatewayClient,
    pub(crate) line: Line,
    pub(crate) pump: PumpSlot,
    /// Whether its sign-in took an existing session over.
    took_over: bool,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.line.id)
            .field(
                "gateway",
                &self.client.inner.gateways[self.line.gateway].base_url,
            )
            .field("guid", &"<redacted>")
            .finish()
    }
}

impl GatewayClient {
    /// A handle for the signed-in agent `id` whose session is `guid` (with the load
    /// balancer's `affinity`, if one was kept): a session signed in elsewhere, or kept
    /// between runs from [`Agent::guid`] and [`Agent::affinity`]. To sign in, use
    /// [`sign_in`](Self::sign_in).
    pub fn agent(&self, id: AgentId, guid: Guid, affinity: Option<&Affinity>) -> Agent {
        let agent = Agent::new(self.clone(), id, 0);
        agent.set_guid(&guid);
        if let Some(affinity) = affinity {
            agent.line.session.set_cookie_text(affinity.expose_secret());
        }
        agent
    }
}

impl Agent {
    /// A handle for agent `id` on the `gateway`-th gateway of the client's list, without
    /// a session yet.
    pub(crate) fn new(client: GatewayClient, id: AgentId, gateway: usize) -> Agent {
        let line = Line::new(&client, id, gateway);
        Agent {
            client,
            line,
            pump: PumpSlot::default(),
            took_over: false,
        }
    }

    /// The same session, marked as taken over by its sign-in.
    pub(crate) fn taken_over(mut self) -> Agent {
        self.took_over = true;
        self
    }

    /// The agent's ID.
    pub fn id(&self) -> AgentId {
        self.line.id
    }

    /// Whether the sign-in that opened this session took an existing one over
    /// ([`SignIn::take_over`](crate::SignIn::take_over)): the previous holder's Guid
    /// stopped working.
    pub fn took_over(&self) -> bool {
        self.took_over
    }

    /// Replaces the Guid, for the next request and every clone of this handle: one
    /// another process of the same program got (a rotation on its answers). Rarely
    /// needed: every `Set-GUID` answer of this handle is taken by itself.
    pub fn set_guid(&self, guid: &Guid) {
        if self.line.session.set_guid(guid.expose_secret()).is_err() {
            // Both sides accept the same characters, so this does not happen; should it,
            // sending nothing beats sending a stale Guid.
            self.line.session.clear_guid();
        }
    }

    /// The Guid the next request will carry (the newest `Set-GUID` included), for
    /// callers that keep it between runs. `None` after sign-out.
    pub fn guid(&self) -> Option<Guid> {
        self.line
            .session
            .guid_text()
            .and_then(|g| Guid::new(g).ok())
    }

    /// The session's load-balancer affinity (the cookies its answers set), for callers
    /// that keep a session between runs with its Guid; `None` when the gateway set no
    /// cookie (a single gateway) or after sign-out.
    pub fn affinity(&self) -> Option<Affinity> {
        self.line
            .session
            .cookie_text()
            .and_then(|text| Affinity::new(text).ok())
    }

    /// Applies for rest for `duration` with `cause` — `POST …/onlineagent/{id}/rest/{time}/{cause}`.
    /// What is returned is the request; pick how it is settled:
    ///
    /// - `.await` sends it once: `Ok(())` means the gateway accepted it (`retcode`
    ///   `"0"`); the agent is in rest once `AgentState_SetRest_Success` arrives.
    /// - [`.confirmed(wait)`](Change::confirmed) also waits for that event (or the state
    ///   read as rest).
    /// - [`.ensured(wait)`](Change::ensured) sends nothing if the agent is in rest
    ///   already, and tries again after passing refusals within `wait`.
    ///
    /// An agent already in rest needs [`.prolong()`](Change::prolong). Never resent,
    /// except once with the new Guid when the gateway refused the old one (`000-003`)
    /// because it rotated during the call — a refused request was not applied.
    pub fn rest(&self, duration: RestDuration, cause: RestCause) -> Change<'_> {
        Change::rest(self, duration, cause)
    }

    /// Ends the agent's rest (or pre-rest): a request settled like [`rest`](Self::rest)'s,
    /// confirmed by `AgentState_CancelRest_Success` or the state read as idle.
    pub fn cancel_rest(&self) -> Change<'_> {
        Change::cancel(self)
    }

    /// One `rest` request, as sent (see [`Agent::rest`]).
    pub(crate) async fn send_rest(
        &self,
        duration: RestDuration,
        cause: RestCause,
        prolong: bool,
    ) -> Result<(), Error> {
        let span = tracing::info_span!(
            operations::REST.log_name,
            agent_id = self.line.id.get(),
            time = duration.as_secs(),
            cause = cause.get(),
            prolong,
            retcode = Empty,
            http_status = Empty,
            elapsed_ms = Empty,
        );
        // In range by construction: durations start at 1.
        let time = NonZeroU64::new(u64::from(duration.as_secs())).unwrap_or(NonZeroU64::MIN);
        self.line
            .exchange(operations::REST, || {
                self.line
                    .api
                    .rest(self.line.wire_id(), time, cause.get(), Some(prolong))
            })
            .instrument(span)
            .await
            .map(drop)
    }

    /// One `cancelRest` request, as sent (see [`Agent::cancel_rest`]).
    pub(crate) async fn send_cancel(&self) -> Result<(), Error> {
        let span = op_span!(info_span, operations::CANCEL_REST, self.line.id.get());
        self.line
            .exchange(operations::CANCEL_REST, || {
                self.line.api.cancel_rest(self.line.wire_id())
            })
            .instrument(span)
            .await
            .map(drop)
    }

    /// The agent's current state.
    pub async fn status(&self) -> Result<AgentStatus, Error> {
        let span = op_span!(info_span, operations::GET_AGENT_STATUS, self.line.id.get());
        let answer = self
            .line
            .exchange(operations::GET_AGENT_STATUS, || {
                self.line.api.get_agent_status(self.line.wire_id())
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
        let span = op_span!(info_span, operations::LOGOUT, self.line.id.get());
        self.line
            .exchange(operations::LOGOUT, || {
                self.line.api.logout(self.line.wire_id())
            })
            .instrument(span)
            .await?;
        self.line.session.clear_guid();
        Ok(())
    }

    /// One heartbeat (`handShake`), for a session that does not poll events (the gateway
    /// signs out an agent that does neither for 2 minutes). In dynamic authentication its
    /// answer may carry the rotated Guid, which is taken.
    pub async fn heartbeat(&self) -> Result<(), Error> {
        let span = op_span!(info_span, operations::HAND_SHAKE, self.line.id.get());
        self.line
            .exchange(operations::HAND_SHAKE, || {
                self.line.api.hand_shake(self.line.wire_id(), None)
            })
            .instrument(span)
            .await
            .map(drop)
    }

    /// Asks the gateway for the session's current Guid (`updateGuid`) and uses it from
    /// now on. For a client that may have missed a rotated Guid: an event poll or
    /// heartbeat whose answer was lost in transit may have carried `Set-GUID`, and once
    /// the gateway stops accepting the previous Guid the session is lost to the client.
    /// The event pump calls this by itself after such a loss.
    pub(crate) async fn refresh_guid(&self) -> Result<(), Error> {
        let span = op_span!(info_span, operations::UPDATE_GUID, self.line.id.get());
        let answer = self
            .line
            .exchange(operations::UPDATE_GUID, || {
                self.line.api.update_guid(self.line.wire_id())
            })
            .instrument(span)
            .await?;
        let value = Zeroizing::new(answer.result.and_then(|r| r.guid).unwrap_or_default());
        match Guid::new(value.as_str()) {
            Ok(guid) => {
                self.set_guid(&guid);
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
                tracing::debug!(agent_id = self.line.id.get(), error = %ErrorChain(&e), "could not refresh the session credential");
                e.answer_may_be_lost() || e.disposition() == crate::error::Disposition::Resend
            }
        }
    }

    /// The agent's events, oldest first. All streams of one agent (and of its clones)
    /// share one long poll, so every stream sees every event that arrives while it is
    /// open. The stream ends with the typed error when the session ends (`100-006`: sign
    /// in again).
    pub fn events(&self) -> EventStream {
        crate::pump::subscribe(&self.pump, self)
    }

    /// One event poll: `Ok(None)` when the gateway held the request and no event came.
    pub(crate) async fn poll_once(&self) -> Result<Option<AgentEvent>, Error> {
        let span = op_span!(debug_span, operations::GET_AGENT_EVENT, self.line.id.get());
        let answer = self
            .line
            .exchange(operations::GET_AGENT_EVENT, || {
                self.line.api.get_agent_event(self.line.wire_id(), None)
            })
            .instrument(span)
            .await?;
        // The redactor only when an event came: most polls end empty.
        Ok(answer
            .event
            .map(|event| AgentEvent::from_json(event).masked(&self.line.redactor())))
    }
}

/// A state change of an agent — a rest ([`Agent::rest`]) or its cancellation
/// ([`Agent::cancel_rest`]) — not yet sent. Pick how it is settled:
///
/// - `.await`: sent once; `Ok(())` when the gateway accepted it.
/// - [`confirmed(wait)`](Self::confirmed): sent once, then confirmed by its event or
///   the state read (see the module rules).
/// - [`ensured(wait)`](Self::ensured): nothing if the agent is there already; otherwise
///   confirmed, trying again after passing refusals within `wait`.
///
/// ```no_run
/// # async fn demo(agent: ccgw::Agent) -> Result<(), ccgw::Error> {
/// use std::time::Duration;
/// use ccgw::{RestCause, RestDuration};
/// let ten_minutes = RestDuration::from_secs(600)?;
/// agent.rest(ten_minutes, RestCause::from(3)).await?; // accepted
/// agent.rest(ten_minutes, RestCause::from(3)).prolong().confirmed(Duration::from_secs(10)).await?;
/// agent.cancel_rest().ensured(Duration::from_secs(30)).await?; // idle, however it was
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a change does nothing until it is awaited, confirmed or ensured"]
pub struct Change<'a> {
    pub(crate) agent: &'a Agent,
    pub(crate) kind: Kind,
}

/// What a [`Change`] asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Rest {
        duration: RestDuration,
        cause: RestCause,
        prolong: bool,
    },
    Cancel,
}

impl<'a> Change<'a> {
    pub(crate) fn rest(agent: &'a Agent, duration: RestDuration, cause: RestCause) -> Self {
        Change {
            agent,
            kind: Kind::Rest {
                duration,
                cause,
                prolong: false,
            },
        }
    }

    pub(crate) fn cancel(agent: &'a Agent) -> Self {
        Change {
            agent,
            kind: Kind::Cancel,
        }
    }

    /// A rest for an agent in rest already (`prolong=true`): a new duration and cause.
    /// Confirmed, its unknown outcome cannot be settled — the agent was in rest before,
    /// too, and an `AgentState_SetRest_Success` may be an earlier request's — so it fails
    /// at once with [`Error::NotConfirmed`] (the state read then) instead of believing an
    /// event. Ensured, an agent in rest gets the prolonged rest. A cancellation has
    /// nothing to prolong: it is left as it is.
    pub fn prolong(mut self) -> Self {
        if let Kind::Rest { prolong, .. } = &mut self.kind {
            *prolong = true;
        }
        self
    }

    pub(crate) fn operation(&self) -> Operation {
        match self.kind {
            Kind::Rest { .. } => operations::REST,
            Kind::Cancel => operations::CANCEL_REST,
        }
    }

    /// Whether reading the state can tell an unknown outcome: not for a prolong, whose
    /// target state is the state before.
    pub(crate) fn settles_unknown(&self) -> bool {
        !matches!(self.kind, Kind::Rest { prolong: true, .. })
    }

    pub(crate) async fn send(&self) -> Result<(), Error> {
        match self.kind {
            Kind::Rest {
                duration,
                cause,
                prolong,
            } => self.agent.send_rest(duration, cause, prolong).await,
            Kind::Cancel => self.agent.send_cancel().await,
        }
    }
}

impl<'a> IntoFuture for Change<'a> {
    type Output = Result<(), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

    /// Sends the change once.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.send().await })
    }
}

/// The event pump polls through the agent's own calls.
impl Source for Agent {
    fn agent_id(&self) -> u32 {
        self.line.id.get()
    }

    fn backoff_max(&self) -> Duration {
        self.client.inner.event_backoff_max
    }

    fn poll(&self) -> impl Future<Output = Result<Option<AgentEvent>, Error>> + Send {
        self.poll_once()
    }

    fn refresh(&self) -> impl Future<Output = bool> + Send {
        self.refresh_after_lost_answer()
    }

    async fn state(&self) -> Option<AgentState> {
        self.status().await.ok().map(|s| s.state)
    }
}
