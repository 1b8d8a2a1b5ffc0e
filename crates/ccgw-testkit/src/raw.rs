//! A raw HTTPS client for tests that check the simulator independently of the
//! project's client: hyper's HTTP/1.1 connection API over tokio-rustls, a new
//! connection per request, nothing added to what the test sends.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

/// What came back: status, headers and the whole body.
#[derive(Debug)]
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl RawAnswer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The Guid of a `Set-GUID: JSESSIONID=<guid>` header, if any.
    pub fn set_guid(&self) -> Option<String> {
        self.headers
            .get("set-guid")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("JSESSIONID="))
            .map(str::to_owned)
    }
}

/// Sends requests to one `http://` or `https://` origin.
#[derive(Clone)]
pub struct RawClient {
    authority: String,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl RawClient {
    /// A client for `base_url` (`https://127.0.0.1:port` trusting only `ca_pem`, or
    /// `http://…` with `None`).
    pub fn new(base_url: &str, ca_pem: Option<&str>) -> Self {
        let authority = base_url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let tls = ca_pem.map(|pem| {
            let config =
                crate::client_config_trusting(pem, rustls::crypto::ring::default_provider())
                    .expect("the CA PEM");
            tokio_rustls::TlsConnector::from(Arc::new(config))
        });
        Self { authority, tls }
    }

    /// Sends `method path` with `headers` and `body`; fails with the error's text
    /// (`TimedOut` when `timeout` elapsed first).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
        timeout: Duration,
    ) -> Result<RawAnswer, String> {
        tokio::time::timeout(timeout, self.exchange(method, path, headers, body))
            .await
            .map_err(|_| "TimedOut".to_owned())?
            .map_err(|e| format!("{e:?}"))
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<RawAnswer, Box<dyn std::error::Error + Send + Sync>> {
        let tcp = tokio::net::TcpStream::connect(&self.authority).await?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.authority);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = match &self.tls {
            Some(tls) => {
                let host = self.authority.split(':').next().unwrap_or_default();
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())?;
                let stream = tls.connect(name, tcp).await?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                sender.send_request(request).await?
            }
            None => {
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::spawn(conn);
                sender.send_request(request).await?
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(RawAnswer {
            status,
            headers,
            body,
        })
    }
}
