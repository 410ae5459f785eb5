//! Tasks that flow down (下派任务): the supervisor picks houses, hazards,
//! disputes or people (filtered, e.g. group-rented houses not visited in 90
//! days), assigns them to an officer or auxiliary of the grid with a due
//! date and an instruction, and follows them on the progress board (done,
//! open, overdue by person). A task is a record of the `task` form, written
//! through [`crate::sync::push`] as a device's change is, so it reaches the
//! grid's devices on their next pull; the assignment is audited.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use beatbook_schema::audience;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::Values;
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{BatchId, ChangeId, FormId, GridId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, Role};
use beatbook_schema::text::Lang;
use beatbook_store::{Account, StoredRecord};
use chrono::{Duration, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::error::ReviewError;
use super::layout::{self, back_with, badge, Nav, NoticeQuery};
use super::records::Cards;
use super::reviewer::{csrf_field, Reviewer};
use super::rules::REVIEW_DEVICE;
use super::task_list::{
    can_be_followed_up, station_tasks, targets, TargetFilter, TaskKind, TaskRow, TaskState,
};
use crate::state::AppState;
use crate::sync::{Forms, TASK_CANCELLED, TASK_OPEN};

/// Most targets listed to choose from at once.
const MAX_TARGETS: usize = 200;
/// Days "not visited in" starts at.
const DEFAULT_DAYS: u32 = 90;
/// Days from today a new task is due, unless the supervisor says otherwise.
const DEFAULT_DUE_DAYS: i64 = 7;
/// The longest instruction.
const MAX_INSTRUCTION_CHARS: usize = 300;

/// The filters of the assignment page.
#[derive(Debug, Default, Deserialize)]
pub struct TargetQuery {
    kind: Option<String>,
    grid: Option<String>,
    #[serde(rename = "use")]
    house_use: Option<String>,
    days: Option<String>,
}

fn kind_label(r: &Reviewer, kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Visit => r.t("走访房屋", "Visit a house"),
        TaskKind::HazardFollowUp => r.t("隐患跟进", "Follow up a hazard"),
        TaskKind::DisputeFollowUp => r.t("纠纷回访", "Dispute follow-up"),
        TaskKind::PersonCheck => r.t("人员核查", "Check a person"),
    }
}

/// The officers and auxiliaries who may be given work in `grid` (any grid
/// of the reviewer's when `None`).
fn assignees<'a>(r: &Reviewer, accounts: &'a [Account], grid: Option<&GridId>) -> Vec<&'a Account> {
    let mut out: Vec<&Account> = accounts
        .iter()
        .filter(|a| !a.disabled && matches!(a.info.role, Role::Officer | Role::Auxiliary))
        .filter(|a| {
            a.info
                .grids
                .iter()
                .any(|g| r.scope.contains(g) && grid.is_none_or(|want| want == g))
        })
        .collect();
    out.sort_by(|a, b| a.info.badge.cmp(&b.info.badge));
    out
}

