//! The form session a screen edits, shared by the components of its fields.

use beatbook_core::{CoreError, FormSession};
use dioxus::prelude::*;

use super::Ui;

/// The form session a screen edits, shared by its field components.
pub type SessionSignal = Signal<Option<FormSession>>;

/// Runs `change` on the open session (an autosaving edit) and shows the
/// officer why it failed, if it did.
pub fn edit<T>(
    ui: Ui,
    mut session: SessionSignal,
    change: impl FnOnce(&mut FormSession) -> Result<T, CoreError>,
) {
    let result = session.write().as_mut().map(change);
    if let Some(Err(e)) = result {
        ui.failed(&e);
    }
}
