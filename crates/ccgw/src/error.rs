//! Typed errors: gateway refusals by return code, transport failures by whether the
//! request may have reached the gateway.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

pub use crate::disposition::Disposition;
pub use crate::retcode::RetCode;

/// Everything that can go wrong, typed so that a caller can decide: each error has one
/// [`Disposition`] ([`Error::disposition`]) that says what to do.
///
/// Rest is not idempotent: this crate never resends a request that may have reached the
/// gateway, and an error that may have happened after it did is settled by reading the
/// state ([`Disposition::SettleUnknown`]). Every text of the gateway's an error carries
/// (`message`, body excerpts, an unknown code, a reason quoting the body) is masked for
/// the agent's secrets and anything shaped like a Guid (see the crate's "A gateway's
/// echo is masked").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value outside its documented range, or a text that is not a usable Guid or
    /// affinity; nothing was sent. A secret's text is never repeated (`value` is
    /// `(not shown)`).
    #[error("invalid {field} {value}: {problem}")]
    InvalidArgument {
        /// The field the value was meant for (`agent id`, `rest duration`, `Guid`, …).
        field: &'static str,
        /// The rejected value as text (`(not shown)` for a secret).
        value: String,
        /// The rule it breaks (`must be within 101..=999999`, …).
        problem: String,
    },
    /// The client could not be built (base URL, CA certificate, TLS setup).
    #[error("invalid client configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// The gateway answered and refused: `retcode` was not `"0"`.
    #[error(
        "the gateway refused {operation}: retcode {code}{}",
        gateway_message(message)
    )]
    Gateway {
        /// The gateway's log name of the operation (`rest`).
        operation: &'static str,
        /// The return code.
        code: RetCode,
        /// The gateway's `message` (control characters removed, at most 200 characters).
        message: String,
    },
    /// An HTTP status the contract does not use (the gateway answers 200 for everything,
    /// failures included). Redirects end up here too: they are never followed.
    #[error(
        "unexpected HTTP status {status} from the gateway{}",
        excerpt_suffix(body_excerpt)
    )]
    UnexpectedStatus {
        /// The status.
        status: StatusCode,
        /// The first bytes of the body as text (at most 200 characters).
        body_excerpt: String,
    },
    /// No connection to the gateway could be made (refused, unreachable, DNS); nothing was sent.
    #[error("cannot connect to the gateway")]
    Connect(#[source] Box<dyn StdError + Send + Sync>),
    /// The TLS handshake failed (untrusted CA, wrong host name, expired certificate, …);
    /// nothing was sent.
    #[error("TLS handshake with the gateway failed")]
    Tls(#[source] Box<dyn StdError + Send + Sync>),
    /// A timeout elapsed before the request could be sent: connecting took longer than
    /// the connect timeout, or every connection the client may open stayed busy.
    #[error("timed out after {timeout:?} waiting for {waiting_for}; nothing was sent")]
    TimeoutBeforeSend {
        /// The timeout in force (the connect timeout, or the request's).
        timeout: Duration,
        /// What was awaited (`a connection to the gateway`, `a free connection (all in use)`, …).
        waiting_for: &'static str,
    },
    /// The request may have reached the gateway but no usable answer came back (a timeout
    /// or a connection reset after sending). Do not resend blindly: check the agent's
    /// state (or wait for its events) first.
    #[error("outcome unknown: the request may have reached the gateway, but {reason}")]
    OutcomeUnknown {
        /// What happened (`no answer within 30s`, `connection lost`, …).
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// The gateway answered with something that is not the documented envelope.
    #[error(
        "malformed response from the gateway: {reason}{}",
        excerpt_suffix(body_excerpt)
    )]
    MalformedResponse {
        /// What is wrong.
        reason: String,
        /// The first bytes of the body as text (at most 200 characters).
        body_excerpt: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// The gateway answered success with a content type that is not JSON (a proxy's or
    /// load balancer's page, most likely); the body was not interpreted.
    #[error("the gateway answered with content type {} instead of JSON", content_type.as_deref().map_or("(none)".to_owned(), |ct| format!("{ct:?}")))]
    UnexpectedContentType {
        /// The `Content-Type` sent, if any (at most 100 characters).
        content_type: Option<String>,
    },
    /// A confirmed change ([`Change::confirmed`](crate::Change::confirmed),
    /// [`Change::ensured`](crate::Change::ensured)): neither its event came within the wait nor did the agent's state, read at the
    /// end, show that it took effect.
    #[error("{operation} was not confirmed within {waited:?}{}", state.map_or_else(|| "; the state could not be read".to_owned(), |s| format!("; the agent is {}", s.name())))]
    NotConfirmed {
        /// The gateway's log name of the operation.
        operation: &'static str,
        /// How long was waited.
        waited: Duration,
        /// The agent's state read at the end, if it could be read.
        state: Option<crate::AgentState>,
    },
    /// A wanted state ([`Change::ensured`](crate::Change::ensured) of a cancellation) cannot be
    /// reached from the agent's state by this crate's operations (a busy or talking
    /// agent is not idled by cancelling rest); nothing was sent.
    #[error("{operation} not sent: the agent is {}, which it cannot change", state.name())]
    WrongState {
        /// The gateway's log name of the operation that was not sent.
        operation: &'static str,
        /// The agent's state, as read.
        state: crate::AgentState,
    },
    /// Events cannot be obtained (no runtime, or the gateway unreachable for longer than
    /// a session survives); the event stream has ended.
    #[error("agent events are unavailable: {reason}")]
    EventsUnavailable {
        /// Why.
        reason: String,
    },
    /// A slow reader of an event stream missed events (more than 32 were waiting).
    #[error("{count} agent events were missed by a slow reader")]
    EventsLost {
        /// How many.
        count: u64,
    },
    /// The answer's body was longer than the configured limit; reading stopped there.
    #[error("response from the gateway is larger than the {limit}-byte limit")]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// This handle has no session: it was signed out (or its Guid was dropped). Nothing
    /// was sent; sign in again for a new handle.
    #[error("{operation} was not sent: this agent handle is signed out; sign in again")]
    HandleSignedOut {
        /// The gateway's log name of the operation that was not sent.
        operation: &'static str,
    },
}

/// An error with its sources: `outer: inner: innermost`, leaving out a source whose text
/// its outer error already shows ([`Error::chain`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            let text = s.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown.push_str(&text);
            }
            source = s.source();
        }
        Ok(())
    }
}

