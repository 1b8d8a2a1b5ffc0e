//! The session shared by the generated [`Client`] and its owner, and the
//! [`ClientHooks`] implementation that turns every generated request into the request
//! the gateway documents:
//!
//! - header `guid: <Guid>` from the session, marked sensitive (never printed by the
//!   `http` types); a request without a Guid is refused before anything is sent;
//! - `Content-Type: application/json; charset=UTF-8` and `Content-Length: 0` on this
//!   body-less POST (progenitor sends neither);
//! - no `api-version` header (progenitor adds it; it is not part of the gateway contract);
//! - a response body capped at the session's limit, and a success answer that must be
//!   JSON (see [`crate::ResponseRejected`]);
//! - every `Set-GUID: JSESSIONID=<guid>` on any answer replaces the session's Guid
//!   (dynamic authentication rotates it on event polling and heartbeat answers);
//! - event polls get their own timeout, longer than the gateway's hold time.
//!
//! The impl must live in this crate: `Client` is defined here (orphan rule).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderName, HeaderValue, SET_COOKIE};
use zeroize::Zeroizing;

use crate::guard::{DEFAULT_RESPONSE_LIMIT, guard};
use crate::guid::{InvalidGuid, check_bare_guid, parse_guid};
use crate::transport::{Transport, TransportError};
use crate::{Client, Error, operations};

/// The request header that carries the Guid (the gateway's auth page names it `guid`).
const GUID: HeaderName = HeaderName::from_static("guid");
/// Content type the gateway documents for every call.
pub(crate) const JSON_UTF8: &str = "application/json; charset=UTF-8";

/// The agent's session credential, shared between clones and rotatable at any time.
///
/// Dynamic authentication hands out a new Guid every minute or so; [`Session::set_guid`]
/// makes it effective for the next request without rebuilding the client or its
/// connection pool. `Debug` never shows the Guid.
#[derive(Clone)]
pub struct Session {
    guid: Arc<RwLock<Option<HeaderValue>>>,
    /// The load balancer's cookies (`name=value`), from `Set-Cookie` answers; replayed
    /// as one `Cookie` header, marked sensitive. A secret like the Guid.
    cookies: Arc<RwLock<Cookies>>,
    /// Bumped on every Guid change, so a caller can tell whether it rotated meanwhile.
    generation: Arc<AtomicU64>,
    /// The Guids and cookie headers this session held before, newest last (at most
    /// [`HELD_BEFORE`]): a replaced Guid stays valid for the gateway's grace, and all are
    /// secrets that an error must not repeat.
    held: Arc<RwLock<VecDeque<HeaderValue>>>,
    response_limit: usize,
    poll_timeout: Option<Duration>,
    transport: Option<Transport>,
    /// Event polls go over this one when set: held polls then never take the
    /// connections other requests need.
    poll_transport: Option<Transport>,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            guid: Arc::default(),
            cookies: Arc::default(),
            generation: Arc::default(),
            held: Arc::default(),
            response_limit: DEFAULT_RESPONSE_LIMIT,
            poll_timeout: None,
            transport: None,
            poll_transport: None,
        }
    }
}

/// The response header that carries a new Guid.
const SET_GUID: &str = "set-guid";
/// Replaced Guids and cookie headers a session remembers as secrets (a Guid rotates
/// every minute or so and a replaced one stays valid for two).
const HELD_BEFORE: usize = 8;

impl Session {
    /// A session without a Guid: requests are refused until one is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same session with another cap on response bodies (default
    /// [`DEFAULT_RESPONSE_LIMIT`], 64 KiB). Longer answers fail with
    /// [`ResponseRejected::TooLarge`](crate::ResponseRejected::TooLarge) after at most
    /// `limit` bytes were read.
    #[must_use]
    pub fn with_response_limit(mut self, limit: usize) -> Self {
        self.response_limit = limit;
        self
    }

