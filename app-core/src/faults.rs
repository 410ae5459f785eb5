//! Named pause points for crash tests. With `BEATBOOK_PAUSE_AT=<name>` in the
//! environment, the process announces `PAUSED <name>` on standard error when
//! it reaches that point and then waits to be killed, so a test can kill it
//! (for real, with SIGKILL) at an exact step of a save or a sync. Without the
//! variable a checkpoint costs one cached comparison.

use std::sync::OnceLock;

fn target() -> Option<&'static str> {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    TARGET
        .get_or_init(|| std::env::var("BEATBOOK_PAUSE_AT").ok())
        .as_deref()
}

/// Pauses here forever if this is the configured point.
pub fn checkpoint(name: &str) {
    if target() == Some(name) {
        eprintln!("PAUSED {name}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
