//! The connection pool's settings, each observed from the simulator's side: the bound on
//! connections (10,000 agents signing in at the same moment, no throttle of the
//! caller's, share at most `max_connections`, and every one gets through), reuse, the
//! idle timeout and the number of idle connections kept.

use crate::common;

use std::time::Duration;

use ccgw::{AgentId, SignIn};
use ccgw_sim::{AgentConfig, Config, Simulator};
use common::{client_for, client_with};

const AGENTS: u32 = 10_000;
const FIRST: u32 = 101;
const BOUND: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_sign_ins_at_once_never_open_more_connections_than_the_bound() {
    let sim = Simulator::start(Config {
        agents: (FIRST..FIRST + AGENTS).map(AgentConfig::numbered).collect(),
        ..Config::default()
    })
    .await
    .expect("simulator starts");
    let client = client_with(&sim, |c| c.max_connections = BOUND);
    let sign_ins = (FIRST..FIRST + AGENTS).map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
            let id = AgentId::new(n).expect("in range");
            let agent = client
                .sign_in(id, &SignIn::new(format!("pw{n}"), format!("40{n}")))
                .await?;
            agent.sign_out().await
        })
    });
    let outcomes = tokio::time::timeout(
        Duration::from_secs(300),
        futures_join_all(sign_ins.collect()),
    )
    .await
    .expect("10,000 sign-ins and sign-outs within 5 minutes");
    let failed: Vec<String> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    let stats = sim.handle().stats();
    assert_eq!(stats.logins, u64::from(AGENTS));
    assert!(
        stats.connections_peak <= BOUND as u64,
        "{} connections were open at once; the bound is {BOUND}",
        stats.connections_peak
    );
    assert!(stats.connections_accepted >= 1);
    sim.shutdown().await;
}

/// Awaits every task (in order).
async fn futures_join_all<T>(
    tasks: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await);
    }
    out
}

/// Connections the simulator accepted while `agent` of `client` asked for its status
/// `times` times, one after the other.
async fn connections_for_statuses(
    sim: &Simulator,
    client: &ccgw::GatewayClient,
    times: u32,
) -> u64 {
    let agent = client
        .sign_in(
            AgentId::new(101).expect("in range"),
            &SignIn::new("pw101", "40101"),
        )
        .await
        .expect("signed in");
    let before = sim.handle().stats().connections_accepted;
    for _ in 0..times {
        agent.status().await.expect("status");
    }
    let opened = sim.handle().stats().connections_accepted - before;
    agent.sign_out().await.expect("signed out");
    opened
}

#[tokio::test]
async fn one_connection_serves_requests_in_turn() {
    let sim = Simulator::start(Config::default()).await.expect("sim");
    let client = client_for(&sim);
    assert_eq!(
        connections_for_statuses(&sim, &client, 5).await,
        0,
        "the sign-in's connection is reused"
    );
}

#[tokio::test]
async fn an_idle_connection_older_than_the_idle_timeout_is_not_reused() {
    let sim = Simulator::start(Config::default()).await.expect("sim");
    // Every idle connection is older than a nanosecond by the time it is wanted again.
    let client = client_with(&sim, |c| c.pool_idle_timeout = Duration::from_nanos(1));
    assert_eq!(connections_for_statuses(&sim, &client, 5).await, 5);
}

/// 300 agents' streams (more than a transport keeps idle by default) end when the
/// gateway signs them out; signed in again, their streams poll over the connections
/// the first ones held: a failover's new sessions open no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_sessions_poll_over_the_connections_lost_ones_held() {
    const MANY: u32 = 300;
    let sim = Simulator::start(Config {
        agents: (FIRST..FIRST + MANY).map(AgentConfig::numbered).collect(),
        ..Config::default()
    })
    .await
    .expect("simulator starts");
    let client = client_for(&sim);
    streams_held_then_signed_out(&sim, &client, MANY).await;
    let before = sim.handle().stats().connections_accepted;
    streams_held_then_signed_out(&sim, &client, MANY).await;
    let opened = sim.handle().stats().connections_accepted - before;
    assert_eq!(opened, 0, "connections opened again for the new sessions");
}