/// `GET /review/tasks`: choose targets and assign them.
pub async fn assign_page(
    State(state): State<AppState>,
    r: Reviewer,
    Query(q): Query<TargetQuery>,
) -> Result<Markup, ReviewError> {
    let kind = q
        .kind
        .as_deref()
        .and_then(TaskKind::parse)
        .unwrap_or(TaskKind::Visit);
    let grid = q
        .grid
        .as_deref()
        .filter(|g| !g.is_empty())
        .map(GridId::new)
        .filter(|g| r.scope.contains(g));
    let days = match q.days.as_deref().map(str::trim) {
        None => Some(DEFAULT_DAYS),
        Some("") => None,
        Some(d) => Some(d.parse::<u32>().map_err(|_| {
            ReviewError::bad_request(
                "“未走访天数”须为整数",
                "“not visited in” must be a whole number of days",
            )
        })?),
    };
    let house_use = q.house_use.filter(|u| !u.is_empty());
    let filter = TargetFilter {
        grid: grid.clone(),
        house_use: house_use.clone(),
        not_visited_days: days,
    };
    let mut found = targets(state.store.as_ref(), &r.scope, kind, &filter, Utc::now()).await?;
    let total = found.len();
    found.truncate(MAX_TARGETS);
    let forms = state.recent_forms().await?;
    let records: Vec<&StoredRecord> = found.iter().collect();
    let cards = Cards::load(&state, &r, &forms, &records).await?;
    let accounts = state.store.users().await?;
    let people = assignees(&r, &accounts, grid.as_ref());
    let house_def = forms.latest(form_ids::HOUSE).map(|f| f.def().clone());
    let uses: Vec<(String, String)> = house_def
        .as_ref()
        .and_then(|d| d.choice_lists.get("house_use"))
        .map(|list| {
            list.iter()
                .map(|c| (c.value.clone(), c.label.get(r.lang).to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let today = Utc::now().with_timezone(&r.offset).date_naive();
    let due = today + Duration::days(DEFAULT_DUE_DAYS);
    let body = html! {
        div.page-head {
            h1 { (r.t("下派任务", "Assign tasks")) }
            p.muted {
                (r.t("选择对象，指定承办的民警或辅警、完成期限和说明。任务在其下次同步时送达手机，保存对应记录即完成。",
                     "Choose what needs doing, then the officer or auxiliary, the due date and an instruction. The task reaches their phone on its next sync and is done when they save the matching record."))
                " " a href="/review/tasks/board" { (r.t("查看任务进度 →", "Progress board →")) }
            }
        }
        div.tabs {
            @for k in TaskKind::ALL {
                a.tab .active[k == kind] href=(format!("/review/tasks?kind={}", k.as_str())) { (kind_label(&r, k)) }
            }
        }
        form.inline.grid-filter #target-filter method="get" action="/review/tasks" {
            input type="hidden" name="kind" value=(kind.as_str());
            select name="grid" {
                option value="" { (r.t("全部网格", "All grids")) }
                @for g in &r.grids {
                    option value=(g.id) selected[grid.as_ref() == Some(&g.id)] { (g.name) }
                }
            }
            @if kind == TaskKind::Visit {
                select name="use" #use {
                    option value="" { (r.t("全部房屋用途", "Any use")) }
                    @for (v, label) in &uses {
                        option value=(v) selected[house_use.as_deref() == Some(v.as_str())] { (label) }
                    }
                }
                label {
                    (r.t("未走访天数 ≥", "Not visited in (days)"))
                    input #days type="number" name="days" min="0" max="3650" value=(days.map(|d| d.to_string()).unwrap_or_default());
                }
            }
            button.small type="submit" { (r.t("筛选", "Filter")) }
        }
        @match kind {
            TaskKind::HazardFollowUp => p.muted { (r.t("待整改和整改中的隐患。", "Hazards open or being rectified.")) },
            TaskKind::DisputeFollowUp => p.muted { (r.t("调解中或已移交、需要回访的纠纷。", "Disputes pending or referred, which need a follow-up visit (回访).")) },
            _ => {},
        }
        form #assign method="post" action="/review/tasks" {
            (csrf_field(&r))
            input type="hidden" name="kind" value=(kind.as_str());
            p.muted #target-count {
                @match r.lang {
                    Lang::Zh => { "符合条件 " (total) " 条" @if total > found.len() { "，显示前 " (found.len()) " 条" } },
                    Lang::En => { (total) " match" @if total > found.len() { ", the first " (found.len()) " shown" } },
                }
            }
            @if found.is_empty() {
                p.empty { (r.t("没有符合条件的对象。", "Nothing matches.")) }
            } @else {
                table.batches #targets {
                    thead { tr { th {} th { (r.t("对象", "Target")) } th { (r.t("网格", "Grid")) } } }
                    tbody {
                        @for t in &found {
                            @let (title, label) = cards.title(t);
                            tr {
                                td { input type="checkbox" name="target" value=(t.id) id=(format!("t-{}", t.id)); }
                                td { label for=(format!("t-{}", t.id)) { (title) " · " (label) } }
                                td { (r.grid_name(t.grid.as_str())) }
                            }
                        }
                    }
                }
            }
            fieldset.assign {
                label { (r.t("承办人", "Assignee")) " "
                    select name="assignee" #assignee required {
                        option value="" { (r.t("请选择", "Choose")) }
                        @for a in &people {
                            option value=(a.info.badge) {
                                (a.info.name) " (" (a.info.badge) " · " (a.info.role.label().get(r.lang)) ")"
                            }
                        }
                    }
                }
                label { (r.t("完成期限", "Due")) " "
                    input #due type="date" name="due" required value=(due.to_string()) min=(today.to_string());
                }
                label.wide { (r.t("任务说明", "Instruction")) " "
                    textarea #instruction name="instruction" maxlength=(MAX_INSTRUCTION_CHARS) rows="2" {}
                }
                button.approve #assign-submit type="submit" { (r.t("下派", "Assign")) }
            }
        }
    };
    Ok(layout::page(
        &r,
        Nav::Tasks,
        r.t("下派任务", "Assign tasks"),
        None,
        body,
    ))
}

