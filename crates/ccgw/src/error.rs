//! Typed errors: gateway refusals by return code, transport failures by whether the
//! request may have reached the gateway.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

use crate::guid::InvalidGuid;
use crate::values::InvalidValue;

/// A gateway return code (`retcode`): `"0"` for success, `NNN-NNN` for a failure.
///
/// Covers the agent-interface table of the gateway's error-code page (000-001…000-007,
/// 100-001…100-018); any other code parses as [`RetCode::Other`] — parsing never fails.
///
/// ```
/// use ccgw::RetCode;
/// assert_eq!(RetCode::parse("100-006"), RetCode::NotSignedIn);
/// assert_eq!(RetCode::parse("100-006").as_str(), "100-006");
/// assert_eq!(RetCode::parse("123-456"), RetCode::Other("123-456".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetCode {
    /// `0`: success.
    Success,
    /// `000-001`: wrong way of obtaining agent events.
    WrongEventMethod,
    /// `000-002`: a parameter or the address in the URL is invalid.
    InvalidParameter,
    /// `000-003`: no permission; the Guid is wrong or has expired.
    NoPermission,
    /// `000-004`: the agent is being switched over (failover).
    SwitchingOver,
    /// `000-005`: the agent to be inspected is the inspector.
    InspectingSelf,
    /// `000-006`: message parameter error.
    MessageParameter,
    /// `000-007`: the interface was called repeatedly (a previous call is pending).
    CalledRepeatedly,
    /// `100-001`: sign-in parameter empty or invalid.
    SignInParameterInvalid,
    /// `100-002`: the agent is already signed in.
    AlreadySignedIn,
    /// `100-003`: the CTI reported a resource or provider unavailable at sign-in.
    CtiUnavailable,
    /// `100-004`: wrong user name or password.
    WrongCredentials,
    /// `100-005`: invalid sign-out parameter.
    SignOutParameterInvalid,
    /// `100-006`: the agent is not signed in (or the Guid is unknown).
    NotSignedIn,
    /// `100-007`: exception while executing the agent operation (gateway internal error).
    OperationException,
    /// `100-008`: the agent is already signed out.
    AlreadySignedOut,
    /// `100-009`: setting the agent state failed; state or permission does not allow it.
    StateChangeRefused,
    /// `100-010`: wrong state at sign-out.
    WrongStateAtSignOut,
    /// `100-011`: invalid parameter at sign-in.
    InvalidSignInParameter,
    /// `100-012`: wrong agent type at sign-in.
    WrongAgentType,
    /// `100-013`: the phone number bound at sign-in is invalid.
    InvalidPhoneNumber,
    /// `100-014`: the sign-in phone number is outside the configured range.
    PhoneNumberOutOfRange,
    /// `100-015`: already signed in and cannot be forced out.
    CannotForceSignIn,
    /// `100-016`: invalid IP address at sign-in.
    InvalidIpAddress,
    /// `100-017`: uPortal authentication failed.
    UportalAuthenticationFailed,
    /// `100-018`: the VDN of the sign-in differs from the VDN of the playback.
    VdnMismatch,
    /// Any other code, as sent (control characters escaped, at most 32 characters).
    Other(String),
}

