//! The gateway client: shared, pooled, verified TLS, bounded — built from a [`Config`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ccgw_client::transport::{Transport, TransportConfig};

use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::{Error, config};
use crate::redact;
use crate::tls;

/// The event stream's longest pause between failed polls (doubling from 500 ms);
/// shorter where the gateway's Guid grace is short ([`Config::guid_grace`]).
pub(crate) const EVENT_BACKOFF_MAX: Duration = Duration::from_secs(30);

impl Config {
    /// Checks the settings and builds the client. Every problem is an
    /// [`Error::Config`] naming the setting; nothing panics.
    ///
    /// ```
    /// let config = ccgw::Config {
    ///     url: Some("https://gateway.example:8043".into()),
    ///     request_timeout: std::time::Duration::from_secs(5),
    ///     ..ccgw::Config::default()
    /// };
    /// let client = config.build_client()?;
    /// # Ok::<(), ccgw::Error>(())
    /// ```
    pub fn build_client(&self) -> Result<GatewayClient, Error> {
        let (urls, user_agent) = self.checked()?;
        let tls =
            Arc::new(tls::client_config(self.system_roots, self.roots()?).map_err(roots_error)?);
        let mut gateways = Vec::with_capacity(urls.len());
        for base_url in urls {
            let mut transport = TransportConfig::new(Some(Arc::clone(&tls)));
            transport.connect_timeout = self.connect_timeout;
            transport.request_timeout = self.request_timeout;
            transport.max_connections = self.max_connections;
            transport.max_connecting = self.set_up_concurrency;
            // Every connection may be kept idle (for `pool_idle_timeout`): after a
            // failover, thousands of new sessions poll again over the connections their
            // lost ones held instead of opening as many again.
            transport.max_idle = self.max_connections;
            transport.idle_timeout = Some(self.pool_idle_timeout);
            transport.user_agent = Some(user_agent.clone());
            let open = |transport| {
                Transport::new(&base_url, transport).map_err(|e| {
                    config(
                        &format!("the gateway URL {base_url} cannot be connected to"),
                        Some(Box::new(e)),
                    )
                })
            };
            // Held polls and everything else each have their own connections, up to
            // `max_connections` each: thousands of held polls never starve a rest call.
            let (transport, polls) = (open(transport.clone())?, open(transport)?);
            gateways.push(Endpoint {
                base_url,
                transport,
                polls,
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
                sign_ins: Arc::new(tokio::sync::Semaphore::new(self.set_up_concurrency)),
                supervision: Supervision {
                    backoff_min: self.backoff_min,
                    backoff_max: self.backoff_max,
                    max_attempts: self.max_attempts,
                    take_back: self.take_back,
                },
                secrets: self
                    .secrets
                    .iter()
                    .map(|s| Zeroizing::new(s.clone()))
                    .collect(),
            }),
        })
    }

    /// The gateways' URLs (normalised) and the `User-Agent`, once every setting is
    /// checked.
    fn checked(&self) -> Result<(Vec<String>, http::HeaderValue), Error> {
        let Some(url) = self.url.as_deref() else {
            return Err(config(
                "no gateway URL: set `url` in the configuration file or CCGW_URL",
                None,
            ));
        };
        if self.backoff_min > self.backoff_max {
            return Err(config(
                &format!(
                    "backoff_min ({:?}) must not be longer than backoff_max ({:?})",
                    self.backoff_min, self.backoff_max
                ),
                None,
            ));
        }
        let mut urls = vec![check_base_url(url, self.allow_http)?];
        for url in &self.fallback_urls {
            urls.push(check_base_url(url, self.allow_http)?);
        }
        self.check_bounds()?;
        check_timing(self.poll_timeout, self.poll_hold, self.guid_grace)?;
        let user_agent = http::HeaderValue::from_str(&self.user_agent).map_err(|e| {
            config(
                "the user agent is not a valid header value",
                Some(Box::new(e)),
            )
        })?;
        Ok((urls, user_agent))
    }

    /// Every duration within [`LONGEST`] (and the timeouts longer than zero), every count
    /// within its range: no later sum of an instant and a setting can overflow.
    fn check_bounds(&self) -> Result<(), Error> {
        for (setting, value, zero_allowed) in [
            ("connect_timeout", self.connect_timeout, false),
            ("request_timeout", self.request_timeout, false),
            ("poll_timeout", self.poll_timeout, false),
            ("poll_hold", self.poll_hold, true),
            ("guid_grace", self.guid_grace, true),
            ("pool_idle_timeout", self.pool_idle_timeout, true),
            ("backoff_min", self.backoff_min, true),
            ("backoff_max", self.backoff_max, true),
        ] {
            if value.is_zero() && !zero_allowed {
                return Err(config(&format!("{setting} must be longer than zero"), None));
            }
            if value > LONGEST {
                return Err(config(
                    &format!("{setting} ({value:?}) must be at most {LONGEST:?} (24 h)"),
                    None,
                ));
            }
        }
        for (setting, value) in [
            ("max_connections", self.max_connections),
            ("set_up_concurrency", self.set_up_concurrency),
        ] {
            if !(1..=MOST_CONNECTIONS).contains(&value) {
                return Err(config(
                    &format!("{setting} ({value}) must be within 1..={MOST_CONNECTIONS}"),
                    None,
                ));
            }
        }
        if !(1..=LARGEST_RESPONSE).contains(&self.response_limit) {
            return Err(config(
                &format!(
                    "response_limit ({}) must be within 1..={LARGEST_RESPONSE} bytes",
                    self.response_limit
                ),
                None,
            ));
        }
        Ok(())
    }

    /// The CA certificates of `ca_file` and `ca_pem`.
    fn roots(&self) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
        let mut roots = Vec::new();
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                config(
                    &format!("cannot read the CA file {}", path.display()),
                    Some(Box::new(e)),
                )
            })?;
            roots.extend(tls::certificates(&pem).map_err(|e| match e {
                tls::RootsError::Empty => config(
                    &format!(
                        "the CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    ),
                    None,
                ),
                tls::RootsError::Pem(e) => config(
                    &format!(
                        "the CA file {} cannot be read as PEM certificates",
                        path.display()
                    ),
                    Some(Box::new(e)),
                ),
                other => roots_error(other),
            })?);
        }
        if let Some(pem) = &self.ca_pem {
            roots.extend(tls::certificates(pem.as_bytes()).map_err(roots_error)?);
        }
        Ok(roots)
    }
}

