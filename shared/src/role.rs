//! What a user is to the system: a role (forms name the roles that may
//! enter them, see [`crate::audience`]).

use serde::{Deserialize, Serialize};

use crate::text::Text;

/// What a user may do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 社区民警: owns grids, records people, houses and units.
    Officer,
    /// 辅警/网格员: patrols one grid, reports hazards and visits.
    Auxiliary,
    /// 所领导: reviews the station's batches.
    Supervisor,
    /// 管理员: manages accounts, grids, devices and forms.
    Admin,
}

impl Role {
    /// The role's name in both languages.
    pub fn label(self) -> Text {
        match self {
            Role::Officer => Text::new("社区民警", "Community officer"),
            Role::Auxiliary => Text::new("辅警/网格员", "Auxiliary officer"),
            Role::Supervisor => Text::new("所领导", "Supervisor"),
            Role::Admin => Text::new("管理员", "Administrator"),
        }
    }
}
