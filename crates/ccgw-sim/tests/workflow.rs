//! Each documented behaviour of the simulator over raw HTTP(S): return codes, events in
//! order with their content, prolong rules, the rest timeout on a test clock, pre-rest,
//! Guid rotation in dynamic authentication, inactivity sign-out, `Set-GUID` on the wire.

mod common;

use std::time::Duration;

use ccgw_sim::{AuthMode, Clock, Config, InvalidPath, Transport};
use common::{Gw, retcode};
use serde_json::{Value, json};

fn config() -> Config {
    Config {
        poll_hold: Duration::from_millis(150),
        ..Config::default()
    }
}

async fn https() -> Gw {
    Gw::start(config(), Clock::system()).await
}

async fn manual(config: Config) -> (Gw, Clock) {
    let clock = Clock::manual();
    (Gw::start(config, clock.clone()).await, clock)
}

#[tokio::test]
async fn sign_in_return_codes() {
    let gw = https().await;
    let login = |agent: u32, body: Value| {
        let gw = &gw;
        async move {
            gw.send("PUT", &format!("/onlineagent/{agent}"), None, Some(body))
                .await
        }
    };
    let (_, guid, body) = login(101, json!({"password": "nope", "phonenum": "40038"})).await;
    assert_eq!((retcode(&body), guid), ("100-004", None));
    let (_, _, body) = login(111, json!({"password": "pw111", "phonenum": "40038"})).await;
    assert_eq!(
        retcode(&body),
        "100-004",
        "an agent the gateway does not know"
    );
    let (_, _, body) = login(101, json!({"phonenum": "40101"})).await;
    assert_eq!(retcode(&body), "100-001", "no password");
    // The phone number is mandatory (cec_07_1202): missing or empty, nobody signs in.
    for body in [
        json!({"password": "pw101"}),
        json!({"password": "pw101", "phonenum": ""}),
    ] {
        let (_, guid, answer) = login(101, body.clone()).await;
        assert_eq!((retcode(&answer), guid), ("100-001", None), "{body}");
    }
    let (_, _, body) = login(
        101,
        json!({"password": "pw101", "phonenum": "40038", "status": 7}),
    )
    .await;
    assert_eq!(retcode(&body), "100-011", "status outside 3/4/5");
    let (status, _, _) = gw.send("PUT", "/onlineagent/101", None, None).await;
    assert_eq!(status, 400, "no JSON body");

    // Numbers written as strings, as the vendor's samples send them, are accepted.
    let (_, guid, body) = login(
        101,
        json!({"password": "pw101", "phonenum": "40038", "status": "3", "agenttype": "4"}),
    )
    .await;
    assert_eq!(retcode(&body), "0", "{body}");
    let guid = guid.expect("Set-GUID");
    let (head, node) = guid
        .split_once(".AgentGateway")
        .expect("<uuid>.AgentGateway<N>");
    assert_eq!((head.len(), node), (36, "0"), "{guid}");
    assert_eq!(body["result"]["workno"], "101");
    assert!(
        body["result"]["loginTime"]
            .as_str()
            .is_some_and(|t| t.parse::<u64>().is_ok())
    );
    assert_eq!(
        gw.status(101, &guid).await["result"],
        json!({"agentState": 3, "isWorking": false})
    );

    let (_, again, body) = login(101, json!({"password": "pw101", "phonenum": "40038"})).await;
    assert_eq!((retcode(&body), again), ("100-002", None));
}

/// Paths out of the spec's ranges (or not numbers, or a cause not configured) are
/// answered `000-002` and change nothing.
async fn invalid_paths_change_nothing(gw: &Gw, guid: &str) {
    for path in [
        "/onlineagent/101/rest/0/3",
        "/onlineagent/101/rest/86400/3",
        "/onlineagent/101/rest/600/256",
        "/onlineagent/101/rest/6e2/3",
        "/onlineagent/100/rest/600/3",
        "/onlineagent/1000000/rest/600/3",
        "/onlineagent/101/rest/600/3?prolong=yes",
        "/onlineagent/101/rest/600/200",
    ] {
        assert_eq!(
            retcode(&gw.post(path, Some(guid)).await),
            "000-002",
            "{path}"
        );
    }
    assert_eq!(gw.handle().agent_state(101), Some(4), "nothing changed");
}

