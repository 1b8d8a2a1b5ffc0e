//! One call of an agent's session to its gateway: send it through the generated client,
//! settle the answer (its return code, a `Set-GUID` rotation during the call), classify
//! what went wrong by whether the request may have been applied, count it and log it.
//! [`Agent`](crate::Agent)'s operations are built on it; it knows nothing of them.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use ccgw_client::ResponseRejected;
use ccgw_client::ResponseValue;
use ccgw_client::operations::Operation;
use ccgw_client::transport::TransportError;
use ccgw_client::types;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::client::GatewayClient;
use crate::error::{Disposition, Error, ErrorChain, RetCode};
use crate::redact::{self, Redactor};
use crate::values::AgentId;

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

pub(crate) use op_span;

/// An agent's line to the gateway its session lives on: the generated client bound to
/// that gateway's transport, the session (Guid and cookies), and when the gateway last
/// accepted a call. Cheap to clone; clones share the session.
#[derive(Clone)]
pub(crate) struct Line {
    pub(crate) id: AgentId,
    /// Index of the gateway (base URL, then fallbacks) the session lives on.
    pub(crate) gateway: usize,
    pub(crate) api: ccgw_client::Client,
    pub(crate) session: ccgw_client::Session,
    /// When the gateway last accepted a call of this session (ms on [`clock_ms`]).
    accepted_ms: Arc<AtomicU64>,
    /// When the calls of this session started to fail (ms on [`clock_ms`], plus one;
    /// 0 while they succeed).
    failing_ms: Arc<AtomicU64>,
    /// Secrets of this agent besides its session's: the client's registered ones and
    /// the password it signed in with.
    secrets: Arc<RwLock<Vec<Zeroizing<String>>>>,
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

impl Line {
    /// A handle for agent `id` on the `gateway`-th gateway of the client's list.
    pub(crate) fn new(client: &GatewayClient, id: AgentId, gateway: usize) -> Line {
        let gateway = gateway.min(client.inner.gateways.len().saturating_sub(1));
        let endpoint = &client.inner.gateways[gateway];
        let session = ccgw_client::Session::new()
            .with_response_limit(client.inner.response_limit)
            .with_poll_timeout(client.inner.poll_timeout)
            .with_transport(endpoint.transport.clone())
            .with_poll_transport(endpoint.polls.clone());
        let api = ccgw_client::Client::new_with_client(
            &endpoint.base_url,
            client.inner.http.clone(),
            session.clone(),
        );
        Line {
            id,
            gateway,
            api,
            session,
            accepted_ms: Arc::new(AtomicU64::new(clock_ms())),
            failing_ms: Arc::new(AtomicU64::new(0)),
            secrets: Arc::new(RwLock::new(client.inner.secrets.to_vec())),
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

    pub(crate) fn wire_id(&self) -> i32 {
        // At most 999999 by construction.
        i32::try_from(self.id.get()).unwrap_or(i32::MAX)
    }

    /// What masks this agent's secrets in a text of the gateway's: every Guid and
    /// cookie its session held, its password, the client's registered secrets.
    pub(crate) fn redactor(&self) -> Redactor {
        let known = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
        Redactor::new(
            self.session
                .secret_texts()
                .into_iter()
                .chain(known.iter().cloned()),
        )
    }

    /// Adds `secret` (the password a sign-in sends) to what is masked.
    pub(crate) fn remember_secret(&self, secret: &Zeroizing<String>) {
        let mut known = self.secrets.write().unwrap_or_else(PoisonError::into_inner);
        if !known.contains(secret) {
            known.push(secret.clone());
        }
    }

    /// Sends one operation, maps its answer, and — when the gateway refused a Guid that
    /// rotated while the request was under way — sends it once more with the new Guid.
    pub(crate) async fn exchange<T, F, Fut>(&self, op: Operation, send: F) -> Result<T, Error>
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
                if code.is_success() {
                    tracing::Span::current().record("retcode", code.as_str());
                    return Ok(body);
                }
                // An unknown code is the gateway's text: masked whole, before it is cut
                // to length and logged.
                let redactor = self.redactor();
                let code = match code {
                    RetCode::Other(_) => RetCode::parse(&redactor.mask(body.retcode())),
                    known => known,
                };
                tracing::Span::current().record("retcode", code.as_str());
                Err(Error::Gateway {
                    operation,
                    code,
                    message: redactor.text(body.message(), redact::EXCERPT_CHARS),
                })
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
                if let Some(e) = TransportError::in_response(&response) {
                    return from_transport(e.clone());
                }
                let status = response.status();
                tracing::Span::current().record("http_status", status.as_u16());
                let body_excerpt = read_excerpt(response, &self.redactor()).await;
                Error::UnexpectedStatus {
                    status,
                    body_excerpt,
                }
            }
            Generated::ResponseBodyError(e) => classify_body_error(e, &self.redactor()),
            Generated::InvalidResponsePayload(bytes, e) => {
                // serde's text quotes values of the body: masked like the body, and the
                // error itself not kept as a source.
                let redactor = self.redactor();
                Error::MalformedResponse {
                    reason: format!(
                        "not the documented envelope ({})",
                        redactor.text(&e.to_string(), redact::EXCERPT_CHARS)
                    ),
                    body_excerpt: redactor.excerpt(&bytes),
                    source: None,
                }
            }
            Generated::InvalidRequest(reason) | Generated::Custom(reason) => Error::Config {
                reason: format!("the request could not be built: {reason}"),
                source: None,
            },
        }
    }
}

