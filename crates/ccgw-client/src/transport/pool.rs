//! The connections of one gateway: checked out, opened within the bounds, given back
//! when an answer's body has been read to the end.

use std::fmt;
use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::{TransportConfig, TransportError};

/// The origin every request of a transport goes to.
pub(super) struct Origin {
    pub(super) https: bool,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) authority: HeaderValue,
}

/// One HTTP/1.1 connection and its place among the open ones.
pub(super) struct Conn {
    pub(super) sender: SendRequest<Full<Bytes>>,
    _slot: OwnedSemaphorePermit,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

pub(super) struct Pool {
    pub(super) origin: Origin,
    pub(super) config: TransportConfig,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: Mutex<Vec<Idle>>,
    slots: Arc<Semaphore>,
    /// Turns to open a connection ([`TransportConfig::max_connecting`]).
    connecting: Semaphore,
    returned: Notify,
}

impl Pool {
    pub(super) fn new(
        origin: Origin,
        config: TransportConfig,
        tls: Option<tokio_rustls::TlsConnector>,
    ) -> Self {
        Self {
            origin,
            slots: Arc::new(Semaphore::new(config.max_connections.max(1))),
            connecting: Semaphore::new(config.max_connecting.max(1)),
            config,
            tls,
            idle: Mutex::new(Vec::new()),
            returned: Notify::new(),
        }
    }

    /// The read buffer of each connection, in bytes.
    pub(super) fn read_buffer(&self) -> usize {
        self.config.read_buffer.max(super::MIN_READ_BUFFER)
    }

    /// Connections open now (in use, opening or idle).
    pub(super) fn open_connections(&self) -> usize {
        self.config.max_connections.max(1) - self.slots.available_permits()
    }

    /// A connection: an idle one (unless `fresh_only`), or a new one once a slot is free.
    /// Returns whether it is new.
    pub(super) async fn checkout(
        self: &Arc<Self>,
        deadline: Instant,
        timeout: Duration,
        fresh_only: bool,
    ) -> Result<(Conn, bool), TransportError> {
        loop {
            if !fresh_only && let Some(conn) = self.take_idle() {
                return Ok((conn, false));
            }
            let slot = if fresh_only {
                // Close an idle connection to make room rather than wait for one.
                match Arc::clone(&self.slots).try_acquire_owned() {
                    Ok(slot) => Some(slot),
                    Err(_) => self.take_idle().map(|Conn { _slot, .. }| _slot),
                }
            } else {
                Arc::clone(&self.slots).try_acquire_owned().ok()
            };
            if let Some(slot) = slot {
                return Ok((self.connect(slot, deadline, timeout).await?, true));
            }
            let waited = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    () = self.returned.notified() => None,
                    slot = Arc::clone(&self.slots).acquire_owned() => slot.ok(),
                }
            })
            .await;
            match waited {
                Err(_) => {
                    return Err(TransportError::TimeoutBeforeSend {
                        timeout,
                        waiting_for: "a free connection (all in use)",
                    });
                }
                Ok(Some(slot)) => return Ok((self.connect(slot, deadline, timeout).await?, true)),
                Ok(None) => {}
            }
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(Idle { conn, since }) = idle.pop() {
            let expired = self
                .config
                .idle_timeout
                .is_some_and(|limit| since.elapsed() > limit);
            if !expired && !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    fn give_back(&self, conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.config.max_idle {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
        drop(idle);
        self.returned.notify_one();
    }

    /// Opens a connection within the connect timeout. The opening (resolution, TCP, TLS
    /// handshake) is boxed: its state is large and needed only while a connection opens,
    /// whereas every request's future, and so every idle agent's long poll, would
    /// otherwise carry room for it.
    async fn connect(
        &self,
        slot: OwnedSemaphorePermit,
        deadline: Instant,
        request_timeout: Duration,
    ) -> Result<Conn, TransportError> {
        let limit = self.config.connect_timeout;
        // The message names the time that ran out: the request's own when it is the
        // shorter one.
        let (timeout, waiting_for) = if request_timeout < limit {
            (
                request_timeout,
                "a connection to the gateway (the request's timeout)",
            )
        } else {
            (limit, "a connection to the gateway (the connect timeout)")
        };
        // A turn first, within the request's time: a burst of thousands of requests
        // opens its connections a few at a time instead of overflowing the gateway's
        // listen queue (a dropped SYN is sent again only after a second).
        let Ok(Ok(_turn)) = tokio::time::timeout_at(deadline, self.connecting.acquire()).await
        else {
            return Err(TransportError::TimeoutBeforeSend {
                timeout: request_timeout,
                waiting_for: "a turn to open a connection to the gateway (the request's timeout)",
            });
        };
        let connect_deadline = deadline.min(super::after(limit));
        tokio::time::timeout_at(connect_deadline, Box::pin(self.open(slot)))
            .await
            .unwrap_or(Err(TransportError::TimeoutBeforeSend {
                timeout,
                waiting_for,
            }))
    }

    async fn open(&self, slot: OwnedSemaphorePermit) -> Result<Conn, TransportError> {
        let origin = &self.origin;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((origin.host.as_str(), origin.port))
            .await
            .map_err(TransportError::connect)?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| match last {
            Some(e) => TransportError::connect(e),
            None => TransportError::connect(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the host name resolved to no address",
            )),
        })?;
        let _ = tcp.set_nodelay(true);
        let mut http1 = hyper::client::conn::http1::Builder::new();
        http1
            .read_buf_exact_size(Some(self.read_buffer()))
            .writev(false);
        let sender = match &self.tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                    .map_err(|e| TransportError::Tls(Arc::new(e)))?;
                let stream = tls.connect(name, tcp).await.map_err(handshake_error)?;
                http1_over(&http1, stream).await?
            }
            None => http1_over(&http1, tcp).await?,
        };
        Ok(Conn {
            sender,
            _slot: slot,
        })
    }
}

