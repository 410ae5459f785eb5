//! Visits finished in one tap: the officer stands at a house, a unit or an
//! address and records what happened there without opening a form.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::{Form, Values};
use serde_json::json;

use crate::error::CoreError;
use crate::store::LocalRecord;

/// How a visit ended, as the `visit` form's `outcome` choice list names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitOutcome {
    /// Everything on record is still true (信息无变化).
    Unchanged,
    /// Nobody opened the door (无人在家).
    NobodyHome,
    /// The occupants refused to cooperate (拒绝配合).
    Refused,
}

impl VisitOutcome {
    /// The stored choice value.
    pub fn as_str(self) -> &'static str {
        match self {
            VisitOutcome::Unchanged => "unchanged",
            VisitOutcome::NobodyHome => "nobody_home",
            VisitOutcome::Refused => "refused",
        }
    }
}

/// The answers of a one-tap visit of `place` (an address, a house or a
/// unit) in `form` (the newest `visit` form): what it names the place by,
/// its address, the purpose and the outcome.
pub(crate) fn prefill(
    form: &Form,
    place: &LocalRecord,
    outcome: VisitOutcome,
) -> Result<Values, CoreError> {
    let mut values = Values::new();
    values.insert("purpose".into(), json!("household_visit"));
    values.insert("outcome".into(), json!(outcome.as_str()));
    let by = match place.form_id.as_str() {
        form_ids::ADDRESS => "address",
        form_ids::HOUSE => "house",
        form_ids::UNIT => "unit",
        other => return Err(CoreError::NotAPlace(other.to_owned())),
    };
    // A visit form older than the unit field (v1, still published by an
    // older server) cannot name a unit.
    if form.field(by).is_none() {
        return Err(CoreError::UnknownField(format!(
            "{} v{}: {by}",
            form.id(),
            form.version()
        )));
    }
    values.insert(by.into(), json!(place.id));
    if by != "address" {
        if let Some(a) = place.values.get("address") {
            values.insert("address".into(), a.clone());
        }
    }
    Ok(values)
}

/// The nine kinds of small venue (九小场所), as both the unit form's
/// categories and the hazard form's venue kinds name them.
const SMALL_VENUES: [&str; 9] = [
    "small_shop",
    "small_restaurant",
    "small_hotel",
    "small_entertainment",
    "small_leisure",
    "small_clinic",
    "small_school",
    "small_workshop",
    "small_flammable_store",
];

/// What a hazard found at `unit` starts with: the unit and its address, the
/// unit as the responsible party (its name, its legal representative's
/// phone), and for one of the nine small venues the category and venue kind
/// of the small-venue sweep.
pub fn hazard_at(unit: &LocalRecord) -> Values {
    let mut values = Values::new();
    values.insert("unit".into(), json!(unit.id));
    let copy = [
        ("address", "address"),
        ("name", "responsible_party"),
        ("legal_rep_phone", "responsible_phone"),
    ];
    for (from, to) in copy {
        if let Some(v) = unit.values.get(from) {
            values.insert(to.into(), v.clone());
        }
    }
    let kind = unit.values.get("category").and_then(|c| c.as_str());
    if let Some(kind) = kind.filter(|k| SMALL_VENUES.contains(k)) {
        values.insert("category".into(), json!("nine_small_venues"));
        values.insert("venue_kind".into(), json!(kind));
    }
    values
}

#[cfg(test)]
mod tests {
    use beatbook_schema::catalogue::form_ids;
    use serde_json::json;

    use super::VisitOutcome;
    use crate::store::LocalState;
    use crate::testing::{address, citizen_id, enrolled_core, finalized, obj};
    use crate::CoreError;

