//! A two-node cluster behind one load-balancer front: 200 supervised agents spread over
//! both nodes by the sticky cookie, one node taken down mid-run. Every session on it
//! recovers on the other node and its events flow again; no session on the other node
//! notices; 0 agents are signed in at the end; no Guid and no cookie in any output.

use crate::common;

use std::fmt::Write as _;
use std::time::Duration;

use ccgw::{
    AgentEvent, AgentId, Converged, RestCause, RetCode, SessionEvent, SignIn, SupervisedAgent,
};
use ccgw_sim::{Config, Simulator};
use ccgw_testkit::{Reply, TestServer};
use common::{client_for, client_with, secs};

const AGENTS: u32 = 200;
const FIRST: u32 = 101;
/// Longest wait for one item of a session.
const ITEM_WAIT: Duration = Duration::from_secs(30);

/// Items seen, as `Debug` text: checked for secrets at the end.
#[derive(Default)]
struct Seen(String);

impl Seen {
    /// The next item of `session` that is not an event other than the ones asked for.
    async fn next(&mut self, session: &mut SupervisedAgent) -> SessionEvent {
        loop {
            let item = tokio::time::timeout(ITEM_WAIT, session.next())
                .await
                .unwrap_or_else(|_| panic!("agent {}: nothing for {ITEM_WAIT:?}", session.id()))
                .unwrap_or_else(|| panic!("agent {}: the session ended", session.id()));
            let _ = writeln!(self.0, "{item:?}");
            match item {
                // Sign-in and state events of the gateway: not what the test waits for.
                SessionEvent::Event(AgentEvent::Other { .. }) => {}
                SessionEvent::GaveUp(e) => panic!("agent {}: gave up: {e}", session.id()),
                item => return item,
            }
        }
    }
}

/// The sessions of one run, with what they showed and every Guid they held.
struct Run {
    handle: ccgw_sim::SimHandle,
    sessions: Vec<SupervisedAgent>,
    seen: Seen,
    guids: Vec<String>,
}

impl Run {
    fn agents_on(&self, node: usize) -> usize {
        (FIRST..FIRST + AGENTS)
            .filter(|&id| self.handle.node_of(id) == Some(node))
            .count()
    }

    /// Every session signs in; sign-ins without a cookie are spread over both nodes.
    async fn signed_in_on_both_nodes(&mut self) {
        for session in &mut self.sessions {
            let item = self.seen.next(session).await;
            assert!(
                matches!(item, SessionEvent::SignedIn { took_over: false }),
                "{item:?}"
            );
            self.guids
                .extend(self.handle.current_guid(session.id().get()));
        }
        let (first, second) = (self.agents_on(0), self.agents_on(1));
        assert_eq!(first + second, AGENTS as usize);
        assert!(
            first >= 50 && second >= 50,
            "sign-ins without a cookie are spread over both nodes: {first} and {second}"
        );
    }

    /// Every session's calls and polls go to its own node: the cookie is replayed. (A
    /// node answers another node's Guid with 000-003, which would lose the session.) The
    /// rest is wanted: a recovered session is driven back into it.
    /// All at once, as an integrator would: one at a time, a confirmation that fell back
    /// on reading the state (1 s each) would take minutes instead of failing.
    async fn all_rest(&mut self) {
        let rests = futures_util::future::join_all(
            self.sessions
                .iter()
                .map(|s| s.ensure_rest(secs(600), RestCause::from(1u8), ITEM_WAIT)),
        )
        .await;
        for (session, rest) in self.sessions.iter().zip(rests) {
            let by = rest.unwrap_or_else(|e| panic!("agent {}: rest: {e}", session.id()));
            assert!(
                matches!(by, Converged::Applied(_)),
                "agent {}: {by:?}",
                session.id()
            );
        }
        for session in &mut self.sessions {
            let item = self.seen.next(session).await;
            assert!(
                matches!(item, SessionEvent::Event(AgentEvent::RestStarted { .. })),
                "agent {}: {item:?}",
                session.id()
            );
        }
    }

