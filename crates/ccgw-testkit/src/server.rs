//! A raw HTTP/1.1 test server on loopback, plain or TLS. It parses only what it must (the
//! head, then `Content-Length` bytes of body), so the client's wire format is observed,
//! not reconstructed by an HTTP library, and each answer is exactly what the test says.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Longest request head accepted; anything longer ends the connection.
const MAX_HEAD: usize = 64 * 1024;
/// How long the server waits for bytes of a request before giving up on a connection.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a [`Reply::Stall`] holds a connection (tests end long before).
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// One request exactly as it arrived.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The head, from the request line to the empty line (exclusive), as text.
    pub head: String,
    /// The body bytes announced by `Content-Length` (empty without it).
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The request line, e.g. `POST /path?x=1 HTTP/1.1`.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// The request target (path and query) of the request line.
    pub fn target(&self) -> &str {
        self.request_line().split(' ').nth(1).unwrap_or_default()
    }

    /// Header lines as `(lower-case name, value)`, in wire order.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect()
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        self.headers()
            .into_iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .collect()
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `200 OK`, `Content-Type: application/json;charset=UTF-8`, this body.
    Json(String),
    /// These exact bytes (status line, headers and body), then keep the connection.
    Raw(Vec<u8>),
    /// These exact bytes, then close the connection (e.g. a body shorter than announced).
    RawThenClose(Vec<u8>),
    /// Never answer; hold the connection open.
    Stall,
    /// Close the connection abortively (TCP RST) without answering.
    Reset,
    /// Hold the answer until the gate is notified, then answer as the inner reply says
    /// (the request is recorded first): orders an answer after other requests.
    After(Arc<tokio::sync::Notify>, Box<Reply>),
}

impl Reply {
    /// A complete response with `status` (e.g. `"500 Internal Server Error"`), a content
    /// type and a body.
    pub fn with(status: &str, content_type: &str, body: &[u8]) -> Reply {
        let mut bytes = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        Reply::Raw(bytes)
    }

    /// The gateway's envelope with `retcode` and `result` given as JSON text (`None`
    /// leaves `result` out).
    pub fn envelope(retcode: &str, result: Option<&str>) -> Reply {
        let result = result
            .map(|r| format!(r#""result":{r},"#))
            .unwrap_or_default();
        Reply::Json(format!(r#"{{{result}"message":"","retcode":"{retcode}"}}"#))
    }
}

type Handler = Arc<dyn Fn(&RawRequest) -> Reply + Send + Sync>;

/// A loopback listener that records requests and answers each as its handler says.
pub struct TestServer {
    addr: SocketAddr,
    scheme: &'static str,
    requests: mpsc::UnboundedReceiver<RawRequest>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Plain HTTP on `127.0.0.1:<ephemeral>`, answering every request with `reply`.
    pub async fn start(reply: Reply) -> std::io::Result<Self> {
        Self::start_with(move |_| reply.clone(), None).await
    }

    /// HTTPS with `tls` on `127.0.0.1:<ephemeral>`, answering every request with `reply`.
    pub async fn start_tls(reply: Reply, tls: rustls::ServerConfig) -> std::io::Result<Self> {
        Self::start_with(move |_| reply.clone(), Some(tls)).await
    }

    /// Plain or TLS, answering each request with `handler(request)`.
    pub async fn start_with(
        handler: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static,
        tls: Option<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, requests) = mpsc::unbounded_channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let handler: Handler = Arc::new(handler);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let (tx, handler, acceptor) = (tx.clone(), Arc::clone(&handler), acceptor.clone());
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    match acceptor {
                        None => serve(stream, tx, handler).await,
                        Some(acceptor) => {
                            // A failed handshake is the client's business (that is what
                            // TLS tests provoke); the connection just ends.
                            if let Ok(Ok(tls)) =
                                tokio::time::timeout(READ_TIMEOUT, acceptor.accept(stream)).await
                            {
                                serve(tls, tx, handler).await;
                            }
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            scheme,
            requests,
            connections,
            task,
        })
    }

    /// `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `https://<host>:<port>` for another host name that resolves to loopback
    /// (`localhost`), to test host-name verification.
    pub fn base_url_for(&self, host: &str) -> String {
        format!("{}://{host}:{}", self.scheme, self.addr.port())
    }

    /// The next recorded request, or `None` if none arrives within `wait`.
    pub async fn next_request(&mut self, wait: Duration) -> Option<RawRequest> {
        tokio::time::timeout(wait, self.requests.recv())
            .await
            .ok()
            .flatten()
    }

    /// How many requests were recorded and not yet taken with [`next_request`](Self::next_request).
    pub fn pending_requests(&self) -> usize {
        self.requests.len()
    }

    /// How many TCP connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Streams whose TCP socket can be reset.
trait Abortable {
    fn abort_on_close(&self);
}

impl Abortable for TcpStream {
    fn abort_on_close(&self) {
        let _ = self.set_zero_linger();
    }
}

impl Abortable for tokio_rustls::server::TlsStream<TcpStream> {
    fn abort_on_close(&self) {
        let _ = self.get_ref().0.set_zero_linger();
    }
}

async fn serve<S>(mut stream: S, tx: mpsc::UnboundedSender<RawRequest>, handler: Handler)
where
    S: AsyncRead + AsyncWrite + Unpin + Abortable,
{
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let mut reply = handler(&request);
        if tx.send(request).is_err() {
            return;
        }
        while let Reply::After(gate, then) = reply {
            gate.notified().await;
            reply = *then;
        }
        let bytes = match reply {
            Reply::Json(body) => format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json;charset=UTF-8\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
            Reply::Raw(bytes) => bytes,
            Reply::RawThenClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.flush().await;
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Stall => {
                tokio::time::sleep(STALL_LIMIT).await;
                return;
            }
            Reply::Reset => {
                stream.abort_on_close();
                return;
            }
            Reply::After(..) => unreachable!("unwrapped above"),
        };
        if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}

/// Reads one request (head + `Content-Length` body); `buf` keeps bytes that belong to
/// the next request on a kept-alive connection.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Option<RawRequest> {
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD || !fill(stream, buf).await {
            return None;
        }
    };
    let mut request = RawRequest {
        head: String::from_utf8_lossy(&buf[..head_end]).into_owned(),
        body: Vec::new(),
    };
    let length = request
        .header_values("content-length")
        .first()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        if !fill(stream, buf).await {
            return None;
        }
    }
    request.body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Some(request)
}

async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    match tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        _ => false,
    }
}
