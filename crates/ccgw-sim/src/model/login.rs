//! `login` and `forceLogin`: the body's checks, then a new session.

use serde_json::{Value, json};

use super::{AgentData, AgentState, Answer, Gateway, Session, Slot, bump, lock, retcode};

/// What a sign-in body asks for, once checked.
struct Request {
    password: String,
    state: AgentState,
    /// Signed in with `callBackUri` and `serviceToken`: events are pushed, not polled.
    push: bool,
}

impl Request {
    /// The body's fields, or the refusal of a body the gateway does not accept.
    fn read(body: &serde_json::Map<String, Value>) -> Result<Request, Answer> {
        let Some(password) = body.get("password").and_then(super::lenient_string) else {
            return Err(Answer::code(retcode::SIGN_IN_PARAMETER_INVALID));
        };
        // Mandatory (cec_07_1202, cec_07_1203): missing or empty is an empty parameter.
        if body
            .get("phonenum")
            .and_then(super::lenient_string)
            .is_none_or(|p| p.is_empty())
        {
            return Err(Answer::code(retcode::SIGN_IN_PARAMETER_INVALID));
        }
        let state = match body.get("status").map(super::lenient_int) {
            None | Some(Some(4)) => AgentState::Idle,
            Some(Some(3)) => AgentState::Busy,
            Some(Some(5)) => AgentState::WrapUp,
            Some(_) => return Err(Answer::code(retcode::INVALID_SIGN_IN_PARAMETER)),
        };
        let push = ["callBackUri", "serviceToken"].iter().all(|k| {
            body.get(*k)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        });
        Ok(Request {
            password,
            state,
            push,
        })
    }
}

impl Gateway {
    /// `login` (`force` false) or `forceLogin` (`force` true) on cluster node `node`:
    /// `body` is the parsed JSON object. A forced sign-in ends a current session first:
    /// its Guids stop being accepted at once, its undelivered events are dropped, its
    /// held polls wake up.
    pub(crate) fn login(
        &self,
        agent: u32,
        body: &serde_json::Map<String, Value>,
        force: bool,
        node: usize,
    ) -> Answer {
        let now = self.clock.now_ms();
        let request = match Request::read(body) {
            Ok(request) => request,
            Err(refused) => return refused,
        };
        let Some(slot) = self.slot(agent) else {
            return Answer::code(retcode::WRONG_CREDENTIALS);
        };
        if self.nodes.is_down(node) {
            return Answer::code(retcode::SWITCHING_OVER);
        }
        if self.config.locked.contains(&agent) {
            bump(&self.counters.locked_refusals);
            return Answer::code(retcode::ACCOUNT_LOCKED);
        }
        let mut data = lock(slot);
        self.catch_up(&mut data, slot, now);
        if data.password != request.password {
            return Answer::code(retcode::WRONG_CREDENTIALS);
        }
        if data.session.is_some() {
            if !self.config.forced_sign_in {
                // *Choice* for `login`: say at once that a takeover is not allowed.
                return Answer::code(retcode::CANNOT_FORCE_SIGN_IN);
            }
            if !force {
                return Answer::code(retcode::ALREADY_SIGNED_IN);
            }
            self.end_session(&mut data, slot);
            bump(&self.counters.takeovers);
        }
        let guid = self.start_session(&mut data, slot, &request, node);
        Answer {
            result: json!({
                "vdnid": "1",
                "workno": agent.to_string(),
                "mediatype": "TFF",
                "loginTime": self.clock.epoch_ms().to_string(),
                "isForceChange": "false",
                "serverName": "AgentGateway",
                "timeRemaining": "",
            }),
            set_guid: Some(guid),
            ..Answer::ok()
        }
    }

    /// A new session on `node` in the requested state, with the sign-in events queued;
    /// its Guid.
    fn start_session(
        &self,
        data: &mut AgentData,
        slot: &Slot,
        request: &Request,
        node: usize,
    ) -> String {
        let now = self.clock.now_ms();
        let guid = self.new_guid(node);
        data.events.clear();
        data.farewell = None;
        data.session = Some(Session {
            guid: guid.clone(),
            previous: None,
            guid_issued_ms: now,
            last_seen_ms: now,
            state: request.state,
            rest: None,
            pending_rest: None,
            talking: false,
            node,
            push: request.push,
        });
        bump(&self.counters.logins);
        self.emit(data, slot, "AgentOther_InService", Value::Null);
        self.emit(data, slot, "AgentState_Ready", Value::Null);
        match request.state {
            AgentState::Busy => self.emit(
                data,
                slot,
                "AgentState_SetNotReady_Success",
                json!({"reason": "0"}),
            ),
            AgentState::WrapUp => self.emit(data, slot, "AgentState_Work", Value::Null),
            _ => {}
        }
        guid
    }
}