    /// Node 0 goes down: each of its sessions is lost, recovers on node 1 after the
    /// switch-over and has its rest restored. Which sessions moved.
    async fn node_0_fails_over(&mut self) -> Vec<bool> {
        let moved: Vec<bool> = self
            .sessions
            .iter()
            .map(|s| self.handle.node_of(s.id().get()) == Some(0))
            .collect();
        assert!(self.handle.set_node_down(0, true));
        for (session, _) in self.sessions.iter_mut().zip(&moved).filter(|(_, on)| **on) {
            let lost = self.seen.next(session).await;
            assert!(matches!(lost, SessionEvent::Lost(_)), "{lost:?}");
            let back = self.seen.next(session).await;
            let SessionEvent::Recovered { after, .. } = back else {
                panic!("expected the recovery, got {back:?}");
            };
            // From the first failed call: the node answers 000-004 for the whole switch-over.
            assert!(after >= Duration::from_millis(900), "after {after:?}");
            let restored = self.seen.next(session).await;
            assert!(
                matches!(restored, SessionEvent::Restored(Ok(_))),
                "agent {}: {restored:?}",
                session.id()
            );
            self.guids
                .extend(self.handle.current_guid(session.id().get()));
        }
        assert_eq!(
            self.agents_on(1),
            AGENTS as usize,
            "every session is on node 1"
        );
        let stats = self.handle.stats();
        assert_eq!(
            stats.failovers,
            moved.iter().filter(|on| **on).count() as u64
        );
        assert!(
            stats.switch_over_answers > 0,
            "node 0 was answered as switching over"
        );
        moved
    }

    /// Every agent is in rest again: the recovered ones were driven back into it (their
    /// rest's event follows), the others were never interrupted. Events flow: each
    /// cancels its rest and sees it ended.
    async fn all_rest_again_and_events_flow(&mut self, moved: &[bool]) {
        let resting = (FIRST..FIRST + AGENTS)
            .filter(|&id| self.handle.agent_state(id) == Some(8))
            .count();
        assert_eq!(resting, AGENTS as usize, "agents back in rest");
        for (session, _) in self.sessions.iter().zip(moved).filter(|(_, on)| **on) {
            let (cause, left) = self.handle.agent_rest(session.id().get()).expect("in rest");
            assert!(
                cause == 1 && left <= Duration::from_secs(600) && left >= Duration::from_secs(500),
                "agent {}: restored with cause {cause}, {left:?} left",
                session.id()
            );
        }
        for (session, moved) in self.sessions.iter_mut().zip(moved) {
            if *moved {
                let item = self.seen.next(session).await;
                assert!(
                    matches!(item, SessionEvent::Event(AgentEvent::RestStarted { .. })),
                    "agent {}: {item:?}",
                    session.id()
                );
            }
            let agent = session.agent().expect("signed in");
            agent.cancel_rest().await.expect("cancel rest");
            let item = self.seen.next(session).await;
            assert!(
                matches!(item, SessionEvent::Event(AgentEvent::RestCancelled)),
                "agent {} (moved: {moved}): {item:?}",
                session.id()
            );
        }
    }

