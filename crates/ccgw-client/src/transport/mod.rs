//! The transport behind progenitor's `exec` hook: HTTP/1.1 over hyper's connection API
//! and tokio-rustls, one small pool per gateway.
//!
//! What it does, and what reqwest's request path did before it:
//!
//! - connections are reused (last in, first out) and at most
//!   [`TransportConfig::max_connections`] are open at once — in use, being opened or
//!   idle; a request that finds none free waits for one within its own timeout;
//! - connect, request and per-request timeouts (the event poll's comes from the hook);
//!   a request whose connection turns out closed before it was written is sent again on a
//!   new connection, since the gateway never saw it;
//! - TLS is whatever `rustls::ClientConfig` the caller gives (verified; no redirects are
//!   followed, since nothing here follows any);
//! - connections only waiting on a long poll keep small buffers
//!   ([`TransportConfig::read_buffer`]); idle ones beyond
//!   [`TransportConfig::max_idle`] or older than [`TransportConfig::idle_timeout`] are
//!   closed.
//!
//! Every failure is a [`TransportError`] saying whether the request may have reached the
//! gateway. `exec` must return a `reqwest::Error`, which has no public constructor: the
//! hook carries the `TransportError` as the source of the body error reqwest makes when
//! a body fails, and [`TransportError::find_in`] finds it again.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HOST, USER_AGENT};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tokio::time::Instant;

mod error;
mod pool;

pub use error::{SharedError, TransportError};
pub use pool::PooledBody;
use pool::{Origin, Pool};

/// Default of [`TransportConfig::read_buffer`]: 4 KiB (hyper's own default is 8 KiB,
/// growing with the answers).
pub const DEFAULT_READ_BUFFER: usize = 4 * 1024;
/// Smallest [`TransportConfig::read_buffer`]: 1 KiB (smaller settings are raised to it).
pub const MIN_READ_BUFFER: usize = 1024;

/// How the transport connects and how much it keeps.
#[derive(Clone)]
#[non_exhaustive]
pub struct TransportConfig {
    /// The TLS configuration for `https` origins (`None`: plain HTTP only).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Time for TCP connect and TLS handshake.
    pub connect_timeout: Duration,
    /// Time for a whole request, from asking for a connection to the answer's last byte,
    /// unless the request carries its own (the event poll's).
    pub request_timeout: Duration,
    /// Most connections open at once (in use, opening or idle).
    pub max_connections: usize,
    /// Most connections being opened (TCP connect and TLS handshake) at once; more wait
    /// for a turn within their request's timeout, before the connect timeout starts.
    pub max_connecting: usize,
    /// Most idle connections kept.
    pub max_idle: usize,
    /// An idle connection older than this is closed instead of reused (`None`: kept).
    pub idle_timeout: Option<Duration>,
    /// The size of each connection's read buffer, in bytes (at least
    /// [`MIN_READ_BUFFER`]). It is held for as long as the connection waits on an answer,
    /// so by every agent idle in its long poll. An answer's head (status line and
    /// headers) must fit in it, or the request fails with
    /// [`TransportError::OutcomeUnknown`] naming this setting; the gateway's heads are
    /// well under 1 KiB.
    pub read_buffer: usize,
    /// The `User-Agent` sent on every request that has none (`None`: no such header).
    pub user_agent: Option<HeaderValue>,
}

impl TransportConfig {
    /// Defaults: 5 s connect, 30 s request, 256 connections (64 being opened at once),
    /// 256 idle kept for 90 s,
    /// [`DEFAULT_READ_BUFFER`] read buffers, no `User-Agent`.
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        Self {
            tls,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_connections: 256,
            max_connecting: 64,
            max_idle: 256,
            idle_timeout: Some(Duration::from_secs(90)),
            read_buffer: DEFAULT_READ_BUFFER,
            user_agent: None,
        }
    }
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("tls", &self.tls.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_connecting", &self.max_connecting)
            .field("max_idle", &self.max_idle)
            .field("idle_timeout", &self.idle_timeout)
            .field("read_buffer", &self.read_buffer)
            .finish_non_exhaustive()
    }
}