/// Every known code: its text, variant, meaning and disposition (`None`: success).
const TABLE: [(&str, RetCode, &str, Option<Disposition>); 26] = [
    ("0", RetCode::Success, "success", None),
    (
        "000-001",
        RetCode::WrongEventMethod,
        "wrong way of obtaining agent events",
        Some(Disposition::FixConfiguration),
    ),
    (
        "000-002",
        RetCode::InvalidParameter,
        "a parameter or the URL is invalid",
        Some(Disposition::DoNotResend),
    ),
    (
        "000-003",
        RetCode::NoPermission,
        "no permission; the Guid is wrong or has expired",
        Some(Disposition::TakeOver),
    ),
    (
        "000-004",
        RetCode::SwitchingOver,
        "the agent is being switched over",
        Some(Disposition::BackOff),
    ),
    (
        "000-005",
        RetCode::InspectingSelf,
        "the agent to be inspected is the inspector",
        Some(Disposition::DoNotResend),
    ),
    (
        "000-006",
        RetCode::MessageParameter,
        "message parameter error",
        Some(Disposition::DoNotResend),
    ),
    (
        "000-007",
        RetCode::CalledRepeatedly,
        "the interface was called repeatedly",
        Some(Disposition::BackOff),
    ),
    (
        "100-001",
        RetCode::SignInParameterInvalid,
        "sign-in parameter empty or invalid",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-002",
        RetCode::AlreadySignedIn,
        "the agent is already signed in",
        Some(Disposition::TakeOver),
    ),
    (
        "100-003",
        RetCode::CtiUnavailable,
        "the CTI is unavailable",
        Some(Disposition::BackOff),
    ),
    (
        "100-004",
        RetCode::WrongCredentials,
        "wrong user name or password",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-005",
        RetCode::SignOutParameterInvalid,
        "invalid sign-out parameter",
        Some(Disposition::DoNotResend),
    ),
    (
        "100-006",
        RetCode::NotSignedIn,
        "the agent is not signed in",
        Some(Disposition::SignInAgain),
    ),
    (
        "100-007",
        RetCode::OperationException,
        "exception while executing the agent operation",
        Some(Disposition::BackOff),
    ),
    (
        "100-008",
        RetCode::AlreadySignedOut,
        "the agent is already signed out",
        Some(Disposition::SignInAgain),
    ),
    (
        "100-009",
        RetCode::StateChangeRefused,
        "the agent's state does not allow this change",
        Some(Disposition::DoNotResend),
    ),
    (
        "100-010",
        RetCode::WrongStateAtSignOut,
        "wrong state at sign-out",
        Some(Disposition::BackOff),
    ),
    (
        "100-011",
        RetCode::InvalidSignInParameter,
        "invalid parameter at sign-in",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-012",
        RetCode::WrongAgentType,
        "wrong agent type",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-013",
        RetCode::InvalidPhoneNumber,
        "invalid phone number",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-014",
        RetCode::PhoneNumberOutOfRange,
        "phone number outside the configured range",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-015",
        RetCode::CannotForceSignIn,
        "already signed in and cannot be forced out",
        Some(Disposition::DoNotResend),
    ),
    (
        "100-016",
        RetCode::InvalidIpAddress,
        "invalid IP address",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-017",
        RetCode::UportalAuthenticationFailed,
        "uPortal authentication failed",
        Some(Disposition::FixConfiguration),
    ),
    (
        "100-018",
        RetCode::VdnMismatch,
        "VDN mismatch",
        Some(Disposition::FixConfiguration),
    ),
];

impl RetCode {
    /// Parses a `retcode` as the gateway sends it (surrounding whitespace ignored). Never fails.
    ///
    /// Anything else is [`RetCode::Other`] with control characters escaped (`\u{1}`), so
    /// an unknown code can never read like a known one — `"0\u{0}"` is not success.
    pub fn parse(code: &str) -> RetCode {
        let code = code.trim();
        TABLE
            .iter()
            .find(|(text, ..)| *text == code)
            .map(|(_, known, ..)| known.clone())
            .unwrap_or_else(|| RetCode::Other(shown(code)))
    }

    /// The code as the gateway writes it, e.g. `100-006`.
    pub fn as_str(&self) -> &str {
        match self {
            RetCode::Other(code) => code,
            known => TABLE
                .iter()
                .find(|(_, k, ..)| k == known)
                .map_or("", |(text, ..)| text),
        }
    }

    /// A short English meaning (`"unknown code"` for [`RetCode::Other`]).
    pub fn meaning(&self) -> &'static str {
        TABLE
            .iter()
            .find(|(_, k, ..)| k == self)
            .map_or("unknown code", |(_, _, meaning, _)| meaning)
    }

    /// What to do about this code (see [`Disposition`]); `None` for success. A code
    /// this crate does not know ([`RetCode::Other`]) was an answer, so nothing is known
    /// to have been applied or to be transient: [`Disposition::DoNotResend`].
    pub fn disposition(&self) -> Option<Disposition> {
        match self {
            RetCode::Other(_) => Some(Disposition::DoNotResend),
            known => TABLE
                .iter()
                .find(|(_, k, ..)| k == known)
                .and_then(|(.., disposition)| *disposition),
        }
    }

    /// Every code this crate knows, in the gateway's order (success first).
    pub fn known() -> impl Iterator<Item = RetCode> {
        TABLE.iter().map(|(_, code, ..)| code.clone())
    }

    /// Whether this is `0`.
    pub fn is_success(&self) -> bool {
        *self == RetCode::Success
    }
}

/// An unknown code as kept: control characters escaped, at most 32 characters, a cut
/// marked with `…` (so a cut can never leave a known code behind).
fn shown(code: &str) -> String {
    let escaped: String = code.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() <= 32 {
        escaped
    } else {
        escaped.chars().take(31).chain(['…']).collect()
    }
}

impl fmt::Display for RetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.meaning())
    }
}

