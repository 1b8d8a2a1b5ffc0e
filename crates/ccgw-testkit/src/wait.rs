//! Waiting for a condition with a deadline, instead of sleeping and hoping.

use std::time::Duration;

/// Waits until `done` holds, checking every 20 ms; fails the test after `limit`, naming
/// `what` was awaited.
pub async fn wait_until_within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