    /// The same session with a timeout for event polls ([`operations::GET_AGENT_EVENT`]), which the
    /// gateway holds for about 10 s: it must be longer than that hold. Other requests
    /// keep the client's timeout.
    #[must_use]
    pub fn with_poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = Some(timeout);
        self
    }

    /// The same session sending its requests over `transport` (shared by clones and by
    /// every session given the same transport) instead of the `reqwest::Client` the
    /// generated client was built with.
    #[must_use]
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The same session sending its event polls ([`operations::GET_AGENT_EVENT`]) over
    /// `transport`, and everything else over [`with_transport`](Self::with_transport)'s:
    /// polls the gateway holds then use up their own connections, never those a state
    /// change needs.
    #[must_use]
    pub fn with_poll_transport(mut self, transport: Transport) -> Self {
        self.poll_transport = Some(transport);
        self
    }

    /// The Guid's text, for whoever must compare or scrub it. It is a secret: do not
    /// log it.
    pub fn guid_text(&self) -> Option<String> {
        self.guid
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// A number that changes whenever the Guid is set or cleared (rotation included).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Takes the Guid from a `Set-GUID` value (`JSESSIONID=<guid>`); returns whether
    /// it was usable.
    pub fn set_guid_from_header(&self, value: &str) -> bool {
        parse_guid(value).is_ok_and(|bare| self.set_guid(bare).is_ok())
    }

    /// The cap on response bodies in bytes.
    pub fn response_limit(&self) -> usize {
        self.response_limit
    }

    /// Sets (or replaces) the Guid used by every following request.
    ///
    /// The bare value, taken as it is (a Guid looks like
    /// `279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0`; [`parse_guid`] takes one out
    /// of `JSESSIONID=<guid>`), checked by [`check_bare_guid`]: anything else — spaces,
    /// CR, LF, controls, non-ASCII — is rejected, so it can never inject a header.
    pub fn set_guid(&self, guid: &str) -> Result<(), InvalidGuid> {
        let guid = check_bare_guid(guid)?;
        let mut value = HeaderValue::from_str(guid).map_err(|_| InvalidGuid::NotHeaderSafe)?;
        value.set_sensitive(true);
        let mut current = self.guid.write().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref() != Some(&value) {
            if let Some(old) = current.replace(value) {
                self.remember(old);
            }
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Every secret this session holds or held (its Guids and cookies, whole and each
    /// cookie's value), for masking texts before they are shown.
    pub fn secret_texts(&self) -> Vec<Zeroizing<String>> {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        let current = [self.header(), self.cookie_header()];
        let mut texts = Vec::new();
        for value in held.iter().chain(current.iter().flatten()) {
            let Ok(text) = value.to_str() else { continue };
            texts.push(Zeroizing::new(text.to_owned()));
            for pair in text.split(';').filter(|p| p.contains('=')) {
                let (_, cookie) = pair.split_once('=').unwrap_or_default();
                texts.push(Zeroizing::new(cookie.trim().to_owned()));
            }
        }
        texts
    }

    fn remember(&self, value: HeaderValue) {
        let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
        if held.len() == HELD_BEFORE {
            held.pop_front();
        }
        held.push_back(value);
    }

    /// Forgets the Guid (e.g. after sign-out): requests are refused until a new one is set.
    pub fn clear_guid(&self) {
        let old = self
            .guid
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let cookies =
            std::mem::take(&mut *self.cookies.write().unwrap_or_else(PoisonError::into_inner));
        for value in old.into_iter().chain(cookies.header) {
            self.remember(value);
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether a Guid is set.
    pub fn has_guid(&self) -> bool {
        self.guid
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The `Cookie` header value this session sends (`a=1; b=2`), for callers that keep
    /// a session between runs. A secret like the Guid.
    pub fn cookie_text(&self) -> Option<String> {
        self.cookie_header()
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// Restores cookies kept from [`cookie_text`](Self::cookie_text) (`a=1; b=2`); pairs
    /// that are not `name=value` are ignored.
    pub fn set_cookie_text(&self, text: &str) {
        let mut cookies = self.cookies.write().unwrap_or_else(PoisonError::into_inner);
        let before = cookies.header.clone();
        for pair in text.split(';') {
            cookies.set(pair.trim().as_bytes());
        }
        self.remember_replaced(before, cookies.header.as_ref());
    }

    /// Remembers a cookie header that was replaced.
    fn remember_replaced(&self, before: Option<HeaderValue>, now: Option<&HeaderValue>) {
        if let Some(before) = before.filter(|b| Some(b) != now) {
            self.remember(before);
        }
    }

    /// Keeps the cookies of `Set-Cookie` values (attributes ignored).
    fn keep_cookies<'a>(&self, set_cookies: impl Iterator<Item = &'a HeaderValue>) {
        let mut set_cookies = set_cookies.peekable();
        if set_cookies.peek().is_none() {
            return;
        }
        let mut cookies = self.cookies.write().unwrap_or_else(PoisonError::into_inner);
        let before = cookies.header.clone();
        for value in set_cookies {
            cookies.set(value.as_bytes());
        }
        self.remember_replaced(before, cookies.header.as_ref());
    }

    fn cookie_header(&self) -> Option<HeaderValue> {
        self.cookies
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .header
            .clone()
    }

    fn header(&self) -> Option<HeaderValue> {
        self.guid
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A session's cookies: at most [`MAX_COOKIES`] of at most [`MAX_COOKIE_LEN`] bytes each.
#[derive(Default)]
struct Cookies {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// `a=1; b=2`, sensitive; `None` without cookies.
    header: Option<HeaderValue>,
}

/// Cookies kept per session (a load balancer sets one; anything past this is dropped).
const MAX_COOKIES: usize = 8;
/// Longest `name=value` kept.
const MAX_COOKIE_LEN: usize = 4096;

impl Cookies {
    /// Takes `name=value` from a `Set-Cookie` value; an empty value or `Max-Age=0`
    /// removes the cookie.
    fn set(&mut self, set_cookie: &[u8]) {
        let mut parts = set_cookie.split(|&b| b == b';');
        let Some(pair) = parts.next() else { return };
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            return;
        };
        let (name, value) = (pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii());
        if name.is_empty() || pair.len() > MAX_COOKIE_LEN {
            return;
        }
        let expired =
            parts.any(|attribute| attribute.trim_ascii().eq_ignore_ascii_case(b"max-age=0"));
        self.pairs.retain(|(n, _)| n.as_slice() != name);
        if !value.is_empty() && !expired && self.pairs.len() < MAX_COOKIES {
            self.pairs.push((name.to_vec(), value.to_vec()));
        }
        let joined: Vec<u8> = self
            .pairs
            .iter()
            .map(|(n, v)| [n.as_slice(), b"=", v.as_slice()].concat())
            .collect::<Vec<_>>()
            .join(b"; ".as_slice());
        self.header = (!joined.is_empty())
            .then(|| HeaderValue::from_bytes(&joined).ok())
            .flatten()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guid = if self.has_guid() {
            "<redacted>"
        } else {
            "<none>"
        };
        f.debug_struct("Session")
            .field("guid", &guid)
            .field("response_limit", &self.response_limit)
            .finish()
    }
}

impl ClientHooks<Session> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        let sends_guid = operations::by_method(info.operation_id).is_none_or(|op| op.sends_guid);
        let guid = if !sends_guid {
            None
        } else {
            let Some(guid) = self.inner.header() else {
                return Err(Error::Custom(format!(
                    "{}: no Guid in the session; sign in first (nothing was sent)",
                    info.operation_id
                )));
            };
            Some(guid)
        };
        let has_body = request.body().is_some();
        let headers = request.headers_mut();
        headers.remove("api-version");
        if let Some(guid) = guid {
            headers.insert(GUID, guid);
        }
        if let Some(cookie) = self.inner.cookie_header() {
            headers.insert(COOKIE, cookie);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        if !has_body {
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        if info.operation_id == operations::GET_AGENT_EVENT.method
            && let Some(timeout) = self.inner.poll_timeout
        {
            *request.timeout_mut() = Some(timeout);
        }
        Ok(())
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        if let Ok(response) = result {
            if let Some(value) = response.headers().get(SET_GUID)
                && let Ok(text) = value.to_str()
            {
                // An unusable value is ignored: the current Guid stays.
                self.inner.set_guid_from_header(text);
            }
            self.inner
                .keep_cookies(response.headers().get_all(SET_COOKIE).iter());
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let limit = self.inner.response_limit;
        let transport = match &self.inner.poll_transport {
            Some(polls) if info.operation_id == operations::GET_AGENT_EVENT.method => Some(polls),
            _ => self.inner.transport.as_ref(),
        };
        match transport {
            None => {
                let response = self.client.execute(request).await?;
                let url = response.url().clone();
                Ok(guard(http::Response::from(response), url, limit))
            }
            Some(transport) => {
                let url = request.url().clone();
                match transport.send(request).await {
                    Ok(response) => Ok(guard(response, url, limit)),
                    Err(e) => Ok(carrier(e)),
                }
            }
        }
    }
}

/// The answer `exec` gives for a request the transport could not complete: no gateway
/// sent it. Its status is [`NOT_ANSWERED`] and its extensions hold the transport's
/// error as a value ([`TransportError::in_response`]); the generated client hands it
/// on as an unexpected response. (`exec` cannot fail otherwise: its error type is
/// `reqwest::Error`, which has no public constructor.)
fn carrier(error: TransportError) -> reqwest::Response {
    let mut response = http::Response::new(reqwest::Body::from(Vec::new()));
    *response.status_mut() = NOT_ANSWERED;
    response.extensions_mut().insert(error);
    reqwest::Response::from(response)
}

/// The status of the answer a request the transport could not complete comes back as
/// ([`TransportError::in_response`](crate::transport::TransportError::in_response)):
/// outside every status a gateway sends.
pub const NOT_ANSWERED: http::StatusCode = match http::StatusCode::from_u16(599) {
    Ok(status) => status,
    Err(_) => http::StatusCode::BAD_GATEWAY,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_values_that_are_not_header_safe() {
        let session = Session::new();
        for bad in [
            "",
            "a\r\nX-Evil: 1",
            "a\nb",
            "a b",
            "a\tb",
            "a\u{0}b",
            "guid\u{7f}",
            "gü",
        ] {
            assert!(session.set_guid(bad).is_err(), "{bad:?} was accepted");
            assert!(!session.has_guid());
        }
        session
            .set_guid("279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0")
            .expect("valid");
        assert!(session.has_guid());
        session.clear_guid();
        assert!(!session.has_guid());
    }

    #[test]
    fn cookies_are_kept_replaced_and_removed() {
        let header = |c: &Cookies| {
            c.header
                .as_ref()
                .map(|v| v.to_str().expect("text").to_owned())
        };
        let mut cookies = Cookies::default();
        cookies.set(b"lb=node1; Path=/; Secure; HttpOnly");
        assert_eq!(header(&cookies).as_deref(), Some("lb=node1"));
        assert!(
            cookies
                .header
                .as_ref()
                .is_some_and(HeaderValue::is_sensitive)
        );
        cookies.set(b"other=x");
        cookies.set(b"lb=node2");
        assert_eq!(header(&cookies).as_deref(), Some("other=x; lb=node2"));
        cookies.set(b"other=x; Max-Age=0");
        cookies.set(b"no-equals-sign");
        assert_eq!(header(&cookies).as_deref(), Some("lb=node2"));
        cookies.set(b"lb=");
        assert_eq!(header(&cookies), None);
        // A cookie without a name, or longer than any a load balancer sets, is ignored.
        cookies.set(b"=nameless");
        let long = format!("lb={}", "v".repeat(MAX_COOKIE_LEN));
        cookies.set(long.as_bytes());
        assert_eq!(header(&cookies), None);
        // The longest kept is exactly `MAX_COOKIE_LEN` bytes of `name=value`.
        let longest = format!("lb={}", "v".repeat(MAX_COOKIE_LEN - 3));
        cookies.set(longest.as_bytes());
        assert_eq!(header(&cookies).as_deref(), Some(longest.as_str()));
        cookies.set(b"lb=");
        for i in 0..20 {
            cookies.set(format!("c{i}=v").as_bytes());
        }
        assert_eq!(cookies.pairs.len(), MAX_COOKIES);
    }

    #[test]
    fn the_response_limit_is_the_one_set() {
        assert_eq!(Session::new().response_limit(), DEFAULT_RESPONSE_LIMIT);
        assert_eq!(
            Session::new().with_response_limit(1234).response_limit(),
            1234
        );
    }

    #[test]
    fn debug_never_shows_the_guid() {
        let session = Session::new();
        assert_eq!(
            format!("{session:?}"),
            r#"Session { guid: "<none>", response_limit: 65536 }"#
        );
        session.set_guid("SENTINEL-GUID-1234").expect("valid");
        let shown = format!("{session:?} {session:#?}");
        assert!(!shown.contains("SENTINEL"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    /// The hook compares with `OperationInfo::operation_id`, which progenitor fills with
    /// the method name: the constants must be those names, or the poll timeout and the
    /// Guid-less sign-in silently stop working.
    #[test]
    fn operation_constants_name_the_generated_methods() {
        let generated = include_str!("generated.rs");
        for op in operations::ALL {
            assert!(
                generated.contains(&format!("operation_id: \"{}\"", op.method)),
                "{op:?} is not what progenitor puts in OperationInfo"
            );
        }
        // `sends_guid` is false exactly for the operations the spec marks `security: []`.
        let spec = include_str!("../../../openapi/ccgateway.yaml");
        for op in operations::ALL {
            let start = spec
                .find(&format!("operationId: {}\n", op.log_name))
                .unwrap_or_else(|| panic!("{} is not in the spec", op.log_name));
            let rest = &spec[start..];
            let block = &rest[..rest[1..].find("operationId:").map_or(rest.len(), |i| i + 1)];
            assert_eq!(op.sends_guid, !block.contains("security: []"), "{op:?}");
        }
    }

    /// Every Guid replaced since sign-in stays known for masking, up to `HELD_BEFORE`
    /// of them; the oldest beyond that is forgotten.
    #[test]
    fn replaced_guids_are_remembered_up_to_the_bound() {
        let session = Session::new();
        let guid = |i: usize| format!("G-{i}");
        for i in 0..=HELD_BEFORE + 1 {
            session.set_guid(&guid(i)).expect("valid");
        }
        let known: Vec<String> = session
            .secret_texts()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        // The current Guid and the last `HELD_BEFORE` it replaced.
        for i in 1..=HELD_BEFORE + 1 {
            assert!(known.contains(&guid(i)), "{} is not known", guid(i));
        }
        assert!(
            !known.contains(&guid(0)),
            "the oldest is kept beyond the bound"
        );
    }

    #[test]
    fn clones_share_one_guid() {
        let a = Session::new();
        let b = a.clone();
        a.set_guid("G-1").expect("valid");
        assert_eq!(
            b.header().as_ref().map(HeaderValue::as_bytes),
            Some(&b"G-1"[..])
        );
        b.set_guid("G-2").expect("valid");
        assert_eq!(
            a.header().as_ref().map(HeaderValue::as_bytes),
            Some(&b"G-2"[..])
        );
    }
}