/// A pooled HTTP/1.1 transport to one gateway. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Transport {
    pool: Arc<Pool>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("origin", &self.pool.origin.authority)
            .field("open", &self.open_connections())
            .field("config", &self.pool.config)
            .finish()
    }
}

impl Transport {
    /// A transport to the origin of `base_url` (`https://host:port` or, without TLS
    /// configuration, `http://…`).
    pub fn new(base_url: &str, config: TransportConfig) -> Result<Self, TransportError> {
        let url = reqwest::Url::parse(base_url)
            .map_err(|_| TransportError::Unsendable("the base URL is not a URL"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => {
                return Err(TransportError::Unsendable(
                    "the scheme is neither https nor http",
                ));
            }
        };
        if https && config.tls.is_none() {
            return Err(TransportError::Unsendable(
                "https without a TLS configuration",
            ));
        }
        let host = url
            .host_str()
            .ok_or(TransportError::Unsendable("the base URL has no host"))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or(TransportError::Unsendable("the base URL has no port"))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let authority = HeaderValue::from_str(&authority)
            .map_err(|_| TransportError::Unsendable("the host is not a header value"))?;
        let tls = config
            .tls
            .clone()
            .filter(|_| https)
            .map(tokio_rustls::TlsConnector::from);
        Ok(Self {
            pool: Arc::new(Pool::new(
                Origin {
                    https,
                    host,
                    port,
                    authority,
                },
                config,
                tls,
            )),
        })
    }

    /// Connections open now (in use, opening or idle).
    pub fn open_connections(&self) -> usize {
        self.pool.open_connections()
    }

    /// Sends `request` and returns the answer; its body returns the connection to the
    /// pool once read to the end.
    pub async fn send(
        &self,
        request: reqwest::Request,
    ) -> Result<Response<PooledBody>, TransportError> {
        let timeout = request
            .timeout()
            .copied()
            .unwrap_or(self.pool.config.request_timeout);
        let deadline = after(timeout);
        let request = self.to_hyper(request)?;
        // A reused connection the gateway closed meanwhile gives the request back
        // unsent; it goes out once more on a connection of its own.
        let mut request = request;
        let mut fresh_only = false;
        loop {
            let (mut conn, fresh) = self.pool.checkout(deadline, timeout, fresh_only).await?;
            let ready = tokio::time::timeout_at(deadline, conn.sender.ready()).await;
            match ready {
                Err(_) => {
                    return Err(TransportError::TimeoutBeforeSend {
                        timeout,
                        waiting_for: "the connection to be ready",
                    });
                }
                Ok(Err(_)) if !fresh => {
                    fresh_only = true;
                    continue;
                }
                Ok(Err(e)) => return Err(TransportError::connect(e)),
                Ok(Ok(())) => {}
            }
            let sent = conn.sender.try_send_request(request);
            let answer = match tokio::time::timeout_at(deadline, sent).await {
                Err(_) => {
                    return Err(TransportError::OutcomeUnknown {
                        reason: format!("no answer within {timeout:?}"),
                        source: None,
                    });
                }
                Ok(answer) => answer,
            };
            match answer {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = PooledBody::new(body, conn, &self.pool, deadline, timeout);
                    return Ok(Response::from_parts(parts, body));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if !fresh => {
                        request = unsent;
                        fresh_only = true;
                    }
                    Some(_) => return Err(TransportError::connect(e.into_error())),
                    None => {
                        let e = e.into_error();
                        // hyper tells a head too large for the buffer apart from other
                        // parse errors only with its server feature on.
                        let reason = if e.is_parse() {
                            self.parse_failure(&e)
                        } else {
                            "the connection failed before an answer arrived".to_owned()
                        };
                        return Err(TransportError::unknown(reason, e));
                    }
                },
            }
        }
    }

