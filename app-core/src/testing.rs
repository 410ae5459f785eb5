//! What the core's unit tests share: a real core (encrypted SQLite in a
//! temporary directory) with an officer enrolled, no server needed.

use std::sync::Arc;

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::Values;
use beatbook_schema::ids::{GridId, RecordId, StationId, UserId};
use beatbook_schema::protocol::{Role, UserInfo};
use serde_json::Value as Json;
use tempfile::TempDir;

use crate::keys::PinKeys;
use crate::platform::{Desktop, Fix};
use crate::sync::Enrollment;
use crate::Core;

/// The grid of the test officer.
pub const GRID: &str = "G1";

/// A core in a fresh directory, enrolled as officer 张警官 of grid `G1`.
pub fn enrolled_core() -> (TempDir, Core) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Core::open(
        dir.path(),
        "246810",
        &PinKeys::fast_for_tests(),
        Arc::new(Desktop {
            fix: Some(Fix {
                lat: 31.87,
                lon: 121.17,
                accuracy_m: 8.0,
                at: None,
            }),
        }),
    )
    .expect("core opens");
    let user = UserInfo {
        id: UserId::new_v7(),
        badge: "100001".into(),
        name: "张警官".into(),
        role: Role::Officer,
        station: StationId::new("S1"),
        grids: vec![GridId::new(GRID)],
    };
    core.store()
        .set_meta(
            "enrollment",
            &Enrollment {
                server: "http://127.0.0.1:9".into(),
                token: "t".into(),
                user,
            },
        )
        .expect("enrollment stored");
    (dir, core)
}

/// `values` as a JSON object.
pub fn obj(v: Json) -> Values {
    v.as_object().cloned().expect("an object")
}

/// A finalized standard address: 海门 road, door `door`.
pub fn address(core: &Core, door: &str) -> RecordId {
    finalized(
        core,
        form_ids::ADDRESS,
        obj(serde_json::json!({
            "division_code": "320614", "town": "海门街道", "community": "人民社区",
            "road": "人民路", "door_number": door,
        })),
    )
}

/// A record of `form` with `values`, finalized (queued for sync).
pub fn finalized(core: &Core, form: &str, values: Values) -> RecordId {
    let mut s = core
        .new_record(form, None, values)
        .expect("a new record starts");
    if let Err(e) = s.finalize() {
        panic!("{form} finalizes: {e}");
    }
    s.id()
}

/// A valid citizen ID number of someone born 1985-06-15 with sequence `seq`
/// (odd: male).
pub fn citizen_id(seq: u16) -> String {
    let first17 = format!("32061419850615{seq:03}");
    let check = beatbook_schema::validate::citizen_id::check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}
