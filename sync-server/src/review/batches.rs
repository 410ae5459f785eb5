//! The batch list (each sync push from a device, newest first, with its
//! counts and review progress, filtered by grid, officer, form, date and
//! status), a batch with its records, and decisions on a whole batch.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::{BatchId, FormId, GridId, UserId};
use beatbook_schema::protocol::Role;
use beatbook_schema::text::Lang;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

use super::actions::{action_of, notice_of, parse_decision, reason_of, MAX_REASON_CHARS};
use super::error::ReviewError;
use super::i18n::local_time;
use super::layout::{self, back_with, badge, pager, Nav, NoticeQuery};
use super::records::{is_pending, CardExtra, Cards};
use super::reviewer::{csrf_field, Reviewer};
use super::values::short_id;
use crate::state::AppState;
use crate::sync::Forms;
use beatbook_store::{BatchFilter, BatchRow, BatchStatus, EditOutcome};

/// Batches per page.
const BATCHES_PER_PAGE: u32 = 30;
/// Records per page of a batch.
const RECORDS_PER_PAGE: usize = 20;

/// The order forms are listed in (the standard catalogue's), then the rest by id.
const FORM_ORDER: &[&str] = &form_ids::ALL;

/// Every published form (newest version), in catalogue order: id and title.
pub fn form_choices(forms: &Forms, lang: Lang) -> Vec<(String, String)> {
    let mut ids: Vec<String> = forms.all().map(|f| f.id().to_string()).collect();
    ids.sort_by_key(|id| {
        (
            FORM_ORDER
                .iter()
                .position(|f| f == id)
                .unwrap_or(usize::MAX),
            id.clone(),
        )
    });
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let title = forms.latest(&id)?.title().get(lang).to_owned();
            Some((id, title))
        })
        .collect()
}

/// A form's title.
pub fn form_title(forms: &Forms, id: &str, lang: Lang) -> String {
    forms
        .latest(id)
        .map_or_else(|| id.to_owned(), |f| f.title().get(lang).to_owned())
}

/// A local date (`YYYY-MM-DD`) as the UTC instant its day starts.
pub fn day_start(date: &str, offset: FixedOffset) -> Result<DateTime<Utc>, ReviewError> {
    let day = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
        ReviewError::bad_request(
            format!("日期格式应为 年-月-日：{date}"),
            format!("dates are written YYYY-MM-DD: {date}"),
        )
    })?;
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ReviewError::bad_request("日期无效", "invalid date"))
}

/// A range of instants: from (inclusive), before (exclusive); either may be open.
pub type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A date range `from`..=`to` (local dates) as UTC bounds.
pub fn day_range(
    from: Option<&str>,
    to: Option<&str>,
    offset: FixedOffset,
) -> Result<Bounds, ReviewError> {
    let from = from.map(|d| day_start(d, offset)).transpose()?;
    let before = to
        .map(|d| day_start(d, offset).map(|t| t + Duration::days(1)))
        .transpose()?;
    Ok((from, before))
}

/// Filters of the batch list, as the form sends them (empty means any).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    grid: Option<String>,
    officer: Option<String>,
    form: Option<String>,
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_status(s: &str) -> Option<BatchStatus> {
    match s {
        "pending" => Some(BatchStatus::Pending),
        "reviewed" => Some(BatchStatus::Reviewed),
        "conflicted" => Some(BatchStatus::Conflicted),
        "rejected" => Some(BatchStatus::Rejected),
        _ => None,
    }
}

