#![doc = include_str!("../README.md")]

mod client;
mod error;
mod guid;
mod redact;
mod values;

pub use client::{
    Agent, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RESPONSE_LIMIT,
    DEFAULT_USER_AGENT, GatewayClient,
};
pub use error::{Error, RetCode};
pub use guid::{Guid, InvalidGuid};
pub use values::{
    AGENT_ID_MAX, AGENT_ID_MAX_EXTENDED, AGENT_ID_MIN, AgentId, InvalidValue, RestCause,
    RestDuration,
};
