//! What the `ccgw` binary's tests share: a simulator with its CA in a scratch directory,
//! the binary with the gateway settings in its environment, and running it with its
//! output checked for secrets.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use ccgw_sim::{Config, Simulator};

pub(crate) const PASSWORD: &str = "pw101";

pub(crate) struct Env {
    pub(crate) sim: Simulator,
    pub(crate) dir: ccgw_testkit::Scratch,
    pub(crate) ca_file: PathBuf,
}

impl Env {
    pub(crate) async fn start() -> Env {
        Env::start_with(Config {
            poll_hold: Duration::from_millis(300),
            ..Config::default()
        })
        .await
    }

    pub(crate) async fn start_with(config: Config) -> Env {
        let dir = ccgw_testkit::scratch_dir("cli").expect("temp dir");
        let sim = Simulator::start(config).await.expect("simulator");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, sim.ca_pem().expect("CA")).expect("CA file");
        Env { sim, dir, ca_file }
    }

    /// `ccgw -vvv <args>` with the gateway settings in the environment.
    pub(crate) fn ccgw(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("ccgw").expect("binary built");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CCGW_URL", self.sim.base_url())
            .env("CCGW_CA_FILE", &self.ca_file)
            .env("CCGW_STATE_DIR", &self.dir)
            .env("CCGW_PASSWORD", PASSWORD)
            .timeout(Duration::from_secs(60))
            .arg("-vvv")
            .args(args);
        cmd
    }

    /// `ccgw -v <args>` as a process of its own, output piped.
    pub(crate) fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("ccgw"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CCGW_URL", self.sim.base_url())
            .env("CCGW_CA_FILE", &self.ca_file)
            .env("CCGW_STATE_DIR", &self.dir)
            .arg("-v")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ccgw starts")
    }

    /// `ccgw -vvv <line>`, the line split at spaces: run, its exit code and secrets
    /// checked as [`run`] does.
    pub(crate) fn run(&self, line: &str, code: i32, secrets: &[&str]) -> (String, String) {
        let args: Vec<&str> = line.split_whitespace().collect();
        run(self.ccgw(&args), code, secrets)
    }

    /// Signs agent 101 in with `ccgw sign-in`; its Guid.
    pub(crate) fn signed_in(&self) -> String {
        self.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
        read_guid(&self.guid_file(101))
    }

    pub(crate) fn guid_file(&self, agent: u32) -> PathBuf {
        self.dir.join(format!("agent-{agent}.guid"))
    }
}

/// Runs `cmd`, asserts its exit code, and that no secret is in its output; returns
/// (stdout, stderr).
pub(crate) fn run(mut cmd: Command, code: i32, secrets: &[&str]) -> (String, String) {
    let out = cmd.output().expect("ccgw runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret leaked into the output"
        );
    }
    (stdout, stderr)
}

/// The Guid: the Guid file's first line.
pub(crate) fn read_guid(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("Guid file")
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}
