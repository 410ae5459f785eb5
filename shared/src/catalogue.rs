//! The standard form catalogue (统一基础信息采集录入清单), shipped in
//! `assets/forms/` and embedded here so every build carries the same forms.

use crate::form::{Derivation, FieldKind, Form, FormError};

/// The ids of the standard forms, for code that names one.
pub mod form_ids {
    /// 标准地址: a standard address.
    pub const ADDRESS: &str = "address";
    /// 实有房屋: a house (dwelling or premises) at an address.
    pub const HOUSE: &str = "house";
    /// 实有人口: a person living in a house.
    pub const PERSON: &str = "person";
    /// 实有单位: a business or organisation.
    pub const UNIT: &str = "unit";
    /// 安全隐患: a safety hazard, reported, rectified and checked.
    pub const HAZARD: &str = "hazard";
    /// 矛盾纠纷: a dispute.
    pub const DISPUTE: &str = "dispute";
    /// 走访记录: a household visit.
    pub const VISIT: &str = "visit";
    /// 巡逻日志: a patrol log.
    pub const PATROL: &str = "patrol";
    /// 下派任务: work a supervisor assigns (visit a house, follow up a
    /// hazard or a dispute, check a person). Not in [`ALL`]: officers do not
    /// create tasks, they receive them.
    pub const TASK: &str = "task";

    /// Every standard form, in catalogue order.
    pub const ALL: [&str; 8] = [ADDRESS, HOUSE, PERSON, UNIT, HAZARD, DISPUTE, VISIT, PATROL];
}

/// The hazard form's workflow: its statuses, the part an officer fills
/// whatever the report's review state, and the part only a supervisor sets.
pub mod hazard {
    use crate::form::Form;

    /// The status field.
    pub const STATUS: &str = "status";
    /// 待整改: reported, nothing done yet.
    pub const OPEN: &str = "open";
    /// 整改中: being rectified (also where a failed verification sends it).
    pub const RECTIFYING: &str = "rectifying";
    /// 已整改: reported rectified, with after-photos; waits for the supervisor.
    pub const RECTIFIED: &str = "rectified";
    /// 已复查: the supervisor checked the rectification and it passed.
    pub const VERIFIED: &str = "verified";
    /// The statuses, in workflow order.
    pub const STATUSES: [&str; 4] = [OPEN, RECTIFYING, RECTIFIED, VERIFIED];
    /// The rectification deadline (a date).
    pub const DEADLINE: &str = "deadline";
    /// Who must rectify it.
    pub const RESPONSIBLE_PARTY: &str = "responsible_party";
    /// Their phone.
    pub const RESPONSIBLE_PHONE: &str = "responsible_phone";
    /// The supervisor's verification outcome (v2): [`PASSED`] or [`FAILED`].
    pub const VERIFICATION: &str = "verification";
    /// Why the verification failed (v2; required when it did).
    pub const VERIFICATION_REASON: &str = "verification_reason";
    /// A verification that passed.
    pub const PASSED: &str = "passed";
    /// A verification that failed.
    pub const FAILED: &str = "failed";
    /// The section an officer may fill whatever the review state of the
    /// report: deadline, responsible party, status, after-photos, notes.
    pub const RECTIFICATION_SECTION: &str = "rectification";
    /// The section only a supervisor sets.
    pub const VERIFICATION_SECTION: &str = "verification";

    /// Whether a hazard in `status` still needs someone in the field
    /// (open, rectifying, or rectified and waiting to be checked).
    pub fn is_unfinished(status: Option<&str>) -> bool {
        status != Some(VERIFIED)
    }

    /// The names of the fields of `section` in `form` (none if it has no such section).
    pub fn section_fields<'a>(form: &'a Form, section: &str) -> Vec<&'a str> {
        form.def()
            .sections
            .iter()
            .filter(|s| s.id == section)
            .flat_map(|s| s.fields.iter().map(|f| f.name.as_str()))
            .collect()
    }
}

