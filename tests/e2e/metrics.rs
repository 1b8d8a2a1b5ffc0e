//! The `metrics` feature, read back through `metrics-util`'s debugging recorder after a
//! scripted workflow against the simulator: counts by method, outcome, disposition and
//! return code (a refusal and an answer lost in transit among them), latencies, the
//! event-stream and session gauges — and no Guid in any label.
//!
//! One test in its own binary: the recorder is process-wide.

#[path = "common.rs"]
mod common;

use std::collections::HashMap;
use std::time::Duration;

use ccgw::{AgentId, Disposition, RestCause, SessionEvent, SignIn, SupervisedAgent};

// The names the crate documents (its README's "Deploying" section).
const CALLS: &str = "ccgw_calls_total";
const CALL_DURATION: &str = "ccgw_call_duration_seconds";
const EVENT_STREAMS: &str = "ccgw_event_streams";
const SESSIONS: &str = "ccgw_sessions_signed_in";
const SESSIONS_LOST: &str = "ccgw_sessions_lost_total";
use ccgw_client::operations;
use ccgw_sim::{Config, Simulator};
use common::{client_for, secs, wait_until};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// Totals of everything recorded so far. The debugging recorder hands out what changed
/// since the previous snapshot (counters and gauges are swapped to zero when read), so
/// the totals add the snapshots up.
struct Readings {
    snapshotter: Snapshotter,
    counters: HashMap<String, u64>,
    gauges: HashMap<String, f64>,
    histograms: HashMap<String, Vec<f64>>,
}

impl Readings {
    fn new(snapshotter: Snapshotter) -> Self {
        Self {
            snapshotter,
            counters: HashMap::new(),
            gauges: HashMap::new(),
            histograms: HashMap::new(),
        }
    }

    /// Adds what was recorded since the last call; every metric as
    /// `name{label=value,…}` (labels sorted).
    fn update(&mut self) -> &Self {
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            match value {
                DebugValue::Counter(n) => *self.counters.entry(name).or_default() += n,
                DebugValue::Gauge(g) => *self.gauges.entry(name).or_default() += g.into_inner(),
                DebugValue::Histogram(values) => self
                    .histograms
                    .entry(name)
                    .or_default()
                    .extend(values.into_iter().map(|v| v.into_inner())),
            }
        }
        self
    }

    fn counter(&self, key: &str) -> u64 {
        self.counters.get(key).copied().unwrap_or(0)
    }

    fn gauge(&self, key: &str) -> f64 {
        self.gauges.get(key).copied().unwrap_or(0.0)
    }

    /// Every name and label recorded.
    fn keys(&self) -> String {
        let mut keys: Vec<&String> = self
            .counters
            .keys()
            .chain(self.gauges.keys())
            .chain(self.histograms.keys())
            .collect();
        keys.sort();
        format!("{keys:?}")
    }
}

fn calls(method: &str, outcome: &str, disposition: &str, retcode: &str) -> String {
    format!(
        "{CALLS}{{disposition={disposition},method={method},outcome={outcome},retcode={retcode}}}"
    )
}

/// Sign in, open a stream, rest, a refused rest, a cancel whose answer is lost, a state
/// read, sign out. The Guid the agent held.
async fn a_plain_workflow(sim: &Simulator, readings: &mut Readings) -> ccgw::Guid {
    let streams = format!("{EVENT_STREAMS}{{}}");
    let client = client_for(sim);
    let agent = client
        .sign_in(
            AgentId::new(101).expect("in range"),
            &SignIn::new("pw101", "40101"),
        )
        .await
        .expect("signed in");
    let guid = agent.guid().expect("a Guid");
    let events = agent.events();
    wait_until("the stream is counted", || {
        readings.update().gauge(&streams) == 1.0
    })
    .await;

    agent
        .rest(secs(600), RestCause::from(3u8))
        .await
        .expect("rest");
    // A second rest without prolong: refused, 100-009.
    let refused = agent
        .rest(secs(600), RestCause::from(3u8))
        .await
        .expect_err("refused");
    assert_eq!(refused.disposition(), Disposition::DoNotResend);
    // Applied, answer lost: the outcome is unknown.
    sim.handle().lose_next_answer("/cancelrest");
    let unknown = agent.cancel_rest().await.expect_err("answer lost");
    assert_eq!(unknown.disposition(), Disposition::SettleUnknown);
    agent.status().await.expect("state read");
    // The stream's first poll answers at once (the sign-in's events are queued): wait
    // for it to be counted before closing the stream, however slow the machine.
    let polls = calls(operations::GET_AGENT_EVENT.log_name, "ok", "none", "0");
    wait_until("the stream's first poll is counted", || {
        readings.update().counter(&polls) >= 1
    })
    .await;
    drop(events);
    agent.sign_out().await.expect("signed out");
    wait_until("the stream stopped", || {
        readings.update().gauge(&streams) == 0.0
    })
    .await;
    guid
}

