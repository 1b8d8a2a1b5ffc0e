//! The simulator's clock: real time, or a manual clock that tests move forward, so rest
//! timeouts, Guid rotation and inactivity sign-out are tested without waiting minutes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the simulator started, from real time or from a manual offset.
#[derive(Debug, Clone)]
pub struct Clock {
    started: Instant,
    started_epoch_ms: u64,
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// Real time.
    pub fn system() -> Self {
        Self {
            started: Instant::now(),
            started_epoch_ms: epoch_ms_now(),
            manual: None,
        }
    }

    /// A clock that stands still until [`Clock::advance`] moves it.
    pub fn manual() -> Self {
        Self {
            manual: Some(Arc::new(AtomicU64::new(0))),
            ..Self::system()
        }
    }

    /// Milliseconds since start.
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Wall-clock time in epoch milliseconds (for `eventGenTime` and `loginTime`).
    pub fn epoch_ms(&self) -> u64 {
        self.started_epoch_ms + self.now_ms()
    }

    /// Moves a manual clock forward; returns `false` (and does nothing) on a real clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.manual {
            Some(ms) => {
                ms.fetch_add(
                    u64::try_from(by.as_millis()).unwrap_or(u64::MAX),
                    Ordering::SeqCst,
                );
                true
            }
            None => false,
        }
    }
}

fn epoch_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
