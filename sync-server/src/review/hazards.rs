//! The hazard board: open → rectifying → rectified → verified, overdue
//! first, with before and after photos and each hazard's history. The
//! supervisor sets a hazard's deadline and responsible party, and checks a
//! rectification: passed (verified) or failed with a reason (back to
//! rectifying); each step is a new version the devices pull.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use beatbook_schema::catalogue::{form_ids, hazard};
use beatbook_schema::form::FormDef;
use beatbook_schema::ids::{GridId, RecordId};
use beatbook_schema::text::Lang;
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::actions::{edit_one, MAX_REASON_CHARS};
use super::error::ReviewError;
use super::hazard_history::{Authors, HazardEvent};
use super::i18n::local_time;
use super::layout::{self, badge, Nav, NoticeQuery};
use super::records::{def_of, photos, Cards};
use super::reviewer::{csrf_field, Reviewer};
use super::rules::{self, HazardStep};
use super::values::{self, choice_label, Shown};
use crate::state::AppState;
use beatbook_store::{HazardQuery, StoredRecord};

/// Most hazards on one page.
const MAX_HAZARDS: u32 = 300;

/// The statuses, in workflow order.
const STATUSES: [&str; 4] = hazard::STATUSES;

/// Filters of the board.
#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    status: Option<String>,
    grid: Option<String>,
}

fn text_field<'a>(record: &'a StoredRecord, name: &str) -> Option<&'a str> {
    record.fields.get(name).and_then(|s| s.value.as_str())
}

fn status_class(status: &str) -> &'static str {
    match status {
        "open" => "red",
        "rectifying" => "amber",
        "rectified" => "blue",
        "verified" => "green",
        _ => "grey",
    }
}

fn severity_class(severity: &str) -> &'static str {
    match severity {
        "critical" => "red solid",
        "high" => "red",
        "medium" => "amber",
        _ => "grey",
    }
}

/// `GET /review/hazards`.
pub async fn board(
    State(state): State<AppState>,
    r: Reviewer,
    Query(q): Query<BoardQuery>,
    Query(nq): Query<NoticeQuery>,
) -> Result<Markup, ReviewError> {
    let today = Utc::now().with_timezone(&r.offset).date_naive();
    let status = q
        .status
        .as_deref()
        .filter(|s| STATUSES.contains(s))
        .map(str::to_owned);
    let grid = q.grid.as_deref().filter(|g| !g.is_empty()).map(GridId::new);
    let counts = state
        .store
        .hazard_counts(r.scope.clone(), grid.clone(), today.to_string())
        .await?;
    let hazards = state
        .store
        .hazards(HazardQuery {
            scope: r.scope.clone(),
            status: status.clone(),
            grid: grid.clone(),
            today: today.to_string(),
            limit: MAX_HAZARDS,
        })
        .await?;
    let forms = state.recent_forms().await?;
    let def = forms.latest(form_ids::HAZARD).map(|f| f.def().clone());
    let records: Vec<&StoredRecord> = hazards.iter().collect();
    let cards = Cards::load(&state, &r, &forms, &records).await?;
    let mut authors = Authors::load(&state, &r).await?;
    let mut histories = Vec::with_capacity(hazards.len());
    for h in &hazards {
        histories.push(authors.history(&state, &r, h).await?);
    }
    let label = |s: &str| {
        def.as_ref()
            .map_or_else(|| s.to_owned(), |d| choice_label(d, "status", s, r.lang))
    };
    let total: u64 = counts.by_status.values().sum();
    let tab = |value: &str, text: String, n: u64| {
        let mut href = format!("/review/hazards?status={value}");
        if let Some(g) = &grid {
            href.push_str(&format!("&grid={g}"));
        }
        let active = status.as_deref().unwrap_or("") == value;
        html! { a.tab .active[active] href=(href) { (text) " " span.count { (n) } } }
    };
    let body = html! {
        div.page-head {
            h1 { (r.t("隐患整改", "Hazard rectification")) }
            p.muted {
                (r.t("待整改 → 整改中 → 已整改（附整改后照片）→ 已复查。逾期未整改的排在最前。",
                     "Open → rectifying → rectified (with after-photos) → verified. Overdue ones come first."))
            }
        }
        div.tabs {
            (tab("", r.t("全部", "All").to_owned(), total))
            @for s in STATUSES {
                (tab(s, label(s), counts.by_status.get(s).copied().unwrap_or(0)))
            }
            @if counts.overdue > 0 {
                span.overdue-count { (badge("red solid", &format!("{} {}", r.t("逾期", "overdue"), counts.overdue))) }
            }
            form.inline.grid-filter method="get" action="/review/hazards" {
                @if let Some(s) = &status { input type="hidden" name="status" value=(s); }
                select name="grid" {
                    option value="" { (r.t("全部网格", "All grids")) }
                    @for g in &r.grids {
                        option value=(g.id) selected[grid.as_ref() == Some(&g.id)] { (g.name) }
                    }
                }
                button.small type="submit" { (r.t("筛选", "Filter")) }
            }
        }
        @if hazards.is_empty() {
            p.empty { (r.t("没有符合条件的隐患。", "No hazards match.")) }
        }
        div.hazards {
            @for (h, history) in hazards.iter().zip(&histories) {
                @if let Some(d) = def_of(&forms, h) { (hazard_card(&cards, d, h, history, today)) }
            }
        }
    };
    Ok(layout::page(
        &r,
        Nav::Hazards,
        r.t("隐患整改", "Hazards"),
        layout::notice(&r, &nq),
        body,
    ))
}

