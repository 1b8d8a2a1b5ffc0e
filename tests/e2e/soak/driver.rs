//! One agent driven as an integrator drives it: it believes a state from the answers it
//! got and lets `ccgw` settle what it cannot know (`ensure_rest`, `ensure_idle`,
//! `prolong_confirmed`), re-reading the state only when an outcome stayed unknown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ccgw::{
    Agent, AgentId, AgentState, Converged, Disposition, Error, EventStream, GatewayClient,
    RestCause, RestDuration, RetCode, SignIn,
};
use ccgw_client::operations::{self, Operation};
use ccgw_sim::SimHandle;

/// How long one confirmed operation may take before its outcome counts as unknown.
const CONFIRM_WAIT: Duration = Duration::from_secs(15);

/// Counters of everything the drivers saw, shared by all of them.
#[derive(Default)]
pub(crate) struct Tally {
    counts: std::sync::Mutex<BTreeMap<&'static str, u64>>,
}

impl Tally {
    pub(crate) fn add(&self, what: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(what)
            .or_default() += 1;
    }

    pub(crate) fn get(&self, what: &str) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(what)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<&'static str, u64> {
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
    /// What a state read with `status` says.
    fn of_state(state: AgentState) -> Belief {
        match state {
            AgentState::Idle => Belief::Idle,
            AgentState::Rest => Belief::Rest,
            _ => Belief::Unknown,
        }
    }

    /// The simulator's view of the same: `None` signed out, else the state code.
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
pub(crate) struct Phase {
    /// Drivers apply, prolong and cancel rest (false: they only settle).
    pub(crate) working: AtomicBool,
    /// Drivers make their final check and stop.
    pub(crate) stopping: AtomicBool,
    /// Drivers whose belief is known and whose agent is signed in, with its events open.
    pub(crate) settled: AtomicU64,
    /// Drivers that made their final check and wait to sign out.
    pub(crate) checked: AtomicU64,
    /// Drivers sign out (with the faults on again).
    pub(crate) sign_out: AtomicBool,
}

pub(crate) struct Driver {
    pub(crate) id: u32,
    pub(crate) client: GatewayClient,
    agent: Option<Agent>,
    events: Option<EventStream>,
    belief: Belief,
    rng: fastrand::Rng,
    tally: Arc<Tally>,
    sim: SimHandle,
}

impl Driver {
    pub(crate) fn new(
        id: u32,
        client: GatewayClient,
        seed: u64,
        tally: Arc<Tally>,
        sim: SimHandle,
    ) -> Driver {
        Driver {
            id,
            client,
            agent: None,
            events: None,
            belief: Belief::SignedOut,
            rng: fastrand::Rng::with_seed(seed ^ u64::from(id)),
            tally,
            sim,
        }
    }

    /// Files an error by its disposition: what it says about the agent's state.
    fn failed(&mut self, operation: Operation, e: &Error) {
        match (e.disposition(), e.retcode()) {
            (Disposition::SignInAgain, _) => {
                self.tally.add("answers: session gone (100-006)");
                self.signed_out();
            }
            (Disposition::TakeOver, _) if operation == operations::GET_AGENT_EVENT => {
                // The event stream gave up on a Guid the gateway keeps refusing while it
                // still holds the session: an orphaned session. The next sign-in takes
                // it over.
                self.tally
                    .add("ORPHANED: event stream ended on a refused Guid (000-003)");
                self.signed_out();
            }
            (Disposition::TakeOver, _) => {
                // Refused, so not applied. Possibly a Guid rotating while the request
                // was under way; the event stream tells whether the session is gone.
                self.tally.add("answers: 000-003 Guid refused");
            }
            (Disposition::BackOff, Some(code)) => {
                self.tally.add(match code {
                    RetCode::SwitchingOver => "answers: 000-004 switching over",
                    RetCode::CalledRepeatedly => "answers: 000-007 called repeatedly",
                    _ => "answers: other passing refusals",
                });
            }
            (Disposition::DoNotResend, Some(RetCode::StateChangeRefused)) => {
                // Only possible if the belief was wrong.
                self.tally.add("WRONG BELIEF: 100-009 state change refused");
                eprintln!(
                    "agent {}: {} refused as a wrong state change",
                    self.id, operation.log_name
                );
                self.belief = Belief::Unknown;
            }
            (Disposition::Resend, _) => self.tally.add("errors: not sent (retry-safe)"),
            (Disposition::SettleUnknown, _) => {
                self.tally.add(match e {
                    Error::NotConfirmed { .. } => "errors: not confirmed within the wait",
                    _ => "errors: outcome unknown",
                });
                if self.belief != Belief::SignedOut {
                    self.belief = Belief::Unknown;
                }
            }
            (disposition, _) => {
                eprintln!(
                    "agent {}: {}: unexpected {e:?} ({disposition})",
                    self.id, operation.log_name
                );
                self.tally.add("errors: other");
                self.belief = Belief::Unknown;
            }
        }
    }

    fn signed_out(&mut self) {
        self.agent = None;
        self.events = None;
        self.belief = Belief::SignedOut;
    }

