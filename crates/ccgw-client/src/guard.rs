//! Guards on what the gateway answers, applied in the `exec` hook before progenitor
//! reads a response: the body is capped (a gateway or proxy that streams megabytes is
//! cut off after the limit, not buffered), and a success answer must be JSON.
//!
//! A rejection surfaces as a body error of the generated call whose source chain holds a
//! [`ResponseRejected`]; the `ccgw` crate turns it into its typed error.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use reqwest::ResponseBuilderExt as _;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};

/// Default cap on a response body: 64 KiB (a rest answer is well under 1 KiB).
pub const DEFAULT_RESPONSE_LIMIT: usize = 64 * 1024;

/// Why a response was refused before its body was handed to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseRejected {
    /// The body is longer than the configured limit (announced or streamed).
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A success status with a content type that is not JSON.
    NotJson {
        /// The `Content-Type` the server sent, if any (truncated to 100 characters).
        content_type: Option<String>,
    },
}

impl fmt::Display for ResponseRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => {
                write!(f, "response body is larger than the {limit}-byte limit")
            }
            Self::NotJson {
                content_type: Some(ct),
            } => write!(f, "response is not JSON (content type {ct:?})"),
            Self::NotJson { content_type: None } => {
                f.write_str("response is not JSON (no content type)")
            }
        }
    }
}

impl StdError for ResponseRejected {}

impl ResponseRejected {
    /// Finds a rejection in the source chain of `error` (e.g. a `reqwest::Error`).
    pub fn find_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ResponseRejected> {
        find_in_chain(error)
    }
}

/// The first `T` in the source chain of `error`, `error` included.
pub(crate) fn find_in_chain<'a, T: StdError + 'static>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Whether a `Content-Type` value denotes JSON (`application/json`, `…+json`, any parameters).
pub fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let starts = |prefix: &str| {
        essence
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &str| {
        essence
            .len()
            .checked_sub(suffix.len())
            .and_then(|at| essence.get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    essence.eq_ignore_ascii_case("application/json") || (starts("application/") && ends("+json"))
}

/// The answer progenitor reads: `response` with its body capped at `limit` and, for a
/// 2xx status, required to be JSON; `url` is the request's (what
/// `reqwest::Response::url` reports), so no URL is parsed for the conversion.
pub(crate) fn guard<B>(
    response: http::Response<B>,
    url: reqwest::Url,
    limit: usize,
) -> reqwest::Response
where
    B: HttpBody<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut reject = None;
    let headers = response.headers();
    if response.status().is_success() {
        let content_type = headers.get(CONTENT_TYPE);
        let json = content_type
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
            .is_some_and(is_json_content_type);
        if !json {
            reject = Some(ResponseRejected::NotJson {
                content_type: content_type.map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .chars()
                        .take(100)
                        .collect()
                }),
            });
        }
    }
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        reject = Some(ResponseRejected::TooLarge { limit });
    }
    let (mut parts, inner) = response.into_parts();
    // reqwest keeps a response's URL in an extension only its builder can set; without
    // it, the conversion below parses a placeholder URL on every answer.
    if let Ok(carrier) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(carrier.into_parts().0.extensions);
    }
    let body = GuardedBody {
        inner,
        limit,
        seen: 0,
        reject,
    };
    reqwest::Response::from(http::Response::from_parts(parts, reqwest::Body::wrap(body)))
}

/// A body that fails with [`ResponseRejected`] instead of yielding data past the limit.
struct GuardedBody<B> {
    inner: B,
    limit: usize,
    seen: usize,
    reject: Option<ResponseRejected>,
}

