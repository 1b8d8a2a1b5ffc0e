//! Helpers for the workspace's end-to-end tests.
//!
//! [`CaptureServer`] is a raw HTTP/1.1 listener on loopback that records the exact bytes
//! of every request it receives and answers each with a fixed JSON body. It parses only
//! what it must (the head, then `Content-Length` bytes of body), so the client's wire
//! format is observed, not reconstructed by an HTTP library.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Longest request head accepted; anything longer ends the connection.
const MAX_HEAD: usize = 64 * 1024;
/// How long the server waits for bytes of a request before giving up on a connection.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A loopback listener that records requests and answers `200` with a fixed body.
#[derive(Debug)]
pub struct CaptureServer {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<RawRequest>,
    connections: Arc<AtomicUsize>,
}

impl CaptureServer {
    /// Starts on `127.0.0.1:<ephemeral>`; every request is answered with `json_body`.
    pub async fn start(json_body: &'static str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, requests) = mpsc::unbounded_channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_connection(stream, tx.clone(), json_body));
            }
        });
        Ok(Self {
            addr,
            requests,
            connections,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next recorded request, or `None` if none arrives within `wait`.
    pub async fn next_request(&mut self, wait: Duration) -> Option<RawRequest> {
        tokio::time::timeout(wait, self.requests.recv())
            .await
            .ok()
            .flatten()
    }

    /// How many TCP connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    tx: mpsc::UnboundedSender<RawRequest>,
    json_body: &'static str,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        if tx.send(request).is_err() {
            return;
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json;charset=UTF-8\r\ncontent-length: {}\r\n\r\n{json_body}",
            json_body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request (head + `Content-Length` body) from `stream`; `buf` keeps bytes
/// that belong to the next request on a kept-alive connection.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<RawRequest> {
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD || !fill(stream, buf).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut request = RawRequest {
        head,
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

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    match tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        _ => false,
    }
}
