//! What the sync rules' unit tests share: a pusher of a role and the
//! catalogue's forms compiled.

use beatbook_schema::catalogue::standard_forms;
use beatbook_schema::ids::{DeviceId, GridId, StationId, UserId};
use beatbook_schema::protocol::{Role, UserInfo};
use beatbook_store::Pusher;
use chrono::Utc;

use super::Forms;

/// A pusher with `role` and `badge`, of station S1 and grid G1, on a new device.
pub fn pusher(role: Role, badge: &str) -> Pusher {
    Pusher {
        user: UserInfo {
            id: UserId::new_v7(),
            badge: badge.into(),
            name: badge.into(),
            role,
            station: StationId::new("S1"),
            grids: vec![GridId::new("G1")],
        },
        device: DeviceId::new_v7(),
        now: Utc::now(),
    }
}

/// The catalogue's forms, compiled.
pub fn standard() -> Forms {
    Forms::compile(
        standard_forms()
            .expect("standard forms")
            .into_iter()
            .map(|f| f.def().clone())
            .collect(),
    )
    .expect("compile")
}