fn hazard_card(
    cards: &Cards<'_>,
    def: &FormDef,
    h: &StoredRecord,
    history: &[HazardEvent],
    today: NaiveDate,
) -> Markup {
    let r = cards.r;
    let status = text_field(h, "status").unwrap_or("open");
    let severity = text_field(h, "severity").unwrap_or("");
    let deadline =
        text_field(h, "deadline").and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let overdue_days = deadline
        .filter(|_| matches!(status, "open" | "rectifying"))
        .map(|d| (today - d).num_days())
        .filter(|days| *days > 0);
    let label = |list: &str, v: &str| choice_label(def, list, v, r.lang);
    let back = format!("{}#h-{}", r.here.split('#').next().unwrap_or(""), h.id);
    let fmt = values::Fmt {
        lang: r.lang,
        offset: r.offset,
    };
    let field_value = |name: &str| -> Option<Markup> {
        let f = values::field(def, name)?;
        let shown = values::show(def, f, h.fields.get(name).map(|s| &s.value)?, fmt)?;
        Some(cards.value(&shown))
    };
    let photo_list = |name: &str| -> Vec<beatbook_schema::ids::Sha256> {
        match values::field(def, name)
            .and_then(|f| values::show(def, f, h.fields.get(name).map(|s| &s.value)?, fmt))
        {
            Some(Shown::Photos(p)) => p,
            _ => Vec::new(),
        }
    };
    let before = photo_list("photos");
    let after = photo_list("after_photos");
    let category = text_field(h, "category")
        .map(|c| label("hazard_category", c))
        .unwrap_or_default();
    let venue = text_field(h, "venue_kind").map(|v| label("venue_kind", v));
    html! {
        article.hazard .overdue[overdue_days.is_some()] id=(format!("h-{}", h.id)) {
            header {
                div.title {
                    a href=(format!("/review/records/{}", h.id)) { (category) }
                    @if let Some(v) = &venue { span.muted { " · " (v) } }
                }
                div.meta {
                    (badge(status_class(status), &label("status", status)))
                    @if !severity.is_empty() {
                        (badge(severity_class(severity), &format!("{} {}", r.t("严重程度", "Severity"), label("severity", severity))))
                    }
                    @if let Some(days) = overdue_days {
                        (badge("red solid", &match r.lang {
                            Lang::Zh => format!("逾期 {days} 天"),
                            Lang::En => format!("{days} days overdue"),
                        }))
                    }
                }
            }
            @if let Some(d) = text_field(h, "description") { p.desc { (d) } }
            dl.facts {
                div { dt { (r.t("网格", "Grid")) } dd { (r.grid_name(h.grid.as_str())) } }
                div { dt { (r.t("位置", "Place")) } dd {
                    @if let Some(a) = field_value("address") { (a) } @else if let Some(l) = field_value("location") { (l) } @else { (layout::dash()) }
                } }
                div { dt { (r.t("上报人", "Reported by")) } dd { (cards.person(&h.author)) } }
                div { dt { (r.t("发现日期", "Found on")) } dd { (text_field(h, "found_date").unwrap_or("—")) } }
                div { dt { (r.t("整改期限", "Rectify by")) } dd .late[overdue_days.is_some()] { (text_field(h, "deadline").unwrap_or("—")) } }
                div { dt { (r.t("责任人", "Responsible")) } dd {
                    (text_field(h, "responsible_party").unwrap_or("—"))
                    @if let Some(p) = text_field(h, "responsible_phone") { span.muted { " " (p) } }
                } }
                @if let Some(d) = text_field(h, "rectified_date") {
                    div { dt { (r.t("整改完成", "Rectified on")) } dd { (d) } }
                }
            }
            div.before-after {
                div {
                    h5 { (r.t("整改前", "Before")) }
                    @if before.is_empty() { span.muted { (layout::dash()) } } @else { (photos(r, &before)) }
                }
                div {
                    h5 { (r.t("整改后", "After")) }
                    @if after.is_empty() { span.muted { (r.t("尚未上传", "not yet")) } } @else { (photos(r, &after)) }
                }
            }
            @if let Some(n) = text_field(h, "rectified_note") { p.small { strong { (r.t("整改说明：", "Notes: ")) } (n) } }
            @if text_field(h, hazard::VERIFICATION) == Some(hazard::FAILED) && status != hazard::VERIFIED {
                p.note.warn.verify-reason {
                    strong { (r.t("复查未通过：", "Verification failed: ")) }
                    (text_field(h, hazard::VERIFICATION_REASON).unwrap_or("—"))
                }
            }
            (history_list(r, &label, history))
            footer.actions {
                a.button.plain.small href=(format!("/review/records/{}", h.id)) { (r.t("详情与历史", "Details and history")) }
                @if status == hazard::RECTIFIED {
                    form.inline.verify-pass method="post" action=(format!("/review/hazards/{}/verify", h.id)) {
                        (hidden(r, h, &back))
                        input type="hidden" name="outcome" value="pass";
                        button.approve type="submit" { (r.t("复查通过", "Verify rectification")) }
                    }
                    form.inline.verify-fail method="post" action=(format!("/review/hazards/{}/verify", h.id)) {
                        (hidden(r, h, &back))
                        input type="hidden" name="outcome" value="fail";
                        input type="text" name="reason" required maxlength=(MAX_REASON_CHARS)
                            placeholder=(r.t("未通过的原因（必填）", "Why it fails (required)"));
                        button.return type="submit" { (r.t("复查未通过", "Fail verification")) }
                    }
                }
                @if status != hazard::VERIFIED {
                    details.assign {
                        summary { (r.t("整改期限与责任人", "Deadline and responsible party")) }
                        form.assign method="post" action=(format!("/review/hazards/{}/assign", h.id)) {
                            (hidden(r, h, &back))
                            label { (r.t("整改期限", "Rectify by"))
                                input type="date" name="deadline" value=(text_field(h, hazard::DEADLINE).unwrap_or(""));
                            }
                            label { (r.t("责任人/责任单位", "Responsible party"))
                                input type="text" name="responsible_party" maxlength="100" value=(text_field(h, hazard::RESPONSIBLE_PARTY).unwrap_or(""));
                            }
                            label { (r.t("责任人电话", "Their phone"))
                                input type="tel" name="responsible_phone" value=(text_field(h, hazard::RESPONSIBLE_PHONE).unwrap_or(""));
                            }
                            button.primary.small type="submit" { (r.t("保存", "Save")) }
                        }
                    }
                }
            }
        }
    }
}

