//! Raw HTTP against the simulator: hyper over tokio-rustls and hand-built JSON, not the
//! project's client, so the simulator is checked independently of it.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::Duration;

use ccgw_sim::{Clock, Config, SimHandle, Simulator};
use serde_json::{Value, json};

pub(crate) const BASE: &str = "/agentgateway/resource";

pub(crate) struct Gw {
    pub(crate) sim: Simulator,
    pub(crate) http: ccgw_testkit::RawClient,
}

impl Gw {
    /// Starts `config` (HTTPS with the simulator's CA trusted, unless the config says HTTP).
    pub(crate) async fn start(config: Config, clock: Clock) -> Gw {
        let sim = Simulator::start_with_clock(config, clock)
            .await
            .expect("simulator starts");
        let http = ccgw_testkit::RawClient::new(sim.base_url(), sim.ca_pem());
        Gw { sim, http }
    }

    pub(crate) fn handle(&self) -> SimHandle {
        self.sim.handle()
    }

    /// Sends a request; returns the HTTP status, the `Set-GUID` value (without
    /// `JSESSIONID=`) and the body as JSON (`Null` when it is not JSON).
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        guid: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value) {
        let mut headers = vec![("Content-Type", "application/json; charset=UTF-8")];
        if let Some(guid) = guid {
            headers.push(("Guid", guid));
        }
        if body.is_none() {
            headers.push(("Content-Length", "0"));
        }
        let answer = self
            .http
            .send(
                method,
                &format!("{BASE}{path}"),
                &headers,
                body.map(|b| b.to_string()),
                Duration::from_secs(30),
            )
            .await
            .expect("request answered");
        (answer.status, answer.set_guid(), answer.json())
    }

    /// Signs `agent` in with password `pw<agent>`; returns the Guid.
    pub(crate) async fn login(&self, agent: u32) -> String {
        let (status, guid, body) = self
            .send(
                "PUT",
                &format!("/onlineagent/{agent}"),
                None,
                Some(json!({"password": format!("pw{agent}"), "phonenum": "40038", "status": 4})),
            )
            .await;
        assert_eq!(
            (status, body["retcode"].as_str()),
            (200, Some("0")),
            "{body}"
        );
        guid.expect("Set-GUID on sign-in")
    }

    pub(crate) async fn rest(
        &self,
        agent: u32,
        guid: &str,
        time: u32,
        cause: u32,
        prolong: Option<bool>,
    ) -> Value {
        let query = prolong.map(|p| format!("?prolong={p}")).unwrap_or_default();
        self.post(
            &format!("/onlineagent/{agent}/rest/{time}/{cause}{query}"),
            Some(guid),
        )
        .await
    }

    pub(crate) async fn post(&self, path: &str, guid: Option<&str>) -> Value {
        let (status, _, body) = self.send("POST", path, guid, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    pub(crate) async fn get(&self, path: &str, guid: Option<&str>) -> Value {
        let (status, _, body) = self.send("GET", path, guid, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// One poll: (body, rotated Guid).
    pub(crate) async fn poll(&self, agent: u32, guid: &str) -> (Value, Option<String>) {
        let (status, set_guid, body) = self
            .send("GET", &format!("/agentevent/{agent}"), Some(guid), None)
            .await;
        assert_eq!(status, 200, "{body}");
        (body, set_guid)
    }

    /// Polls until an event arrives (at most `tries` polls); returns it.
    pub(crate) async fn next_event(&self, agent: u32, guid: &str) -> Value {
        for _ in 0..5 {
            let (body, _) = self.poll(agent, guid).await;
            assert_eq!(body["retcode"], "0", "{body}");
            if !body["event"].is_null() {
                return body["event"].clone();
            }
        }
        panic!("no event for agent {agent} after 5 polls");
    }

    pub(crate) async fn status(&self, agent: u32, guid: &str) -> Value {
        self.get(&format!("/onlineagent/{agent}/agentstatus"), Some(guid))
            .await
    }
}

pub(crate) fn retcode(body: &Value) -> &str {
    body["retcode"].as_str().unwrap_or("<none>")
}
