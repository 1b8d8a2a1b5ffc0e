//! The simulated cluster, seen from a raw HTTP client: the sticky cookie (its configured
//! name) on sign-in answers, routing by it, another node's Guid refused, a node going
//! down (`000-004` while it switches over for the configured time, then `100-006`), and
//! the node-down fault.

mod common;

use std::time::Duration;

use ccgw_sim::{Clock, Config, Faults, retcode};
use common::{BASE, Gw};
use serde_json::{Value, json};

const COOKIE: &str = "test-affinity";

fn cluster(switchover: Duration) -> Config {
    Config {
        nodes: 2,
        affinity_cookie: COOKIE.to_owned(),
        switchover,
        poll_hold: Duration::from_millis(200),
        ..Config::default()
    }
}

/// Signs `agent` in without a cookie: (Guid, `name=value` of the cookie set).
async fn sign_in(gw: &Gw, agent: u32) -> (String, String) {
    let body = json!({"password": format!("pw{agent}"), "phonenum": "40038"}).to_string();
    let answer = gw
        .http
        .send(
            "PUT",
            &format!("{BASE}/onlineagent/{agent}"),
            &[("Content-Type", "application/json")],
            Some(body),
            Duration::from_secs(10),
        )
        .await
        .expect("answered");
    assert_eq!(answer.json()["retcode"], "0", "{:?}", answer.json());
    let set_cookie = answer
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a sticky cookie on the sign-in answer");
    let pair = set_cookie.split(';').next().expect("name=value").to_owned();
    (answer.set_guid().expect("Set-GUID"), pair)
}

/// The agent's state read with `guid` and `cookie` (if any): the answer's retcode.
async fn status(gw: &Gw, agent: u32, guid: &str, cookie: Option<&str>) -> String {
    let mut headers = vec![("Guid", guid), ("Content-Length", "0")];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    let answer = gw
        .http
        .send(
            "GET",
            &format!("{BASE}/onlineagent/{agent}/agentstatus"),
            &headers,
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("answered");
    match answer.json()["retcode"].clone() {
        Value::String(code) => code,
        other => panic!("no retcode: {other}"),
    }
}

#[tokio::test]
async fn sessions_stay_on_their_node_through_the_cookie() {
    let gw = Gw::start(cluster(Duration::from_secs(3)), Clock::system()).await;
    let handle = gw.handle();
    let (guid_a, cookie_a) = sign_in(&gw, 101).await;
    let (guid_b, cookie_b) = sign_in(&gw, 102).await;
    assert!(cookie_a.starts_with(&format!("{COOKIE}=")), "{cookie_a}");
    let (node_a, node_b) = (handle.node_of(101), handle.node_of(102));
    assert_ne!(
        node_a, node_b,
        "sign-ins without a cookie go round the nodes"
    );
    assert_ne!(cookie_a, cookie_b);
    assert_eq!(
        handle.affinity_cookie(node_a.expect("signed in")),
        Some(cookie_a.clone())
    );
    assert!(guid_a.ends_with(&format!(".AgentGateway{}", node_a.expect("on a node"))));
    for _ in 0..4 {
        assert_eq!(
            status(&gw, 101, &guid_a, Some(&cookie_a)).await,
            retcode::OK
        );
    }
    // Sent to the other node: it did not issue the Guid.
    assert_eq!(
        status(&gw, 101, &guid_a, Some(&cookie_b)).await,
        retcode::NO_PERMISSION
    );
    assert_eq!(
        status(&gw, 102, &guid_b, Some(&cookie_b)).await,
        retcode::OK
    );
    // The platform knows the agent is signed in, whichever node is asked.
    let body = json!({"password": "pw101", "phonenum": "40038"}).to_string();
    let again = gw
        .http
        .send(
            "PUT",
            &format!("{BASE}/onlineagent/101"),
            &[("Content-Type", "application/json"), ("Cookie", &cookie_b)],
            Some(body),
            Duration::from_secs(10),
        )
        .await
        .expect("answered");
    assert_eq!(again.json()["retcode"], retcode::ALREADY_SIGNED_IN);
}

#[tokio::test]
async fn a_node_that_goes_down_switches_over_then_forgets_its_sessions() {
    let clock = Clock::manual();
    let gw = Gw::start(cluster(Duration::from_secs(3)), clock.clone()).await;
    let handle = gw.handle();
    let (guid, cookie) = sign_in(&gw, 101).await;
    let node = handle.node_of(101).expect("signed in");
    assert!(handle.set_node_down(node, true));
    assert!(!handle.set_node_down(node, true), "already down");
    assert_eq!(handle.agent_state(101), None, "its sessions are gone");
    assert_eq!(handle.stats().failovers, 1);
    assert_eq!(
        status(&gw, 101, &guid, Some(&cookie)).await,
        retcode::SWITCHING_OVER
    );
    clock.advance(Duration::from_millis(2_900));
    assert_eq!(
        status(&gw, 101, &guid, Some(&cookie)).await,
        retcode::SWITCHING_OVER,
        "within the configured switch-over"
    );
    clock.advance(Duration::from_millis(200));
    assert_eq!(
        status(&gw, 101, &guid, Some(&cookie)).await,
        retcode::NOT_SIGNED_IN,
        "sent to the node that is up, which does not hold the session"
    );
    assert_eq!(handle.stats().switch_over_answers, 2);
    let (_, new_cookie) = sign_in(&gw, 101).await;
    assert_ne!(
        handle.node_of(101),
        Some(node),
        "signed in on the node that is up"
    );
    assert_ne!(new_cookie, cookie);
    assert!(handle.set_node_down(node, false));
}

#[tokio::test]
async fn the_node_down_fault_takes_nodes_down_in_turn() {
    let mut config = cluster(Duration::from_millis(100));
    config.faults = Faults {
        node_down_every: Some(Duration::from_millis(300)),
        node_down_for: Duration::from_millis(300),
        ..Faults::default()
    };
    let gw = Gw::start(config, Clock::system()).await;
    let handle = gw.handle();
    for agent in 101..=110 {
        sign_in(&gw, agent).await;
    }
    ccgw_testkit::wait_until_within(Duration::from_secs(10), "a node went down", || {
        handle.stats().failovers > 0
    })
    .await;
    let signed_in = || {
        (101..=110)
            .filter(|&a| handle.agent_state(a).is_some())
            .count()
    };
    assert!(
        signed_in() < 10,
        "the sessions of the node that went down ended"
    );
    // The first node comes back after 300 ms, and the other one goes down 300 ms later;
    // a node kept down longer (the default 10 s) would hold the second one up.
    ccgw_testkit::wait_until_within(Duration::from_secs(5), "the other node went down", || {
        signed_in() == 0
    })
    .await;
    assert_eq!(handle.stats().failovers, 10);
}
