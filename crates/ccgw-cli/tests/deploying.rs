//! The `ccgw` binary as deployed: a configuration file (`--config`), and a cluster behind
//! a load balancer, where the session's affinity travels in the Guid file from one
//! command to the next.

mod common;

use std::time::Duration;

use ccgw_sim::Config;
use common::{Env, PASSWORD, read_guid, run};

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_file_names_the_gateway_and_is_checked() {
    let env = Env::start().await;
    let config = env.dir.join("ccgw.toml");
    let with_config = |args: &[&str]| {
        let mut cmd = env.ccgw(args);
        cmd.env_remove("CCGW_URL")
            .env_remove("CCGW_CA_FILE")
            .arg("--config")
            .arg(&config);
        cmd
    };
    let gateway = format!(
        "url = \"{}\"\nca_file = \"{}\"\nsystem_roots = false\n",
        env.sim.base_url(),
        env.ca_file.display()
    );
    std::fs::write(&config, &gateway).expect("config written");
    run(
        with_config(&["sign-in", "--agent", "101", "--phone", "40101"]),
        0,
        &[PASSWORD],
    );
    assert_eq!(env.sim.handle().agent_state(101), Some(4));
    let guid = read_guid(&env.guid_file(101));
    run(with_config(&["sign-out", "--agent", "101"]), 0, &[&guid]);
    assert_eq!(env.sim.handle().agent_state(101), None);

    // Checked like the library's builder: the setting at fault is named.
    std::fs::write(&config, format!("{gateway}poll_timeout = \"5s\"\n")).expect("written");
    let (_, err) = run(
        with_config(&["sign-in", "--agent", "101", "--phone", "40101"]),
        2,
        &[PASSWORD],
    );
    assert!(
        err.contains("poll_timeout (5s)") && err.contains("poll_hold (10s)"),
        "{err}"
    );
    std::fs::write(&config, "request_timeout = \"5s\"\n").expect("written");
    let (_, err) = run(with_config(&["status", "--agent", "101"]), 2, &[]);
    assert!(
        err.contains("no gateway URL") && err.contains("--url"),
        "{err}"
    );
    assert_eq!(env.sim.handle().agent_state(101), None);
}

/// Against a two-node cluster each command is a process of its own: `ccgw sign-in`
/// keeps the session's affinity with its Guid, and the next commands send it, so they
/// reach the node that holds the session (without it, the load balancer sends the next
/// call to the other node, which refuses the Guid with 000-003).
#[tokio::test(flavor = "multi_thread")]
async fn commands_reach_the_node_that_holds_the_session() {
    let env = Env::start_with(Config {
        nodes: 2,
        poll_hold: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let handle = env.sim.handle();
    let cookies: Vec<String> = (0..2)
        .map(|n| handle.affinity_cookie(n).expect("a cluster"))
        .collect();
    let values: Vec<&str> = cookies
        .iter()
        .map(|c| c.split_once('=').expect("name=value").1)
        .collect();
    let mut secrets = vec![PASSWORD];
    secrets.extend(&values);
    run(
        env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]),
        0,
        &secrets,
    );
    let file = std::fs::read_to_string(env.guid_file(101)).expect("Guid file");
    let node = handle.node_of(101).expect("signed in");
    assert!(
        file.lines().nth(1) == Some(cookies[node].as_str()),
        "the Guid file keeps the affinity on its second line"
    );
    let guid = read_guid(&env.guid_file(101));
    secrets.push(&guid);
    for _ in 0..3 {
        let (out, _) = run(env.ccgw(&["status", "--agent", "101"]), 0, &secrets);
        assert!(out.contains("idle"), "{out}");
    }
    run(
        env.ccgw(&["rest", "--agent", "101", "--for", "10m", "--cause", "1"]),
        0,
        &secrets,
    );
    assert_eq!(handle.agent_state(101), Some(8));
    run(env.ccgw(&["sign-out", "--agent", "101"]), 0, &secrets);
    assert_eq!(handle.agent_state(101), None);
}
