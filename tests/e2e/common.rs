//! Shared by the `client_*` tests: the sentinel Guid and the checks that it never leaks.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::Duration;

use ccgw::{Agent, AgentId, Error, GatewayClient, Guid, RestCause, RestDuration};
use ccgw_sim::{SimHandle, Simulator};
use ccgw_testkit::logs;

/// The Guid every test uses: it must never appear in logs, `Debug`, `Display` or errors.
pub(crate) const SENTINEL: &str = "SENTINEL-GUID-7f3a9c41.AgentGateway0";

/// How long to wait for a request to arrive at a test server.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) fn agent(client: &GatewayClient) -> Agent {
    logs::capture();
    client.agent(
        AgentId::new(101).expect("in range"),
        Guid::new(SENTINEL).expect("valid Guid"),
        None,
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
    ccgw::Config {
        allow_http: true,
        connect_timeout: connect,
        request_timeout: request,
        ..config_for(base_url, None)
    }
    .build_client()
    .expect("client builds")
}

/// The settings of a client for `base_url` that trusts `ca_pem` only (the system's
/// roots too without one), the rest default.
pub(crate) fn config_for(base_url: &str, ca_pem: Option<&str>) -> ccgw::Config {
    ccgw::Config {
        url: Some(base_url.to_owned()),
        system_roots: ca_pem.is_none(),
        ca_pem: ca_pem.map(str::to_owned),
        ..ccgw::Config::default()
    }
}

/// Whether a new session is the remedy for `e`.
pub(crate) fn needs_sign_in(e: &Error) -> bool {
    matches!(
        e.disposition(),
        ccgw::Disposition::SignInAgain | ccgw::Disposition::TakeOver
    )
}

/// Whether sending `e`'s request again is safe and may succeed.
pub(crate) fn is_retry_safe(e: &Error) -> bool {
    matches!(
        e.disposition(),
        ccgw::Disposition::Resend | ccgw::Disposition::BackOff
    )
}

/// Whether `e`'s request may have been applied although no answer says so.
pub(crate) fn is_outcome_unknown(e: &Error) -> bool {
    e.disposition() == ccgw::Disposition::SettleUnknown
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
    client_with(sim, |_| {})
}

/// Like [`client_for`], with settings changed by `tune`.
pub(crate) fn client_with(sim: &Simulator, tune: impl FnOnce(&mut ccgw::Config)) -> GatewayClient {
    ccgw_testkit::logs::capture();
    let mut config = sim_config(sim);
    tune(&mut config);
    config.build_client().expect("client builds")
}

/// The settings of a client that trusts `sim`'s CA only.
pub(crate) fn sim_config(sim: &Simulator) -> ccgw::Config {
    config_for(sim.base_url(), Some(sim.ca_pem().expect("HTTPS simulator")))
}

pub(crate) fn secs(n: u32) -> RestDuration {
    RestDuration::from_secs(n).expect("in range")
}

pub(crate) use ccgw_testkit::wait_until_within;

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

/// Agent 101 supervised on `sim` by a client with the settings `tune` makes, once its
/// first sign-in is reported.
pub(crate) async fn supervised_101(
    sim: &Simulator,
    tune: impl FnOnce(&mut ccgw::Config),
) -> ccgw::SupervisedAgent {
    let mut session = ccgw::SupervisedAgent::start(
        &client_with(sim, tune),
        id(101),
        ccgw::SignIn::new("pw101", "40101"),
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

/// Waits until the simulator holds an event poll (an agent's pump is polling).
pub(crate) async fn wait_until_polling(handle: &SimHandle) {
    wait_until("a held poll", || handle.stats().polls_holding > 0).await;
}

/// Waits until no poll is held any more, then checks that none comes for three times
/// `hold` (the simulator's poll hold): the pumps have stopped.
pub(crate) async fn assert_polling_stopped(handle: &SimHandle, hold: Duration) {
    wait_until("no held poll", || handle.stats().polls_holding == 0).await;
    let requests = handle.stats().requests;
    let more = tokio::time::timeout(
        hold * 3,
        wait_until_within(hold * 4, "another request", || {
            handle.stats().requests > requests
        }),
    )
    .await;
    assert!(more.is_err(), "a request after the pumps stopped");
}
