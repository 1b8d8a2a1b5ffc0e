//! What an operator met running `ccgw` from the README alone: each mistake named
//! exactly, each command ending as it should. Every case runs the binary.

mod common;

use std::time::Duration;

use common::{Env, PASSWORD, read_guid, run};

/// A listener that accepts connections and never answers (kept open `hold`).
fn silent_server(hold: Duration) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(hold);
        drop(held);
    });
    (addr, holder)
}

/// `--timeout 2s` against a server that never completes the handshake: the message
/// names the 2 s that ran out, not the 5 s connect timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_names_the_time_that_ran_out() {
    let env = Env::start().await;
    let (addr, holder) = silent_server(Duration::from_secs(4));
    let mut sign_in = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    sign_in.args(["--timeout", "2s", "--url", &format!("https://{addr}")]);
    let (_, err) = run(sign_in, 4, &[PASSWORD]);
    assert!(err.contains("timed out after 2s"), "{err}");
    assert!(!err.contains("5s"), "{err}");
    let _ = holder.join();
}

/// Numbers out of range are named with the contract's range, negative ones too.
#[tokio::test(flavor = "multi_thread")]
async fn values_out_of_range_are_named_with_their_range() {
    let env = Env::start().await;
    let range = ccgw::RestCause::RANGE;
    let cause_range = format!("{}..={}", range.start(), range.end());
    let (_, err) = env.run("rest --agent 101 --for 60 --cause -1", 2, &[]);
    assert!(
        err.contains(&cause_range) && !err.contains("4294967295"),
        "{err}"
    );
    let (_, err) = env.run("rest --agent 101 --for 60 --cause 256", 2, &[]);
    assert!(err.contains(&cause_range), "{err}");
    let (_, err) = env.run("rest --agent 101 --for -10", 2, &[]);
    assert!(
        err.contains("cannot be negative") && !err.contains("unexpected argument"),
        "{err}"
    );
    let (_, err) = env.run("status --agent -5", 2, &[]);
    assert!(err.contains("invalid agent id -5"), "{err}");
    assert_eq!(env.sim.handle().stats().requests, 0, "nothing was sent");
}

/// A refused state change says why, from the agent's state: `rest` while resting
/// points at `--prolong` (`cancel-rest` while idle: `cli.rs`'s refusals); a cause the
/// tenant does not have says that causes are the tenant's.
#[tokio::test(flavor = "multi_thread")]
async fn refused_state_changes_say_why() {
    let env = Env::start().await;
    env.signed_in();
    env.run("rest --agent 101 --for 600 --confirm", 0, &[PASSWORD]);
    let (_, err) = env.run("rest --agent 101 --for 600", 3, &[PASSWORD]);
    assert!(
        err.contains("already in rest") && err.contains("--prolong"),
        "{err}"
    );
    env.run("rest --agent 101 --for 600 --prolong", 0, &[PASSWORD]);
    env.run("cancel-rest --agent 101 --confirm", 0, &[PASSWORD]);
    let (_, err) = env.run("rest --agent 101 --for 60 --cause 42", 3, &[PASSWORD]);
    assert!(
        err.contains("000-002") && err.contains("per tenant"),
        "{err}"
    );
}

/// Signing out twice, or an agent signed out by someone else, is done, not failed: exit
/// 0, and the worthless Guid file is gone.
#[tokio::test(flavor = "multi_thread")]
async fn signing_out_an_agent_already_signed_out_succeeds_and_cleans_up() {
    let env = Env::start().await;
    env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
    let file = env.guid_file(101);
    assert!(env.sim.handle().force_sign_out(101));
    let (out, _) = env.run("sign-out --agent 101", 0, &[PASSWORD]);
    assert!(out.contains("agent 101 signed out"), "{out}");
    assert!(!file.exists(), "the Guid file is removed");
}

/// `ccgw events` ends with exit 0 when the agent is signed out normally.
#[tokio::test(flavor = "multi_thread")]
async fn events_end_cleanly_on_a_sign_out() {
    let env = Env::start().await;
    env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
    let events = env.spawn(&["events", "--agent", "101"]);
    ccgw_testkit::wait_until_within(Duration::from_secs(20), "the stream polls", || {
        env.sim.handle().stats().events_delivered > 0
    })
    .await;
    env.run("sign-out --agent 101", 0, &[PASSWORD]);
    let out = events.wait_with_output().expect("events ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("signed out (100-006); no more events"),
        "{stdout}"
    );
}

