//! A cluster of gateway nodes behind one load-balancer front on one port
//! ([`Config::nodes`](crate::Config::nodes) > 1).
//!
//! - The sign-in answer sets a sticky cookie naming the node that signed the agent in
//!   ([`Config::affinity_cookie`](crate::Config::affinity_cookie)); a request carrying it
//!   goes to that node. A request without it goes to the next node that is up (round robin).
//! - The agents' sign-in state is shared, as the platform behind real nodes shares it, but
//!   a session lives on its node: a node that does not hold it answers `000-003` for its
//!   Guid, as a node answers any Guid it did not issue.
//! - A node taken down loses its sessions (the agents are signed out). For
//!   [`Config::switchover`](crate::Config::switchover) afterwards, requests sent to it by
//!   cookie — and its polls held at that moment — are answered `000-004` (switching
//!   over); after that the front sends them to a node that is up, which no longer holds
//!   the session (`100-006`).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::extract::Request;
use axum::http::Method;
use axum::http::header::{COOKIE, HeaderValue, SET_COOKIE};
use axum::response::Response;

use crate::http::json_response;
use crate::model::{Answer, Gateway, bump, retcode};

tokio::task_local! {
    /// The node the front sent the request being handled to.
    static ROUTED: usize;
}

/// The node the current request was sent to (0 outside a request, and for one node).
pub(crate) fn routed_node() -> usize {
    ROUTED.try_with(|n| *n).unwrap_or(0)
}

/// Where the front sends a request.
enum Route {
    Node(usize),
    /// The cookie's node is down and still switching over.
    SwitchingOver,
}

/// The nodes' state: which are down (since when, clock milliseconds) and their cookies.
#[derive(Debug)]
pub(crate) struct Nodes {
    down_since_ms: Mutex<Vec<Option<u64>>>,
    /// The cookie value of each node: random, so that it is a secret worth keeping.
    tokens: Vec<String>,
    next: AtomicUsize,
}

impl Nodes {
    pub(crate) fn new(count: usize) -> Self {
        let count = count.max(1);
        Self {
            down_since_ms: Mutex::new(vec![None; count]),
            tokens: (0..count)
                .map(|i| format!("n{i}-{}", uuid::Uuid::new_v4().simple()))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.tokens.len()
    }

    fn down(&self) -> std::sync::MutexGuard<'_, Vec<Option<u64>>> {
        self.down_since_ms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether node `node` is down now.
    pub(crate) fn is_down(&self, node: usize) -> bool {
        self.down().get(node).copied().flatten().is_some()
    }

    /// Marks `node` down (`true`) from `now_ms` or up again (`false`); whether it changed.
    pub(crate) fn set_down(&self, node: usize, down: bool, now_ms: u64) -> bool {
        let mut states = self.down();
        let Some(state) = states.get_mut(node) else {
            return false;
        };
        let changed = state.is_some() != down;
        *state = down.then_some(state.unwrap_or(now_ms));
        changed
    }

    /// The next node that is up (round robin); `None` when every node is down.
    fn any_up(&self) -> Option<usize> {
        let states = self.down();
        let count = states.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|i| (start + i) % count)
            .find(|&n| states[n].is_none())
    }

    fn route(&self, cookie: Option<usize>, now_ms: u64, switchover_ms: u64) -> Route {
        if let Some(node) = cookie {
            match self.down().get(node).copied().flatten() {
                None => return Route::Node(node),
                Some(since) if now_ms.saturating_sub(since) < switchover_ms => {
                    return Route::SwitchingOver;
                }
                Some(_) => {}
            }
        }
        self.any_up().map_or(Route::SwitchingOver, Route::Node)
    }

    /// `name=value` of node `node`'s cookie.
    pub(crate) fn cookie(&self, name: &str, node: usize) -> Option<String> {
        self.tokens.get(node).map(|t| format!("{name}={t}"))
    }

    /// The node a `Cookie` header names, if any.
    fn node_in_cookie_header(&self, name: &str, header: &str) -> Option<usize> {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .find_map(|(_, v)| self.tokens.iter().position(|t| t == v))
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
        // Node 0 is what `routed_node` says outside a scope.
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
    let mut response = ROUTED.scope(node, next(request)).await;
    // Sign-ins (the PUTs that issue a Guid) get the node's cookie.
    if signs_in
        && response.headers().contains_key(crate::http::SET_GUID)
        && let Some(cookie) = nodes.cookie(name, node)
        && let Ok(value) = HeaderValue::from_str(&format!("{cookie}; Path=/; Secure; HttpOnly"))
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}
