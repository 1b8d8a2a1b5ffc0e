//! TLS is verified: a gateway with a private CA works once that CA is configured, and
//! every other certificate problem is a TLS error with nothing sent. Real sockets, a CA
//! made in the test (rcgen), rustls on both sides.

use crate::common;

use ccgw::{Error, ErrorChain, GatewayClient};
use ccgw_tests::{Reply, TestCa, TestServer};
use common::{
    SENTINEL, WAIT, agent, assert_error_clean, assert_logs_clean, assert_no_secret, rest,
};

fn ok() -> Reply {
    Reply::envelope("0", Some("{}"))
}

#[tokio::test]
async fn succeeds_when_the_gateway_ca_is_configured() {
    let ca = TestCa::new().expect("CA");
    let tls = ca
        .server_config(&["127.0.0.1", "localhost"])
        .expect("server cert");
    let mut server = TestServer::start_tls(ok(), tls).await.expect("server");
    let client = GatewayClient::builder(&server.base_url())
        .add_root_certificate_pem(ca.pem())
        .build()
        .expect("client builds");
    let agent = agent(&client);

    rest(&agent).await.expect("rest accepted");

    let request = server
        .next_request(WAIT)
        .await
        .expect("request arrived over TLS");
    assert_eq!(
        request.request_line(),
        "POST /agentgateway/resource/onlineagent/101/rest/600/3?prolong=false HTTP/1.1"
    );
    assert_eq!(request.header_values("guid"), [SENTINEL]);
    // Debug names the agent and where its session lives, and never the Guid.
    let shown = format!("{agent:?} {client:?}");
    assert_no_secret(&shown.as_str());
    let base_url = server.base_url();
    for expected in ["Agent", "101", "GatewayClient", base_url.as_str()] {
        assert!(shown.contains(expected), "{expected} not in {shown}");
    }
    assert_logs_clean();
}

#[tokio::test]
async fn succeeds_with_only_the_gateway_ca_trusted() {
    let ca = TestCa::new().expect("CA");
    let mut server = TestServer::start_tls(ok(), ca.server_config(&["localhost"]).expect("cert"))
        .await
        .expect("server");
    let client = GatewayClient::builder(&server.base_url_for("localhost"))
        .system_roots(false)
        .add_root_certificate_pem(ca.pem())
        .build()
        .expect("client builds");
    rest(&agent(&client)).await.expect("rest accepted");
    assert!(server.next_request(WAIT).await.is_some());
}

async fn expect_tls_error(server: &TestServer, client: &GatewayClient) {
    let err = rest(&agent(client)).await.expect_err("TLS must fail");
    assert!(
        matches!(err, Error::Tls(_)),
        "expected a TLS error, got {err:?}"
    );
    assert!(!err.is_retry_safe() && !err.is_outcome_unknown(), "{err:?}");
    assert_error_clean(&err);
    assert_eq!(
        server.pending_requests(),
        0,
        "no request may be read by the server"
    );
}

#[tokio::test]
async fn system_roots_only_reject_a_private_ca() {
    let ca = TestCa::new().expect("CA");
    let server = TestServer::start_tls(ok(), ca.server_config(&["127.0.0.1"]).expect("cert"))
        .await
        .expect("server");
    let client = GatewayClient::builder(&server.base_url())
        .build()
        .expect("client builds");
    expect_tls_error(&server, &client).await;
}

#[tokio::test]
async fn a_certificate_for_another_host_is_rejected() {
    let ca = TestCa::new().expect("CA");
    let server = TestServer::start_tls(ok(), ca.server_config(&["gateway.example"]).expect("cert"))
        .await
        .expect("server");
    let client = GatewayClient::builder(&server.base_url())
        .add_root_certificate_pem(ca.pem())
        .build()
        .expect("client builds");
    expect_tls_error(&server, &client).await;
}

#[tokio::test]
async fn an_expired_certificate_is_rejected() {
    let ca = TestCa::new().expect("CA");
    let server = TestServer::start_tls(
        ok(),
        ca.expired_server_config(&["127.0.0.1"]).expect("cert"),
    )
    .await
    .expect("server");
    let client = GatewayClient::builder(&server.base_url())
        .add_root_certificate_pem(ca.pem())
        .build()
        .expect("client builds");
    expect_tls_error(&server, &client).await;
}

#[tokio::test]
async fn another_cas_certificate_is_rejected() {
    let (ca, other) = (TestCa::new().expect("CA"), TestCa::new().expect("CA"));
    let server = TestServer::start_tls(ok(), other.server_config(&["127.0.0.1"]).expect("cert"))
        .await
        .expect("server");
    let client = GatewayClient::builder(&server.base_url())
        .system_roots(false)
        .add_root_certificate_pem(ca.pem())
        .build()
        .expect("client builds");
    expect_tls_error(&server, &client).await;
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let mut server = TestServer::start(ok()).await.expect("server");
    let err = GatewayClient::builder(&server.base_url())
        .build()
        .expect_err("http refused");
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("plain http"), "{err}");

    let client = GatewayClient::builder(&server.base_url())
        .allow_plain_http(true)
        .build()
        .expect("allowed for local tests");
    rest(&agent(&client))
        .await
        .expect("rest over plain http when allowed");
    assert!(server.next_request(WAIT).await.is_some());
}

