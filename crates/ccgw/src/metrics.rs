//! What every call and every session records through the [`metrics`](https://docs.rs/metrics)
//! facade, with the cargo feature `metrics` (without it, nothing here does anything).
//! The names and labels are the README's "Metrics" table; a label never holds a Guid,
//! a password, a cookie or an agent ID.

use std::time::Duration;

use crate::error::Error;
#[cfg(feature = "metrics")]
use crate::error::RetCode;

/// Calls made, by gateway method, outcome, disposition and return code.
#[cfg_attr(
    not(feature = "metrics"),
    allow(dead_code, reason = "recorded only with the `metrics` feature")
)]
pub(crate) const CALLS: &str = "ccgw_calls_total";
/// Time from sending a call to its settled outcome (a resend after a rotated Guid
/// included), by gateway method and outcome.
#[cfg_attr(
    not(feature = "metrics"),
    allow(dead_code, reason = "recorded only with the `metrics` feature")
)]
pub(crate) const CALL_DURATION: &str = "ccgw_call_duration_seconds";
/// Event streams polling the gateway now (one per agent with an open stream).
pub(crate) const EVENT_STREAMS: &str = "ccgw_event_streams";
/// Supervised sessions signed in now.
pub(crate) const SESSIONS: &str = "ccgw_sessions_signed_in";
/// Supervised sessions that lost their gateway session, by reason.
#[cfg_attr(
    not(feature = "metrics"),
    allow(dead_code, reason = "recorded only with the `metrics` feature")
)]
pub(crate) const SESSIONS_LOST: &str = "ccgw_sessions_lost_total";

/// The outcome label: `ok`, `refused` (the gateway answered with a failure code) or
/// `failed` (no usable answer: transport, timeout, malformed answer, invalid input).
#[cfg(feature = "metrics")]
fn outcome<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::Gateway { .. }) => "refused",
        Err(_) => "failed",
    }
}

/// The return-code label: the code for documented codes, `other` for any code the
/// spec does not list (a label must not take whatever a gateway sends), `none` without
/// an answer.
#[cfg(feature = "metrics")]
fn retcode_label<T>(result: &Result<T, Error>) -> &str {
    match result {
        Ok(_) => "0",
        Err(e) => match e.retcode() {
            Some(RetCode::Other(_)) => "other",
            Some(code) => code.as_str(),
            None => "none",
        },
    }
}

/// Records one call of `method` (the spec's operationId).
#[cfg_attr(
    not(feature = "metrics"),
    allow(unused_variables, reason = "recorded only with the `metrics` feature")
)]
pub(crate) fn call<T>(method: &'static str, result: &Result<T, Error>, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        let outcome = outcome(result);
        let disposition = match result {
            Ok(_) => "none",
            Err(e) => e.disposition().name(),
        };
        metrics::counter!(
            CALLS,
            "method" => method,
            "outcome" => outcome,
            "disposition" => disposition,
            "retcode" => retcode_label(result).to_owned(),
        )
        .increment(1);
        metrics::histogram!(CALL_DURATION, "method" => method, "outcome" => outcome)
            .record(elapsed.as_secs_f64());
    }
}

/// Counts something open (an event stream, a signed-in session) while it lives.
#[derive(Debug)]
pub(crate) struct Open(
    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "read only with the `metrics` feature")
    )]
    &'static str,
);

impl Open {
    #[cfg_attr(
        not(feature = "metrics"),
        allow(unused_variables, reason = "recorded only with the `metrics` feature")
    )]
    pub(crate) fn new(gauge: &'static str) -> Open {
        #[cfg(feature = "metrics")]
        metrics::gauge!(gauge).increment(1.0);
        Open(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// Counts a supervised session's loss.
#[cfg_attr(
    not(feature = "metrics"),
    allow(unused_variables, reason = "recorded only with the `metrics` feature")
)]
pub(crate) fn lost(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(SESSIONS_LOST, "reason" => reason).increment(1);
}

#[cfg(test)]
mod tests {
    /// The crate documentation names every metric this module records.
    #[test]
    fn the_documentation_names_every_metric() {
        let docs = include_str!("../README.md");
        for name in [
            super::CALLS,
            super::CALL_DURATION,
            super::EVENT_STREAMS,
            super::SESSIONS,
            super::SESSIONS_LOST,
        ] {
            assert!(docs.contains(&format!("`{name}`")), "{name}");
        }
    }
}
