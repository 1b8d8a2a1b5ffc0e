//! The built `ccgw` binary against `ccgw-sim` over HTTPS on loopback: every subcommand,
//! each error class with its exit code, secrets kept out of every output, `--help`
//! snapshots.

mod common;

use std::time::Duration;

use assert_cmd::Command;
use ccgw_sim::{AuthMode, Config};
use common::{Env, PASSWORD, read_guid, run};

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_workflow_without_leaking_secrets() {
    let env = Env::start().await;
    let (out, _) = env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
    assert!(out.contains("agent 101 signed in"), "{out}");
    let file = env.guid_file(101);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file)
            .expect("Guid file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let guid = read_guid(&file);
    assert_eq!(Some(guid.clone()), env.sim.handle().current_guid(101));
    let secrets = [PASSWORD, guid.as_str()];

    let (out, err) = env.run(
        "rest --agent 101 --for 10m --cause 3 --confirm",
        0,
        &secrets,
    );
    assert!(
        out.contains("rest requested for 600 s, cause 3; confirmed"),
        "{out}"
    );
    assert!(
        err.contains("TRACE") || err.contains("DEBUG"),
        "most verbose logging is on: {err}"
    );
    let (out, _) = env.run("status --agent 101 --json", 0, &secrets);
    let status: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(status["agentState"], 8);
    let (out, _) = env.run("status --agent 101", 0, &secrets);
    assert_eq!(out.trim(), "agent 101: rest (8)");
    let prolong = "rest --agent 101 --for 1h --cause 2 --prolong --confirm";
    let (out, _) = env.run(prolong, 0, &secrets);
    assert!(
        out.contains("rest set again for 3600 s, cause 2; confirmed"),
        "{out}"
    );

    env.run("cancel-rest --agent 101", 0, &secrets);
    let (out, _) = env.run("events --agent 101 --count 1 --json", 0, &secrets);
    let event: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON line");
    assert_eq!(event["eventType"], "AgentState_CancelRest_Success");
    env.run("rest --agent 101 --for 90s", 0, &secrets);
    let (out, _) = env.run("events --agent 101 --count 1", 0, &secrets);
    assert_eq!(
        out.trim(),
        "agent 101: AgentState_SetRest_Success — in rest (cause 0)"
    );

    let (out, _) = env.run("sign-out --agent 101", 0, &secrets);
    assert_eq!(out.trim(), "agent 101 signed out");
    assert!(!file.exists(), "the Guid file is removed at sign-out");
    assert_eq!(env.sim.handle().agent_state(101), None);
}

/// Exit 2: invalid input, refused before anything is sent, and a wrong password.
#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_exits_2_and_sends_nothing() {
    let env = Env::start().await;
    let before = env.sim.handle().stats().requests;
    let (_, err) = env.run("rest --agent 101 --for 0", 2, &[PASSWORD]);
    assert!(
        err.contains("invalid rest duration 0: must be within 1..=86399 seconds"),
        "{err}"
    );
    let (_, err) = env.run("status --agent 100", 2, &[PASSWORD]);
    assert!(err.contains("invalid agent id 100"), "{err}");
    let (_, err) = env.run("status --agent 102", 2, &[PASSWORD]);
    assert!(
        err.contains("no Guid for agent 102") && err.contains("ccgw sign-in"),
        "{err}"
    );
    let (_, err) = env.run("rest --agent 101 --for 10x", 2, &[PASSWORD]);
    assert!(err.contains("units"), "{err}");
    let mut plain = env.ccgw(&["status", "--agent", "101"]);
    plain.env("CCGW_URL", "http://127.0.0.1:9");
    let (_, err) = run(plain, 2, &[PASSWORD]);
    assert!(
        err.contains("plain http") && err.contains("--allow-http"),
        "{err}"
    );
    let mut no_password = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    no_password.env_remove("CCGW_PASSWORD");
    let (_, err) = run(no_password, 2, &[]);
    assert!(err.contains("no password"), "{err}");
    assert_eq!(
        env.sim.handle().stats().requests,
        before,
        "invalid input sends nothing"
    );

    // A wrong password is the configuration's to fix too.
    let (_, err) = env.run("sign-in --agent 103 --phone 40103", 2, &[PASSWORD]);
    assert!(
        err.contains("wrong password for agent 103 (100-004)"),
        "{err}"
    );
}

