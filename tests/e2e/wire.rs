//! The generated client plus its hooks, observed on the wire: the bytes must be exactly
//! the request the gateway's interface page documents.

use std::num::NonZeroU64;
use std::time::Duration;

use ccgw_client::transport::{DEFAULT_READ_BUFFER, Transport, TransportConfig, TransportError};
use ccgw_client::{Client, Error, Session};
use ccgw_testkit::{Reply, TestServer};

const SUCCESS: &str = r#"{"result":{},"message":"success","retcode":"0"}"#;
const WAIT: Duration = Duration::from_secs(5);

/// The generated client as `ccgw` sends with it: over the project's transport.
fn client(server: &TestServer, session: &Session) -> Client {
    client_on(server, session, TransportConfig::new(None))
}

/// The generated client over a transport configured as `config` says.
fn client_on(server: &TestServer, session: &Session, config: TransportConfig) -> Client {
    let transport = Transport::new(&server.base_url(), config).expect("transport");
    let session = session.clone().with_transport(transport);
    Client::new_with_client(&server.base_url(), reqwest::Client::new(), session)
}

/// A session holding `guid`.
fn session_with(guid: &str) -> Session {
    let session = Session::new();
    session.set_guid(guid).expect("guid");
    session
}

fn seconds(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).expect("non-zero")
}

#[tokio::test]
async fn rest_request_bytes_are_exactly_the_documented_request() {
    let mut server = TestServer::start(Reply::Json(SUCCESS.to_owned()))
        .await
        .expect("server");
    let session = session_with("G-WIRE-1.AgentGateway0");

    let answer = client(&server, &session)
        .rest(101, seconds(600), 3, Some(false))
        .await
        .expect("rest succeeds");
    assert_eq!(answer.retcode.as_str(), "0");
    assert_eq!(answer.message, "success");

    let req = server.next_request(WAIT).await.expect("a request arrived");
    assert_eq!(
        req.request_line(),
        "POST /agentgateway/resource/onlineagent/101/rest/600/3?prolong=false HTTP/1.1"
    );
    assert_eq!(
        req.header_values("content-type"),
        ["application/json; charset=UTF-8"]
    );
    assert_eq!(req.header_values("guid"), ["G-WIRE-1.AgentGateway0"]);
    assert_eq!(req.header_values("content-length"), ["0"]);
    assert!(req.body.is_empty(), "body must be empty: {:?}", req.body);
    let names: Vec<String> = req.headers().into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.contains(&"api-version".to_owned()),
        "api-version must not be sent: {names:?}"
    );
    assert!(
        !names.contains(&"transfer-encoding".to_owned()),
        "{names:?}"
    );
    // Every header is one the contract needs or HTTP itself requires.
    for name in &names {
        assert!(
            ["accept", "content-type", "content-length", "guid", "host"].contains(&name.as_str()),
            "unexpected header {name:?} in\n{}",
            req.head
        );
    }
}

#[tokio::test]
async fn prolong_true_is_sent_as_query() {
    let mut server = TestServer::start(Reply::Json(SUCCESS.to_owned()))
        .await
        .expect("server");
    let session = session_with("G-2");
    client(&server, &session)
        .rest(999999, seconds(86399), 255, Some(true))
        .await
        .expect("rest succeeds");
    let req = server.next_request(WAIT).await.expect("a request arrived");
    assert_eq!(
        req.request_line(),
        "POST /agentgateway/resource/onlineagent/999999/rest/86399/255?prolong=true HTTP/1.1"
    );
}

/// Dynamic authentication: a rotated Guid is used by the very next request, on the same
/// client and the same pooled connection.
#[tokio::test]
async fn rotated_guid_takes_effect_without_rebuilding_the_client() {
    let mut server = TestServer::start(Reply::Json(SUCCESS.to_owned()))
        .await
        .expect("server");
    let session = session_with("G-OLD");
    let client = client(&server, &session);

    client
        .rest(101, seconds(60), 0, Some(false))
        .await
        .expect("first");
    session.set_guid("G-NEW").expect("guid");
    client
        .rest(101, seconds(60), 0, Some(true))
        .await
        .expect("second");

    let first = server.next_request(WAIT).await.expect("first request");
    let second = server.next_request(WAIT).await.expect("second request");
    assert_eq!(first.header_values("guid"), ["G-OLD"]);
    assert_eq!(second.header_values("guid"), ["G-NEW"]);
    assert_eq!(server.connections(), 1, "the pooled connection is reused");
}

