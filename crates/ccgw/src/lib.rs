#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod agent;
mod call;
mod client;
mod config;
mod confirm;
mod disposition;
mod error;
mod events;
mod guid;
mod metrics;
mod pump;
mod redact;
mod retcode;
mod signin;
mod state;
mod supervisor;
mod tls;
mod values;

pub use agent::{Agent, AgentState, AgentStatus, Change};
pub use client::GatewayClient;
pub use config::{Config, Setting, parse_duration};
pub use confirm::{Confirmed, Converged};
pub use error::{Disposition, Error, RetCode};
pub use events::AgentEvent;
pub use guid::{Affinity, Guid};
pub use pump::EventStream;
pub use signin::{InitialState, SignIn};
pub use supervisor::{SessionEvent, SupervisedAgent};
pub use values::{AgentId, RestCause, RestDuration};

#[cfg(test)]
mod tests {
    /// Built once, shared across thousands of agents and tasks.
    #[test]
    fn client_and_agent_are_cheap_to_share() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<super::GatewayClient>();
        shareable::<super::Agent>();
        shareable::<super::Guid>();
        fn error_is_sendable<T: std::error::Error + Send + Sync + 'static>() {}
        error_is_sendable::<super::Error>();
    }
}