/// The revision seen and the way back, in every form of a card.
fn hidden(r: &Reviewer, h: &StoredRecord, back: &str) -> Markup {
    html! {
        (csrf_field(r))
        input type="hidden" name="revision" value=(h.revision);
        input type="hidden" name="back" value=(back);
    }
}

/// A hazard's history on its card: each status it reached, when, by whom,
/// with a failed verification's reason.
fn history_list(
    r: &Reviewer,
    label: &dyn Fn(&str, &str) -> String,
    history: &[HazardEvent],
) -> Markup {
    html! {
        @if !history.is_empty() {
            ol.hazard-history {
                @for e in history {
                    li data-status=(e.status) {
                        span.when { (local_time(e.at, r.offset)) }
                        " " (badge(status_class(&e.status), &label("status", &e.status)))
                        @if let Some(v) = &e.verification {
                            " " span.verification { (r.t("复查", "check")) " " (label("verification", v)) }
                        }
                        @if let Some(d) = &e.deadline {
                            " " span.deadline { (r.t("期限 ", "due ")) (d) }
                        }
                        @if let Some(by) = &e.by { " · " span.by { (by) } }
                        @if let Some(reason) = &e.reason { " · " span.reason { (reason) } }
                    }
                }
            }
        }
    }
}

/// Takes `step` on hazard `id` as its card's form asked, with its audit entry.
async fn take(
    state: &AppState,
    r: &Reviewer,
    id: &str,
    (revision, back): (Option<u64>, Option<&str>),
    step: HazardStep,
    detail: Json,
    notice: &str,
) -> Result<Response, ReviewError> {
    let id: RecordId = id.parse().map_err(|_| ReviewError::not_found())?;
    let revision = revision.unwrap_or(0);
    let mut detail = detail;
    detail["revision"] = json!(revision);
    let entry = r.audit(step.action(), format!("record:{id}"), detail);
    let edit = rules::hazard_step(
        r.scope.clone(),
        revision,
        step,
        state.recent_forms().await?,
        Utc::now(),
        state.policy.local_offset,
    );
    edit_one(state, id, edit, entry, (back, "/review/hazards"), notice).await
}

