//! Records request/response pairs of every operation — success and each documented
//! return code — while driving `ccgw-sim` through the `ccgw` client (and raw requests
//! where the client cannot send what a case needs, such as an out-of-range path value).
//! `cargo xtask test` then checks the recording against the spec with openapi-core
//! (Python), so the spec, the simulator and the client cannot drift apart.

use std::path::PathBuf;
use std::time::Duration;

use ccgw::{AgentId, Error, GatewayClient, Guid, RestCause, RestDuration, SignIn};
use ccgw_sim::{Config, Simulator, operation};
use serde_json::json;

/// Where the pairs go (read by `xtask/tools/check_pairs.py`).
fn recording() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/recordings/pairs.jsonl")
}

fn id(n: u32) -> AgentId {
    AgentId::new(n).expect("in range")
}

fn code(result: Result<(), Error>) -> String {
    match result {
        Ok(()) => "0".to_owned(),
        Err(e) => e.retcode().map_or_else(
            || format!("not a return code: {e}"),
            |c| c.as_str().to_owned(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn record_every_operation_and_documented_code() {
    let file = recording();
    std::fs::create_dir_all(file.parent().expect("dir")).expect("recordings dir");
    let _ = std::fs::remove_file(&file);
    let config = Config {
        poll_hold: Duration::from_millis(100),
        record: Some(file.clone()),
        ..Config::default()
    };
    let sim = Simulator::start(config).await.expect("sim");
    let ca = sim.ca_pem().expect("CA").to_owned();
    let r = Recording {
        client: crate::common::config_for(sim.base_url(), Some(&ca))
            .build_client()
            .expect("client"),
        raw: ccgw_testkit::RawClient::new(sim.base_url(), Some(&ca)),
        h: sim.handle(),
        file: file.clone(),
    };
    let agent = sign_ins(&r).await;
    state_changes(&r, &agent).await;
    session_calls(&r, &agent).await;

    sim.shutdown().await;
    let lines = std::fs::read_to_string(&file)
        .expect("recording")
        .lines()
        .count();
    assert!(lines >= 35, "{lines} pairs recorded");
}

/// What the recording's steps share: the client, a raw client, the simulator's handle.
struct Recording {
    client: GatewayClient,
    raw: ccgw_testkit::RawClient,
    h: ccgw_sim::SimHandle,
    file: PathBuf,
}

impl Recording {
    fn url(&self, path: &str) -> String {
        format!("/agentgateway/resource{path}")
    }

    /// Agent `n` with a Guid the gateway never issued.
    fn wrong(&self, n: u32) -> ccgw::Agent {
        self.client.agent(
            id(n),
            Guid::new("WRONG-GUID.AgentGateway0").expect("guid"),
            None,
        )
    }

    /// Agent 109: configured but never signed in.
    fn signed_out(&self) -> ccgw::Agent {
        self.client
            .agent(id(109), Guid::new("G.AgentGateway0").expect("guid"), None)
    }
}

const JSON: (&str, &str) = ("Content-Type", "application/json; charset=UTF-8");
const WAIT: Duration = Duration::from_secs(30);

fn secs(n: u32) -> RestDuration {
    RestDuration::from_secs(n).expect("in range")
}

/// `login` and `forceLogin` with every code; agent 101's session, taken over.
async fn sign_ins(r: &Recording) -> ccgw::Agent {
    // login: 0, 100-002, 100-004 through the client; 100-001 and 100-011 need bodies it never sends.
    r.client
        .sign_in(id(101), &SignIn::new("pw101", "40101"))
        .await
        .expect("0");
    assert_eq!(
        code(
            r.client
                .sign_in(id(101), &SignIn::new("pw101", "40101"))
                .await
                .map(drop)
        ),
        "100-002"
    );
    assert_eq!(
        code(
            r.client
                .sign_in(id(102), &SignIn::new("nope", "40038"))
                .await
                .map(drop)
        ),
        "100-004"
    );
    bodies_the_client_never_sends(r).await;

    // The sign-in failures that concern what the simulator does not model (the CTI, the
    // agent type, the phone number's range, the IP address), injected, through the client.
    for op in [operation::LOGIN, operation::FORCE_LOGIN] {
        for injected in ["100-003", "100-012", "100-013", "100-014", "100-016"] {
            r.h.inject(op, injected);
            let sign_in = SignIn::new("pw104", "40104");
            let got = if op == operation::LOGIN {
                code(r.client.sign_in(id(104), &sign_in).await.map(drop))
            } else {
                force(&r.raw, 104, "pw104", "40104").await
            };
            assert_eq!(got, injected, "{op}");
        }
    }

    // forceLogin: 0 (taking 101's session over) through the client, 100-004 raw (the
    // client sends forceLogin only after login's 100-002); 100-001 and 100-011 above;
    // 100-015 and 110-016 below, on a platform without forced sign-in and with agent
    // 102's account locked.
    let agent = r
        .client
        .sign_in(id(101), &SignIn::new("pw101", "40101").take_over(true))
        .await
        .expect("0");
    assert!(agent.took_over());
    assert_eq!(force(&r.raw, 102, "nope", "40038").await, "100-004");
    on_a_platform_without_forced_sign_in(r).await;
    agent
}

/// `login` and `forceLogin` with bodies the client never sends: `100-001` (no
/// password), `100-011` (a status out of range).
async fn bodies_the_client_never_sends(r: &Recording) {
    for (body, expected, path) in [
        (json!({"phonenum": "1"}), "100-001", "/onlineagent/102"),
        (
            json!({"password": "pw102", "phonenum": "40038", "status": 7}),
            "100-011",
            "/onlineagent/102",
        ),
        (
            json!({"phonenum": "1"}),
            "100-001",
            "/onlineagent/102/forcelogin",
        ),
        (
            json!({"password": "pw102", "phonenum": "40038", "status": 7}),
            "100-011",
            "/onlineagent/102/forcelogin",
        ),
    ] {
        let answer = r
            .raw
            .send("PUT", &r.url(path), &[JSON], Some(body.to_string()), WAIT)
            .await
            .expect("answer")
            .json();
        assert_eq!(answer["retcode"], expected);
    }
}

/// `100-015` and `110-016` on a platform without forced sign-in and with agent 102's
/// account locked.
async fn on_a_platform_without_forced_sign_in(r: &Recording) {
    let strict = Simulator::start(Config {
        forced_sign_in: false,
        locked: vec![102],
        record: Some(r.file.clone()),
        ..Config::default()
    })
    .await
    .expect("sim");
    strict.handle().sign_in(101).expect("signed in");
    let client = ccgw::Config {
        url: Some(String::from(strict.base_url())),
        system_roots: false,
        ca_pem: Some(String::from(strict.ca_pem().expect("CA"))),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("client");
    let (taken, locked) = (SignIn::new("pw101", "40101"), SignIn::new("pw102", "40102"));
    let strict_raw = ccgw_testkit::RawClient::new(strict.base_url(), strict.ca_pem());
    assert_eq!(force(&strict_raw, 101, "pw101", "40101").await, "100-015");
    assert_eq!(
        code(client.sign_in(id(101), &taken).await.map(drop)),
        "100-015"
    );
    assert_eq!(
        code(client.sign_in(id(102), &locked).await.map(drop)),
        "110-016"
    );
    assert_eq!(force(&strict_raw, 102, "pw102", "40102").await, "110-016");
    strict.shutdown().await;
}

/// `rest`, `getAgentStatus` and `getAgentEvent` with every code.
async fn state_changes(r: &Recording, agent: &ccgw::Agent) {
    // rest: 0, 100-009, 000-002 (cause not configured), 100-007 (injected), 100-006, 000-003.
    assert_eq!(code(agent.rest(secs(600), RestCause::from(3)).await), "0");
    assert_eq!(
        code(agent.rest(secs(600), RestCause::from(3)).await),
        "100-009"
    );
    assert_eq!(
        code(agent.rest(secs(600), RestCause::from(200)).prolong().await),
        "000-002"
    );
    r.h.inject(operation::REST, "100-007");
    assert_eq!(
        code(agent.rest(secs(900), RestCause::from(4)).prolong().await),
        "100-007"
    );
    assert_eq!(
        code(r.signed_out().rest(secs(60), RestCause::NONE).await),
        "100-006"
    );
    assert_eq!(
        code(r.wrong(101).rest(secs(60), RestCause::NONE).await),
        "000-003"
    );

    // getAgentStatus: 0, 000-002 (agent 99: out of range), 100-006, 000-003.
    assert!(agent.status().await.is_ok());
    let guid = r.h.current_guid(101).expect("signed in");
    let answer = r
        .raw
        .send(
            "GET",
            &r.url("/onlineagent/99/agentstatus"),
            &[JSON, ("Guid", &guid)],
            None,
            WAIT,
        )
        .await
        .expect("answer")
        .json();
    assert_eq!(answer["retcode"], "000-002");
    assert_eq!(code(r.signed_out().status().await.map(drop)), "100-006");
    assert_eq!(code(r.wrong(101).status().await.map(drop)), "000-003");

    event_polls(r, agent).await;
}

/// `getAgentEvent` with every code.
async fn event_polls(r: &Recording, agent: &ccgw::Agent) {
    // getAgentEvent: 0 (with an event and without), 100-006, 000-003, 000-001 (push-mode session).
    let mut events = agent.events();
    assert!(events.next().await.is_some_and(|e| e.is_ok()));
    drop(events);
    let poll = |guid: &str, agent: u32| {
        let (raw, guid, path) = (
            r.raw.clone(),
            guid.to_owned(),
            r.url(&format!("/agentevent/{agent}")),
        );
        async move {
            raw.send("GET", &path, &[JSON, ("Guid", &guid)], None, WAIT)
                .await
                .expect("answer")
                .json()
        }
    };
    assert_eq!(poll("G.AgentGateway0", 109).await["retcode"], "100-006");
    assert_eq!(poll("WRONG.AgentGateway0", 101).await["retcode"], "000-003");
    let push = r.raw
        .send(
            "PUT",
            &r.url("/onlineagent/103"),
            &[JSON],
            Some(json!({"password": "pw103", "phonenum": "40038", "callBackUri": "https://crm.example/events", "serviceToken": "t0k3n"}).to_string()),
            WAIT,
        )
        .await
        .expect("answer");
    let push_guid = push.set_guid().expect("a Guid");
    assert_eq!(poll(&push_guid, 103).await["retcode"], "000-001");
    // An empty poll (event: null) once the queue is drained.
    for _ in 0..10 {
        if poll(&guid_now(&r.h, 101), 101).await["event"].is_null() {
            break;
        }
    }
}

/// `handShake`, `updateGuid`, `cancelRest` and `logout` with every code.
async fn session_calls(r: &Recording, agent: &ccgw::Agent) {
    // handShake: 0, 100-006, 000-003; 100-001 for a `service_token` over 50 characters.
    assert_eq!(code(agent.heartbeat().await), "0");
    let long_token = "t".repeat(51);
    let answer = r
        .raw
        .send(
            "POST",
            &r.url("/onlineagent/101/handshake"),
            &[
                JSON,
                ("Guid", &guid_now(&r.h, 101)),
                ("service_token", &long_token),
            ],
            None,
            WAIT,
        )
        .await
        .expect("answer")
        .json();
    assert_eq!(answer["retcode"], "100-001");
    assert_eq!(code(r.signed_out().heartbeat().await), "100-006");
    assert_eq!(code(r.wrong(101).heartbeat().await), "000-003");

    // updateGuid (the client sends it only after a lost answer): 0, 100-006, 000-003.
    let update_guid = |agent: u32, guid: String| {
        let raw = &r.raw;
        async move {
            let path = format!("/agentgateway/resource/onlineagent/{agent}/updateGuid");
            let answer = raw
                .send("PUT", &path, &[("Guid", &guid)], None, WAIT)
                .await
                .expect("answer")
                .json();
            answer["retcode"].as_str().unwrap_or_default().to_owned()
        }
    };
    assert_eq!(update_guid(101, guid_now(&r.h, 101)).await, "0");
    assert_eq!(update_guid(109, "G.AgentGateway0".into()).await, "100-006");
    assert_eq!(
        update_guid(101, "WRONG-GUID.AgentGateway0".into()).await,
        "000-003"
    );

    // cancelRest: 0, 100-009, 100-007 (injected), 100-006, 000-003.
    r.h.inject(operation::CANCEL_REST, "100-007");
    assert_eq!(code(agent.cancel_rest().await), "100-007");
    assert_eq!(code(agent.cancel_rest().await), "0");
    assert_eq!(code(agent.cancel_rest().await), "100-009");
    assert_eq!(code(r.signed_out().cancel_rest().await), "100-006");
    assert_eq!(code(r.wrong(101).cancel_rest().await), "000-003");

    // logout: 100-005, 100-007, 100-008 (injected), 100-010 (in a call), 000-003, 0, then
    // 100-006. Sent raw: `Agent::sign_out` settles passing refusals and takes 100-008 and
    // 100-006 as signed out, so it would not show each answer.
    let logout = |guid: String| {
        let (raw, path) = (r.raw.clone(), r.url("/onlineagent/101/logout"));
        async move {
            raw.send("DELETE", &path, &[JSON, ("Guid", &guid)], None, WAIT)
                .await
                .expect("answer")
                .json()["retcode"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    for injected in ["100-005", "100-007", "100-008"] {
        r.h.inject(operation::LOGOUT, injected);
        assert_eq!(logout(guid_now(&r.h, 101)).await, injected);
    }
    r.h.set_talking(101, true);
    assert_eq!(logout(guid_now(&r.h, 101)).await, "100-010");
    r.h.set_talking(101, false);
    assert_eq!(code(r.wrong(101).sign_out().await), "000-003");
    let last = guid_now(&r.h, 101);
    assert_eq!(code(agent.sign_out().await), "0");
    assert_eq!(logout(last).await, "100-006");
}

/// A forced sign-in of `agent`, sent raw; its return code.
async fn force(raw: &ccgw_testkit::RawClient, agent: u32, password: &str, phone: &str) -> String {
    let path = format!("/agentgateway/resource/onlineagent/{agent}/forcelogin");
    let body = json!({"password": password, "phonenum": phone}).to_string();
    let answer = raw
        .send(
            "PUT",
            &path,
            &[("Content-Type", "application/json; charset=UTF-8")],
            Some(body),
            Duration::from_secs(30),
        )
        .await
        .expect("answer")
        .json();
    answer["retcode"].as_str().unwrap_or_default().to_owned()
}

fn guid_now(h: &ccgw_sim::SimHandle, agent: u32) -> String {
    h.current_guid(agent).unwrap_or_default()
}
