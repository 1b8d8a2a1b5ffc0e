//! Soak under faults, bounded in time and count: many agents sign in, poll, rest, prolong
//! and cancel through `ccgw` against `ccgw-sim` over HTTPS on loopback, while the
//! simulator drops connections (before and after handling a request), stalls and delays
//! answers, answers `000-004` and `000-007`, rotates Guids every few seconds, and a
//! supervisor signs agents out by force.
//!
//! Each agent is driven the way an integrator would drive it: it believes a state from
//! the answers it got (accepted rest: rest; accepted cancel: idle; a refused request
//! changed nothing) and re-reads the state with `status` only when the outcome of a
//! request is unknown. Checked:
//!
//! - whenever an agent checks its belief against `status`, they agree, and no request is
//!   ever refused as a wrong state change (`100-009`): beliefs are never wrong;
//! - once the faults stop, every agent's state as the client reports it converges to
//!   the simulator's state, within a deadline;
//! - no task leaks: tokio's count of alive tasks stays within a bound per agent during
//!   the run and returns to its starting value after sign-out;
//! - memory stays flat: resident memory at the end of the faults is within a margin of
//!   what it was after warm-up.
//!
//! A test without the libtest harness, so its report is always printed. The length is
//! `CCGW_SOAK_SECS` (default 90 s of faults) and `CCGW_SOAK_AGENTS` agents (default
//! 300); `cargo xtask soak --minutes N` runs it longer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ccgw::{
    Agent, AgentId, AgentState, Error, EventStream, GatewayClient, RestCause, RestDuration,
    RetCode, SignIn,
};
use ccgw_sim::{AgentConfig, AuthMode, Config, Faults, SimHandle, Simulator};

const FIRST: u32 = 101;
const DEFAULT_AGENTS: u32 = 300;
const DEFAULT_SECS: u64 = 90;
/// After the faults stop, every agent must have converged within this.
const SETTLE_DEADLINE: Duration = Duration::from_secs(90);
/// After sign-out, the client's tasks must be gone within this.
const TEARDOWN_DEADLINE: Duration = Duration::from_secs(30);
/// Alive tasks allowed per agent: its driver; its event pump; one connection each for
/// the long poll and the driver's requests (the pool keeps no more than were ever in use
/// at once); and, after a forced sign-out, the previous pump until its last poll returns.
/// (Seen: about 2.4 per agent steady, 3.6 at the highest, over 5 minutes with 1,000
/// agents.) A leak shows anyway after sign-out, when the count must be back to its start.
const TASKS_PER_AGENT: usize = 5;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of this process (`VmRSS`), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// What the simulator is told to do to requests during the fault phase.
fn faults(seed: u64) -> Faults {
    Faults {
        seed,
        drop_before: 0.01,
        drop_after: 0.01,
        stall: 0.005,
        stall_for: Duration::from_secs(3),
        delay: 0.03,
        delay_max: Duration::from_millis(400),
        switch_over: 0.01,
        repeated_call: 0.01,
    }
}

/// Counters of everything the drivers saw, shared by all of them.
#[derive(Default)]
struct Tally {
    counts: std::sync::Mutex<BTreeMap<&'static str, u64>>,
}

impl Tally {
    fn add(&self, what: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(what)
            .or_default() += 1;
    }

    fn get(&self, what: &str) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(what)
            .copied()
            .unwrap_or(0)
    }

    fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What a driver believes its agent's state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Belief {
    SignedOut,
    Idle,
    Rest,
    /// A request's outcome is unknown; `status` tells.
    Unknown,
}

impl Belief {
    /// The simulator's view of the same: `None` signed out, else the state code.
    /// What a state read with `status` says.
    fn of_state(state: AgentState) -> Belief {
        match state {
            AgentState::Idle => Belief::Idle,
            AgentState::Rest => Belief::Rest,
            _ => Belief::Unknown,
        }
    }

    fn sim_code(self) -> Option<Option<u8>> {
        match self {
            Belief::SignedOut => Some(None),
            Belief::Idle => Some(Some(4)),
            Belief::Rest => Some(Some(8)),
            Belief::Unknown => None,
        }
    }
}

