//! What tests (and the simulator's handle) do to the gateway besides the operations:
//! injected answers, calls, forced sign-outs, and reading an agent's state and Guid.

use std::sync::PoisonError;

use super::{Answer, Gateway, bump, lock};

impl Gateway {
    /// Makes the next call of `operation` answer `code` (e.g. `100-007` for an internal
    /// error) without touching any state.
    pub(crate) fn inject(&self, operation: &str, code: &'static str) {
        self.injected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(operation.to_owned(), code);
    }

    /// Whether an injected answer for `operation` still waits for its call.
    pub(crate) fn injected_pending(&self, operation: &str) -> bool {
        self.injected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(operation)
    }

    /// The injected answer for `operation`, once.
    pub(crate) fn take_injected(&self, operation: &str) -> Option<Answer> {
        let code = self
            .injected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(operation)?;
        Some(Answer::code(code))
    }

    /// Test control: the agent starts (`true`) or ends (`false`) a call. Ending a call
    /// turns a pending pre-rest into rest.
    pub(crate) fn set_talking(&self, agent: u32, talking: bool) -> bool {
        let now = self.clock.now_ms();
        let Some(slot) = self.slot(agent) else {
            return false;
        };
        let mut data = lock(slot);
        self.catch_up(&mut data, slot, now);
        let Some(session) = data.session.as_mut() else {
            return false;
        };
        session.talking = talking;
        if !talking && let Some((cause, time)) = session.pending_rest.take() {
            let until_ms = now + u64::from(time) * 1000;
            self.start_rest(
                &mut data,
                slot,
                cause,
                until_ms,
                &self.counters.rest_entered,
            );
        }
        true
    }

    /// Test control: signs the agent out as a supervisor's forced sign-out does; its
    /// Guid stops being valid at once. Returns whether it was signed in.
    pub(crate) fn force_sign_out(&self, agent: u32) -> bool {
        let Some(slot) = self.slot(agent) else {
            return false;
        };
        let mut data = lock(slot);
        if data.session.is_none() {
            return false;
        }
        self.end_session(&mut data, slot);
        bump(&self.counters.logouts);
        true
    }

    /// Test inspection: the agent's state code, `None` when not signed in.
    pub(crate) fn state_of(&self, agent: u32) -> Option<u8> {
        let now = self.clock.now_ms();
        let slot = self.slot(agent)?;
        let mut data = lock(slot);
        self.catch_up(&mut data, slot, now);
        data.session.as_ref().map(|s| s.state.code())
    }

    /// Test inspection: the rest the agent is in — its cause and the time left until its
    /// requested duration ends (zero once it has) — or `None` when it is not in rest.
    pub(crate) fn rest_of(&self, agent: u32) -> Option<(u8, std::time::Duration)> {
        let now = self.clock.now_ms();
        let slot = self.slot(agent)?;
        let mut data = lock(slot);
        self.catch_up(&mut data, slot, now);
        let rest = data.session.as_ref()?.rest.as_ref()?;
        Some((
            rest.cause,
            std::time::Duration::from_millis(rest.until_ms.saturating_sub(now)),
        ))
    }

    /// Test inspection: the agent's current Guid.
    pub(crate) fn guid_of(&self, agent: u32) -> Option<String> {
        let slot = self.slot(agent)?;
        lock(slot).session.as_ref().map(|s| s.guid.clone())
    }

    /// Cluster control: takes node `node` down (its sessions end, its held polls wake
    /// to `000-004`) or brings it back. Returns whether its state changed.
    pub(crate) fn set_node_down(&self, node: usize, down: bool) -> bool {
        if !self.nodes.set_down(node, down, self.clock.now_ms()) {
            return false;
        }
        if down {
            for slot in self.agents.values() {
                let mut data = lock(slot);
                if data.session.as_ref().is_some_and(|s| s.node == node) {
                    self.end_session(&mut data, slot);
                    bump(&self.counters.failovers);
                }
            }
        }
        true
    }

    /// Test inspection: the node holding the agent's session.
    pub(crate) fn node_of(&self, agent: u32) -> Option<usize> {
        let slot = self.slot(agent)?;
        lock(slot).session.as_ref().map(|s| s.node)
    }
}
