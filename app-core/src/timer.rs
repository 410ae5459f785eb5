//! Waiting without blocking: tokio's timer on native builds, the browser's
//! `setTimeout` (through `gloo-timers`) in the web build, where no tokio
//! runtime runs.

use std::time::Duration;

/// Resolves after `wait`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn sleep(wait: Duration) {
    tokio::time::sleep(wait).await
}

/// Resolves after `wait`.
#[cfg(target_arch = "wasm32")]
pub async fn sleep(wait: Duration) {
    gloo_timers::future::sleep(wait).await
}
