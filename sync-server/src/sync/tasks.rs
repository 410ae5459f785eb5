//! Who may do what to a task (下派任务): supervisors and admins create,
//! reassign and cancel tasks; the officer or auxiliary a task is assigned to
//! may only mark it done, naming the record that did it.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::protocol::{Change, ChangeOp, ErrorCode, Role, UserInfo};
use beatbook_schema::text::Text;
use beatbook_store::Existing;
use serde_json::Value as Json;

pub use beatbook_schema::task::{
    CANCELLED as TASK_CANCELLED, COMPLETION_FIELDS as TASK_COMPLETION_FIELDS, DONE as TASK_DONE,
    OPEN as TASK_OPEN,
};

/// A task rule broken by `change`, as the code and message to refuse it
/// with; `None` when the rules allow it (or it is not a task).
pub fn task_refusal(
    change: &Change,
    existing: &Existing,
    user: &UserInfo,
) -> Option<(ErrorCode, Text)> {
    if change.form_id.as_str() != form_ids::TASK
        || matches!(user.role, Role::Supervisor | Role::Admin)
    {
        return None;
    }
    let forbid = |zh: &str, en: &str| Some((ErrorCode::Forbidden, Text::new(zh, en)));
    let Some(task) = &existing.record else {
        return forbid(
            "只有所领导可以下派任务",
            "only a supervisor may assign a task",
        );
    };
    let stored = |name: &str| task.fields.get(name).and_then(|s| s.value.as_str());
    if stored("assignee") != Some(user.badge.as_str()) {
        return forbid(
            "该任务不是派给您的，不能修改",
            "this task is assigned to someone else: only its assignee may mark it done",
        );
    }
    let ChangeOp::Upsert { fields, .. } = &change.op else {
        return forbid(
            "任务只能由所领导撤销",
            "only a supervisor may cancel a task",
        );
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !TASK_COMPLETION_FIELDS.contains(&k.as_str()))
    {
        return forbid(
            &format!("您只能将任务标记为已完成，不能修改“{other}”；如需改派或调整，请联系所领导"),
            &format!("you may only mark your task done, not change '{other}': ask your supervisor to reassign or change it"),
        );
    }
    if stored("status") != Some(TASK_OPEN) {
        return forbid(
            "该任务已完成或已被撤销",
            "this task is no longer open (done or cancelled)",
        );
    }
    if fields
        .get("status")
        .is_some_and(|s| s != &Json::from(TASK_DONE))
    {
        return forbid(
            "您只能将任务标记为已完成；撤销任务请联系所领导",
            "you may only mark your task done: ask your supervisor to cancel it",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use beatbook_schema::form::Values;
    use beatbook_schema::hlc::Hlc;
    use beatbook_schema::ids::{ChangeId, DeviceId, FormId, GridId, RecordId};
    use beatbook_schema::protocol::ChangeOutcome;
    use beatbook_store::{Decision, Pusher, ReadScope, StoredRecord};
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::sync::testing::{pusher as user, standard as forms};
    use crate::sync::{decide, Policy};

    fn change(record: RecordId, base: u64, fields: serde_json::Value) -> Change {
        let fields: Values = fields.as_object().cloned().expect("an object");
        Change {
            change_id: ChangeId::new_v7(),
            record_id: record,
            form_id: FormId::new(form_ids::TASK),
            form_version: 1,
            grid: GridId::new("G1"),
            base_revision: base,
            hlc: Hlc::zero(DeviceId::new_v7()).tick(Utc::now().timestamp_millis() as u64),
            at: Utc::now(),
            op: ChangeOp::Upsert {
                fields,
                attachments: vec![],
            },
        }
    }

    fn judge(c: &Change, existing: Option<&StoredRecord>, who: &Pusher) -> Decision {
        let existing = Existing {
            record: existing.cloned(),
            ..Existing::default()
        };
        let scope = ReadScope::Grids(vec![GridId::new("G1")]);
        decide(c, &existing, who, &scope, &forms(), &Policy::default())
    }

    fn new_task() -> serde_json::Value {
        json!({"kind": "visit", "house": RecordId::new_v7(), "due": "2026-12-31",
               "assignee": "A001", "instruction": "核查群租", "status": "open"})
    }

    /// A task a supervisor assigned to badge A001, as stored.
    fn assigned() -> StoredRecord {
        match judge(
            &change(RecordId::new_v7(), 0, new_task()),
            None,
            &user(Role::Supervisor, "S001"),
        ) {
            Decision::Write { record, .. } => *record,
            other => panic!("a supervisor assigns a task: {other:?}"),
        }
    }

    fn refused(d: &Decision) -> Option<ErrorCode> {
        match d {
            Decision::Answer(ChangeOutcome::Rejected { code, .. }) => Some(*code),
            _ => None,
        }
    }

    /// What is tried, by whom, on which stored task, with which fields, and the refusal expected.
    type Case<'a> = (
        &'static str,
        Pusher,
        Option<&'a StoredRecord>,
        serde_json::Value,
        Option<ErrorCode>,
    );

    #[test]
    fn who_may_do_what_to_a_task() {
        let task = assigned();
        let done = json!({"status": "done", "completed_by": RecordId::new_v7().to_string(),
                          "completed_at": Utc::now().to_rfc3339()});
        let cases: [Case<'_>; 9] = [
            (
                "officer creates",
                user(Role::Officer, "A001"),
                None,
                new_task(),
                Some(ErrorCode::Forbidden),
            ),
            (
                "auxiliary creates",
                user(Role::Auxiliary, "A001"),
                None,
                new_task(),
                Some(ErrorCode::Forbidden),
            ),
            (
                "assignee reassigns",
                user(Role::Officer, "A001"),
                Some(&task),
                json!({"assignee": "A002"}),
                Some(ErrorCode::Forbidden),
            ),
            (
                "assignee moves the due date",
                user(Role::Officer, "A001"),
                Some(&task),
                json!({"due": "2027-01-31"}),
                Some(ErrorCode::Forbidden),
            ),
            (
                "assignee cancels",
                user(Role::Officer, "A001"),
                Some(&task),
                json!({"status": "cancelled"}),
                Some(ErrorCode::Forbidden),
            ),
            (
                "another officer completes",
                user(Role::Officer, "A002"),
                Some(&task),
                done.clone(),
                Some(ErrorCode::Forbidden),
            ),
            (
                "assignee completes",
                user(Role::Officer, "A001"),
                Some(&task),
                done.clone(),
                None,
            ),
            (
                "auxiliary assignee completes",
                user(Role::Auxiliary, "A001"),
                Some(&task),
                done,
                None,
            ),
            (
                "supervisor reassigns",
                user(Role::Supervisor, "S001"),
                Some(&task),
                json!({"assignee": "A002"}),
                None,
            ),
        ];
        for (case, who, existing, fields, expected) in cases {
            let base = existing.map_or(0, |t| t.revision);
            let id = existing.map_or_else(RecordId::new_v7, |t| t.id);
            let d = judge(&change(id, base, fields), existing, &who);
            assert_eq!(refused(&d), expected, "{case}: {d:?}");
        }
    }

    #[test]
    fn a_refusal_tells_the_officer_to_ask_the_supervisor() {
        let task = assigned();
        let who = user(Role::Officer, "A001");
        let d = judge(
            &change(task.id, task.revision, json!({"assignee": "A002"})),
            Some(&task),
            &who,
        );
        let Decision::Answer(ChangeOutcome::Rejected { message, .. }) = d else {
            panic!("refused: {d:?}");
        };
        assert!(message.en.contains("ask your supervisor"), "{}", message.en);
        assert!(message.zh.contains("所领导"), "{}", message.zh);
    }

    #[test]
    fn a_done_task_cannot_be_marked_done_again_by_its_assignee() {
        let task = assigned();
        let who = user(Role::Officer, "A001");
        let done = match judge(
            &change(task.id, task.revision, json!({"status": "done"})),
            Some(&task),
            &who,
        ) {
            Decision::Write { record, .. } => *record,
            other => panic!("the assignee completes: {other:?}"),
        };
        let again = judge(
            &change(done.id, done.revision, json!({"completed_by": "x"})),
            Some(&done),
            &who,
        );
        assert_eq!(refused(&again), Some(ErrorCode::Forbidden));
    }
}