/// The embedded JSON of each standard form, by file name.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "address.v1.json",
        include_str!("../../assets/forms/address.v1.json"),
    ),
    (
        "house.v1.json",
        include_str!("../../assets/forms/house.v1.json"),
    ),
    (
        "person.v1.json",
        include_str!("../../assets/forms/person.v1.json"),
    ),
    (
        "unit.v1.json",
        include_str!("../../assets/forms/unit.v1.json"),
    ),
    (
        "hazard.v1.json",
        include_str!("../../assets/forms/hazard.v1.json"),
    ),
    // v2 records the supervisor's verification (passed, or failed with a
    // reason); v1 records stay valid and are still accepted.
    (
        "hazard.v2.json",
        include_str!("../../assets/forms/hazard.v2.json"),
    ),
    (
        "dispute.v1.json",
        include_str!("../../assets/forms/dispute.v1.json"),
    ),
    (
        "visit.v1.json",
        include_str!("../../assets/forms/visit.v1.json"),
    ),
    // v2 names the unit visited; v1 records stay valid and are still accepted.
    (
        "visit.v2.json",
        include_str!("../../assets/forms/visit.v2.json"),
    ),
    (
        "patrol.v1.json",
        include_str!("../../assets/forms/patrol.v1.json"),
    ),
    // v2 records the walk itself (a track); start, end, distance and
    // duration come from it. v1 records stay valid and are still accepted.
    (
        "patrol.v2.json",
        include_str!("../../assets/forms/patrol.v2.json"),
    ),
    (
        "task.v1.json",
        include_str!("../../assets/forms/task.v1.json"),
    ),
];

