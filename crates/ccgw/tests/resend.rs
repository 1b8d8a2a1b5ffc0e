//! A call goes out once more only when the gateway refused a Guid that rotated while the
//! call was under way; a refusal of a Guid that did not rotate is reported after one
//! request. (It lives with `ccgw`'s own tests, which run before the end-to-end package's:
//! a client that sends every refused call twice makes sessions misbehave in ways that
//! leave end-to-end tests waiting out their deadlines, so only a test that runs first
//! notices it promptly.)

use std::time::Duration;

use ccgw::{AgentId, Guid, RetCode};
use ccgw_testkit::{Reply, TestServer};

#[tokio::test]
async fn a_refused_guid_that_did_not_rotate_is_not_sent_again() {
    let no_permission = RetCode::NoPermission;
    let mut server = TestServer::start(Reply::envelope(no_permission.as_str(), Some("{}")))
        .await
        .expect("server");
    let client = ccgw::Config {
        url: Some(server.base_url()),
        allow_http: true,
        request_timeout: Duration::from_secs(5),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect("client builds");
    let agent = client.agent(
        AgentId::new(101).expect("in range"),
        Guid::new("G-RESEND-1.AgentGateway0").expect("valid Guid"),
        None,
    );
    let err = agent.status().await.expect_err("refused");
    assert_eq!(err.retcode(), Some(&no_permission), "{err}");
    // Whatever was sent arrived before the answer came back: nothing is waited for.
    assert!(server.next_request(Duration::ZERO).await.is_some());
    assert!(
        server.next_request(Duration::ZERO).await.is_none(),
        "the refused call was sent again with the same Guid"
    );
}