/// The verification form: pass, or fail with a reason.
#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    revision: Option<u64>,
    back: Option<String>,
    outcome: Option<String>,
    reason: Option<String>,
}

/// `POST /review/hazards/{id}/verify`: `outcome=pass` verifies the
/// rectification; `outcome=fail` with a `reason` sends it back to rectifying.
pub async fn verify(
    State(state): State<AppState>,
    r: Reviewer,
    Path(id): Path<String>,
    Form(form): Form<VerifyForm>,
) -> Result<Response, ReviewError> {
    let at = (form.revision, form.back.as_deref());
    match form.outcome.as_deref().unwrap_or("pass") {
        "pass" => {
            let detail = json!({ "status": hazard::VERIFIED });
            take(&state, &r, &id, at, HazardStep::Pass, detail, "verified").await
        }
        "fail" => {
            let reason = form.reason.as_deref().map(str::trim).unwrap_or("");
            if reason.is_empty() {
                return Err(ReviewError::page(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "复查未通过时必须填写原因，整改人需要知道还要改什么",
                    "a failed verification needs a reason: whoever rectifies it needs to know what is still wrong",
                ));
            }
            if reason.chars().count() > MAX_REASON_CHARS {
                return Err(ReviewError::page(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    format!("原因最多 {MAX_REASON_CHARS} 字"),
                    format!("the reason may have at most {MAX_REASON_CHARS} characters"),
                ));
            }
            let detail = json!({ "status": hazard::RECTIFYING, "reason": reason });
            let step = HazardStep::Fail {
                reason: reason.to_owned(),
            };
            take(&state, &r, &id, at, step, detail, "verify_failed").await
        }
        _ => Err(ReviewError::bad_request(
            "未知的复查结果",
            "unknown verification outcome",
        )),
    }
}

/// The deadline and responsible party form (an empty box clears the value).
#[derive(Debug, Deserialize)]
pub struct AssignForm {
    revision: Option<u64>,
    back: Option<String>,
    deadline: Option<String>,
    responsible_party: Option<String>,
    responsible_phone: Option<String>,
}

/// `POST /review/hazards/{id}/assign`: sets the deadline, the responsible
/// party and their phone.
pub async fn assign(
    State(state): State<AppState>,
    r: Reviewer,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response, ReviewError> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let deadline = given(&form.deadline);
    if let Some(d) = &deadline {
        if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            return Err(ReviewError::page(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "整改期限不是有效日期（应为 年-月-日）",
                "the deadline is not a date (year-month-day)",
            ));
        }
    }
    let detail = json!({ "deadline": deadline });
    let step = HazardStep::Assign {
        deadline,
        party: given(&form.responsible_party),
        phone: given(&form.responsible_phone),
    };
    let at = (form.revision, form.back.as_deref());
    take(&state, &r, &id, at, step, detail, "hazard_assigned").await
}
