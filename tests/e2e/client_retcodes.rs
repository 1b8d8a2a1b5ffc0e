//! The gateway says "failure" with HTTP 200: every return code of the agent table maps
//! to its own variant, an unknown code still parses, and every `result` shape a gateway
//! sends with `retcode` "0" counts as success.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use crate::common::{is_outcome_unknown, is_retry_safe, needs_sign_in};
use ccgw::{Disposition, Error, RetCode};
use ccgw_testkit::{Reply, TestServer};
use common::{SENTINEL, agent, assert_error_clean, plain_client, rest};
use tokio::sync::Notify;

const TIMEOUT: Duration = Duration::from_secs(5);

async fn answer(reply: Reply) -> Result<(), Error> {
    let server = TestServer::start(reply).await.expect("server");
    let client = plain_client(&server.base_url(), TIMEOUT, TIMEOUT);
    rest(&agent(&client)).await
}

#[tokio::test]
async fn every_code_maps_to_its_variant() {
    let table = [
        ("000-001", RetCode::WrongEventMethod),
        ("000-002", RetCode::InvalidParameter),
        ("000-003", RetCode::NoPermission),
        ("000-004", RetCode::SwitchingOver),
        ("000-005", RetCode::InspectingSelf),
        ("000-006", RetCode::MessageParameter),
        ("000-007", RetCode::CalledRepeatedly),
        ("100-001", RetCode::SignInParameterInvalid),
        ("100-002", RetCode::AlreadySignedIn),
        ("100-003", RetCode::CtiUnavailable),
        ("100-004", RetCode::WrongCredentials),
        ("100-005", RetCode::SignOutParameterInvalid),
        ("100-006", RetCode::NotSignedIn),
        ("100-007", RetCode::OperationException),
        ("100-008", RetCode::AlreadySignedOut),
        ("100-009", RetCode::StateChangeRefused),
        ("100-010", RetCode::WrongStateAtSignOut),
        ("100-011", RetCode::InvalidSignInParameter),
        ("100-012", RetCode::WrongAgentType),
        ("100-013", RetCode::InvalidPhoneNumber),
        ("100-014", RetCode::PhoneNumberOutOfRange),
        ("100-015", RetCode::CannotForceSignIn),
        ("100-016", RetCode::InvalidIpAddress),
        ("100-017", RetCode::UportalAuthenticationFailed),
        ("100-018", RetCode::VdnMismatch),
        ("110-016", RetCode::AccountLocked),
        ("123-456", RetCode::Other("123-456".to_owned())),
        ("BOGUS", RetCode::Other("BOGUS".to_owned())),
    ];
    for (code, expected) in table {
        let err = answer(Reply::envelope(code, Some("{}")))
            .await
            .expect_err(code);
        match &err {
            Error::Gateway {
                operation,
                code: got,
                ..
            } => {
                assert_eq!(*operation, "rest");
                assert_eq!(*got, expected, "{code}");
                assert_eq!(got.as_str(), code);
            }
            other => panic!("{code}: expected a gateway refusal, got {other:?}"),
        }
        let disposition = expected.disposition().expect("a failure code");
        assert_eq!(err.disposition(), disposition, "{code}");
        assert_eq!(
            needs_sign_in(&err),
            matches!(
                disposition,
                Disposition::SignInAgain | Disposition::TakeOver
            ),
            "{code}"
        );
        assert_eq!(
            err.retcode() == Some(&RetCode::StateChangeRefused),
            code == "100-009",
            "{code}"
        );
        assert_eq!(
            is_retry_safe(&err),
            disposition == Disposition::BackOff,
            "{code}: the gateway answered, so only a passing refusal may be sent again"
        );
        assert!(!is_outcome_unknown(&err), "{code}: the gateway answered");
        assert!(err.to_string().contains(code), "{err}");
        assert_error_clean(&err);
    }
}

