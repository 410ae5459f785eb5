//! The `task` form's vocabulary (下派任务), which the server's rules and
//! pages and the field app must read alike: the kinds of task, the record
//! each is about, the record whose saving completes it, and the statuses.

use crate::catalogue::form_ids;

/// The status of an open task (待办).
pub const OPEN: &str = "open";
/// The status the assignee sets when the task is done (已完成).
pub const DONE: &str = "done";
/// The status a supervisor sets to call a task off (已取消).
pub const CANCELLED: &str = "cancelled";

/// The fields the assignee may write: the status (to done) and what completed it.
pub const COMPLETION_FIELDS: [&str; 3] = ["status", "completed_by", "completed_at"];

/// What a task asks for (the `task_kind` choice list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskKind {
    /// Visit a house (走访房屋): done by a visit naming the house.
    Visit,
    /// Follow up a hazard (隐患跟进): done by saving the hazard.
    HazardFollowUp,
    /// Follow up a dispute (纠纷回访): done by saving the dispute.
    DisputeFollowUp,
    /// Check a person (人员核查): done by saving the person.
    PersonCheck,
}

impl TaskKind {
    /// Every kind, in the order the pages offer them.
    pub const ALL: [TaskKind; 4] = [
        TaskKind::Visit,
        TaskKind::HazardFollowUp,
        TaskKind::DisputeFollowUp,
        TaskKind::PersonCheck,
    ];

    /// The stored choice value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Visit => "visit",
            TaskKind::HazardFollowUp => "hazard_follow_up",
            TaskKind::DisputeFollowUp => "dispute_follow_up",
            TaskKind::PersonCheck => "person_check",
        }
    }

    /// The kind a stored value names.
    pub fn parse(value: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// The form of the record the task is about, which is also the task
    /// form's field naming it.
    pub fn target_form(self) -> &'static str {
        match self {
            TaskKind::Visit => form_ids::HOUSE,
            TaskKind::HazardFollowUp => form_ids::HAZARD,
            TaskKind::DisputeFollowUp => form_ids::DISPUTE,
            TaskKind::PersonCheck => form_ids::PERSON,
        }
    }

    /// The form of the record whose saving completes the task: a visit for
    /// a house, else the target itself.
    pub fn completing_form(self) -> &'static str {
        match self {
            TaskKind::Visit => form_ids::VISIT,
            other => other.target_form(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::standard_forms;

    #[test]
    fn the_kinds_and_statuses_are_the_task_forms_choices_and_fields() {
        let forms = standard_forms().expect("the catalogue loads");
        let task = forms
            .iter()
            .find(|f| f.id().as_str() == form_ids::TASK)
            .expect("the task form");
        let values = |list: &str| -> Vec<String> {
            task.def().choice_lists[list]
                .iter()
                .map(|c| c.value.clone())
                .collect()
        };
        let kinds: Vec<String> = TaskKind::ALL
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        assert_eq!(values("task_kind"), kinds);
        assert_eq!(values("task_status"), [OPEN, DONE, CANCELLED]);
        for k in TaskKind::ALL {
            assert_eq!(TaskKind::parse(k.as_str()), Some(k));
            assert!(
                task.field(k.target_form()).is_some(),
                "the task names its {}",
                k.target_form()
            );
        }
        for f in COMPLETION_FIELDS {
            assert!(task.field(f).is_some(), "{f}");
        }
    }
}
