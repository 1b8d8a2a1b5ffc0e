//! The agent's events, typed. An event this crate does not know keeps its name and the
//! raw text of its content.

use std::str::FromStr;

use serde_json::Value;

use crate::error::Error;
use crate::state::AgentState;

/// One event of the agent.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AgentEvent {
    /// `AgentState_SetRest_Success`: the agent is in rest.
    RestStarted {
        /// `content.reason`: the rest cause code as the gateway sent it.
        reason: String,
    },
    /// `AgentState_Rest_Timeout`: the requested duration has elapsed; the agent stays in rest.
    RestTimeout,
    /// `AgentState_CancelRest_Success`: rest has ended; the agent is idle.
    RestCancelled,
    /// Not an event of the gateway: a poll's answer was lost in transit, so an event may
    /// have been missed. `state` is the agent's state read right after (`None` if it
    /// could not be read); compare it with what the events so far said.
    Gap {
        /// The state read after the loss.
        state: Option<AgentState>,
    },
    /// Any other event, as sent.
    Other {
        /// `eventType`.
        event_type: String,
        /// `content` as JSON text, as sent (`null` when absent).
        content: String,
    },
}

impl AgentEvent {
    /// The gateway's name of the event (`AgentState_SetRest_Success`, …);
    /// `ccgw_EventsMayBeMissing` for [`AgentEvent::Gap`], which is this crate's.
    pub fn event_type(&self) -> &str {
        match self {
            AgentEvent::RestStarted { .. } => "AgentState_SetRest_Success",
            AgentEvent::RestTimeout => "AgentState_Rest_Timeout",
            AgentEvent::RestCancelled => "AgentState_CancelRest_Success",
            AgentEvent::Gap { .. } => "ccgw_EventsMayBeMissing",
            AgentEvent::Other { event_type, .. } => event_type,
        }
    }

    /// The event with every secret `redactor` knows (and every Guid-shaped token) masked
    /// in the texts it carries from the gateway.
    pub(crate) fn masked(self, redactor: &crate::redact::Redactor) -> AgentEvent {
        match self {
            AgentEvent::RestStarted { reason } => AgentEvent::RestStarted {
                reason: redactor.mask(&reason),
            },
            AgentEvent::Other {
                event_type,
                content,
            } => AgentEvent::Other {
                event_type: redactor.mask(&event_type),
                content: redactor.mask(&content),
            },
            known => known,
        }
    }

    /// Types an event as the gateway sent it (`{eventType, workNo, content, …}`). Never
    /// fails: anything unexpected becomes [`AgentEvent::Other`].
    pub(crate) fn from_json(event: Value) -> AgentEvent {
        let event_type = event
            .get("eventType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content = event.get("content").cloned().unwrap_or(Value::Null);
        match event_type {
            "AgentState_SetRest_Success" => AgentEvent::RestStarted {
                reason: match content.get("reason") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                },
            },
            "AgentState_Rest_Timeout" => AgentEvent::RestTimeout,
            "AgentState_CancelRest_Success" => AgentEvent::RestCancelled,
            other => AgentEvent::Other {
                event_type: other.to_owned(),
                content: content.to_string(),
            },
        }
    }
}

/// An event as JSON text (`{"eventType": …, "workNo": …, "content": …}`), as the gateway
/// sends it — in a poll's answer, or pushed to a `callBackUri`. Any JSON object types:
/// an event this crate does not know is [`AgentEvent::Other`]; only text that is not
/// JSON is refused ([`Error::MalformedResponse`], the text not repeated).
///
/// ```
/// use ccgw::AgentEvent;
/// let event: AgentEvent = r#"{"eventType":"AgentState_SetRest_Success","content":{"reason":"3"}}"#.parse()?;
/// assert_eq!(event, AgentEvent::RestStarted { reason: "3".into() });
/// let other: AgentEvent = r#"{"eventType":"AgentOther_Phone","content":{"a":1}}"#.parse()?;
/// assert_eq!(other.event_type(), "AgentOther_Phone");
/// assert!("not json".parse::<AgentEvent>().is_err());
/// # Ok::<(), ccgw::Error>(())
/// ```
impl FromStr for AgentEvent {
    type Err = Error;

    fn from_str(text: &str) -> Result<AgentEvent, Error> {
        serde_json::from_str::<Value>(text)
            .map(AgentEvent::from_json)
            .map_err(|e| Error::MalformedResponse {
                reason: format!(
                    "an event that is not JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
                body_excerpt: String::new(),
                source: None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_typed_and_never_fail() {
        let typed = |v: Value| AgentEvent::from_json(v);
        assert_eq!(
            typed(
                json!({"eventType": "AgentState_SetRest_Success", "workNo": "101", "content": {"reason": "200"}})
            ),
            AgentEvent::RestStarted {
                reason: "200".into()
            }
        );
        assert_eq!(
            typed(json!({"eventType": "AgentState_SetRest_Success", "content": {"reason": 7}})),
            AgentEvent::RestStarted { reason: "7".into() }
        );
        assert_eq!(
            typed(json!({"eventType": "AgentState_Rest_Timeout", "content": null})),
            AgentEvent::RestTimeout
        );
        assert_eq!(
            typed(json!({"eventType": "AgentState_CancelRest_Success"})),
            AgentEvent::RestCancelled
        );
        assert_eq!(
            typed(json!({"eventType": "AgentOther_InService", "workNo": "101", "content": null})),
            AgentEvent::Other {
                event_type: "AgentOther_InService".into(),
                content: "null".into()
            }
        );
        for odd in [json!(null), json!("x"), json!([1]), json!({"eventType": 5})] {
            assert!(matches!(typed(odd), AgentEvent::Other { .. }));
        }
    }
}
