//! A gateway that echoes secrets back ([`Faults::hostile`](crate::Faults::hostile)):
//! sign-ins are served as usual, every other request is handled (so its effect takes
//! place) and then answered in one hostile way — with the caller's Guid, cookie and
//! password in the message, in a return code, in wrong-typed JSON, in an HTML page, a
//! content type, a redirect, an unknown event, a rotation named in the error, cut in
//! the middle, drowned in a long or binary text. A client under test must show none of
//! them in what it prints, logs or returns.

use std::fmt;
use std::str::FromStr;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::wire::SET_GUID;

/// One way of answering with the caller's secrets in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hostile {
    /// A refusal whose message repeats the Guid, the cookie and the password.
    EchoSecrets,
    /// A refusal whose message is 190 characters, then the Guid (a client that cuts at
    /// 200 before masking keeps a piece of it).
    CutGuid,
    /// The same with the cookie's value.
    CutCookie,
    /// A refusal naming a Guid the client never held.
    ForeignGuid,
    /// The Guid as the return code.
    GuidAsRetcode,
    /// The cookie as the return code, the password as the message.
    CookieAsRetcode,
    /// JSON of the wrong types, the Guid as a key and the cookie in an array.
    WrongTypes,
    /// A success whose fields hold the Guid where numbers and objects belong (serde
    /// quotes strings it did not expect).
    QuotedSecrets,
    /// A refusal cut short inside its message, which holds the Guid and the password.
    CutString,
    /// HTTP 500, an HTML page printing the request's headers.
    HtmlError,
    /// HTTP 200 with an HTML page holding the Guid.
    HtmlSuccess,
    /// HTTP 400 with the secrets in fields the contract does not have.
    OddFields,
    /// A content type that holds the Guid.
    ContentType,
    /// A redirect to a URL that holds the Guid.
    Redirect,
    /// A message of control characters, escape sequences, the Guid and the cookie.
    Binary,
    /// A message of 10,000 characters with the Guid in the middle.
    Long,
    /// A body larger than any client reads, starting with the Guid.
    TooLarge,
    /// A new Guid (`Set-GUID`), and a refusal naming the old one and the new one.
    RotateAndName,
    /// A new cookie (`Set-Cookie`), and a refusal naming the old one and the new one.
    NewCookieAndName,
    /// An unknown event whose name and content hold the secrets (other operations: a
    /// success whose result holds them).
    UnknownEvent,
    /// A refusal whose message is every request header, `name: value`.
    HeaderEcho,
}

impl Hostile {
    /// Every hostile answer.
    pub const ALL: [Hostile; 21] = [
        Hostile::EchoSecrets,
        Hostile::CutGuid,
        Hostile::CutCookie,
        Hostile::ForeignGuid,
        Hostile::GuidAsRetcode,
        Hostile::CookieAsRetcode,
        Hostile::WrongTypes,
        Hostile::QuotedSecrets,
        Hostile::CutString,
        Hostile::HtmlError,
        Hostile::HtmlSuccess,
        Hostile::OddFields,
        Hostile::ContentType,
        Hostile::Redirect,
        Hostile::Binary,
        Hostile::Long,
        Hostile::TooLarge,
        Hostile::RotateAndName,
        Hostile::NewCookieAndName,
        Hostile::UnknownEvent,
        Hostile::HeaderEcho,
    ];

    /// The name on the command line (`--hostile echo-secrets`).
    pub fn name(self) -> &'static str {
        match self {
            Hostile::EchoSecrets => "echo-secrets",
            Hostile::CutGuid => "cut-guid",
            Hostile::CutCookie => "cut-cookie",
            Hostile::ForeignGuid => "foreign-guid",
            Hostile::GuidAsRetcode => "guid-as-retcode",
            Hostile::CookieAsRetcode => "cookie-as-retcode",
            Hostile::WrongTypes => "wrong-types",
            Hostile::QuotedSecrets => "quoted-secrets",
            Hostile::CutString => "cut-string",
            Hostile::HtmlError => "html-error",
            Hostile::HtmlSuccess => "html-success",
            Hostile::OddFields => "odd-fields",
            Hostile::ContentType => "content-type",
            Hostile::Redirect => "redirect",
            Hostile::Binary => "binary",
            Hostile::Long => "long",
            Hostile::TooLarge => "too-large",
            Hostile::RotateAndName => "rotate-and-name",
            Hostile::NewCookieAndName => "new-cookie-and-name",
            Hostile::UnknownEvent => "unknown-event",
            Hostile::HeaderEcho => "header-echo",
        }
    }
}

