//! Who may read and write what. The server enforces this on every request;
//! the device's own filtering is a convenience, not the guard.
//!
//! - Officers and auxiliary officers: the grids assigned to them. (So an
//!   auxiliary never receives a record — or an ID number — from outside their
//!   grid.)
//! - Supervisors: every grid of their station.
//! - Admins: everything.

use beatbook_schema::protocol::{Role, UserInfo};

use beatbook_store::{Grid, ReadScope};

/// The records `user` may read (and write, for the forms its role may enter:
/// [`beatbook_schema::audience`]).
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