/// An [`Error::Config`].
pub(crate) fn config(reason: &str, source: Option<Box<dyn StdError + Send + Sync>>) -> Error {
    Error::Config {
        reason: reason.to_owned(),
        source,
    }
}

fn gateway_message(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(", message {message:?}")
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!("; body starts with {excerpt:?}")
    }
}

impl Error {
    /// The gateway's return code, if the gateway answered with a failure code.
    pub fn retcode(&self) -> Option<&RetCode> {
        match self {
            Error::Gateway { code, .. } => Some(code),
            _ => None,
        }
    }

    /// What to do about this error; see [`Disposition`] and the table in the crate
    /// documentation.
    pub fn disposition(&self) -> Disposition {
        match self {
            Error::InvalidArgument { .. } | Error::Config { .. } => Disposition::FixConfiguration,
            Error::Tls(_) => Disposition::FixConfiguration,
            Error::Gateway { code, .. } => code.disposition().unwrap_or(Disposition::DoNotResend),
            Error::WrongState { .. } => Disposition::DoNotResend,
            Error::Connect(_) | Error::TimeoutBeforeSend { .. } => Disposition::Resend,
            // No such path: the base URL is wrong (nothing the gateway serves was reached).
            Error::UnexpectedStatus { status, .. } if *status == StatusCode::NOT_FOUND => {
                Disposition::FixConfiguration
            }
            Error::UnexpectedStatus { .. }
            | Error::OutcomeUnknown { .. }
            | Error::MalformedResponse { .. }
            | Error::UnexpectedContentType { .. }
            | Error::ResponseTooLarge { .. }
            | Error::NotConfirmed { .. }
            | Error::EventsLost { .. } => Disposition::SettleUnknown,
            Error::EventsUnavailable { .. } | Error::HandleSignedOut { .. } => {
                Disposition::SignInAgain
            }
        }
    }