    #[test]
    fn each_house_and_unit_at_an_address_gets_its_own_one_tap_visit() {
        let (_dir, core) = enrolled_core();
        let at = address(&core, "12");
        let house = |owner: &str| {
            finalized(
                &core,
                form_ids::HOUSE,
                obj(json!({"address": at, "use": "owner_occupied", "owner_name": owner})),
            )
        };
        let (front, back) = (house("王芳"), house("李强"));
        let shop = finalized(
            &core,
            form_ids::UNIT,
            obj(
                json!({"address": at, "name": "红星小卖部", "category": "small_shop",
                "legal_rep_name": "陈刚", "has_dormitory": "no"}),
            ),
        );

        for (place, outcome, by) in [
            (front, VisitOutcome::Unchanged, "house"),
            (back, VisitOutcome::NobodyHome, "house"),
            (shop, VisitOutcome::Refused, "unit"),
            (at, VisitOutcome::NobodyHome, "address"),
        ] {
            let id = core
                .record_visit(place, outcome)
                .expect("the visit is recorded");
            let visit = core.record(id).expect("the visit is stored");
            assert_eq!(visit.form_id.as_str(), form_ids::VISIT);
            assert_eq!(visit.form_version, 2, "the newest visit form");
            assert_eq!(
                visit.state,
                LocalState::Queued,
                "finalized and queued for sync"
            );
            assert_eq!(visit.values.get(by), Some(&json!(place)), "{by}");
            assert_eq!(visit.values.get("address"), Some(&json!(at)));
            assert_eq!(visit.values.get("outcome"), Some(&json!(outcome.as_str())));
            assert_eq!(visit.values.get("officer"), Some(&json!("张警官")));
        }
    }

    #[test]
    fn a_person_is_not_a_place_to_visit() {
        let (_dir, core) = enrolled_core();
        let at = address(&core, "3");
        let house = finalized(
            &core,
            form_ids::HOUSE,
            obj(json!({"address": at, "use": "owner_occupied", "owner_name": "王芳"})),
        );
        let id_number = citizen_id(24);
        let person = finalized(
            &core,
            form_ids::PERSON,
            obj(
                json!({"house": house, "name": "王芳", "relation": "head", "category": "registered",
                "id_number": id_number, "ethnicity": "han"}),
            ),
        );
        match core.record_visit(person, VisitOutcome::Unchanged) {
            Err(CoreError::NotAPlace(form)) => assert_eq!(form, form_ids::PERSON),
            other => panic!("expected NotAPlace, got {other:?}"),
        }
    }

    #[test]
    fn a_hazard_at_a_small_venue_starts_as_part_of_the_small_venue_sweep() {
        let (_dir, core) = enrolled_core();
        let at = address(&core, "5");
        let unit = |category: &str| {
            let id = finalized(
                &core,
                form_ids::UNIT,
                obj(
                    json!({"address": at, "name": "红星小吃", "category": category,
                    "legal_rep_name": "陈刚", "legal_rep_phone": "13962870011", "has_dormitory": "no"}),
                ),
            );
            core.record(id).expect("stored")
        };
        let restaurant = unit("small_restaurant");
        let values = super::hazard_at(&restaurant);
        assert_eq!(values.get("unit"), Some(&json!(restaurant.id)));
        assert_eq!(values.get("address"), Some(&json!(at)));
        assert_eq!(values.get("category"), Some(&json!("nine_small_venues")));
        assert_eq!(values.get("venue_kind"), Some(&json!("small_restaurant")));
        assert_eq!(values.get("responsible_party"), Some(&json!("红星小吃")));
        assert_eq!(values.get("responsible_phone"), Some(&json!("13962870011")));
        // The hazard form takes every one of them.
        let hazard = core
            .new_record(form_ids::HAZARD, None, values)
            .expect("a hazard starts");
        assert!(
            hazard
                .errors()
                .iter()
                .all(|e| !["unit", "address", "category", "venue_kind"].contains(&e.path.as_str())),
            "{:?}",
            hazard.errors()
        );

        let company = super::hazard_at(&unit("company"));
        assert_eq!(
            company.get("category"),
            None,
            "not a small venue: the officer chooses"
        );
        assert_eq!(company.get("venue_kind"), None);
    }
}
