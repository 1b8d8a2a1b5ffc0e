//! Configuration files and `CCGW_*` variables: read, checked like the builder (the
//! constraints between timeouts included, naming the settings at fault), every key
//! applied, and a client built from a file working against the simulator — the list of
//! gateways included.

use std::path::PathBuf;
use std::time::Duration;

use ccgw::{AgentId, Config, RetCode, SignIn};
use ccgw_sim::Simulator;
use ccgw_testkit::{Reply, TestServer};

/// A fresh directory for this test's files.
fn scratch(name: &str) -> ccgw_testkit::Scratch {
    ccgw_testkit::scratch_dir(&format!("config-{name}")).expect("temp dir")
}

fn write(dir: &std::path::Path, text: &str) -> PathBuf {
    let path = dir.join("ccgw.toml");
    std::fs::write(&path, text).expect("written");
    path
}

fn no_variables(_: &str) -> Option<String> {
    None
}

/// The acceptance case: the gateway holds a quiet poll 10 s; a 5 s poll timeout would
/// lose every one of them.
#[test]
fn a_poll_timeout_shorter_than_the_hold_is_refused_naming_both() {
    let dir = scratch("hold");
    let file = write(
        &dir,
        "url = \"https://gateway.example:8043\"\npoll_timeout = \"5s\"\npoll_hold = \"10s\"\n",
    );
    let config = Config::load_with(Some(&file), no_variables).expect("well-formed");
    let refused = config.build_client().expect_err("refused");
    let shown = refused.to_string();
    assert!(
        shown.contains("poll_timeout (5s) must be longer than poll_hold (10s)"),
        "{shown}"
    );
    // The default hold is the gateway's 10 s too.
    let file = write(
        &dir,
        "url = \"https://gateway.example:8043\"\npoll_timeout = \"5s\"\n",
    );
    let shown = Config::load_with(Some(&file), no_variables)
        .expect("well-formed")
        .build_client()
        .expect_err("refused")
        .to_string();
    assert!(
        shown.contains("poll_timeout (5s)") && shown.contains("poll_hold (10s)"),
        "{shown}"
    );
    // Against a gateway that holds polls 3 s, 5 s is enough.
    let file = write(
        &dir,
        "url = \"https://gateway.example:8043\"\npoll_timeout = \"5s\"\npoll_hold = \"3s\"\n",
    );
    let config = Config::load_with(Some(&file), no_variables).expect("well-formed");
    assert_eq!(config.poll_timeout, Duration::from_secs(5));
    drop(config.build_client().expect("accepted"));
}

/// One rule for the Guid's grace, the builder's and the configuration's alike: longer
/// than the poll hold. A gateway's real 15 s grace with the 10 s hold is accepted
/// whatever the supervision's backoff; one not longer than the hold is refused, naming
/// both settings.
#[test]
fn the_guid_grace_has_one_rule() {
    let config = Config::from_toml(
        "url = \"https://gw.example\"\nguid_grace = \"15s\"\nbackoff_max = \"60s\"\n",
    )
    .expect("well-formed");
    assert_eq!(config.guid_grace, Duration::from_secs(15));
    drop(config.build_client().expect("a 15 s grace is accepted"));
    drop(
        ccgw::Config {
            url: Some(String::from("https://gw.example")),
            guid_grace: Duration::from_secs(15),
            ..ccgw::Config::default()
        }
        .build_client()
        .expect("the builder agrees"),
    );
    let config = Config::from_toml("url = \"https://gw.example\"\nguid_grace = \"10s\"\n")
        .expect("well-formed");
    let shown = config.build_client().expect_err("refused").to_string();
    assert!(
        shown.contains("guid_grace (10s)") && shown.contains("poll_hold (10s)"),
        "{shown}"
    );
    let shown = ccgw::Config {
        url: Some(String::from("https://gw.example")),
        poll_hold: Duration::from_secs(20),
        poll_timeout: Duration::from_secs(40),
        guid_grace: Duration::from_secs(15),
        ..ccgw::Config::default()
    }
    .build_client()
    .expect_err("refused")
    .to_string();
    assert!(
        shown.contains("guid_grace (15s)") && shown.contains("poll_hold (20s)"),
        "{shown}"
    );
}

