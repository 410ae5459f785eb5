//! Who may read and write what. The server enforces this on every request;
//! the device's own filtering is a convenience, not the guard.
//!
//! - Officers and auxiliary officers: the grids assigned to them. (So an
//!   auxiliary never receives a record — or an ID number — from outside their
//!   grid.)
//! - Supervisors: every grid of their station.
//! - Admins: everything.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::protocol::{Role, UserInfo};

use beatbook_store::{Grid, ReadScope};

/// The records `user` may read (and write, for the forms its role may write).
pub fn read_scope(user: &UserInfo, grids: &[Grid]) -> ReadScope {
    match user.role {
        Role::Admin => ReadScope::All,
        Role::Supervisor => ReadScope::Grids(
            grids
                .iter()
                .filter(|g| g.station == user.station)
                .map(|g| g.id.clone())
                .collect(),
        ),
        Role::Officer | Role::Auxiliary => ReadScope::Grids(user.grids.clone()),
    }
}

/// Forms an auxiliary officer (辅警/网格员) may submit: patrol work, not the
/// population and housing registers (and of a task only its completion:
/// `tasks::task_refusal`).
const AUXILIARY_FORMS: &[&str] = &[
    form_ids::HAZARD,
    form_ids::VISIT,
    form_ids::PATROL,
    form_ids::DISPUTE,
    form_ids::TASK,
];

/// Whether a role may create or edit records of a form.
pub fn may_write_form(role: Role, form_id: &str) -> bool {
    match role {
        Role::Officer | Role::Supervisor | Role::Admin => true,
        Role::Auxiliary => AUXILIARY_FORMS.contains(&form_id),
    }
}
