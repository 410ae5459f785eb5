//! A station's tasks (下派任务) as rows with their place and location, and
//! the records a supervisor may assign work on. Reads only: tasks are
//! written through [`crate::sync::push`] like every record.

use std::collections::HashSet;

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::{GridId, RecordId};
use beatbook_schema::record::RecordStatus;
use beatbook_store::{ExportQuery, ReadScope, Store, StoreError, StoredRecord};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;

use crate::sync::{TASK_DONE, TASK_OPEN};

/// Records read per page while listing.
const PAGE: u32 = 500;
/// Bytes of stored records per page while listing.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

pub use beatbook_schema::task::TaskKind;

/// Where a task stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Open, due today or later.
    Open,
    /// Open past its due date.
    Overdue,
    /// Done.
    Done,
    /// Cancelled by a supervisor.
    Cancelled,
}

/// One task as the board and the map show it.
#[derive(Debug, Clone)]
pub struct TaskRow {
    /// The task record.
    pub id: RecordId,
    /// Its revision (a change names the one it saw).
    pub revision: u64,
    /// Its grid.
    pub grid: GridId,
    /// What to do.
    pub kind: Option<TaskKind>,
    /// The record it is about.
    pub target: Option<RecordId>,
    /// The place as assigned (a label), for lists.
    pub place: String,
    /// The place's location (`{"lat", "lon", ...}`), for the map, if known.
    pub location: Option<Json>,
    /// The assignee's badge.
    pub assignee: String,
    /// The assignee's name as assigned.
    pub assignee_name: String,
    /// Due date.
    pub due: Option<NaiveDate>,
    /// The instruction.
    pub instruction: String,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// The record that completed it.
    pub completed_by: Option<String>,
    /// When it was completed (device time).
    pub completed_at: Option<String>,
}

impl TaskRow {
    /// The row of a stored task record.
    pub fn of(task: &StoredRecord) -> TaskRow {
        let text = |name: &str| {
            task.fields
                .get(name)
                .and_then(|s| s.value.as_str())
                .map(str::to_owned)
        };
        let kind = text("kind").as_deref().and_then(TaskKind::parse);
        TaskRow {
            id: task.id,
            revision: task.revision,
            grid: task.grid.clone(),
            kind,
            target: kind
                .and_then(|k| text(k.target_form()))
                .and_then(|t| t.parse().ok()),
            place: text("place").unwrap_or_default(),
            location: task
                .fields
                .get("location")
                .map(|s| s.value.clone())
                .filter(|v| !v.is_null()),
            assignee: text("assignee").unwrap_or_default(),
            assignee_name: text("assignee_name").unwrap_or_default(),
            due: text("due").and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
            instruction: text("instruction").unwrap_or_default(),
            status: text("status").unwrap_or_else(|| TASK_OPEN.to_owned()),
            completed_by: text("completed_by"),
            completed_at: text("completed_at"),
        }
    }

    /// Where the task stands on `today`.
    pub fn state(&self, today: NaiveDate) -> TaskState {
        match self.status.as_str() {
            TASK_DONE => TaskState::Done,
            TASK_OPEN if self.due.is_some_and(|d| d < today) => TaskState::Overdue,
            TASK_OPEN => TaskState::Open,
            _ => TaskState::Cancelled,
        }
    }
}

/// The live records of `form` in `scope` (one grid if given), created at
/// or after `since` if given, read a page at a time.
pub async fn live_records(
    store: &dyn Store,
    scope: &ReadScope,
    form: &str,
    grid: Option<GridId>,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<StoredRecord>, StoreError> {
    let query = ExportQuery {
        scope: scope.clone(),
        form: beatbook_schema::ids::FormId::new(form),
        grid,
        created_from: since,
        created_before: None,
    };
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .export_page(query.clone(), after, PAGE, PAGE_BYTES)
            .await?;
        out.extend(page.records);
        after = page.next;
        if after.is_none() {
            return Ok(out);
        }
    }
}

