//! What a caller should do about an error: one disposition per error and return code.

use std::fmt;

/// What the caller should do about an error. Every [`Error`](crate::Error) variant and
/// every [`RetCode`](crate::RetCode) has exactly one
/// ([`Error::disposition`](crate::Error::disposition),
/// [`RetCode::disposition`](crate::RetCode::disposition)); the
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
    pub(crate) fn name(self) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What people read for each disposition (the command line prints the advice with
    /// every error), pinned: a change to it is a change to the snapshot.
    #[test]
    fn names_and_advice_as_people_read_them() {
        let table: String = Disposition::ALL
            .iter()
            .map(|d| format!("{d} ({}): {}\n", d.name(), d.advice()))
            .collect();
        insta::assert_snapshot!(table);
    }
}
