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
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::Officer,
        Role::Auxiliary,
        Role::Supervisor,
        Role::Admin,
    ];

    /// The role's name on the wire and in files (`officer`, `auxiliary`,
    /// `supervisor`, `admin`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Auxiliary => "auxiliary",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The role named `name` (as [`Role::name`] spells it, in any case).
    pub fn named(name: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(name))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_spelling() {
        for role in Role::ALL {
            let wire = serde_json::to_value(role).expect("serializes");
            assert_eq!(wire, serde_json::json!(role.name()));
            assert_eq!(Role::named(&role.name().to_uppercase()), Some(role));
        }
        assert_eq!(Role::named("officers"), None);
    }
}
