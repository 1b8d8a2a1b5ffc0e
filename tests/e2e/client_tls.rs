//! TLS is verified: a gateway with a private CA works once that CA is configured, and
//! every other certificate problem is a TLS error with nothing sent. Real sockets, a CA
//! made in the test (rcgen), rustls on both sides.

use crate::common;

use crate::common::{is_outcome_unknown, is_retry_safe};
use ccgw::{Error, GatewayClient};
use ccgw_testkit::{Reply, TestCa, TestServer};
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
    let client = common::config_for(&server.base_url(), Some(ca.pem()))
        .build_client()
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
    let client = ccgw::Config {
        url: Some(String::from(&server.base_url_for("localhost"))),
        system_roots: false,
        ca_pem: Some(String::from(ca.pem())),
        ..ccgw::Config::default()
    }
    .build_client()
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
    assert!(!is_retry_safe(&err) && !is_outcome_unknown(&err), "{err:?}");
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
    let client = ccgw::Config {
        url: Some(String::from(&server.base_url())),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("client builds");
    expect_tls_error(&server, &client).await;
}

#[tokio::test]
async fn a_certificate_for_another_host_is_rejected() {
    let ca = TestCa::new().expect("CA");
    let server = TestServer::start_tls(ok(), ca.server_config(&["gateway.example"]).expect("cert"))
        .await
        .expect("server");
    let client = common::config_for(&server.base_url(), Some(ca.pem()))
        .build_client()
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
    let client = common::config_for(&server.base_url(), Some(ca.pem()))
        .build_client()
        .expect("client builds");
    expect_tls_error(&server, &client).await;
}

