//! The front layers around every operation, outermost first: the fault step, then the
//! load balancer's front (routing to a cluster node). Each decides from the request and
//! the gateway's state, then hands the request on (`next`).

use std::future::Future;

use axum::extract::Request;
use axum::http::Method;
use axum::http::header::{COOKIE, HeaderValue, SET_COOKIE};
use axum::response::{IntoResponse as _, Response};

use crate::cluster::{Route, Routed};
use crate::counters::bump;
use crate::faults::{HangUp, Kind};
use crate::hostile::{self, Echo};
use crate::model::Gateway;
use crate::wire::{Answer, SET_GUID, json_response, retcode};

/// The fault step, outermost: decides each request's fault before anything else
/// (`next`) runs.
pub(crate) async fn faults<F, Fut>(gw: &Gateway, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if request.method() != Method::PUT
        && let Some(case) = gw.dice.hostile()
    {
        let echo = Echo::of(&request, |id| gw.password_of(id));
        // Handled first, so that what it does takes place; then the hostile answer.
        drop(next(request).await);
        return hostile::respond(case, &echo);
    }
    let Some((kind, wait)) = gw.dice.roll(request.uri().path()) else {
        return next(request).await;
    };
    bump(kind.counter(&gw.counters));
    match kind {
        Kind::Delay => {
            tokio::time::sleep(wait).await;
            return next(request).await;
        }
        Kind::SwitchOver => return refusal(&request, retcode::SWITCHING_OVER),
        Kind::RepeatedCall => return refusal(&request, retcode::CALLED_REPEATEDLY),
        Kind::ServerError => {
            return (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>500 Internal Server Error</h1></body></html>",
            )
                .into_response();
        }
        Kind::DropBefore => {}
        Kind::DropAfter => drop(next(request).await),
        Kind::Stall => tokio::time::sleep(wait).await,
    }
    // A router driven by something other than our connection loop sends this server
    // error; ours closes the connection instead.
    let mut response = axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    response.extensions_mut().insert(HangUp);
    response
}

/// `code` in place of handling, in the operation's envelope (the event poll's carries
/// `event`, the others `result`).
fn refusal(request: &Request, code: &'static str) -> Response {
    let answer = Answer::code(code);
    if request.uri().path().contains("/agentevent/") {
        json_response(&answer, "event", Some(serde_json::Value::Null))
    } else {
        json_response(&answer, "result", None)
    }
}

/// The load-balancer front: routes by cookie, answers `000-004` for a node switching
/// over, and sets the cookie on sign-in answers. With one node it only marks requests
/// as node 0's.
pub(crate) async fn front<F, Fut>(gw: &Gateway, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let nodes = &gw.nodes;
    if nodes.count() == 1 {
        // No `Routed`: node 0.
        return next(request).await;
    }
    let name = gw.config.affinity_cookie.as_str();
    let cookie = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|header| nodes.node_in_cookie_header(name, header));
    let switchover_ms = u64::try_from(gw.config.switchover.as_millis()).unwrap_or(u64::MAX);
    let node = match nodes.route(cookie, gw.clock.now_ms(), switchover_ms) {
        Route::Node(node) => node,
        Route::SwitchingOver => {
            bump(&gw.counters.requests);
            bump(&gw.counters.switch_over_answers);
            return json_response(&Answer::code(retcode::SWITCHING_OVER), "result", None);
        }
    };
    let signs_in = request.method() == Method::PUT;
    let mut request = request;
    request.extensions_mut().insert(Routed(node));
    let mut response = next(request).await;
    // Sign-ins (the PUTs that issue a Guid) get the node's cookie.
    if signs_in
        && response.headers().contains_key(SET_GUID)
        && let Some(cookie) = nodes.cookie(name, node)
        && let Ok(value) = HeaderValue::from_str(&format!("{cookie}; Path=/; Secure; HttpOnly"))
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}