    /// Why an answer could not be parsed: a head too large for the read buffer, or not
    /// HTTP at all — over plain http, most likely a server that expects TLS. (hyper tells
    /// the first apart only in its error's text without its server feature.)
    fn parse_failure(&self, e: &hyper::Error) -> String {
        if e.to_string().contains("too large") {
            return format!(
                "the answer's head is larger than the read buffer ({} bytes, \
                 TransportConfig::read_buffer)",
                self.pool.read_buffer()
            );
        }
        if self.pool.origin.https {
            "the answer is not HTTP/1.1".to_owned()
        } else {
            "the answer is not HTTP/1.1: a server that expects TLS answers plain http so \
             — use an https:// URL"
                .to_owned()
        }
    }

    /// The request in hyper's terms, its headers moved rather than copied.
    fn to_hyper(
        &self,
        mut request: reqwest::Request,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let origin = &self.pool.origin;
        let url = request.url();
        if url.host_str() != Some(origin.host.as_str())
            || url.port_or_known_default() != Some(origin.port)
            || (url.scheme() == "https") != origin.https
        {
            return Err(TransportError::Unsendable(
                "the request goes to another origin than the transport's",
            ));
        }
        let path = url.path();
        let target = match url.query() {
            Some(query) => {
                let mut target = String::with_capacity(path.len() + 1 + query.len());
                target.push_str(path);
                target.push('?');
                target.push_str(query);
                target
            }
            None => path.to_owned(),
        };
        let body = match request.body() {
            None => Bytes::new(),
            Some(body) => Bytes::copy_from_slice(
                body.as_bytes()
                    .ok_or(TransportError::Unsendable("a streaming request body"))?,
            ),
        };
        let uri = http::Uri::try_from(target)
            .map_err(|_| TransportError::Unsendable("the request target is not a valid URI"))?;
        let mut hyper_request = Request::new(Full::new(body));
        *hyper_request.method_mut() = request.method().clone();
        *hyper_request.uri_mut() = uri;
        let headers = hyper_request.headers_mut();
        *headers = std::mem::take(request.headers_mut());
        headers.insert(HOST, origin.authority.clone());
        if let Some(agent) = &self.pool.config.user_agent {
            headers.entry(USER_AGENT).or_insert_with(|| agent.clone());
        }
        Ok(hyper_request)
    }
}

/// The instant `timeout` from now; a timeout too long to add is taken as a year.
pub(crate) fn after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 60 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request for another host, port or scheme than the transport's is refused
    /// before anything is sent; one for its own origin is not.
    #[test]
    fn only_the_transport_s_own_origin_is_sendable() {
        let transport =
            Transport::new("http://127.0.0.1:8043", TransportConfig::new(None)).expect("builds");
        let request = |url: &str| {
            reqwest::Request::new(reqwest::Method::GET, reqwest::Url::parse(url).expect("URL"))
        };
        assert!(
            transport
                .to_hyper(request("http://127.0.0.1:8043/a?b=c"))
                .is_ok()
        );
        for other in [
            "http://127.0.0.2:8043/a",
            "http://127.0.0.1:8044/a",
            "https://127.0.0.1:8043/a",
        ] {
            assert!(
                matches!(
                    transport.to_hyper(request(other)),
                    Err(TransportError::Unsendable(_))
                ),
                "{other} was taken"
            );
        }
    }

    /// Debug names the settings (and whether TLS is set, never its keys).
    #[test]
    fn debug_names_the_settings() {
        let shown = format!("{:?}", TransportConfig::new(None));
        for field in [
            "tls: false",
            "connect_timeout",
            "request_timeout",
            "max_connections",
        ] {
            assert!(shown.contains(field), "{field} missing from {shown}");
        }
    }
}