    /// The error with its sources, for a log line or a message to a person:
    /// `outer: inner: innermost`, leaving out a source whose text its outer error already
    /// shows.
    ///
    /// ```
    /// let e = ccgw::AgentId::new(100).unwrap_err();
    /// assert_eq!(e.chain().to_string(), "invalid agent id 100: must be within 101..=999999");
    /// ```
    pub fn chain(&self) -> impl fmt::Display + '_ {
        ErrorChain(self)
    }

    /// The variant's name, as in the documentation's table (`OutcomeUnknown`).
    #[cfg(test)]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Error::InvalidArgument { .. } => "InvalidArgument",
            Error::Config { .. } => "Config",
            Error::Gateway { .. } => "Gateway",
            Error::UnexpectedStatus { .. } => "UnexpectedStatus",
            Error::Connect(_) => "Connect",
            Error::Tls(_) => "Tls",
            Error::TimeoutBeforeSend { .. } => "TimeoutBeforeSend",
            Error::OutcomeUnknown { .. } => "OutcomeUnknown",
            Error::MalformedResponse { .. } => "MalformedResponse",
            Error::UnexpectedContentType { .. } => "UnexpectedContentType",
            Error::NotConfirmed { .. } => "NotConfirmed",
            Error::WrongState { .. } => "WrongState",
            Error::EventsUnavailable { .. } => "EventsUnavailable",
            Error::EventsLost { .. } => "EventsLost",
            Error::ResponseTooLarge { .. } => "ResponseTooLarge",
            Error::HandleSignedOut { .. } => "HandleSignedOut",
        }
    }

    /// Whether a new session is the remedy: [`Disposition::SignInAgain`] (`100-006`, a
    /// signed-out handle, events gone for good) or [`Disposition::TakeOver`] (`100-002`,
    /// a Guid the gateway no longer accepts: `000-003`).
    pub(crate) fn needs_sign_in(&self) -> bool {
        matches!(
            self.disposition(),
            Disposition::SignInAgain | Disposition::TakeOver
        )
    }

    /// Whether the request may have been applied although no answer says so
    /// ([`Disposition::SettleUnknown`]): a timeout or a lost connection after sending,
    /// an unexpected status, a malformed, foreign or too large answer.
    pub(crate) fn is_outcome_unknown(&self) -> bool {
        self.disposition() == Disposition::SettleUnknown
    }

    /// Whether the gateway may have answered without the answer arriving: the request
    /// may have been sent, and no return code came back.
    pub(crate) fn answer_may_be_lost(&self) -> bool {
        matches!(
            self,
            Error::OutcomeUnknown { .. }
                | Error::UnexpectedStatus { .. }
                | Error::MalformedResponse { .. }
                | Error::UnexpectedContentType { .. }
                | Error::ResponseTooLarge { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documentation's tables: variant name → disposition column.
    fn documented(prefix: &str) -> std::collections::BTreeMap<String, String> {
        include_str!("../README.md")
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let name = name.strip_prefix(prefix)?;
                Some((name.to_owned(), (*cells.get(3)?).to_owned()))
            })
            .collect()
    }

    /// One error of each variant. The index match is exhaustive: a new variant does not
    /// compile until it has an index here, and the test fails until it has a sample and
    /// a documented row.
    fn samples() -> Vec<Error> {
        const VARIANTS: usize = 16;
        fn index(e: &Error) -> usize {
            match e {
                Error::InvalidArgument { .. } => 0,
                Error::Config { .. } => 1,
                Error::Gateway { .. } => 2,
                Error::UnexpectedStatus { .. } => 3,
                Error::Connect(_) => 4,
                Error::Tls(_) => 5,
                Error::TimeoutBeforeSend { .. } => 6,
                Error::OutcomeUnknown { .. } => 7,
                Error::MalformedResponse { .. } => 8,
                Error::UnexpectedContentType { .. } => 9,
                Error::NotConfirmed { .. } => 10,
                Error::EventsUnavailable { .. } => 11,
                Error::EventsLost { .. } => 12,
                Error::ResponseTooLarge { .. } => 13,
                Error::HandleSignedOut { .. } => 14,
                Error::WrongState { .. } => 15,
            }
        }
        let io_error = || Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let samples = vec![
            crate::AgentId::new(1).expect_err("out of range"),
            Error::Config {
                reason: String::new(),
                source: None,
            },
            Error::Gateway {
                operation: "rest",
                code: RetCode::StateChangeRefused,
                message: String::new(),
            },
            Error::UnexpectedStatus {
                status: StatusCode::BAD_GATEWAY,
                body_excerpt: String::new(),
            },
            Error::Connect(io_error()),
            Error::Tls(io_error()),
            Error::TimeoutBeforeSend {
                timeout: Duration::from_secs(5),
                waiting_for: "a connection to the gateway",
            },
            Error::OutcomeUnknown {
                reason: String::new(),
                source: None,
            },
            Error::MalformedResponse {
                reason: String::new(),
                body_excerpt: String::new(),
                source: None,
            },
            Error::UnexpectedContentType { content_type: None },
            Error::NotConfirmed {
                operation: "rest",
                waited: Duration::from_secs(1),
                state: None,
            },
            Error::EventsUnavailable {
                reason: String::new(),
            },
            Error::EventsLost { count: 1 },
            Error::ResponseTooLarge { limit: 1 },
            Error::HandleSignedOut { operation: "rest" },
            Error::WrongState {
                operation: ccgw_client::operations::CANCEL_REST.log_name,
                state: crate::AgentState::Busy,
            },
        ];
        let mut seen: Vec<usize> = samples.iter().map(index).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..VARIANTS).collect::<Vec<_>>(),
            "one sample per variant"
        );
        samples
    }

    #[test]
    fn the_documented_dispositions_are_the_code_s() {
        let errors = documented("Error::");
        for e in samples() {
            let row = errors
                .get(e.kind())
                .unwrap_or_else(|| panic!("Error::{} has no row in the README's table", e.kind()));
            let expected = match e {
                Error::Gateway { .. } => "by its return code",
                _ => e.disposition().name(),
            };
            assert_eq!(row, expected, "Error::{}", e.kind());
        }
        assert_eq!(
            errors.len(),
            samples().len(),
            "a row for a variant that does not exist"
        );

        let codes = documented("RetCode::");
        for code in RetCode::known().chain([RetCode::Other("123-456".into())]) {
            let name = match &code {
                RetCode::Other(_) => "Other".to_owned(),
                known => format!("{known:?}"),
            };
            let row = codes
                .get(&name)
                .unwrap_or_else(|| panic!("RetCode::{name} has no row in the README's table"));
            let expected = code.disposition().map_or("—", Disposition::name);
            assert_eq!(row, expected, "RetCode::{name}");
        }
        assert_eq!(codes.len(), RetCode::known().count() + 1);
        // Every disposition is used by something.
        for d in Disposition::ALL {
            assert!(
                samples().iter().any(|e| e.disposition() == d)
                    || RetCode::known().any(|c| c.disposition() == Some(d)),
                "{d} is never used"
            );
        }
    }

    #[test]
    fn an_unexpected_answer_quotes_the_start_of_its_body_when_it_has_one() {
        let with = Error::UnexpectedStatus {
            status: StatusCode::NOT_FOUND,
            body_excerpt: "<html>no such path".to_owned(),
        };
        assert!(
            with.to_string()
                .ends_with("from the gateway; body starts with \"<html>no such path\""),
            "{with}"
        );
        let without = Error::MalformedResponse {
            reason: "not JSON".to_owned(),
            body_excerpt: String::new(),
            source: None,
        };
        assert_eq!(
            without.to_string(),
            "malformed response from the gateway: not JSON"
        );
    }

    /// A source whose text its error already shows is not repeated; the others are.
    #[test]
    fn a_chain_shows_each_cause_once() {
        #[derive(Debug)]
        struct Layer(&'static str, Option<Box<Layer>>);
        impl fmt::Display for Layer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for Layer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.1.as_deref().map(|l| l as &(dyn StdError + 'static))
            }
        }
        let os = Layer("os error 104", None);
        let reset = Layer("connection reset", Some(Box::new(os)));
        let lost = Layer("connection lost: connection reset", Some(Box::new(reset)));
        assert_eq!(
            ErrorChain(&lost).to_string(),
            "connection lost: connection reset: os error 104"
        );
    }
}
