//! Listening, TLS, HTTP/1.1 connections, and the handle tests use.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::{Config, Transport};
use crate::counters::Stats;
use crate::faults::{Faults, HangUp};
use crate::model::Gateway;
use crate::{SimError, http, remote, tls};

/// A running simulator. Dropping it stops it too; [`Simulator::shutdown`] waits for that.
#[derive(Debug)]
pub struct Simulator {
    base_url: String,
    addr: SocketAddr,
    ca_pem: Option<String>,
    ca_file: Option<PathBuf>,
    handle: SimHandle,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Inspects and steers a running simulator: counters, agent state, the clock, calls.
#[derive(Debug, Clone)]
pub struct SimHandle {
    gateway: Arc<Gateway>,
}

impl SimHandle {
    /// What the simulator counted so far.
    pub fn stats(&self) -> Stats {
        self.gateway.counters.snapshot()
    }

    /// The agent's state code (4 idle, 8 rest, …), `None` when it is not signed in.
    pub fn agent_state(&self, agent: u32) -> Option<u8> {
        self.gateway.state_of(agent)
    }

    /// The rest the agent is in: its cause and the time left of its requested duration
    /// (zero once the reminder is due), `None` when it is not in rest.
    pub fn agent_rest(&self, agent: u32) -> Option<(u8, Duration)> {
        self.gateway.rest_of(agent)
    }

    /// Cluster: takes node `node` (0-based) down — its sessions end, requests sent to it
    /// are answered `000-004` for [`Config::switchover`], then go to a node that is up —
    /// or brings it back up (`down == false`). Returns whether its state changed
    /// (`false` also for a node that does not exist).
    pub fn set_node_down(&self, node: usize, down: bool) -> bool {
        self.gateway.set_node_down(node, down)
    }

    /// Cluster: the node (0-based) holding the agent's session, `None` when it is not
    /// signed in.
    pub fn node_of(&self, agent: u32) -> Option<usize> {
        self.gateway.node_of(agent)
    }

    /// Cluster: node `node`'s sticky cookie as `name=value` (a secret clients must keep
    /// out of their output; tests look for it there).
    pub fn affinity_cookie(&self, node: usize) -> Option<String> {
        (self.gateway.nodes.count() > 1)
            .then(|| {
                self.gateway
                    .nodes
                    .cookie(&self.gateway.config.affinity_cookie, node)
            })
            .flatten()
    }

    /// The agent's current Guid, `None` when it is not signed in.
    pub fn current_guid(&self, agent: u32) -> Option<String> {
        self.gateway.guid_of(agent)
    }

    /// Starts (`true`) or ends (`false`) a call of the agent; ending it turns pre-rest
    /// into rest. Returns `false` when the agent is not signed in.
    pub fn set_talking(&self, agent: u32, talking: bool) -> bool {
        self.gateway.set_talking(agent, talking)
    }

    /// Makes the next call of `operation` (its operationId, e.g. `rest`) answer with
    /// return code `code` — for codes no state leads to, such as `100-007`.
    pub fn inject(&self, operation: &str, code: &'static str) {
        self.gateway.inject(operation, code);
    }

    /// Whether an answer injected for `operation` still waits for its call.
    pub fn injected_pending(&self, operation: &str) -> bool {
        self.gateway.injected_pending(operation)
    }

    /// Signs the agent out as a supervisor's forced sign-out does (its Guid stops being
    /// valid at once; its next poll is answered `100-006`). `false` if it was not signed in.
    pub fn force_sign_out(&self, agent: u32) -> bool {
        self.gateway.force_sign_out(agent)
    }

    /// Moves a manual clock forward and wakes held polls; `false` on a real clock.
    pub fn advance(&self, by: Duration) -> bool {
        let moved = self.gateway.clock.advance(by);
        if moved {
            self.gateway.wake_all();
        }
        moved
    }

    /// Signs `agent` in (password from the configuration, status idle) as the sign-in
    /// operation would; returns its Guid, `None` if the agent is not configured or
    /// already signed in.
    pub fn sign_in(&self, agent: u32) -> Option<String> {
        let configured = self.gateway.config.agents.iter().find(|a| a.id == agent)?;
        let mut body = serde_json::Map::new();
        body.insert("password".into(), configured.password.clone().into());
        body.insert("phonenum".into(), configured.phone.clone().into());
        self.gateway.login(agent, &body, false, 0).set_guid
    }

    /// The next request whose path contains `fragment` (e.g. `"/rest/"`) is handled, then
    /// its connection closed before the answer: applied, answer lost. Once.
    pub fn lose_next_answer(&self, fragment: &str) {
        self.gateway.dice.lose_next_answer(fragment);
    }

    /// The next request whose path contains `fragment` is lost before the gateway
    /// handles it: its connection is closed, nothing is applied. Once.
    pub fn lose_next_request(&self, fragment: &str) {
        self.gateway.dice.lose_next_request(fragment);
    }

    /// Replaces the random faults from now on (e.g. [`Faults::default`] ends them).
    pub fn set_faults(&self, faults: Faults) {
        self.gateway.dice.set(faults);
    }

