//! Accounts: the list, creating one, and one account's page (role and
//! grids, disabling, a new password).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use beatbook_schema::ids::{GridId, StationId};
use beatbook_schema::protocol::Role;
use beatbook_store::{Account, Device, Grid, Station};
use maud::{html, Markup};
use serde_json::json;

use super::{audit, done, failed, page, refusal, unprocessable, Admin, DoneQuery, Fields, Tab};
use crate::accounts::{self, AccountError, AccountSpec, MIN_PASSWORD_CHARS};
use crate::review::error::ReviewError;
use crate::review::i18n::local_time;
use crate::review::layout::{badge, dash};
use crate::review::links::form_urlencoded_component;
use crate::review::reviewer::{csrf_field, Reviewer};
use crate::state::AppState;

/// What the pages show about the organisation.
struct Org {
    users: Vec<Account>,
    stations: Vec<Station>,
    grids: Vec<Grid>,
    devices: Vec<Device>,
}

impl Org {
    async fn read(state: &AppState) -> Result<Self, ReviewError> {
        let store = &state.store;
        Ok(Self {
            users: store.users().await?,
            stations: store.stations().await?,
            grids: store.grids().await?,
            devices: store.devices().await?,
        })
    }

    fn station_name(&self, id: &StationId) -> String {
        self.stations
            .iter()
            .find(|s| &s.id == id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    }

    fn grid_name(&self, id: &GridId) -> String {
        self.grids
            .iter()
            .find(|g| &g.id == id)
            .map_or_else(|| id.to_string(), |g| g.name.clone())
    }
}

fn user_href(badge: &str) -> String {
    format!("/review/admin/users/{}", form_urlencoded_component(badge))
}

fn role_select(r: &Reviewer, current: Option<Role>) -> Markup {
    html! {
        select name="role" required {
            @for role in Role::ALL {
                option value=(role.name()) selected[current == Some(role)] { (role.label().get(r.lang)) }
            }
        }
    }
}

/// Checkboxes of the grids, by station (only `station`'s when given).
fn grid_boxes(r: &Reviewer, org: &Org, station: Option<&StationId>, checked: &[GridId]) -> Markup {
    html! {
        fieldset.grids {
            legend { (r.t("网格（民警、辅警至少一个）", "Grids (officers and auxiliaries need one)")) }
            @for s in org.stations.iter().filter(|s| station.is_none_or(|id| id == &s.id)) {
                div.station-grids {
                    @if station.is_none() { span.muted.small { (s.name) } }
                    @for g in org.grids.iter().filter(|g| g.station == s.id) {
                        label.check {
                            input type="checkbox" name="grid" value=(g.id) checked[checked.contains(&g.id)];
                            (g.name) " " span.muted.mono { (g.id) }
                        }
                    }
                }
            }
        }
    }
}

fn status_badge(r: &Reviewer, a: &Account) -> Markup {
    if a.disabled {
        badge("red", r.t("已停用", "Disabled"))
    } else {
        badge("green", r.t("正常", "Active"))
    }
}

async fn list_page(
    state: &AppState,
    r: &Reviewer,
    notice: Option<Markup>,
) -> Result<Markup, ReviewError> {
    let org = Org::read(state).await?;
    let body = html! {
        div.page-head {
            h1 { (r.t("账号管理", "Accounts")) }
            p.muted { (r.t("民警、辅警、所领导和管理员的账号。点击警号修改角色、网格、密码或停用账号。",
                           "Officers', auxiliaries', supervisors' and administrators' accounts. Open a badge to change role, grids or password, or to disable it.")) }
        }
        table.audit.users {
            thead { tr {
                th { (r.t("警号", "Badge")) }
                th { (r.t("姓名", "Name")) }
                th { (r.t("角色", "Role")) }
                th { (r.t("派出所", "Station")) }
                th { (r.t("网格", "Grids")) }
                th { (r.t("状态", "Status")) }
                th.num { (r.t("设备", "Devices")) }
            } }
            tbody {
                @for a in &org.users {
                    @let devices = org.devices.iter().filter(|d| d.user == a.info.id && d.revoked_at.is_none()).count();
                    tr {
                        td.mono { a href=(user_href(&a.info.badge)) { (a.info.badge) } }
                        td { (a.info.name) }
                        td { (a.info.role.label().get(r.lang)) }
                        td { (org.station_name(&a.info.station)) }
                        td.small {
                            @if a.info.grids.is_empty() { (dash()) }
                            @for (i, g) in a.info.grids.iter().enumerate() {
                                @if i > 0 { "、" }
                                (org.grid_name(g))
                            }
                        }
                        td { (status_badge(r, a)) }
                        td.num { (devices) }
                    }
                }
            }
        }
        section.card.admin-form {
            h2 { (r.t("新建账号", "New account")) }
            form.admin method="post" action="/review/admin/users" {
                (csrf_field(r))
                div.grid2 {
                    label { (r.t("警号", "Badge number")) input type="text" name="badge" required; }
                    label { (r.t("姓名", "Name")) input type="text" name="name" required; }
                    label { (r.t("角色", "Role")) (role_select(r, Some(Role::Officer))) }
                    label { (r.t("派出所", "Station"))
                        select name="station" required {
                            @for s in &org.stations { option value=(s.id) { (s.name) } }
                        }
                    }
                }
                (grid_boxes(r, &org, None, &[]))
                label { (r.t("初始密码", "Password"))
                    input type="password" name="password" autocomplete="new-password"
                        placeholder=(format!("{}{MIN_PASSWORD_CHARS}{}", r.t("留空则自动生成；至少 ", "leave empty to generate one; at least "), r.t(" 个字符", " characters")));
                }
                div.buttons { button.primary type="submit" { (r.t("创建账号", "Create account")) } }
            }
        }
    };
    Ok(page(
        r,
        Tab::Users,
        r.t("账号管理", "Accounts"),
        notice,
        body,
    ))
}

/// `GET /review/admin/users`.
pub async fn list(
    State(state): State<AppState>,
    Admin(r): Admin,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, ReviewError> {
    list_page(&state, &r, q.notice(&r)).await
}

/// A page that shows a password made for an account, once.
fn password_shown(r: &Reviewer, badge: &str, password: &str, created: bool) -> Markup {
    let body = html! {
        section.card.narrow {
            h1 {
                @if created { (r.t("账号已创建", "Account created")) }
                @else { (r.t("已设置新密码", "New password set")) }
            }
            p { (r.t("警号", "Badge")) " " strong.mono { (badge) } }
            p { (r.t("密码（只显示这一次，请当面交给本人）", "Password (shown this once: hand it to the officer in person)")) }
            p.one-time-password.mono { (password) }
            p { a.button href=(user_href(badge)) { (r.t("查看账号", "Open the account")) } }
        }
    };
    page(r, Tab::Users, r.t("密码", "Password"), None, body)
}

/// `POST /review/admin/users`: creates an account.
pub async fn create(
    State(state): State<AppState>,
    Admin(r): Admin,
    Form(f): Form<Fields>,
) -> Result<Response, ReviewError> {
    let Some(role) = Role::named(f.one("role")) else {
        return Err(ReviewError::bad_request("请选择角色", "choose a role"));
    };
    let given = f.one("password");
    let made = given.is_empty().then(accounts::new_password);
    let spec = AccountSpec {
        badge: f.one("badge").to_owned(),
        name: f.one("name").to_owned(),
        role,
        station: StationId::new(f.one("station")),
        grids: f.all("grid").into_iter().map(GridId::new).collect(),
        password: made.clone().unwrap_or_else(|| f.raw("password")),
    };
    let (badge, grids) = (spec.badge.clone(), spec.grids.clone());
    if let Err(e) = accounts::add_user(state.store.as_ref(), spec).await {
        let notice = refusal(e, &r)?;
        return Ok(unprocessable(list_page(&state, &r, Some(notice)).await?));
    }
    audit(
        &state,
        &r,
        "user_add",
        format!("user:{badge}"),
        json!({ "role": role.name(), "grids": grids }),
    )
    .await?;
    Ok(match made {
        Some(password) => password_shown(&r, &badge, &password, true).into_response(),
        None => done("/review/admin/users", "created", &badge),
    })
}

async fn account_page(
    state: &AppState,
    r: &Reviewer,
    wanted: &str,
    notice: Option<Markup>,
) -> Result<Markup, ReviewError> {
    let org = Org::read(state).await?;
    let a = org
        .users
        .iter()
        .find(|u| u.info.badge == wanted)
        .ok_or_else(ReviewError::not_found)?;
    let href = user_href(wanted);
    let devices: Vec<&Device> = org.devices.iter().filter(|d| d.user == a.info.id).collect();
    let body = html! {
        nav.crumbs { a href="/review/admin/users" { (r.t("账号管理", "Accounts")) } " › " (a.info.badge) }
        div.page-head {
            h1 { (a.info.name) " " span.muted.mono { (a.info.badge) } " " (status_badge(r, a)) }
            p.muted { (a.info.role.label().get(r.lang)) " · " (org.station_name(&a.info.station)) }
        }
        section.card.admin-form {
            h2 { (r.t("角色与网格", "Role and grids")) }
            form.admin method="post" action=(format!("{href}/role")) {
                (csrf_field(r))
                label { (r.t("角色", "Role")) (role_select(r, Some(a.info.role))) }
                (grid_boxes(r, &org, Some(&a.info.station), &a.info.grids))
                div.buttons { button.primary type="submit" { (r.t("保存", "Save")) } }
            }
        }
        section.card.admin-form {
            h2 { (r.t("密码", "Password")) }
            p.muted.small { (r.t("设置新密码后，该账号的设备需用新密码重新登录（数据保留）。",
                                 "After a new password the account's devices sign in again with it (their data stays).")) }
            form.admin method="post" action=(format!("{href}/password")) {
                (csrf_field(r))
                label { (r.t("新密码", "New password"))
                    input type="password" name="password" autocomplete="new-password"
                        placeholder=(r.t("留空则自动生成", "leave empty to generate one"));
                }
                div.buttons { button type="submit" { (r.t("设置新密码", "Set a new password")) } }
            }
        }
        section.card.admin-form {
            h2 { (r.t("账号状态", "Status")) }
            form.admin method="post" action=(format!("{href}/status")) {
                (csrf_field(r))
                @if a.disabled {
                    input type="hidden" name="disabled" value="false";
                    button.approve type="submit" { (r.t("启用账号", "Enable the account")) }
                } @else {
                    p.muted.small { (r.t("停用后不能登录，其设备不能同步，直到重新启用。",
                                         "A disabled account cannot sign in and its devices cannot sync until it is enabled again.")) }
                    input type="hidden" name="disabled" value="true";
                    button.return type="submit" { (r.t("停用账号", "Disable the account")) }
                }
            }
        }
        section.card {
            h2 { (r.t("设备", "Devices")) }
            @if devices.is_empty() {
                p.empty { (r.t("尚未绑定设备。", "No device enrolled yet.")) }
            } @else {
                ul {
                    @for d in &devices {
                        li {
                            (d.name) " " span.muted.mono.small { (d.id) } " · "
                            (r.t("最近联系", "last contact")) " "
                            (d.last_seen_at.map_or_else(|| r.t("从未", "never").to_owned(), |t| local_time(t, r.offset)))
                            @if d.revoked_at.is_some() { " " (badge("red", r.t("已注销", "Revoked"))) }
                        }
                    }
                }
                p { a href="/review/admin/devices" { (r.t("设备管理", "Manage devices")) " ›" } }
            }
        }
    };
    Ok(page(r, Tab::Users, &a.info.name, notice, body))
}

/// `GET /review/admin/users/{badge}`.
pub async fn show(
    State(state): State<AppState>,
    Admin(r): Admin,
    Path(badge): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, ReviewError> {
    account_page(&state, &r, &badge, q.notice(&r)).await
}

/// `POST /review/admin/users/{badge}/role`.
pub async fn set_role(
    State(state): State<AppState>,
    Admin(r): Admin,
    Path(badge): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ReviewError> {
    let Some(role) = Role::named(f.one("role")) else {
        return Err(ReviewError::bad_request("请选择角色", "choose a role"));
    };
    if badge == r.user.badge && role != Role::Admin {
        return Err(ReviewError::bad_request(
            "不能取消自己正在使用的账号的管理员角色，请由另一位管理员操作",
            "you cannot take the admin role from the account you are signed in with: ask another administrator",
        ));
    }
    let grids: Vec<GridId> = f.all("grid").into_iter().map(GridId::new).collect();
    if let Err(e) =
        accounts::set_role_and_grids(state.store.as_ref(), &badge, role, grids.clone()).await
    {
        return refused(&state, &r, &badge, e).await;
    }
    audit(
        &state,
        &r,
        "user_role",
        format!("user:{badge}"),
        json!({ "role": role.name(), "grids": grids }),
    )
    .await?;
    Ok(done(&user_href(&badge), "role", &badge))
}

/// A change of `badge`'s account the rules refused: its page again with
/// why (422), or 404 when there is no such account.
async fn refused(
    state: &AppState,
    r: &Reviewer,
    badge: &str,
    e: AccountError,
) -> Result<Response, ReviewError> {
    if matches!(e, AccountError::NoAccount(_)) {
        return Err(failed(e));
    }
    let notice = refusal(e, r)?;
    Ok(unprocessable(
        account_page(state, r, badge, Some(notice)).await?,
    ))
}

/// `POST /review/admin/users/{badge}/status`: disables or enables.
pub async fn set_status(
    State(state): State<AppState>,
    Admin(r): Admin,
    Path(badge): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ReviewError> {
    let disabled = f.one("disabled") == "true";
    if badge == r.user.badge && disabled {
        return Err(ReviewError::bad_request(
            "不能停用自己正在使用的账号",
            "you cannot disable the account you are signed in with",
        ));
    }
    accounts::set_disabled(state.store.as_ref(), &badge, disabled)
        .await
        .map_err(failed)?;
    let action = if disabled {
        "user_disable"
    } else {
        "user_enable"
    };
    audit(&state, &r, action, format!("user:{badge}"), json!({})).await?;
    Ok(done(
        &user_href(&badge),
        if disabled { "disabled" } else { "enabled" },
        &badge,
    ))
}

/// `POST /review/admin/users/{badge}/password`: sets the password given,
/// or makes one and shows it once.
pub async fn reset_password(
    State(state): State<AppState>,
    Admin(r): Admin,
    Path(badge): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, ReviewError> {
    let given = f.raw("password");
    let made = given.trim().is_empty().then(accounts::new_password);
    let password = made.clone().unwrap_or(given);
    if let Err(e) = accounts::set_password(state.store.as_ref(), &badge, password).await {
        return refused(&state, &r, &badge, e).await;
    }
    audit(
        &state,
        &r,
        "user_password",
        format!("user:{badge}"),
        json!({ "generated": made.is_some() }),
    )
    .await?;
    Ok(match made {
        Some(password) => password_shown(&r, &badge, &password, false).into_response(),
        None => done(&user_href(&badge), "password", &badge),
    })
}
