//! The sync engine: enroll, upload the photos the server lacks (resumable),
//! push the outbox in size-bounded batches, pull pages. Every step resumes
//! from what the store holds, so a sync can be cut off at any point.

pub mod address;
mod background;
mod client;
mod engine;
mod retry;

pub use client::{revoked_message, Client, PushBody, SyncError};
pub use engine::{
    enroll, enroll_with_code, Enrollment, Phase, Progress, Steps, SyncEngine, SyncReport,
};
pub use retry::RetryPolicy;
