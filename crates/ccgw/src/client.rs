//! The gateway client: shared, pooled, verified TLS, bounded.

use std::error::Error as StdError;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ccgw_client::ResponseRejected;
use ccgw_client::transport::{Transport, TransportConfig, TransportError};

use crate::agent::Agent;
use crate::error::Error;
use crate::guid::Guid;
use crate::redact;
use crate::tls;
use crate::values::AgentId;

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default timeout for a whole request, from sending to the last byte of the answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default timeout of one event poll (the gateway holds a poll for about 10 s).
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(40);
/// Default cap on a response body: 64 KiB.
pub const DEFAULT_RESPONSE_LIMIT: usize = ccgw_client::DEFAULT_RESPONSE_LIMIT;
/// Default bound on connections open to one gateway (see [`ClientBuilder::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// Default of [`ClientBuilder::poll_hold`]: how long the gateway holds an event poll
/// when no event is pending (its documented long poll of about 10 s).
pub const DEFAULT_POLL_HOLD: Duration = Duration::from_secs(10);
/// Default of [`ClientBuilder::guid_grace`]: how long the gateway keeps accepting a Guid
/// after rotating it (`GUIDTIMEOUT`, 120 s on real gateways).
pub const DEFAULT_GUID_GRACE: Duration = Duration::from_secs(120);
/// Default of [`ClientBuilder::pool_idle_timeout`].
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!("ccgw/", env!("CARGO_PKG_VERSION"));

