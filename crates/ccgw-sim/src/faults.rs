//! Faults injected at random, per request: what a broken network, an overloaded proxy or
//! a gateway in failover does to a client. All off by default; set them in
//! [`Config::faults`](crate::Config::faults) or at run time with
//! [`SimHandle::set_faults`](crate::SimHandle::set_faults).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::counters::Counters;
use crate::hostile::Hostile;

/// How often each fault happens: each is the probability (0.0 to 1.0) that one request
/// meets it. One die is rolled per request, so at most one fault hits a request, and the
/// probabilities add up (a sum above 1.0 makes the last ones rarer than set).
///
/// ```
/// use std::time::Duration;
/// let faults = ccgw_sim::Faults {
///     drop_before: 0.02,
///     stall: 0.01,
///     stall_for: Duration::from_secs(5),
///     ..ccgw_sim::Faults::default()
/// };
/// assert!(faults.any());
/// assert!(!ccgw_sim::Faults::default().any());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Seed of the dice, so a run can be repeated (the order of concurrent requests
    /// still varies).
    pub seed: u64,
    /// The connection is closed before the request is handled: not applied, no answer.
    pub drop_before: f64,
    /// The request is handled (applied), then the connection is closed without the answer.
    pub drop_after: f64,
    /// The request is held for [`stall_for`](Self::stall_for), then the connection is
    /// closed without an answer; not applied.
    pub stall: f64,
    /// How long a stalled request is held.
    pub stall_for: Duration,
    /// The answer comes after a random delay of up to [`delay_max`](Self::delay_max).
    pub delay: f64,
    /// The longest delay.
    pub delay_max: Duration,
    /// Answered `000-004` (the agent is being switched over) without being handled.
    pub switch_over: f64,
    /// Answered `000-007` (called repeatedly) without being handled.
    pub repeated_call: f64,
    /// Answered HTTP 500 with an HTML page (a proxy's or a gateway's internal error)
    /// without being handled.
    pub server_error: f64,
    /// In a cluster: every this long one node goes down (the next one each time, in
    /// turn) for [`node_down_for`](Self::node_down_for), then comes back. Read when the
    /// simulator starts. `None` (the default): nodes go down only through the handle.
    pub node_down_every: Option<Duration>,
    /// How long a node stays down.
    pub node_down_for: Duration,
    /// Every this long a supervisor signs a random configured agent out by force (its
    /// Guid stops being valid at once; counted in `faults_forced_sign_outs` when it was
    /// signed in). Read when the simulator starts. `None` (the default): only through
    /// [`SimHandle::force_sign_out`](crate::SimHandle::force_sign_out).
    pub forced_sign_out_every: Option<Duration>,
    /// Every request but a sign-in is handled, then answered in this hostile way, with
    /// the caller's secrets in it (see [`Hostile`]). `None` (the default): never.
    pub hostile: Option<Hostile>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            seed: 0,
            drop_before: 0.0,
            drop_after: 0.0,
            stall: 0.0,
            stall_for: Duration::from_secs(30),
            delay: 0.0,
            delay_max: Duration::from_millis(500),
            switch_over: 0.0,
            repeated_call: 0.0,
            server_error: 0.0,
            node_down_every: None,
            node_down_for: Duration::from_secs(10),
            forced_sign_out_every: None,
            hostile: None,
        }
    }
}

impl Faults {
    /// Whether any fault can happen.
    pub fn any(&self) -> bool {
        self.table().iter().any(|(p, _)| *p > 0.0)
    }

