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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The node the front sent a request to, in the request's extensions (none: node 0, as
/// with one node).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routed(pub(crate) usize);

/// Where the front sends a request.
pub(crate) enum Route {
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

    pub(crate) fn route(&self, cookie: Option<usize>, now_ms: u64, switchover_ms: u64) -> Route {
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
    pub(crate) fn node_in_cookie_header(&self, name: &str, header: &str) -> Option<usize> {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .find_map(|(_, v)| self.tokens.iter().position(|t| t == v))
    }
}
