//! Faults from a loopback server, each mapped to its typed error within the configured
//! timeout plus a small margin, never a panic. Rest is not idempotent: whatever may have
//! reached the gateway is "outcome unknown", and nothing is ever retried.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{is_outcome_unknown, is_retry_safe};
use ccgw::Error;
use ccgw_testkit::{Reply, TestServer};
use common::{SENTINEL, WAIT, agent, assert_error_clean, plain_client, rest};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);
/// Scheduling slack on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(1500);

/// Runs rest against `server` and returns the error and how long it took.
async fn fault(server: &TestServer) -> (Error, Duration) {
    let client = plain_client(&server.base_url(), CONNECT_TIMEOUT, REQUEST_TIMEOUT);
    let started = Instant::now();
    let err = rest(&agent(&client))
        .await
        .expect_err("the fault must be an error");
    let took = started.elapsed();
    assert!(took <= REQUEST_TIMEOUT + MARGIN, "took {took:?}: {err:?}");
    assert_error_clean(&err);
    (err, took)
}

/// Asserts exactly one request reached the server (the client never retries).
async fn assert_sent_once(server: &mut TestServer) {
    assert!(
        server.next_request(WAIT).await.is_some(),
        "the request reached the server"
    );
    assert!(
        server
            .next_request(Duration::from_millis(300))
            .await
            .is_none(),
        "rest must never be retried"
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error_and_retry_safe() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }; // closed again: connecting is refused
    let client = plain_client(
        &format!("http://127.0.0.1:{port}"),
        CONNECT_TIMEOUT,
        REQUEST_TIMEOUT,
    );
    let started = Instant::now();
    let err = rest(&agent(&client)).await.expect_err("refused");
    assert!(started.elapsed() <= CONNECT_TIMEOUT + MARGIN);
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert!(is_retry_safe(&err));
    assert_error_clean(&err);
}

#[tokio::test]
async fn a_full_accept_queue_is_a_timeout_before_sending() {
    // A listener that never accepts, with its accept queue filled: further connection
    // attempts get no answer, so the connect timeout fires.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let client = plain_client(&format!("http://{addr}"), CONNECT_TIMEOUT, REQUEST_TIMEOUT);
    let started = Instant::now();
    let err = rest(&agent(&client)).await.expect_err("cannot connect");
    let took = started.elapsed();
    assert!(matches!(err, Error::TimeoutBeforeSend { .. }), "{err:?}");
    assert!(
        took >= CONNECT_TIMEOUT && took <= CONNECT_TIMEOUT + MARGIN,
        "took {took:?}"
    );
    assert!(is_retry_safe(&err));
    assert_error_clean(&err);
    drop((listener, fillers));
}

#[tokio::test]
async fn no_answer_is_outcome_unknown_after_the_request_timeout() {
    let mut server = TestServer::start(Reply::Stall).await.expect("server");
    let (err, took) = fault(&server).await;
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert!(is_outcome_unknown(&err) && !is_retry_safe(&err));
    assert!(
        took >= REQUEST_TIMEOUT,
        "gave up after {took:?}, before the timeout"
    );
    assert_sent_once(&mut server).await;
}

#[tokio::test]
async fn a_reset_after_the_request_is_outcome_unknown() {
    let mut server = TestServer::start(Reply::Reset).await.expect("server");
    let (err, _) = fault(&server).await;
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert!(!is_retry_safe(&err));
    assert_sent_once(&mut server).await;
}

#[tokio::test]
async fn an_html_500_page_is_an_unexpected_status_with_a_short_excerpt() {
    // A proxy page that echoes the request headers, Guid included.
    let page = format!(
        "<html><body><h1>500 Internal Server Error</h1><pre>guid: {SENTINEL}</pre>{}</body></html>",
        "x".repeat(5000)
    );
    let mut server = TestServer::start(Reply::with(
        "500 Internal Server Error",
        "text/html",
        page.as_bytes(),
    ))
    .await
    .expect("server");
    let (err, _) = fault(&server).await;
    match &err {
        Error::UnexpectedStatus {
            status,
            body_excerpt,
        } => {
            assert_eq!(status.as_u16(), 500);
            assert!(
                body_excerpt.starts_with("<html><body><h1>500 Internal Server Error</h1>"),
                "{body_excerpt}"
            );
            assert!(body_excerpt.contains("guid: <redacted>"), "{body_excerpt}");
            assert!(
                body_excerpt.chars().count() <= 201,
                "excerpt is capped: {}",
                body_excerpt.len()
            );
        }
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    assert_sent_once(&mut server).await;
}

#[tokio::test]
async fn truncated_json_is_a_malformed_response() {
    let body = br#"{"message":"success","retc"#;
    let mut server = TestServer::start(Reply::with("200 OK", "application/json", body))
        .await
        .expect("server");
    let (err, _) = fault(&server).await;
    match &err {
        Error::MalformedResponse { body_excerpt, .. } => {
            assert_eq!(body_excerpt, r#"{"message":"success","retc"#)
        }
        other => panic!("expected MalformedResponse, got {other:?}"),
    }
    assert!(!is_retry_safe(&err));
    assert_sent_once(&mut server).await;
}

#[tokio::test]
async fn a_body_cut_off_mid_way_is_outcome_unknown() {
    let bytes = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"retcode\":\"0\"".to_vec();
    let mut server = TestServer::start(Reply::RawThenClose(bytes))
        .await
        .expect("server");
    let (err, _) = fault(&server).await;
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert_sent_once(&mut server).await;
}

#[tokio::test]
async fn a_10_mb_body_is_too_large() {
    let body = vec![b' '; 10 * 1024 * 1024];
    let mut server = TestServer::start(Reply::with("200 OK", "application/json", &body))
        .await
        .expect("server");
    let (err, _) = fault(&server).await;
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 65_536 }),
        "{err:?}"
    );
    assert_sent_once(&mut server).await;
}

