//! Raw HTTP against the simulator: plain reqwest and hand-built JSON, not the project's
//! client, so the simulator is checked independently of it.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::Duration;

use ccgw_sim::{Clock, Config, SimHandle, Simulator};
use reqwest::Method;
use serde_json::{Value, json};

pub(crate) const BASE: &str = "/agentgateway/resource";

pub(crate) struct Gw {
    pub(crate) sim: Simulator,
    pub(crate) http: reqwest::Client,
}

impl Gw {
    /// Starts `config` (HTTPS with the simulator's CA trusted, unless the config says HTTP).
    pub(crate) async fn start(config: Config, clock: Clock) -> Gw {
        let sim = Simulator::start_with_clock(config, clock)
            .await
            .expect("simulator starts");
        let mut http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256);
        if let Some(pem) = sim.ca_pem() {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA PEM");
            http = http.tls_certs_only([ca]);
        }
        Gw {
            sim,
            http: http.build().expect("reqwest client"),
        }
    }

    pub(crate) fn handle(&self) -> SimHandle {
        self.sim.handle()
    }

    /// Sends a request; returns the HTTP status, the `Set-GUID` value (without
    /// `JSESSIONID=`) and the body as JSON (`Null` when it is not JSON).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        guid: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{BASE}{path}", self.sim.base_url()))
            .header("Content-Type", "application/json; charset=UTF-8");
        if let Some(guid) = guid {
            request = request.header("Guid", guid);
        }
        request = match body {
            Some(b) => request.body(b.to_string()),
            None => request.header("Content-Length", "0"),
        };
        let response = request.send().await.expect("request answered");
        let status = response.status().as_u16();
        let set_guid = response
            .headers()
            .get("set-guid")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("JSESSIONID="))
            .map(str::to_owned);
        let text = response.text().await.expect("body");
        (
            status,
            set_guid,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// Signs `agent` in with password `pw<agent>`; returns the Guid.
    pub(crate) async fn login(&self, agent: u32) -> String {
        let (status, guid, body) = self
            .send(
                Method::PUT,
                &format!("/onlineagent/{agent}"),
                None,
                Some(json!({"password": format!("pw{agent}"), "status": 4})),
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
        let (status, _, body) = self.send(Method::POST, path, guid, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    pub(crate) async fn get(&self, path: &str, guid: Option<&str>) -> Value {
        let (status, _, body) = self.send(Method::GET, path, guid, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// One poll: (body, rotated Guid).
    pub(crate) async fn poll(&self, agent: u32, guid: &str) -> (Value, Option<String>) {
        let (status, set_guid, body) = self
            .send(
                Method::GET,
                &format!("/agentevent/{agent}"),
                Some(guid),
                None,
            )
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