/// `GET /review/batches`.
pub async fn list(
    State(state): State<AppState>,
    r: Reviewer,
    Query(q): Query<ListQuery>,
    Query(nq): Query<NoticeQuery>,
) -> Result<Markup, ReviewError> {
    let forms = state.recent_forms().await?;
    let page: u32 = given(&q.page)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let (from, before) = day_range(given(&q.from), given(&q.to), r.offset)?;
    let officers: Vec<(UserId, String, String)> = state
        .store
        .users()
        .await?
        .into_iter()
        .filter(|a| matches!(a.info.role, Role::Officer | Role::Auxiliary))
        .filter(|a| r.user.role == Role::Admin || a.info.station == r.user.station)
        .map(|a| (a.info.id, a.info.name, a.info.badge))
        .collect();
    let filter = BatchFilter {
        scope: r.scope.clone(),
        grid: given(&q.grid).map(GridId::new),
        officer: given(&q.officer).and_then(|o| o.parse().ok()),
        form: given(&q.form).map(FormId::new),
        received_from: from,
        received_before: before,
        status: given(&q.status).and_then(parse_status),
        limit: BATCHES_PER_PAGE,
        offset: (page - 1) * BATCHES_PER_PAGE,
    };
    let result = state.store.batch_page(filter).await?;
    let pages = (result.total as u32).div_ceil(BATCHES_PER_PAGE).max(1);
    let params = [
        ("grid", q.grid.clone().unwrap_or_default()),
        ("officer", q.officer.clone().unwrap_or_default()),
        ("form", q.form.clone().unwrap_or_default()),
        ("from", q.from.clone().unwrap_or_default()),
        ("to", q.to.clone().unwrap_or_default()),
        ("status", q.status.clone().unwrap_or_default()),
    ];
    let selected = |v: &Option<String>, option: &str| given(v) == Some(option);
    let body = html! {
        div.page-head {
            h1 { (r.t("同步批次", "Synced batches")) }
            p.muted {
                @match r.lang {
                    Lang::Zh => { "民警每次同步上传为一个批次。共 " strong { (result.total) } " 个批次符合条件。" }
                    Lang::En => { "Each sync from an officer's device is a batch. " strong { (result.total) } " match." }
                }
            }
        }
        form.filters method="get" action="/review/batches" {
            label { (r.t("网格", "Grid"))
                select name="grid" {
                    option value="" { (r.t("全部网格", "All grids")) }
                    @for g in &r.grids {
                        option value=(g.id) selected[selected(&q.grid, g.id.as_str())] { (g.name) }
                    }
                }
            }
            label { (r.t("民警", "Officer"))
                select name="officer" {
                    option value="" { (r.t("全部民警", "All officers")) }
                    @for (id, name, badge_no) in &officers {
                        option value=(id) selected[selected(&q.officer, &id.to_string())] { (name) "（" (badge_no) "）" }
                    }
                }
            }
            label { (r.t("表单", "Form"))
                select name="form" {
                    option value="" { (r.t("全部表单", "All forms")) }
                    @for (id, title) in form_choices(&forms, r.lang) {
                        option value=(id) selected[selected(&q.form, &id)] { (title) }
                    }
                }
            }
            label { (r.t("接收日期自", "Received from"))
                input type="date" name="from" value=[given(&q.from)]; }
            label { (r.t("至", "to"))
                input type="date" name="to" value=[given(&q.to)]; }
            label { (r.t("审核状态", "Status"))
                select name="status" {
                    option value="" { (r.t("全部", "Any")) }
                    @for (v, zh, en) in [("pending", "待审核", "Pending"), ("reviewed", "已审完", "Reviewed"),
                                         ("conflicted", "有冲突", "With conflicts"), ("rejected", "有拒收", "With rejections")] {
                        option value=(v) selected[selected(&q.status, v)] { (r.t(zh, en)) }
                    }
                }
            }
            div.buttons {
                button.primary type="submit" { (r.t("筛选", "Filter")) }
                a.button.plain href="/review/batches" { (r.t("清除", "Clear")) }
            }
        }
        @if result.rows.is_empty() {
            p.empty { (r.t("没有符合条件的批次。", "No batches match.")) }
        } @else {
            table.batches {
                thead { tr {
                    th { (r.t("接收时间", "Received")) }
                    th { (r.t("民警 / 设备", "Officer / device")) }
                    th { (r.t("记录", "Records")) }
                    th.num { (r.t("隐患", "Hazards")) }
                    th { (r.t("冲突 / 拒收", "Conflicts / rejected")) }
                    th { (r.t("审核进度", "Review progress")) }
                    th {}
                } }
                tbody {
                    @for row in &result.rows { (batch_row(&r, &forms, row)) }
                }
            }
            (pager(&r, &params, page, pages))
        }
    };
    Ok(layout::page(
        &r,
        Nav::Batches,
        r.t("同步批次", "Batches"),
        layout::notice(&r, &nq),
        body,
    ))
}

fn batch_row(r: &Reviewer, forms: &Forms, row: &BatchRow) -> Markup {
    let href = format!("/review/batches/{}", row.summary.id);
    let p = &row.progress;
    html! {
        tr {
            td {
                a.strong href=(href) { (local_time(row.summary.received_at, r.offset)) }
                div.small.muted.mono { (short_id(&row.summary.id.to_string())) }
            }
            td {
                div { (row.officer) span.muted { "（" (row.badge) "）" } }
                div.small.muted { (row.device_name) }
            }
            td { (form_chips(r, forms, &row.forms)) }
            td.num {
                @match row.forms.get(form_ids::HAZARD) { Some(n) => strong { (n) }, None => span.muted { "0" } }
            }
            td {
                @if row.summary.conflicts > 0 { (badge("red", &format!("{} {}", r.t("冲突", "conflicts"), row.summary.conflicts))) " " }
                @if row.summary.rejected > 0 { (badge("grey", &format!("{} {}", r.t("拒收", "rejected"), row.summary.rejected))) }
                @if row.summary.conflicts == 0 && row.summary.rejected == 0 { span.muted { (layout::dash()) } }
            }
            td { (progress(r, p)) }
            td { a.button.small href=(href) { (if p.pending > 0 { r.t("审核", "Review") } else { r.t("查看", "Open") }) " ›" } }
        }
    }
}