/// Builds a [`GatewayClient`]. Every setting has a safe default; [`build`](Self::build)
/// reports every problem as [`Error::Config`] and never panics.
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    fallback_urls: Vec<String>,
    allow_plain_http: bool,
    system_roots: bool,
    roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    root_errors: Vec<Error>,
    connect_timeout: Duration,
    request_timeout: Duration,
    poll_timeout: Duration,
    poll_hold: Duration,
    guid_grace: Duration,
    response_limit: usize,
    user_agent: String,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    max_connections: usize,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("fallback_urls", &self.fallback_urls)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("system_roots", &self.system_roots)
            .field("extra_roots", &self.roots.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("poll_timeout", &self.poll_timeout)
            .field("poll_hold", &self.poll_hold)
            .field("guid_grace", &self.guid_grace)
            .field("response_limit", &self.response_limit)
            .field("user_agent", &self.user_agent)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            fallback_urls: Vec::new(),
            allow_plain_http: false,
            system_roots: true,
            roots: Vec::new(),
            root_errors: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            poll_timeout: DEFAULT_POLL_TIMEOUT,
            poll_hold: DEFAULT_POLL_HOLD,
            guid_grace: DEFAULT_GUID_GRACE,
            response_limit: DEFAULT_RESPONSE_LIMIT,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            pool_max_idle_per_host: usize::MAX,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Another gateway (node or load balancer) to sign in on when the ones before it
    /// cannot take the sign-in; call it once per gateway, in the order to try them.
    ///
    /// Every sign-in — the first, and each recovery of a
    /// [supervised session](crate::SupervisedAgent) — tries the base URL first, then
    /// these in order, moving on only when a gateway did not take the request: nothing
    /// reached it ([`Disposition::Resend`](crate::Disposition::Resend): refused or timed-out
    /// connections) or it answered `000-004` (switching over). Any other answer, a
    /// refusal included, ends the sign-in there. A session then stays on the gateway that
    /// signed it in: every call of that [`Agent`] goes there, with the load balancer's
    /// cookie from its sign-in answer.
    pub fn fallback_url(mut self, base_url: &str) -> Self {
        self.fallback_urls.push(base_url.to_owned());
        self
    }

    /// Trusts the CA certificate(s) in `pem` (one or more `BEGIN CERTIFICATE` blocks) in
    /// addition to — or, with [`system_roots(false)`](Self::system_roots), instead of —
    /// the system's roots. Gateways usually present certificates of a private CA.
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        match tls::certificates(pem.as_ref()) {
            Ok(certs) => self.roots.extend(certs),
            Err(e) => self.root_errors.push(roots_error(e)),
        }
        self
    }

    /// Like [`add_root_certificate_pem`](Self::add_root_certificate_pem), reading the PEM
    /// from a file.
    pub fn add_root_certificate_pem_file(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(pem) => self.add_root_certificate_pem(pem),
            Err(e) => {
                let mut this = self;
                let reason = format!("cannot read the CA file {}", path.display());
                this.root_errors.push(config(&reason, Some(Box::new(e))));
                this
            }
        }
    }

    /// Whether the system's trust roots are used (default `true`). With `false`, only the
    /// certificates added with `add_root_certificate_pem*` are trusted.
    pub fn system_roots(mut self, enabled: bool) -> Self {
        self.system_roots = enabled;
        self
    }

    /// Allows a plain `http://` base URL. Only for local tests and simulators: the Guid
    /// would cross the network unencrypted. Default `false`.
    pub fn allow_plain_http(mut self, allowed: bool) -> Self {
        self.allow_plain_http = allowed;
        self
    }

    /// Time allowed to establish a connection, TLS handshake included (default 5 s). When
    /// it elapses nothing was sent: [`Error::TimeoutBeforeSend`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole request until the last byte of the answer (default 30 s).
    /// When it elapses after sending: [`Error::OutcomeUnknown`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Time allowed for one event poll (default 40 s). The gateway holds a poll for
    /// [`poll_hold`](Self::poll_hold) when no event is pending, so this must be longer
    /// than that hold: [`build`](Self::build) refuses it otherwise.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// How long the gateway holds an event poll when no event is pending (default
    /// [`DEFAULT_POLL_HOLD`], 10 s; the gateway's own setting). Describes the gateway:
    /// [`build`](Self::build) checks [`poll_timeout`](Self::poll_timeout) and
    /// [`guid_grace`](Self::guid_grace) against it.
    pub fn poll_hold(mut self, hold: Duration) -> Self {
        self.poll_hold = hold;
        self
    }

    /// How long the gateway keeps accepting a rotated-out Guid (default
    /// [`DEFAULT_GUID_GRACE`], 120 s; the gateway's `GUIDTIMEOUT`). Describes the gateway,
    /// and is the one rule for the event stream's timing: a Guid rotated just before a
    /// held poll must still be valid when the stream asks again, so
    /// [`build`](Self::build) refuses a grace not longer than
    /// [`poll_hold`](Self::poll_hold), and the stream keeps its pauses after failures
    /// within half of what is left (at most
    /// [`EVENT_BACKOFF_MAX`](crate::EVENT_BACKOFF_MAX)). A gateway with a 15 s grace and
    /// the 10 s hold is described as it is.
    pub fn guid_grace(mut self, grace: Duration) -> Self {
        self.guid_grace = grace;
        self
    }

    /// Cap on a response body in bytes (default 64 KiB): a longer answer fails with
    /// [`Error::ResponseTooLarge`] after at most this much was read.
    pub fn response_limit(mut self, bytes: usize) -> Self {
        self.response_limit = bytes;
        self
    }

    /// The `User-Agent` header (default `ccgw/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How long an idle pooled connection is kept (default 90 s; `None` keeps it until
    /// the gateway closes it).
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Most idle connections kept per gateway (default unlimited).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Most connections open to the gateway at once — in use, being opened or idle
    /// (default [`DEFAULT_MAX_CONNECTIONS`]). With HTTP/1.1 this also bounds the requests
    /// in flight: a request that finds every connection busy waits for one within its
    /// own timeout, and fails with [`Error::TimeoutBeforeSend`] if none frees up. Every
    /// agent's [event stream](crate::Agent::events) holds a connection while its poll
    /// waits (about 10 s), so allow at least one per agent with a stream, plus room for
    /// the other calls.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<GatewayClient, Error> {
        if let Some(e) = self.root_errors.into_iter().next() {
            return Err(e);
        }
        let mut urls = vec![check_base_url(&self.base_url, self.allow_plain_http)?];
        for url in &self.fallback_urls {
            urls.push(check_base_url(url, self.allow_plain_http)?);
        }
        for (setting, timeout) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("poll_timeout", self.poll_timeout),
        ] {
            if timeout.is_zero() {
                return Err(config(&format!("{setting} must be longer than zero"), None));
            }
        }
        check_timing(self.poll_timeout, self.poll_hold, self.guid_grace)?;
        if self.max_connections == 0 {
            return Err(config("max_connections must be at least 1", None));
        }
        if self.response_limit == 0 {
            return Err(config("response_limit must be at least one byte", None));
        }
        let user_agent = http::HeaderValue::from_str(&self.user_agent).map_err(|e| {
            config(
                "the user agent is not a valid header value",
                Some(Box::new(e)),
            )
        })?;

        let tls = Arc::new(tls::client_config(self.system_roots, self.roots).map_err(roots_error)?);
        let mut gateways = Vec::with_capacity(urls.len());
        for base_url in urls {
            let mut transport = TransportConfig::new(Some(Arc::clone(&tls)));
            transport.connect_timeout = self.connect_timeout;
            transport.request_timeout = self.request_timeout;
            transport.max_connections = self.max_connections;
            transport.max_idle = self.pool_max_idle_per_host;
            transport.idle_timeout = self.pool_idle_timeout;
            transport.user_agent = Some(user_agent.clone());
            let transport = Transport::new(&base_url, transport).map_err(|e| {
                config(
                    &format!("the gateway URL {base_url} cannot be connected to"),
                    Some(Box::new(e)),
                )
            })?;
            gateways.push(Endpoint {
                base_url,
                transport,
            });
        }
        Ok(GatewayClient {
            inner: Arc::new(Shared {
                http: reqwest::Client::new(),
                gateways,
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                poll_timeout: self.poll_timeout,
                response_limit: self.response_limit,
                event_backoff_max: event_backoff_max(self.poll_hold, self.guid_grace),
                guid_grace: self.guid_grace,
            }),
        })
    }
}