    fn table(&self) -> [(f64, Kind); 7] {
        [
            (self.drop_before, Kind::DropBefore),
            (self.drop_after, Kind::DropAfter),
            (self.stall, Kind::Stall),
            (self.delay, Kind::Delay),
            (self.switch_over, Kind::SwitchOver),
            (self.repeated_call, Kind::RepeatedCall),
            (self.server_error, Kind::ServerError),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    DropBefore,
    DropAfter,
    Stall,
    Delay,
    SwitchOver,
    RepeatedCall,
    ServerError,
}

impl Kind {
    /// The counter of this kind of fault.
    pub(crate) fn counter(self, counters: &Counters) -> &AtomicU64 {
        match self {
            Kind::DropBefore => &counters.faults_dropped_before,
            Kind::DropAfter => &counters.faults_dropped_after,
            Kind::Stall => &counters.faults_stalled,
            Kind::Delay => &counters.faults_delayed,
            Kind::SwitchOver => &counters.faults_switch_over,
            Kind::RepeatedCall => &counters.faults_repeated_call,
            Kind::ServerError => &counters.faults_server_error,
        }
    }
}

/// The settings and their dice.
#[derive(Debug)]
pub(crate) struct Dice {
    /// Whether any fault is set (or an answer is to be lost): requests skip the locks
    /// when none is.
    active: AtomicBool,
    state: Mutex<(Faults, fastrand::Rng)>,
    /// Path fragments whose next request meets a fault, once each: its answer lost
    /// ([`Kind::DropAfter`]) or the request itself ([`Kind::DropBefore`]).
    lose_next: Mutex<Vec<(String, Kind)>>,
}

impl Dice {
    pub(crate) fn new(faults: Faults) -> Self {
        let dice = Self {
            active: AtomicBool::new(false),
            state: Mutex::new((Faults::default(), fastrand::Rng::new())),
            lose_next: Mutex::default(),
        };
        dice.set(faults);
        dice
    }

    pub(crate) fn set(&self, faults: Faults) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = !self
            .lose_next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        self.active.store(
            faults.any() || faults.hostile.is_some() || pending,
            Ordering::SeqCst,
        );
        let rng = fastrand::Rng::with_seed(faults.seed);
        *state = (faults, rng);
    }

    /// The hostile answer every request but a sign-in gets, if one is set.
    pub(crate) fn hostile(&self) -> Option<Hostile> {
        if !self.active.load(Ordering::Relaxed) {
            return None;
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .hostile
    }

    /// The fault for one request (and the delay, for [`Kind::Delay`]).
    /// Makes the next request whose path contains `fragment` lose its answer: it is
    /// handled, then its connection closed.
    pub(crate) fn lose_next_answer(&self, fragment: &str) {
        self.lose_next_once(fragment, Kind::DropAfter);
    }

    /// Makes the next request whose path contains `fragment` get lost before the
    /// gateway handles it: its connection is closed, nothing is applied.
    pub(crate) fn lose_next_request(&self, fragment: &str) {
        self.lose_next_once(fragment, Kind::DropBefore);
    }

    fn lose_next_once(&self, fragment: &str, kind: Kind) {
        self.lose_next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((fragment.to_owned(), kind));
        self.active.store(true, Ordering::SeqCst);
    }

    pub(crate) fn roll(&self, path: &str) -> Option<(Kind, Duration)> {
        if !self.active.load(Ordering::Relaxed) {
            return None;
        }
        // The same lock order as `set`: state, then the one-shot losses.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let mut lose = self
                .lose_next
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(i) = lose.iter().position(|(f, _)| path.contains(f.as_str())) {
                let (_, kind) = lose.remove(i);
                // Back to the lock-free path once nothing is set.
                self.active
                    .store(state.0.any() || !lose.is_empty(), Ordering::SeqCst);
                return Some((kind, Duration::ZERO));
            }
        }
        let (faults, rng) = &mut *state;
        let mut die = rng.f64();
        for (p, kind) in faults.table() {
            if die < p {
                let wait = match kind {
                    Kind::Stall => faults.stall_for,
                    Kind::Delay => faults.delay_max.mul_f64(rng.f64()),
                    _ => Duration::ZERO,
                };
                return Some((kind, wait));
            }
            die -= p.max(0.0);
        }
        None
    }
}

/// Marks a response that must not be sent: the connection that carries it is closed
/// instead, without another byte (see `server::serve`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HangUp;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_follow_the_rates() {
        let dice = Dice::new(Faults {
            seed: 7,
            drop_before: 0.1,
            delay: 0.2,
            repeated_call: 0.05,
            ..Faults::default()
        });
        let mut seen = std::collections::HashMap::new();
        let rolls = 100_000;
        for _ in 0..rolls {
            *seen.entry(dice.roll("/x").map(|(k, _)| k)).or_insert(0u32) += 1;
        }
        let share = |k| f64::from(seen.get(&k).copied().unwrap_or(0)) / f64::from(rolls);
        assert!((share(Some(Kind::DropBefore)) - 0.1).abs() < 0.01);
        assert!((share(Some(Kind::Delay)) - 0.2).abs() < 0.01);
        assert!((share(Some(Kind::RepeatedCall)) - 0.05).abs() < 0.01);
        assert!((share(None) - 0.65).abs() < 0.01);
        assert_eq!(share(Some(Kind::Stall)), 0.0);
    }

    #[test]
    fn no_faults_by_default() {
        let dice = Dice::new(Faults::default());
        assert!((0..10_000).all(|_| dice.roll("/x").is_none()));
    }

    #[test]
    fn a_lost_answer_is_lost_once_and_only_for_its_path() {
        let dice = Dice::new(Faults::default());
        dice.lose_next_answer("/rest/");
        assert!(dice.roll("/agentgateway/resource/agentevent/101").is_none());
        assert_eq!(
            dice.roll("/agentgateway/resource/onlineagent/101/rest/60/1")
                .map(|(k, _)| k),
            Some(Kind::DropAfter)
        );
        assert!(
            dice.roll("/agentgateway/resource/onlineagent/101/rest/60/1")
                .is_none()
        );
        dice.lose_next_request("/rest/");
        assert_eq!(
            dice.roll("/agentgateway/resource/onlineagent/101/rest/60/1")
                .map(|(k, _)| k),
            Some(Kind::DropBefore)
        );
        assert!(
            dice.roll("/agentgateway/resource/onlineagent/101/rest/60/1")
                .is_none()
        );
    }
}
