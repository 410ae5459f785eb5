//! Tasks a supervisor assigned (下派任务), as the device reads them from
//! the `task` records it pulls: what to do, where, by when, and which saved
//! record completes one. Saving that record marks the task done in the same
//! local transaction (`LocalStore::finalize`), and the next sync carries
//! both up.

use beatbook_schema::form::Values;
use beatbook_schema::ids::{GridId, RecordId};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value as Json};

pub use beatbook_schema::task::{TaskKind, DONE, OPEN};

/// One task on this device.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task record.
    pub id: RecordId,
    /// Its grid.
    pub grid: GridId,
    /// What to do.
    pub kind: TaskKind,
    /// The house, hazard, dispute or person it is about.
    pub target: RecordId,
    /// The place as the supervisor saw it.
    pub place: String,
    /// The place's location, when known (`{"lat", "lon", ...}`).
    pub location: Option<Json>,
    /// Due date.
    pub due: Option<NaiveDate>,
    /// The supervisor's instruction.
    pub instruction: String,
    /// Who assigned it.
    pub assigned_by: String,
    /// The assignee's badge.
    pub assignee: String,
    /// `open`, `done` or `cancelled`.
    pub status: String,
}

impl Task {
    /// The task a `task` record's values describe; `None` when they name no
    /// kind or target this app knows (a newer form), so it is not offered.
    pub fn of(id: RecordId, grid: &GridId, values: &Values) -> Option<Task> {
        let text = |name: &str| values.get(name).and_then(Json::as_str).unwrap_or("");
        let kind = TaskKind::parse(text("kind"))?;
        Some(Task {
            id,
            grid: grid.clone(),
            kind,
            target: text(kind.target_form()).parse().ok()?,
            place: text("place").to_owned(),
            location: values.get("location").filter(|v| v.is_object()).cloned(),
            due: NaiveDate::parse_from_str(text("due"), "%Y-%m-%d").ok(),
            instruction: text("instruction").to_owned(),
            assigned_by: text("assigned_by").to_owned(),
            assignee: text("assignee").to_owned(),
            status: text("status").to_owned(),
        })
    }

    /// Still to do.
    pub fn is_open(&self) -> bool {
        self.status == OPEN
    }

    /// Open past its due date on `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.is_open() && self.due.is_some_and(|d| d < today)
    }

    /// Whether saving record `id` of `form` with `values` does what the task asks.
    pub fn is_completed_by(&self, form: &str, id: RecordId, values: &Values) -> bool {
        form == self.kind.completing_form()
            && match self.kind {
                TaskKind::Visit => {
                    values.get("house").and_then(Json::as_str) == Some(&self.target.to_string())
                }
                TaskKind::HazardFollowUp | TaskKind::DisputeFollowUp | TaskKind::PersonCheck => {
                    id == self.target
                }
            }
    }
}

/// Where tapping a task takes the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOpens {
    /// The visit screen at `address`, on `house`.
    Visit {
        /// The house's standard address.
        address: RecordId,
        /// The house to visit.
        house: RecordId,
    },
    /// The record itself, to edit and save (a follow-up, a check).
    Edit(RecordId),
}

/// A task's values once record `by` completed it at `at`.
pub fn completed(values: &Values, by: RecordId, at: DateTime<Utc>) -> Values {
    let mut out = values.clone();
    out.insert("status".into(), json!(DONE));
    out.insert("completed_by".into(), json!(by.to_string()));
    out.insert("completed_at".into(), json!(at.to_rfc3339()));
    out
}

/// Orders tasks as the home screen lists them: overdue first, then by due
/// date (undated last).
pub fn sort_for_today(tasks: &mut [Task], today: NaiveDate) {
    tasks.sort_by_key(|t| (!t.is_overdue(today), t.due.is_none(), t.due, t.id));
}

#[cfg(test)]
mod tests {
    use beatbook_schema::catalogue::form_ids;

    use super::*;

    fn task(kind: &str, target: RecordId, due: &str) -> Task {
        let values: Values = json!({"kind": kind, (kind_field(kind)): target, "due": due,
            "assignee": "A001", "status": "open"})
        .as_object()
        .cloned()
        .expect("an object");
        Task::of(RecordId::new_v7(), &GridId::new("G1"), &values).expect("a task")
    }

    fn kind_field(kind: &str) -> &'static str {
        TaskKind::parse(kind).expect("a kind").target_form()
    }

    #[test]
    fn a_visit_task_is_completed_by_a_visit_of_its_house_only() {
        let house = RecordId::new_v7();
        let t = task("visit", house, "2026-12-01");
        let visit = |h: RecordId| -> Values {
            json!({"house": h, "outcome": "unchanged"})
                .as_object()
                .cloned()
                .expect("object")
        };
        assert!(t.is_completed_by(form_ids::VISIT, RecordId::new_v7(), &visit(house)));
        assert!(!t.is_completed_by(
            form_ids::VISIT,
            RecordId::new_v7(),
            &visit(RecordId::new_v7())
        ));
        assert!(
            !t.is_completed_by(form_ids::HOUSE, house, &Values::new()),
            "editing the house is not a visit"
        );
    }

    #[test]
    fn follow_ups_are_completed_by_saving_their_record() {
        let target = RecordId::new_v7();
        for (kind, form) in [
            ("hazard_follow_up", form_ids::HAZARD),
            ("dispute_follow_up", form_ids::DISPUTE),
            ("person_check", form_ids::PERSON),
        ] {
            let t = task(kind, target, "2026-12-01");
            assert!(t.is_completed_by(form, target, &Values::new()), "{kind}");
            assert!(
                !t.is_completed_by(form, RecordId::new_v7(), &Values::new()),
                "{kind}"
            );
        }
    }

    #[test]
    fn overdue_tasks_come_first_then_by_due_date() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
        let later = task("visit", RecordId::new_v7(), "2026-12-09");
        let soon = task("visit", RecordId::new_v7(), "2026-12-01");
        let late = task("visit", RecordId::new_v7(), "2026-11-20");
        let mut tasks = vec![later.clone(), soon.clone(), late.clone()];
        sort_for_today(&mut tasks, today);
        assert_eq!(tasks, vec![late.clone(), soon, later]);
        assert!(late.is_overdue(today));
    }

    #[test]
    fn a_task_of_an_unknown_kind_is_not_offered() {
        let values: Values = json!({"kind": "dance", "due": "2026-12-01"})
            .as_object()
            .cloned()
            .expect("object");
        assert_eq!(
            Task::of(RecordId::new_v7(), &GridId::new("G1"), &values),
            None
        );
    }
}