/// The constraints between the timeouts and the gateway's timings.
fn check_timing(
    poll_timeout: Duration,
    poll_hold: Duration,
    guid_grace: Duration,
) -> Result<(), Error> {
    if poll_timeout <= poll_hold {
        return Err(config(
            &format!(
                "poll_timeout ({poll_timeout:?}) must be longer than poll_hold ({poll_hold:?}): the gateway holds a quiet event poll that long, so every such poll would time out"
            ),
            None,
        ));
    }
    if guid_grace <= poll_hold {
        return Err(config(
            &format!(
                "guid_grace ({guid_grace:?}) must be longer than poll_hold ({poll_hold:?}): a Guid rotated just before a held poll would expire before the event stream could use the next one"
            ),
            None,
        ));
    }
    Ok(())
}

/// The event stream's longest pause after a failure for a gateway holding polls
/// `poll_hold` and accepting a rotated-out Guid for `guid_grace`: half of what the grace
/// leaves after a held poll, at most [`EVENT_BACKOFF_MAX`](crate::EVENT_BACKOFF_MAX) —
/// so a Guid rotated before a held poll is still valid after the pause that follows it.
pub(crate) fn event_backoff_max(poll_hold: Duration, guid_grace: Duration) -> Duration {
    (guid_grace.saturating_sub(poll_hold) / 2).min(crate::EVENT_BACKOFF_MAX)
}

fn roots_error(e: tls::RootsError) -> Error {
    match e {
        tls::RootsError::None => config(
            "no trust roots: system roots are off and no CA certificate was added",
            None,
        ),
        tls::RootsError::Empty => config("the CA PEM holds no certificate", None),
        tls::RootsError::Pem(e) => config(
            "the CA PEM cannot be read as certificates",
            Some(Box::new(e)),
        ),
        tls::RootsError::Rustls(e) => config("the trust roots cannot be used", Some(Box::new(e))),
    }
}

pub(crate) fn config(reason: &str, source: Option<Box<dyn StdError + Send + Sync>>) -> Error {
    Error::Config {
        reason: reason.to_owned(),
        source,
    }
}

