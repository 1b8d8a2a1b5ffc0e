//! A gateway that echoes secrets back: it signs agent 101 in with a marked Guid and a
//! load balancer's cookie, then answers in one hostile way per case — refusals whose
//! message repeats the Guid, the cookie, the password and a secret the caller
//! registered; a message cut right inside a Guid; a Guid the client never held; a rotated
//! Guid named after its rotation; wrong-typed JSON quoting a secret; HTML error pages;
//! a content type, a return code, a redirect and unknown events holding secrets. Every
//! error's `Display`, `Debug` and source chain, every event and every log line is
//! checked for each secret and for the first eight characters of each.

use crate::common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ccgw::{Agent, AgentId, Error, GatewayClient, SignIn};
use ccgw_testkit::{RawRequest, Reply, TestServer, logs};
use common::secs;

const GUID: &str = "5e1f0a11-2b3c-4d5e-8f70-81a2b3c4d5e6.AgentGateway0";
const ROTATED: &str = "a0b1c2d3-e4f5-4a6b-8c7d-8e9fa0b1c2d3.AgentGateway0";
const FOREIGN: &str = "f00dfeed-0bad-4cab-8bee-0123456789ab.AgentGateway7";
const COOKIE: &str = "HOSTILECOOKIEVALUE0451";
const ROTATED_COOKIE: &str = "HOSTILECOOKIEVALUE0452";
const PASSWORD: &str = "HOSTILEPASSWORD1337";
const REGISTERED: &str = "REGISTEREDSECRET5150";
const SECRETS: [&str; 7] = [
    GUID,
    ROTATED,
    FOREIGN,
    COOKIE,
    ROTATED_COOKIE,
    PASSWORD,
    REGISTERED,
];

/// Every secret, and its first eight characters (what a cut may leave).
fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        for piece in [secret, &secret[..8]] {
            if let Some(line) = text.lines().find(|l| l.contains(piece)) {
                panic!("{what}: {piece:?} of a secret shown in: {line}");
            }
        }
    }
}

/// An answer with headers of its own.
fn raw(status: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    Reply::Raw(format!("{head}\r\n{body}").into_bytes())
}

const JSON: (&str, &str) = ("Content-Type", "application/json;charset=UTF-8");

fn envelope(retcode: &str, message: &str) -> String {
    serde_json::json!({"retcode": retcode, "message": message, "result": {}}).to_string()
}

/// The sign-in answer: the Guid and the load balancer's cookie.
fn signed_in() -> Reply {
    raw(
        "200 OK",
        &[
            JSON,
            ("Set-GUID", &format!("JSESSIONID={GUID}")),
            ("Set-Cookie", &format!("lbnode={COOKIE}; Path=/")),
        ],
        &envelope("0", "success"),
    )
}

fn is_sign_in(request: &RawRequest) -> bool {
    request.request_line().starts_with("PUT ") && request.target().ends_with("/onlineagent/101")
}

/// A client for `server` that knows `REGISTERED` as a secret; logs captured.
fn client(server: &TestServer) -> GatewayClient {
    logs::capture();
    ccgw::Config {
        allow_http: true,
        request_timeout: Duration::from_secs(5),
        secrets: vec![REGISTERED.to_owned()],
        ..common::config_for(&server.base_url(), None)
    }
    .build_client()
    .expect("client builds")
}

/// Everything an error shows, its chain too.
fn shown(e: &Error) -> String {
    format!("{} | {}", ccgw_testkit::leaks::error_text(e), e.chain())
}

/// Agent 101 signed in against a server that answers everything else with `hostile`
/// (the server, kept alive with it).
async fn signed_in_against(
    hostile: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static,
) -> (TestServer, Agent) {
    let server = TestServer::start_with(
        move |request| {
            if is_sign_in(request) {
                signed_in()
            } else {
                hostile(request)
            }
        },
        None,
    )
    .await
    .expect("server");
    let agent = client(&server)
        .sign_in(
            AgentId::new(101).expect("in range"),
            &SignIn::new(PASSWORD, "40101"),
        )
        .await
        .expect("signed in");
    (server, agent)
}

/// Signs agent 101 in against a server that answers everything else with `hostile`,
/// runs `act`, which must fail, and checks what the error and the logs show.
async fn against<F, Fut>(
    case: &str,
    hostile: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static,
    act: F,
) where
    F: FnOnce(Agent) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let (_server, agent) = signed_in_against(hostile).await;
    let e = act(agent).await.expect_err(case);
    assert_clean(case, &shown(&e));
    assert_clean(&format!("{case} (logs)"), &logs::captured());
}

/// [`against`] with a rest request.
async fn rest_against(case: &str, hostile: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static) {
    against(case, hostile, |agent| async move {
        agent.rest(secs(600), ccgw::RestCause::from(3u8)).await
    })
    .await;
}

#[tokio::test]
async fn a_refusal_that_repeats_every_secret() {
    let message =
        format!("guid={GUID} cookie=lbnode={COOKIE} password={PASSWORD} registered={REGISTERED}");
    rest_against("echo", move |_| {
        raw("200 OK", &[JSON], &envelope("100-009", &message))
    })
    .await;
}

#[tokio::test]
async fn a_message_cut_inside_a_secret_keeps_nothing_of_it() {
    for secret in [GUID, COOKIE, PASSWORD, FOREIGN] {
        for before in (190..200).step_by(3) {
            let message = format!("{}{secret} tail", "m".repeat(before));
            rest_against("cut", move |_| {
                raw("200 OK", &[JSON], &envelope("100-009", &message))
            })
            .await;
        }
    }
}

