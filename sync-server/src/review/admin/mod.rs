//! The administrators' pages (管理), beside the review pages and under the
//! same sign-in, CSRF guard and audit log: accounts, stations and grids,
//! devices and forms. Every page refuses anyone but an admin ([`Admin`]);
//! every change goes through the function the command line calls
//! ([`crate::accounts`], [`AppState::publish_form`],
//! [`AppState::retire_form`]) and is written to the audit log.

mod devices;
mod forms;
mod org;
mod preview;
mod users;

use axum::extract::FromRequestParts;
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use beatbook_schema::protocol::Role;
use beatbook_schema::text::Text;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ReviewError;
use super::layout::{self, Nav};
use super::links::form_urlencoded_component;
use super::reviewer::Reviewer;
use crate::accounts::AccountError;
use crate::state::AppState;

/// The routes under `/review/admin`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { see_other("/review/admin/users") }))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{badge}", get(users::show))
        .route("/users/{badge}/role", post(users::set_role))
        .route("/users/{badge}/status", post(users::set_status))
        .route("/users/{badge}/password", post(users::reset_password))
        .route("/org", get(org::show))
        .route("/org/stations", post(org::add_station))
        .route("/org/grids", post(org::add_grid))
        .route("/devices", get(devices::list))
        .route(
            "/devices/{id}/revoke",
            get(devices::confirm).post(devices::revoke),
        )
        .route("/forms", get(forms::list))
        .route("/forms/preview", post(forms::preview))
        .route("/forms/publish", post(forms::publish))
        .route("/forms/{id}/retire", post(forms::retire))
}

/// The path of the upload that carries a workbook (a multipart form, which
/// the guard reads its CSRF token from).
pub const UPLOAD_PATH: &str = "/review/admin/forms/preview";
/// The path of the form that publishes a previewed workbook (it carries the
/// workbook again, so the guard allows it a larger body).
pub const PUBLISH_PATH: &str = "/review/admin/forms/publish";

/// A signed-in administrator: a supervisor (or a session whose account lost
/// the role) is refused with a page that says so.
pub struct Admin(pub Reviewer);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ReviewError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let r = Reviewer::from_request_parts(parts, state).await?;
        if r.user.role != Role::Admin {
            return Err(ReviewError::forbidden(
                "管理页面仅限管理员使用；如需修改账号、网格、设备或表单，请联系管理员",
                "the admin pages are for administrators only: ask an administrator to change accounts, grids, devices or forms",
            ));
        }
        Ok(Admin(r))
    }
}

/// The admin section's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Users,
    Org,
    Devices,
    Forms,
}

/// A page of the admin section: the shared chrome with the section's tabs.
fn page(r: &Reviewer, tab: Tab, title: &str, notice: Option<Markup>, body: Markup) -> Markup {
    let item = |target: Tab, href: &str, zh: &str, en: &str| {
        let class = if target == tab { "tab active" } else { "tab" };
        html! { a href=(href) class=(class) { (r.t(zh, en)) } }
    };
    let body = html! {
        nav.tabs {
            (item(Tab::Users, "/review/admin/users", "账号", "Users"))
            (item(Tab::Org, "/review/admin/org", "派出所与网格", "Stations and grids"))
            (item(Tab::Devices, "/review/admin/devices", "设备", "Devices"))
            (item(Tab::Forms, "/review/admin/forms", "表单", "Forms"))
            a.tab href="/review/audit" { (r.t("审计日志", "Audit log")) }
        }
        (body)
    };
    layout::page(r, Nav::Admin, title, notice, body)
}

/// The fields of a posted form, repeated names kept (checkbox groups).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; `""` when absent.
    fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The first value of `name` as typed (passwords keep their spaces).
    fn raw(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every non-empty value of `name`.
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// Writes an admin's change to the audit log.
async fn audit(
    state: &AppState,
    r: &Reviewer,
    action: &str,
    target: String,
    detail: serde_json::Value,
) -> Result<(), ReviewError> {
    state
        .store
        .append_audit(r.audit(action, target, detail))
        .await?;
    Ok(())
}

/// The browser to `to`, after a change.
fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response()
}