/// Each refusal is a configuration error naming what is wrong.
#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    use std::time::Duration;
    let builder = || GatewayClient::builder("https://gateway.example:8043");
    let cases: [(&str, Result<GatewayClient, Error>); 16] = [
        ("is not a URL", GatewayClient::builder("not a url").build()),
        (
            "ftp",
            GatewayClient::builder("ftp://gateway.example").build(),
        ),
        (
            "credentials",
            GatewayClient::builder("https://user:pw@gateway.example:8043").build(),
        ),
        (
            "credentials",
            GatewayClient::builder("https://user@gateway.example:8043").build(),
        ),
        (
            "credentials",
            GatewayClient::builder("https://:pw@gateway.example:8043").build(),
        ),
        (
            "fragment",
            GatewayClient::builder("https://gateway.example:8043/#top").build(),
        ),
        (
            "query",
            GatewayClient::builder("https://gateway.example:8043/?x=1").build(),
        ),
        (
            "holds no certificate",
            builder().add_root_certificate_pem("nonsense").build(),
        ),
        (
            "/nonexistent/ca.pem",
            builder()
                .add_root_certificate_pem_file("/nonexistent/ca.pem")
                .build(),
        ),
        ("no trust roots", builder().system_roots(false).build()),
        (
            "connect_timeout",
            builder().connect_timeout(Duration::ZERO).build(),
        ),
        (
            "request_timeout",
            builder().request_timeout(Duration::ZERO).build(),
        ),
        (
            "poll_timeout",
            builder()
                .poll_timeout(Duration::ZERO)
                .poll_hold(Duration::ZERO)
                .build(),
        ),
        ("max_connections", builder().max_connections(0).build()),
        ("response_limit", builder().response_limit(0).build()),
        ("user agent", builder().user_agent("a\nb").build()),
    ];
    for (named, result) in cases {
        let err = result.expect_err(named);
        assert!(matches!(err, Error::Config { .. }), "{named}: {err:?}");
        let shown = ErrorChain(&err).to_string();
        assert!(shown.contains(named), "{named} not in {shown:?}");
    }
    let ok = builder().build().expect("valid");
    assert_eq!(ok.base_url(), "https://gateway.example:8043");
    let ok = GatewayClient::builder("https://gateway.example:8043/")
        .build()
        .expect("valid");
    assert_eq!(ok.base_url(), "https://gateway.example:8043");
}

/// The crate README's example, run for real: CA from a file, a `Set-GUID` form Guid,
/// rest, a rotated Guid, then prolonged rest — against a loopback HTTPS server.
#[tokio::test]
async fn the_readme_flow_runs_against_a_loopback_gateway() {
    use ccgw::{AgentId, Guid, RestCause, RestDuration};

    let ca = TestCa::new().expect("CA");
    let dir = std::env::temp_dir().join(format!("ccgw-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca_file = dir.join("gateway-ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("CA file");
    let mut server = TestServer::start_tls(ok(), ca.server_config(&["localhost"]).expect("cert"))
        .await
        .expect("server");

    let client = GatewayClient::builder(&server.base_url_for("localhost"))
        .add_root_certificate_pem_file(&ca_file)
        .build()
        .expect("client builds");
    common::agent(&client); // installs the log capture
    let guid = Guid::from_set_guid_header(&format!("JSESSIONID={SENTINEL}")).expect("guid");
    let agent = client.agent(AgentId::new(101).expect("id"), guid);
    agent
        .rest(
            RestDuration::from_secs(600).expect("secs"),
            RestCause::from(3),
        )
        .await
        .expect("rest accepted");
    agent.set_guid(Guid::new("ROTATED-GUID.AgentGateway0").expect("guid"));
    agent
        .prolong_rest(
            RestDuration::try_from(std::time::Duration::from_secs(900)).expect("secs"),
            RestCause::NONE,
        )
        .await
        .expect("prolonged");

    let first = server.next_request(WAIT).await.expect("first request");
    let second = server.next_request(WAIT).await.expect("second request");
    assert_eq!(
        first.target(),
        "/agentgateway/resource/onlineagent/101/rest/600/3?prolong=false"
    );
    assert_eq!(first.header_values("guid"), [SENTINEL]);
    assert_eq!(
        second.target(),
        "/agentgateway/resource/onlineagent/101/rest/900/0?prolong=true"
    );
    assert_eq!(second.header_values("guid"), ["ROTATED-GUID.AgentGateway0"]);
    assert_eq!(
        server.connections(),
        1,
        "one pooled TLS connection serves both"
    );
    assert_logs_clean();
    let _ = std::fs::remove_dir_all(&dir);
}