    pub(crate) async fn sign_in(&mut self) {
        let Ok(id) = AgentId::new(self.id) else {
            return;
        };
        // A sign-in whose answer was lost leaves a session whose Guid never arrived;
        // taking it over recovers it (and an orphaned one) at once.
        let request =
            SignIn::new(format!("pw{}", self.id), format!("40{}", self.id)).take_over(true);
        match self.client.sign_in(id, &request).await {
            Ok(agent) => {
                self.tally.add(if agent.took_over() {
                    "sign-ins that took a session over"
                } else {
                    "sign-ins"
                });
                self.events = Some(agent.events());
                self.agent = Some(agent);
                self.belief = Belief::Idle;
            }
            Err(e) => {
                self.failed(operations::LOGIN, &e);
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
                self.failed(operations::GET_AGENT_STATUS, &e);
                false
            }
        }
    }

    /// One step of work, by the belief: rest (`ensure_rest`), prolong
    /// (`prolong_confirmed`) or cancel (`ensure_idle`).
    async fn work(&mut self) {
        let Some(agent) = self.agent.clone() else {
            return;
        };
        let cause = RestCause::from(self.rng.u8(0..=10));
        let Ok(duration) = RestDuration::from_secs(self.rng.u32(1..=4)) else {
            return;
        };
        let (confirmed, operation, outcome, after) = match self.belief {
            Belief::Idle => (
                "confirmed: rest",
                operations::REST,
                agent.rest(duration, cause).ensured(CONFIRM_WAIT).await,
                Belief::Rest,
            ),
            Belief::Rest if self.rng.bool() => (
                "confirmed: prolong",
                operations::REST,
                agent
                    .rest(duration, cause)
                    .prolong()
                    .confirmed(CONFIRM_WAIT)
                    .await
                    .map(Converged::Applied),
                Belief::Rest,
            ),
            Belief::Rest => (
                "confirmed: cancel",
                operations::CANCEL_REST,
                agent.cancel_rest().ensured(CONFIRM_WAIT).await,
                Belief::Idle,
            ),
            Belief::Unknown | Belief::SignedOut => return,
        };
        match outcome {
            Ok(Converged::AlreadyThere) => {
                // ensure_* read the state first: the belief was wrong.
                self.tally.add("WRONG BELIEF: already in the wanted state");
                self.belief = after;
            }
            Ok(how) => {
                self.tally.add(confirmed);
                if matches!(how, Converged::AppliedAfterUnknown(_)) {
                    self.tally.add("unknown outcomes settled by ccgw");
                }
                self.belief = after;
            }
            Err(e) => self.failed(operation, &e),
        }
    }

    /// Takes one event: the end of the stream says the session is gone.
    fn event(&mut self, event: Option<Result<ccgw::AgentEvent, Error>>) {
        match event {
            Some(Ok(ccgw::AgentEvent::Gap { .. })) => {
                self.tally.add("gaps reported (poll answer lost)")
            }
            Some(Ok(_)) => self.tally.add("events received"),
            Some(Err(Error::EventsLost { .. })) => self.tally.add("events lost by a slow reader"),
            Some(Err(e)) => {
                self.tally.add("event streams ended");
                self.failed(operations::GET_AGENT_EVENT, &e);
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

    pub(crate) async fn run(mut self, phase: Arc<Phase>) -> Result<(), String> {
        let mut settled = false;
        while !phase.stopping.load(Ordering::SeqCst) {
            if self.agent.is_none() {
                self.sign_in().await;
                continue;
            }
            let working = phase.working.load(Ordering::SeqCst);
            let ready = self.belief != Belief::Unknown && self.events.is_some();
            if settled && !ready {
                // Lost its footing after settling (a session lost and signed in again).
                settled = false;
                phase.settled.fetch_sub(1, Ordering::SeqCst);
            }
            let think = Duration::from_millis(self.rng.u64(50..=400));
            let events = self.events.as_mut();
            // The stream is read in every phase: its end says the session is gone.
            tokio::select! {
                event = async { match events { Some(s) => s.next().await, None => std::future::pending().await } } => self.event(event),
                () = tokio::time::sleep(think) => {
                    if !working && ready && !settled {
                        // Settled once the gateway answers this session again and agrees
                        // with the belief (a disagreement counts as a wrong belief).
                        if self.check().await && self.belief != Belief::Unknown {
                            settled = true;
                            phase.settled.fetch_add(1, Ordering::SeqCst);
                        }
                    } else if self.belief == Belief::Unknown || (working && self.rng.u8(0..10) == 0) {
                        self.check().await;
                    } else if working {
                        self.work().await;
                    }
                }
            }
        }
        self.finish(&phase).await
    }

    /// Final check, then — once the run says so, under faults — sign out with
    /// `Agent::sign_out` alone.
    async fn finish(mut self, phase: &Phase) -> Result<(), String> {
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
            let current = self.agent.as_ref().and_then(Agent::guid);
            let fresh = current
                .as_ref()
                .map(|g| Some(g.expose_secret().to_owned()) == self.sim.current_guid(self.id));
            problems.push(format!(
                "client reports {reported:?}, simulator says {state:?} (the client's Guid is the current one: {fresh:?})"
            ));
        }
        phase.checked.fetch_add(1, Ordering::SeqCst);
        while !phase.sign_out.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
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