/// `many` agents from 101 on signed in, their streams' polls all held at once, then
/// signed out by the gateway (as a failover does): each stream's poll answers `100-006`.
async fn streams_held_then_signed_out(sim: &Simulator, client: &ccgw::GatewayClient, many: u32) {
    let sessions = (FIRST..FIRST + many).map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
            let id = AgentId::new(n).expect("in range");
            let agent = client
                .sign_in(id, &SignIn::new(format!("pw{n}"), format!("40{n}")))
                .await
                .expect("signed in");
            let mut events = agent.events();
            for _ in 0..2 {
                events.next().await.expect("open").expect("an event");
            }
            (agent, events)
        })
    });
    let mut held = Vec::new();
    for session in sessions.collect::<Vec<_>>() {
        held.push(session.await.expect("set up"));
    }
    // Every stream's poll held at once: a connection each.
    ccgw_testkit::wait_until_within(Duration::from_secs(30), "every poll held", || {
        sim.handle().stats().polls_holding >= u64::from(many)
    })
    .await;
    for n in FIRST..FIRST + many {
        assert!(sim.handle().force_sign_out(n), "agent {n} was signed in");
    }
    for (_agent, mut events) in held {
        while let Some(Ok(_)) = events.next().await {}
    }
}

/// One connection allowed, and an agent's stream holding it in the gateway's 10 s hold:
/// held polls have their own connections, so a status read and a rest (request timeout
/// 5 s) go through meanwhile.
#[tokio::test]
async fn held_polls_never_take_the_connection_a_rest_call_needs() {
    let sim = Simulator::start(Config::default()).await.expect("sim");
    let client = client_with(&sim, |c| {
        c.max_connections = 1;
        c.request_timeout = Duration::from_secs(5);
    });
    let agent = client
        .sign_in(
            AgentId::new(101).expect("in range"),
            &SignIn::new("pw101", "40101"),
        )
        .await
        .expect("signed in");
    let mut events = agent.events();
    for _ in 0..2 {
        events.next().await.expect("open").expect("a sign-in event");
    }
    let h = sim.handle();
    common::wait_until("the stream's poll to be held", || {
        h.stats().polls_holding == 1
    })
    .await;
    // With one budget for both, this read would wait out its 5 s for the connection the
    // poll holds for 10 s, and fail as not sent.
    agent
        .status()
        .await
        .expect("a state read beside the held poll");
    agent
        .rest(common::secs(600), ccgw::RestCause::from(1u8))
        .await
        .expect("a rest beside the held poll");
    assert_eq!(h.agent_state(101), Some(8));
    drop(events);
}

/// The transport with one connection allowed and a request (30 s timeout) stalled on it:
/// the next request (2 s) waits for the connection for its timeout, then fails as not
/// sent.
#[tokio::test]
async fn a_request_that_finds_every_connection_busy_fails_unsent_after_its_timeout() {
    use ccgw_client::transport::{Transport, TransportConfig, TransportError};
    let server = ccgw_testkit::TestServer::start(ccgw_testkit::Reply::Stall)
        .await
        .expect("server");
    let mut config = TransportConfig::new(None);
    config.max_connections = 1;
    let transport = Transport::new(&server.base_url(), config).expect("transport");
    let request = |timeout: u64| {
        let url = format!(
            "{}/agentgateway/resource/onlineagent/101/agentstatus",
            server.base_url()
        );
        let mut request = reqwest::Request::new(reqwest::Method::GET, url.parse().expect("URL"));
        *request.timeout_mut() = Some(Duration::from_secs(timeout));
        request
    };
    let first = {
        let (transport, request) = (transport.clone(), request(30));
        tokio::spawn(async move { transport.send(request).await.map(drop) })
    };
    common::wait_until("the first request to hold the connection", || {
        server.pending_requests() == 1
    })
    .await;
    let err = transport
        .send(request(2))
        .await
        .expect_err("no connection free");
    assert!(
        matches!(&err, TransportError::TimeoutBeforeSend { timeout, waiting_for }
            if *timeout == Duration::from_secs(2) && waiting_for.contains("all in use")),
        "{err:?}"
    );
    assert_eq!(server.connections(), 1);
    first.abort();
}

