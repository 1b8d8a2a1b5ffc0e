//! Looking for secrets in what a client showed: an error's every form, and a check that
//! fails on a Guid-shaped token, a known secret or a cookie the hostile simulator set.

/// Everything an error shows: `Display` and `Debug` in both forms, and each source's.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{e} | {e:#} | {e:?} | {e:#?}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(" | {s} | {s:?}"));
        source = s.source();
    }
    text
}

/// Fails, naming `what` and the line, when `text` holds a gateway Guid
/// (`….AgentGateway…`), one of `secrets`, or a cookie value the hostile simulator makes
/// up (`COOKIE…`).
pub fn assert_none_shown(what: &str, text: &str, secrets: &[String]) {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find(".agentgateway") {
        let line = text[..at].rsplit('\n').next().unwrap_or_default();
        panic!("{what}: a Guid shown: {line}…");
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
            panic!("{what}: a secret shown in: {line}");
        }
    }
    if let Some(line) = text.lines().find(|l| l.contains("COOKIE")) {
        panic!("{what}: a cookie the gateway set shown in: {line}");
    }
}
