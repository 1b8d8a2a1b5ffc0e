//! The HTTP face of the simulator: the spec's paths, answered like the gateway answers
//! them — HTTP 200 with a return code for every business and auth failure.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use crate::cluster::Routed;
use crate::config::InvalidPath;
use crate::model::{Answer, Event, Gateway, Poll, retcode};
use crate::operation;
use crate::wire::json_response;

const BASE: &str = "/agentgateway/resource";

type Gw = State<Arc<Gateway>>;

/// The router for one simulated gateway.
pub(crate) fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route(&format!("{BASE}/onlineagent/{{agentid}}"), put(login))
        .route(
            &format!("{BASE}/onlineagent/{{agentid}}/forcelogin"),
            put(force_login),
        )
        .route(
            &format!("{BASE}/onlineagent/{{agentid}}/logout"),
            axum::routing::delete(logout),
        )
        .route(
            &format!("{BASE}/onlineagent/{{agentid}}/rest/{{time}}/{{restcause}}"),
            post(rest),
        )
        .route(
            &format!("{BASE}/onlineagent/{{agentid}}/cancelrest"),
            post(cancel_rest),
        )
        .route(
            &format!("{BASE}/onlineagent/{{agentid}}/agentstatus"),
            get(status),
        )
        .route(
            &format!("{BASE}/onlineagent/{{agentid}}/handshake"),
            post(handshake),
        )
        .route(
            &format!("{BASE}/onlineagent/{{agentid}}/updateGuid"),
            put(update_guid),
        )
        .route(&format!("{BASE}/agentevent/{{agentid}}"), get(poll))
        .with_state(gateway)
}

/// What runs around every operation (`next`: the router), outermost first: a fault
/// decides before anything else; then the load balancer's front; then the recording,
/// inside the front, so a recorded answer is the node's, before the front adds its
/// cookie. The connection loop calls it for each request; as axum middleware, each
/// step would cost every request a clone of the router and a boxed future.
pub(crate) async fn gate<F, Fut>(gw: &Gateway, request: axum::extract::Request, next: F) -> Response
where
    F: FnOnce(axum::extract::Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    crate::front::faults(gw, request, |request| {
        crate::front::front(gw, request, |request| record(gw, request, next))
    })
    .await
}

/// Appends the request/response pair to the configured recording file (if any).
async fn record<F, Fut>(gw: &Gateway, request: axum::extract::Request, next: F) -> Response
where
    F: FnOnce(axum::extract::Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let Some(file) = gw.config.record.as_ref() else {
        return next(request).await;
    };
    let (parts, body) = request.into_parts();
    let request_body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let headers = |map: &HeaderMap| -> Map<String, Value> {
        map.iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                )
            })
            .collect()
    };
    let request_headers = headers(&parts.headers);
    let (method, path, query) = (
        parts.method.to_string(),
        parts.uri.path().to_owned(),
        parts.uri.query().unwrap_or_default().to_owned(),
    );
    let response = next(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(request_body.clone()),
    ))
    .await;
    let (parts, body) = response.into_parts();
    let response_body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let pair = json!({
        "method": method,
        "path": path,
        "query": query,
        "request_headers": request_headers,
        "request_body": String::from_utf8_lossy(&request_body),
        "status": parts.status.as_u16(),
        "response_headers": headers(&parts.headers),
        "response_body": String::from_utf8_lossy(&response_body),
    });
    if let Ok(mut out) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        use std::io::Write as _;
        // One write per line, so concurrent requests do not interleave.
        let _ = out.write_all(format!("{pair}\n").as_bytes());
    }
    Response::from_parts(parts, axum::body::Body::from(response_body))
}

/// A path or query value outside the contract.
struct Invalid;

