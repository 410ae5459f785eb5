//! Who may enter records of a form, and whether new ones may be started:
//! the one rule the server decides by and the field app offers forms by, so
//! a device never offers what the server would refuse.
//!
//! Both read the form's newest published version: its [`FormDef::roles`]
//! (or, where it names none, the standard rule) and its
//! [`FormDef::retired`] flag. A record keeps the version it was started
//! with; who may write it and whether new ones may be started follow the
//! form as it is published now.

use crate::catalogue::form_ids;
use crate::form::FormDef;
use crate::role::Role;

/// The forms an auxiliary officer (辅警/网格员) may enter when a form names
/// no roles: patrol work, not the population and housing registers (and of
/// a task only its completion: the server's task rules).
const AUXILIARY_FORMS: [&str; 5] = [
    form_ids::HAZARD,
    form_ids::VISIT,
    form_ids::PATROL,
    form_ids::DISPUTE,
    form_ids::TASK,
];

/// Forms whose records only supervisors and admins start: officers and
/// auxiliaries complete the tasks assigned to them.
const ASSIGNED_FORMS: [&str; 1] = [form_ids::TASK];

/// Whether `role` may enter (create or edit) records of the form whose
/// newest version is `latest`. A form that names its roles admits exactly
/// those; one that names none admits officers, supervisors and admins, and
/// auxiliaries only to the patrol-work forms of the catalogue.
pub fn may_enter(latest: &FormDef, role: Role) -> bool {
    match &latest.roles {
        Some(roles) => roles.contains(&role),
        None => match role {
            Role::Officer | Role::Supervisor | Role::Admin => true,
            Role::Auxiliary => AUXILIARY_FORMS.contains(&latest.form_id.as_str()),
        },
    }
}

/// Whether `role` may start a new record of the form whose newest version
/// is `latest`: it may enter the form, the form is not retired, and it is
/// not a form of work assigned by a supervisor.
pub fn may_start(latest: &FormDef, role: Role) -> bool {
    let assigned = ASSIGNED_FORMS.contains(&latest.form_id.as_str())
        && matches!(role, Role::Officer | Role::Auxiliary);
    !latest.retired && !assigned && may_enter(latest, role)
}

/// `latest` retired: the same definition as a new version that says so, for
/// publishing. Records of earlier versions keep their version.
pub fn retired(latest: &FormDef) -> FormDef {
    FormDef {
        version: latest.version + 1,
        retired: true,
        ..latest.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::standard_forms;

    fn standard(id: &str) -> FormDef {
        standard_forms()
            .expect("the catalogue compiles")
            .into_iter()
            .find(|f| f.id().as_str() == id)
            .expect("a standard form")
            .def()
            .clone()
    }

    #[test]
    fn without_roles_auxiliaries_enter_patrol_work_and_officers_everything() {
        for id in form_ids::ALL {
            let def = standard(id);
            assert!(may_enter(&def, Role::Officer), "{id}");
            assert!(may_enter(&def, Role::Supervisor), "{id}");
            assert!(may_enter(&def, Role::Admin), "{id}");
            let auxiliary = [
                form_ids::HAZARD,
                form_ids::VISIT,
                form_ids::PATROL,
                form_ids::DISPUTE,
            ]
            .contains(&id);
            assert_eq!(may_enter(&def, Role::Auxiliary), auxiliary, "{id}");
        }
    }

    #[test]
    fn tasks_are_completed_by_officers_and_auxiliaries_but_started_only_by_supervisors() {
        let task = standard(form_ids::TASK);
        for role in [Role::Officer, Role::Auxiliary] {
            assert!(may_enter(&task, role), "{role:?} completes a task");
            assert!(!may_start(&task, role), "{role:?} starts no task");
        }
        assert!(may_start(&task, Role::Supervisor));
        assert!(may_start(&task, Role::Admin));
    }

    #[test]
    fn named_roles_admit_exactly_those() {
        let mut person = standard(form_ids::PERSON);
        person.roles = Some(vec![Role::Auxiliary]);
        assert!(may_enter(&person, Role::Auxiliary));
        assert!(!may_enter(&person, Role::Officer));
        assert!(!may_enter(&person, Role::Admin));
    }

    #[test]
    fn a_retired_form_is_entered_but_not_started_and_a_later_version_revives_it() {
        let hazard = standard(form_ids::HAZARD);
        let gone = retired(&hazard);
        assert_eq!(gone.version, hazard.version + 1);
        assert_eq!(gone.sections, hazard.sections);
        assert!(may_enter(&gone, Role::Officer));
        assert!(!may_start(&gone, Role::Officer));
        let back = FormDef {
            version: gone.version + 1,
            retired: false,
            ..gone
        };
        assert!(may_start(&back, Role::Auxiliary));
    }

    #[test]
    fn roles_and_retirement_round_trip_and_are_absent_when_unset() {
        let mut def = standard(form_ids::DISPUTE);
        let plain = serde_json::to_value(&def).expect("serializes");
        assert!(plain.get("roles").is_none() && plain.get("retired").is_none());
        def.roles = Some(vec![Role::Officer, Role::Auxiliary]);
        def.retired = true;
        let json = serde_json::to_value(&def).expect("serializes");
        assert_eq!(json["roles"], serde_json::json!(["officer", "auxiliary"]));
        assert_eq!(json["retired"], serde_json::json!(true));
        let back: FormDef = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, def);
    }
}