/// What the assignment form sent, checked.
struct Assignment {
    kind: TaskKind,
    targets: Vec<RecordId>,
    assignee: String,
    due: NaiveDate,
    instruction: String,
}

fn read_assignment(r: &Reviewer, form: Vec<(String, String)>) -> Result<Assignment, ReviewError> {
    let one = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let kind = one("kind")
        .as_deref()
        .and_then(TaskKind::parse)
        .ok_or_else(|| ReviewError::bad_request("未知的任务类型", "unknown kind of task"))?;
    let targets = form
        .iter()
        .filter(|(k, _)| k == "target")
        .map(|(_, v)| v.parse::<RecordId>().map_err(|_| ReviewError::not_found()))
        .collect::<Result<Vec<_>, _>>()?;
    let unprocessable =
        |zh: &str, en: &str| ReviewError::page(StatusCode::UNPROCESSABLE_ENTITY, zh, en);
    if targets.is_empty() {
        return Err(unprocessable(
            "请至少勾选一个对象",
            "tick at least one target to assign",
        ));
    }
    let assignee = one("assignee")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| unprocessable("请选择承办人", "choose who is to do it"))?;
    let due = one("due")
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            unprocessable(
                "请填写完成期限（年-月-日）",
                "give the due date (year-month-day)",
            )
        })?;
    let today = Utc::now().with_timezone(&r.offset).date_naive();
    if due < today {
        return Err(unprocessable(
            "完成期限不能早于今天",
            "the due date cannot be in the past",
        ));
    }
    let instruction = one("instruction").unwrap_or_default();
    if instruction.chars().count() > MAX_INSTRUCTION_CHARS {
        return Err(unprocessable(
            &format!("任务说明最多 {MAX_INSTRUCTION_CHARS} 字"),
            &format!("the instruction may have at most {MAX_INSTRUCTION_CHARS} characters"),
        ));
    }
    Ok(Assignment {
        kind,
        targets,
        assignee,
        due,
        instruction,
    })
}

/// Where a target is on the map: its own location, else its address's.
async fn location_of(state: &AppState, target: &StoredRecord) -> Result<Option<Json>, ReviewError> {
    let point = |r: &StoredRecord| {
        ["location", "geopoint"].iter().find_map(|f| {
            r.fields
                .get(*f)
                .map(|s| s.value.clone())
                .filter(Json::is_object)
        })
    };
    if let Some(p) = point(target) {
        return Ok(Some(p));
    }
    let address = target
        .fields
        .get("address")
        .and_then(|s| s.value.as_str())
        .and_then(|a| a.parse::<RecordId>().ok());
    Ok(match address {
        Some(a) => state.store.record(a).await?.as_ref().and_then(point),
        None => None,
    })
}

