//! The demo district's place names, read from the embedded gazetteer
//! (`assets/gazetteer/haimen.json`, NBS statistical division codes).

use serde::Deserialize;

use crate::PlanError;

/// The embedded gazetteer of Haimen District.
const HAIMEN: &str = include_str!("../../assets/gazetteer/haimen.json");

/// The development zone that holds Haimen's old town centre, whose
/// communities carry the names of its main roads.
const TOWN: &str = "南通市海门区经济技术开发区";

/// The committees the three demo grids are named after, in grid order.
const COMMITTEES: [&str; 3] = [
    "解放中路社区居委会",
    "人民西路社区居委会",
    "育才路社区居委会",
];

#[derive(Debug, Deserialize)]
struct Gazetteer {
    division_code: String,
    towns: Vec<Town>,
}

#[derive(Debug, Deserialize)]
struct Town {
    name: String,
    communities: Vec<Committee>,
}

#[derive(Debug, Deserialize)]
struct Committee {
    code: String,
    name: String,
}

/// One community of the demo town, as its addresses name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Community {
    /// The 12-digit NBS statistical code of its committee.
    pub code: String,
    /// The community's name, e.g. `解放中路社区` (the committee's name
    /// without `居委会`).
    pub name: String,
}

/// The demo town and its three communities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPlaces {
    /// GB/T 2260 code of the district, `320614`.
    pub division_code: String,
    /// The town (镇/街道) as addresses name it.
    pub town: String,
    /// The three communities, one per grid.
    pub communities: [Community; 3],
}

/// Reads the demo town and communities from the embedded gazetteer.
pub fn demo_places() -> Result<DemoPlaces, PlanError> {
    let gazetteer: Gazetteer = serde_json::from_str(HAIMEN)
        .map_err(|e| PlanError::Gazetteer(format!("haimen.json does not parse: {e}")))?;
    let town = gazetteer
        .towns
        .iter()
        .find(|t| t.name == TOWN)
        .ok_or_else(|| PlanError::Gazetteer(format!("haimen.json has no town {TOWN}")))?;
    let find = |committee: &str| {
        town.communities
            .iter()
            .find(|c| c.name == committee)
            .map(|c| Community {
                code: c.code.clone(),
                name: community_name(&c.name),
            })
            .ok_or_else(|| {
                PlanError::Gazetteer(format!("haimen.json has no {committee} in {TOWN}"))
            })
    };
    Ok(DemoPlaces {
        division_code: gazetteer.division_code,
        town: town.name.clone(),
        communities: [
            find(COMMITTEES[0])?,
            find(COMMITTEES[1])?,
            find(COMMITTEES[2])?,
        ],
    })
}

/// The name residents use for a committee's area: `解放中路社区居委会` →
/// `解放中路社区`, `沙南村村委会` → `沙南村`, `海东居委会` → `海东社区`.
fn community_name(committee: &str) -> String {
    if let Some(village) = committee.strip_suffix("村委会") {
        return village.to_owned();
    }
    let base = committee.strip_suffix("居委会").unwrap_or(committee);
    if base.ends_with("社区") {
        base.to_owned()
    } else {
        format!("{base}社区")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_communities_are_in_the_gazetteer() {
        let places = demo_places().unwrap();
        assert_eq!(places.division_code, "320614");
        assert_eq!(places.communities[0].name, "解放中路社区");
        assert!(places.communities[0].code.starts_with("320614400"));
    }

    #[test]
    fn committee_names_become_community_names() {
        assert_eq!(community_name("育才路社区居委会"), "育才路社区");
        assert_eq!(community_name("沙南村村委会"), "沙南村");
        assert_eq!(community_name("海东居委会"), "海东社区");
    }
}
