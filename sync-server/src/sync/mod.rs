//! The sync domain: what happens to each pushed change, and who may read what.
//! Pure decisions over the state the storage backend hands in, so every backend
//! behaves the same and the rules are tested without a database.

mod decide;
mod forms;
mod published;
mod push;
mod scope;

pub use decide::{decide, Policy, HAZARD_VERIFIED};
pub use forms::Forms;
pub use published::{PublishedForms, RELOAD_FLOOR};
pub use push::push;
pub use scope::{may_write_form, read_scope};

use std::sync::Arc;

use beatbook_store::{Decider, Pusher, ReadScope};

/// The decider for one push by `pusher`, whose records are `scope`.
pub fn decider(pusher: Pusher, scope: ReadScope, forms: Arc<Forms>, policy: Policy) -> Decider {
    Arc::new(move |change, existing| decide(change, existing, &pusher, &scope, &forms, &policy))
}