/// The active officer or auxiliary with `badge`, who may be given tasks.
async fn assignee_account(state: &AppState, badge: &str) -> Result<Account, ReviewError> {
    state
        .store
        .user_by_badge(badge)
        .await?
        .filter(|acc| !acc.disabled && matches!(acc.info.role, Role::Officer | Role::Auxiliary))
        .ok_or_else(|| {
            ReviewError::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("警号 {badge} 不是可承办任务的在岗民警或辅警"),
                format!(
                    "badge {badge} is not an active officer or auxiliary who can be given tasks"
                ),
            )
        })
}

/// Whether `account` can do a task of `kind` in `grid`: it works the grid,
/// and its role may save the record that completes the task.
fn check_assignee(
    r: &Reviewer,
    forms: &Forms,
    account: &Account,
    grid: &GridId,
    kind: TaskKind,
) -> Result<(), ReviewError> {
    let name = &account.info.name;
    if !account.info.grids.contains(grid) {
        let grid = r.grid_name(grid.as_str());
        return Err(ReviewError::page(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name} 不负责网格 {grid}，不能承办该处的任务"),
            format!("{name} does not work grid {grid}: choose someone of that grid"),
        ));
    }
    let may_save = forms
        .latest(kind.completing_form())
        .is_some_and(|f| audience::may_enter(f.def(), account.info.role));
    if !may_save {
        return Err(ReviewError::page(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name} 的角色不能保存此类记录，无法完成该任务"),
            format!(
                "{name}'s role may not save that kind of record, so could never complete this task"
            ),
        ));
    }
    Ok(())
}

/// Pushes task changes as the reviewer, through [`crate::sync::push`] like
/// a device's; refused ones become the page's answer.
async fn push_tasks(
    state: &AppState,
    r: &Reviewer,
    changes: Vec<Change>,
) -> Result<BatchId, ReviewError> {
    let batch = BatchId::new_v7();
    let results = crate::sync::push(
        state.store.as_ref(),
        &state.forms,
        &state.policy,
        r.user.clone(),
        REVIEW_DEVICE,
        batch,
        changes,
    )
    .await?;
    if let Some(refused) = results.iter().find_map(|(_, o)| match o {
        ChangeOutcome::Rejected { message, .. } => Some(message.clone()),
        _ => None,
    }) {
        return Err(ReviewError::Page {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: refused,
        });
    }
    Ok(batch)
}

/// A change of task `record` written on the review pages.
fn task_change(
    record: RecordId,
    version: u32,
    grid: &GridId,
    base_revision: u64,
    hlc: Hlc,
    fields: Values,
) -> Change {
    Change {
        change_id: ChangeId::new_v7(),
        record_id: record,
        form_id: FormId::new(form_ids::TASK),
        form_version: version,
        grid: grid.clone(),
        base_revision,
        hlc,
        at: Utc::now(),
        op: ChangeOp::Upsert {
            fields,
            attachments: vec![],
        },
    }
}