/// Maps a failure of the exchange itself by whether the request may have been sent.
pub(crate) fn classify_transport(e: reqwest::Error) -> Error {
    match TransportError::find_in(&e) {
        Some(found) => from_transport(found.clone()),
        // The request could not be built: nothing was sent.
        None if e.is_builder() => Error::Config {
            reason: "the request could not be built".to_owned(),
            source: Some(Box::new(e)),
        },
        // Anything else may have happened after sending.
        None => Error::OutcomeUnknown {
            reason: "the exchange failed".to_owned(),
            source: Some(Box::new(e)),
        },
    }
}

/// The typed error for what the transport reports.
fn from_transport(e: TransportError) -> Error {
    match e {
        TransportError::Connect(source) => Error::Connect(Box::new(source)),
        TransportError::Tls(source) => Error::Tls(Box::new(source)),
        TransportError::TimeoutBeforeSend {
            timeout,
            waiting_for,
        } => Error::TimeoutBeforeSend {
            timeout,
            waiting_for,
        },
        TransportError::OutcomeUnknown { reason, source } => Error::OutcomeUnknown {
            reason,
            source: source.map(|s| Box::new(s) as Box<dyn StdError + Send + Sync>),
        },
        e @ TransportError::Unsendable(_) => Error::Config {
            reason: "the request cannot be sent".to_owned(),
            source: Some(Box::new(e)),
        },
        // A variant added later: whether it was sent is unknown.
        e => Error::OutcomeUnknown {
            reason: e.to_string(),
            source: None,
        },
    }
}

pub(crate) fn classify_body_error(e: reqwest::Error, redactor: &Redactor) -> Error {
    match ResponseRejected::find_in(&e) {
        Some(ResponseRejected::TooLarge { limit }) => {
            return Error::ResponseTooLarge { limit: *limit };
        }
        Some(ResponseRejected::NotJson { content_type }) => {
            return Error::UnexpectedContentType {
                content_type: content_type.as_deref().map(|ct| redactor.text(ct, 100)),
            };
        }
        _ => {}
    }
    match TransportError::find_in(&e) {
        Some(found) => from_transport(found.clone()),
        None => Error::OutcomeUnknown {
            reason: "the answer was cut off before it was complete".to_owned(),
            source: Some(Box::new(e)),
        },
    }
}

/// Reads at most a small excerpt of an unexpected answer's body (the body is capped
/// anyway; reading stops early and errors end the excerpt).
async fn read_excerpt(mut response: reqwest::Response, redactor: &Redactor) -> String {
    let mut bytes = Vec::new();
    while bytes.len() <= redact::EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    redactor.excerpt(&bytes)
}