/// The longest duration any setting may have.
const LONGEST: Duration = Duration::from_secs(24 * 60 * 60);
/// The most connections to one gateway a client may open (and sign-ins in flight).
const MOST_CONNECTIONS: usize = 1_000_000;
/// The largest answer body a client may be told to read (16 MiB; the gateway's are
/// under 1 KiB).
const LARGEST_RESPONSE: usize = 16 * 1024 * 1024;

/// How a supervised session retries (from [`Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Supervision {
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) take_back: u32,
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
/// leaves after a held poll, at most [`EVENT_BACKOFF_MAX`] —
/// so a Guid rotated before a held poll is still valid after the pause that follows it.
pub(crate) fn event_backoff_max(poll_hold: Duration, guid_grace: Duration) -> Duration {
    (guid_grace.saturating_sub(poll_hold) / 2).min(EVENT_BACKOFF_MAX)
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
                "the base URL uses plain http: the Guid would travel unencrypted; use https (plain http only with allow_http, for local tests)",
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
    /// Everything but event polls.
    pub(crate) transport: Transport,
    /// Event polls, which the gateway holds.
    pub(crate) polls: Transport,
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
    /// Turns for sign-ins ([`Config::set_up_concurrency`]).
    pub(crate) sign_ins: Arc<tokio::sync::Semaphore>,
    /// How supervised sessions retry.
    pub(crate) supervision: Supervision,
    /// What the caller registered as never to be shown ([`Config::secrets`]).
    pub(crate) secrets: Arc<[Zeroizing<String>]>,
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
    /// The base URL requests go to (normalised, without a trailing slash).
    pub(crate) fn base_url(&self) -> &str {
        self.inner
            .gateways
            .first()
            .map_or("", |g| g.base_url.as_str())
    }
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
        assert_eq!(event_backoff_max(s(10), s(120)), EVENT_BACKOFF_MAX);
        for grace in 11..=200 {
            let pause = event_backoff_max(s(10), s(grace));
            assert!(s(10) + pause < s(grace), "grace {grace} s: pause {pause:?}");
        }
    }
}
