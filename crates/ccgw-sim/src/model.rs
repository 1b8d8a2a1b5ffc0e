//! The gateway's behaviour, without HTTP: agents, sessions, Guids, the rest state
//! machine and event queues. Every answer is a return code plus data, exactly as the
//! reference describes; the HTTP layer only translates.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::{AuthMode, Config};

mod control;
mod login;

pub(crate) use crate::counters::{Counters, bump};
pub(crate) use crate::wire::{AgentState, Answer, Event, Poll, retcode};

#[derive(Debug)]
struct Rest {
    /// The rest cause.
    cause: u8,
    /// Clock milliseconds when the requested duration ends.
    until_ms: u64,
    timeout_sent: bool,
}

#[derive(Debug)]
struct Session {
    guid: String,
    previous: Option<(String, u64)>,
    guid_issued_ms: u64,
    last_seen_ms: u64,
    state: AgentState,
    rest: Option<Rest>,
    /// A rest requested during a call: (cause, duration seconds).
    pending_rest: Option<(u8, u32)>,
    talking: bool,
    /// The cluster node that holds the session.
    node: usize,
    /// Signed in with `callBackUri` and `serviceToken`: events are pushed, not polled.
    push: bool,
}

/// Events kept per agent until polled; beyond it the oldest go (counted in
/// `Stats::events_overflowed`).
pub(crate) const EVENT_QUEUE: usize = 256;

#[derive(Debug)]
struct AgentData {
    password: String,
    session: Option<Session>,
    events: VecDeque<Event>,
    /// After a sign-out: the ended session's Guids and its `AgentOther_ShutdownService`,
    /// for the one poll that still comes with one of them.
    farewell: Option<(Vec<String>, Event)>,
}

/// One configured agent: its data and the wake-up for its long polls.
#[derive(Debug)]
pub(crate) struct Slot {
    data: Mutex<AgentData>,
    pub(crate) notify: Notify,
}

/// The gateway state shared by every connection.
#[derive(Debug)]
pub(crate) struct Gateway {
    /// One-shot answers injected by tests: operation → return code.
    injected: Mutex<HashMap<String, &'static str>>,
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    agents: HashMap<u32, Arc<Slot>>,
    /// Counters, read by tests through the handle.
    pub(crate) counters: Arc<Counters>,
    /// Random faults (none unless configured).
    pub(crate) dice: crate::faults::Dice,
    /// The cluster's nodes (one for a single gateway).
    pub(crate) nodes: crate::cluster::Nodes,
}

