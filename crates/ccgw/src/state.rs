//! The agent's state as the gateway reports it.

/// The agent's state as `status` reports it (the gateway's agent-state table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AgentState {
    /// 0: unknown.
    Unknown,
    /// 1: signed in (reserved).
    SignedIn,
    /// 2: signed out.
    SignedOut,
    /// 3: busy.
    Busy,
    /// 4 (and 6): idle.
    Idle,
    /// 5: wrap-up.
    WrapUp,
    /// 7: talking.
    Talking,
    /// 8: rest.
    Rest,
    /// 9: pre-rest — rest requested during a call, starting when it ends.
    PreRest,
    /// Any other number.
    Other(i64),
}

impl AgentState {
    /// The gateway's number (idle is 4).
    pub fn code(self) -> i64 {
        match self {
            AgentState::Unknown => 0,
            AgentState::SignedIn => 1,
            AgentState::SignedOut => 2,
            AgentState::Busy => 3,
            AgentState::Idle => 4,
            AgentState::WrapUp => 5,
            AgentState::Talking => 7,
            AgentState::Rest => 8,
            AgentState::PreRest => 9,
            AgentState::Other(code) => code,
        }
    }

    /// A short English name (`"pre-rest"`), `"unlisted state"` for [`AgentState::Other`].
    pub fn name(self) -> &'static str {
        match self {
            AgentState::Unknown => "unknown",
            AgentState::SignedIn => "signed in",
            AgentState::SignedOut => "signed out",
            AgentState::Busy => "busy",
            AgentState::Idle => "idle",
            AgentState::WrapUp => "wrap-up",
            AgentState::Talking => "talking",
            AgentState::Rest => "rest",
            AgentState::PreRest => "pre-rest",
            AgentState::Other(_) => "unlisted state",
        }
    }

    /// From the gateway's number.
    pub(crate) fn from_code(code: i64) -> AgentState {
        match code {
            0 => AgentState::Unknown,
            1 => AgentState::SignedIn,
            2 => AgentState::SignedOut,
            3 => AgentState::Busy,
            4 | 6 => AgentState::Idle,
            5 => AgentState::WrapUp,
            7 => AgentState::Talking,
            8 => AgentState::Rest,
            9 => AgentState::PreRest,
            other => AgentState::Other(other),
        }
    }
}

/// The answer of [`Agent::status`](crate::Agent::status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentStatus {
    /// The state.
    pub state: AgentState,
    /// Whether the agent is in a call.
    pub in_call: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_as_sent() {
        for code in [0, 1, 2, 3, 4, 5, 7, 8, 9, 42] {
            assert_eq!(AgentState::from_code(code).code(), code);
        }
        let names: Vec<String> = [0, 1, 2, 3, 4, 5, 7, 8, 9, 42]
            .into_iter()
            .map(|code| format!("{code} {}", AgentState::from_code(code).name()))
            .collect();
        assert_eq!(
            names.join(", "),
            "0 unknown, 1 signed in, 2 signed out, 3 busy, 4 idle, 5 wrap-up, 7 talking, \
             8 rest, 9 pre-rest, 42 unlisted state"
        );
        // 6 is the gateway's other number for idle.
        assert_eq!(AgentState::from_code(6), AgentState::Idle);
        assert_eq!(AgentState::from_code(8), AgentState::Rest);
    }
}