/// An HTTP/1.1 connection over `stream`, driven by a task of its own.
async fn http1_over<S>(
    http1: &hyper::client::conn::http1::Builder,
    stream: S,
) -> Result<SendRequest<Full<Bytes>>, TransportError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1
        .handshake(TokioIo::new(stream))
        .await
        .map_err(TransportError::connect)?;
    tokio::spawn(conn);
    Ok(sender)
}

/// A handshake failure is a TLS failure when rustls says so; a connection lost during
/// the handshake is a failure to connect.
fn handshake_error(e: std::io::Error) -> TransportError {
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        TransportError::Tls(Arc::new(e))
    } else {
        TransportError::connect(e)
    }
}

/// An answer's body: bounded by the request's deadline; gives its connection back to
/// the pool when read to the end (a body dropped earlier closes it).
pub struct PooledBody {
    inner: Incoming,
    conn: Option<Conn>,
    pool: Arc<Pool>,
    deadline: Instant,
    /// The deadline's timer, made only once the body has to wait (an answer this small
    /// usually arrives with its head).
    sleep: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
}

impl fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBody").finish_non_exhaustive()
    }
}

impl PooledBody {
    pub(super) fn new(
        inner: Incoming,
        conn: Conn,
        pool: &Arc<Pool>,
        deadline: Instant,
        timeout: Duration,
    ) -> Self {
        Self {
            inner,
            conn: Some(conn),
            pool: Arc::clone(pool),
            deadline,
            sleep: None,
            timeout,
        }
    }

    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.conn = None;
                Poll::Ready(Some(Err(TransportError::unknown(
                    "the answer was cut off before it was complete",
                    e,
                ))))
            }
            Poll::Pending => match this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(this.deadline)))
                .as_mut()
                .poll(cx)
            {
                Poll::Ready(()) => {
                    this.conn = None;
                    Poll::Ready(Some(Err(TransportError::OutcomeUnknown {
                        reason: format!("the answer did not complete within {:?}", this.timeout),
                        source: None,
                    })))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