/// What the caller should do about an error. Every [`Error`] variant and every
/// [`RetCode`] has exactly one ([`Error::disposition`], [`RetCode::disposition`]); the
/// crate documentation has the whole table.
///
/// ```
/// use ccgw::{Disposition, RetCode};
/// assert_eq!(RetCode::parse("100-002").disposition(), Some(Disposition::TakeOver));
/// assert_eq!(RetCode::parse("000-007").disposition(), Some(Disposition::BackOff));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disposition {
    /// Nothing reached the gateway, so nothing was applied: sending again is safe.
    Resend,
    /// The request may have been applied although no answer says so: read the agent's
    /// state (or wait for its event) before deciding; never resend blindly.
    SettleUnknown,
    /// The session is gone (or this handle was signed out): sign in again.
    SignInAgain,
    /// The gateway holds a session this client cannot use (signed in elsewhere, or the
    /// client's Guid is past the gateway's grace): take it over with a forced sign-in.
    TakeOver,
    /// A passing refusal; nothing was applied: wait, then try again.
    BackOff,
    /// Refused for good: sending the same again cannot succeed.
    DoNotResend,
    /// The input, the configuration or the credentials are wrong: fix them.
    FixConfiguration,
}

impl Disposition {
    /// Every disposition, for tables and exhaustive checks.
    pub const ALL: [Disposition; 7] = [
        Disposition::Resend,
        Disposition::SettleUnknown,
        Disposition::SignInAgain,
        Disposition::TakeOver,
        Disposition::BackOff,
        Disposition::DoNotResend,
        Disposition::FixConfiguration,
    ];