#[tokio::test]
async fn rest_return_codes_and_prolong_rules() {
    let gw = https().await;
    let not_signed_in = gw.rest(102, "whatever", 600, 3, Some(false)).await;
    assert_eq!(retcode(&not_signed_in), "100-006");

    let guid = gw.login(101).await;
    assert_eq!(
        retcode(&gw.rest(101, "wrong-guid", 600, 3, Some(false)).await),
        "000-003"
    );
    let (_, _, body) = gw
        .send(
            "POST",
            "/onlineagent/101/rest/600/3?prolong=false",
            None,
            None,
        )
        .await;
    assert_eq!(retcode(&body), "000-003", "no Guid header");
    invalid_paths_change_nothing(&gw, &guid).await;

    assert_eq!(
        retcode(&gw.post("/onlineagent/101/cancelrest", Some(&guid)).await),
        "100-009",
        "not in rest"
    );
    assert_eq!(
        retcode(&gw.rest(101, &guid, 600, 3, None).await),
        "0",
        "prolong absent = false"
    );
    assert_eq!(gw.status(101, &guid).await["result"]["agentState"], 8);
    assert_eq!(
        retcode(&gw.rest(101, &guid, 600, 3, Some(false)).await),
        "100-009",
        "rest again needs prolong"
    );
    assert_eq!(retcode(&gw.rest(101, &guid, 900, 5, Some(true)).await), "0");
    assert_eq!(
        retcode(&gw.post("/onlineagent/101/cancelrest", Some(&guid)).await),
        "0"
    );
    assert_eq!(gw.status(101, &guid).await["result"]["agentState"], 4);
    assert_eq!(
        retcode(&gw.rest(101, &guid, 60, 0, Some(true)).await),
        "0",
        "prolong when not resting is a plain rest"
    );

    let (_, _, body) = gw
        .send("DELETE", "/onlineagent/101/logout", Some(&guid), None)
        .await;
    assert_eq!(retcode(&body), "0");
    assert_eq!(
        retcode(&gw.rest(101, &guid, 600, 3, Some(false)).await),
        "100-006",
        "signed out"
    );
    assert_eq!(retcode(&gw.status(101, &guid).await), "100-006");

    let s = gw.handle().stats();
    assert_eq!(
        (
            s.rest_entered,
            s.rest_prolonged,
            s.rest_cancelled,
            s.logins,
            s.logouts
        ),
        (2, 1, 1, 1, 1)
    );
}

#[tokio::test]
async fn events_arrive_in_order_with_their_content() {
    let gw = https().await;
    let guid = gw.login(103).await;
    let types = |e: &Value| e["eventType"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        types(&gw.next_event(103, &guid).await),
        "AgentOther_InService"
    );
    assert_eq!(types(&gw.next_event(103, &guid).await), "AgentState_Ready");
    let (empty, _) = gw.poll(103, &guid).await;
    assert_eq!(
        empty,
        json!({"message": "success", "retcode": "0", "event": null}),
        "held, then no event"
    );

    assert_eq!(
        retcode(&gw.rest(103, &guid, 600, 7, Some(false)).await),
        "0"
    );
    let event = gw.next_event(103, &guid).await;
    assert_eq!(event["eventType"], "AgentState_SetRest_Success");
    assert_eq!(event["workNo"], "103");
    assert_eq!(event["content"], json!({"reason": "7"}));
    assert!(
        event["eventGenTime"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000_000)
    );

    assert_eq!(
        retcode(&gw.post("/onlineagent/103/cancelrest", Some(&guid)).await),
        "0"
    );
    let event = gw.next_event(103, &guid).await;
    assert_eq!(
        (event["eventType"].as_str(), &event["content"]),
        (Some("AgentState_CancelRest_Success"), &Value::Null)
    );
    let s = gw.handle().stats();
    assert_eq!((s.events_emitted, s.events_delivered), (4, 4));
}

