//! The gateway's return codes, their meanings and dispositions: one table.

use std::fmt;

use crate::disposition::Disposition;

/// A gateway return code (`retcode`): `"0"` for success, `NNN-NNN` for a failure.
///
/// Covers the agent-interface table of the gateway's error-code page (000-001…000-007,
/// 100-001…100-018) and the locked account (`110-016`) a sign-in may meet; any other
/// code parses as [`RetCode::Other`] — parsing never fails. Every code the spec lists for
/// an operation is known here (a test holds the two together).
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
    /// `110-016`: the account is locked; an administrator must unlock it.
    AccountLocked,
    /// Any other code, as sent (control characters escaped, at most 32 characters).
    Other(String),
}

/// Every known code: its text, variant, meaning and disposition (`None`: success).
const TABLE: [(&str, RetCode, &str, Option<Disposition>); 27] = [
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
        "already signed in, and forced sign-in is not allowed",
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
    (
        "110-016",
        RetCode::AccountLocked,
        "the account is locked",
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
    #[cfg(test)]
    pub(crate) fn known() -> impl Iterator<Item = RetCode> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