    /// Its name, as in the documentation's table (`SettleUnknown`).
    pub fn name(self) -> &'static str {
        match self {
            Disposition::Resend => "Resend",
            Disposition::SettleUnknown => "SettleUnknown",
            Disposition::SignInAgain => "SignInAgain",
            Disposition::TakeOver => "TakeOver",
            Disposition::BackOff => "BackOff",
            Disposition::DoNotResend => "DoNotResend",
            Disposition::FixConfiguration => "FixConfiguration",
        }
    }

    /// What to do, in a few words, for people reading an error report.
    pub fn advice(self) -> &'static str {
        match self {
            Disposition::Resend => "nothing was sent; it is safe to try again",
            Disposition::SettleUnknown => {
                "it may have been applied; check the agent's state before trying again"
            }
            Disposition::SignInAgain => "the session is gone; sign in again",
            Disposition::TakeOver => {
                "the gateway still holds a session this client cannot use; take it over with a forced sign-in"
            }
            Disposition::BackOff => "nothing was applied; wait a moment and try again",
            Disposition::DoNotResend => "refused; sending the same again will not help",
            Disposition::FixConfiguration => "fix the input or the configuration",
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong, typed so that a caller can decide: each error has one
/// [`Disposition`] ([`Error::disposition`]) that says what to do.
///
/// Rest is not idempotent: this crate never resends a request that may have reached the
/// gateway, and an error that may have happened after it did is settled by reading the
/// state ([`Disposition::SettleUnknown`]). No variant ever contains the Guid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value outside its documented range; nothing was sent.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidValue),
    /// A text that is not a usable Guid; nothing was sent.
    #[error(transparent)]
    InvalidGuid(#[from] InvalidGuid),
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
    Connect(#[source] reqwest::Error),
    /// The TLS handshake failed (untrusted CA, wrong host name, expired certificate, …);
    /// nothing was sent.
    #[error("TLS handshake with the gateway failed")]
    Tls(#[source] reqwest::Error),
    /// The connect timeout elapsed before the request could be sent.
    #[error("timed out connecting to the gateway after {timeout:?}; nothing was sent")]
    TimeoutBeforeSend {
        /// The connect timeout in force.
        timeout: Duration,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
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
        source: Option<reqwest::Error>,
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
    /// A confirmed operation ([`Agent::rest_confirmed`](crate::Agent::rest_confirmed),
    /// …): neither its event came within the wait nor did the agent's state, read at the
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
    /// Events cannot be obtained (no runtime, or the gateway unreachable for longer than
    /// a session survives); the event stream has ended.
    #[error("agent events are unavailable: {reason}")]
    EventsUnavailable {
        /// Why.
        reason: String,
    },
    /// A slow reader of an event stream missed events (more than 256 were waiting).
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
    NotSignedIn {
        /// The gateway's log name of the operation that was not sent.
        operation: &'static str,
    },
}

/// Displays an error with its sources: `outer: inner: innermost`, leaving out a source
/// whose text its outer error already shows.
///
/// ```
/// use ccgw::{AgentId, ErrorChain};
/// let e = AgentId::new(100).map_err(ccgw::Error::from).unwrap_err();
/// assert_eq!(ErrorChain(&e).to_string(), "invalid agent id 100: must be within 101..=59999");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

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
            Error::InvalidArgument(_) | Error::InvalidGuid(_) | Error::Config { .. } => {
                Disposition::FixConfiguration
            }
            Error::Tls(_) => Disposition::FixConfiguration,
            Error::Gateway { code, .. } => code.disposition().unwrap_or(Disposition::DoNotResend),
            Error::Connect(_) | Error::TimeoutBeforeSend { .. } => Disposition::Resend,
            Error::UnexpectedStatus { .. }
            | Error::OutcomeUnknown { .. }
            | Error::MalformedResponse { .. }
            | Error::UnexpectedContentType { .. }
            | Error::ResponseTooLarge { .. }
            | Error::NotConfirmed { .. }
            | Error::EventsLost { .. } => Disposition::SettleUnknown,
            Error::EventsUnavailable { .. } | Error::NotSignedIn { .. } => Disposition::SignInAgain,
        }
    }

    /// The variant's name, as in the documentation's table (`OutcomeUnknown`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::InvalidGuid(_) => "InvalidGuid",
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
            Error::EventsUnavailable { .. } => "EventsUnavailable",
            Error::EventsLost { .. } => "EventsLost",
            Error::ResponseTooLarge { .. } => "ResponseTooLarge",
            Error::NotSignedIn { .. } => "NotSignedIn",
        }
    }

    /// Whether a new session is the remedy: [`Disposition::SignInAgain`] (`100-006`, a
    /// signed-out handle, events gone for good) or [`Disposition::TakeOver`] (`100-002`,
    /// a Guid the gateway no longer accepts: `000-003`).
    pub fn needs_sign_in(&self) -> bool {
        matches!(
            self.disposition(),
            Disposition::SignInAgain | Disposition::TakeOver
        )
    }

    /// Whether the gateway refused the state change itself (`100-009`): the agent's
    /// current state or permissions do not allow rest.
    pub fn is_state_change_refused(&self) -> bool {
        matches!(self.retcode(), Some(RetCode::StateChangeRefused))
    }

    /// Whether sending the request again cannot apply it twice and may succeed:
    /// [`Disposition::Resend`] (nothing reached the gateway) or [`Disposition::BackOff`]
    /// (the gateway answered that it did nothing, e.g. `000-004`, `000-007`). (Invalid
    /// input, TLS and configuration errors also sent nothing, but repeating them cannot
    /// help.)
    pub fn is_retry_safe(&self) -> bool {
        matches!(
            self.disposition(),
            Disposition::Resend | Disposition::BackOff
        )
    }

    /// Whether the request may have been applied although no answer says so
    /// ([`Disposition::SettleUnknown`]): a timeout or a lost connection after sending,
    /// an unexpected status, a malformed, foreign or too large answer.
    pub fn is_outcome_unknown(&self) -> bool {
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
                Error::InvalidArgument(_) => 0,
                Error::InvalidGuid(_) => 1,
                Error::Config { .. } => 2,
                Error::Gateway { .. } => 3,
                Error::UnexpectedStatus { .. } => 4,
                Error::Connect(_) => 5,
                Error::Tls(_) => 6,
                Error::TimeoutBeforeSend { .. } => 7,
                Error::OutcomeUnknown { .. } => 8,
                Error::MalformedResponse { .. } => 9,
                Error::UnexpectedContentType { .. } => 10,
                Error::NotConfirmed { .. } => 11,
                Error::EventsUnavailable { .. } => 12,
                Error::EventsLost { .. } => 13,
                Error::ResponseTooLarge { .. } => 14,
                Error::NotSignedIn { .. } => 15,
            }
        }
        // reqwest errors have no public constructor: a request to an invalid URL makes
        // one (never sent).
        let reqwest_error = || {
            reqwest::Client::new()
                .get("http://[::1")
                .build()
                .expect_err("an invalid URL")
        };
        let samples = vec![
            Error::from(crate::AgentId::new(1).expect_err("out of range")),
            Error::from(InvalidGuid::Empty),
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
            Error::Connect(reqwest_error()),
            Error::Tls(reqwest_error()),
            Error::TimeoutBeforeSend {
                timeout: Duration::from_secs(5),
                source: reqwest_error(),
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
            Error::NotSignedIn { operation: "rest" },
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

    /// Found by the `retcode` fuzz target: control characters once vanished from an
    /// unknown code, so `"0\0\0\0\0"` printed — and parsed back — as success.
    #[test]
    fn unknown_codes_never_read_like_known_ones() {
        let padded = format!("0{}x", " ".repeat(40));
        for raw in ["0\0\0\0\0", "\u{18}\t0", "100-006\u{7}", "0 0", &padded] {
            let code = RetCode::parse(raw);
            assert!(
                matches!(code, RetCode::Other(_)),
                "{raw:?} parsed as {code:?}"
            );
            assert!(
                matches!(RetCode::parse(code.as_str()), RetCode::Other(_)),
                "{raw:?}"
            );
            assert!(!code.as_str().chars().any(char::is_control), "{raw:?}");
        }
        assert_eq!(RetCode::parse(" 0\t"), RetCode::Success);
        assert_eq!(RetCode::parse("100-006"), RetCode::NotSignedIn);
    }
}