#[tokio::test]
async fn another_cas_certificate_is_rejected() {
    let (ca, other) = (TestCa::new().expect("CA"), TestCa::new().expect("CA"));
    let server = TestServer::start_tls(ok(), other.server_config(&["127.0.0.1"]).expect("cert"))
        .await
        .expect("server");
    let client = ccgw::Config {
        url: Some(String::from(&server.base_url())),
        system_roots: false,
        ca_pem: Some(String::from(ca.pem())),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("client builds");
    expect_tls_error(&server, &client).await;
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let mut server = TestServer::start(ok()).await.expect("server");
    let err = ccgw::Config {
        url: Some(String::from(&server.base_url())),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect_err("http refused");
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("plain http"), "{err}");

    let client = ccgw::Config {
        url: Some(String::from(&server.base_url())),
        allow_http: true,
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("allowed for local tests");
    rest(&agent(&client))
        .await
        .expect("rest over plain http when allowed");
    assert!(server.next_request(WAIT).await.is_some());
}

/// A client for the example gateway, before its settings are changed.
fn example() -> ccgw::Config {
    ccgw::Config {
        url: Some("https://gateway.example:8043".to_owned()),
        ..ccgw::Config::default()
    }
}

/// Base URLs that cannot be a gateway's, with what the refusal names.
fn url_refusals() -> Vec<(&'static str, Result<GatewayClient, Error>)> {
    vec![
        (
            "is not a URL",
            ccgw::Config {
                url: Some(String::from("not a url")),
                ..ccgw::Config::default()
            }
            .build_client(),
        ),
        (
            "ftp",
            ccgw::Config {
                url: Some(String::from("ftp://gateway.example")),
                ..ccgw::Config::default()
            }
            .build_client(),
        ),
        (
            "credentials",
            ccgw::Config {
                url: Some(String::from("https://user:pw@gateway.example:8043")),
                ..ccgw::Config::default()
            }
            .build_client(),
        ),
        (
            "credentials",
            ccgw::Config {
                url: Some(String::from("https://user@gateway.example:8043")),
                ..ccgw::Config::default()
            }
            .build_client(),
        ),
        (
            "credentials",
            ccgw::Config {
                url: Some(String::from("https://:pw@gateway.example:8043")),
                ..ccgw::Config::default()
            }
            .build_client(),
        ),
        (
            "fragment",
            ccgw::Config {
                url: Some(String::from("https://gateway.example:8043/#top")),
                ..ccgw::Config::default()
            }
            .build_client(),
        ),
        (
            "query",
            ccgw::Config {
                url: Some(String::from("https://gateway.example:8043/?x=1")),
                ..ccgw::Config::default()
            }
            .build_client(),
        ),
    ]
}

/// Settings that cannot work, with what the refusal names.
fn setting_refusals() -> Vec<(&'static str, Result<GatewayClient, Error>)> {
    use std::time::Duration;
    let builder = example;
    vec![
        (
            "holds no certificate",
            ccgw::Config {
                ca_pem: Some("nonsense".into()),
                ..builder()
            }
            .build_client(),
        ),
        (
            "/nonexistent/ca.pem",
            ccgw::Config {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..builder()
            }
            .build_client(),
        ),
        (
            "no trust roots",
            ccgw::Config {
                system_roots: false,
                ..builder()
            }
            .build_client(),
        ),
        (
            "connect_timeout",
            ccgw::Config {
                connect_timeout: Duration::ZERO,
                ..builder()
            }
            .build_client(),
        ),
        (
            "request_timeout",
            ccgw::Config {
                request_timeout: Duration::ZERO,
                ..builder()
            }
            .build_client(),
        ),
        (
            "poll_timeout",
            ccgw::Config {
                poll_timeout: Duration::ZERO,
                poll_hold: Duration::ZERO,
                ..builder()
            }
            .build_client(),
        ),
        (
            "max_connections",
            ccgw::Config {
                max_connections: 0,
                ..builder()
            }
            .build_client(),
        ),
        (
            "response_limit",
            ccgw::Config {
                response_limit: 0,
                ..builder()
            }
            .build_client(),
        ),
        (
            "user agent",
            ccgw::Config {
                user_agent: "a\nb".into(),
                ..builder()
            }
            .build_client(),
        ),
    ]
}

/// Each refusal is a configuration error naming what is wrong.
#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    let cases = url_refusals().into_iter().chain(setting_refusals());
    for (named, result) in cases {
        let err = result.expect_err(named);
        assert!(matches!(err, Error::Config { .. }), "{named}: {err:?}");
        let shown = err.chain().to_string();
        assert!(shown.contains(named), "{named} not in {shown:?}");
    }
    // The base URL is normalised: without a trailing slash.
    let ok = example().build_client().expect("valid");
    assert!(
        format!("{ok:?}").contains(r#"base_url: "https://gateway.example:8043""#),
        "{ok:?}"
    );
    let ok = ccgw::Config {
        url: Some(String::from("https://gateway.example:8043/")),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("valid");
    assert!(
        format!("{ok:?}").contains(r#"base_url: "https://gateway.example:8043""#),
        "{ok:?}"
    );
}

/// The crate README's example, run for real: CA from a file, a `Set-GUID` form Guid,
/// rest, a rotated Guid, then prolonged rest — against a loopback HTTPS server.
#[tokio::test]
async fn the_readme_flow_runs_against_a_loopback_gateway() {
    use ccgw::{AgentId, Guid, RestCause, RestDuration};

    let ca = TestCa::new().expect("CA");
    let dir = ccgw_testkit::scratch_dir("readme").expect("temp dir");
    let ca_file = dir.join("gateway-ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("CA file");
    let mut server = TestServer::start_tls(ok(), ca.server_config(&["localhost"]).expect("cert"))
        .await
        .expect("server");

    let client = ccgw::Config {
        url: Some(String::from(&server.base_url_for("localhost"))),
        ca_file: Some(ca_file.clone()),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("client builds");
    common::agent(&client); // installs the log capture
    let guid = Guid::new(format!("JSESSIONID={SENTINEL}")).expect("guid");
    let agent = client.agent(AgentId::new(101).expect("id"), guid, None);
    agent
        .rest(
            RestDuration::from_secs(600).expect("secs"),
            RestCause::from(3),
        )
        .await
        .expect("rest accepted");
    agent.set_guid(&Guid::new("ROTATED-GUID.AgentGateway0").expect("guid"));
    agent
        .rest(
            RestDuration::try_from(std::time::Duration::from_secs(900)).expect("secs"),
            RestCause::NONE,
        )
        .prolong()
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
