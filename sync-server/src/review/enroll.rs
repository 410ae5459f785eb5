//! Enrolling a device (设备绑定): the accounts the reviewer may make
//! enrollment codes for, and the code just made, as a QR code the officer's
//! phone scans (with its expiry, and as text to type). See
//! [`crate::enrollment`] for the codes themselves.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Form;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use beatbook_schema::enrollment::display_code;
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ReviewError;
use super::i18n::local_time;
use super::layout::{self, Nav};
use super::links::this_server;
use super::reviewer::{csrf_field, Reviewer};
use crate::enrollment::{issue_code, may_enroll, qr_png, IssueError};
use crate::state::AppState;

/// `GET /review/enroll`: whom the reviewer may enroll a device for.
pub async fn page(State(state): State<AppState>, r: Reviewer) -> Result<Markup, ReviewError> {
    let mut accounts = state.store.users().await?;
    accounts.retain(|a| !a.disabled && may_enroll(&r.user, &a.info));
    let body = html! {
        div.page-head {
            h1 { (r.t("设备绑定", "Enroll a device")) }
            p.muted { (r.t("为警员生成一次性绑定码：警员在手机上点“扫码绑定”，拍下二维码即可绑定，无需输入服务器地址和密码。绑定码只能使用一次，过期作废；生成和使用都记入审计日志。",
                           "Make a one-time enrollment code for an officer: on the phone, “Scan enrollment code” and a photo of the QR code enroll it, with no server address or password to type. A code works once and expires; making and using it are written to the audit log.")) }
        }
        table.batches.enroll {
            thead { tr {
                th { (r.t("警号", "Badge")) }
                th { (r.t("姓名", "Name")) }
                th { (r.t("角色", "Role")) }
                th {}
            } }
            tbody {
                @for a in &accounts {
                    tr data-badge=(a.info.badge) {
                        td.mono { (a.info.badge) }
                        td { (a.info.name) }
                        td { (a.info.role.label().get(r.lang)) }
                        td {
                            form.inline method="post" action="/review/enroll" {
                                (csrf_field(&r))
                                input type="hidden" name="badge" value=(a.info.badge);
                                button.primary type="submit" { (r.t("生成绑定码", "Make enrollment code")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &r,
        Nav::Enroll,
        r.t("设备绑定", "Enroll a device"),
        None,
        body,
    ))
}

/// The form of [`make_code`].
#[derive(Debug, Deserialize)]
pub struct MakeCode {
    badge: String,
}

/// `POST /review/enroll`: makes a code and shows it, this once.
pub async fn make_code(
    State(state): State<AppState>,
    r: Reviewer,
    headers: HeaderMap,
    Form(form): Form<MakeCode>,
) -> Result<Markup, ReviewError> {
    let issued = match issue_code(&state, &r.user, &form.badge, Utc::now()).await {
        Ok(issued) => issued,
        // Another station's account reads as no account: scope does not tell what exists.
        Err(IssueError::NoSuchUser | IssueError::NotYours) => return Err(ReviewError::not_found()),
        Err(IssueError::Disabled) => {
            return Err(ReviewError::bad_request(
                "该账号已停用，不能绑定设备",
                "the account is disabled: it cannot enroll a device",
            ))
        }
        Err(IssueError::Store(e)) => return Err(e.into()),
    };
    let server = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| this_server(&headers));
    let payload = issued.qr(&server).payload();
    let png = qr_png(&payload).map_err(|e| {
        tracing::error!(error = %e, "enrollment QR code not drawn");
        ReviewError::page(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "二维码生成失败；请改用下方的绑定码文字",
            "the QR code could not be drawn: use the code as text below",
        )
    })?;
    let expires = local_time(issued.expires_at, r.offset);
    let who = format!("{}（{}）", issued.user.name, issued.user.badge);
    let body = html! {
        div.page-head {
            h1 { (r.t("绑定设备：", "Enroll a device: ")) (who) }
            p.muted { (r.t("请警员在手机的绑定页点“扫码绑定”，拍下此二维码。此页面只显示一次。",
                           "On the phone's enrollment screen, “Scan enrollment code” and take a photo of this QR code. This page is shown once.")) }
        }
        div.card.enroll-code {
            img #enroll-qr src=(format!("data:image/png;base64,{}", STANDARD.encode(&png)))
                alt=(r.t("绑定二维码", "Enrollment QR code"));
            p { (r.t("有效期至 ", "Valid until ")) strong #enroll-expires { (expires) } }
            p { (r.t("绑定码：", "Code: ")) code.mono #enroll-code { (display_code(&issued.code)) } }
            p.muted.small { (r.t("服务器地址：", "Server address: ")) span.mono #enroll-server { (server) } }
        }
        p { a href="/review/enroll" { (r.t("返回设备绑定", "Back to Enroll a device")) } }
    };
    Ok(layout::page(
        &r,
        Nav::Enroll,
        r.t("设备绑定", "Enroll a device"),
        None,
        body,
    ))
}