/// Loads and cross-checks the standard forms.
pub fn standard_forms() -> Result<Vec<Form>, FormError> {
    let forms = SOURCES
        .iter()
        .map(|(file, json)| {
            Form::from_json(json).map_err(|mut e| {
                if e.form == "(unparsed)" {
                    e.form = (*file).to_owned();
                }
                e
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_catalogue(&forms)?;
    Ok(forms)
}

/// Checks what one form cannot check alone: references to other forms, and
/// address derivations that must name a field of the `address` form.
pub fn check_catalogue(forms: &[Form]) -> Result<(), FormError> {
    let address = forms
        .iter()
        .find(|f| f.id().as_str() == self::form_ids::ADDRESS);
    for form in forms {
        let fail = |field: &str, message: String| FormError {
            form: format!("{} v{}", form.id(), form.version()),
            field: Some(field.to_owned()),
            message,
        };
        let all = form
            .fields()
            .iter()
            .flat_map(|f| std::iter::once(f).chain(f.children.iter()));
        for f in all {
            if let FieldKind::RecordRef { form: target } = &f.def.kind {
                if !forms.iter().any(|g| g.id() == target) {
                    return Err(fail(f.name(), format!("refers to unknown form '{target}'")));
                }
            }
            if let Some(Derivation::Address { part, .. }) = &f.def.derived {
                let known = address.is_some_and(|a| a.field(part).is_some());
                if !known {
                    return Err(fail(f.name(), format!("derived from address part '{part}', which the address form does not have")));
                }
            }
        }
    }
    let mut ids: Vec<_> = forms
        .iter()
        .map(|f| (f.id().as_str(), f.version()))
        .collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(FormError {
            form: format!("{} v{}", w[0].0, w[0].1),
            field: None,
            message: "the same form version is defined twice".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_form_loads() {
        let forms = standard_forms().unwrap_or_else(|e| panic!("{e}"));
        let mut ids: Vec<_> = forms.iter().map(|f| f.id().as_str()).collect();
        ids.dedup();
        assert_eq!(
            ids,
            [
                "address", "house", "person", "unit", "hazard", "dispute", "visit", "patrol",
                "task"
            ]
        );
        assert_eq!(
            ids[..form_ids::ALL.len()],
            form_ids::ALL,
            "the form id constants name the catalogue"
        );
        assert_eq!(ids.last(), Some(&form_ids::TASK));
        for form in &forms {
            assert!(!form.title().zh.is_empty() && !form.title().en.is_empty());
            for f in form.fields() {
                assert!(!f.def.label.zh.is_empty(), "{} {}", form.id(), f.name());
                assert!(!f.def.label.en.is_empty(), "{} {}", form.id(), f.name());
            }
        }
    }

    #[test]
    fn a_reference_to_an_unknown_form_is_refused() {
        let mut forms = standard_forms().unwrap();
        forms.retain(|f| f.id().as_str() != "house");
        let e = check_catalogue(&forms).unwrap_err().to_string();
        assert!(e.contains("unknown form 'house'"), "{e}");
    }

    #[test]
    fn the_rental_section_follows_the_house_use() {
        use chrono::NaiveDate;
        let forms = standard_forms().unwrap();
        let house = forms.iter().find(|f| f.id().as_str() == "house").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let rental = house.field("rental_start").expect("house has rental_start");
        let with_use = |u: &str| {
            let mut v = crate::form::Values::new();
            v.insert("use".into(), u.into());
            v
        };
        assert!(house.is_relevant(rental, &with_use("rented"), today));
        assert!(house.is_relevant(rental, &with_use("group_rented"), today));
        assert!(!house.is_relevant(rental, &with_use("owner_occupied"), today));
    }

    fn visit(version: u32) -> Form {
        standard_forms()
            .unwrap()
            .into_iter()
            .find(|f| f.id().as_str() == form_ids::VISIT && f.version() == version)
            .unwrap_or_else(|| panic!("visit v{version} is in the catalogue"))
    }

    #[test]
    fn visit_v2_adds_the_unit_and_keeps_every_v1_field() {
        let (v1, v2) = (visit(1), visit(2));
        for f in v1.fields() {
            let same = v2.field(f.name()).expect("v2 keeps every v1 field");
            assert_eq!(same.def.kind, f.def.kind, "{} keeps its kind", f.name());
        }
        assert!(v1.field("unit").is_none());
        assert_eq!(
            v2.field("unit").map(|f| f.def.kind.clone()),
            Some(FieldKind::RecordRef {
                form: crate::ids::FormId::new(form_ids::UNIT)
            })
        );
    }

    #[test]
    fn hazard_v2_adds_the_verification_and_keeps_every_v1_field() {
        let find = |version: u32| {
            standard_forms()
                .unwrap()
                .into_iter()
                .find(|f| f.id().as_str() == form_ids::HAZARD && f.version() == version)
                .unwrap_or_else(|| panic!("hazard v{version} is in the catalogue"))
        };
        let (v1, v2) = (find(1), find(2));
        for f in v1.fields() {
            let same = v2.field(f.name()).expect("v2 keeps every v1 field");
            assert_eq!(same.def, f.def, "{} is unchanged", f.name());
        }
        assert_eq!(
            hazard::section_fields(&v1, hazard::RECTIFICATION_SECTION),
            hazard::section_fields(&v2, hazard::RECTIFICATION_SECTION)
        );
        assert_eq!(
            hazard::section_fields(&v2, hazard::VERIFICATION_SECTION),
            [hazard::VERIFICATION, hazard::VERIFICATION_REASON]
        );
        assert!(hazard::section_fields(&v1, hazard::VERIFICATION_SECTION).is_empty());
    }

    #[test]
    fn patrol_v2_derives_times_distance_and_duration_from_its_track() {
        let v2 = standard_forms()
            .unwrap()
            .into_iter()
            .find(|f| f.id().as_str() == form_ids::PATROL && f.version() == 2)
            .expect("patrol v2 is in the catalogue");
        let track = serde_json::json!([
            {"lat": 31.8700, "lon": 121.1700, "accuracy_m": 5.0, "at": "2026-11-30T09:00:00+08:00"},
            {"lat": 31.8709, "lon": 121.1700, "accuracy_m": 6.0, "at": "2026-11-30T09:20:00+08:00"},
            {"lat": 31.8709, "lon": 121.1710, "accuracy_m": 5.0, "at": "2026-11-30T09:47:30+08:00"}
        ]);
        let mut values = crate::form::Values::new();
        values.insert("track".into(), track);
        values.insert("mode".into(), "foot".into());
        values.insert("officer".into(), "施建军".into());
        values.insert("grid".into(), "320614-01-01".into());
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let out = v2
            .validate(
                &values,
                &crate::form::ValidationContext {
                    today,
                    attachments: &[],
                    addresses: None,
                },
            )
            .expect("a valid patrol");
        // 0.0009° of latitude ≈ 100.1 m, 0.001° of longitude at 31.87° ≈ 94.5 m.
        assert_eq!(out["distance_m"], 195);
        assert_eq!(out["duration_min"], 47);
        assert_eq!(out["start"], "2026-11-30T09:00:00+08:00");
        assert_eq!(out["end"], "2026-11-30T09:47:30+08:00");
    }

    #[test]
    fn no_residents_are_asked_for_when_nobody_was_home_or_the_visit_was_refused() {
        use chrono::NaiveDate;
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let v2 = visit(2);
        let residents = v2.field("residents").expect("residents");
        for (outcome, asked) in [
            ("unchanged", true),
            ("updated", true),
            ("nobody_home", false),
            ("refused", false),
        ] {
            let mut v = crate::form::Values::new();
            v.insert("outcome".into(), outcome.into());
            assert_eq!(v2.is_relevant(residents, &v, today), asked, "{outcome}");
        }
    }
}