/// `POST /review/tasks`: one task per ticked target, pushed as one batch
/// and written to the audit log.
pub async fn assign(
    State(state): State<AppState>,
    r: Reviewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, ReviewError> {
    let a = read_assignment(&r, form)?;
    let account = assignee_account(&state, &a.assignee).await?;
    let forms = state.recent_forms().await?;
    let mut records = Vec::new();
    for id in &a.targets {
        let t = state
            .store
            .record(*id)
            .await?
            .filter(|t| !t.deleted && r.scope.contains(&t.grid))
            .ok_or_else(ReviewError::not_found)?;
        if t.form_id.as_str() != a.kind.target_form() {
            return Err(ReviewError::bad_request(
                "所选对象与任务类型不符",
                "a target does not fit the kind of task",
            ));
        }
        if a.kind != TaskKind::Visit && !can_be_followed_up(&t) {
            return Err(ReviewError::page(
                StatusCode::CONFLICT,
                "该记录已审核通过，手机上不能再修改，无法据此完成任务；请选择其他对象",
                "that record is approved, so it is read-only on the phones and saving it could never complete a task: choose another",
            ));
        }
        check_assignee(&r, &forms, &account, &t.grid, a.kind)?;
        records.push(t);
    }
    let version = forms
        .latest(form_ids::TASK)
        .map(|f| f.version())
        .ok_or_else(|| {
            ReviewError::page(
                StatusCode::CONFLICT,
                "服务器未发布任务表单，请管理员发布后再下派",
                "the server publishes no task form: ask an admin to publish it",
            )
        })?;
    let refs: Vec<&StoredRecord> = records.iter().collect();
    let cards = Cards::load(&state, &r, &forms, &refs).await?;
    let now_ms = Utc::now().timestamp_millis().max(0) as u64;
    let mut clock = Hlc::zero(REVIEW_DEVICE);
    let mut changes = Vec::new();
    for t in &records {
        let mut fields = Values::new();
        fields.insert("kind".into(), json!(a.kind.as_str()));
        fields.insert(a.kind.target_form().into(), json!(t.id));
        fields.insert("due".into(), json!(a.due.to_string()));
        fields.insert("assignee".into(), json!(account.info.badge));
        fields.insert("assignee_name".into(), json!(account.info.name));
        fields.insert("assigned_by".into(), json!(r.user.name));
        fields.insert("place".into(), json!(cards.title(t).1));
        fields.insert("status".into(), json!(TASK_OPEN));
        if !a.instruction.is_empty() {
            fields.insert("instruction".into(), json!(a.instruction));
        }
        if let Some(l) = location_of(&state, t).await? {
            fields.insert("location".into(), l);
        }
        clock = clock.tick(now_ms);
        changes.push(task_change(
            RecordId::new_v7(),
            version,
            &t.grid,
            0,
            clock,
            fields,
        ));
    }
    let tasks: Vec<String> = changes.iter().map(|c| c.record_id.to_string()).collect();
    let batch = push_tasks(&state, &r, changes).await?;
    state
        .store
        .append_audit(r.audit(
            "assign",
            format!("batch:{batch}"),
            json!({
                "tasks": tasks,
                "kind": a.kind.as_str(),
                "targets": a.targets,
                "assignee": account.info.badge,
                "due": a.due.to_string(),
            }),
        ))
        .await?;
    let to = back_with(None, "/review/tasks/board", "assigned", tasks.len(), 0);
    Ok((StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response())
}

/// A supervisor's change of one open task: reassign it or cancel it.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    action: String,
    revision: Option<u64>,
    assignee: Option<String>,
}

/// `POST /review/tasks/{id}/change`: reassigns an open task to another
/// officer or auxiliary of its grid, or cancels it; refused when the task
/// changed since the page showed it (done meanwhile, say).
pub async fn change(
    State(state): State<AppState>,
    r: Reviewer,
    Path(id): Path<String>,
    Form(form): Form<ChangeForm>,
) -> Result<Response, ReviewError> {
    let id: RecordId = id.parse().map_err(|_| ReviewError::not_found())?;
    let task = state
        .store
        .record(id)
        .await?
        .filter(|t| !t.deleted && t.form_id.as_str() == form_ids::TASK && r.scope.contains(&t.grid))
        .ok_or_else(ReviewError::not_found)?;
    let row = TaskRow::of(&task);
    if form.revision != Some(task.revision) || row.status != TASK_OPEN {
        return Err(ReviewError::page(
            StatusCode::CONFLICT,
            "该任务在您查看后已有变化（可能已完成），请刷新页面",
            "the task changed after you opened the page (it may be done): reload it",
        ));
    }
    let mut fields = Values::new();
    let detail = match form.action.as_str() {
        "reassign" => {
            let badge = form.assignee.as_deref().unwrap_or("").trim();
            let account = assignee_account(&state, badge).await?;
            let kind = row.kind.ok_or_else(|| {
                ReviewError::bad_request("未知的任务类型", "unknown kind of task")
            })?;
            let forms = state.recent_forms().await?;
            check_assignee(&r, &forms, &account, &task.grid, kind)?;
            fields.insert("assignee".into(), json!(account.info.badge));
            fields.insert("assignee_name".into(), json!(account.info.name));
            json!({"task": id, "from": row.assignee, "to": account.info.badge})
        }
        "cancel" => {
            fields.insert("status".into(), json!(TASK_CANCELLED));
            json!({"task": id, "assignee": row.assignee})
        }
        _ => return Err(ReviewError::bad_request("未知的操作", "unknown action")),
    };
    let hlc = Hlc::zero(REVIEW_DEVICE).tick(Utc::now().timestamp_millis().max(0) as u64);
    let change = task_change(
        id,
        task.form_version,
        &task.grid,
        task.revision,
        hlc,
        fields,
    );
    let batch = push_tasks(&state, &r, vec![change]).await?;
    state
        .store
        .append_audit(r.audit(&form.action, format!("batch:{batch}"), detail))
        .await?;
    let notice = if form.action == "cancel" {
        "task_cancelled"
    } else {
        "task_reassigned"
    };
    let to = back_with(None, "/review/tasks/board", notice, 1, 0);
    Ok((StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response())
}

/// Filters of the board.
#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    grid: Option<String>,
}

/// Tasks of one person: done, open (not yet due), overdue.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    done: u64,
    open: u64,
    overdue: u64,
}