/// The run's phases, as the drivers see them.
struct Phase {
    /// Drivers apply, prolong and cancel rest (false: they only settle).
    working: AtomicBool,
    /// Drivers sign out and stop.
    stopping: AtomicBool,
    /// Drivers whose belief is known and whose agent is signed in, with its events open.
    settled: AtomicU64,
}

struct Driver {
    id: u32,
    client: GatewayClient,
    agent: Option<Agent>,
    events: Option<EventStream>,
    belief: Belief,
    rng: fastrand::Rng,
    tally: Arc<Tally>,
    sim: SimHandle,
}

impl Driver {
    /// Files an error: what it says about the agent's state.
    fn failed(&mut self, operation: &'static str, e: &Error) {
        match e.retcode() {
            Some(RetCode::NotSignedIn) => {
                self.tally.add("answers: 100-006 not signed in");
                self.signed_out();
            }
            Some(RetCode::NoPermission) if operation == "getAgentEvent" => {
                // The event stream gave up on a Guid the gateway keeps refusing: the
                // session is lost to this client. Stop using it; the gateway signs it
                // out for inactivity.
                self.tally.add("event streams ended: 000-003 Guid refused");
                self.signed_out();
            }
            Some(RetCode::NoPermission) => {
                // Refused, so not applied. Possibly a Guid rotating while the request
                // was under way; the event stream tells whether the session is gone.
                self.tally.add("answers: 000-003 Guid refused");
            }
            Some(RetCode::SwitchingOver) => self.tally.add("answers: 000-004 switching over"),
            Some(RetCode::CalledRepeatedly) => self.tally.add("answers: 000-007 called repeatedly"),
            Some(RetCode::StateChangeRefused) => {
                // Only possible if the belief was wrong.
                self.tally.add("WRONG BELIEF: 100-009 state change refused");
                eprintln!(
                    "agent {}: {operation} refused as a wrong state change",
                    self.id
                );
                self.belief = Belief::Unknown;
            }
            Some(other) => {
                eprintln!("agent {}: {operation}: unexpected {other:?}", self.id);
                self.tally.add("answers: other return codes");
                self.belief = Belief::Unknown;
            }
            None if e.is_retry_safe() => self.tally.add("errors: not sent (retry-safe)"),
            None if e.is_outcome_unknown() => {
                self.tally.add("errors: outcome unknown");
                if self.belief != Belief::SignedOut {
                    self.belief = Belief::Unknown;
                }
            }
            None => {
                self.tally.add("errors: other transport errors");
                if self.belief != Belief::SignedOut {
                    self.belief = Belief::Unknown;
                }
            }
        }
    }

    fn signed_out(&mut self) {
        self.agent = None;
        self.events = None;
        self.belief = Belief::SignedOut;
    }