#[tokio::test]
async fn a_guid_the_client_never_held_and_one_as_the_return_code() {
    rest_against("foreign", |_| {
        raw(
            "200 OK",
            &[JSON],
            &envelope("100-009", &format!("held by {FOREIGN}")),
        )
    })
    .await;
    rest_against("retcode", |_| raw("200 OK", &[JSON], &envelope(GUID, "no"))).await;
    rest_against("retcode cookie", |_| {
        raw("200 OK", &[JSON], &envelope(COOKIE, "no"))
    })
    .await;
}

#[tokio::test]
async fn wrong_types_cut_bodies_and_pages_that_quote_secrets() {
    rest_against("wrong types", |_| {
        let body = format!(r#"{{"retcode":{{"{GUID}":1}},"message":["{COOKIE}"]}}"#);
        raw("200 OK", &[JSON], &body)
    })
    .await;
    let quoted = |_: &RawRequest| {
        let body = format!(r#"{{"retcode":"0","message":"","result":{{"agentState":"{GUID}"}}}}"#);
        raw("200 OK", &[JSON], &body)
    };
    against("a string for a number", quoted, |agent| async move {
        agent.status().await.map(drop)
    })
    .await;
    rest_against("cut in a string", |_| {
        raw(
            "200 OK",
            &[JSON],
            &format!(r#"{{"retcode":"100-009","message":"{GUID} {PASSWORD}"#),
        )
    })
    .await;
    rest_against("HTML 500", |_| {
        let page = format!("<html><body>Cookie: lbnode={COOKIE}<br>guid: {GUID}</body></html>");
        raw(
            "500 Internal Server Error",
            &[("Content-Type", "text/html")],
            &page,
        )
    })
    .await;
    rest_against("400 with odd fields", |_| {
        let body = format!(r#"{{"error":"{GUID}","cookie":"{COOKIE}","pw":"{PASSWORD}"}}"#);
        raw("400 Bad Request", &[JSON], &body)
    })
    .await;
    rest_against("content type", |_| {
        raw(
            "200 OK",
            &[("Content-Type", &format!("text/html; guid={GUID}"))],
            "<p>hi</p>",
        )
    })
    .await;
    rest_against("redirect", |_| {
        let location = format!("https://elsewhere.example/?guid={GUID}");
        raw(
            "302 Found",
            &[("Location", &location), ("Content-Type", "text/html")],
            &location,
        )
    })
    .await;
    rest_against("binary", |_| {
        let message = format!("\u{1}\u{7f}\u{0}{GUID}\u{1b}[31m{COOKIE}\r\n");
        raw("200 OK", &[JSON], &envelope("100-009", &message))
    })
    .await;
    rest_against("long", |_| {
        let message = format!("{}{GUID}{}", "z".repeat(5000), "y".repeat(5000));
        raw("200 OK", &[JSON], &envelope("100-009", &message))
    })
    .await;
}

/// A status answer rotates the Guid and the cookie; the next call is refused naming the
/// old and the new ones.
#[tokio::test]
async fn a_rotation_followed_by_a_failure_naming_both_guids() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let hostile = move |_: &RawRequest| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            raw(
                "200 OK",
                &[
                    JSON,
                    ("Set-GUID", &format!("JSESSIONID={ROTATED}")),
                    ("Set-Cookie", &format!("lbnode={ROTATED_COOKIE}")),
                ],
                r#"{"retcode":"0","message":"","result":{"agentState":4}}"#,
            )
        } else {
            let message = format!("old {GUID} new {ROTATED} cookies {COOKIE} {ROTATED_COOKIE}");
            raw("200 OK", &[JSON], &envelope("100-009", &message))
        }
    };
    against("rotation", hostile, |agent| async move {
        agent.status().await?;
        agent.rest(secs(600), ccgw::RestCause::from(3u8)).await
    })
    .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a state read, then the rest"
    );
}

/// Unknown events whose name and content hold every secret: the stream hands them over
/// masked.
#[tokio::test]
async fn an_unknown_event_with_secret_content() {
    let (_server, agent) = signed_in_against(|_| {
        let event = serde_json::json!({
            "eventType": format!("Hostile_{GUID}"),
            "workNo": "101",
            "content": {"guid": GUID, "cookie": COOKIE, "pw": PASSWORD, "other": FOREIGN},
        });
        let body = serde_json::json!({"retcode": "0", "message": "", "event": event});
        raw("200 OK", &[JSON], &body.to_string())
    })
    .await;
    let mut events = agent.events();
    let event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
        .expect("an event");
    // The name is one token with the Guid: masked whole.
    assert!(matches!(event, ccgw::AgentEvent::Other { .. }), "{event:?}");
    assert_clean("event", &format!("{event:?} {}", event.event_type()));
    assert_clean("event (logs)", &logs::captured());
}

/// The registered secrets are not in `Config`'s `Debug`.
#[test]
fn the_registered_secrets_are_not_shown_with_the_config() {
    let config = ccgw::Config {
        secrets: vec![REGISTERED.to_owned()],
        ..ccgw::Config::default()
    };
    let shown = format!("{config:?} {config:#?}");
    assert!(shown.contains("secrets"), "{shown}");
    assert_clean("Config", &shown);
}