fn digits(text: &str, max_len: usize) -> Option<u32> {
    (!text.is_empty() && text.len() <= max_len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A path value within `range` (the spec's, from [`operation::limits`]): digits only,
/// no longer than the range's end.
fn in_range(text: &str, range: &std::ops::RangeInclusive<i64>) -> Result<u32, Invalid> {
    let max_len = range.end().to_string().len();
    digits(text, max_len)
        .filter(|v| range.contains(&i64::from(*v)))
        .ok_or(Invalid)
}

fn agent_id(text: &str) -> Result<u32, Invalid> {
    in_range(text, &operation::limits::AGENTID)
}

fn rest_cause(text: &str) -> Result<u8, Invalid> {
    in_range(text, &operation::limits::RESTCAUSE).and_then(|c| u8::try_from(c).map_err(|_| Invalid))
}

/// The simulator's check of a rest request's path and query values: `(agent, time,
/// cause, prolong)`, or `None` when a value is outside the contract (answered `000-002`
/// or HTTP 404).
pub fn check_rest_values(
    agent: &str,
    time: &str,
    cause: &str,
    query: Option<&str>,
) -> Option<(u32, u32, u8, bool)> {
    Some((
        agent_id(agent).ok()?,
        in_range(time, &operation::limits::TIME).ok()?,
        rest_cause(cause).ok()?,
        prolong(query).ok()?,
    ))
}

/// `prolong`: absent means `false`; otherwise `true` or `false`.
fn prolong(query: Option<&str>) -> Result<bool, Invalid> {
    let mut value = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "prolong" {
            value = Some(match v {
                "true" => true,
                "false" => false,
                _ => return Err(Invalid),
            });
        }
    }
    Ok(value.unwrap_or(false))
}

/// The request's `guid` header, taken without copying the other headers (axum's
/// `HeaderMap` extractor clones them all).
struct GuidHeader(Option<HeaderValue>);

impl GuidHeader {
    fn as_str(&self) -> Option<&str> {
        self.0.as_ref().and_then(|v| v.to_str().ok())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for GuidHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get("guid").cloned()))
    }
}

fn invalid(gw: &Gateway) -> Response {
    match gw.config.invalid_path {
        InvalidPath::NotFound => StatusCode::NOT_FOUND.into_response(),
        InvalidPath::Retcode => json_response(
            &Answer {
                retcode: retcode::INVALID_PARAMETER,
                message: "param is invalid",
                result: json!({}),
                set_guid: None,
            },
            "result",
            None,
        ),
    }
}

/// Answers an operation on `agent` (a path value): the injected answer if a test set
/// one, else `run`'s — or the invalid-path answer.
fn answer(gw: &Gateway, agent: &str, operation: &str, run: impl FnOnce(u32) -> Answer) -> Response {
    count(gw);
    let Ok(agent) = agent_id(agent) else {
        return invalid(gw);
    };
    let answer = gw.take_injected(operation).unwrap_or_else(|| run(agent));
    json_response(&answer, "result", None)
}

fn count(gw: &Gateway) {
    gw.counters
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The cluster node the front sent the request to (node 0 without a cluster).
struct Node(usize);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Node {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Routed>().map_or(0, |r| r.0)))
    }
}

async fn login(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    body: Bytes,
) -> Response {
    sign_in(&gw, &agent, &body, (operation::LOGIN, false), node)
}

async fn force_login(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    body: Bytes,
) -> Response {
    sign_in(&gw, &agent, &body, (operation::FORCE_LOGIN, true), node)
}

/// `login` and `forceLogin` (`force`): the same body, the same answer.
fn sign_in(
    gw: &Gateway,
    agent: &str,
    body: &[u8],
    (operation, force): (&str, bool),
    node: usize,
) -> Response {
    count(gw);
    let Ok(agent) = agent_id(agent) else {
        return invalid(gw);
    };
    // Not JSON of the documented shape: rejected before the operation, as a JSON
    // binding layer does (the spec's 400).
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let answer = gw
        .take_injected(operation)
        .unwrap_or_else(|| gw.login(agent, &body, force, node));
    json_response(&answer, "result", None)
}

async fn logout(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    guid: GuidHeader,
) -> Response {
    answer(&gw, &agent, operation::LOGOUT, |agent| {
        gw.logout(agent, guid.as_str(), node)
    })
}

