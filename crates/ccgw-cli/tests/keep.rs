//! `ccgw keep`: fifty agents against a two-node simulator kept in rest through a node
//! going down and forced sign-outs, the recoveries visible in the metrics it serves,
//! and SIGTERM signing every one of them out.

mod common;

use std::io::{Read as _, Write as _};
use std::process::{Child, Stdio};
use std::time::Duration;

use ccgw_sim::{AgentConfig, Config};
use common::Env;

const FIRST: u32 = 101;
const LAST: u32 = 150;
/// The simulator's state code of rest.
const REST: u8 = 8;

/// `ccgw -v keep <args>` with its output in files of the state directory (fifty agents
/// write more than a pipe holds).
fn keep(env: &Env, args: &[&str]) -> Child {
    let out = std::fs::File::create(env.dir.join("keep.out")).expect("stdout file");
    let err = std::fs::File::create(env.dir.join("keep.err")).expect("stderr file");
    std::process::Command::new(assert_cmd::cargo::cargo_bin("ccgw"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CCGW_URL", env.sim.base_url())
        .env("CCGW_CA_FILE", &env.ca_file)
        .env("CCGW_BACKOFF_MIN", "100ms")
        .env("CCGW_BACKOFF_MAX", "1s")
        .env("CCGW_MAX_ATTEMPTS", "3")
        .args(["-v", "keep"])
        .args(args)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("ccgw keep starts")
}

/// A file in the state directory.
fn file(env: &Env, name: &str, text: &str) -> String {
    let path = env.dir.join(name);
    std::fs::write(&path, text).expect("file written");
    path.display().to_string()
}

/// Sends `signal` to `child`, waits for it; its exit code, stdout and stderr.
async fn stop(env: &Env, child: Child, signal: &str) -> (Option<i32>, String, String) {
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status();
    assert!(sent.expect("kill runs").success());
    ended(env, child).await
}

/// Waits for `child`; its exit code, stdout and stderr.
async fn ended(env: &Env, mut child: Child) -> (Option<i32>, String, String) {
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("joined");
    let out = std::fs::read_to_string(env.dir.join("keep.out")).expect("stdout");
    let err = std::fs::read_to_string(env.dir.join("keep.err")).expect("stderr");
    (status.expect("exit").code(), out, err)
}

/// The text of `GET http://address/metrics`.
fn scrape(address: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("metrics listener");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("answer");
    text
}

/// The value of the first sample of `name` in a Prometheus text page.
fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{page}"))
}

fn all_in_rest(env: &Env) -> bool {
    (FIRST..=LAST).all(|id| env.sim.handle().agent_state(id) == Some(REST))
}

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_agents_are_kept_in_rest_through_a_failover_and_signed_out_on_sigterm() {
    let env = Env::start_with(Config {
        agents: (FIRST..=LAST).map(AgentConfig::numbered).collect(),
        nodes: 2,
        switchover: Duration::from_secs(1),
        poll_hold: Duration::from_millis(500),
        ..Config::default()
    })
    .await;
    let address = free_address();
    let lines: String = (FIRST..=LAST).map(|id| format!("{id}=pw{id}\n")).collect();
    let passwords = file(&env, "passwords", &lines);
    let agents = format!("{FIRST}-{LAST}");
    let args = [
        "--agents",
        &agents,
        "--want",
        "rest",
        "--rest-for",
        "1h",
        "--phone",
        "40{id}",
    ];
    let child = keep(
        &env,
        &[
            &args[..],
            &["--metrics", &address, "--password-file", &passwords],
        ]
        .concat(),
    );
    let wait = Duration::from_secs(60);
    ccgw_testkit::wait_until_within(wait, "all fifty in rest, as ccgw keep knows", || {
        all_in_rest(&env) && sample(&scrape(&address), "ccgw_keep_agents_in_wanted_state") == 50.0
    })
    .await;
    let handle = env.sim.handle();

    let on_node_0 = (FIRST..=LAST)
        .filter(|id| handle.node_of(*id) == Some(0))
        .count();
    assert!(handle.set_node_down(0, true));
    let forced: Vec<u32> = (FIRST..=LAST)
        .filter(|id| handle.node_of(*id) == Some(1))
        .take(5)
        .collect();
    for id in &forced {
        assert!(handle.force_sign_out(*id));
    }
    let recovered = (on_node_0 + forced.len()) as f64;
    ccgw_testkit::wait_until_within(wait, "every loss recovered", || {
        all_in_rest(&env) && sample(&scrape(&address), "ccgw_keep_recovered_total") >= recovered
    })
    .await;
    assert!(
        (FIRST..=LAST).all(|id| handle.node_of(id) == Some(1)),
        "all on node 1"
    );
    let page = scrape(&address);
    assert_eq!(
        sample(&page, "ccgw_keep_agents_in_wanted_state"),
        50.0,
        "{page}"
    );
    assert!(page.contains("ccgw_sessions_lost_total"), "{page}");

    let (code, out, err) = stop(&env, child, "-TERM").await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains(&format!("agent {}: restored — rest", forced[0])),
        "{out}"
    );
    all_signed_out_without_a_password_shown(&env, &out, &err);
}

