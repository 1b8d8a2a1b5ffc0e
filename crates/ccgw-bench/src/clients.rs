//! The clients measured: raw hyper + rustls (the floor), plain reqwest, the generated
//! client, `ccgw`, and a new connection per call.

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{GUID, PATH};

/// The names the report looks the clients up by.
pub(crate) const GENERATED: &str = "generated client (ccgw-client)";
pub(crate) const CCGW: &str = "ccgw";

pub(crate) type BoxFut<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// One way of sending the rest request.
pub(crate) trait Client {
    fn name(&self) -> &'static str;
    /// One request on connection/lane `lane` (0 for sequential runs).
    fn call(&self, lane: usize) -> BoxFut<'_>;
}

pub(crate) fn check_body(bytes: &[u8]) -> Result<()> {
    let v: Value = serde_json::from_slice(bytes)?;
    if v["retcode"] != "0" {
        bail!("unexpected answer {v}");
    }
    Ok(())
}

// ---- TLS material and the minimal hyper server ----

pub(crate) struct RawHyper {
    pub(crate) senders: Vec<tokio::sync::Mutex<SendRequest<Empty<Bytes>>>>,
    pub(crate) authority: String,
    /// How the report names it (`raw hyper + rustls` unless [`named`](Self::named)).
    name: &'static str,
}

impl RawHyper {
    pub(crate) async fn connect(
        addr: std::net::SocketAddr,
        tls: Arc<rustls::ClientConfig>,
        lanes: usize,
    ) -> Result<Self> {
        let mut senders = Vec::new();
        for _ in 0..lanes {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?;
            let stream = tokio_rustls::TlsConnector::from(Arc::clone(&tls))
                .connect(name, tcp)
                .await?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            senders.push(tokio::sync::Mutex::new(sender));
        }
        Ok(Self {
            senders,
            authority: addr.to_string(),
            name: "raw hyper + rustls",
        })
    }

    /// The same client under another name in the report.
    pub(crate) fn named(self, name: &'static str) -> Self {
        Self { name, ..self }
    }
}

impl RawHyper {
    /// One POST of `path` with `guid` on lane `lane`; checks the answer's retcode.
    pub(crate) async fn post(&self, lane: usize, path: &str, guid: &str) -> Result<()> {
        let request = http::Request::post(path)
            .header(http::header::HOST, &self.authority)
            .header("guid", guid)
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=UTF-8",
            )
            .header(http::header::CONTENT_LENGTH, "0")
            .body(Empty::<Bytes>::new())?;
        let mut sender = self.senders[lane % self.senders.len()].lock().await;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        drop(sender);
        check_body(&response.into_body().collect().await?.to_bytes())
    }
}

impl Client for RawHyper {
    fn name(&self) -> &'static str {
        self.name
    }

    fn call(&self, lane: usize) -> BoxFut<'_> {
        Box::pin(self.post(lane, PATH, GUID))
    }
}

/// Plain reqwest with its default request path (feature `plain-reqwest`: it turns on
/// reqwest's TLS, which the rest of the workspace does without).
#[cfg(feature = "plain-reqwest")]
pub(crate) struct PlainReqwest {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
}

#[cfg(feature = "plain-reqwest")]
pub(crate) fn plain_reqwest(ca_pem: &str, base: &str) -> Result<PlainReqwest> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    Ok(PlainReqwest {
        http: reqwest::Client::builder()
            .tls_certs_only([ca])
            .tcp_nodelay(true)
            .build()?,
        url: format!("{base}{PATH}"),
    })
}

#[cfg(feature = "plain-reqwest")]
impl Client for PlainReqwest {
    fn name(&self) -> &'static str {
        "plain reqwest"
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(async move {
            let response = self
                .http
                .post(&self.url)
                .header("guid", GUID)
                .header("content-type", "application/json; charset=UTF-8")
                .header("content-length", "0")
                .send()
                .await?;
            check_body(&response.bytes().await?)
        })
    }
}

pub(crate) struct Generated {
    pub(crate) api: ccgw_client::Client,
}

impl Client for Generated {
    fn name(&self) -> &'static str {
        GENERATED
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(async move {
            let time = std::num::NonZeroU64::new(600).context("600")?;
            let answer = self
                .api
                .rest(101, time, 3, Some(false))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if answer.retcode.as_str() != "0" {
                bail!("retcode {}", answer.retcode.as_str());
            }
            Ok(())
        })
    }
}

pub(crate) struct Ccgw {
    pub(crate) agent: ccgw::Agent,
}

impl Client for Ccgw {
    fn name(&self) -> &'static str {
        CCGW
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(async move {
            let duration = ccgw::RestDuration::from_secs(600)?;
            self.agent.rest(duration, ccgw::RestCause::from(3)).await?;
            Ok(())
        })
    }
}

/// Huawei's demo pattern: a new connection (TCP and TLS handshake) per call.
pub(crate) struct PerCall {
    pub(crate) name: &'static str,
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) tls: Arc<rustls::ClientConfig>,
}

impl Client for PerCall {
    fn name(&self) -> &'static str {
        self.name
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(async move {
            let raw = RawHyper::connect(self.addr, Arc::clone(&self.tls), 1).await?;
            raw.post(0, PATH, GUID).await
        })
    }
}

// ---- measuring ----