fn state_badge(r: &Reviewer, s: TaskState) -> Markup {
    match s {
        TaskState::Open => badge("blue", r.t("待办", "Open")),
        TaskState::Overdue => badge("red solid", r.t("逾期", "Overdue")),
        TaskState::Done => badge("green", r.t("已完成", "Done")),
        TaskState::Cancelled => badge("grey", r.t("已取消", "Cancelled")),
    }
}

/// Reassigning an open task to someone else of its grid, or cancelling it.
fn change_controls(r: &Reviewer, t: &TaskRow, people: &[&Account]) -> Markup {
    let action = format!("/review/tasks/{}/change", t.id);
    html! {
        details.change {
            summary { (r.t("改派或撤销", "Reassign or cancel")) }
            form.inline.reassign method="post" action=(action) {
                (csrf_field(r))
                input type="hidden" name="revision" value=(t.revision);
                select name="assignee" {
                    @for a in people.iter().filter(|a| a.info.badge != t.assignee) {
                        option value=(a.info.badge) { (a.info.name) " (" (a.info.badge) ")" }
                    }
                }
                button.small type="submit" name="action" value="reassign" { (r.t("改派", "Reassign")) }
            }
            form.inline.cancel method="post" action=(action) {
                (csrf_field(r))
                input type="hidden" name="revision" value=(t.revision);
                button.small.return type="submit" name="action" value="cancel" { (r.t("撤销任务", "Cancel the task")) }
            }
        }
    }
}