    /// Every session signs out; no Guid and no cookie in what the sessions showed or in
    /// the logs.
    async fn signed_out_without_a_secret_shown(self, guids_expected: usize) {
        let Run {
            handle,
            sessions,
            seen,
            guids,
        } = self;
        for session in sessions {
            session.sign_out().await.expect("signed out");
        }
        let signed_in = (FIRST..FIRST + AGENTS)
            .filter(|&id| handle.agent_state(id).is_some())
            .count();
        assert_eq!(signed_in, 0, "agents left signed in");
        let logs = ccgw_testkit::logs::captured();
        for node in 0..2 {
            let cookie = handle.affinity_cookie(node).expect("a cluster");
            let value = cookie.split_once('=').expect("name=value").1;
            assert!(!seen.0.contains(value), "a cookie in the session items");
            assert!(!logs.contains(value), "a cookie in the logs");
        }
        assert_eq!(guids.len(), guids_expected);
        for guid in &guids {
            assert!(
                !seen.0.contains(guid.as_str()),
                "a Guid in the session items"
            );
            assert!(!logs.contains(guid.as_str()), "a Guid in the logs");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_on_a_node_that_goes_down_recover_on_the_other_one() {
    let sim = Simulator::start(Config {
        agents: (FIRST..FIRST + AGENTS)
            .map(ccgw_sim::AgentConfig::numbered)
            .collect(),
        nodes: 2,
        affinity_cookie: "lb-affinity".to_owned(),
        switchover: Duration::from_secs(1),
        poll_hold: Duration::from_millis(500),
        ..Config::default()
    })
    .await
    .expect("sim");
    let client = client_with(&sim, |c| {
        c.backoff_min = Duration::from_millis(100);
        c.backoff_max = Duration::from_secs(1);
    });
    let sessions = (FIRST..FIRST + AGENTS)
        .map(|id| {
            let id = AgentId::new(id).expect("in range");
            SupervisedAgent::start(
                &client,
                id,
                SignIn::new(format!("pw{id}"), format!("40{id}")),
            )
        })
        .collect();
    let mut run = Run {
        handle: sim.handle(),
        sessions,
        seen: Seen::default(),
        guids: Vec::new(),
    };
    run.signed_in_on_both_nodes().await;
    run.all_rest().await;
    let moved = run.node_0_fails_over().await;
    run.all_rest_again_and_events_flow(&moved).await;
    assert!(run.handle.set_node_down(0, false), "node 0 comes back");
    let moved = moved.iter().filter(|on| **on).count();
    run.signed_out_without_a_secret_shown(AGENTS as usize + moved)
        .await;
    sim.shutdown().await;
}

/// A session kept between runs (the `ccgw` command line's Guid file): a new handle with
/// the kept Guid and affinity reaches the node that holds the session on every call;
/// with the Guid alone, the front spreads the calls and the other node refuses the Guid.
#[tokio::test]
async fn a_kept_session_reaches_its_node_with_its_affinity() {
    const CALLS: usize = 4;
    let sim = Simulator::start(Config {
        nodes: 2,
        affinity_cookie: "lb-affinity".to_owned(),
        ..Config::default()
    })
    .await
    .expect("sim");
    let client = client_for(&sim);
    let id = AgentId::new(FIRST).expect("in range");
    let first = client
        .sign_in(id, &SignIn::new(format!("pw{FIRST}"), format!("40{FIRST}")))
        .await
        .expect("signed in");
    let guid = first.guid().expect("a Guid");
    let affinity = first.affinity().expect("the front sets its cookie");
    assert!(
        affinity.expose_secret().starts_with("lb-affinity="),
        "the affinity is the front's cookie"
    );

    let kept = client.agent(id, guid.clone(), Some(&affinity));
    for _ in 0..CALLS {
        kept.status().await.expect("the session's node answers");
    }

    let without = client.agent(id, guid, None);
    let mut refused = 0;
    for _ in 0..CALLS {
        if let Err(e) = without.status().await {
            assert_eq!(e.retcode(), Some(&RetCode::NoPermission), "{e:?}");
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "without the affinity every call reached the session's node"
    );

    kept.sign_out().await.expect("signed out");
    sim.shutdown().await;
}

/// Asserts that the next item of `session`, within `ITEM_WAIT`, is giving up on `code`.
async fn assert_gives_up_with(session: &mut SupervisedAgent, code: &RetCode) {
    let item = tokio::time::timeout(ITEM_WAIT, session.next())
        .await
        .expect("an item in time");
    assert!(
        matches!(&item, Some(SessionEvent::GaveUp(e)) if e.retcode() == Some(code)),
        "{item:?}"
    );
}

/// A supervised session gives up at once on a refusal that cannot pass (a wrong
/// password), and after `max_attempts` failed sign-ins that could (nothing reached the
/// gateway).
#[tokio::test]
async fn a_supervised_session_gives_up_on_a_refusal_and_after_its_attempts() {
    let sim = Simulator::start(Config::default()).await.expect("sim");
    let client = client_for(&sim);
    let id = AgentId::new(FIRST).expect("in range");
    let mut refused = SupervisedAgent::start(&client, id, SignIn::new("wrong", "40038"));
    assert_gives_up_with(&mut refused, &RetCode::WrongCredentials).await;
    sim.shutdown().await;

    // The gateway answers that it is switching over (000-004), a refusal that passes.
    let mut switching = TestServer::start(Reply::envelope(RetCode::SwitchingOver.as_str(), None))
        .await
        .expect("server");
    let client = ccgw::Config {
        allow_http: true,
        connect_timeout: ITEM_WAIT,
        request_timeout: ITEM_WAIT,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        max_attempts: Some(3),
        ..common::config_for(&switching.base_url(), None)
    }
    .build_client()
    .expect("client builds");
    let mut passing = SupervisedAgent::start(
        &client,
        id,
        SignIn::new(format!("pw{FIRST}"), format!("40{FIRST}")),
    );
    assert_gives_up_with(&mut passing, &RetCode::SwitchingOver).await;
    let mut attempts = 0;
    while switching
        .next_request(Duration::from_millis(200))
        .await
        .is_some()
    {
        attempts += 1;
    }
    assert_eq!(attempts, 3, "max_attempts sign-ins");
}
