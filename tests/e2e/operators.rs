//! What an operator's tools rely on from the library: the settings listed with their
//! values and defaults, and mistakes named exactly — a CA file that holds no
//! certificate, a request's own timeout running out while connecting, plain http sent
//! to a TLS port, a base URL with a path (404).

use std::time::Duration;

use ccgw::{Config, Disposition, Error};
use ccgw_sim::Simulator;

use crate::common::{agent, config_for, sim_config};

#[test]
fn settings_list_every_key_with_its_value_and_default() {
    let config = Config {
        request_timeout: Duration::from_secs(5),
        ca_pem: Some("-----BEGIN CERTIFICATE-----\nsecretish\n".to_owned()),
        ..Config::default()
    };
    let settings = config.settings();
    let timeout = settings
        .iter()
        .find(|s| s.key == "request_timeout")
        .expect("listed");
    assert_eq!(
        (
            timeout.variable,
            timeout.value.as_str(),
            timeout.default.as_str()
        ),
        ("CCGW_TIMEOUT", "5s", "30s")
    );
    let pem = settings.iter().find(|s| s.key == "ca_pem").expect("listed");
    assert!(
        pem.value.starts_with("(PEM, ") && !pem.value.contains("secretish"),
        "{pem:?}"
    );
    assert_eq!(pem.default, "");
    // One per field (the crate's unit test holds the list to the fields), each once.
    let mut keys: Vec<&str> = settings.iter().map(|s| s.key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), settings.len(), "a key listed twice");
    assert!(settings.iter().all(|s| s.variable.starts_with("CCGW_")));
}

#[test]
fn a_ca_file_that_holds_no_certificate_is_named() {
    let dir = ccgw_testkit::scratch_dir("e2e-ca-file").expect("dir");
    for (name, text) in [("empty.pem", ""), ("words.pem", "not a certificate\n")] {
        let file = dir.join(name);
        std::fs::write(&file, text).expect("written");
        let config = Config {
            ca_file: Some(file.clone()),
            ..config_for("https://gw.example:8043", None)
        };
        let refused = config.build_client().map(drop).expect_err("no certificate");
        let text = refused.chain().to_string();
        assert!(
            text.contains(&format!("the CA file {}", file.display())),
            "{text}"
        );
        assert_eq!(refused.disposition(), Disposition::FixConfiguration);
    }
}

/// A server that accepts and never answers the handshake; a request timeout of 1 s
/// under the 5 s connect timeout is the time that ran out, and the error says so.
#[tokio::test]
async fn a_request_timeout_shorter_than_the_connect_timeout_is_named() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let held = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(held);
    });
    let client = Config {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(1),
        ..config_for(&format!("https://{addr}"), None)
    }
    .build_client()
    .expect("client builds");
    let error = agent(&client).status().await.expect_err("no handshake");
    let text = error.to_string();
    assert!(
        matches!(error, Error::TimeoutBeforeSend { .. }),
        "{error:?}"
    );
    assert!(
        text.contains("1s") && text.contains("the request's timeout"),
        "{text}"
    );
    assert!(!text.contains("5s"), "{text}");
    holder.abort();
}

#[tokio::test]
async fn plain_http_to_a_tls_port_says_to_use_https() {
    let sim = Simulator::start(ccgw_sim::Config::default())
        .await
        .expect("sim");
    let plain = sim.base_url().replacen("https://", "http://", 1);
    let client = Config {
        allow_http: true,
        ..config_for(&plain, None)
    }
    .build_client()
    .expect("client builds");
    let error = agent(&client).status().await.expect_err("not HTTP");
    let text = error.chain().to_string();
    assert!(
        text.contains("use an https:// URL") && !text.contains("read buffer"),
        "{text}"
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_is_the_configuration_s_fault() {
    let sim = Simulator::start(ccgw_sim::Config::default())
        .await
        .expect("sim");
    let client = Config {
        url: Some(format!("{}/agentgateway/resource", sim.base_url())),
        ..sim_config(&sim)
    }
    .build_client()
    .expect("client builds");
    let error = agent(&client).status().await.expect_err("no such path");
    assert!(
        matches!(&error, Error::UnexpectedStatus { status, .. } if status.as_u16() == 404),
        "{error:?}"
    );
    assert_eq!(error.disposition(), Disposition::FixConfiguration);
}