#[test]
fn variables_override_the_file_and_bad_values_name_their_setting() {
    let dir = scratch("vars");
    let file = write(
        &dir,
        "url = \"https://file.example\"\nrequest_timeout = \"7s\"\n",
    );
    let config = Config::load_with(Some(&file), |name| match name {
        "CCGW_URL" => Some("https://variable.example".to_owned()),
        "CCGW_MAX_CONNECTIONS" => Some("64".to_owned()),
        "CCGW_ALLOW_HTTP" => Some("1".to_owned()),
        "CCGW_FALLBACK_URLS" => Some("https://b.example, https://c.example".to_owned()),
        _ => None,
    })
    .expect("read");
    assert_eq!(config.url.as_deref(), Some("https://variable.example"));
    assert_eq!(config.request_timeout, Duration::from_secs(7));
    assert_eq!(config.max_connections, 64);
    assert!(config.allow_http);
    assert_eq!(
        config.fallback_urls,
        ["https://b.example", "https://c.example"]
    );

    let bad = Config::load_with(None, |name| {
        (name == "CCGW_MAX_CONNECTIONS").then(|| "lots".to_owned())
    })
    .expect_err("not a number")
    .to_string();
    assert!(bad.contains("CCGW_MAX_CONNECTIONS=\"lots\""), "{bad}");
    let bad = Config::load_with(None, |name| {
        (name == "CCGW_POLL_TIMEOUT").then(|| "soon".to_owned())
    })
    .expect_err("not a duration")
    .to_string();
    assert!(
        bad.contains("CCGW_POLL_TIMEOUT (poll_timeout)") && bad.contains("\"soon\""),
        "{bad}"
    );
    let unknown = Config::from_toml("url = \"https://gw\"\npoll_timout = \"50s\"\n")
        .expect_err("misspelt key")
        .to_string();
    assert!(unknown.contains("poll_timout"), "{unknown}");
    let missing = Config::load_with(Some(&dir.join("absent.toml")), no_variables)
        .expect_err("no file")
        .to_string();
    assert!(missing.contains("absent.toml"), "{missing}");
    let no_url = Config::default()
        .build_client()
        .expect_err("no URL")
        .to_string();
    assert!(no_url.contains("CCGW_URL"), "{no_url}");
}

/// Every key is read into its setting.
#[test]
fn every_key_is_applied() {
    let config = Config::from_toml(
        r#"
        url = "https://a.example:8043"
        fallback_urls = ["https://b.example:8043"]
        system_roots = false
        allow_http = true
        connect_timeout = "3s"
        request_timeout = "7s"
        poll_timeout = "33s"
        poll_hold = "11s"
        guid_grace = "170s"
        response_limit = 12345
        max_connections = 777
        set_up_concurrency = 9
        pool_idle_timeout = "44s"
        user_agent = "contact-centre/9"
        backoff_min = "2s"
        backoff_max = "50s"
        max_attempts = 6
        take_back = 2
        "#,
    )
    .expect("read");
    let s = Duration::from_secs;
    assert_eq!(
        config,
        Config {
            url: Some("https://a.example:8043".into()),
            fallback_urls: vec!["https://b.example:8043".into()],
            ca_file: None,
            ca_pem: None,
            system_roots: false,
            allow_http: true,
            connect_timeout: s(3),
            request_timeout: s(7),
            poll_timeout: s(33),
            poll_hold: s(11),
            guid_grace: s(170),
            response_limit: 12345,
            max_connections: 777,
            set_up_concurrency: 9,
            pool_idle_timeout: s(44),
            user_agent: "contact-centre/9".into(),
            backoff_min: s(2),
            backoff_max: s(50),
            max_attempts: Some(6),
            take_back: 2,
            // Never read from a file.
            secrets: Vec::new(),
        }
    );
    let refused = config
        .build_client()
        .expect_err("no trust roots")
        .to_string();
    assert!(refused.contains("no trust roots"), "{refused}");
    // ca_file: read at build; a missing file is named.
    let config =
        Config::from_toml("url = \"https://a.example\"\nca_file = \"/nonexistent/ca.pem\"\n")
            .expect("read");
    let shown = config.build_client().expect_err("no CA file").to_string();
    assert!(shown.contains("/nonexistent/ca.pem"), "{shown}");
}