fn lock(slot: &Slot) -> MutexGuard<'_, AgentData> {
    slot.data.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gateway {
    pub(crate) fn new(config: Config, clock: Clock) -> Self {
        let agents = config
            .agents
            .iter()
            .map(|a| {
                let slot = Slot {
                    data: Mutex::new(AgentData {
                        password: a.password.clone(),
                        session: None,
                        events: VecDeque::new(),
                        farewell: None,
                    }),
                    notify: Notify::new(),
                };
                (a.id, Arc::new(slot))
            })
            .collect();
        Self {
            injected: Mutex::default(),
            dice: crate::faults::Dice::new(config.faults.clone()),
            nodes: crate::cluster::Nodes::new(usize::from(config.nodes)),
            config,
            clock,
            agents,
            counters: Arc::default(),
        }
    }

    /// The configured password of `agent`.
    pub(crate) fn password_of(&self, agent: u32) -> Option<String> {
        self.config
            .agents
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.password.clone())
    }

    pub(crate) fn slot(&self, agent: u32) -> Option<&Arc<Slot>> {
        self.agents.get(&agent)
    }

    /// Wakes every held poll (after the clock moved or on shutdown).
    pub(crate) fn wake_all(&self) {
        for slot in self.agents.values() {
            slot.notify.notify_waiters();
        }
    }

    /// A new Guid of cluster node `node`.
    fn new_guid(&self, node: usize) -> String {
        // `<uuid>.AgentGateway<N>`, as real gateways issue them.
        let node = usize::from(self.config.node) + node;
        format!("{}.AgentGateway{node}", uuid::Uuid::new_v4())
    }

    fn emit(&self, data: &mut AgentData, slot: &Slot, event_type: &'static str, content: Value) {
        if self.config.silent_events.iter().any(|e| e == event_type) {
            return;
        }
        if data.events.len() == EVENT_QUEUE {
            data.events.pop_front();
            bump(&self.counters.events_overflowed);
        }
        data.events.push_back(Event {
            event_type,
            content,
            gen_time_ms: self.clock.epoch_ms(),
        });
        bump(&self.counters.events_emitted);
        slot.notify.notify_waiters();
    }

    /// Brings an agent up to the clock: inactivity sign-out, rest timeout reminder (and,
    /// with [`Config::end_rest_at_timeout`], the end of rest).
    fn catch_up(&self, data: &mut AgentData, slot: &Slot, now: u64) {
        let Some(session) = data.session.as_mut() else {
            return;
        };
        if now.saturating_sub(session.last_seen_ms) >= self.config.inactivity_ms() {
            self.end_session(data, slot);
            bump(&self.counters.inactivity_signouts);
            return;
        }
        if let Some(rest) = session.rest.as_mut()
            && !rest.timeout_sent
            && now >= rest.until_ms
        {
            rest.timeout_sent = true;
            bump(&self.counters.rest_timeouts);
            if self.config.end_rest_at_timeout {
                session.state = AgentState::Idle;
                session.rest = None;
                bump(&self.counters.rest_ended_by_platform);
            }
            self.emit(data, slot, "AgentState_Rest_Timeout", Value::Null);
            if self.config.end_rest_at_timeout {
                self.emit(data, slot, "AgentState_Ready", Value::Null);
            }
        }
    }

    /// The session if `guid` is its current Guid or a previous one still within its grace time.
    fn authorise<'a>(
        &self,
        data: &'a mut AgentData,
        guid: Option<&str>,
        now: u64,
        node: usize,
    ) -> Result<&'a mut Session, Answer> {
        if self.nodes.is_down(node) {
            // Sent to the node before it went down (a held poll, say).
            return Err(Answer::code(retcode::SWITCHING_OVER));
        }
        let Some(session) = data.session.as_mut() else {
            return Err(Answer::code(retcode::NOT_SIGNED_IN));
        };
        if session.node != node {
            // A node accepts only the Guids it issued.
            return Err(Answer::code(retcode::NO_PERMISSION));
        }
        let Some(guid) = guid else {
            return Err(Answer::code(retcode::NO_PERMISSION));
        };
        if guid == session.guid {
            return Ok(session);
        }
        match &session.previous {
            Some((previous, expires)) if guid == previous && now < *expires => Ok(session),
            _ => Err(Answer::code(retcode::NO_PERMISSION)),
        }
    }

    /// The agent's data, brought up to the clock, once `guid` is accepted for its session;
    /// otherwise the refusal (`100-006` not signed in, `000-003` wrong Guid).
    fn open(
        &self,
        agent: u32,
        guid: Option<&str>,
        node: usize,
    ) -> Result<(MutexGuard<'_, AgentData>, &Slot, u64), Answer> {
        let now = self.clock.now_ms();
        let Some(slot) = self.slot(agent) else {
            return Err(Answer::code(retcode::NOT_SIGNED_IN));
        };
        let mut data = lock(slot);
        self.catch_up(&mut data, slot, now);
        self.authorise(&mut data, guid, now, node)?;
        Ok((data, slot, now))
    }

    /// Ends the session: its Guid stops being valid, undelivered events are dropped
    /// (counted), held polls wake up.
    fn end_session(&self, data: &mut AgentData, slot: &Slot) {
        data.session = None;
        data.farewell = None;
        let dropped = data.events.len() as u64;
        data.events.clear();
        self.counters
            .events_discarded
            .fetch_add(dropped, Ordering::SeqCst);
        slot.notify.notify_waiters();
    }

    /// Dynamic authentication: a new Guid once the rotation interval has passed.
    fn maybe_rotate(&self, session: &mut Session, now: u64) -> Option<String> {
        let AuthMode::Dynamic { interval, timeout } = self.config.auth_mode else {
            return None;
        };
        if now.saturating_sub(session.guid_issued_ms) < duration_ms(interval) {
            return None;
        }
        let new = self.new_guid(session.node);
        let old = std::mem::replace(&mut session.guid, new.clone());
        session.previous = Some((old, now + duration_ms(timeout)));
        session.guid_issued_ms = now;
        bump(&self.counters.guid_rotations);
        Some(new)
    }

    /// `logout`.
    pub(crate) fn logout(&self, agent: u32, guid: Option<&str>, node: usize) -> Answer {
        let (mut data, slot, _) = match self.open(agent, guid, node) {
            Ok(open) => open,
            Err(answer) => return answer,
        };
        if data.session.as_ref().is_some_and(|s| s.talking) {
            return Answer::code(retcode::WRONG_STATE_AT_SIGN_OUT);
        }
        let guids: Vec<String> = data
            .session
            .iter()
            .flat_map(|s| {
                std::iter::once(s.guid.clone()).chain(s.previous.iter().map(|(g, _)| g.clone()))
            })
            .collect();
        self.end_session(&mut data, slot);
        bump(&self.counters.logouts);
        if self.config.sign_out_event {
            data.farewell = Some((
                guids,
                Event {
                    event_type: "AgentOther_ShutdownService",
                    content: json!({"loginTime": self.clock.epoch_ms().to_string()}),
                    gen_time_ms: self.clock.epoch_ms(),
                },
            ));
            bump(&self.counters.events_emitted);
        }
        Answer::ok()
    }

    /// `rest`: `time` seconds and `cause` already range-checked by the HTTP layer.
    pub(crate) fn rest(
        &self,
        agent: u32,
        guid: Option<&str>,
        time: u32,
        cause: u8,
        prolong: bool,
        node: usize,
    ) -> Answer {
        let (mut data, slot, now) = match self.open(agent, guid, node) {
            Ok(open) => open,
            Err(answer) => return answer,
        };
        let Some(session) = data.session.as_mut() else {
            return Answer::code(retcode::NOT_SIGNED_IN);
        };
        if cause != 0 && !self.config.rest_causes.contains(&cause) {
            return Answer::code(retcode::INVALID_PARAMETER);
        }
        let until_ms = now + u64::from(time) * 1000;
        match session.state {
            AgentState::Rest if !prolong => Answer::code(retcode::STATE_CHANGE_REFUSED),
            AgentState::PreRest if !prolong => Answer::code(retcode::STATE_CHANGE_REFUSED),
            AgentState::Rest => {
                self.start_rest(
                    &mut data,
                    slot,
                    cause,
                    until_ms,
                    &self.counters.rest_prolonged,
                );
                Answer::ok()
            }
            _ if session.talking => {
                session.pending_rest = Some((cause, time));
                if session.state != AgentState::PreRest {
                    session.state = AgentState::PreRest;
                    bump(&self.counters.pre_rest_entered);
                }
                Answer::ok()
            }
            _ => {
                self.start_rest(
                    &mut data,
                    slot,
                    cause,
                    until_ms,
                    &self.counters.rest_entered,
                );
                Answer::ok()
            }
        }
    }

    /// Puts the session into rest until `until_ms`, counts it on `counter` and
    /// announces it with `AgentState_SetRest_Success` (its reason is the cause).
    fn start_rest(
        &self,
        data: &mut AgentData,
        slot: &Slot,
        cause: u8,
        until_ms: u64,
        counter: &AtomicU64,
    ) {
        if let Some(session) = data.session.as_mut() {
            session.state = AgentState::Rest;
            session.rest = Some(Rest {
                cause,
                until_ms,
                timeout_sent: false,
            });
        }
        bump(counter);
        self.emit(
            data,
            slot,
            "AgentState_SetRest_Success",
            json!({"reason": cause.to_string()}),
        );
    }

    /// `cancelRest`.
    pub(crate) fn cancel_rest(&self, agent: u32, guid: Option<&str>, node: usize) -> Answer {
        let (mut data, slot, _) = match self.open(agent, guid, node) {
            Ok(open) => open,
            Err(answer) => return answer,
        };
        let Some(session) = data.session.as_mut() else {
            return Answer::code(retcode::NOT_SIGNED_IN);
        };
        if !matches!(session.state, AgentState::Rest | AgentState::PreRest) {
            return Answer::code(retcode::STATE_CHANGE_REFUSED);
        }
        session.state = AgentState::Idle;
        session.rest = None;
        session.pending_rest = None;
        bump(&self.counters.rest_cancelled);
        self.emit(
            &mut data,
            slot,
            "AgentState_CancelRest_Success",
            Value::Null,
        );
        Answer::ok()
    }

    /// `getAgentStatus`.
    pub(crate) fn status(&self, agent: u32, guid: Option<&str>, node: usize) -> Answer {
        let (data, _, _) = match self.open(agent, guid, node) {
            Ok(open) => open,
            Err(answer) => return answer,
        };
        match data
            .session
            .as_ref()
            .ok_or_else(|| Answer::code(retcode::NOT_SIGNED_IN))
        {
            Ok(s) => Answer {
                result: json!({"agentState": s.state.code(), "isWorking": s.talking}),
                ..Answer::ok()
            },
            Err(answer) => answer,
        }
    }

    /// `handShake`: keeps the session alive; may rotate the Guid.
    pub(crate) fn handshake(&self, agent: u32, guid: Option<&str>, node: usize) -> Answer {
        let (mut data, _, now) = match self.open(agent, guid, node) {
            Ok(open) => open,
            Err(answer) => return answer,
        };
        let Some(session) = data.session.as_mut() else {
            return Answer::code(retcode::NOT_SIGNED_IN);
        };
        session.last_seen_ms = now;
        let set_guid = self.maybe_rotate(session, now);
        Answer {
            result: Value::Null,
            set_guid,
            ..Answer::ok()
        }
    }

    /// `updateGuid`: the session's current Guid (no rotation; the previous Guid is
    /// accepted within its grace time, as everywhere).
    pub(crate) fn update_guid(&self, agent: u32, guid: Option<&str>, node: usize) -> Answer {
        let (data, _, _) = match self.open(agent, guid, node) {
            Ok(open) => open,
            Err(answer) => return answer,
        };
        match data.session.as_ref() {
            Some(session) => Answer {
                result: json!({"guid": session.guid}),
                ..Answer::ok()
            },
            None => Answer::code(retcode::NOT_SIGNED_IN),
        }
    }

    /// One attempt of `getAgentEvent`: an event if one is queued, else wait.
    /// `rotated` carries a Guid rotated by an earlier attempt of the same poll.
    pub(crate) fn poll(
        &self,
        agent: u32,
        guid: Option<&str>,
        rotated: Option<String>,
        node: usize,
    ) -> Poll {
        let now = self.clock.now_ms();
        let Some(slot) = self.slot(agent) else {
            return Poll::Ready(Answer::code(retcode::NOT_SIGNED_IN), None);
        };
        let mut data = lock(slot);
        self.catch_up(&mut data, slot, now);
        let guid = guid.or(rotated.as_deref());
        if data.session.is_none()
            && let Some((guids, _)) = &data.farewell
            && guid.is_some_and(|g| guids.iter().any(|known| known == g))
            && let Some((_, event)) = data.farewell.take()
        {
            // The ended session's poller gets the sign-out event once.
            bump(&self.counters.events_delivered);
            return Poll::Ready(Answer::ok(), Some(event));
        }
        let session = match self.authorise(&mut data, guid, now, node) {
            Ok(s) => s,
            Err(answer) => return Poll::Ready(answer, None),
        };
        if session.push {
            return Poll::Ready(Answer::code(retcode::WRONG_EVENT_METHOD), None);
        }
        session.last_seen_ms = now;
        let set_guid = self.maybe_rotate(session, now).or(rotated);
        match data.events.pop_front() {
            Some(event) => {
                bump(&self.counters.events_delivered);
                Poll::Ready(
                    Answer {
                        set_guid,
                        ..Answer::ok()
                    },
                    Some(event),
                )
            }
            None => {
                let due = data
                    .session
                    .as_ref()
                    .and_then(|s| s.rest.as_ref())
                    .filter(|r| !r.timeout_sent)
                    .map(|r| r.until_ms.saturating_sub(now));
                Poll::Wait(set_guid, due)
            }
        }
    }

    /// Ends a held poll without an event.
    pub(crate) fn poll_timeout(set_guid: Option<String>) -> Answer {
        Answer {
            set_guid,
            ..Answer::ok()
        }
    }
}

fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A string, or a number / boolean written where a string is documented.
fn lenient_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer, or the same written as a string (`"4"`), as the vendor's samples send.
fn lenient_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