impl<B> HttpBody for GuardedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(reject) = self.reject.take() {
            return Poll::Ready(Some(Err(Box::new(reject))));
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            self.seen = self.seen.saturating_add(data.len());
            if self.seen > self.limit {
                let limit = self.limit;
                return Poll::Ready(Some(Err(Box::new(ResponseRejected::TooLarge { limit }))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }

    fn is_end_stream(&self) -> bool {
        self.reject.is_none() && self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::Full;

    use super::*;

    const LIMIT: usize = 64;

    /// A one-chunk body that counts how often it is polled.
    struct Counted {
        inner: Full<Bytes>,
        polls: Arc<AtomicUsize>,
    }

    impl HttpBody for Counted {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            Pin::new(&mut self.inner).poll_frame(cx)
        }

        fn size_hint(&self) -> SizeHint {
            self.inner.size_hint()
        }

        fn is_end_stream(&self) -> bool {
            self.inner.is_end_stream()
        }
    }

    /// A 200 JSON answer of `len` bytes, announcing its length or not; the counter
    /// tells how often the guard read the body underneath.
    fn answer(len: usize, announce: bool) -> (reqwest::Response, Arc<AtomicUsize>) {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut builder = http::Response::builder().header(CONTENT_TYPE, "application/json");
        if announce {
            builder = builder.header(CONTENT_LENGTH, len);
        }
        let body = Counted {
            inner: Full::new(Bytes::from(vec![b' '; len])),
            polls: Arc::clone(&polls),
        };
        let url = reqwest::Url::parse("https://gateway.test/x").expect("url");
        (
            guard(builder.body(body).expect("response"), url, LIMIT),
            polls,
        )
    }

    fn rejection(err: &reqwest::Error) -> Option<&ResponseRejected> {
        ResponseRejected::find_in(err)
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_limit_passes_announced_or_streamed() {
        for announce in [true, false] {
            let (response, _) = answer(LIMIT, announce);
            let body = response.bytes().await.expect("at the limit");
            assert_eq!(body.len(), LIMIT, "announce: {announce}");
        }
    }

    #[tokio::test]
    async fn a_body_one_byte_over_the_limit_is_refused_announced_or_streamed() {
        for announce in [true, false] {
            let (response, _) = answer(LIMIT + 1, announce);
            let err = response.bytes().await.expect_err("over the limit");
            assert_eq!(
                rejection(&err),
                Some(&ResponseRejected::TooLarge { limit: LIMIT }),
                "announce: {announce}"
            );
        }
    }

    #[tokio::test]
    async fn an_announced_oversized_body_is_refused_before_any_of_it_is_read() {
        let (response, polls) = answer(LIMIT + 1, true);
        response.bytes().await.expect_err("over the limit");
        assert_eq!(polls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_length_of_a_guarded_answer_is_the_one_underneath() {
        let (response, _) = answer(LIMIT, false);
        assert_eq!(response.content_length(), Some(LIMIT as u64));
    }

    #[test]
    fn a_pending_rejection_keeps_even_an_empty_body_open() {
        // A reader may skip polling a body that says it has ended: an empty 200 that is
        // not JSON must still be read, so its rejection is seen.
        let body = |reject| GuardedBody {
            inner: Full::new(Bytes::new()),
            limit: LIMIT,
            seen: 0,
            reject,
        };
        assert!(body(None).is_end_stream());
        let not_json = ResponseRejected::NotJson { content_type: None };
        assert!(!body(Some(not_json)).is_end_stream());
        let open = GuardedBody {
            inner: Full::new(Bytes::from_static(b"{}")),
            limit: LIMIT,
            seen: 0,
            reject: None,
        };
        assert!(!open.is_end_stream(), "a body with data left has not ended");
    }

    #[test]
    fn rejections_say_what_was_refused() {
        assert_eq!(
            ResponseRejected::TooLarge { limit: 512 }.to_string(),
            "response body is larger than the 512-byte limit"
        );
        assert_eq!(
            ResponseRejected::NotJson {
                content_type: Some("text/html".into())
            }
            .to_string(),
            r#"response is not JSON (content type "text/html")"#
        );
        assert_eq!(
            ResponseRejected::NotJson { content_type: None }.to_string(),
            "response is not JSON (no content type)"
        );
    }

    #[test]
    fn json_content_types() {
        for yes in [
            "application/json",
            "application/json;charset=UTF-8",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json_content_type(yes), "{yes}");
        }
        for no in [
            "text/html",
            "text/plain; charset=utf-8",
            "",
            "application/jsonp",
            "json",
        ] {
            assert!(!is_json_content_type(no), "{no}");
        }
    }
}