#[tokio::test]
async fn no_guid_means_nothing_is_sent() {
    let mut server = TestServer::start(Reply::Json(SUCCESS.to_owned()))
        .await
        .expect("server");
    let session = Session::new();
    let err = client(&server, &session)
        .rest(101, seconds(600), 3, Some(false))
        .await
        .expect_err("refused without a Guid");
    assert!(
        matches!(err, Error::Custom(ref m) if m.contains("no Guid")),
        "{err}"
    );
    assert!(
        server
            .next_request(Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(server.connections(), 0, "no connection may be opened");
}

#[tokio::test]
async fn an_answer_head_must_fit_the_read_buffer_and_a_failure_names_the_setting() {
    // A head of about 3 KiB: within the default buffer, beyond a 2 KiB one.
    let padding = "x".repeat(3 * 1024);
    assert!(padding.len() < DEFAULT_READ_BUFFER);
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-padding: {padding}\r\n\
         content-length: {}\r\n\r\n",
        SUCCESS.len()
    );
    let server = TestServer::start(Reply::Raw(format!("{head}{SUCCESS}").into_bytes()))
        .await
        .expect("server");
    let session = session_with("G-WIRE-4.AgentGateway0");

    let answer = client(&server, &session)
        .rest(101, seconds(600), 3, Some(false))
        .await
        .expect("the head fits the default read buffer");
    assert_eq!(answer.retcode.as_str(), "0");

    let mut small = TransportConfig::new(None);
    small.read_buffer = 2 * 1024;
    let err = client_on(&server, &session, small)
        .rest(101, seconds(600), 3, Some(false))
        .await
        .expect_err("the head does not fit a 2 KiB read buffer");
    let ccgw_client::Error::UnexpectedResponse(response) = &err else {
        panic!("expected the transport's error as an unexpected response, got {err:?}");
    };
    assert_eq!(response.status(), ccgw_client::NOT_ANSWERED);
    match TransportError::in_response(response) {
        Some(TransportError::OutcomeUnknown { reason, .. }) => assert!(
            reason.contains("read buffer (2048 bytes, TransportConfig::read_buffer)"),
            "{reason}"
        ),
        other => panic!("expected outcome unknown naming the read buffer, got {other:?}"),
    }
}

/// A transport counts its open connections (in use, opening or idle) and its Debug names
/// the origin and that count.
#[tokio::test]
async fn a_transport_counts_its_open_connections() {
    let server = TestServer::start(Reply::Json(SUCCESS.to_owned()))
        .await
        .expect("server");
    let transport =
        Transport::new(&server.base_url(), TransportConfig::new(None)).expect("transport");
    assert_eq!(transport.open_connections(), 0);
    // The answer's body announces its length, as hyper's does.
    let url = format!("{}/agentgateway", server.base_url());
    let request = reqwest::Request::new(reqwest::Method::GET, url.parse().expect("URL"));
    let answer = transport.send(request).await.expect("an answer");
    assert_eq!(
        hyper::body::Body::size_hint(answer.body()).exact(),
        Some(SUCCESS.len() as u64)
    );
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .expect("the body")
        .to_bytes();
    assert_eq!(body, SUCCESS.as_bytes());
    assert_eq!(transport.open_connections(), 1, "kept for the next request");
    let session = session_with("G-WIRE-4.AgentGateway0").with_transport(transport.clone());
    Client::new_with_client(&server.base_url(), reqwest::Client::new(), session)
        .rest(101, seconds(600), 3, Some(false))
        .await
        .expect("rest succeeds");
    assert_eq!(transport.open_connections(), 1, "the same connection again");
    let shown = format!("{transport:?}");
    let authority = server.base_url().replace("http://", "");
    assert!(
        shown.contains(&authority) && shown.contains("open: 1"),
        "{shown}"
    );
}

/// A session given a poll transport sends event polls over it and everything else over
/// its other transport: each transport opens a connection only for its own kind.
#[tokio::test]
async fn polls_and_commands_each_take_their_own_transport() {
    let server = TestServer::start(Reply::Json(SUCCESS.to_owned()))
        .await
        .expect("server");
    let open =
        || Transport::new(&server.base_url(), TransportConfig::new(None)).expect("transport");
    let (commands, polls) = (open(), open());
    let session = session_with("G-WIRE-5.AgentGateway0")
        .with_transport(commands.clone())
        .with_poll_transport(polls.clone());
    let api = Client::new_with_client(&server.base_url(), reqwest::Client::new(), session);
    api.rest(101, seconds(600), 3, Some(false))
        .await
        .expect("rest succeeds");
    assert_eq!(
        (commands.open_connections(), polls.open_connections()),
        (1, 0),
        "a rest goes over the command transport"
    );
    // Whatever the poll's answer makes of this body, it came over the poll transport.
    let _ = api.get_agent_event(101, None).await;
    assert_eq!(
        (commands.open_connections(), polls.open_connections()),
        (1, 1),
        "a poll goes over the poll transport"
    );
}