#[tokio::test]
async fn a_10_mb_chunked_body_is_too_large() {
    // No Content-Length: the cap must hold while streaming.
    let mut bytes =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..160 {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(&chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    let mut server = TestServer::start(Reply::Raw(bytes)).await.expect("server");
    let (err, _) = fault(&server).await;
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 65_536 }),
        "{err:?}"
    );
    assert_sent_once(&mut server).await;
}

#[tokio::test]
async fn a_smaller_configured_limit_applies() {
    let server = TestServer::start(Reply::Json(format!(
        r#"{{"retcode":"0","message":"{}"}}"#,
        "m".repeat(600)
    )))
    .await
    .expect("server");
    let client = ccgw::Config {
        url: Some(String::from(&server.base_url())),
        allow_http: true,
        response_limit: 512,
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("client");
    let err = rest(&agent(&client)).await.expect_err("over the limit");
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 512 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_guid_stays_home() {
    let mut elsewhere = TestServer::start(Reply::envelope("0", Some("{}")))
        .await
        .expect("target");
    let location = format!(
        "{}/agentgateway/resource/onlineagent/101/rest/600/3?prolong=false",
        elsewhere.base_url()
    );
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
    );
    let mut server = TestServer::start(Reply::Raw(redirect.into_bytes()))
        .await
        .expect("server");
    let (err, _) = fault(&server).await;
    match &err {
        Error::UnexpectedStatus { status, .. } => assert_eq!(status.as_u16(), 307),
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    assert_sent_once(&mut server).await;
    assert!(
        elsewhere
            .next_request(Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(
        elsewhere.connections(),
        0,
        "the redirect target was never contacted"
    );
}

#[tokio::test]
async fn a_success_status_with_a_non_json_content_type_is_refused() {
    for content_type in ["text/plain", "text/html; charset=utf-8"] {
        let body = br#"{"message":"success","retcode":"0","result":{}}"#;
        let mut server = TestServer::start(Reply::with("200 OK", content_type, body))
            .await
            .expect("server");
        let (err, _) = fault(&server).await;
        match &err {
            Error::UnexpectedContentType {
                content_type: Some(ct),
            } => assert_eq!(ct, content_type),
            other => panic!("expected UnexpectedContentType, got {other:?}"),
        }
        assert_sent_once(&mut server).await;
    }
}

#[tokio::test]
async fn a_404_from_routing_is_an_unexpected_status() {
    let mut server = TestServer::start(Reply::with(
        "404 Not Found",
        "text/html",
        b"<html>Could not find resource</html>",
    ))
    .await
    .expect("server");
    let (err, _) = fault(&server).await;
    assert!(
        matches!(&err, Error::UnexpectedStatus { status, .. } if status.as_u16() == 404),
        "{err:?}"
    );
    assert_sent_once(&mut server).await;
}

/// An event poll whose answer is lost may have carried a rotated Guid: the pump asks for
/// the current one (`updateGuid`) and, while that answer is lost too, asks again instead
/// of polling, which could rotate the Guid once more.
#[tokio::test]
async fn after_a_lost_poll_answer_the_pump_asks_for_the_guid_until_it_has_it() {
    let mut server = TestServer::start(Reply::Reset).await.expect("server");
    let client = plain_client(&server.base_url(), CONNECT_TIMEOUT, REQUEST_TIMEOUT);
    let agent = agent(&client);
    let _events = agent.events();
    let mut paths = Vec::new();
    for _ in 0..3 {
        let request = server.next_request(WAIT).await.expect("a request");
        paths.push(
            request
                .target()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let [poll, ask, ask_again] = &paths[..] else {
        unreachable!("three requests")
    };
    assert!(
        poll.starts_with("/agentgateway/resource/agentevent/"),
        "{paths:?}"
    );
    assert!(ask.ends_with("/updateGuid"), "{paths:?}");
    assert_eq!(ask_again, ask, "{paths:?}");
}

/// The gateway closes a kept-alive connection right after its answer: the next call,
/// which finds that connection in the pool, goes out once more on a new connection —
/// not an error, and not sent twice.
#[tokio::test]
async fn a_pooled_connection_the_gateway_closed_is_not_an_error() {
    let body = r#"{"message":"","retcode":"0"}"#;
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut server = TestServer::start(Reply::RawThenClose(answer.into_bytes()))
        .await
        .expect("server");
    let client = plain_client(&server.base_url(), CONNECT_TIMEOUT, REQUEST_TIMEOUT);
    let agent = agent(&client);
    for call in 0..3 {
        rest(&agent)
            .await
            .unwrap_or_else(|e| panic!("call {call}: {e:?}"));
    }
    for _ in 0..3 {
        server.next_request(WAIT).await.expect("each call sent");
    }
    assert_eq!(server.pending_requests(), 0, "nothing sent twice");
    assert_eq!(server.connections(), 3, "a new connection for each call");
}
