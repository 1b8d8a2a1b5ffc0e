//! Helpers for the workspace's end-to-end tests: real sockets on loopback, real TLS.
//!
//! - [`TestServer`]: a raw HTTP/1.1 listener (plain or TLS) that records the exact bytes
//!   of every request and answers each as a test scripts it — JSON, any raw bytes, a
//!   stall, a reset, a cut-off body.
//! - [`TestCa`]: a throw-away certificate authority made in the test (rcgen), issuing
//!   server certificates (valid, expired, for another name).
//! - [`RawClient`]: raw HTTPS requests (hyper over tokio-rustls), for checking the
//!   simulator independently of the project's client.
//! - [`Child`], [`json_line`], [`memory_kib`]: child processes (a simulator) and this
//!   process's memory; [`wait_until_within`]: a condition awaited with a deadline.
//! - [`logs`]: a process-wide tracing subscriber that captures everything logged, so
//!   tests can assert what may and may not appear in logs.

pub mod logs;
mod process;
mod raw;
mod server;
mod tls;
mod wait;

pub use process::{Child, Output, json_line, memory_kib};
pub use raw::{RawAnswer, RawClient};
pub use server::{RawRequest, Reply, TestServer};
pub use tls::{TestCa, client_config_trusting};
pub use wait::wait_until_within;
