//! `ccgw check` against the simulator: a conforming one gives a clean table; each
//! deliberate deviation is reported as the assumption it breaks; an agent in use is
//! refused before anything changes.

mod common;

use std::time::Duration;

use ccgw_sim::Config;
use common::{Env, PASSWORD, run};

/// The hold both sides agree on unless a test says otherwise.
const HOLD: Duration = Duration::from_millis(500);

/// `ccgw check --json` against `env` (expecting a 500 ms hold) with `extra` options; its
/// exit code and rows as (assumption, verdict).
fn check(env: &Env, extra: &[&str], code: i32) -> Vec<(String, String)> {
    let mut cmd = env.ccgw(&["check", "--agent", "101", "--phone", "40101", "--json"]);
    cmd.args(extra).env("CCGW_POLL_HOLD", "500ms");
    let (out, _) = run(cmd, code, &[PASSWORD]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("assumption"), text("verdict"))
        })
        .collect()
}

/// The verdict of the row whose assumption starts with `start`.
fn verdict<'a>(rows: &'a [(String, String)], start: &str) -> &'a str {
    rows.iter()
        .find(|(a, _)| a.starts_with(start))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no row {start:?} in {rows:?}"))
}

/// The rows that differ.
fn differing(rows: &[(String, String)]) -> Vec<&str> {
    rows.iter()
        .filter(|(_, v)| v == "DIFFERS")
        .map(|(a, _)| a.as_str())
        .collect()
}

/// A two-node simulator holding polls [`HOLD`], its Guid rotating within a check,
/// changed by `change`.
async fn sim(change: impl FnOnce(&mut Config)) -> Env {
    let mut config = Config {
        poll_hold: HOLD,
        nodes: 2,
        auth_mode: ccgw_sim::AuthMode::Dynamic {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(120),
        },
        ..Config::default()
    };
    change(&mut config);
    Env::start_with(config).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conforming_gateway_gives_a_clean_table() {
    let env = sim(|_| {}).await;
    let transcript = env.dir.join("transcript.txt");
    let path = transcript.display().to_string();
    let rows = check(&env, &["--take-over", "--transcript", &path], 0);
    assert!(differing(&rows).is_empty(), "{rows:?}");
    for row in [
        "a load balancer's cookie",
        "a forced sign-in",
        "dynamic authentication",
        "a quiet poll",
    ] {
        assert_eq!(verdict(&rows, row), "matches", "{rows:?}");
    }
    let text = std::fs::read_to_string(&transcript).expect("the transcript");
    assert!(
        text.contains("login HTTP 200 retcode 0")
            && text.contains("event AgentState_CancelRest_Success"),
        "{text}"
    );
    assert!(
        !text.contains(".AgentGateway") && !text.contains(PASSWORD),
        "a secret in the transcript"
    );
    assert_eq!(
        env.sim.handle().agent_state(101),
        None,
        "signed out at the end"
    );
}

/// A deviation: its name, the simulator's change, the check's options, the rows that
/// must differ.
type Deviation = (
    &'static str,
    fn(&mut Config),
    &'static [&'static str],
    &'static [&'static str],
);

/// Five deviations (the sixth, an unlisted return code, below), each reported as the
/// assumption it breaks (and the check ends 1).
#[tokio::test(flavor = "multi_thread")]
async fn each_deviation_is_reported() {
    let cases: [Deviation; 5] = [
        (
            "another cookie name",
            |c| c.affinity_cookie = "lb-other".to_owned(),
            &[],
            &["a load balancer's cookie"],
        ),
        (
            "a longer hold",
            |c| c.poll_hold = HOLD * 3,
            &[],
            &["a quiet poll is held"],
        ),
        (
            "a missing event",
            |c| c.silent_events = vec!["AgentState_CancelRest_Success".to_owned()],
            &[],
            &["cancelling sends"],
        ),
        (
            "no forced sign-in",
            |c| c.forced_sign_in = false,
            &["--take-over"],
            &["a forced sign-in"],
        ),
        (
            "a missing sign-in event",
            |c| c.silent_events = vec!["AgentState_Ready".to_owned()],
            &[],
            &["an idle sign-in sends"],
        ),
    ];
    for (name, change, extra, expected) in cases {
        let env = sim(change).await;
        let rows = check(&env, extra, 1);
        let differ = differing(&rows);
        for row in expected {
            assert!(
                differ.iter().any(|d| d.starts_with(row)),
                "{name}: {row:?} not reported: {rows:?}"
            );
        }
        assert_eq!(
            env.sim.handle().agent_state(101),
            None,
            "{name}: signed out at the end"
        );
    }
}

/// An unlisted return code (`123-456` to the heartbeat) is named.
#[tokio::test(flavor = "multi_thread")]
async fn a_return_code_the_contract_does_not_list_is_reported() {
    let env = sim(|_| {}).await;
    env.sim
        .handle()
        .inject(ccgw_sim::operation::HAND_SHAKE, "123-456");
    let rows = check(&env, &[], 1);
    let differ = differing(&rows);
    assert!(
        differ.contains(&"every return code is one the contract lists"),
        "{rows:?}"
    );
    assert!(differ.contains(&"a heartbeat answers 0"), "{rows:?}");
}

/// An agent signed in elsewhere is refused (exit 2) and its session is untouched.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_in_use_is_refused() {
    let env = sim(|_| {}).await;
    let guid = env.sim.handle().sign_in(101).expect("signed in elsewhere");
    let mut cmd = env.ccgw(&["check", "--agent", "101", "--phone", "40101"]);
    cmd.env("CCGW_POLL_HOLD", "500ms");
    let (_, err) = run(cmd, 2, &[PASSWORD, &guid]);
    assert!(err.contains("needs a test agent nobody uses"), "{err}");
    assert_eq!(
        env.sim.handle().current_guid(101),
        Some(guid),
        "the session is untouched"
    );
}

/// What a gateway may leave out — no load balancer's cookie (one gateway), no rotation
/// (static authentication) — is "not seen", not a mismatch.
#[tokio::test(flavor = "multi_thread")]
async fn what_a_gateway_may_leave_out_is_not_seen() {
    let env = sim(|c| {
        c.nodes = 1;
        c.auth_mode = ccgw_sim::AuthMode::Static;
    })
    .await;
    let rows = check(&env, &[], 0);
    assert_eq!(
        verdict(&rows, "a load balancer's cookie"),
        "not seen",
        "{rows:?}"
    );
    assert_eq!(
        verdict(&rows, "dynamic authentication"),
        "not seen",
        "{rows:?}"
    );
}

/// A gateway answering HTTP 400 to everything but the sign-in: the status row differs,
/// and since even the sign-out is refused the message says the agent may still be
/// signed in.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_other_than_http_200_is_reported() {
    let env = sim(|c| c.faults.hostile = Some(ccgw_sim::Hostile::OddFields)).await;
    let mut cmd = env.ccgw(&["check", "--agent", "101", "--phone", "40101"]);
    cmd.env("CCGW_POLL_HOLD", "500ms");
    let (out, err) = run(cmd, 1, &[PASSWORD]);
    let row = out
        .lines()
        .find(|l| l.starts_with("every answer is HTTP 200"))
        .expect("the row");
    assert!(row.contains("400") && row.ends_with("DIFFERS"), "{out}");
    assert!(
        err.contains("may still be signed in") && err.contains("ccgw sign-out"),
        "{err}"
    );
}