impl fmt::Display for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hostile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Hostile::ALL
            .into_iter()
            .find(|h| h.name() == text)
            .ok_or_else(|| {
                let names: Vec<_> = Hostile::ALL.iter().map(|h| h.name()).collect();
                format!(
                    "unknown hostile answer {text:?}; one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// What the caller sent that a hostile answer repeats.
pub(crate) struct Echo {
    guid: String,
    /// The value of the first cookie sent (`name=value` → `value`).
    cookie: String,
    password: String,
    headers: String,
    poll: bool,
}

impl Echo {
    /// The secrets of `request`, and the password of its agent (`password_of`).
    pub(crate) fn of(request: &Request, password_of: impl Fn(u32) -> Option<String>) -> Echo {
        let header = |name| {
            request
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let cookie = header(COOKIE.as_str());
        let cookie = cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default();
        let path = request.uri().path();
        let agent = path
            .split('/')
            .filter_map(|part| part.parse::<u32>().ok())
            .next();
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join("; ");
        Echo {
            guid: header("guid"),
            cookie,
            password: agent.and_then(password_of).unwrap_or_default(),
            headers,
            poll: path.contains("/agentevent/"),
        }
    }
}

/// A Guid of the shape gateways issue that nobody was given.
fn fresh_guid() -> String {
    format!("{}.AgentGateway9", uuid::Uuid::new_v4())
}

fn envelope(retcode: &str, message: &str) -> String {
    json!({"retcode": retcode, "message": message, "result": {}}).to_string()
}

fn answer(status: StatusCode, headers: &[(&str, String)], body: impl Into<Body>) -> Response {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(body.into())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn json_answer(body: String) -> Response {
    answer(
        StatusCode::OK,
        &[(
            CONTENT_TYPE.as_str(),
            "application/json;charset=UTF-8".to_owned(),
        )],
        body,
    )
}

fn refusal(message: &str) -> Response {
    json_answer(envelope("100-009", message))
}

/// The hostile answer `case` for a request that sent `echo`.
pub(crate) fn respond(case: Hostile, echo: &Echo) -> Response {
    refusing(case, echo)
        .or_else(|| malformed(case, echo))
        .or_else(|| foreign_http(case, echo))
        .unwrap_or_else(|| refusal(""))
}

/// A refusal whose message carries the secrets.
fn refusing(case: Hostile, echo: &Echo) -> Option<Response> {
    let Echo {
        guid,
        cookie,
        password,
        headers,
        ..
    } = echo;
    Some(match case {
        Hostile::EchoSecrets => {
            refusal(&format!("guid={guid} cookie={cookie} password={password}"))
        }
        Hostile::CutGuid => refusal(&format!("{}{guid} tail", "m".repeat(190))),
        Hostile::CutCookie => refusal(&format!("{}{cookie} tail", "m".repeat(193))),
        Hostile::ForeignGuid => refusal(&format!("the session is held by {}", fresh_guid())),
        Hostile::Binary => refusal(&format!(
            "\u{0}\u{1}\u{7f}{guid}\u{1b}[31m{cookie}\u{1b}[0m\r\n{password}\u{fffd}"
        )),
        Hostile::Long => refusal(&format!("{}{guid}{}", "z".repeat(5000), "y".repeat(5000))),
        Hostile::HeaderEcho => refusal(headers),
        _ => return None,
    })
}

/// An envelope the contract does not describe, with the secrets where serde or a code reader meets them.
fn malformed(case: Hostile, echo: &Echo) -> Option<Response> {
    let Echo {
        guid,
        cookie,
        password,
        poll,
        ..
    } = echo;
    Some(match case {
        Hostile::GuidAsRetcode => json_answer(envelope(guid, "refused")),
        Hostile::CookieAsRetcode => json_answer(envelope(cookie, password)),
        Hostile::WrongTypes => json_answer(
            json!({"retcode": {guid.as_str(): 1}, "message": [cookie, password]}).to_string(),
        ),
        Hostile::QuotedSecrets => json_answer(
            json!({"retcode": "0", "message": "", "event": guid,
                "result": {"agentState": guid, "isWorking": cookie}})
            .to_string(),
        ),
        Hostile::CutString => json_answer(format!(
            r#"{{"retcode":"100-009","message":"{guid} {password} {cookie}"#
        )),
        Hostile::TooLarge => json_answer(format!(
            r#"{{"retcode":"100-009","message":"{guid} {}"}}"#,
            "x".repeat(100 * 1024)
        )),
        Hostile::UnknownEvent if *poll => json_answer(
            json!({"retcode": "0", "message": "", "event": {
                "eventType": format!("Hostile_{guid}"), "workNo": "101",
                "content": {"guid": guid, "cookie": cookie, "password": password}}})
            .to_string(),
        ),
        Hostile::UnknownEvent => json_answer(
            json!({"retcode": "0", "message": guid,
                "result": {"guid": guid, "cookie": cookie, "password": password}})
            .to_string(),
        ),
        _ => return None,
    })
}

/// An answer that is not the envelope: other statuses, pages, headers.
fn foreign_http(case: Hostile, echo: &Echo) -> Option<Response> {
    let Echo {
        guid,
        cookie,
        password,
        headers,
        ..
    } = echo;
    Some(match case {
        Hostile::HtmlError => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &[(CONTENT_TYPE.as_str(), "text/html".to_owned())],
            format!("<html><body><h1>500</h1><pre>{headers}</pre></body></html>"),
        ),
        Hostile::HtmlSuccess => answer(
            StatusCode::OK,
            &[(CONTENT_TYPE.as_str(), "text/html".to_owned())],
            format!("<html><body>session {guid} cookie {cookie}</body></html>"),
        ),
        Hostile::OddFields => answer(
            StatusCode::BAD_REQUEST,
            &[(CONTENT_TYPE.as_str(), "application/json".to_owned())],
            json!({"error": guid, "cookie": cookie, "password": password}).to_string(),
        ),
        Hostile::ContentType => answer(
            StatusCode::OK,
            &[(
                CONTENT_TYPE.as_str(),
                format!("text/plain; guid={guid}; c={cookie}"),
            )],
            "not JSON",
        ),
        Hostile::Redirect => {
            let to = format!("https://elsewhere.example/login?guid={guid}&c={cookie}");
            answer(
                StatusCode::FOUND,
                &[
                    (LOCATION.as_str(), to.clone()),
                    (CONTENT_TYPE.as_str(), "text/html".to_owned()),
                ],
                format!("<a href=\"{to}\">moved</a>"),
            )
        }
        Hostile::RotateAndName => {
            let new = fresh_guid();
            answer(
                StatusCode::OK,
                &[
                    (
                        CONTENT_TYPE.as_str(),
                        "application/json;charset=UTF-8".to_owned(),
                    ),
                    (SET_GUID.as_str(), format!("JSESSIONID={new}")),
                ],
                envelope("000-003", &format!("old {guid} is gone, use {new}")),
            )
        }
        Hostile::NewCookieAndName => {
            let new = format!("COOKIE{}", uuid::Uuid::new_v4().simple());
            answer(
                StatusCode::OK,
                &[
                    (
                        CONTENT_TYPE.as_str(),
                        "application/json;charset=UTF-8".to_owned(),
                    ),
                    (SET_COOKIE.as_str(), format!("lbnode={new}; Path=/")),
                ],
                envelope("100-009", &format!("old cookie {cookie}, new cookie {new}")),
            )
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_has_a_name_that_parses_back() {
        for case in Hostile::ALL {
            assert_eq!(case.name().parse::<Hostile>(), Ok(case));
        }
        let err = "nope".parse::<Hostile>().expect_err("unknown");
        assert!(err.contains("echo-secrets"), "{err}");
    }
}