/// What [`a_plain_workflow`] recorded: each call once under its method, outcome,
/// disposition and return code; one latency per call.
fn the_plain_workflow_is_counted(all: &Readings) {
    use operations::{CANCEL_REST, GET_AGENT_STATUS, LOGIN, LOGOUT, REST};
    let once = [
        (LOGIN, "ok", "none", "0"),
        (REST, "ok", "none", "0"),
        (REST, "refused", "DoNotResend", "100-009"),
        (CANCEL_REST, "failed", "SettleUnknown", "none"),
        (GET_AGENT_STATUS, "ok", "none", "0"),
        (LOGOUT, "ok", "none", "0"),
    ];
    for (op, outcome, disposition, retcode) in once {
        let key = calls(op.log_name, outcome, disposition, retcode);
        assert_eq!(all.counter(&key), 1, "{key}");
    }
    let polls = calls(operations::GET_AGENT_EVENT.log_name, "ok", "none", "0");
    assert!(all.counter(&polls) >= 1, "the stream's polls are counted");
    let rest = REST.log_name;
    let latencies = &all.histograms[&format!("{CALL_DURATION}{{method={rest},outcome=refused}}")];
    assert_eq!(latencies.len(), 1);
    assert!(latencies[0] > 0.0);
    assert_eq!(
        all.histograms[&format!("{CALL_DURATION}{{method={rest},outcome=ok}}")].len(),
        1
    );
}

/// A supervised session: signed in, lost (forced sign-out), signed in again, signed out.
async fn a_supervised_session_is_counted(sim: &Simulator, readings: &mut Readings) {
    let sessions = format!("{SESSIONS}{{}}");
    let client = common::client_with(sim, |c| {
        c.backoff_min = Duration::from_millis(50);
        c.backoff_max = Duration::from_millis(200);
    });
    let id = AgentId::new(101).expect("in range");
    let mut session = SupervisedAgent::start(&client, id, SignIn::new("pw101", "40101"));
    assert!(matches!(
        session.next().await,
        Some(SessionEvent::SignedIn { .. })
    ));
    assert_eq!(readings.update().gauge(&sessions), 1.0);
    assert!(sim.handle().force_sign_out(101));
    loop {
        match session.next().await.expect("the session goes on") {
            SessionEvent::Recovered { .. } => break,
            SessionEvent::GaveUp(e) => panic!("gave up: {e}"),
            _ => {}
        }
    }
    let all = readings.update();
    assert_eq!(
        all.counter(&format!("{SESSIONS_LOST}{{reason=signed_out}}")),
        1
    );
    assert_eq!(all.gauge(&sessions), 1.0);
    session.sign_out().await.expect("signed out");
    wait_until("the session's task ended", || {
        readings.update().gauge(&sessions) == 0.0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_workflow_is_counted_by_method_outcome_and_disposition() {
    let recorder = DebuggingRecorder::new();
    let mut readings = Readings::new(recorder.snapshotter());
    recorder
        .install()
        .expect("the only recorder of this binary");
    let sim = Simulator::start(Config {
        poll_hold: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .expect("sim");

    let guid = a_plain_workflow(&sim, &mut readings).await;
    the_plain_workflow_is_counted(readings.update());
    a_supervised_session_is_counted(&sim, &mut readings).await;

    // No label carries a Guid, a password or an agent ID.
    let labels = readings.update().keys();
    for secret in [guid.expose_secret(), "pw101", "101"] {
        assert!(!labels.contains(secret), "{secret:?} in {labels}");
    }
    sim.shutdown().await;
}
