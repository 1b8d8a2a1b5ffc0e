//! The soak's report: what the drivers saw, tasks and memory over time, and what
//! failed.

use std::collections::BTreeMap;
use std::time::Duration;

/// One sample of the client's tasks and the process's memory.
pub(crate) struct Sample {
    pub(crate) at: Duration,
    pub(crate) tasks: usize,
    pub(crate) rss_kib: u64,
}

pub(crate) struct Report {
    pub(crate) tally: BTreeMap<&'static str, u64>,
    pub(crate) samples: Vec<Sample>,
    pub(crate) baseline_tasks: usize,
    pub(crate) tasks_after: usize,
    pub(crate) task_bound: usize,
    pub(crate) rss_start: u64,
    pub(crate) rss_warm: u64,
    pub(crate) rss_end: u64,
    pub(crate) rss_after: u64,
    pub(crate) converged_in: Option<Duration>,
    pub(crate) unsettled: u64,
    pub(crate) agent_failures: Vec<String>,
    pub(crate) forced_sign_outs: u64,
}

/// What the simulator counted and the faults it injected.
pub(crate) fn print_simulator(stats: &ccgw_sim::Stats) {
    println!(
        "  simulator: {} requests, {} sign-ins ({} took a session over), {} Guid rotations, {} forced or requested sign-outs, {} inactivity sign-outs",
        stats.requests,
        stats.logins,
        stats.takeovers,
        stats.guid_rotations,
        stats.logouts,
        stats.inactivity_signouts
    );
    println!(
        "  faults injected: {} dropped before handling, {} dropped after handling, {} stalled, {} delayed, {} × 000-004, {} × 000-007, {} × HTTP 500",
        stats.faults_dropped_before,
        stats.faults_dropped_after,
        stats.faults_stalled,
        stats.faults_delayed,
        stats.faults_switch_over,
        stats.faults_repeated_call,
        stats.faults_server_error
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
}

impl Report {
    fn max_tasks(&self) -> usize {
        self.samples.iter().map(|s| s.tasks).max().unwrap_or(0)
    }

    /// Prints what the drivers saw, tasks and memory over time, and convergence.
    pub(crate) fn print(&self) {
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
        let max_tasks = self.max_tasks();
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
                "  convergence: {} agents not settled within {:?}",
                self.unsettled,
                crate::SETTLE_DEADLINE
            ),
        }
    }

    /// What failed: the drivers' problems, convergence, wrong beliefs, tasks, memory and
    /// a run that did no work.
    pub(crate) fn failures(&self) -> Vec<String> {
        let max_tasks = self.max_tasks();
        let mut failures = self.agent_failures.clone();
        if self.converged_in.is_none() {
            failures.push(format!(
                "{} agents did not settle within {:?}",
                self.unsettled,
                crate::SETTLE_DEADLINE
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
            "confirmed: rest",
            "confirmed: cancel",
            "confirmed: prolong",
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
