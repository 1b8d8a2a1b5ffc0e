//! The end-to-end tests, one binary: the client over real loopback sockets and real TLS
//! against the simulator and the scriptable test server, and the spec's contract as
//! other teams read it. One binary (not one per file) so that a change to `ccgw` relinks
//! it once — the difference between a 3 s and a 20 s rebuild for each mutant of
//! `cargo xtask mutants` — and all its tests wait on their sockets and timers at once.
//!
//! Kept apart in binaries of their own: `metrics` (its recorder is process-wide),
//! `workflow_scale` and `soak` (long runs, steps of `cargo xtask test`).

mod common;

mod client_faults;
mod client_retcodes;
mod client_tls;
mod client_validation;
mod cluster;
mod config;
mod confirmations;
mod converge;
mod holders;
mod hostile;
mod hostile_sim;
mod operators;
mod pool;
mod pump;
mod recorded_pairs;
mod sessions;
mod sign_out;
mod spec_contract;
mod tenant;
mod wire;
mod workflow;
