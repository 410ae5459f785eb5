//! Stations and their grids: the list, adding one.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Form;
use beatbook_schema::ids::{GridId, StationId};
use beatbook_store::{Grid, Station};
use maud::{html, Markup};
use serde_json::json;

use super::{audit, done, page, refusal, unprocessable, Admin, DoneQuery, Fields, Tab};
use crate::accounts;
use crate::review::error::ReviewError;
use crate::review::reviewer::{csrf_field, Reviewer};
use crate::state::AppState;

async fn org_page(
    state: &AppState,
    r: &Reviewer,
    notice: Option<Markup>,
) -> Result<Markup, ReviewError> {
    let stations = state.store.stations().await?;
    let grids = state.store.grids().await?;
    let users = state.store.users().await?;
    let body = html! {
        div.page-head {
            h1 { (r.t("派出所与网格", "Stations and grids")) }
            p.muted { (r.t("网格是民警和辅警的责任区；账号的网格在账号页面分配。",
                           "Grids are the officers' and auxiliaries' beats; an account's grids are assigned on its page.")) }
        }
        @for s in &stations {
            section.card {
                h2 { (s.name) " " span.muted.mono { (s.id) } }
                @let of_station: Vec<&Grid> = grids.iter().filter(|g| g.station == s.id).collect();
                @if of_station.is_empty() {
                    p.empty { (r.t("尚无网格。", "No grids yet.")) }
                } @else {
                    table.audit {
                        thead { tr {
                            th { (r.t("网格编号", "Grid")) }
                            th { (r.t("名称", "Name")) }
                            th { (r.t("负责人", "Assigned")) }
                        } }
                        tbody {
                            @for g in of_station {
                                tr {
                                    td.mono { (g.id) }
                                    td { (g.name) }
                                    td.small {
                                        @for (i, u) in users.iter().filter(|u| u.info.grids.contains(&g.id)).enumerate() {
                                            @if i > 0 { "、" }
                                            (u.info.name)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.grid2 {
            section.card.admin-form {
                h2 { (r.t("添加网格", "Add a grid")) }
                form.admin method="post" action="/review/admin/org/grids" {
                    (csrf_field(r))
                    label { (r.t("派出所", "Station"))
                        select name="station" required {
                            @for s in &stations { option value=(s.id) { (s.name) } }
                        }
                    }
                    label { (r.t("网格编号", "Grid code")) input type="text" name="id" required placeholder="320614-01-03"; }
                    label { (r.t("名称", "Name")) input type="text" name="name" required; }
                    div.buttons { button.primary type="submit" { (r.t("添加网格", "Add grid")) } }
                }
            }
            section.card.admin-form {
                h2 { (r.t("添加派出所", "Add a station")) }
                form.admin method="post" action="/review/admin/org/stations" {
                    (csrf_field(r))
                    label { (r.t("派出所编号", "Station code")) input type="text" name="id" required placeholder="320614-02"; }
                    label { (r.t("名称", "Name")) input type="text" name="name" required; }
                    div.buttons { button type="submit" { (r.t("添加派出所", "Add station")) } }
                }
            }
        }
    };
    Ok(page(
        r,
        Tab::Org,
        r.t("派出所与网格", "Stations and grids"),
        notice,
        body,
    ))
}

/// `GET /review/admin/org`.
pub async fn show(
    State(state): State<AppState>,
    Admin(r): Admin,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, ReviewError> {
    org_page(&state, &r, q.notice(&r)).await
}

/// `POST /review/admin/org/stations`.
pub async fn add_station(
    State(state): State<AppState>,
    Admin(r): Admin,
    Form(f): Form<Fields>,
) -> Result<Response, ReviewError> {
    let station = Station {
        id: StationId::new(f.one("id")),
        name: f.one("name").to_owned(),
    };
    let id = station.id.to_string();
    if let Err(e) = accounts::add_station(state.store.as_ref(), station.clone()).await {
        let notice = refusal(e, &r)?;
        return Ok(unprocessable(org_page(&state, &r, Some(notice)).await?));
    }
    audit(
        &state,
        &r,
        "station_add",
        format!("station:{id}"),
        json!({ "name": station.name }),
    )
    .await?;
    Ok(done("/review/admin/org", "station", &id))
}

/// `POST /review/admin/org/grids`.
pub async fn add_grid(
    State(state): State<AppState>,
    Admin(r): Admin,
    Form(f): Form<Fields>,
) -> Result<Response, ReviewError> {
    let grid = Grid {
        id: GridId::new(f.one("id")),
        station: StationId::new(f.one("station")),
        name: f.one("name").to_owned(),
    };
    let id = grid.id.to_string();
    if let Err(e) = accounts::add_grid(state.store.as_ref(), grid.clone()).await {
        let notice = refusal(e, &r)?;
        return Ok(unprocessable(org_page(&state, &r, Some(notice)).await?));
    }
    audit(
        &state,
        &r,
        "grid_add",
        format!("grid:{id}"),
        json!({ "name": grid.name, "station": grid.station }),
    )
    .await?;
    Ok(done("/review/admin/org", "grid", &id))
}