/// Counts per form as chips.
pub fn form_chips(
    r: &Reviewer,
    forms: &Forms,
    counts: &std::collections::BTreeMap<String, u64>,
) -> Markup {
    let mut ordered: Vec<(&String, &u64)> = counts.iter().collect();
    ordered.sort_by_key(|(id, _)| {
        FORM_ORDER
            .iter()
            .position(|f| f == id)
            .unwrap_or(usize::MAX)
    });
    html! {
        div.chips {
            @for (id, n) in ordered {
                span.chip { (form_title(forms, id, r.lang)) " " strong { (n) } }
            }
            @if counts.is_empty() { span.muted { (layout::dash()) } }
        }
    }
}

/// A progress bar: approved, returned, pending.
pub fn progress(r: &Reviewer, p: &beatbook_store::ReviewProgress) -> Markup {
    let total = p.total().max(1) as f64;
    // The bar's widths are set by classes of 5% steps, since the
    // Content-Security-Policy forbids inline styles.
    let step = |n: u64| ((n as f64 * 20.0 / total).round() as u64).min(20);
    html! {
        div.progress title=(format!("{} {} · {} {} · {} {}",
            r.t("通过", "approved"), p.approved, r.t("退回", "returned"), p.returned, r.t("待审", "pending"), p.pending)) {
            div.bar {
                span class=(format!("ok w{}", step(p.approved))) {}
                span class=(format!("warn w{}", step(p.returned))) {}
                span class=(format!("old w{}", step(p.superseded))) {}
            }
            div.small {
                @if p.pending == 0 && p.total() > 0 { span.done { "✓ " (r.t("已审完", "reviewed")) } }
                @else { (r.t("待审", "pending")) " " strong { (p.pending) } }
                @if p.approved > 0 { span.muted { " · " (r.t("通过", "approved")) " " (p.approved) } }
                @if p.returned > 0 { span.warn-text { " · " (r.t("退回", "returned")) " " (p.returned) } }
                @if p.superseded > 0 { span.muted { " · " (r.t("已在后续批次修改", "edited later")) " " (p.superseded) } }
            }
        }
    }
}

/// Query of a batch page.
#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    page: Option<String>,
}

