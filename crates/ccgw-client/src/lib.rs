//! The client for the CC-Gateway agent rest interface, generated from
//! `openapi/ccgateway.yaml` by progenitor (`cargo xtask gen`), plus the hand-written
//! [`ClientHooks`](progenitor_client::ClientHooks) implementation that makes its
//! requests match the gateway's contract (see [`Session`]).
//!
//! This is the low-level layer: it validates no ranges and reports an HTTP-200 answer
//! with a failure `retcode` as `Ok`. Applications use the `ccgw` crate, which wraps it.
//!
//! Requests go out over the [`transport`] a [`Session`] is given (hyper's HTTP/1.1
//! connections over rustls, pooled and bounded), with a TLS configuration of the
//! caller's; the `reqwest::Client` only builds them. Without a transport they go through
//! that `reqwest::Client`, which then needs a TLS feature of its own for `https`.
//!
//! ```no_run
//! # async fn demo(tls: std::sync::Arc<rustls::ClientConfig>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::num::NonZeroU64;
//! use ccgw_client::transport::{Transport, TransportConfig};
//! use ccgw_client::{Client, Session};
//!
//! let base = "https://gateway.example:8043";
//! // `tls` trusts the gateway's CA (a rustls `ClientConfig`).
//! let transport = Transport::new(base, TransportConfig::new(Some(tls)))?;
//! let session = Session::new().with_transport(transport);
//! session.set_guid("279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0")?;
//! let client = Client::new_with_client(base, reqwest::Client::new(), session.clone());
//! let answer = client.rest(101, NonZeroU64::new(600).ok_or("zero")?, 3, Some(false)).await?;
//! assert_eq!(answer.retcode.as_str(), "0");
//! // Dynamic authentication: a rotated Guid takes effect on the next request.
//! session.set_guid("5a0c0c4e-7a43-4b59-9a55-1e1d0f7c2b11.AgentGateway0")?;
//! # Ok(()) }
//! ```

// Generated code: formatted by prettyplease, not rustfmt, and never edited by hand.
#[rustfmt::skip]
#[allow(
    clippy::unwrap_used,
    reason = "generated `Client::new` unwraps the reqwest builder; `ccgw` only uses `new_with_client`"
)]
#[allow(
    unreachable_pub,
    missing_debug_implementations,
    reason = "generated items follow progenitor's visibility and derive choices"
)]
mod generated;
mod guard;
mod guid;
mod password;
mod session;
pub mod transport;

pub use generated::*;
pub use guard::{DEFAULT_RESPONSE_LIMIT, ResponseRejected, is_json_content_type};
pub use guid::{InvalidGuid, MAX_GUID_LEN, check_bare_guid, parse_guid};
pub use password::Password;
pub use session::{NOT_ANSWERED, Session};
