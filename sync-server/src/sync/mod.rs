//! The sync domain: what happens to each pushed change and each uploaded
//! attachment, and who may read what. The rules are pure decisions over the
//! state the storage backend hands in, so every backend behaves the same and
//! they are tested without a database; `push` and `complete_upload` are the one
//! path each workflow takes into storage.

mod ahead;
mod decide;
mod forms;
mod published;
mod push;
mod scope;
mod tasks;
#[cfg(test)]
mod testing;
mod upload;

pub use decide::{decide, Policy};
pub use forms::Forms;
pub use published::{PublishedForms, RELOAD_FLOOR};
pub use push::push;
pub use scope::read_scope;
pub use tasks::{task_refusal, TASK_CANCELLED, TASK_COMPLETION_FIELDS, TASK_DONE, TASK_OPEN};
pub use upload::{complete_upload, Completed, UploadError};

use std::sync::Arc;

use beatbook_store::{Decider, Pusher, ReadScope};

/// The decider for one push by `pusher`, whose records are `scope`.
pub fn decider(pusher: Pusher, scope: ReadScope, forms: Arc<Forms>, policy: Policy) -> Decider {
    Decider::new(move |change, existing| decide(change, existing, &pusher, &scope, &forms, &policy))
}