/// `GET /review/batches/{id}`.
pub async fn show(
    State(state): State<AppState>,
    r: Reviewer,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
    Query(nq): Query<NoticeQuery>,
) -> Result<Markup, ReviewError> {
    let id: BatchId = id.parse().map_err(|_| ReviewError::not_found())?;
    let Some(row) = state.store.batch_row(id, r.scope.clone()).await? else {
        return Err(ReviewError::not_found());
    };
    let entries = state.store.batch_entries(id, r.scope.clone()).await?;
    let forms = state.recent_forms().await?;
    let pending = entries
        .iter()
        .filter(|e| is_pending(&e.record, e.superseded_by.is_some()))
        .count();
    let pages = entries.len().div_ceil(RECORDS_PER_PAGE).max(1) as u32;
    let page = given(&q.page)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1u32)
        .clamp(1, pages);
    let shown: Vec<_> = entries
        .iter()
        .skip((page as usize - 1) * RECORDS_PER_PAGE)
        .take(RECORDS_PER_PAGE)
        .collect();
    let mut conflicts = HashMap::new();
    for e in &shown {
        if e.record.conflicted
            || matches!(
                e.outcome,
                Some(beatbook_schema::protocol::ChangeOutcome::Conflicted { .. })
            )
        {
            conflicts.insert(
                e.record.id,
                state.store.record_conflicts(e.record.id).await?,
            );
        }
    }
    let records: Vec<_> = shown.iter().map(|e| &e.record).collect();
    let cards = Cards::load(&state, &r, &forms, &records).await?;
    let action = format!("/review/batches/{id}/decide");
    let title = format!(
        "{} · {}",
        row.officer,
        local_time(row.summary.received_at, r.offset)
    );
    let body = html! {
        nav.crumbs {
            a href="/review/batches" { (r.t("同步批次", "Batches")) } " › " span { (title) }
        }
        section.batch-head {
            div {
                h1 { (row.officer) span.muted { "（" (row.badge) "）" } }
                p.muted {
                    (r.t("设备", "Device")) "：" (row.device_name) " · "
                    (r.t("接收于", "Received")) " " (local_time(row.summary.received_at, r.offset)) " · "
                    (r.t("批次号", "Batch")) " " span.mono { (short_id(&id.to_string())) }
                }
                (form_chips(&r, &forms, &row.forms))
                p.small {
                    @if row.summary.conflicts > 0 { (badge("red", &format!("{} {}", r.t("冲突", "conflicts"), row.summary.conflicts))) " " }
                    @if row.summary.rejected > 0 {
                        (badge("grey", &format!("{} {}", r.t("拒收", "rejected"), row.summary.rejected)))
                        span.muted { " " (r.t("（被服务器拒收的修改不会保存，民警手机上会显示原因）", "(refused changes are not stored; the officer's phone shows why)")) }
                    }
                }
            }
            div.batch-progress { (progress(&r, &row.progress)) }
        }
        @if pending > 0 {
            section.batch-actions {
                div.lead {
                    @match r.lang {
                        Lang::Zh => { "本批次还有 " strong { (pending) } " 条记录待审核。" }
                        Lang::En => { strong { (pending) } " record(s) of this batch wait for a decision." }
                    }
                }
                form.inline method="post" action=(action) {
                    (csrf_field(&r))
                    input type="hidden" name="back" value=(r.here);
                    button.approve type="submit" name="decision" value="approve" {
                        (r.t("全部通过", "Approve all pending"))
                    }
                }
                details.return {
                    summary.button.return { (r.t("全部退回…", "Return all pending…")) }
                    form method="post" action=(action) {
                        (csrf_field(&r))
                        input type="hidden" name="back" value=(r.here);
                        input type="hidden" name="decision" value="return";
                        label { (r.t("退回原因（必填）", "Reason (required)"))
                            textarea name="reason" rows="2" maxlength=(MAX_REASON_CHARS) required {} }
                        button.return type="submit" { (r.t("确认全部退回", "Return them all")) }
                    }
                }
            }
        }
        @if entries.is_empty() {
            p.empty { (r.t("该批次没有写入您管辖范围内的记录。", "This batch wrote no records in your scope.")) }
        }
        @for e in &shown {
            (cards.card(&e.record, CardExtra {
                superseded_by: e.superseded_by,
                outcome: e.outcome.as_ref(),
                conflicts: conflicts.get(&e.record.id).map_or(&[], Vec::as_slice),
                actions: true,
            }))
        }
        (pager(&r, &[], page, pages))
    };
    Ok(layout::page(
        &r,
        Nav::Batches,
        &title,
        layout::notice(&r, &nq),
        body,
    ))
}

/// The decision form of a whole batch.
#[derive(Debug, Deserialize)]
pub struct BatchDecideForm {
    decision: String,
    reason: Option<String>,
    back: Option<String>,
}

/// `POST /review/batches/{id}/decide`: approves or returns every record of
/// the batch still waiting for a decision.
pub async fn review_batch(
    State(state): State<AppState>,
    r: Reviewer,
    Path(id): Path<String>,
    Form(form): Form<BatchDecideForm>,
) -> Result<Response, ReviewError> {
    let id: BatchId = id.parse().map_err(|_| ReviewError::not_found())?;
    let review = parse_decision(&r, &form.decision, form.reason.as_deref())?;
    if state.store.batch_row(id, r.scope.clone()).await?.is_none() {
        return Err(ReviewError::not_found());
    }
    let expected: HashMap<_, _> = state
        .store
        .batch_entries(id, r.scope.clone())
        .await?
        .into_iter()
        .filter(|e| is_pending(&e.record, e.superseded_by.is_some()))
        .map(|e| (e.record.id, e.record.revision))
        .collect();
    let ids: Vec<_> = expected.keys().copied().collect();
    let action = action_of(&review);
    let reason = reason_of(&review);
    let entry = r.audit(action, format!("batch:{id}"), json!({}));
    let results = state
        .store
        .edit_records(
            ids,
            super::rules::review(r.scope.clone(), expected, review, true),
            Box::new(move |results| {
                let written: Vec<String> = results
                    .iter()
                    .filter(|(_, o)| matches!(o, EditOutcome::Written { .. }))
                    .map(|(id, _)| id.to_string())
                    .collect();
                (!written.is_empty()).then(|| beatbook_store::NewAudit {
                    detail: json!({
                        "records": written,
                        "skipped": results.len() - written.len(),
                        "reason": reason,
                    }),
                    ..entry
                })
            }),
        )
        .await?;
    let written = results
        .iter()
        .filter(|(_, o)| matches!(o, EditOutcome::Written { .. }))
        .count();
    let to = back_with(
        form.back.as_deref(),
        &format!("/review/batches/{id}"),
        notice_of(action),
        written,
        results.len() - written,
    );
    Ok((StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response())
}
