//! Injected faults, seen from a raw HTTP client: each kind does to the request what it
//! says (applied or not, answered or not), and turning faults off ends them.

mod common;

use std::time::{Duration, Instant};

use ccgw_sim::{Clock, Config, Faults, retcode};
use common::{BASE, Gw};
use serde_json::Value;

const AGENT: u32 = 101;

async fn signed_in() -> (Gw, String) {
    let gw = Gw::start(Config::default(), Clock::system()).await;
    let guid = gw.login(AGENT).await;
    (gw, guid)
}

/// One rest request with a raw client that times out after `timeout`: the body as JSON,
/// or the transport error's text.
async fn raw_rest(gw: &Gw, guid: &str, timeout: Duration) -> Result<Value, String> {
    let answer = gw
        .http
        .send(
            "POST",
            &format!("{BASE}/onlineagent/{AGENT}/rest/600/1"),
            &[("Guid", guid), ("Content-Length", "0")],
            None,
            timeout,
        )
        .await?;
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

fn always(set: impl FnOnce(&mut Faults)) -> Faults {
    let mut faults = Faults::default();
    set(&mut faults);
    faults
}

#[tokio::test]
async fn a_connection_dropped_before_handling_applies_nothing() {
    let (gw, guid) = signed_in().await;
    gw.handle().set_faults(always(|f| f.drop_before = 1.0));
    let err = raw_rest(&gw, &guid, Duration::from_secs(10))
        .await
        .expect_err("no answer");
    assert!(
        !err.contains("TimedOut"),
        "closed at once, not timed out: {err}"
    );
    assert_eq!(gw.handle().agent_state(AGENT), Some(4), "still idle");
    assert_eq!(gw.handle().stats().faults_dropped_before, 1);
}

#[tokio::test]
async fn a_connection_dropped_after_handling_applies_the_request() {
    let (gw, guid) = signed_in().await;
    gw.handle().set_faults(always(|f| f.drop_after = 1.0));
    raw_rest(&gw, &guid, Duration::from_secs(10))
        .await
        .expect_err("no answer");
    assert_eq!(gw.handle().agent_state(AGENT), Some(8), "in rest: applied");
    assert_eq!(gw.handle().stats().faults_dropped_after, 1);
}

#[tokio::test]
async fn a_stalled_request_is_held_then_dropped_unapplied() {
    let (gw, guid) = signed_in().await;
    gw.handle().set_faults(always(|f| {
        f.stall = 1.0;
        f.stall_for = Duration::from_millis(700);
    }));
    let started = Instant::now();
    let err = raw_rest(&gw, &guid, Duration::from_secs(10))
        .await
        .expect_err("no answer");
    let held = started.elapsed();
    assert!(held >= Duration::from_millis(650), "held {held:?}: {err}");
    assert_eq!(gw.handle().agent_state(AGENT), Some(4));
    // A client with a shorter timeout gives up first.
    let err = raw_rest(&gw, &guid, Duration::from_millis(200))
        .await
        .expect_err("no answer");
    assert!(err.contains("TimedOut"), "{err}");
    assert_eq!(gw.handle().stats().faults_stalled, 2);
}

#[tokio::test]
async fn a_delayed_answer_arrives_and_is_applied() {
    let (gw, guid) = signed_in().await;
    gw.handle().set_faults(always(|f| {
        f.delay = 1.0;
        f.delay_max = Duration::from_millis(300);
    }));
    let body = raw_rest(&gw, &guid, Duration::from_secs(10))
        .await
        .expect("answered");
    assert_eq!(body["retcode"], retcode::OK);
    assert_eq!(gw.handle().agent_state(AGENT), Some(8));
    assert_eq!(gw.handle().stats().faults_delayed, 1);
}

#[tokio::test]
async fn switch_over_and_repeated_call_answers_apply_nothing() {
    let (gw, guid) = signed_in().await;
    for (fault, code) in [
        (always(|f| f.switch_over = 1.0), "000-004"),
        (always(|f| f.repeated_call = 1.0), "000-007"),
    ] {
        gw.handle().set_faults(fault);
        let body = raw_rest(&gw, &guid, Duration::from_secs(10))
            .await
            .expect("answered");
        assert_eq!(body["retcode"], code, "{body}");
        assert_eq!(gw.handle().agent_state(AGENT), Some(4));
        // The event poll keeps its own envelope shape.
        let poll = gw.get(&format!("/agentevent/{AGENT}"), Some(&guid)).await;
        assert_eq!(poll["retcode"], code, "{poll}");
        assert!(poll["event"].is_null(), "{poll}");
    }
    let stats = gw.handle().stats();
    assert_eq!(
        (stats.faults_switch_over, stats.faults_repeated_call),
        (2, 2)
    );
}

#[tokio::test]
async fn faults_end_when_turned_off_and_other_connections_are_unharmed() {
    let (gw, guid) = signed_in().await;
    gw.handle().set_faults(always(|f| {
        f.seed = 3;
        f.drop_before = 0.5;
    }));
    let mut dropped = 0;
    for _ in 0..40 {
        match raw_rest(&gw, &guid, Duration::from_secs(10)).await {
            Err(_) => dropped += 1,
            Ok(body) => assert!(
                [retcode::OK, retcode::STATE_CHANGE_REFUSED]
                    .contains(&body["retcode"].as_str().unwrap_or_default()),
                "{body}"
            ),
        }
    }
    assert!(
        (8..=32).contains(&dropped),
        "{dropped} of 40 dropped at 50 %"
    );
    assert_eq!(gw.handle().stats().faults_dropped_before, dropped);
    gw.handle().set_faults(Faults::default());
    for _ in 0..20 {
        raw_rest(&gw, &guid, Duration::from_secs(10))
            .await
            .expect("no faults any more");
    }
}

/// An HTTP 500 page in place of handling: nothing applied, no envelope.
#[tokio::test]
async fn a_server_error_page_applies_nothing() {
    let (gw, guid) = signed_in().await;
    gw.handle().set_faults(always(|f| f.server_error = 1.0));
    let answer = gw
        .http
        .send(
            "POST",
            &format!("{BASE}/onlineagent/{AGENT}/rest/600/1"),
            &[("Guid", &guid), ("Content-Length", "0")],
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("an answer");
    assert_eq!(answer.status, 500);
    assert!(String::from_utf8_lossy(&answer.body).contains("<html>"));
    gw.handle().set_faults(Faults::default());
    assert_eq!(gw.handle().agent_state(AGENT), Some(4), "still idle");
    assert_eq!(gw.handle().stats().faults_server_error, 1);
}

/// Forced sign-outs at a rate: a supervisor signs random agents out while the
/// simulator runs; each signed-in agent it picks loses its session.
#[tokio::test]
async fn forced_sign_outs_at_a_rate() {
    let config = Config {
        agents: vec![ccgw_sim::AgentConfig::numbered(AGENT)],
        faults: Faults {
            forced_sign_out_every: Some(Duration::from_millis(50)),
            ..Faults::default()
        },
        ..Config::default()
    };
    let gw = Gw::start(config, Clock::system()).await;
    let handle = gw.handle();
    let started = Instant::now();
    for round in 1..=3 {
        gw.login(AGENT).await;
        while handle.stats().faults_forced_sign_outs < round {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no forced sign-out"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(handle.agent_state(AGENT), None, "signed out by force");
    }
}
