//! The operator's controls, over HTTP beside the gateway's paths (curl with the
//! simulator's CA): `POST /ccgw-sim/nodes/{node}/down` and `…/up` take a cluster node
//! down or bring it back, `POST /ccgw-sim/agents/{id}/sign-out` signs an agent out by
//! force. Answered before faults and the cluster's front, so no fault eats them.

use axum::body::Body;
use axum::http::{Method, Response, StatusCode};

use crate::model::Gateway;

/// The paths' prefix; nothing of the gateway's starts with it.
pub(crate) const PREFIX: &str = "/ccgw-sim/";

/// The answer to a control request, or `None` for any other request.
pub(crate) fn answer(gateway: &Gateway, method: &Method, path: &str) -> Option<Response<Body>> {
    let rest = path.strip_prefix(PREFIX)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let (status, text) = match (method, parts.as_slice()) {
        (&Method::POST, ["nodes", node, action @ ("down" | "up")]) => match node.parse::<usize>() {
            Ok(node) if node < gateway.nodes.count() => {
                let down = *action == "down";
                let changed = gateway.set_node_down(node, down);
                let now = if changed { "now" } else { "already" };
                (StatusCode::OK, format!("node {node} is {now} {action}\n"))
            }
            _ => (
                StatusCode::NOT_FOUND,
                format!("no node {node}: nodes are 0..{}\n", gateway.nodes.count()),
            ),
        },
        (&Method::POST, ["agents", agent, "sign-out"]) => match agent.parse::<u32>() {
            Ok(agent) if gateway.force_sign_out(agent) => {
                (StatusCode::OK, format!("agent {agent} signed out\n"))
            }
            _ => (StatusCode::NOT_FOUND, format!("agent {agent} is not signed in\n")),
        },
        _ => (
            StatusCode::NOT_FOUND,
            "controls: POST /ccgw-sim/nodes/N/down, /ccgw-sim/nodes/N/up, /ccgw-sim/agents/ID/sign-out\n"
                .to_owned(),
        ),
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    Some(response)
}