#[tokio::test]
async fn the_gateway_message_is_kept_but_sanitised() {
    let reply = Reply::Json(
        r#"{"message":"agent\r\nnot login","retcode":"100-006","result":""}"#.to_owned(),
    );
    let err = answer(reply).await.expect_err("refused");
    assert!(
        matches!(&err, Error::Gateway { message, .. } if message == "agent not login"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        r#"the gateway refused rest: retcode 100-006 (the agent is not signed in), message "agent not login""#
    );
}

#[tokio::test]
async fn every_result_shape_with_retcode_0_is_success() {
    for result in [
        Some("{}"),
        Some("null"),
        Some(r#""""#),
        None,
        Some(r#"{"reserved":1}"#),
    ] {
        answer(Reply::envelope("0", result))
            .await
            .unwrap_or_else(|e| panic!("result {result:?}: {e:?}"));
    }
    // `message` may be missing too; unknown fields are ignored.
    answer(Reply::Json(r#"{"retcode":"0","extra":true}"#.to_owned()))
        .await
        .expect("lenient envelope");
}

/// The agent-status page's sample sends `result` as an object, its table types it as an
/// array: `Agent::status` reads both, and a list that is not one state is malformed.
#[tokio::test]
async fn the_agent_state_is_read_from_an_object_or_an_array() {
    for result in [
        r#"{"agentState":8,"isWorking":true}"#,
        r#"[{"agentState":8,"isWorking":true}]"#,
    ] {
        let server = TestServer::start(Reply::envelope("0", Some(result)))
            .await
            .expect("server");
        let client = plain_client(&server.base_url(), TIMEOUT, TIMEOUT);
        let status = agent(&client)
            .status()
            .await
            .unwrap_or_else(|e| panic!("result {result}: {e:?}"));
        assert_eq!(status.state, ccgw::AgentState::Rest, "{result}");
        assert!(status.in_call, "{result}");
    }
    for result in ["[]", r#"[{"agentState":8},{"agentState":4}]"#] {
        let server = TestServer::start(Reply::envelope("0", Some(result)))
            .await
            .expect("server");
        let client = plain_client(&server.base_url(), TIMEOUT, TIMEOUT);
        let e = agent(&client).status().await.expect_err(result);
        assert!(
            matches!(e, Error::MalformedResponse { .. }),
            "{result}: {e:?}"
        );
    }
}

#[tokio::test]
async fn a_body_without_retcode_is_malformed() {
    let err = answer(Reply::Json(
        r#"{"message":"success","result":{}}"#.to_owned(),
    ))
    .await
    .expect_err("no retcode");
    assert!(matches!(err, Error::MalformedResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("retcode"), "{err}");
    assert_error_clean(&err);
}

/// The `rest` span carries agent, duration, cause, then retcode, HTTP status and elapsed
/// time — and never the Guid or a header.
#[tokio::test]
async fn the_rest_span_records_the_outcome() {
    let err = answer(Reply::envelope("100-009", Some("{}")))
        .await
        .expect_err("refused");
    assert_eq!(err.retcode(), Some(&RetCode::StateChangeRefused));
    let logs = ccgw_testkit::logs::captured();
    let line = logs
        .lines()
        .find(|l| l.contains("rest failed") && l.contains("100-009"))
        .unwrap_or_else(|| panic!("no failure line for 100-009 in:\n{logs}"));
    for field in [
        "rest{agent_id=101 time=600 cause=3 prolong=false",
        "retcode=\"100-009\"",
        "http_status=200",
        "elapsed_ms=",
    ] {
        assert!(line.contains(field), "{field:?} missing in {line}");
    }
    // No header may be logged; a header a gateway echoed in a body is shown redacted
    // (another test of this binary has one).
    let lower = logs.to_ascii_lowercase();
    assert!(
        lower
            .match_indices("guid:")
            .all(|(at, _)| lower[at + 5..].trim_start().starts_with("<redacted>")),
        "no header may be logged:\n{logs}"
    );
    common::assert_logs_clean();
}

/// A call refused with `000-003` because the Guid rotated while it was under way (the
/// answer to a concurrent call carried the new one) is sent once more with the new Guid;
/// the caller sees only the success.
#[tokio::test]
async fn a_call_refused_because_the_guid_rotated_meanwhile_is_sent_once_more() {
    const ROTATED: &str = "ROTATED-GUID-5e1b.AgentGateway0";
    let gate = Arc::new(Notify::new());
    let held = Arc::clone(&gate);
    let mut server = TestServer::start_with(
        move |request| {
            let body = |code: &RetCode| format!(r#"{{"message":"","retcode":"{}"}}"#, code.as_str());
            if request.target().ends_with("/handshake") {
                let body = body(&RetCode::Success);
                Reply::Raw(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nset-guid: JSESSIONID={ROTATED}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes(),
                )
            } else if request.header_values("guid") == [SENTINEL] {
                Reply::After(
                    Arc::clone(&held),
                    Box::new(Reply::Json(body(&RetCode::NoPermission))),
                )
            } else {
                Reply::Json(body(&RetCode::Success))
            }
        },
        None,
    )
    .await
    .expect("server");
    let client = plain_client(&server.base_url(), TIMEOUT, TIMEOUT);
    let agent = agent(&client);
    let call = tokio::spawn({
        let agent = agent.clone();
        async move { rest(&agent).await }
    });
    let first = server.next_request(TIMEOUT).await.expect("rest sent");
    assert_eq!(first.header_values("guid"), [SENTINEL]);
    agent
        .heartbeat()
        .await
        .expect("the heartbeat rotates the Guid");
    gate.notify_one();
    call.await
        .expect("joined")
        .expect("sent once more and accepted");
    let _heartbeat = server.next_request(TIMEOUT).await.expect("heartbeat");
    let again = server.next_request(TIMEOUT).await.expect("rest sent again");
    assert_eq!(again.target(), first.target());
    assert_eq!(again.header_values("guid"), [ROTATED]);
}