/// `ccgw events` meets a mistake no retry mends at once, with a one-shot command's exit
/// code: an untrusted CA (2), nothing listening (4).
#[tokio::test(flavor = "multi_thread")]
async fn events_stop_at_once_on_mistakes_that_do_not_pass() {
    let env = Env::start().await;
    let other = Env::start().await;
    env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
    let mut wrong_ca = env.ccgw(&["events", "--agent", "101"]);
    wrong_ca
        .env("CCGW_CA_FILE", &other.ca_file)
        .timeout(Duration::from_secs(20));
    let (_, err) = run(wrong_ca, 2, &[PASSWORD]);
    assert!(
        err.contains(&other.ca_file.display().to_string()) && err.contains("does not vouch"),
        "{err}"
    );
    assert!(!err.contains("pass the gateway's CA certificate"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut refused = env.ccgw(&["events", "--agent", "101"]);
    refused
        .env("CCGW_URL", format!("https://127.0.0.1:{port}"))
        .timeout(Duration::from_secs(20));
    let (_, err) = run(refused, 4, &[PASSWORD]);
    assert!(err.contains("cannot connect"), "{err}");
}

/// The URL and the CA file: a URL with a path asks for the base URL only (exit 2);
/// plain http sent to the HTTPS port says to use https; an empty or non-PEM CA file is
/// named.
#[tokio::test(flavor = "multi_thread")]
async fn url_and_ca_mistakes_are_named() {
    let env = Env::start().await;
    env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
    let base = env.sim.base_url();
    let mut with_path = env.ccgw(&["status", "--agent", "101"]);
    with_path.args(["--url", &format!("{base}/agentgateway/resource")]);
    let (_, err) = run(with_path, 2, &[PASSWORD]);
    assert!(err.contains("give only the gateway's base URL"), "{err}");
    let mut plain = env.ccgw(&["status", "--agent", "101", "--allow-http"]);
    plain.args(["--url", &base.replacen("https://", "http://", 1)]);
    let (_, err) = run(plain, 5, &[PASSWORD]);
    assert!(
        err.contains("use an https:// URL") && !err.contains("read buffer"),
        "{err}"
    );
    for (name, text) in [("empty.pem", ""), ("not.pem", "just text\n")] {
        let file = env.dir.join(name);
        std::fs::write(&file, text).expect("CA file");
        let mut bad_ca = env.ccgw(&["status", "--agent", "101"]);
        bad_ca.arg("--ca-file").arg(&file);
        let (_, err) = run(bad_ca, 2, &[PASSWORD]);
        assert!(
            err.contains(&format!("the CA file {}", file.display())),
            "{err}"
        );
    }
}

/// The Guid file and the sign-in: an empty Guid file says to sign in again; signing in
/// again where the Guid file's session is still valid is not a take-over.
#[tokio::test(flavor = "multi_thread")]
async fn guid_file_states_are_explained() {
    let env = Env::start().await;
    let guid = env.signed_in();
    let (out, err) = env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD, &guid]);
    assert!(out.contains("already signed in from here"), "{out}");
    assert!(
        !err.contains("--take-over") && !out.contains("--take-over"),
        "{err}"
    );
    assert_eq!(
        read_guid(&env.guid_file(101)),
        guid,
        "the session is the same"
    );
    std::fs::write(env.guid_file(102), "\n").expect("an empty Guid file");
    let (_, err) = env.run("status --agent 102", 2, &[PASSWORD]);
    assert!(err.contains("is empty: sign in again"), "{err}");
}

/// The environment: a variable's bad value is named as the variable, a `CCGW_*` typo
/// is warned about with the nearest name, and `-v` shows the effective URL and CA file.
#[tokio::test(flavor = "multi_thread")]
async fn the_environment_is_reported_as_the_environment() {
    let env = Env::start().await;
    let mut bad = env.ccgw(&["status", "--agent", "101"]);
    bad.env("CCGW_TIMEOUT", "abc");
    let (_, err) = run(bad, 2, &[PASSWORD]);
    assert!(
        err.contains("CCGW_TIMEOUT") && !err.contains("--timeout"),
        "{err}"
    );
    let mut typo = env.ccgw(&["status", "--agent", "101"]);
    typo.env("CCGW_CAFILE", "/etc/ca.pem")
        .env("CCGW_GUID", "G.AgentGateway0");
    let (_, err) = run(typo, 6, &[PASSWORD]);
    assert!(
        err.contains("warning: CCGW_CAFILE is not a ccgw variable")
            && err.contains("did you mean CCGW_CA_FILE?"),
        "{err}"
    );
    env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
    let status = env.spawn(&["status", "--agent", "101"]);
    let out = status.wait_with_output().expect("status runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(env.sim.base_url()) && err.contains(&env.ca_file.display().to_string()),
        "{err}"
    );
}

/// A simulator restarted on the same port with a new CA (no `--cert-dir` kept): the
/// running `ccgw events` meets a certificate it does not trust and ends at once with
/// exit 2, naming its CA file, instead of retrying.
#[tokio::test(flavor = "multi_thread")]
async fn events_end_when_the_gateway_comes_back_with_another_ca() {
    let env = Env::start().await;
    env.signed_in();
    let mut events = env.spawn(&["events", "--agent", "101"]);
    ccgw_testkit::wait_until_within(Duration::from_secs(20), "the stream polls", || {
        env.sim.handle().stats().events_delivered > 0
    })
    .await;
    let Env { sim, dir, ca_file } = env;
    let addr = sim.addr();
    sim.shutdown().await;
    let again = ccgw_sim::Simulator::start(ccgw_sim::Config {
        listen: addr,
        poll_hold: Duration::from_millis(300),
        ..ccgw_sim::Config::default()
    })
    .await
    .expect("the simulator starts again on the same port");
    let out = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        while events.try_wait().expect("events runs").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "ccgw events still runs"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        events.wait_with_output().expect("its output")
    })
    .await
    .expect("joined");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("TLS") && err.contains(&ca_file.display().to_string()),
        "{err}"
    );
    drop((again, dir));
}
