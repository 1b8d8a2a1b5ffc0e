//! The simulator for operators: its CA survives a restart in the same directory, a
//! node goes down and up on demand, and the banner says what runs.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ccgw_sim::{Config, Simulator, Transport};
use ccgw_testkit::RawClient;

fn in_dir(dir: &std::path::Path, nodes: u8) -> Config {
    Config {
        nodes,
        transport: Transport::Https {
            cert_dir: Some(dir.to_path_buf()),
            extra_names: Vec::new(),
        },
        ..Config::default()
    }
}

async fn post(client: &RawClient, path: &str) -> (u16, String) {
    let answer = client
        .send("POST", path, &[], None, Duration::from_secs(10))
        .await
        .expect("an answer");
    (
        answer.status,
        String::from_utf8_lossy(&answer.body).into_owned(),
    )
}

/// A client that trusts the CA file of the first start reaches the second.
#[tokio::test]
async fn a_restart_in_the_same_directory_keeps_the_ca() {
    let dir = ccgw_testkit::scratch_dir("sim-ca").expect("dir");
    let first = Simulator::start(in_dir(&dir, 1))
        .await
        .expect("first start");
    let pem = std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem");
    first.shutdown().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("ca-key.pem"))
            .expect("the key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the CA's key is its owner's only");
    }
    let second = Simulator::start(in_dir(&dir, 1))
        .await
        .expect("second start");
    assert_eq!(
        std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem"),
        pem
    );
    let client = RawClient::new(second.base_url(), Some(&pem));
    let (status, _) = post(&client, "/ccgw-sim/nodes/0/up").await;
    assert_eq!(
        status, 200,
        "the kept CA is trusted by the restarted simulator"
    );
    let other = ccgw_testkit::scratch_dir("sim-ca-other").expect("dir");
    let third = Simulator::start(in_dir(&other, 1))
        .await
        .expect("elsewhere");
    let fresh = std::fs::read_to_string(other.join("ca.pem")).expect("ca.pem");
    assert_ne!(fresh, pem, "another directory, another CA");
    let stale = RawClient::new(third.base_url(), Some(&pem));
    let refused = stale
        .send(
            "POST",
            "/ccgw-sim/nodes/0/up",
            &[],
            None,
            Duration::from_secs(10),
        )
        .await;
    assert!(
        refused.is_err(),
        "the old CA does not vouch for another directory's"
    );
}

/// `POST /ccgw-sim/nodes/N/down` ends the node's sessions and `…/up` brings it back;
/// `/ccgw-sim/agents/ID/sign-out` signs an agent out; anything else is named.
#[tokio::test]
async fn nodes_go_down_and_up_on_demand() {
    let dir = ccgw_testkit::scratch_dir("sim-control").expect("dir");
    let sim = Simulator::start(in_dir(&dir, 2)).await.expect("sim");
    let handle = sim.handle();
    let client = RawClient::new(sim.base_url(), sim.ca_pem());
    handle.sign_in(101).expect("signed in");
    handle.sign_in(102).expect("signed in");
    let node = handle.node_of(101).expect("on a node");
    let (status, text) = post(&client, &format!("/ccgw-sim/nodes/{node}/down")).await;
    assert_eq!(
        (status, text.trim()),
        (200, format!("node {node} is now down").as_str())
    );
    assert_eq!(handle.node_of(101), None, "its sessions ended");
    let (_, text) = post(&client, &format!("/ccgw-sim/nodes/{node}/down")).await;
    assert!(text.contains("already down"), "{text}");
    let (status, text) = post(&client, &format!("/ccgw-sim/nodes/{node}/up")).await;
    assert_eq!(
        (status, text.trim()),
        (200, format!("node {node} is now up").as_str())
    );
    let (status, _) = post(&client, "/ccgw-sim/nodes/2/down").await;
    assert_eq!(status, 404);
    if handle.node_of(102).is_some() {
        let (status, _) = post(&client, "/ccgw-sim/agents/102/sign-out").await;
        assert_eq!(status, 200);
        assert_eq!(handle.node_of(102), None);
    }
    let (status, text) = post(&client, "/ccgw-sim/what").await;
    assert!(status == 404 && text.contains("nodes/N/down"), "{text}");
}

/// The banner names the nodes, the faults and the rest causes, and the controls.
#[test]
fn the_banner_shows_nodes_faults_causes_and_controls() {
    let dir = ccgw_testkit::scratch_dir("sim-banner").expect("dir");
    let mut sim = ccgw_testkit::Child(
        Command::new(env!("CARGO_BIN_EXE_ccgw-sim"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--nodes",
                "2",
                "--faults",
                "delay=0.1",
                "--cert-dir",
            ])
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let stdout = sim.0.stdout.take().expect("stdout");
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("readable");
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("Ctrl-C stops it") {
            break;
        }
    }
    for expected in [
        "nodes      2 behind one front",
        "faults     ",
        "delay",
        "causes     0 (no cause) and 1, 2, 3",
        "/ccgw-sim/nodes/N/down",
    ] {
        assert!(banner.contains(expected), "{expected:?} missing:\n{banner}");
    }
}