/// `set_up_concurrency` bounds the sign-ins in flight: one beyond it waits for a turn.
/// The server completes the handshakes (so connecting never waits) and holds every
/// request; the held sign-ins time out after 2 s and give their turns back.
#[tokio::test]
async fn sign_ins_beyond_the_set_up_concurrency_wait_for_a_turn() {
    const TURNS: usize = 2;
    let ca = ccgw_testkit::TestCa::new().expect("CA");
    let tls = ca.server_config(&["127.0.0.1"]).expect("server cert");
    let mut server = ccgw_testkit::TestServer::start_tls(ccgw_testkit::Reply::Stall, tls)
        .await
        .expect("server");
    let client = ccgw::Config {
        set_up_concurrency: TURNS,
        request_timeout: Duration::from_secs(2),
        ..common::config_for(&server.base_url(), Some(ca.pem()))
    }
    .build_client()
    .expect("client builds");
    let sign_ins: Vec<_> = (FIRST..FIRST + 5)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                let id = AgentId::new(n).expect("in range");
                let _ = client.sign_in(id, &SignIn::new("pw", "40101")).await;
            })
        })
        .collect();
    for _ in 0..TURNS {
        let arrived = server.next_request(Duration::from_secs(10)).await;
        assert!(
            arrived.is_some(),
            "a sign-in within the turns did not arrive"
        );
    }
    let beyond = server.next_request(Duration::from_millis(500)).await;
    assert!(beyond.is_none(), "a sign-in beyond the turns was sent");
    // The held ones time out; the next two take their turns.
    for _ in 0..TURNS {
        let arrived = server.next_request(Duration::from_secs(10)).await;
        assert!(arrived.is_some(), "a waiting sign-in never got its turn");
    }
    for sign_in in sign_ins {
        sign_in.abort();
    }
}

/// `set_up_concurrency` also bounds the connections being opened: a call that needs a
/// new connection beyond it waits for a turn before it connects.
#[tokio::test]
async fn connections_beyond_the_set_up_concurrency_wait_for_a_turn() {
    turns_are_kept(|client, id| async move {
        let guid = ccgw::Guid::new(format!("guid-{id}")).expect("valid");
        let _ = client.agent(id, guid, None).status().await;
    })
    .await;
}

/// Five calls of `start` at once against a server that accepts and never answers, so
/// every call that reached it keeps its turn: two turns, two connections, no third
/// until one of them closes.
async fn turns_are_kept<F, Fut>(start: F)
where
    F: Fn(ccgw::GatewayClient, AgentId) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    const TURNS: usize = 2;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = ccgw::Config {
        set_up_concurrency: TURNS,
        request_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(60),
        ..common::config_for(&format!("https://{addr}"), None)
    }
    .build_client()
    .expect("client builds");
    let calls: Vec<_> = (FIRST..FIRST + 5)
        .map(|n| tokio::spawn(start(client.clone(), AgentId::new(n).expect("in range"))))
        .collect();
    let arrives = |within: Duration| tokio::time::timeout(within, listener.accept());
    let mut held = Vec::new();
    for _ in 0..TURNS {
        held.push(
            arrives(Duration::from_secs(10))
                .await
                .expect("a turn's connection"),
        );
    }
    assert!(
        arrives(Duration::from_millis(500)).await.is_err(),
        "a connection beyond the turns was opened"
    );
    // A turn given back (its connection closed, its call failed) lets one more in.
    drop(held.pop());
    held.push(
        arrives(Duration::from_secs(10))
            .await
            .expect("the next turn"),
    );
    assert!(
        arrives(Duration::from_millis(500)).await.is_err(),
        "a connection beyond the turns was opened"
    );
    for call in calls {
        call.abort();
    }
}