#[tokio::test]
async fn a_held_poll_answers_as_soon_as_an_event_arrives() {
    let gw = Gw::start(
        Config {
            poll_hold: Duration::from_secs(20),
            ..Config::default()
        },
        Clock::system(),
    )
    .await;
    let guid = gw.login(104).await;
    gw.next_event(104, &guid).await;
    gw.next_event(104, &guid).await;
    let started = std::time::Instant::now();
    let (poll, ()) = tokio::join!(gw.poll(104, &guid), async {
        ccgw_testkit::wait_until_within(Duration::from_secs(10), "the poll to be held", || {
            gw.handle().stats().polls_holding == 1
        })
        .await;
        assert_eq!(retcode(&gw.rest(104, &guid, 600, 3, None).await), "0");
    });
    assert_eq!(poll.0["event"]["eventType"], "AgentState_SetRest_Success");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the poll was released by the event"
    );
}

#[tokio::test]
async fn rest_timeout_is_reminded_once_on_the_test_clock() {
    let (gw, clock) = manual(Config {
        auth_mode: AuthMode::Static,
        ..config()
    })
    .await;
    let guid = gw.login(101).await;
    gw.next_event(101, &guid).await;
    gw.next_event(101, &guid).await;
    assert_eq!(retcode(&gw.rest(101, &guid, 600, 3, None).await), "0");
    assert_eq!(
        gw.next_event(101, &guid).await["eventType"],
        "AgentState_SetRest_Success"
    );

    // Time passes while the agent keeps polling (two minutes without a poll sign it out).
    assert!(
        poll_through(&gw, &guid, 599).await.is_empty(),
        "no reminder before the time is up"
    );
    let events = poll_through(&gw, &guid, 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["eventType"].as_str(), &events[0]["content"]),
        (Some("AgentState_Rest_Timeout"), &Value::Null)
    );
    assert!(
        poll_through(&gw, &guid, 300).await.is_empty(),
        "reminded once only"
    );
    assert_eq!(
        gw.status(101, &guid).await["result"]["agentState"],
        8,
        "still in rest"
    );
    assert_eq!(gw.handle().stats().rest_timeouts, 1);
    assert!(clock.now_ms() >= 900_000);

    // Prolonging restarts the countdown and re-arms the reminder.
    assert_eq!(retcode(&gw.rest(101, &guid, 60, 4, Some(true)).await), "0");
    assert_eq!(gw.next_event(101, &guid).await["content"]["reason"], "4");
    let events = poll_through(&gw, &guid, 60).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventType"], "AgentState_Rest_Timeout");
}

/// Advances the test clock by `secs` in steps of at most 30 s, polling agent 101 after
/// each step; returns the events received.
async fn poll_through(gw: &Gw, guid: &str, secs: u64) -> Vec<Value> {
    let mut events = Vec::new();
    let mut left = secs;
    while left > 0 {
        let step = left.min(30);
        gw.handle().advance(Duration::from_secs(step));
        left -= step;
        let (body, _) = gw.poll(101, guid).await;
        assert_eq!(retcode(&body), "0", "{body}");
        if !body["event"].is_null() {
            events.push(body["event"].clone());
        }
    }
    events
}

#[tokio::test]
async fn rest_requested_during_a_call_starts_when_the_call_ends() {
    let gw = https().await;
    let guid = gw.login(105).await;
    gw.next_event(105, &guid).await;
    gw.next_event(105, &guid).await;
    assert!(gw.handle().set_talking(105, true));
    assert_eq!(retcode(&gw.rest(105, &guid, 600, 2, None).await), "0");
    assert_eq!(
        gw.status(105, &guid).await["result"],
        json!({"agentState": 9, "isWorking": true})
    );
    assert!(
        gw.poll(105, &guid).await.0["event"].is_null(),
        "no rest yet"
    );
    assert_eq!(
        retcode(&gw.rest(105, &guid, 600, 2, Some(false)).await),
        "100-009"
    );
    gw.handle().set_talking(105, false);
    assert_eq!(
        gw.next_event(105, &guid).await["eventType"],
        "AgentState_SetRest_Success"
    );
    assert_eq!(gw.status(105, &guid).await["result"]["agentState"], 8);
    let s = gw.handle().stats();
    assert_eq!((s.pre_rest_entered, s.rest_entered), (1, 1));
}

