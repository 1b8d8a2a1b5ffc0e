#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod agent;
mod client;
mod config;
mod confirm;
mod disposition;
mod error;
mod events;
mod guid;
pub mod metrics;
mod redact;
mod retcode;
mod signin;
mod state;
mod supervisor;
mod tls;
mod values;

pub use agent::{Agent, AgentState, AgentStatus, KeepAlive, SignedInBy};
pub use client::{
    ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_GUID_GRACE, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_POLL_HOLD, DEFAULT_POLL_TIMEOUT, DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RESPONSE_LIMIT, DEFAULT_USER_AGENT, GatewayClient,
};
pub use config::{Config, parse_duration};
pub use confirm::{Confirmed, Converged, FIRST_STATE_READ, STATE_READ_EVERY};
pub use error::{Disposition, Error, ErrorChain, RetCode};
pub use events::{AgentEvent, EVENT_BACKOFF_MAX, EVENT_BUFFER, EventStream};
pub use guid::{Affinity, Guid, InvalidAffinity, InvalidGuid};
pub use signin::{IfSignedIn, InitialState, SignIn};
pub use supervisor::{LostBecause, SessionEvent, SupervisedAgent, Supervision};
pub use values::{AgentId, InvalidValue, RestCause, RestDuration};

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
