//! The floor: per agent, one hyper HTTP/1.1 connection over tokio-rustls, following the
//! protocol as `ccgw` does — the Guid from `Set-GUID`, the load balancer's cookie, the
//! pause of [`ccgw::EventStream::POLL_PAUSE`] after each poll's answer — and nothing
//! more: no pool, no redaction, no typed answers, no confirmation beyond the event.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use ccgw::RetCode;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The pause after each poll's answer: the library's, so both sides keep one cadence.
pub(crate) const PAUSE: std::time::Duration = ccgw::EventStream::POLL_PAUSE;

/// TLS trusting the simulator's CA at `ca_file`.
pub(crate) fn connector(ca_file: &std::path::Path) -> Result<tokio_rustls::TlsConnector> {
    let ca = ccgw_testkit::client_config_trusting(
        &std::fs::read_to_string(ca_file)?,
        rustls::crypto::ring::default_provider(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(ca)))
}

/// One agent's connection and session.
pub(crate) struct RawLine {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    id: u32,
    guid: Option<String>,
    cookie: Option<String>,
}

impl RawLine {
    /// Connects (TCP, then the TLS handshake) to the gateway at `base`.
    pub(crate) async fn connect(
        tls: &tokio_rustls::TlsConnector,
        base: &str,
        id: u32,
    ) -> Result<RawLine> {
        let authority = base.trim_start_matches("https://").to_owned();
        let tcp = tokio::net::TcpStream::connect(&authority).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?;
        let stream = tls.connect(name, tcp).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(RawLine {
            sender,
            authority,
            id,
            guid: None,
            cookie: None,
        })
    }

    /// The node whose Guid the session holds (the simulator's Guids end in
    /// `.AgentGateway<node>`).
    pub(crate) fn on_node(&self, node: u8) -> bool {
        self.guid
            .as_deref()
            .is_some_and(|g| g.ends_with(&format!(".AgentGateway{node}")))
    }

    /// A control request of the simulator's (`nodes/0/down`); fails unless it says 200.
    pub(crate) async fn control(&mut self, path: &str) -> Result<()> {
        let answer = self
            .send("POST", &format!("/ccgw-sim/{path}"), String::new())
            .await?;
        if answer.status() != http::StatusCode::OK {
            bail!(
                "the simulator's control {path} answered {}",
                answer.status()
            );
        }
        Ok(())
    }

    async fn send(
        &mut self,
        method: &str,
        uri: &str,
        body: String,
    ) -> Result<http::Response<hyper::body::Incoming>> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::HOST, &self.authority)
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=UTF-8",
            );
        if let Some(guid) = &self.guid {
            builder = builder.header("guid", guid);
        }
        if let Some(cookie) = &self.cookie {
            builder = builder.header(http::header::COOKIE, cookie);
        }
        self.sender.ready().await?;
        Ok(self
            .sender
            .send_request(builder.body(Full::new(Bytes::from(body)))?)
            .await?)
    }

    /// One exchange; keeps the Guid and the cookie the answer sets; the answer's body.
    async fn call(&mut self, method: &str, path: &str, body: String) -> Result<Value> {
        let answer = self
            .send(method, &format!("/agentgateway/resource{path}"), body)
            .await?;
        let headers = answer.headers();
        if let Some(guid) = headers
            .get("set-guid")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("JSESSIONID="))
        {
            self.guid = Some(guid.to_owned());
        }
        if let Some(cookie) = headers
            .get(http::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
        {
            self.cookie = Some(cookie.to_owned());
        }
        let body = answer.into_body().collect().await?.to_bytes();
        Ok(serde_json::from_slice(&body)?)
    }

    /// Signs in (a new session: no Guid, no cookie).
    pub(crate) async fn sign_in(&mut self) -> Result<()> {
        let id = self.id;
        self.guid = None;
        self.cookie = None;
        let answer = self
            .call(
                "PUT",
                &format!("/onlineagent/{id}"),
                format!(r#"{{"password":"pw{id}","phonenum":"40{id}"}}"#),
            )
            .await?;
        expect_success(&answer, "sign-in")?;
        if self.guid.is_none() {
            bail!("no Guid on the sign-in answer");
        }
        Ok(())
    }

    /// One event poll: its answer's return code and event type (if any).
    pub(crate) async fn poll(&mut self) -> Result<(RetCode, Option<String>)> {
        let answer = self
            .call("GET", &format!("/agentevent/{}", self.id), String::new())
            .await?;
        let event = answer["event"]["eventType"].as_str().map(str::to_owned);
        Ok((retcode(&answer), event))
    }

    /// Puts the agent in rest for ten minutes with cause 1.
    pub(crate) async fn rest(&mut self) -> Result<()> {
        let answer = self
            .call(
                "POST",
                &format!("/onlineagent/{}/rest/600/1", self.id),
                String::new(),
            )
            .await?;
        expect_success(&answer, "rest")
    }

    /// Polls, pausing after each answer, until `count` events came or one of type `until`.
    pub(crate) async fn events(&mut self, count: usize, until: Option<&str>) -> Result<()> {
        let mut seen = 0;
        loop {
            let (code, event) = self.poll().await?;
            if !code.is_success() {
                bail!("poll answered {}", code.as_str());
            }
            if let Some(event) = event {
                seen += 1;
                if seen == count || until == Some(event.as_str()) {
                    return Ok(());
                }
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
}

fn retcode(answer: &Value) -> RetCode {
    RetCode::parse(answer["retcode"].as_str().unwrap_or_default())
}

fn expect_success(answer: &Value, what: &str) -> Result<()> {
    let code = retcode(answer);
    if code.is_success() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{what} answered {}", code.as_str())).context("the floor's agent")
    }
}