fn all_signed_out_without_a_password_shown(env: &Env, out: &str, err: &str) {
    assert!(out.contains("stopped: 50 agents signed out"), "{out}");
    let handle = env.sim.handle();
    let signed_in = (FIRST..=LAST)
        .filter(|id| handle.agent_state(*id).is_some())
        .count();
    assert_eq!(signed_in, 0, "SIGTERM leaves nobody signed in");
    for id in FIRST..=LAST {
        let password = format!("pw{id}");
        assert!(
            !out.contains(&password) && !err.contains(&password),
            "a password leaked"
        );
    }
}

/// The other options: agents from a file, one password for all, the cause and the
/// duration of the rest, JSON lines and JSON logs, SIGINT; a phone number the contract
/// refuses makes every agent give up and the command end by itself; a wait the library
/// refuses is reported for each agent.
#[tokio::test(flavor = "multi_thread")]
async fn each_option_of_keep_does_what_it_says() {
    let shared = |id| AgentConfig {
        password: "shared-secret".to_owned(),
        ..AgentConfig::numbered(id)
    };
    let env = Env::start_with(Config {
        agents: (101..=103).map(shared).collect(),
        poll_hold: Duration::from_millis(500),
        ..Config::default()
    })
    .await;
    let (agents, password) = (
        file(&env, "agents", "101-102 # two\n103\n"),
        file(&env, "pw", "shared-secret\n"),
    );
    let (agents, password) = (format!("@{agents}"), password.as_str());
    let base = ["--agents", &agents, "--password-file", password];
    let rest = [
        "--want",
        "rest",
        "--rest-for",
        "10m",
        "--cause",
        "3",
        "--json",
        "--log-json",
    ];
    let child = keep(&env, &[&base[..], &rest[..]].concat());
    let handle = env.sim.handle();
    let rested = |id| {
        handle.agent_rest(id).is_some_and(|(cause, left)| {
            cause == 3 && left > Duration::from_secs(500) && left <= Duration::from_secs(600)
        })
    };
    ccgw_testkit::wait_until_within(
        Duration::from_secs(30),
        "three in rest, cause 3, 10 min",
        || (101..=103).all(rested),
    )
    .await;
    let (code, out, err) = stop(&env, child, "-INT").await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    for line in out.lines().chain(err.lines()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(value.is_object(), "{line}");
    }
    assert!(out.contains("\"change\":\"signed out\""), "{out}");
    assert!(!out.contains("shared-secret") && !err.contains("shared-secret"));

    let too_long = "1234567890123456789012345{id}";
    let child = keep(&env, &[&base[..], &["--phone", too_long]].concat());
    let (code, out, err) = ended(&env, child).await;
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("gave up") && out.contains("phone"), "{out}");
    assert!(err.contains("every agent gave up"), "{err}");

    let child = keep(
        &env,
        &[&base[..], &["--want", "rest", "--wait", "25h"]].concat(),
    );
    ccgw_testkit::wait_until_within(
        Duration::from_secs(30),
        "three refusals of the wait",
        || {
            let out = std::fs::read_to_string(env.dir.join("keep.out")).unwrap_or_default();
            out.matches("not in wanted state").count() == 3
        },
    )
    .await;
    let (code, out, _) = stop(&env, child, "-TERM").await;
    assert_eq!(code, Some(0));
    assert!(out.contains("invalid wait"), "{out}");
}
