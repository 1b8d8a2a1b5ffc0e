//! `ccgw-sim` (the binary) prints a curl line that really signs an agent in.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_printed_curl_line_signs_an_agent_in() {
    let dir = ccgw_testkit::scratch_dir("sim-bin").expect("scratch dir");
    let mut sim = ccgw_testkit::Child(
        Command::new(env!("CARGO_BIN_EXE_ccgw-sim"))
            .args(["--listen", "127.0.0.1:0", "--cert-dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let stdout = sim.0.stdout.take().expect("stdout");
    let started = Instant::now();
    let mut banner = Vec::new();
    let mut curl = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("readable banner");
        if line.trim_start().starts_with("curl ") {
            curl = Some(line.trim().to_owned());
            break;
        }
        banner.push(line);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no curl line in {banner:?}"
        );
    }
    let curl = curl.unwrap_or_else(|| panic!("no curl line in {banner:?}"));
    let text = banner.join("\n");
    assert!(text.contains("base URL   https://127.0.0.1:"), "{text}");
    assert!(text.contains("CA file"), "{text}");
    assert!(text.contains("101 / pw101"), "{text}");
    assert!(
        text.contains("export CCGW_URL=https://127.0.0.1:") && text.contains("CCGW_CA_FILE=/"),
        "{text}"
    );

    let out = Command::new("sh")
        .args(["-c", &format!("{curl} --silent --show-error --max-time 10")])
        .output()
        .expect("curl runs (Debian package curl)");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{curl}\n{answer}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(answer.contains("Set-GUID: JSESSIONID="), "{answer}");
    assert!(answer.contains(r#""retcode":"0""#), "{answer}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the binary with `args`, its CA in a scratch directory named after `name`.
fn start_json(name: &str, args: &[&str]) -> (ccgw_testkit::SimProcess, ccgw_testkit::Scratch) {
    let dir = ccgw_testkit::scratch_dir(&format!("sim-{name}")).expect("scratch dir");
    let sim =
        ccgw_testkit::SimProcess::start(Command::new(env!("CARGO_BIN_EXE_ccgw-sim")), &dir, args)
            .expect("the binary starts");
    (sim, dir)
}

#[test]
fn faults_from_the_command_line_are_injected() {
    let (sim, dir) = start_json("faults", &["--sign-in", "101", "--faults", "switch-over=1"]);
    let (url, ca, guid) = (
        sim.base_url(),
        sim.ca_file().expect("ca_file"),
        sim.guid(101).expect("a Guid"),
    );
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--cacert",
            ca,
        ])
        .arg(format!(
            "{url}/agentgateway/resource/onlineagent/101/agentstatus"
        ))
        .args(["-H", &format!("Guid: {guid}")])
        .output()
        .expect("curl runs");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(answer.contains(r#""retcode":"000-004""#), "{answer}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_address_in_use_names_the_setting_to_change() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ccgw-sim"))
        .args(["--listen", &addr, "--http"])
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("{addr} is in use")) && err.contains("--listen"),
        "{err}"
    );
    assert_eq!(err.matches("in use").count(), 1, "said once: {err}");
}

/// `--nodes`, `--affinity-cookie`, `--switchover-ms` and the node-down fault, from the
/// command line: the sign-in answer sets the named cookie, and once the agent's node
/// goes down a call with its cookie goes straight to the other node (`100-006`), never
/// answered as switching over.
#[test]
fn a_cluster_from_the_command_line() {
    let (sim, dir) = start_json(
        "cluster",
        &[
            "--nodes",
            "2",
            "--affinity-cookie",
            "flagged",
            "--switchover-ms",
            "0",
            "--faults",
            "node-down-every-ms=1000,node-down-for-ms=1000",
        ],
    );
    let (url, ca) = (
        sim.base_url().to_owned(),
        sim.ca_file().expect("ca_file").to_owned(),
    );
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "10", "--include"])
            .args(["--cacert", &ca])
            .args(args)
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let header = |answer: &str, name: &str| {
        answer
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
    };
    let signed_in = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"phonenum":"40101","password":"pw101"}"#,
        &format!("{url}/agentgateway/resource/onlineagent/101"),
    ]);
    let cookie = header(&signed_in, "set-cookie:").expect("a sticky cookie");
    assert!(cookie.starts_with("flagged="), "{cookie}");
    let cookie = cookie.split(';').next().expect("name=value").to_owned();
    let guid = header(&signed_in, "set-guid:")
        .and_then(|v| v.strip_prefix("JSESSIONID=").map(str::to_owned))
        .expect("a Guid");
    let started = Instant::now();
    loop {
        let answer = curl(&[
            "-H",
            &format!("Guid: {guid}"),
            "-H",
            &format!("Cookie: {cookie}"),
            &format!("{url}/agentgateway/resource/onlineagent/101/agentstatus"),
        ]);
        assert!(!answer.contains("000-004"), "switch-over of 0 ms: {answer}");
        if answer.contains(r#""retcode":"100-006""#) {
            break;
        }
        assert!(answer.contains(r#""retcode":"0""#), "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the agent's node never went down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
