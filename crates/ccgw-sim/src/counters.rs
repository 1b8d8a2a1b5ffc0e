//! What the simulator counts: one declaration for the live counters and their snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// Declares the simulator's counters once: the live atomics and their snapshot type.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// What the simulator counted (all since start).
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $($(#[doc = $doc])* pub(crate) $name: AtomicU64,)*
        }

        /// A point-in-time copy of what the simulator counted (all since start).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct Stats {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Counters {
            /// A snapshot.
            pub(crate) fn snapshot(&self) -> Stats {
                Stats { $($name: self.$name.load(Ordering::SeqCst),)* }
            }
        }
    };
}

counters! {
    /// Requests answered, any operation.
    requests,
    /// Successful sign-ins (forced ones included).
    logins,
    /// Sessions taken over by a forced sign-in (`forceLogin` on a signed-in agent).
    takeovers,
    /// Sign-outs by `logout`.
    logouts,
    /// Sign-outs because nothing polled for the inactivity limit.
    inactivity_signouts,
    /// Transitions into rest (8), from `rest` or from pre-rest when a call ends.
    rest_entered,
    /// Rest set again with `prolong=true` while in rest.
    rest_prolonged,
    /// Transitions into pre-rest (9).
    pre_rest_entered,
    /// Rest ended by `cancelRest`.
    rest_cancelled,
    /// `AgentState_Rest_Timeout` reminders generated.
    rest_timeouts,
    /// Rests the platform ended at their timeout (`Config::end_rest_at_timeout`).
    rest_ended_by_platform,
    /// Sign-ins refused because the account is locked (`110-016`).
    locked_refusals,
    /// Guid rotations (dynamic authentication).
    guid_rotations,
    /// Events queued.
    events_emitted,
    /// Events handed to a poller.
    events_delivered,
    /// Event polls answered without an event after the whole hold.
    polls_held_out,
    /// Events dropped because the session ended before they were polled.
    events_discarded,
    /// Events dropped, oldest first, because an agent's queue held
    /// `EVENT_QUEUE` events nobody polled.
    events_overflowed,
    /// Faults: connections closed before a request was handled.
    faults_dropped_before,
    /// Faults: connections closed after a request was handled, before its answer.
    faults_dropped_after,
    /// Faults: requests held, then their connection closed.
    faults_stalled,
    /// Faults: answers delayed.
    faults_delayed,
    /// Faults: requests answered `000-004` (switch-over).
    faults_switch_over,
    /// Faults: requests answered `000-007` (called repeatedly).
    faults_repeated_call,
    /// Faults: requests answered HTTP 500 without being handled.
    faults_server_error,
    /// Faults: agents signed out by the `forced_sign_out_every` supervisor.
    faults_forced_sign_outs,
    /// Cluster: requests answered `000-004` because their node is down and switching over.
    switch_over_answers,
    /// Cluster: sessions lost because their node went down.
    failovers,
    /// Connections accepted.
    connections_accepted,
    /// Connections open now (a gauge).
    connections_open,
    /// The most connections that were open at once (a gauge).
    connections_peak,
    /// Event polls being held now, waiting for an event (a gauge).
    polls_holding,
}

/// Raises a gauge of the gateway's counters until dropped.
pub(crate) struct Gauge {
    counters: std::sync::Arc<Counters>,
    gauge: fn(&Counters) -> &AtomicU64,
}

impl Gauge {
    /// Raises `gauge`; returns its new value.
    pub(crate) fn up(
        counters: std::sync::Arc<Counters>,
        gauge: fn(&Counters) -> &AtomicU64,
    ) -> (Self, u64) {
        let now = gauge(&counters).fetch_add(1, Ordering::SeqCst) + 1;
        (Self { counters, gauge }, now)
    }

    /// A connection accepted: counted, and open until the guard is dropped.
    pub(crate) fn connection(counters: std::sync::Arc<Counters>) -> Self {
        bump(&counters.connections_accepted);
        let (open, now) = Self::up(counters, |c| &c.connections_open);
        open.counters
            .connections_peak
            .fetch_max(now, Ordering::SeqCst);
        open
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        (self.gauge)(&self.counters).fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::SeqCst);
}
