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
    use super::*;

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