    /// The simulator's settings (as started; see [`set_faults`](Self::set_faults)).
    pub fn config(&self) -> &Config {
        &self.gateway.config
    }
}

/// The `node_down_every` fault: every `every`, the next node goes down for `lasts`.
async fn outages(
    gateway: Arc<Gateway>,
    every: Duration,
    lasts: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut node = 0;
    loop {
        for (wait, down) in [(every, true), (lasts, false)] {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
            gateway.set_node_down(node, down);
        }
        node = (node + 1) % gateway.nodes.count();
    }
}

/// The `forced_sign_out_every` fault: every `every`, a random configured agent is signed
/// out by force, as a supervisor would.
async fn forced_sign_outs(
    gateway: Arc<Gateway>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let agents: Vec<u32> = gateway.config.agents.iter().map(|a| a.id).collect();
    let mut rng = fastrand::Rng::with_seed(gateway.config.faults.seed.rotate_left(17));
    while !agents.is_empty() {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
        if gateway.force_sign_out(agents[rng.usize(..agents.len())]) {
            crate::model::bump(&gateway.counters.faults_forced_sign_outs);
        }
    }
}

impl Simulator {
    /// Starts a simulator on real time.
    pub async fn start(config: Config) -> Result<Simulator, SimError> {
        Self::start_with_clock(config, Clock::system()).await
    }

    /// Starts a simulator on `clock` (use [`Clock::manual`] to control time in tests).
    pub async fn start_with_clock(config: Config, clock: Clock) -> Result<Simulator, SimError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let (acceptor, ca_pem, ca_file, scheme) = match &config.transport {
            Transport::Http => (None, None, None, "http"),
            Transport::Https {
                cert_dir,
                extra_names,
            } => {
                let (material, ca_file) = tls::generate(extra_names, cert_dir.as_deref())?;
                (
                    Some(material.acceptor),
                    Some(material.ca_pem),
                    ca_file,
                    "https",
                )
            }
        };
        let host = match addr.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        };
        let base_url = format!("{scheme}://{host}:{}", addr.port());
        let gateway = Arc::new(Gateway::new(config, clock));
        let router = http::router(Arc::clone(&gateway));
        let (stop, stopped) = watch::channel(false);
        if let Some(every) = gateway.config.faults.node_down_every
            && gateway.nodes.count() > 1
        {
            tokio::spawn(outages(
                Arc::clone(&gateway),
                every,
                gateway.config.faults.node_down_for,
                stopped.clone(),
            ));
        }
        if let Some(every) = gateway.config.faults.forced_sign_out_every {
            tokio::spawn(forced_sign_outs(
                Arc::clone(&gateway),
                every,
                stopped.clone(),
            ));
        }
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            router,
            Arc::clone(&gateway),
            stopped,
        ));
        Ok(Simulator {
            base_url,
            addr,
            ca_pem,
            ca_file,
            handle: SimHandle { gateway },
            stop,
            task: Some(task),
        })
    }

    /// `https://127.0.0.1:<port>` (or `http://…`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) clients must trust; `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Where the CA PEM was written, if a directory was configured.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// The handle for counters, state and the clock.
    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }

    /// Stops accepting, closes every connection (held polls included) and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    gateway: Arc<Gateway>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (acceptor, router, gateway) = (acceptor.clone(), router.clone(), Arc::clone(&gateway));
                let open = crate::counters::Gauge::connection(Arc::clone(&gateway.counters));
                connections.spawn(async move {
                    let _open = open;
                    match acceptor {
                        None => serve(stream, router, gateway).await,
                        Some(acceptor) => {
                            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                                serve(tls, router, gateway).await;
                            }
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    gateway.wake_all();
    connections.shutdown().await;
}

/// A response a fault marked [`HangUp`]: answered as a service error, on which hyper
/// closes the connection without writing anything.
#[derive(Debug)]
struct HungUp;

impl std::fmt::Display for HungUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by an injected fault")
    }
}

impl std::error::Error for HungUp {}

/// Serves one connection until it ends, or until a fault hangs it up: each request
/// goes through [`http::gate`] (faults, the cluster's front, the recording) to the
/// router.
async fn serve<S>(stream: S, router: axum::Router, gateway: Arc<Gateway>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let (mut router, gateway) = (router.clone(), Arc::clone(&gateway));
            async move {
                if let Some(control) =
                    remote::answer(&gateway, request.method(), request.uri().path())
                {
                    return Ok(control);
                }
                let request = request.map(axum::body::Body::new);
                let response = http::gate(&gateway, request, |request| async move {
                    // The router is always ready; calling it directly is what `oneshot`
                    // would do.
                    let Ok(response) = tower::Service::call(&mut router, request).await;
                    response
                })
                .await;
                if response.extensions().get::<HangUp>().is_some() {
                    return Err(HungUp);
                }
                Ok(response)
            }
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(SetGuidCase(stream)), service)
        .await;
}

/// Writes the response header name `Set-GUID` with exactly that capitalisation.
///
/// `http` header names are lower case and hyper has no public way to choose the case
/// of a response header, but Java clients compare `"Set-GUID"` case-sensitively
/// (reference §8.2). hyper writes each response head in one buffer (vectored writes
/// are declined below), so the name is replaced in place, byte for byte.
struct SetGuidCase<S>(S);

const WIRE_LOWER: &[u8] = b"\r\nset-guid:";
const WIRE_DOCUMENTED: &[u8] = b"\r\nSet-GUID:";

impl<S: AsyncRead + Unpin> AsyncRead for SetGuidCase<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SetGuidCase<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match memchr::memmem::find(buf, WIRE_LOWER) {
            None => Pin::new(&mut self.0).poll_write(cx, buf),
            Some(at) => {
                let mut fixed = buf.to_vec();
                fixed[at..at + WIRE_DOCUMENTED.len()].copy_from_slice(WIRE_DOCUMENTED);
                Pin::new(&mut self.0).poll_write(cx, &fixed)
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