    async fn sign_in(&mut self) {
        let Ok(id) = AgentId::new(self.id) else {
            return;
        };
        match self
            .client
            .sign_in(id, &SignIn::new(format!("pw{}", self.id)))
            .await
        {
            Ok(agent) => {
                self.tally.add("sign-ins");
                self.events = Some(agent.events());
                self.agent = Some(agent);
                self.belief = Belief::Idle;
            }
            Err(e) if e.retcode() == Some(&RetCode::AlreadySignedIn) => {
                // A sign-in whose answer was lost: the session exists but its Guid never
                // arrived. Nothing polls it, so the gateway signs it out for inactivity.
                self.tally
                    .add("answers: 100-002 already signed in (waiting it out)");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                self.failed("login", &e);
                self.belief = Belief::SignedOut;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Reads the state and takes it as the belief; counts a disagreement with a known
    /// belief. Returns whether the state could be read.
    async fn check(&mut self) -> bool {
        let Some(agent) = self.agent.clone() else {
            return false;
        };
        match agent.status().await {
            Ok(status) => {
                let read = Belief::of_state(status.state);
                if self.belief != Belief::Unknown && read != self.belief {
                    self.tally.add("WRONG BELIEF: status disagreed");
                    eprintln!(
                        "agent {}: believed {:?}, status says {:?}",
                        self.id, self.belief, status.state
                    );
                }
                if self.belief == Belief::Unknown {
                    self.tally.add("states re-read after an unknown outcome");
                } else {
                    self.tally.add("beliefs checked against status");
                }
                self.belief = read;
                true
            }
            Err(e) => {
                self.failed("getAgentStatus", &e);
                false
            }
        }
    }

    /// One step of work: rest, prolong or cancel, by the belief.
    async fn work(&mut self) {
        let Some(agent) = self.agent.clone() else {
            return;
        };
        let cause = RestCause::from(self.rng.u8(0..=10));
        let Ok(duration) = RestDuration::from_secs(self.rng.u32(1..=4)) else {
            return;
        };
        let (operation, outcome, after) = match self.belief {
            Belief::Idle => ("rest", agent.rest(duration, cause).await, Belief::Rest),
            Belief::Rest if self.rng.bool() => (
                "prolong",
                agent.prolong_rest(duration, cause).await,
                Belief::Rest,
            ),
            Belief::Rest => ("cancelRest", agent.cancel_rest().await, Belief::Idle),
            Belief::Unknown | Belief::SignedOut => return,
        };
        match outcome {
            Ok(()) => {
                self.tally.add(match operation {
                    "rest" => "accepted: rest",
                    "prolong" => "accepted: prolong",
                    _ => "accepted: cancel",
                });
                self.belief = after;
            }
            Err(e) => self.failed(operation, &e),
        }
    }

    /// Takes one event: the end of the stream says the session is gone.
    fn event(&mut self, event: Option<Result<ccgw::AgentEvent, Error>>) {
        match event {
            Some(Ok(_)) => self.tally.add("events received"),
            Some(Err(Error::EventsLost { .. })) => self.tally.add("events lost by a slow reader"),
            Some(Err(e)) => {
                self.tally.add("event streams ended");
                self.failed("getAgentEvent", &e);
                // A stream that ended for another reason is opened again.
                if let Some(agent) = &self.agent {
                    self.events = Some(agent.events());
                }
            }
            None => {
                if let Some(agent) = &self.agent {
                    self.events = Some(agent.events());
                }
            }
        }
    }

    async fn run(mut self, phase: Arc<Phase>) -> Result<(), String> {
        let mut settled = false;
        while !phase.stopping.load(Ordering::SeqCst) {
            if self.agent.is_none() {
                self.sign_in().await;
                continue;
            }
            let working = phase.working.load(Ordering::SeqCst);
            let ready = self.belief != Belief::Unknown && self.events.is_some();
            if !working && ready && !settled {
                // Settled once the gateway answers this session again and agrees with
                // the belief (a disagreement counts as a wrong belief).
                if self.check().await && self.belief != Belief::Unknown {
                    settled = true;
                    phase.settled.fetch_add(1, Ordering::SeqCst);
                } else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                continue;
            }
            if settled && !ready {
                // Lost its footing after settling (only possible if something is wrong).
                settled = false;
                phase.settled.fetch_sub(1, Ordering::SeqCst);
            }
            let think = Duration::from_millis(self.rng.u64(50..=400));
            let events = self.events.as_mut();
            tokio::select! {
                event = async { match events { Some(s) => s.next().await, None => std::future::pending().await } } => self.event(event),
                () = tokio::time::sleep(think) => {
                    if self.belief == Belief::Unknown || (working && self.rng.u8(0..10) == 0) {
                        self.check().await;
                    } else if working {
                        self.work().await;
                    }
                }
            }
        }
        // Final check, then sign out.
        let state = self.sim.agent_state(self.id);
        let believed = self.belief.sim_code();
        let reported = match &self.agent {
            Some(agent) => agent.status().await.ok().map(|s| Belief::of_state(s.state)),
            None => None,
        };
        let mut problems = Vec::new();
        if believed != Some(state) {
            problems.push(format!(
                "believed {:?}, simulator says {state:?}",
                self.belief
            ));
        }
        // Not signed in, or the state could not be read: as signed out.
        if reported.map_or(Some(None), Belief::sim_code) != Some(state) {
            problems.push(format!(
                "client reports {reported:?}, simulator says {state:?}"
            ));
        }
        if let Some(agent) = self.agent.take()
            && let Err(e) = agent.sign_out().await
        {
            problems.push(format!("sign-out failed: {e}"));
        }
        drop(self.events.take());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("agent {}: {}", self.id, problems.join("; ")))
        }
    }
}

struct Sample {
    at: Duration,
    tasks: usize,
    rss_kib: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("soak: test");
        return;
    }
    // A name filter that does not match this test skips it, as libtest would.
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-'))
        && !"soak".contains(filter.as_str())
    {
        return;
    }
    let agents: u32 = env_or("CCGW_SOAK_AGENTS", DEFAULT_AGENTS);
    let fault_secs: u64 = env_or("CCGW_SOAK_SECS", DEFAULT_SECS);
    let seed: u64 = env_or("CCGW_SOAK_SEED", 0x5eed);
    println!(
        "soak: {agents} agents, {fault_secs} s of faults (seed {seed:#x}), then convergence and teardown"
    );

