//! Failed-login throttling: after `max_failures` failures for one badge within
//! the window, further attempts are refused (429) until the window passes.
//! In memory: a restart forgives, which is acceptable for a per-process limiter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key.
#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// A throttle allowing `max_failures` per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (u32, Instant)>) -> T) -> T {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut map)
    }

    /// How long `key` must wait, if it is locked out now.
    pub fn locked_for(&self, key: &str) -> Option<Duration> {
        self.with(|m| {
            let (count, since) = *m.get(key)?;
            let elapsed = since.elapsed();
            if elapsed >= self.window {
                m.remove(key);
                return None;
            }
            (count >= self.max_failures).then(|| self.window - elapsed)
        })
    }

    /// Records a failure.
    pub fn fail(&self, key: &str) {
        self.with(|m| {
            let window = self.window;
            let entry = m.entry(key.to_owned()).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= window {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
            if m.len() > 100_000 {
                m.retain(|_, (_, since)| since.elapsed() < window);
            }
        });
    }

    /// Forgets failures after a success.
    pub fn succeed(&self, key: &str) {
        self.with(|m| m.remove(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_forgets_on_success() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            t.fail("a");
        }
        assert!(t.locked_for("a").is_none());
        t.fail("a");
        assert!(t.locked_for("a").is_some());
        assert!(t.locked_for("b").is_none());
        t.succeed("a");
        assert!(t.locked_for("a").is_none());
    }

    #[test]
    fn the_window_passes() {
        let t = Throttle::new(1, Duration::from_millis(20));
        t.fail("a");
        assert!(t.locked_for("a").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(t.locked_for("a").is_none());
    }
}
