//! The soak's stages after sign-in: the faults with a supervisor signing agents out by
//! force, convergence once they stop, and sign-out under the faults again — each with
//! the samples of tasks and memory it takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ccgw_sim::{Faults, SimHandle};
use tokio::task::JoinHandle;

use crate::driver::{Phase, Tally};
use crate::report::Sample;
use crate::{FIRST, SETTLE_DEADLINE, rss_kib};

/// What the simulator is told to do to requests during the fault phase.
pub(crate) fn faults(seed: u64) -> Faults {
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
        server_error: 0.01,
        // One gateway: no node goes down.
        ..Faults::default()
    }
}

/// The supervisor: a forced sign-out of a random agent every 250 ms, counted in `forced`.
pub(crate) struct Chaos {
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Chaos {
    pub(crate) fn start(
        handle: &SimHandle,
        agents: u32,
        seed: u64,
        forced: &Arc<AtomicU64>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (handle, stopped, forced) = (handle.clone(), Arc::clone(&stop), Arc::clone(forced));
        let mut rng = fastrand::Rng::with_seed(seed.rotate_left(7));
        let task = tokio::spawn(async move {
            while !stopped.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if handle.force_sign_out(rng.u32(FIRST..FIRST + agents)) {
                    forced.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Chaos { stop, task }
    }

    pub(crate) async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
    }
}

/// Samples of the client runtime's alive tasks and the process's memory.
pub(crate) struct Sampler {
    started: Instant,
    metrics: tokio::runtime::RuntimeMetrics,
    pub(crate) samples: Vec<Sample>,
}

impl Sampler {
    pub(crate) fn new(started: Instant) -> Self {
        Sampler {
            started,
            metrics: tokio::runtime::Handle::current().metrics(),
            samples: Vec::new(),
        }
    }

    pub(crate) fn tasks(&self) -> usize {
        self.metrics.num_alive_tasks()
    }

    pub(crate) fn sample(&mut self) {
        self.samples.push(Sample {
            at: self.started.elapsed(),
            tasks: self.tasks(),
            rss_kib: rss_kib(),
        });
    }
}

/// Memory during the fault phase.
pub(crate) struct FaultMemory {
    /// A third of the way in (none if the phase was too short).
    pub(crate) warm: Option<u64>,
    /// When the faults stop.
    pub(crate) end: u64,
}

/// Waits out `length` of faults, sampling and printing progress every 10 s.
pub(crate) async fn fault_phase(
    length: Duration,
    handle: &SimHandle,
    tally: &Tally,
    forced: &AtomicU64,
    sampler: &mut Sampler,
) -> FaultMemory {
    let start = Instant::now();
    let mut warm = None;
    let mut last_print = Instant::now();
    while start.elapsed() < length {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if warm.is_none() && start.elapsed() >= length / 3 {
            warm = Some(rss_kib());
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            sampler.sample();
            let s = handle.stats();
            let faults = s.faults_dropped_before
                + s.faults_dropped_after
                + s.faults_stalled
                + s.faults_delayed
                + s.faults_switch_over
                + s.faults_repeated_call
                + s.faults_server_error;
            println!(
                "  {:>5.0} s: {} requests, {} rests accepted, {faults} faults, {} forced sign-outs, {} tasks",
                start.elapsed().as_secs_f64(),
                s.requests,
                tally.get("confirmed: rest"),
                forced.load(Ordering::SeqCst),
                sampler.tasks()
            );
        }
    }
    sampler.sample();
    let end = rss_kib();
    FaultMemory { warm, end }
}

/// Waits until every driver has settled, within [`SETTLE_DEADLINE`]: how long it took,
/// and how many had not.
pub(crate) async fn settle(phase: &Phase, agents: u32) -> (Option<Duration>, u64) {
    let start = Instant::now();
    let mut converged_in = None;
    while start.elapsed() < SETTLE_DEADLINE {
        if phase.settled.load(Ordering::SeqCst) == u64::from(agents) {
            converged_in = Some(start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unsettled = u64::from(agents) - phase.settled.load(Ordering::SeqCst);
    println!(
        "  faults stopped; {} of {agents} agents settled after {:.1} s",
        u64::from(agents) - unsettled,
        start.elapsed().as_secs_f64()
    );
    (converged_in, unsettled)
}

/// Every driver checks its belief with the faults off; then they sign out, with
/// `Agent::sign_out` alone, under the same faults and forced sign-outs again. What
/// failed, at most 20 drivers' problems and whether agents were left signed in.
pub(crate) async fn sign_out_under_faults(
    drivers: Vec<JoinHandle<Result<(), String>>>,
    phase: &Phase,
    handle: &SimHandle,
    seed: u64,
    forced: &Arc<AtomicU64>,
) -> Vec<String> {
    let agents = drivers.len() as u32;
    phase.stopping.store(true, Ordering::SeqCst);
    let checking = Instant::now();
    while phase.checked.load(Ordering::SeqCst) < u64::from(agents)
        && checking.elapsed() < SETTLE_DEADLINE
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.set_faults(faults(seed.wrapping_add(1)));
    let supervisor = Chaos::start(handle, agents, seed.wrapping_add(1), forced);
    phase.sign_out.store(true, Ordering::SeqCst);
    let mut failures = Vec::new();
    for driver in drivers {
        match driver.await {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => failures.push(problem),
            Err(e) => failures.push(format!("a driver panicked: {e}")),
        }
    }
    supervisor.stop().await;
    handle.set_faults(Faults::default());
    let sign_out_failures = failures
        .iter()
        .filter(|p| p.contains("sign-out failed"))
        .count();
    println!("  signed out under faults: {agents} agents, {sign_out_failures} sign-out failures");
    failures.truncate(20);
    let still_signed_in = (FIRST..FIRST + agents)
        .filter(|id| handle.agent_state(*id).is_some())
        .count();
    if still_signed_in > 0 {
        failures.push(format!(
            "{still_signed_in} agents still signed in after sign-out"
        ));
    }
    failures
}