/// The gateway's refusals: 3 refused for good, 7 signed in elsewhere (take over), 6 the
/// session is gone, 8 a passing refusal.
#[tokio::test(flavor = "multi_thread")]
async fn each_refusal_class_has_its_exit_code_and_a_readable_line() {
    let env = Env::start().await;
    let guid = env.signed_in();
    let (_, err) = env.run("cancel-rest --agent 101", 3, &[PASSWORD, &guid]);
    assert!(
        err.contains("agent 101 is not in rest (it is idle; 100-009)"),
        "{err}"
    );
    // From another workstation (another state directory), where no valid Guid is kept.
    let mut elsewhere = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    elsewhere.env("CCGW_STATE_DIR", env.dir.join("elsewhere"));
    let (_, err) = run(elsewhere, 7, &[PASSWORD, &guid]);
    assert!(
        err.contains("already signed in (100-002)") && err.contains("--take-over"),
        "{err}"
    );
    let take_over = "sign-in --agent 101 --phone 40101 --take-over";
    let (out, _) = env.run(take_over, 0, &[PASSWORD, &guid]);
    assert!(out.contains("taken over"), "{out}");
    // The previous Guid stops working at once: 000-003, take over again.
    let mut stale = env.ccgw(&["status", "--agent", "101"]);
    stale.env("CCGW_GUID", &guid);
    let (_, err) = run(stale, 7, &[PASSWORD, &guid]);
    assert!(err.contains("000-003"), "{err}");
    let guid = read_guid(&env.guid_file(101));

    assert!(env.sim.handle().force_sign_out(101));
    let (_, err) = env.run("rest --agent 101 --for 60", 6, &[PASSWORD, &guid]);
    assert!(
        err.contains("error: agent 101 is not signed in (100-006): sign in again"),
        "{err}"
    );

    let guid = env.signed_in();
    env.sim
        .handle()
        .inject(ccgw_sim::operation::GET_AGENT_STATUS, "000-007");
    let (_, err) = env.run("status --agent 101", 8, &[PASSWORD, &guid]);
    assert!(
        err.contains("000-007") && err.contains("try again"),
        "{err}"
    );
}

