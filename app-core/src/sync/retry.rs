//! Retries with exponential backoff and full jitter, for what is worth retrying.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use super::client::SyncError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// The first backoff.
    pub base: Duration,
    /// The longest backoff.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(250),
            max: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No waiting between attempts (tests).
    pub fn immediate(attempts: u32) -> Self {
        Self {
            attempts,
            base: Duration::ZERO,
            max: Duration::ZERO,
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        // Full jitter: spread retries of many devices after an outage.
        exp.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
    }

    /// Runs `op` until it succeeds, fails for good, or attempts run out.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, SyncError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SyncError>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if e.is_retryable() && attempt + 1 < self.attempts => {
                    let wait = match &e {
                        SyncError::Server {
                            retry_after: Some(s),
                            ..
                        } => Duration::from_secs(*s).min(self.max),
                        _ => self.backoff(attempt),
                    };
                    tracing::debug!(attempt, ?wait, error = %e, "retrying");
                    crate::timer::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