/// The tasks in `scope` (a supervisor's: the station's), with their place
/// and location: open ones first by due date, then the rest, newest first.
pub async fn station_tasks(
    store: &dyn Store,
    scope: &ReadScope,
) -> Result<Vec<TaskRow>, StoreError> {
    let mut rows: Vec<TaskRow> = live_records(store, scope, form_ids::TASK, None, None)
        .await?
        .iter()
        .map(TaskRow::of)
        .collect();
    rows.sort_by(|a, b| {
        let open = |r: &TaskRow| r.status != TASK_OPEN;
        (open(a), a.due, std::cmp::Reverse(a.id)).cmp(&(open(b), b.due, std::cmp::Reverse(b.id)))
    });
    Ok(rows)
}

/// Whether saving `record` on a device can complete a task: an approved
/// record is read-only on the devices, so a follow-up or check of it could
/// never be done there; an approved hazard still takes its rectification.
pub fn can_be_followed_up(record: &StoredRecord) -> bool {
    record.status != RecordStatus::Approved || record.form_id.as_str() == form_ids::HAZARD
}

/// Which records a supervisor is choosing targets from.
#[derive(Debug, Clone, Default)]
pub struct TargetFilter {
    /// Only this grid.
    pub grid: Option<GridId>,
    /// Houses: only of this use (`group_rented`, `rented`, ...).
    pub house_use: Option<String>,
    /// Houses: only those no visit named in this many days.
    pub not_visited_days: Option<u32>,
}

/// The records a task of `kind` may be assigned on, as `filter` narrows
/// them: houses (of a use, not visited in N days), open or rectifying
/// hazards, disputes still pending or referred (回访), people; of the
/// last three only those not approved ([`can_be_followed_up`]).
pub async fn targets(
    store: &dyn Store,
    scope: &ReadScope,
    kind: TaskKind,
    filter: &TargetFilter,
    now: DateTime<Utc>,
) -> Result<Vec<StoredRecord>, StoreError> {
    let records = live_records(store, scope, kind.target_form(), filter.grid.clone(), None).await?;
    let text = |r: &StoredRecord, name: &str| {
        r.fields
            .get(name)
            .and_then(|s| s.value.as_str())
            .map(str::to_owned)
    };
    let visited: HashSet<String> = match (kind, filter.not_visited_days) {
        (TaskKind::Visit, Some(days)) => {
            let since = now - chrono::Duration::days(i64::from(days));
            live_records(
                store,
                scope,
                form_ids::VISIT,
                filter.grid.clone(),
                Some(since),
            )
            .await?
            .iter()
            .filter_map(|v| text(v, "house"))
            .collect()
        }
        _ => HashSet::new(),
    };
    Ok(records
        .into_iter()
        .filter(|r| kind == TaskKind::Visit || can_be_followed_up(r))
        .filter(|r| match kind {
            TaskKind::Visit => {
                filter
                    .house_use
                    .as_deref()
                    .is_none_or(|u| text(r, "use").as_deref() == Some(u))
                    && !visited.contains(&r.id.to_string())
            }
            TaskKind::HazardFollowUp => {
                matches!(text(r, "status").as_deref(), Some("open" | "rectifying"))
            }
            TaskKind::DisputeFollowUp => {
                matches!(text(r, "outcome").as_deref(), Some("pending" | "referred"))
            }
            TaskKind::PersonCheck => true,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str, due: &str) -> TaskRow {
        TaskRow {
            id: RecordId::new_v7(),
            revision: 1,
            grid: GridId::new("G1"),
            kind: Some(TaskKind::Visit),
            target: None,
            place: String::new(),
            location: None,
            assignee: "o1".into(),
            assignee_name: String::new(),
            due: NaiveDate::parse_from_str(due, "%Y-%m-%d").ok(),
            instruction: String::new(),
            status: status.into(),
            completed_by: None,
            completed_at: None,
        }
    }

    #[test]
    fn a_task_is_overdue_only_while_open_past_its_due_date() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
        for (status, due, state) in [
            ("open", "2026-11-29", TaskState::Overdue),
            ("open", "2026-11-30", TaskState::Open),
            ("done", "2026-11-01", TaskState::Done),
            ("cancelled", "2026-11-01", TaskState::Cancelled),
        ] {
            assert_eq!(row(status, due).state(today), state, "{status} due {due}");
        }
    }
}
