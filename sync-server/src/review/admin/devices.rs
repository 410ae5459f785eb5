//! Devices: every enrolled phone with its officer and last contact, and
//! revoking one (after a confirmation page): its token stops working and
//! its next contact wipes its local data.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use beatbook_schema::ids::DeviceId;
use beatbook_store::Device;
use maud::{html, Markup};
use serde_json::json;

use super::{audit, done, failed, page, Admin, DoneQuery, Tab};
use crate::accounts;
use crate::review::error::ReviewError;
use crate::review::i18n::local_time;
use crate::review::layout::badge;
use crate::review::reviewer::{csrf_field, Reviewer};
use crate::state::AppState;

fn status(r: &Reviewer, d: &Device) -> Markup {
    match (d.revoked_at, d.signed_in) {
        (Some(t), _) => {
            html! { (badge("red", r.t("已注销", "Revoked"))) " " span.muted.small { (local_time(t, r.offset)) } }
        }
        (None, true) => badge("green", r.t("正常", "Active")),
        (None, false) => badge("amber", r.t("需重新登录", "Signed out")),
    }
}

fn revoke_href(d: &Device) -> String {
    format!("/review/admin/devices/{}/revoke", d.id)
}

/// `GET /review/admin/devices`.
pub async fn list(
    State(state): State<AppState>,
    Admin(r): Admin,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, ReviewError> {
    let mut devices = state.store.devices().await?;
    // Most recently heard from first; never-seen ones by enrollment.
    devices.sort_by(|a, b| {
        (b.last_seen_at.unwrap_or(b.enrolled_at)).cmp(&a.last_seen_at.unwrap_or(a.enrolled_at))
    });
    let names = state.user_names().await?;
    let body = html! {
        div.page-head {
            h1 { (r.t("设备管理", "Devices")) }
            p.muted { (r.t("丢失或被盗的手机请立即注销：其令牌立即失效，下次联网时清除本地数据。",
                           "Revoke a lost or stolen phone at once: its token stops working now and its local data is wiped on its next contact.")) }
        }
        @if devices.is_empty() {
            p.empty { (r.t("尚无设备；民警在手机上登录后出现在这里。", "No devices yet: a phone appears here when an officer signs in on it.")) }
        } @else {
            table.audit.devices {
                thead { tr {
                    th { (r.t("设备", "Device")) }
                    th { (r.t("使用人", "Officer")) }
                    th { (r.t("绑定时间", "Enrolled")) }
                    th { (r.t("最近联系", "Last contact")) }
                    th { (r.t("状态", "Status")) }
                    th {}
                } }
                tbody {
                    @for d in &devices {
                        tr data-device=(d.id) {
                            td { (d.name) br; span.muted.mono.small { (d.id) } }
                            td { (names.get(&d.user).map_or("", String::as_str)) span.muted { "（" (d.badge) "）" } }
                            td.nowrap { (local_time(d.enrolled_at, r.offset)) }
                            td.nowrap { (d.last_seen_at.map_or_else(|| r.t("从未", "never").to_owned(), |t| local_time(t, r.offset))) }
                            td { (status(&r, d)) }
                            td {
                                @if d.revoked_at.is_none() {
                                    a.button.small href=(revoke_href(d)) { (r.t("注销", "Revoke")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &r,
        Tab::Devices,
        r.t("设备管理", "Devices"),
        q.notice(&r),
        body,
    ))
}

async fn device(state: &AppState, id: &str) -> Result<Device, ReviewError> {
    let id: DeviceId = id.parse().map_err(|_| ReviewError::not_found())?;
    state
        .store
        .devices()
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(ReviewError::not_found)
}

/// `GET /review/admin/devices/{id}/revoke`: asks to confirm.
pub async fn confirm(
    State(state): State<AppState>,
    Admin(r): Admin,
    Path(id): Path<String>,
) -> Result<Markup, ReviewError> {
    let d = device(&state, &id).await?;
    let names = state.user_names().await?;
    let body = html! {
        section.card.narrow {
            h1 { (r.t("注销设备？", "Revoke this device?")) }
            p { (d.name) " · " (names.get(&d.user).map_or("", String::as_str)) "（" (d.badge) "）" }
            p.mono.small { (d.id) }
            div.alert.error {
                (r.t("注销后该手机的令牌立即失效；下次联网时清除手机上的全部本地数据，包括尚未上传的记录。此操作不能撤销。",
                     "The phone's token stops working now; on its next contact every local record on it is wiped, including records not yet sent. This cannot be undone."))
            }
            @if d.revoked_at.is_some() {
                p { (r.t("该设备已注销。", "This device is already revoked.")) }
            } @else {
                form.inline method="post" action=(revoke_href(&d)) {
                    (csrf_field(&r))
                    button.return type="submit" { (r.t("确认注销", "Revoke the device")) }
                }
                " "
            }
            a.button.plain href="/review/admin/devices" { (r.t("返回", "Back")) }
        }
    };
    Ok(page(
        &r,
        Tab::Devices,
        r.t("注销设备", "Revoke device"),
        None,
        body,
    ))
}

/// `POST /review/admin/devices/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Admin(r): Admin,
    Path(id): Path<String>,
) -> Result<Response, ReviewError> {
    let d = device(&state, &id).await?;
    accounts::revoke_device(state.store.as_ref(), d.id)
        .await
        .map_err(failed)?;
    audit(
        &state,
        &r,
        "device_revoke",
        format!("device:{}", d.id),
        json!({ "badge": d.badge, "name": d.name }),
    )
    .await?;
    Ok(done("/review/admin/devices", "revoked", &d.name))
}
