//! One readable line per failure, and an exit code per class (see `ccgw --help`). A
//! gateway or transport failure's class is its [`Disposition`], from `ccgw`.

use std::path::Path;

use ccgw::{AgentId, Disposition, Error, RetCode};

/// A failure, by class.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Exit 2: the input is not usable (before anything was sent).
    Input(String),
    /// An error of `ccgw`: the exit code is its disposition's.
    Ccgw(Disposition, String),
    /// Exit 1: anything else (a local failure, e.g. the Guid file cannot be written).
    Other(String),
}

/// The exit code of each disposition; `ccgw --help` lists them (a test holds the help
/// text to this table).
pub(crate) const EXIT_CODES: [(Disposition, u8, &str); 7] = [
    (
        Disposition::FixConfiguration,
        2,
        "fix the input or configuration (a value out of range, a missing password or Guid, bad usage, wrong password, TLS)",
    ),
    (
        Disposition::DoNotResend,
        3,
        "refused by the gateway; sending the same again will not help (e.g. 100-009)",
    ),
    (
        Disposition::Resend,
        4,
        "nothing reached the gateway (cannot connect, connect timeout); safe to try again",
    ),
    (
        Disposition::SettleUnknown,
        5,
        "outcome unknown: the request may have been applied; check `ccgw status`",
    ),
    (
        Disposition::SignInAgain,
        6,
        "the session is gone (100-006); sign in again",
    ),
    (
        Disposition::TakeOver,
        7,
        "the gateway holds a session this Guid cannot use (100-002, 000-003); `ccgw sign-in --take-over`",
    ),
    (
        Disposition::BackOff,
        8,
        "a passing refusal (000-004, 000-007, 100-007); nothing was applied, try again later",
    ),
];

/// The exit code of `disposition` (1 for one this table does not know yet).
pub(crate) fn exit_code_of(disposition: Disposition) -> u8 {
    EXIT_CODES
        .iter()
        .find(|(d, ..)| *d == disposition)
        .map_or(1, |(_, code, _)| *code)
}

impl Failure {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Other(_) => 1,
            Failure::Input(_) => 2,
            Failure::Ccgw(disposition, _) => exit_code_of(*disposition),
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::Input(m) | Failure::Ccgw(_, m) | Failure::Other(m) => m,
        }
    }

    /// A configuration the library refused (exit 2), in the command line's terms.
    pub(crate) fn config(error: &Error) -> Failure {
        let chain = error.chain().to_string();
        // The library names the setting; the command line's is a flag.
        if chain.contains("allow_http") {
            return Failure::Input(format!(
                "{chain}; the command line's setting is --allow-http (CCGW_ALLOW_HTTP=1)"
            ));
        }
        Failure::Input(chain)
    }

    /// What went wrong and what to do, for agent `agent`.
    pub(crate) fn from_ccgw(error: &Error, agent: AgentId) -> Failure {
        Failure::about(error, agent, None)
    }

    /// [`from_ccgw`](Self::from_ccgw) for a command that trusted the CA file `ca_file`.
    pub(crate) fn about(error: &Error, agent: AgentId, ca_file: Option<&Path>) -> Failure {
        let chain = error.chain().to_string();
        let disposition = error.disposition();
        let message = match error {
            Error::Gateway { code, message, .. } => {
                let said = if message.is_empty() {
                    String::new()
                } else {
                    format!(" (gateway: {message:?})")
                };
                let advice = match code {
                    RetCode::NotSignedIn => format!(
                        "agent {agent} is not signed in ({}): sign in again with `ccgw sign-in`",
                        code.as_str()
                    ),
                    RetCode::NoPermission => format!(
                        "the gateway refused agent {agent}'s Guid ({}): it expired or was replaced; take the session over with `ccgw sign-in --take-over`",
                        code.as_str()
                    ),
                    RetCode::StateChangeRefused => format!(
                        "the gateway refused the state change for agent {agent} ({}): its state or permissions do not allow it (check `ccgw status`)",
                        code.as_str()
                    ),
                    RetCode::WrongCredentials => {
                        format!("wrong password for agent {agent} ({})", code.as_str())
                    }
                    RetCode::AlreadySignedIn => format!(
                        "agent {agent} is already signed in ({}); `ccgw sign-in --take-over` takes the session over",
                        code.as_str()
                    ),
                    other => format!(
                        "the gateway refused the request for agent {agent}: {other}; {}",
                        disposition.advice()
                    ),
                };
                format!("{advice}{said}")
            }
            Error::NotConfirmed { .. } => {
                format!("{chain}; check `ccgw status --agent {agent}`")
            }
            Error::OutcomeUnknown { .. } => {
                format!("{chain}; check `ccgw status --agent {agent}` before trying again")
            }
            Error::Tls(_) => match ca_file {
                Some(file) => format!(
                    "{chain}; the CA file {} does not vouch for the gateway's certificate \
                     (another CA, or a certificate for another host name than the URL's)",
                    file.display()
                ),
                None => format!(
                    "{chain}; pass the gateway's CA certificate with --ca-file or CCGW_CA_FILE"
                ),
            },
            Error::UnexpectedStatus { status, .. } if status.as_u16() == 404 => format!(
                "{chain}; the gateway has no such path: give only the gateway's base URL \
                 (scheme, host and port, e.g. https://gateway:8043)"
            ),
            Error::Connect(_) | Error::TimeoutBeforeSend { .. } => {
                format!("{chain}; is the gateway running and the URL right?")
            }
            Error::HandleSignedOut { .. } => format!("{chain} with `ccgw sign-in`"),
            _ => chain,
        };
        Failure::Ccgw(disposition, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_disposition_has_its_own_exit_code() {
        for d in Disposition::ALL {
            assert!(
                EXIT_CODES.iter().any(|(known, ..)| *known == d),
                "{d} has no exit code"
            );
        }
        let mut codes: Vec<u8> = EXIT_CODES.iter().map(|(_, c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes.len(),
            EXIT_CODES.len(),
            "two dispositions share a code"
        );
        assert!(!codes.contains(&0) && !codes.contains(&1));
    }
}
