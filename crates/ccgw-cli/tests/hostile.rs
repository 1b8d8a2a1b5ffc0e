//! The `ccgw` binary at `-vvv` against the simulator's hostile mode: for every hostile
//! answer it knows, agent 101 signs in on a two-node cluster, then `status`, `rest`,
//! `cancel-rest`, `events` and `sign-out` run, each answered in that
//! hostile way. Every byte they print (stdout and stderr) and every file they leave in
//! the state directory (the Guid file aside) is checked: no Guid, no UUID, no cookie, no
//! password.

mod common;

use std::time::Duration;

use ccgw_sim::{Config, Faults, Hostile};
use ccgw_testkit::leaks::assert_none_shown;
use common::{Env, PASSWORD};

/// The commands each hostile answer meets (after the sign-in, which is not hostile).
const COMMANDS: [&str; 5] = [
    "status --agent 101",
    "rest --agent 101 --for 60 --cause 3",
    "cancel-rest --agent 101",
    "events --agent 101 --count 1",
    "sign-out --agent 101",
];

/// Runs every command against one hostile answer; what they printed, what they left,
/// and the secrets.
async fn meet(case: Hostile) -> (String, Vec<String>) {
    let env = Env::start_with(Config {
        nodes: 2,
        affinity_cookie: "lbnode".to_owned(),
        poll_hold: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let sign_in = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    let commands: Vec<_> = COMMANDS
        .iter()
        .map(|line| {
            let args: Vec<&str> = line.split_whitespace().collect();
            let mut command = env.ccgw(&args);
            // A sign-out or an event stream that meets only hostile answers keeps trying.
            command.timeout(Duration::from_secs(3));
            command
        })
        .collect();
    let handle = env.sim.handle();
    // The commands block: on a thread of their own, so the simulator keeps serving.
    let mut text = tokio::task::spawn_blocking(move || {
        let (out, _) = common::run(sign_in, 0, &[PASSWORD]);
        assert!(out.contains("signed in"), "{out}");
        handle.set_faults(Faults {
            hostile: Some(case),
            ..Faults::default()
        });
        let mut text = String::new();
        for mut command in commands {
            if let Ok(output) = command.output() {
                text += &String::from_utf8_lossy(&output.stdout);
                text += &String::from_utf8_lossy(&output.stderr);
            }
        }
        text
    })
    .await
    .expect("the commands ran");
    for entry in std::fs::read_dir(&env.dir).expect("state dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".guid") && entry.path().is_file() {
            text += &std::fs::read_to_string(entry.path()).unwrap_or_default();
        }
    }
    let handle = env.sim.handle();
    let mut secrets = vec![PASSWORD.to_owned()];
    for node in 0..2 {
        if let Some(cookie) = handle.affinity_cookie(node) {
            secrets.extend(cookie.split_once('=').map(|(_, v)| v.to_owned()));
            secrets.push(cookie);
        }
    }
    (text, secrets)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_hostile_answer_gets_a_secret_printed() {
    let met = futures_join(Hostile::ALL.map(|case| tokio::spawn(meet(case)))).await;
    for (case, (text, secrets)) in Hostile::ALL.iter().zip(met) {
        assert!(!text.is_empty(), "{case}: the commands printed nothing");
        assert_none_shown(case.name(), &text, &secrets);
    }
    // What docs/reliability.md says is what runs.
    let page = include_str!("../../../docs/reliability.md").replace('\n', " ");
    assert_eq!(COMMANDS.len(), 5);
    assert!(page.contains("five `ccgw` commands at `-vvv`"));
}

async fn futures_join<T>(tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("a case ran"));
    }
    out
}