#[tokio::test]
async fn a_session_survives_three_guid_rotations_and_an_expired_guid_is_refused() {
    let (gw, _) = manual(config()).await; // dynamic: rotate every 60 s, old Guid valid 120 s
    let g0 = gw.login(101).await;
    let mut current = g0.clone();
    let mut seen = vec![g0.clone()];
    for round in 1..=3 {
        gw.handle().advance(Duration::from_secs(60));
        let (body, rotated) = gw.poll(101, &current).await;
        assert_eq!(retcode(&body), "0", "round {round}");
        let new = rotated.unwrap_or_else(|| panic!("round {round}: Set-GUID expected"));
        assert!(!seen.contains(&new), "a new Guid each time");
        assert_eq!(gw.handle().current_guid(101).as_deref(), Some(new.as_str()));
        assert_eq!(retcode(&gw.status(101, &new).await), "0");
        assert_eq!(
            retcode(&gw.status(101, &current).await),
            "0",
            "the replaced Guid stays valid for a while"
        );
        seen.push(new.clone());
        current = new;
    }
    // g0 was replaced 120 s ago: expired.
    assert_eq!(retcode(&gw.status(101, &g0).await), "000-003");
    assert_eq!(retcode(&gw.rest(101, &g0, 600, 3, None).await), "000-003");
    assert_eq!(retcode(&gw.rest(101, &current, 600, 3, None).await), "0");
    let (no_rotation, set_guid) = gw.poll(101, &current).await;
    assert_eq!(
        (retcode(&no_rotation), set_guid),
        ("0", None),
        "no Set-GUID between rotations"
    );
    assert_eq!(gw.handle().stats().guid_rotations, 3);

    // The heartbeat rotates too.
    gw.handle().advance(Duration::from_secs(60));
    let (_, rotated, body) = gw
        .send("POST", "/onlineagent/101/handshake", Some(&current), None)
        .await;
    assert_eq!(retcode(&body), "0");
    assert!(rotated.is_some_and(|g| !seen.contains(&g)));
}

#[tokio::test]
async fn static_guids_never_rotate() {
    let (gw, _) = manual(Config {
        auth_mode: AuthMode::Static,
        ..config()
    })
    .await;
    let guid = gw.login(101).await;
    for _ in 0..5 {
        gw.handle().advance(Duration::from_secs(100));
        let (body, rotated) = gw.poll(101, &guid).await;
        assert_eq!((retcode(&body), rotated), ("0", None));
    }
}

#[tokio::test]
async fn two_minutes_without_polling_sign_the_agent_out() {
    let (gw, _) = manual(config()).await;
    let guid = gw.login(101).await;
    gw.handle().advance(Duration::from_secs(119));
    assert_eq!(retcode(&gw.status(101, &guid).await), "0");
    gw.handle().advance(Duration::from_secs(1));
    assert_eq!(retcode(&gw.status(101, &guid).await), "100-006");
    assert_eq!(gw.handle().agent_state(101), None);
    let s = gw.handle().stats();
    assert_eq!((s.inactivity_signouts, s.events_discarded), (1, 2));
    gw.login(101).await; // and can sign in again
}

#[tokio::test]
async fn out_of_range_path_values_can_be_routing_failures() {
    let gw = Gw::start(
        Config {
            invalid_path: InvalidPath::NotFound,
            ..config()
        },
        Clock::system(),
    )
    .await;
    let guid = gw.login(101).await;
    let (status, _, body) = gw
        .send("POST", "/onlineagent/101/rest/86400/3", Some(&guid), None)
        .await;
    assert_eq!((status, body), (404, Value::Null));
    let (status, _, _) = gw
        .send("GET", "/onlineagent/101/rest/600/3", Some(&guid), None)
        .await;
    assert_eq!(status, 405, "POST only");
}

