//! One readable line per failure, and an exit code per class (see `ccgw --help`).

use ccgw::{AgentId, Error, RetCode};

/// A failure, by class.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Exit 2: the input is not usable.
    Input(String),
    /// Exit 3: the gateway refused.
    Refused(String),
    /// Exit 4: no usable exchange with the gateway.
    Transport(String),
    /// Exit 5: the request may have been applied.
    Unknown(String),
    /// Exit 1: anything else.
    Other(String),
}

impl Failure {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Other(_) => 1,
            Failure::Input(_) => 2,
            Failure::Refused(_) => 3,
            Failure::Transport(_) => 4,
            Failure::Unknown(_) => 5,
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::Input(m)
            | Failure::Refused(m)
            | Failure::Transport(m)
            | Failure::Unknown(m)
            | Failure::Other(m) => m,
        }
    }

    /// What went wrong and what to do, for agent `agent`.
    pub(crate) fn from_ccgw(error: &Error, agent: AgentId) -> Failure {
        let chain = chain(error);
        match error {
            Error::InvalidArgument(_) | Error::InvalidGuid(_) => Failure::Input(chain),
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
                        "the gateway refused agent {agent}'s Guid ({}): it expired or was replaced; sign in again with `ccgw sign-in`",
                        code.as_str()
                    ),
                    RetCode::StateChangeRefused => format!(
                        "the gateway refused the state change for agent {agent} ({}): its state or permissions do not allow it (check `ccgw status`)",
                        code.as_str()
                    ),
                    RetCode::WrongCredentials => {
                        format!("wrong password for agent {agent} ({})", code.as_str())
                    }
                    RetCode::AlreadySignedIn => {
                        format!("agent {agent} is already signed in ({})", code.as_str())
                    }
                    other => format!("the gateway refused the request for agent {agent}: {other}"),
                };
                Failure::Refused(format!("{advice}{said}"))
            }
            Error::NotConfirmed { waited } => Failure::Refused(format!(
                "the gateway accepted rest for agent {agent} but did not confirm it within {waited:?}; check `ccgw status`"
            )),
            Error::OutcomeUnknown { .. } => Failure::Unknown(format!(
                "{chain}; check `ccgw status --agent {agent}` before trying again"
            )),
            Error::Tls(_) => Failure::Transport(format!(
                "{chain}; pass the gateway's CA certificate with --ca-file or CCGW_CA_FILE"
            )),
            Error::Connect(_) | Error::TimeoutBeforeSend { .. } => Failure::Transport(format!(
                "{chain}; is the gateway running and the URL right?"
            )),
            Error::Config { .. } => Failure::Input(chain),
            _ => Failure::Transport(chain),
        }
    }
}

/// The error with its sources, `outer: inner: innermost`.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