    // The simulator on a runtime of its own, so the client's runtime counts only the
    // client's tasks.
    let sim_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sim")
        .enable_all()
        .build()
        .expect("simulator runtime");
    let config = Config {
        agents: (FIRST..FIRST + agents).map(AgentConfig::numbered).collect(),
        // Rotations 20 times as often as on a real gateway (60 s). A replaced Guid stays
        // valid for 40 s: as on a real gateway (120 s), longer than the client's longest
        // pause between failed polls (30 s), so a pump that lost a rotated Guid is back
        // with `updateGuid` before the Guid it holds expires.
        auth_mode: AuthMode::Dynamic {
            interval: Duration::from_secs(3),
            timeout: Duration::from_secs(40),
        },
        poll_hold: Duration::from_secs(1),
        inactivity: Duration::from_secs(8),
        ..Config::default()
    };
    let sim = sim_runtime
        .block_on(Simulator::start(config))
        .expect("simulator starts");
    let handle = sim.handle();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    let report = runtime.block_on(run(
        &sim,
        handle.clone(),
        agents,
        Duration::from_secs(fault_secs),
        seed,
    ));
    drop(runtime);
    sim_runtime.block_on(sim.shutdown());

    let stats = handle.stats();
    println!("\nsoak report");
    println!(
        "  simulator: {} requests, {} sign-ins, {} Guid rotations, {} forced or requested sign-outs, {} inactivity sign-outs",
        stats.requests,
        stats.logins,
        stats.guid_rotations,
        stats.logouts,
        stats.inactivity_signouts
    );
    println!(
        "  faults injected: {} dropped before handling, {} dropped after handling, {} stalled, {} delayed, {} × 000-004, {} × 000-007",
        stats.faults_dropped_before,
        stats.faults_dropped_after,
        stats.faults_stalled,
        stats.faults_delayed,
        stats.faults_switch_over,
        stats.faults_repeated_call
    );
    println!(
        "  rest: {} entered, {} prolonged, {} cancelled, {} timeouts; events: {} emitted, {} delivered",
        stats.rest_entered,
        stats.rest_prolonged,
        stats.rest_cancelled,
        stats.rest_timeouts,
        stats.events_emitted,
        stats.events_delivered
    );
    let failures = report.print();
    if !failures.is_empty() {
        eprintln!("\nsoak FAILED:");
        for f in &failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
    println!("soak passed");
}

struct Report {
    tally: BTreeMap<&'static str, u64>,
    samples: Vec<Sample>,
    baseline_tasks: usize,
    tasks_after: usize,
    task_bound: usize,
    rss_start: u64,
    rss_warm: u64,
    rss_end: u64,
    rss_after: u64,
    converged_in: Option<Duration>,
    unsettled: u64,
    agent_failures: Vec<String>,
    forced_sign_outs: u64,
}

impl Report {
    /// Prints the report; returns what failed.
    fn print(&self) -> Vec<String> {
        println!(
            "  forced sign-outs by the supervisor: {}",
            self.forced_sign_outs
        );
        println!("  what the drivers saw:");
        for (what, n) in &self.tally {
            println!("    {n:>8}  {what}");
        }
        println!("  tasks and memory over time (client runtime's alive tasks; process RSS):");
        for s in &self.samples {
            println!(
                "    {:>6.1} s  {:>6} tasks  {:>8.1} MiB",
                s.at.as_secs_f64(),
                s.tasks,
                s.rss_kib as f64 / 1024.0
            );
        }
        let max_tasks = self.samples.iter().map(|s| s.tasks).max().unwrap_or(0);
        println!(
            "  tasks: {} before, at most {max_tasks} during (bound {}), {} after sign-out",
            self.baseline_tasks, self.task_bound, self.tasks_after
        );
        println!(
            "  RSS: {:.1} MiB after sign-in, {:.1} MiB after warm-up, {:.1} MiB when the faults stopped, {:.1} MiB after sign-out",
            self.rss_start as f64 / 1024.0,
            self.rss_warm as f64 / 1024.0,
            self.rss_end as f64 / 1024.0,
            self.rss_after as f64 / 1024.0
        );
        match self.converged_in {
            Some(t) => println!(
                "  convergence: every agent settled {:.1} s after the faults stopped, and every state matched",
                t.as_secs_f64()
            ),
            None => println!(
                "  convergence: {} agents not settled within {SETTLE_DEADLINE:?}",
                self.unsettled
            ),
        }

        let mut failures = self.agent_failures.clone();
        if self.converged_in.is_none() {
            failures.push(format!(
                "{} agents did not settle within {SETTLE_DEADLINE:?}",
                self.unsettled
            ));
        }
        for (what, n) in &self.tally {
            if what.starts_with("WRONG BELIEF") && *n > 0 {
                failures.push(format!("{what}: {n} times"));
            }
        }
        if max_tasks > self.task_bound {
            failures.push(format!(
                "{max_tasks} alive tasks, more than the bound {}",
                self.task_bound
            ));
        }
        if self.tasks_after > self.baseline_tasks {
            failures.push(format!(
                "{} tasks still alive after sign-out (started with {})",
                self.tasks_after, self.baseline_tasks
            ));
        }
        // Flat: the end of the faults within a quarter (plus 16 MiB of allocator slack)
        // of the memory after warm-up.
        let limit = self.rss_warm + self.rss_warm / 4 + 16 * 1024;
        if self.rss_end > limit {
            failures.push(format!(
                "RSS grew from {} KiB after warm-up to {} KiB (limit {limit} KiB)",
                self.rss_warm, self.rss_end
            ));
        }
        for needed in [
            "accepted: rest",
            "accepted: cancel",
            "accepted: prolong",
            "sign-ins",
            "events received",
        ] {
            if self.tally.get(needed).copied().unwrap_or(0) == 0 {
                failures.push(format!(
                    "nothing counted as {needed:?}: the run did no work"
                ));
            }
        }
        failures
    }
}

async fn run(
    sim: &Simulator,
    handle: SimHandle,
    agents: u32,
    fault_phase: Duration,
    seed: u64,
) -> Report {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline_tasks = metrics.num_alive_tasks();
    let started = Instant::now();
    let client = GatewayClient::builder(sim.base_url())
        .add_root_certificate_pem(sim.ca_pem().expect("HTTPS"))
        .system_roots(false)
        .connect_timeout(Duration::from_secs(1))
        .request_timeout(Duration::from_secs(2))
        .poll_timeout(Duration::from_millis(2500))
        .build()
        .expect("client");
    let tally = Arc::new(Tally::default());
    let phase = Arc::new(Phase {
        working: AtomicBool::new(true),
        stopping: AtomicBool::new(false),
        settled: AtomicU64::new(0),
    });

    // Sign everyone in before the faults start, so "after sign-in" is a fair start.
    let mut drivers = Vec::new();
    for id in FIRST..FIRST + agents {
        let mut driver = Driver {
            id,
            client: client.clone(),
            agent: None,
            events: None,
            belief: Belief::SignedOut,
            rng: fastrand::Rng::with_seed(seed ^ u64::from(id)),
            tally: Arc::clone(&tally),
            sim: handle.clone(),
        };
        driver.sign_in().await;
        drivers.push(driver);
    }
    let rss_start = rss_kib();
    handle.set_faults(faults(seed));
    let tasks: Vec<_> = drivers
        .into_iter()
        .map(|d| tokio::spawn(d.run(Arc::clone(&phase))))
        .collect();

    // The supervisor: a forced sign-out of a random agent every 250 ms.
    let chaos_stop = Arc::new(AtomicBool::new(false));
    let forced = Arc::new(AtomicU64::new(0));
    let chaos = {
        let (handle, stop, forced) = (handle.clone(), Arc::clone(&chaos_stop), Arc::clone(&forced));
        let mut rng = fastrand::Rng::with_seed(seed.rotate_left(7));
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if handle.force_sign_out(rng.u32(FIRST..FIRST + agents)) {
                    forced.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };

    let mut samples = Vec::new();
    let sample = |samples: &mut Vec<Sample>| {
        samples.push(Sample {
            at: started.elapsed(),
            tasks: metrics.num_alive_tasks(),
            rss_kib: rss_kib(),
        });
    };
    let fault_start = Instant::now();
    let warm_at = fault_phase / 3;
    let mut rss_warm = None;
    let mut last_print = Instant::now();
    while fault_start.elapsed() < fault_phase {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if rss_warm.is_none() && fault_start.elapsed() >= warm_at {
            rss_warm = Some(rss_kib());
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            sample(&mut samples);
            let s = handle.stats();
            println!(
                "  {:>5.0} s: {} requests, {} rests accepted, {} faults, {} forced sign-outs, {} tasks",
                fault_start.elapsed().as_secs_f64(),
                s.requests,
                tally.get("accepted: rest"),
                s.faults_dropped_before
                    + s.faults_dropped_after
                    + s.faults_stalled
                    + s.faults_delayed
                    + s.faults_switch_over
                    + s.faults_repeated_call,
                forced.load(Ordering::SeqCst),
                metrics.num_alive_tasks()
            );
        }
    }
    sample(&mut samples);
    let rss_end = rss_kib();

    // Faults off, supervisor gone, drivers stop working and settle.
    handle.set_faults(Faults::default());
    chaos_stop.store(true, Ordering::SeqCst);
    let _ = chaos.await;
    phase.working.store(false, Ordering::SeqCst);
    let settle_start = Instant::now();
    let mut converged_in = None;
    while settle_start.elapsed() < SETTLE_DEADLINE {
        if phase.settled.load(Ordering::SeqCst) == u64::from(agents) {
            converged_in = Some(settle_start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unsettled = u64::from(agents) - phase.settled.load(Ordering::SeqCst);
    println!(
        "  faults stopped; {} of {agents} agents settled after {:.1} s",
        u64::from(agents) - unsettled,
        settle_start.elapsed().as_secs_f64()
    );
    // Let held polls and in-flight answers land, then compare and sign out.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sample(&mut samples);
    phase.stopping.store(true, Ordering::SeqCst);
    let mut agent_failures = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => agent_failures.push(problem),
            Err(e) => agent_failures.push(format!("a driver panicked: {e}")),
        }
    }
    agent_failures.truncate(20);
    let still_signed_in = (FIRST..FIRST + agents)
        .filter(|id| handle.agent_state(*id).is_some())
        .count();
    if still_signed_in > 0 {
        agent_failures.push(format!(
            "{still_signed_in} agents still signed in after sign-out"
        ));
    }

    // Teardown: the client goes; its tasks must go with it.
    drop(client);
    let teardown = Instant::now();
    while metrics.num_alive_tasks() > baseline_tasks && teardown.elapsed() < TEARDOWN_DEADLINE {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sample(&mut samples);
    Report {
        tally: tally.snapshot(),
        samples,
        baseline_tasks,
        tasks_after: metrics.num_alive_tasks(),
        task_bound: baseline_tasks + 8 + TASKS_PER_AGENT * agents as usize,
        rss_start,
        rss_warm: rss_warm.unwrap_or(rss_start),
        rss_end,
        rss_after: rss_kib(),
        converged_in,
        unsettled,
        agent_failures,
        forced_sign_outs: forced.load(Ordering::SeqCst),
    }
}