/// `GET /review/tasks/board`: progress by person, and every task with its state.
pub async fn board(
    State(state): State<AppState>,
    r: Reviewer,
    Query(q): Query<BoardQuery>,
    Query(nq): Query<NoticeQuery>,
) -> Result<Markup, ReviewError> {
    let today = Utc::now().with_timezone(&r.offset).date_naive();
    let grid = q.grid.as_deref().filter(|g| !g.is_empty()).map(GridId::new);
    let rows: Vec<TaskRow> = station_tasks(state.store.as_ref(), &r.scope)
        .await?
        .into_iter()
        .filter(|t| grid.as_ref().is_none_or(|g| &t.grid == g))
        .collect();
    let accounts = state.store.users().await?;
    let mut by_person: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for t in &rows {
        let tally = by_person
            .entry((t.assignee.clone(), t.assignee_name.clone()))
            .or_default();
        match t.state(today) {
            TaskState::Done => tally.done += 1,
            TaskState::Open => tally.open += 1,
            TaskState::Overdue => tally.overdue += 1,
            TaskState::Cancelled => {}
        }
    }
    let body = html! {
        div.page-head {
            h1 { (r.t("任务进度", "Task progress")) }
            p.muted {
                (r.t("按承办人统计已完成、待办和逾期的任务；保存对应记录后，任务在手机同步时标记完成。",
                     "Done, open and overdue tasks by person; a task is marked done when the matching record is saved and the phone syncs."))
                " " a.button.small #new-task href="/review/tasks" { (r.t("下派新任务", "Assign tasks")) }
            }
        }
        form.inline.grid-filter method="get" action="/review/tasks/board" {
            select name="grid" {
                option value="" { (r.t("全部网格", "All grids")) }
                @for g in &r.grids {
                    option value=(g.id) selected[grid.as_ref() == Some(&g.id)] { (g.name) }
                }
            }
            button.small type="submit" { (r.t("筛选", "Filter")) }
        }
        table.batches #by-person {
            thead { tr {
                th { (r.t("承办人", "Assignee")) }
                th { (r.t("已完成", "Done")) }
                th { (r.t("待办", "Open")) }
                th { (r.t("逾期", "Overdue")) }
            } }
            tbody {
                @for ((badge_no, name), t) in &by_person {
                    tr data-badge=(badge_no) {
                        td { (name) " " span.muted { (badge_no) } }
                        td.done { (t.done) }
                        td.open { (t.open) }
                        td.overdue .late[t.overdue > 0] { (t.overdue) }
                    }
                }
            }
        }
        @if rows.is_empty() {
            p.empty { (r.t("还没有下派任务。", "No tasks yet.")) }
        } @else {
            table.batches #tasks {
                thead { tr {
                    th { (r.t("任务", "Task")) }
                    th { (r.t("地点", "Place")) }
                    th { (r.t("承办人", "Assignee")) }
                    th { (r.t("期限", "Due")) }
                    th { (r.t("状态", "State")) }
                    th {}
                } }
                tbody {
                    @for t in &rows {
                        @let st = t.state(today);
                        tr id=(format!("task-{}", t.id)) data-state=(format!("{st:?}").to_lowercase()) {
                            td {
                                a href=(format!("/review/records/{}", t.id)) {
                                    @match t.kind {
                                        Some(k) => (kind_label(&r, k)),
                                        None => (layout::dash()),
                                    }
                                }
                                @if !t.instruction.is_empty() { div.small.muted { (t.instruction) } }
                            }
                            td {
                                @if let Some(target) = t.target {
                                    a href=(format!("/review/records/{target}")) { (if t.place.is_empty() { layout::dash() } else { html! { (t.place) } }) }
                                } @else { (t.place) }
                            }
                            td { (t.assignee_name) " " span.muted { (t.assignee) } }
                            td .late[st == TaskState::Overdue] { (t.due.map(|d| d.to_string()).unwrap_or_default()) }
                            td {
                                (state_badge(&r, st))
                                @if let Some(by) = &t.completed_by {
                                    " " a.small href=(format!("/review/records/{by}")) { (r.t("完成记录", "the record")) }
                                }
                            }
                            td.actions {
                                @if matches!(st, TaskState::Open | TaskState::Overdue) {
                                    (change_controls(&r, t, &assignees(&r, &accounts, Some(&t.grid))))
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &r,
        Nav::Tasks,
        r.t("任务进度", "Task progress"),
        layout::notice(&r, &nq),
        body,
    ))
}
