//! What can go wrong in the transport, by whether the request may have reached the
//! gateway.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A shared source error (so a [`TransportError`] can be cloned out of an error chain).
pub type SharedError = Arc<dyn StdError + Send + Sync>;

/// Why a request failed in the transport, by whether it may have reached the gateway.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TransportError {
    /// No connection could be made (refused, unreachable, name not resolved); nothing
    /// was sent.
    Connect(SharedError),
    /// The TLS handshake failed (untrusted CA, wrong name, expired, …); nothing was sent.
    Tls(SharedError),
    /// The time ran out before the request was written; nothing was sent.
    TimeoutBeforeSend {
        /// The timeout in force (the connect timeout, or the request's own).
        timeout: Duration,
        /// What was being waited for.
        waiting_for: &'static str,
    },
    /// The request was written, or may have been, and no complete answer came back.
    OutcomeUnknown {
        /// What happened.
        reason: String,
        /// The underlying error.
        source: Option<SharedError>,
    },
    /// The request cannot be sent by this transport (another origin, a streaming body);
    /// nothing was sent.
    Unsendable(&'static str),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(_) => f.write_str("cannot connect to the gateway"),
            Self::Tls(_) => f.write_str("TLS handshake with the gateway failed"),
            Self::TimeoutBeforeSend {
                timeout,
                waiting_for,
            } => write!(
                f,
                "timed out after {timeout:?} waiting for {waiting_for}; nothing was sent"
            ),
            Self::OutcomeUnknown { reason, .. } => f.write_str(reason),
            Self::Unsendable(why) => write!(f, "the request cannot be sent: {why}"),
        }
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Connect(e) | Self::Tls(e) => Some(&**e),
            Self::OutcomeUnknown {
                source: Some(e), ..
            } => Some(&**e),
            _ => None,
        }
    }
}

impl TransportError {
    /// Finds a transport error in the source chain of `error` (the `reqwest::Error` of a
    /// response body that failed while it was read).
    pub fn find_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a TransportError> {
        crate::guard::find_in_chain(error)
    }

    /// The error of a request the transport could not complete, as the generated client
    /// returns it: an unexpected response whose extensions hold it (see
    /// [`NOT_ANSWERED`](crate::NOT_ANSWERED)).
    pub fn in_response(response: &reqwest::Response) -> Option<&TransportError> {
        response.extensions().get::<TransportError>()
    }

    pub(super) fn unknown(
        reason: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::OutcomeUnknown {
            reason: reason.into(),
            source: Some(Arc::new(source)),
        }
    }

    pub(super) fn connect(source: impl StdError + Send + Sync + 'static) -> Self {
        Self::Connect(Arc::new(source))
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn refused() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionRefused, "refused by the peer")
    }

    #[test]
    fn each_error_says_what_happened() {
        let cases = [
            (
                TransportError::connect(refused()),
                "cannot connect to the gateway",
            ),
            (
                TransportError::Tls(Arc::new(refused())),
                "TLS handshake with the gateway failed",
            ),
            (
                TransportError::TimeoutBeforeSend {
                    timeout: Duration::from_secs(5),
                    waiting_for: "a connection",
                },
                "timed out after 5s waiting for a connection; nothing was sent",
            ),
            (
                TransportError::unknown("the connection closed mid-answer", refused()),
                "the connection closed mid-answer",
            ),
            (
                TransportError::Unsendable("another origin"),
                "the request cannot be sent: another origin",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn the_cause_is_the_source() {
        let cause = |e: &TransportError| e.source().map(ToString::to_string);
        let expected = Some("refused by the peer".to_owned());
        assert_eq!(cause(&TransportError::connect(refused())), expected);
        assert_eq!(cause(&TransportError::Tls(Arc::new(refused()))), expected);
        assert_eq!(
            cause(&TransportError::unknown("closed", refused())),
            expected
        );
        let without = TransportError::OutcomeUnknown {
            reason: "closed".into(),
            source: None,
        };
        assert_eq!(cause(&without), None);
        assert_eq!(cause(&TransportError::Unsendable("no")), None);
    }
}