/// `Set-GUID` leaves the simulator with exactly that capitalisation (Java clients compare
/// it case-sensitively), read from the raw bytes of a plain HTTP/1.1 answer.
#[tokio::test]
async fn set_guid_has_the_documented_capitalisation_on_the_wire() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let gw = Gw::start(
        Config {
            transport: Transport::Http,
            ..config()
        },
        Clock::system(),
    )
    .await;
    let body = r#"{"phonenum":"40101","password":"pw101","status":4}"#;
    let mut stream = tokio::net::TcpStream::connect(gw.sim.addr())
        .await
        .expect("connect");
    let request = format!(
        "PUT /agentgateway/resource/onlineagent/101 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\r\nSet-GUID: JSESSIONID="), "{answer}");
    assert!(answer.contains(".AgentGateway0\r\n"), "{answer}");
}

#[tokio::test]
async fn session_return_codes() {
    let gw = https().await;
    let (_, _, body) = gw.send("GET", "/agentevent/106", Some("g"), None).await;
    assert_eq!(retcode(&body), "100-006", "poll without a session");
    let (_, _, body) = gw
        .send("POST", "/onlineagent/106/handshake", Some("g"), None)
        .await;
    assert_eq!(retcode(&body), "100-006", "heartbeat without a session");
    let (_, _, body) = gw
        .send("DELETE", "/onlineagent/106/logout", Some("g"), None)
        .await;
    assert_eq!(retcode(&body), "100-006", "sign-out without a session");

    let guid = gw.login(106).await;
    let (_, _, body) = gw.send("GET", "/agentevent/106", Some("wrong"), None).await;
    assert_eq!(retcode(&body), "000-003");
    let (_, rotated, body) = gw
        .send("POST", "/onlineagent/106/handshake", Some(&guid), None)
        .await;
    assert_eq!((retcode(&body), rotated), ("0", None));
    gw.handle().set_talking(106, true);
    let (_, _, body) = gw
        .send("DELETE", "/onlineagent/106/logout", Some(&guid), None)
        .await;
    assert_eq!(retcode(&body), "100-010", "no sign-out during a call");
    gw.handle().set_talking(106, false);
    let (_, _, body) = gw
        .send("DELETE", "/onlineagent/106/logout", Some(&guid), None)
        .await;
    assert_eq!(retcode(&body), "0");

    // A push-mode session (callBackUri and serviceToken at sign-in) cannot poll.
    let (_, guid, body) = gw
        .send(
            "PUT",
            "/onlineagent/107",
            None,
            Some(json!({"password": "pw107", "phonenum": "40038", "callBackUri": "https://crm.example/events", "serviceToken": "t0k3n"})),
        )
        .await;
    assert_eq!(retcode(&body), "0");
    let (body, _) = gw.poll(107, &guid.expect("Set-GUID")).await;
    assert_eq!(retcode(&body), "000-001");
}

/// An agent nobody polls for: its queue keeps the newest events up to its bound and
/// counts the oldest it drops.
#[tokio::test]
async fn an_unpolled_event_queue_is_bounded_and_counts_what_it_drops() {
    let gw = https().await;
    let guid = gw.login(101).await;
    // Two sign-in events, then two per rest and cancel: 2 + 2 × 130 = 262 events.
    for _ in 0..130 {
        assert_eq!(retcode(&gw.rest(101, &guid, 600, 3, None).await), "0");
        let cancel = gw.post("/onlineagent/101/cancelrest", Some(&guid)).await;
        assert_eq!(retcode(&cancel), "0");
    }
    let stats = gw.handle().stats();
    assert!(stats.events_emitted >= 262, "{stats:?}");
    assert_eq!(
        stats.events_overflowed,
        stats.events_emitted - 256,
        "{stats:?}"
    );
    // The oldest went: the first event left is a rest's, not the sign-in's.
    let first = gw.next_event(101, &guid).await;
    assert!(
        first["eventType"] != "AgentOther_InService" && first["eventType"] != "AgentState_Ready",
        "{first}"
    );
}
