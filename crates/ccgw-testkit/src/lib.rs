//! What the workspace's tests, benchmarks and tools share: real sockets on loopback,
//! real TLS, real processes.
//!
//! - [`TestServer`]: a raw HTTP/1.1 listener (plain or TLS) that records the exact bytes
//!   of every request and answers each as a test scripts it — JSON, any raw bytes, a
//!   stall, a reset, a cut-off body.
//! - [`TestCa`]: a throw-away certificate authority made in the test (rcgen), issuing
//!   server certificates (valid, expired, for another name).
//! - [`RawClient`]: raw HTTPS requests (hyper over tokio-rustls), for checking the
//!   simulator independently of the project's client.
//! - [`SimProcess`]: the simulator as a child process, read from its start line;
//!   [`Child`], [`json_line`]: other child processes; [`memory_kib`], [`cpu_seconds`]:
//!   memory and CPU from `/proc`; [`scratch_dir`]: a fresh temporary directory, removed
//!   when dropped; [`wait_until_within`]: a condition awaited with a deadline.
//! - [`leaks`]: an error's every form, and the check that no secret shows in a text.
//! - [`logs`]: a process-wide tracing subscriber that captures everything logged, so
//!   tests can assert what may and may not appear in logs.

pub mod leaks;
pub mod logs;
mod process;
mod raw;
mod server;
mod tls;
mod wait;

pub use process::{
    Child, Output, Scratch, SimProcess, cpu_seconds, json_line, memory_kib, scratch_dir,
};
pub use raw::{RawAnswer, RawClient};
pub use server::{RawRequest, Reply, TestServer};
#[cfg(feature = "ca")]
pub use tls::TestCa;
pub use tls::{TlsError, client_config_trusting};
pub use wait::wait_until_within;