/// `https://host[:port][/prefix]` without a trailing slash; no credentials, query or fragment.
fn check_base_url(text: &str, allow_plain_http: bool) -> Result<String, Error> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| {
        config(
            &format!(
                "the base URL {:?} is not a URL",
                redact::printable(text, 100)
            ),
            Some(Box::new(e)),
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_plain_http => {}
        "http" => {
            return Err(config(
                "the base URL uses plain http: the Guid would travel unencrypted; use https (plain http only with allow_plain_http(true), for local tests)",
                None,
            ));
        }
        other => {
            return Err(config(
                &format!("the base URL scheme {other:?} is not https"),
                None,
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(config("the base URL has no host", None));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config("the base URL must not contain credentials", None));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config(
            "the base URL must not have a query or fragment",
            None,
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// One gateway of the list: where requests go and the pool they go over.
pub(crate) struct Endpoint {
    pub(crate) base_url: String,
    pub(crate) transport: Transport,
}

pub(crate) struct Shared {
    /// Only builds the generated client's requests; they are sent over a gateway's
    /// transport.
    pub(crate) http: reqwest::Client,
    /// The base URL's gateway first, then the fallbacks in order; never empty.
    pub(crate) gateways: Vec<Endpoint>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) poll_timeout: Duration,
    pub(crate) response_limit: usize,
    /// The event stream's longest pause after a failure: within the Guid's grace.
    pub(crate) event_backoff_max: Duration,
    /// How long the gateway accepts a rotated-out Guid.
    pub(crate) guid_grace: Duration,
}

/// A client for a gateway and its fallbacks (tried in order at sign-in): connection
/// pool, TLS trust and timeouts. Cheap to clone
/// (`Arc` inside), `Send + Sync`; build one and share it across all agents.
///
/// See the [crate documentation](crate) for an example.
#[derive(Clone)]
pub struct GatewayClient {
    pub(crate) inner: Arc<Shared>,
}

impl fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayClient")
            .field("base_url", &self.base_url())
            .field(
                "fallback_urls",
                &self.inner.gateways.len().saturating_sub(1),
            )
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("request_timeout", &self.inner.request_timeout)
            .field("response_limit", &self.inner.response_limit)
            .finish_non_exhaustive()
    }
}

impl GatewayClient {
    /// Starts building a client for the gateway at `base_url`, e.g.
    /// `https://gateway.example:8043`.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// The base URL requests go to (normalised, without a trailing slash).
    pub fn base_url(&self) -> &str {
        self.inner
            .gateways
            .first()
            .map_or("", |g| g.base_url.as_str())
    }

    /// A handle for the signed-in agent `id` whose session Guid is `guid` (e.g. from a
    /// sign-in done elsewhere). To sign in through this client, use
    /// [`sign_in`](Self::sign_in).
    pub fn agent(&self, id: AgentId, guid: Guid) -> Agent {
        let agent = Agent::new(self.clone(), id, 0);
        agent.set_guid(guid);
        agent
    }
}

/// Maps a failure of the exchange itself by whether the request may have been sent.
pub(crate) fn classify_transport(e: reqwest::Error) -> Error {
    match TransportError::find_in(&e) {
        Some(found) => from_transport(found.clone()),
        // Not from the transport: the request could not be built.
        None => Error::Config {
            reason: "the request could not be built".to_owned(),
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

pub(crate) fn classify_body_error(e: reqwest::Error) -> Error {
    match ResponseRejected::find_in(&e) {
        Some(ResponseRejected::TooLarge { limit }) => {
            return Error::ResponseTooLarge { limit: *limit };
        }
        Some(ResponseRejected::NotJson { content_type }) => {
            return Error::UnexpectedContentType {
                content_type: content_type.as_deref().map(|ct| redact::printable(ct, 100)),
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
pub(crate) async fn read_excerpt(mut response: reqwest::Response, secret: &str) -> String {
    let mut bytes = Vec::new();
    while bytes.len() <= redact::EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    redact::excerpt(&bytes, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event stream's longest pause leaves a rotated Guid valid: half of what the
    /// grace leaves after a held poll, never more than `EVENT_BACKOFF_MAX`.
    #[test]
    fn the_event_stream_pauses_within_the_guid_grace() {
        let s = Duration::from_secs;
        assert_eq!(
            event_backoff_max(s(10), s(15)),
            Duration::from_millis(2_500)
        );
        assert_eq!(event_backoff_max(s(10), s(40)), s(15));
        assert_eq!(event_backoff_max(s(10), s(120)), crate::EVENT_BACKOFF_MAX);
        for grace in 11..=200 {
            let pause = event_backoff_max(s(10), s(grace));
            assert!(s(10) + pause < s(grace), "grace {grace} s: pause {pause:?}");
        }
    }
}