async fn rest(
    State(gw): Gw,
    Node(node): Node,
    Path((agent, time, cause)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    guid: GuidHeader,
) -> Response {
    count(&gw);
    let checked = check_rest_values(&agent, &time, &cause, query.as_deref());
    let Some((agent, time, cause, prolong)) = checked else {
        return invalid(&gw);
    };
    let answer = gw
        .take_injected(operation::REST)
        .unwrap_or_else(|| gw.rest(agent, guid.as_str(), time, cause, prolong, node));
    json_response(&answer, "result", None)
}

async fn cancel_rest(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    guid: GuidHeader,
) -> Response {
    answer(&gw, &agent, operation::CANCEL_REST, |agent| {
        gw.cancel_rest(agent, guid.as_str(), node)
    })
}

async fn status(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    guid: GuidHeader,
) -> Response {
    answer(&gw, &agent, operation::GET_AGENT_STATUS, |agent| {
        gw.status(agent, guid.as_str(), node)
    })
}

async fn handshake(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    guid: GuidHeader,
    token: ServiceToken,
) -> Response {
    answer(&gw, &agent, operation::HAND_SHAKE, |agent| {
        if token.is_valid() {
            gw.handshake(agent, guid.as_str(), node)
        } else {
            // cec_07_1204: at most 50 characters, no special characters.
            Answer::code(retcode::SIGN_IN_PARAMETER_INVALID)
        }
    })
}

/// The heartbeat's optional `service_token` header.
struct ServiceToken(Option<HeaderValue>);

impl ServiceToken {
    fn is_valid(&self) -> bool {
        self.0.as_ref().is_none_or(|v| {
            v.len() <= 50
                && v.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ServiceToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get("service_token").cloned()))
    }
}

async fn update_guid(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    guid: GuidHeader,
) -> Response {
    answer(&gw, &agent, operation::UPDATE_GUID, |agent| {
        gw.update_guid(agent, guid.as_str(), node)
    })
}

fn event_json(agent: u32, event: &Event) -> Value {
    json!({
        "eventType": event.event_type,
        "workNo": agent.to_string(),
        "content": event.content,
        "eventGenTime": event.gen_time_ms,
    })
}

/// Long poll: answers at once with a queued event, otherwise holds the request until an
/// event arrives or the hold time ends (then `event: null`).
async fn poll(
    State(gw): Gw,
    Node(node): Node,
    Path(agent): Path<String>,
    guid: GuidHeader,
) -> Response {
    count(&gw);
    let Ok(agent) = agent_id(&agent) else {
        return invalid(&gw);
    };
    let guid = guid.as_str();
    if let Some(answer) = gw.take_injected(operation::GET_AGENT_EVENT) {
        return json_response(&answer, "event", Some(Value::Null));
    }
    let deadline = tokio::time::Instant::now() + gw.config.poll_hold;
    let mut rotated = None;
    let mut holding = None;
    loop {
        let Some(slot) = gw.slot(agent).cloned() else {
            let answer = match gw.poll(agent, guid, None, node) {
                Poll::Ready(answer, _) => answer,
                Poll::Wait(set_guid, _) => Gateway::poll_timeout(set_guid),
            };
            return json_response(&answer, "event", Some(Value::Null));
        };
        // Register for wake-ups before looking, so an event queued in between is not missed.
        let notified = slot.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let due = match gw.poll(agent, guid, rotated.take(), node) {
            Poll::Ready(answer, event) => {
                let event = event.as_ref().map_or(Value::Null, |e| event_json(agent, e));
                return json_response(&answer, "event", Some(event));
            }
            Poll::Wait(set_guid, due) => {
                rotated = set_guid;
                if holding.is_none() {
                    holding = Some(crate::counters::Gauge::up(Arc::clone(&gw.counters), |c| {
                        &c.polls_holding
                    }));
                }
                due
            }
        };
        // Wake for a timed event (the rest timeout) that falls within the hold.
        let wake = due.map_or(deadline, |ms| {
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(ms))
        });
        if tokio::time::timeout_at(wake, notified).await.is_err()
            && tokio::time::Instant::now() >= deadline
        {
            crate::model::bump(&gw.counters.polls_held_out);
            return json_response(&Gateway::poll_timeout(rotated), "event", Some(Value::Null));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prolong_values() {
        assert!(matches!(prolong(None), Ok(false)));
        assert!(matches!(prolong(Some("prolong=true")), Ok(true)));
        assert!(matches!(prolong(Some("x=1&prolong=false")), Ok(false)));
        assert!(prolong(Some("prolong=yes")).is_err());
        assert!(prolong(Some("prolong")).is_err());
    }

    #[test]
    fn path_values() {
        let time = |t: &str| in_range(t, &operation::limits::TIME);
        assert!(time("86399").is_ok() && time("86400").is_err() && time("0").is_err());
        assert!(
            rest_cause("255").is_ok() && rest_cause("256").is_err() && rest_cause("-1").is_err()
        );
        assert!(time("6e2").is_err() && time("").is_err() && time("+600").is_err());
        // The whole documented range of agent IDs, whether configured or not.
        assert!(agent_id("101").is_ok() && agent_id("999999").is_ok() && agent_id("70000").is_ok());
        assert!(
            agent_id("100").is_err()
                && agent_id("1000000").is_err()
                && agent_id("0999999").is_err()
        );
    }
}
