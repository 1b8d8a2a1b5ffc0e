//! The simulator's wire vocabulary: return codes, agent states, events, answers.

use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use axum::response::{IntoResponse as _, Response};
use serde_json::{Value, json};

const JSON_UTF8: &str = "application/json;charset=UTF-8";

/// `Set-GUID`. `http` stores names in lower case; the connection writer restores the
/// documented capitalisation on the wire (see `server::SetGuidCase`).
pub(crate) const SET_GUID: HeaderName = HeaderName::from_static("set-guid");

/// Return codes the simulator answers with (reference §6).
pub mod retcode {
    /// Success.
    pub const OK: &str = "0";
    /// A parameter or the URL is invalid.
    pub const INVALID_PARAMETER: &str = "000-002";
    /// No permission: wrong or expired Guid.
    pub const NO_PERMISSION: &str = "000-003";
    /// Sign-in parameter empty or invalid.
    pub const SIGN_IN_PARAMETER_INVALID: &str = "100-001";
    /// Already signed in.
    pub const ALREADY_SIGNED_IN: &str = "100-002";
    /// Wrong user name or password.
    pub const WRONG_CREDENTIALS: &str = "100-004";
    /// Not signed in.
    pub const NOT_SIGNED_IN: &str = "100-006";
    /// Setting the agent state failed.
    pub const STATE_CHANGE_REFUSED: &str = "100-009";
    /// Wrong state at sign-out.
    pub const WRONG_STATE_AT_SIGN_OUT: &str = "100-010";
    /// Invalid parameter at sign-in.
    pub const INVALID_SIGN_IN_PARAMETER: &str = "100-011";
    /// Signed in and may not be forced out (forced sign-in switched off).
    pub const CANNOT_FORCE_SIGN_IN: &str = "100-015";
    /// The account is locked.
    pub const ACCOUNT_LOCKED: &str = "110-016";
    /// Wrong way of obtaining events (polling a push-mode session).
    pub const WRONG_EVENT_METHOD: &str = "000-001";
    /// The agent is being switched over (failover); nothing was done.
    pub const SWITCHING_OVER: &str = "000-004";
    /// The interface was called repeatedly (a previous call is pending); nothing was done.
    pub const CALLED_REPEATEDLY: &str = "000-007";
}

/// Agent states as `getAgentStatus` reports them (reference §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentState {
    /// 3
    Busy,
    /// 4
    Idle,
    /// 5
    WrapUp,
    /// 8
    Rest,
    /// 9: rest requested during a call; rest starts when the call ends.
    PreRest,
}

impl AgentState {
    /// The number the gateway reports.
    pub(crate) fn code(self) -> u8 {
        match self {
            AgentState::Busy => 3,
            AgentState::Idle => 4,
            AgentState::WrapUp => 5,
            AgentState::Rest => 8,
            AgentState::PreRest => 9,
        }
    }
}

/// One event waiting to be polled.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// `eventType`.
    pub(crate) event_type: &'static str,
    /// `content`.
    pub(crate) content: Value,
    /// Generation time, epoch milliseconds.
    pub(crate) gen_time_ms: u64,
}

/// The answer of one operation: a return code, `result` data and, when the Guid was
/// issued or rotated, the new Guid for `Set-GUID`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    /// `retcode`.
    pub(crate) retcode: &'static str,
    /// `message`.
    pub(crate) message: &'static str,
    /// `result` (`{}` when there is nothing to report).
    pub(crate) result: Value,
    /// A Guid to announce in `Set-GUID`.
    pub(crate) set_guid: Option<String>,
}

impl Answer {
    pub(crate) fn code(retcode: &'static str) -> Self {
        Self {
            retcode,
            message: message_for(retcode),
            result: json!({}),
            set_guid: None,
        }
    }

    pub(crate) fn ok() -> Self {
        Self::code(retcode::OK)
    }
}

fn message_for(code: &str) -> &'static str {
    match code {
        retcode::OK => "success",
        retcode::NO_PERMISSION => "no right to invite resouce",
        retcode::NOT_SIGNED_IN => "agent not login",
        retcode::INVALID_PARAMETER => "param is invalid",
        retcode::STATE_CHANGE_REFUSED => "set agent state failed",
        retcode::SWITCHING_OVER => "agent is being switched over",
        retcode::CALLED_REPEATEDLY => "interface called repeatedly",
        _ => "",
    }
}

/// The outcome of one poll attempt.
#[derive(Debug)]
pub(crate) enum Poll {
    /// Answer now (an event, or a refusal).
    Ready(Answer, Option<Event>),
    /// Nothing queued: wait (holding the request), then try again. Carries the Guid to
    /// announce and how many clock milliseconds until the next timed event is due.
    Wait(Option<String>, Option<u64>),
}

/// The envelope `{message, retcode, <key>}` with `Set-GUID` when a Guid was issued.
pub(crate) fn json_response(answer: &Answer, key: &str, value: Option<Value>) -> Response {
    /// The envelope, its keys in the order a JSON object with sorted keys has.
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<&'a Value>,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<&'a Value>,
        retcode: &'a str,
    }
    let payload = value
        .as_ref()
        .or((!answer.result.is_null()).then_some(&answer.result));
    let (event, result) = if key == "event" {
        (payload, None)
    } else {
        (None, payload)
    };
    let body = serde_json::to_string(&Envelope {
        event,
        message: answer.message,
        result,
        retcode: answer.retcode,
    })
    .unwrap_or_default();
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    if let Some(guid) = &answer.set_guid
        && let Ok(value) = HeaderValue::from_str(&format!("JSESSIONID={guid}"))
    {
        headers.insert(SET_GUID, value);
    }
    response
}
