//! A CC-Gateway simulator for the agent rest workflow: sign in, rest, cancel rest, agent
//! state, event polling (long poll), heartbeat, sign out — over HTTPS with a CA it makes
//! itself, answering every failure as the gateway does (HTTP 200 with a return code).
//!
//! It is an independent implementation of `openapi/ccgateway.yaml`: it shares no code
//! with the client, only the operation names both take from the spec through `cargo
//! xtask gen` (`operation.rs`), so client and simulator cannot share a mistake in code.
//!
//! See the crate README for the binary.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ccgw_sim::SimError> {
//! use ccgw_sim::{Config, Simulator};
//! let sim = Simulator::start(Config::default()).await?;
//! println!("{} trusts {:?}", sim.base_url(), sim.ca_pem());
//! let handle = sim.handle();
//! assert_eq!(handle.agent_state(101), None); // not signed in yet
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
mod clock;
mod cluster;
mod config;
mod counters;
mod faults;
mod front;
mod hostile;
mod http;
mod model;
// Generated from the spec's operationIds by `cargo xtask gen`; formatted by prettyplease.
#[rustfmt::skip]
pub mod operation;
mod remote;
mod server;
mod tls;
mod wire;

use std::path::PathBuf;

pub use clock::Clock;
pub use config::{AgentConfig, AuthMode, Config, InvalidPath, Transport};
pub use counters::Stats;
pub use faults::Faults;
pub use hostile::Hostile;
pub use http::check_rest_values;
pub use server::{SimHandle, Simulator};
pub use tls::Ca;
pub use wire::retcode;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen")]
    Bind(#[source] std::io::Error),
    /// Certificates could not be made.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The CA file could not be written.
    #[error("cannot write the CA into {0}")]
    CertDir(PathBuf, #[source] std::io::Error),
}
