//! The audit log: every decision, verification, export and sign-in, who,
//! what, when. Supervisors see their station's entries; admins see all.

use axum::extract::{Query, State};
use beatbook_schema::protocol::Role;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value as Json;

use super::error::ReviewError;
use super::i18n::local_time;
use super::layout::{self, pager, Nav};
use super::reviewer::Reviewer;
use crate::state::AppState;
use beatbook_store::{AuditEntry, AuditQuery};

/// Entries per page.
const PER_PAGE: u32 = 50;

/// The actions, with their names.
const ACTIONS: &[(&str, &str, &str)] = &[
    ("approve", "审核通过", "Approved"),
    ("return", "退回", "Returned"),
    ("verify", "隐患复查", "Hazard verified"),
    ("assign", "下派任务", "Tasks assigned"),
    ("reassign", "改派任务", "Task reassigned"),
    ("cancel", "撤销任务", "Task cancelled"),
    (
        "verify_fail",
        "隐患复查未通过",
        "Hazard verification failed",
    ),
    (
        "hazard_assign",
        "隐患整改期限与责任人",
        "Hazard deadline and responsible party",
    ),
    ("export", "导出", "Export"),
    ("sign_in", "登录", "Signed in"),
    ("sign_out", "退出", "Signed out"),
    ("user_add", "新建账号", "Account created"),
    ("user_role", "修改角色与网格", "Role and grids changed"),
    ("user_password", "重置密码", "Password reset"),
    ("user_disable", "停用账号", "Account disabled"),
    ("user_enable", "启用账号", "Account enabled"),
    ("station_add", "添加派出所", "Station added"),
    ("grid_add", "添加网格", "Grid added"),
    ("device_revoke", "注销设备", "Device revoked"),
    ("form_publish", "发布表单", "Form published"),
    ("form_retire", "停用表单", "Form retired"),
    ("enroll_code", "生成绑定码", "Enrollment code made"),
    (
        "enroll_code_used",
        "扫码绑定设备",
        "Device enrolled with a code",
    ),
];

/// Filters of the log.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    action: Option<String>,
    page: Option<String>,
}

fn action_name(r: &Reviewer, action: &str) -> String {
    ACTIONS
        .iter()
        .find(|(a, _, _)| *a == action)
        .map_or_else(|| action.to_owned(), |(_, zh, en)| r.t(zh, en).to_owned())
}

fn target(r: &Reviewer, e: &AuditEntry) -> Markup {
    let t = &e.entry.target;
    match t.split_once(':') {
        Some(("record", id)) => {
            html! { a href=(format!("/review/records/{id}")) { (r.t("记录", "Record")) " " span.mono { (super::values::short_id(id)) } } }
        }
        Some(("batch", id)) => {
            html! { a href=(format!("/review/batches/{id}")) { (r.t("批次", "Batch")) " " span.mono { (super::values::short_id(id)) } } }
        }
        Some(("form", id)) => html! { (r.t("表单", "Form")) " " code { (id) } },
        Some(("user", badge)) => html! { (r.t("账号", "Account")) " " span.mono { (badge) } },
        Some(("device", id)) => {
            html! { (r.t("设备", "Device")) " " span.mono { (super::values::short_id(id)) } }
        }
        Some(("station", id)) => html! { (r.t("派出所", "Station")) " " span.mono { (id) } },
        Some(("grid", id)) => html! { (r.t("网格", "Grid")) " " span.mono { (id) } },
        _ if t.is_empty() => layout::dash(),
        _ => html! { (t) },
    }
}

fn detail(r: &Reviewer, e: &AuditEntry) -> Markup {
    let d = &e.entry.detail;
    let s = |k: &str| d.get(k).and_then(Json::as_str);
    html! {
        @if let Some(reason) = s("reason") { span { (r.t("原因：", "Reason: ")) (reason) } }
        @if let Some(records) = d.get("records").and_then(Json::as_array) {
            span { (records.len()) " " (r.t("条记录", "records")) }
            @if let Some(n) = d.get("skipped").and_then(Json::as_u64).filter(|n| *n > 0) {
                span.muted { " · " (r.t("跳过", "skipped")) " " (n) }
            }
        }
        @if let Some(format) = s("format") {
            span { (format.to_uppercase()) }
            @if let Some(part) = s("part") { span { " · " (part) } }
            span.muted {
                " · " (s("from").unwrap_or("…")) " — " (s("to").unwrap_or("…"))
                @if let Some(g) = s("grid") { " · " (r.grid_name(g)) }
            }
        }
        @if let Some(v) = d.get("version").and_then(Json::as_u64) { span { "v" (v) } }
        @if let Some(role) = s("role") { span { (role) } }
        @if let Some(grids) = d.get("grids").and_then(Json::as_array).filter(|g| !g.is_empty()) {
            span.muted { " · " (grids.iter().filter_map(Json::as_str).collect::<Vec<_>>().join(", ")) }
        }
        @if let Some(rev) = d.get("revision").and_then(Json::as_u64) {
            span.muted { " · " (r.t("版本", "rev.")) " " (rev) }
        }
    }
}

/// `GET /review/audit`.
pub async fn page(
    State(state): State<AppState>,
    r: Reviewer,
    Query(q): Query<LogQuery>,
) -> Result<Markup, ReviewError> {
    let page: u32 = q
        .page
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let action = q
        .action
        .as_deref()
        .filter(|a| ACTIONS.iter().any(|(x, _, _)| x == a))
        .map(str::to_owned);
    let (entries, total) = state
        .store
        .audit_log(AuditQuery {
            station: (r.user.role != Role::Admin).then(|| r.user.station.clone()),
            action: action.clone(),
            limit: PER_PAGE,
            offset: (page - 1) * PER_PAGE,
        })
        .await?;
    let pages = (total as u32).div_ceil(PER_PAGE).max(1);
    let body = html! {
        div.page-head {
            h1 { (r.t("审计日志", "Audit log")) }
            p.muted { (r.t("每一次审核决定、隐患复查、数据导出和登录都记录在此，不可修改。",
                           "Every decision, verification, export and sign-in is recorded here and cannot be changed.")) }
        }
        form.filters method="get" action="/review/audit" {
            label { (r.t("操作", "Action"))
                select name="action" {
                    option value="" { (r.t("全部", "All")) }
                    @for (a, zh, en) in ACTIONS {
                        option value=(a) selected[action.as_deref() == Some(*a)] { (r.t(zh, en)) }
                    }
                }
            }
            div.buttons { button.primary type="submit" { (r.t("筛选", "Filter")) } }
        }
        @if entries.is_empty() {
            p.empty { (r.t("暂无记录。", "Nothing yet.")) }
        } @else {
            table.audit {
                thead { tr {
                    th { (r.t("时间", "When")) }
                    th { (r.t("操作人", "Who")) }
                    th { (r.t("操作", "What")) }
                    th { (r.t("对象", "On")) }
                    th { (r.t("详情", "Details")) }
                } }
                tbody {
                    @for e in &entries {
                        tr {
                            td.nowrap { (local_time(e.entry.at, r.offset)) }
                            td { (e.entry.name) span.muted { "（" (e.entry.badge) "）" } }
                            td { span class=(format!("action {}", e.entry.action)) { (action_name(&r, &e.entry.action)) } }
                            td { (target(&r, e)) }
                            td.small { (detail(&r, e)) }
                        }
                    }
                }
            }
            (pager(&r, &[("action", action.clone().unwrap_or_default())], page, pages))
        }
    };
    Ok(layout::page(
        &r,
        Nav::Audit,
        r.t("审计日志", "Audit log"),
        None,
        body,
    ))
}
