//! What a simulated gateway looks like: its agents, rest causes, authentication mode,
//! timings and the choices where real gateways differ.

use std::path::PathBuf;
use std::time::Duration;

use crate::faults::Faults;

/// A configured agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Agent ID (work number).
    pub id: u32,
    /// Sign-in password.
    pub password: String,
    /// Phone number shown to the operator (informational).
    pub phone: String,
}

impl AgentConfig {
    /// Agent `id` with password `pw<id>` and phone `40<id>`.
    pub fn numbered(id: u32) -> Self {
        Self {
            id,
            password: format!("pw{id}"),
            phone: format!("40{id}"),
        }
    }
}

/// Authentication mode (`AUTHMODE`, reference §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `AUTHMODE=1`: the sign-in Guid stays valid for the whole session.
    Static,
    /// `AUTHMODE=2` (the default of current gateways): the Guid rotates every `interval`
    /// on event polling or heartbeat; the previous one stays valid for `timeout` after
    /// its replacement.
    Dynamic {
        /// `GUIDINTERVAL`, 60 s on real gateways.
        interval: Duration,
        /// `GUIDTIMEOUT`, 120 s on real gateways.
        timeout: Duration,
    },
}

/// How path values outside the documented templates are answered (not documented; builds
/// differ, reference §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidPath {
    /// HTTP 200 with `retcode` `000-002`.
    Retcode,
    /// HTTP 404 without an envelope, as a gateway that validates at routing.
    NotFound,
}

/// Whether the simulator serves HTTPS (with a CA it generates) or plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS; the CA PEM is written to the directory when one is given.
    Https {
        /// Where `ca.pem` and the CA's key are kept (none: in memory only); a start with
        /// a directory that holds both keeps that CA.
        cert_dir: Option<PathBuf>,
        /// Extra host names for the server certificate (besides localhost, 127.0.0.1, ::1).
        extra_names: Vec<String>,
    },
    /// Plain HTTP, for tools that cannot take a CA.
    Http,
}

/// The simulator's settings. [`Config::default`] is a small realistic gateway.
#[derive(Debug, Clone)]
pub struct Config {
    /// Agents that may sign in.
    pub agents: Vec<AgentConfig>,
    /// Rest causes configured on the platform (cause 0, "no cause", is always allowed).
    pub rest_causes: Vec<u8>,
    /// Authentication mode.
    pub auth_mode: AuthMode,
    /// How long a poll is held when no event is queued (≈10 s on real gateways).
    pub poll_hold: Duration,
    /// Sign-out after this long without polling or heartbeat (2 minutes).
    pub inactivity: Duration,
    /// Answer to path values outside the documented templates.
    pub invalid_path: InvalidPath,
    /// The `N` of `<uuid>.AgentGateway<N>` Guids (of the first node, in a cluster: node
    /// `i` issues `N + i`).
    pub node: u8,
    /// Gateway nodes behind one load-balancer front (default 1: a single gateway); see
    /// the crate README's cluster notes ([`SimHandle::set_node_down`](crate::SimHandle::set_node_down)).
    pub nodes: u8,
    /// Name of the load balancer's sticky cookie, set on sign-in answers in a cluster
    /// (default `huaweielbsession`, Huawei's ELB cookie).
    pub affinity_cookie: String,
    /// How long requests for a node that went down are answered `000-004` (switching
    /// over) before the front sends them to another node (default 3 s).
    pub switchover: Duration,
    /// HTTPS or HTTP.
    pub transport: Transport,
    /// Address to listen on (port 0: an ephemeral port).
    pub listen: std::net::SocketAddr,
    /// Append every request/response pair to this file as one JSON object per line
    /// (method, path, query, headers, bodies, status) — for checking traffic against the
    /// spec with other tools. Guid headers are recorded as sent: use test Guids only.
    pub record: Option<PathBuf>,
    /// Random faults per request (none by default); see [`Faults`].
    pub faults: Faults,
    /// Whether `forceLogin` may take a signed-in agent's session over (the platform's
    /// forced sign-in switch; default on). Off: `forceLogin` of a signed-in agent, and
    /// (the spec's *Choice*) `login` of one, answer `100-015`.
    pub forced_sign_in: bool,
    /// The tenant setting "Forcibly End Agent Rest After Timeout" (default off: the agent
    /// stays in rest after `AgentState_Rest_Timeout`). On: when a rest's time is up the
    /// platform ends it, sending `AgentState_Rest_Timeout` then `AgentState_Ready` (the
    /// spec's *Choice*), and the agent is idle.
    pub end_rest_at_timeout: bool,
    /// Whether a sign-out's `AgentOther_ShutdownService` reaches the session's poller
    /// (default on: a poll held at the sign-out, or the next one with the session's Guid,
    /// gets it once). Off: the event is not delivered ("will not always be received").
    pub sign_out_event: bool,
    /// Events this gateway never sends (by `eventType`), as a build that lacks one
    /// would; for checking that a client notices.
    pub silent_events: Vec<String>,
    /// Agents whose accounts are locked: `login` and `forceLogin` answer `110-016`.
    pub locked: Vec<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            agents: (101..=110).map(AgentConfig::numbered).collect(),
            rest_causes: (1..=10).collect(),
            auth_mode: AuthMode::Dynamic {
                interval: Duration::from_secs(60),
                timeout: Duration::from_secs(120),
            },
            poll_hold: Duration::from_secs(10),
            inactivity: Duration::from_secs(120),
            invalid_path: InvalidPath::Retcode,
            node: 0,
            nodes: 1,
            affinity_cookie: "huaweielbsession".to_owned(),
            switchover: Duration::from_secs(3),
            transport: Transport::Https {
                cert_dir: None,
                extra_names: Vec::new(),
            },
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            record: None,
            faults: Faults::default(),
            forced_sign_in: true,
            end_rest_at_timeout: false,
            sign_out_event: true,
            silent_events: Vec::new(),
            locked: Vec::new(),
        }
    }
}

impl Config {
    pub(crate) fn inactivity_ms(&self) -> u64 {
        u64::try_from(self.inactivity.as_millis()).unwrap_or(u64::MAX)
    }
}
