//! One place for an operator to learn: `ccgw help config` lists every setting,
//! `ccgw config` shows the effective ones and where each came from, and every command
//! speaks JSON on request.

mod common;

use assert_cmd::Command;
use common::{Env, PASSWORD, run};

fn ccgw() -> Command {
    let mut cmd = Command::cargo_bin("ccgw").expect("binary built");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

#[test]
fn help_config_lists_every_key_with_its_default_and_variable() {
    let mut help = ccgw();
    help.args(["help", "config"]);
    let (out, _) = run(help, 0, &[]);
    for setting in ccgw::Config::default().settings() {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(setting.key))
            .unwrap_or_else(|| panic!("{} is missing:\n{out}", setting.key));
        assert!(line.contains(setting.variable), "{line}");
        assert!(line.contains(&setting.default), "{line}");
    }
}

#[test]
fn config_shows_each_setting_and_where_it_came_from_without_secrets() {
    let dir = ccgw_testkit::scratch_dir("cli-config").expect("dir");
    let file = dir.join("ccgw.toml");
    std::fs::write(
        &file,
        "poll_hold = \"5s\"\nurl = \"https://file.example\"\n",
    )
    .expect("file");
    let mut config = ccgw();
    config
        .env("CCGW_TIMEOUT", "7s")
        .env("CCGW_PASSWORD", "a-secret-password")
        .args([
            "config",
            "--json",
            "--url",
            "https://flag.example:8043",
            "--config",
        ])
        .arg(&file);
    let (out, _) = run(config, 0, &["a-secret-password"]);
    let shown: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let entry = |key: &str| {
        (
            shown[key]["value"].as_str().unwrap_or("?").to_owned(),
            shown[key]["from"].as_str().unwrap_or("?").to_owned(),
        )
    };
    assert_eq!(
        entry("url"),
        ("https://flag.example:8043".to_owned(), "--url".to_owned())
    );
    assert_eq!(
        entry("request_timeout"),
        ("7s".to_owned(), "CCGW_TIMEOUT".to_owned())
    );
    assert_eq!(
        entry("poll_hold"),
        ("5s".to_owned(), file.display().to_string())
    );
    assert_eq!(
        entry("connect_timeout"),
        ("5s".to_owned(), "default".to_owned())
    );
    assert_eq!(entry("password").1, "CCGW_PASSWORD");
    let mut text = ccgw();
    text.args(["config", "--url", "https://flag.example:8043"]);
    let (out, _) = run(text, 0, &[]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("url") && l.contains("[--url]")),
        "{out}"
    );
}

/// Every command answers one JSON object per line with `--json`.
#[tokio::test(flavor = "multi_thread")]
async fn every_command_speaks_json() {
    let env = Env::start().await;
    let lines = [
        ("sign-in --agent 101 --phone 40101 --json", "signed in"),
        // The sign-in's events are queued.
        ("events --agent 101 --count 1 --json", ""),
        ("status --agent 101 --json", ""),
        (
            "rest --agent 101 --for 60 --confirm --json",
            "rest requested",
        ),
        ("cancel-rest --agent 101 --confirm --json", "rest cancelled"),
        ("sign-out --agent 101 --json", "signed out"),
    ];
    for (line, result) in lines {
        let (out, _) = env.run(line, 0, &[PASSWORD]);
        for text in out.lines() {
            let value: serde_json::Value =
                serde_json::from_str(text).unwrap_or_else(|_| panic!("{line}: not JSON: {text}"));
            assert_eq!(value["agent"], 101, "{line}: {text}");
            if !result.is_empty() {
                assert_eq!(value["result"], result, "{line}: {text}");
            }
        }
        assert!(!out.is_empty(), "{line}");
    }
}