/// A client built from a file signs in over TLS with the file's CA; the first gateway
/// of the list refuses connections, so the sign-in lands on the second, and the session
/// stays there.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_from_a_file_signs_in_on_the_first_gateway_that_takes_it() {
    let sim = Simulator::start(ccgw_sim::Config::default())
        .await
        .expect("sim");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let dead = format!(
        "https://127.0.0.1:{}",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let dir = scratch("file");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem().expect("HTTPS")).expect("CA written");
    let file = write(
        &dir,
        &format!(
            "url = \"{dead}\"\nfallback_urls = [\"{}\"]\nca_file = \"{}\"\nsystem_roots = false\nrequest_timeout = \"5s\"\n",
            sim.base_url(),
            ca.display()
        ),
    );
    let client = Config::load_with(Some(&file), no_variables)
        .expect("read")
        .build_client()
        .expect("built");
    ccgw_testkit::logs::capture();
    let agent = tokio::time::timeout(
        Duration::from_secs(30),
        client.sign_in(
            AgentId::new(101).expect("in range"),
            &SignIn::new("pw101", "40101"),
        ),
    )
    .await
    .expect("the sign-in ends")
    .expect("signed in on the second gateway");
    // The session lives on the second gateway: its Debug names it.
    assert!(
        format!("{agent:?}").contains(&format!("gateway: {:?}", sim.base_url())),
        "{agent:?}"
    );
    assert_eq!(sim.handle().agent_state(101), Some(4));
    agent
        .status()
        .await
        .expect("the session's calls go to its gateway");
    agent.sign_out().await.expect("signed out");
    assert_eq!(sim.handle().agent_state(101), None);
    assert!(
        ccgw_testkit::logs::captured().contains("trying the next one"),
        "the move to the next gateway is logged"
    );
    sim.shutdown().await;
}

/// The list is followed only while no gateway took the sign-in: a gateway that answers
/// and refuses it ends the sign-in there, and the end of the list ends it whatever the
/// last gateway said, with that gateway's answer.
#[tokio::test]
async fn a_sign_in_moves_down_the_list_only_while_no_gateway_took_it() {
    const WAIT: Duration = Duration::from_secs(5);
    let id = AgentId::new(101).expect("in range");
    let client = |first: &TestServer, second: &TestServer| {
        ccgw::Config {
            url: Some(String::from(&first.base_url())),
            allow_http: true,
            fallback_urls: vec![String::from(&second.base_url())],
            ..ccgw::Config::default()
        }
        .build_client()
        .expect("client")
    };

    // Signed in elsewhere (100-002): an answer, so the second gateway is never asked.
    let mut refusing = TestServer::start(Reply::envelope(RetCode::AlreadySignedIn.as_str(), None))
        .await
        .expect("server");
    let spare = TestServer::start(Reply::envelope(RetCode::Success.as_str(), None))
        .await
        .expect("server");
    let err = client(&refusing, &spare)
        .sign_in(id, &SignIn::new("pw101", "40101"))
        .await
        .expect_err("refused");
    assert_eq!(err.retcode(), Some(&RetCode::AlreadySignedIn), "{err:?}");
    assert!(refusing.next_request(WAIT).await.is_some());
    assert_eq!(spare.pending_requests(), 0, "the second gateway was asked");

    // Both switching over (000-004): each is asked once, and the last one's answer ends it.
    let mut first = TestServer::start(Reply::envelope(RetCode::SwitchingOver.as_str(), None))
        .await
        .expect("server");
    let mut last = TestServer::start(Reply::envelope(RetCode::SwitchingOver.as_str(), None))
        .await
        .expect("server");
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        client(&first, &last).sign_in(id, &SignIn::new("pw101", "40101")),
    )
    .await
    .expect("the sign-in ends with the list")
    .expect_err("switching over");
    assert_eq!(err.retcode(), Some(&RetCode::SwitchingOver), "{err:?}");
    for server in [&mut first, &mut last] {
        assert!(server.next_request(WAIT).await.is_some());
        assert_eq!(server.pending_requests(), 0, "asked more than once");
    }
}
