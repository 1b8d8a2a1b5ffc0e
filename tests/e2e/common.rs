//! Shared by the `client_*` tests: the sentinel Guid and the checks that it never leaks.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::Duration;

use ccgw::{Agent, AgentId, Error, GatewayClient, Guid, RestCause, RestDuration};
use ccgw_sim::{SimHandle, Simulator};
use ccgw_tests::logs;

/// The Guid every test uses: it must never appear in logs, `Debug`, `Display` or errors.
pub(crate) const SENTINEL: &str = "SENTINEL-GUID-7f3a9c41.AgentGateway0";

/// How long to wait for a request to arrive at a test server.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) fn agent(client: &GatewayClient) -> Agent {
    logs::capture();
    client.agent(
        AgentId::new(101).expect("in range"),
        Guid::new(SENTINEL).expect("valid Guid"),
    )
}

/// rest(600 s, cause 3) — the call every test makes.
pub(crate) async fn rest(agent: &Agent) -> Result<(), Error> {
    agent
        .rest(
            RestDuration::from_secs(600).expect("in range"),
            RestCause::from(3u8),
        )
        .await
}

/// Asserts that neither `Debug` nor `Display` of `value` (alternate forms included), nor
/// anything logged so far, contains the sentinel Guid.
pub(crate) fn assert_no_secret(value: &(impl std::fmt::Debug + std::fmt::Display)) {
    let shown = format!("{value} | {value:#} | {value:?} | {value:#?}");
    assert!(!shown.contains(SENTINEL), "the Guid leaked into: {shown}");
    assert_logs_clean();
}

/// Asserts that the captured logs do not contain the sentinel Guid.
pub(crate) fn assert_logs_clean() {
    let logs = logs::captured();
    assert!(
        !logs.contains(SENTINEL),
        "the Guid leaked into the logs:\n{logs}"
    );
}

/// Asserts the error and its whole source chain are free of the sentinel.
pub(crate) fn assert_error_clean(error: &Error) {
    assert_no_secret(error);
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        let shown = format!("{s} | {s:?}");
        assert!(
            !shown.contains(SENTINEL),
            "the Guid leaked into a source: {shown}"
        );
        source = s.source();
    }
}

/// A client for a plain-http test server with short timeouts.
pub(crate) fn plain_client(base_url: &str, connect: Duration, request: Duration) -> GatewayClient {
    GatewayClient::builder(base_url)
        .allow_plain_http(true)
        .connect_timeout(connect)
        .request_timeout(request)
        .build()
        .expect("client builds")
}

/// Asserts that the captured logs do not contain `secret` (a Guid the simulator issued).
pub(crate) fn assert_logs_clean_of(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let logs = logs::captured();
    assert!(!logs.contains(secret), "a Guid leaked into the logs");
}

/// A simulator holding polls 200 ms, and agent 101 signed in on it through a default
/// client (its events left unread at the gateway: no stream is open yet).
pub(crate) async fn signed_in_101() -> (Simulator, Agent) {
    let sim = Simulator::start(ccgw_sim::Config {
        poll_hold: Duration::from_millis(200),
        ..ccgw_sim::Config::default()
    })
    .await
    .expect("sim");
    let agent = client_for(&sim)
        .sign_in(
            AgentId::new(101).expect("in range"),
            &ccgw::SignIn::new("pw101", "40101"),
        )
        .await
        .expect("signed in");
    (sim, agent)
}

/// A client that trusts `sim`'s CA only, with the default settings; logs captured.
pub(crate) fn client_for(sim: &Simulator) -> GatewayClient {
    client_with(sim, |b| b)
}

/// Like [`client_for`], with settings changed by `tune`.
pub(crate) fn client_with(
    sim: &Simulator,
    tune: impl FnOnce(ccgw::ClientBuilder) -> ccgw::ClientBuilder,
) -> GatewayClient {
    ccgw_tests::logs::capture();
    tune(
        GatewayClient::builder(sim.base_url())
            .system_roots(false)
            .add_root_certificate_pem(sim.ca_pem().expect("HTTPS simulator")),
    )
    .build()
    .expect("client builds")
}

pub(crate) fn secs(n: u32) -> RestDuration {
    RestDuration::from_secs(n).expect("in range")
}

pub(crate) use ccgw_tests::wait_until_within;

/// Waits until `done` holds, checking every 20 ms; fails after 10 s.
pub(crate) async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_until_within(Duration::from_secs(10), what, done).await;
}

/// Agent `n`, which the tests know to be in range.
pub(crate) fn id(n: u32) -> AgentId {
    AgentId::new(n).expect("in range")
}

/// The default simulator with polls held 200 ms instead of the gateway's 10 s.
pub(crate) fn quick_sim() -> ccgw_sim::Config {
    ccgw_sim::Config {
        poll_hold: Duration::from_millis(200),
        ..ccgw_sim::Config::default()
    }
}

/// Waits until every event the simulator queued has been handed to a poller (the
/// sign-in events, say), so that the next poll is held.
pub(crate) async fn wait_until_events_read(handle: &SimHandle) {
    wait_until("the queued events read", || {
        let stats = handle.stats();
        stats.events_emitted > 0 && stats.events_delivered == stats.events_emitted
    })
    .await;
}

/// Agent 101 supervised on `sim` with `supervision`, once its first sign-in is reported.
pub(crate) async fn supervised_101(
    sim: &Simulator,
    supervision: ccgw::Supervision,
) -> ccgw::SupervisedAgent {
    let mut session = ccgw::SupervisedAgent::start(
        &client_for(sim),
        id(101),
        ccgw::SignIn::new("pw101", "40101"),
        supervision,
    );
    let item = tokio::time::timeout(WAIT, session.next())
        .await
        .expect("in time");
    assert!(
        matches!(item, Some(ccgw::SessionEvent::SignedIn { .. })),
        "{item:?}"
    );
    session
}
