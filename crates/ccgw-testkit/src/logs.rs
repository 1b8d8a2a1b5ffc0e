//! Captures everything the process logs through `tracing`, at every level, as the
//! plain-text lines a `fmt` subscriber writes — the form a user's log files take.

use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber for the whole test process (once; later calls do
/// nothing). Call it at the start of every test that should be covered.
pub fn capture() {
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| Capture)
            .finish();
        // Fails only if another global subscriber exists; then nothing is captured and
        // `captured()` assertions that expect lines fail loudly.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Everything logged so far by any test in this process.
pub fn captured() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}