/// The browser to `path` with a notice of what was `done` to `what`.
fn done(path: &str, done: &str, what: &str) -> Response {
    see_other(&format!(
        "{path}?done={done}&what={}",
        form_urlencoded_component(what)
    ))
}

/// The notice after a change (`?done=…&what=…`).
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    what: Option<String>,
}

impl DoneQuery {
    fn notice(&self, r: &Reviewer) -> Option<Markup> {
        let what = self.what.as_deref().unwrap_or("");
        let text = match self.done.as_deref()? {
            "created" => Text::new(
                format!("已创建账号 {what}，民警可用该警号和密码在手机上登录"),
                format!("Account {what} created: the officer signs in on the phone with this badge and password"),
            ),
            "role" => Text::new(
                format!("已修改 {what} 的角色和网格，其设备下次同步时生效"),
                format!("Role and grids of {what} changed: its devices follow on their next sync"),
            ),
            "disabled" => Text::new(
                format!("已停用 {what}：不能再登录或同步"),
                format!("{what} disabled: it can no longer sign in or sync"),
            ),
            "enabled" => Text::new(format!("已启用 {what}"), format!("{what} enabled")),
            "password" => Text::new(
                format!("已为 {what} 设置新密码；其设备需用新密码重新登录"),
                format!("New password set for {what}: its devices sign in again with it"),
            ),
            "station" => Text::new(format!("已添加派出所 {what}"), format!("Station {what} added")),
            "grid" => Text::new(format!("已添加网格 {what}"), format!("Grid {what} added")),
            "revoked" => Text::new(
                format!("已注销设备 {what}：下次联网时清除其本地数据"),
                format!("Device {what} revoked: its local data is wiped on its next contact"),
            ),
            "published" => Text::new(
                format!("已发布表单 {what}，设备下次同步后即可使用"),
                format!("Form {what} published: devices offer it after their next sync"),
            ),
            "retired" => Text::new(
                format!("已停用表单 {what}：设备下次同步后不再提供新建"),
                format!("Form {what} retired: devices stop offering it after their next sync"),
            ),
            _ => return None,
        };
        Some(html! { div.alert.ok role="status" { (text.get(r.lang)) } })
    }
}

/// An error box on a page.
fn problem(r: &Reviewer, text: &Text) -> Markup {
    html! { div.alert.error role="alert" { (text.get(r.lang)) } }
}

/// What to show for a refused change: the reason, for the page to show
/// again (with 422); a store or hashing failure is an error page instead.
fn refusal(e: AccountError, r: &Reviewer) -> Result<Markup, ReviewError> {
    match e {
        AccountError::Store(e) => Err(ReviewError::from(e)),
        AccountError::Hash(_) => {
            tracing::error!("hashing a password failed");
            Err(ReviewError::page(
                StatusCode::SERVICE_UNAVAILABLE,
                "服务器暂时无法处理，请稍后重试",
                "the server could not handle this right now: try again later",
            ))
        }
        other => Ok(problem(r, &other.text())),
    }
}

/// A refused change answered with an error page: what is missing is 404,
/// any other refusal 400 with its reason.
fn failed(e: AccountError) -> ReviewError {
    match e {
        AccountError::NoAccount(_) | AccountError::NoDevice(_) => ReviewError::not_found(),
        AccountError::Store(e) => ReviewError::from(e),
        other => {
            let text = other.text();
            if matches!(other, AccountError::Hash(_)) {
                tracing::error!("hashing a password failed");
                return ReviewError::page(StatusCode::SERVICE_UNAVAILABLE, text.zh, text.en);
            }
            ReviewError::bad_request(text.zh, text.en)
        }
    }
}

/// A page shown again after a refused change.
fn unprocessable(page: Markup) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}