/// The transport's failures: 2 TLS without the CA, 4 nothing listening (nothing was
/// sent), 5 outcome unknown (a server that takes the request and never answers).
#[tokio::test(flavor = "multi_thread")]
async fn each_transport_failure_has_its_exit_code_and_a_readable_line() {
    let env = Env::start().await;
    let mut no_ca = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    no_ca.env_remove("CCGW_CA_FILE");
    let (_, err) = run(no_ca, 2, &[PASSWORD]);
    assert!(err.contains("TLS") && err.contains("--ca-file"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut closed = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    closed.env("CCGW_URL", format!("https://127.0.0.1:{port}"));
    let (_, err) = run(closed, 4, &[PASSWORD]);
    assert!(err.contains("cannot connect"), "{err}");

    let stall = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = stall.local_addr().expect("addr");
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = stall.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    let mut stalled = env.ccgw(&[
        "rest",
        "--agent",
        "101",
        "--for",
        "60",
        "--allow-http",
        "--timeout",
        "1s",
    ]);
    stalled
        .env("CCGW_URL", format!("http://{addr}"))
        .env("CCGW_GUID", "SOME-GUID.AgentGateway0");
    let (_, err) = run(stalled, 5, &[PASSWORD, "SOME-GUID"]);
    assert!(
        err.contains("outcome unknown") && err.contains("ccgw status"),
        "{err}"
    );
    let _ = holder.join();
}

/// `ccgw <args…> --agent 101 --confirm --timeout 1s`, which must succeed; its output.
/// Agent IDs of the vendor's current range work without any option (70000 and 999999
/// against a simulator serving them); one beyond it is refused before anything is sent
/// (exit 2), and a locked account (`110-016`) is a configuration error (exit 2).
#[tokio::test(flavor = "multi_thread")]
async fn agent_ids_up_to_999999_and_a_locked_account() {
    let agents = [70_000, 999_999, 102]
        .map(|id| ccgw_sim::AgentConfig {
            password: PASSWORD.to_owned(),
            ..ccgw_sim::AgentConfig::numbered(id)
        })
        .to_vec();
    let env = Env::start_with(Config {
        agents,
        locked: vec![102],
        poll_hold: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    for id in ["70000", "999999"] {
        run(
            env.ccgw(&["sign-in", "--agent", id, "--phone", "40038"]),
            0,
            &[PASSWORD],
        );
        let rest = [
            "rest",
            "--agent",
            id,
            "--for",
            "10m",
            "--cause",
            "3",
            "--confirm",
        ];
        run(env.ccgw(&rest), 0, &[PASSWORD]);
        let agent: u32 = id.parse().expect("number");
        assert_eq!(env.sim.handle().agent_state(agent), Some(8), "agent {id}");
    }
    let requests = env.sim.handle().stats().requests;
    let (_, err) = run(
        env.ccgw(&["rest", "--agent", "1000000", "--for", "10m", "--cause", "3"]),
        2,
        &[PASSWORD],
    );
    assert!(err.contains("must be within 101..=999999"), "{err}");
    assert_eq!(env.sim.handle().stats().requests, requests, "nothing sent");
    let (_, err) = run(
        env.ccgw(&["sign-in", "--agent", "102", "--phone", "40102"]),
        2,
        &[PASSWORD],
    );
    assert!(err.contains("110-016"), "{err}");
}

fn confirmed(env: &Env, args: &[&str]) -> String {
    let mut command = env.ccgw(args);
    command.args(["--agent", "101", "--confirm", "--timeout", "1s"]);
    run(command, 0, &[PASSWORD]).0
}

/// An operator's settings: a 1 s request timeout against a gateway that holds polls for
/// 3 s and rotates Guids every 2 s (replaced ones valid 4 s). `ccgw events` follows for
/// 14 s without a warning (its polls run under the poll timeout), and `ccgw rest
/// --confirm` succeeds meanwhile for the same agent although the events process may take
/// the confirming event (one event queue per agent): the state confirms it.
#[tokio::test(flavor = "multi_thread")]
async fn events_and_confirmations_with_a_request_timeout_shorter_than_the_hold() {
    let env = Env::start_with(Config {
        poll_hold: Duration::from_millis(3000),
        auth_mode: AuthMode::Dynamic {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(4),
        },
        ..Config::default()
    })
    .await;
    let handle = env.sim.handle();
    run(
        env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]),
        0,
        &[PASSWORD],
    );
    // Alone first: the confirmation's own poll runs under the poll timeout too.
    let out = confirmed(&env, &["rest", "--for", "600"]);
    assert!(out.contains("confirmed by its event"), "{out}");
    confirmed(&env, &["cancel-rest"]);

    let started = std::time::Instant::now();
    let mut events = env.spawn(&["events", "--agent", "101", "--timeout", "1s"]);
    let held = handle.stats().polls_held_out;
    ccgw_testkit::wait_until_within(
        Duration::from_secs(10),
        "the events process holds a poll",
        || handle.stats().polls_held_out > held,
    )
    .await;
    for _ in 0..2 {
        // Bounded by --wait: a confirmation that waited out its event would fail.
        let out = confirmed(&env, &["rest", "--for", "600", "--wait", "5s"]);
        assert!(out.contains("confirmed by"), "{out}");
        confirmed(&env, &["cancel-rest", "--wait", "5s"]);
    }
    ccgw_testkit::wait_until_within(Duration::from_secs(30), "14 s of following events", || {
        started.elapsed() >= Duration::from_secs(14)
    })
    .await;
    assert!(
        events.try_wait().expect("status").is_none(),
        "`ccgw events` is still following"
    );
    let _ = events.kill();
    let out = events.wait_with_output().expect("output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!stderr.contains("WARN"), "warnings:\n{stderr}");
    assert!(
        !stdout.contains("may have been missed"),
        "a poll answer was lost:\n{stdout}"
    );
    assert_eq!(env.sim.handle().agent_state(101), Some(4), "idle");
}

#[tokio::test(flavor = "multi_thread")]
async fn sim_subcommand_serves_the_simulator() {
    let env = Env::start().await;
    let mut ccgw_sim = std::process::Command::new(assert_cmd::cargo::cargo_bin("ccgw"));
    ccgw_sim.arg("sim");
    let sim = ccgw_testkit::SimProcess::start(ccgw_sim, &env.dir, &["--sign-in", "101"])
        .expect("ccgw sim starts");
    let start = sim.start_line().clone();
    drop(sim);
    assert!(
        start["base_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://127.0.0.1:")),
        "{start}"
    );
    assert!(
        start["guids"]["101"]
            .as_str()
            .is_some_and(|g| g.contains(".AgentGateway")),
        "{start}"
    );
}

#[test]
fn the_demo_finishes_with_a_summary() {
    let out = Command::cargo_bin("ccgw")
        .expect("binary")
        .args(["demo", "--rest-seconds", "1"])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("EMBEDDED SIMULATOR"),
        "the demo says it talks to the simulator:\n{stdout}"
    );
    for event in [
        "AgentState_SetRest_Success",
        "AgentState_Rest_Timeout",
        "AgentState_CancelRest_Success",
    ] {
        assert!(stdout.contains(event), "{event} missing:\n{stdout}");
    }
    assert!(stdout.contains("demo finished in"), "{stdout}");
}

#[test]
fn help_texts() {
    for sub in [
        None,
        Some("sign-in"),
        Some("sign-out"),
        Some("rest"),
        Some("cancel-rest"),
        Some("status"),
        Some("events"),
        Some("keep"),
        Some("check"),
        Some("config"),
        Some("sim"),
        Some("demo"),
    ] {
        let mut cmd = Command::cargo_bin("ccgw").expect("binary");
        cmd.env_clear();
        if let Some(sub) = sub {
            cmd.arg(sub);
        }
        let out = cmd.arg("--help").output().expect("help");
        assert!(out.status.success());
        let name = format!("help_{}", sub.unwrap_or("ccgw").replace('-', "_"));
        insta::assert_snapshot!(name, String::from_utf8_lossy(&out.stdout));
    }
}
