//! Duplicate people (重复人员): person records in the reviewer's scope that
//! share a citizen ID number, side by side, each pair with its three
//! resolutions — keep one, a move between grids, two different people —
//! applied through [`super::rules`] with their audit entry.

use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{Review, ReviewDecision};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

use super::actions::{edit_together, refused};
use super::error::ReviewError;
use super::i18n::local_time;
use super::layout::{self, back_with, Nav, NoticeQuery};
use super::records::Cards;
use super::reviewer::{csrf_field, Reviewer};
use super::rules::{self, Resolution};
use super::values::Shown;
use crate::state::AppState;
use beatbook_store::{DuplicateGroup, DuplicateQuery, StoredRecord};

/// Most ID numbers on one page.
const MAX_GROUPS: u32 = 100;

/// Where the page lives.
const PAGE: &str = "/review/duplicates";

fn text<'a>(record: &'a StoredRecord, name: &str) -> Option<&'a str> {
    record.fields.get(name).and_then(|s| s.value.as_str())
}

/// A record's letter within its group (A, B, C, ...).
fn letter(i: usize) -> char {
    char::from(b'A' + (i % 26) as u8)
}

/// `GET /review/duplicates`.
pub async fn page(
    State(state): State<AppState>,
    r: Reviewer,
    Query(nq): Query<NoticeQuery>,
) -> Result<Markup, ReviewError> {
    let groups = state
        .store
        .duplicates(DuplicateQuery {
            scope: r.scope.clone(),
            limit: MAX_GROUPS,
        })
        .await?;
    let forms = state.recent_forms().await?;
    let records: Vec<&StoredRecord> = groups.iter().flat_map(|g| g.records.iter()).collect();
    let cards = Cards::load(&state, &r, &forms, &records).await?;
    let body = html! {
        div.page-head {
            h1 { (r.t("重复人员", "Duplicate people")) }
            p.muted {
                (r.t("同一身份证号登记了两条以上的人员记录（同一网格或不同网格）。核对后选择：保留其中一条、登记为迁移，或确认为不同的人。",
                     "Two or more person records carry the same ID number (in one grid or in two). Compare them, then keep one, record a move, or mark them as different people."))
            }
        }
        @if groups.is_empty() {
            p.empty { (r.t("没有待处理的重复人员。", "No duplicate people to resolve.")) }
        }
        @for (i, g) in groups.iter().enumerate() { (group(&cards, i, g)) }
    };
    Ok(layout::page(
        &r,
        Nav::Duplicates,
        r.t("重复人员", "Duplicate people"),
        layout::notice(&r, &nq),
        body,
    ))
}

fn group(cards: &Cards<'_>, index: usize, g: &DuplicateGroup) -> Markup {
    let r = cards.r;
    let house = |rec: &StoredRecord| -> Markup {
        match text(rec, "house") {
            Some(id) => cards.value(&Shown::Ref(id.to_owned())),
            None => html! { (text(rec, "registered_address").unwrap_or("—")) },
        }
    };
    let row = |label: &str, cell: &dyn Fn(&StoredRecord) -> Markup| {
        html! {
            tr { th { (label) } @for rec in &g.records { td { (cell(rec)) } } }
        }
    };
    let name_of = |i: usize| letter(i).to_string();
    let pos = |id: RecordId| g.records.iter().position(|x| x.id == id).unwrap_or(0);
    html! {
        article.duplicate id=(format!("d-{index}")) data-id-number=(g.id_number) {
            header {
                div.title {
                    (r.t("身份证号", "ID number")) " "
                    span.mono { (g.id_number) }
                    span.muted { " · " (g.records.len()) " " (r.t("条记录", "records")) }
                }
            }
            table.side-by-side {
                thead { tr {
                    th {}
                    @for (i, rec) in g.records.iter().enumerate() {
                        th { a href=(format!("/review/records/{}", rec.id)) { (name_of(i)) } }
                    }
                } }
                tbody {
                    (row(r.t("姓名", "Name"), &|rec| html! { (text(rec, "name").unwrap_or("—")) }))
                    (row(r.t("身份证号", "ID number"), &|rec| html! { span.mono { (text(rec, "id_number").unwrap_or("—")) } }))
                    (row(r.t("网格", "Grid"), &|rec| html! { span.grid { (r.grid_name(rec.grid.as_str())) } }))
                    (row(r.t("住址", "Address"), &|rec| house(rec)))
                    (row(r.t("登记人", "Recorded by"), &|rec| html! { (cards.person(&rec.author)) }))
                    (row(r.t("登记时间", "Recorded on"), &|rec| html! { (local_time(rec.created_at, r.offset)) }))
                }
            }
            @if !g.distinct.is_empty() {
                p.muted.small {
                    (r.t("已确认为不同的人：", "Marked as different people: "))
                    @for (a, b) in &g.distinct { span.pair { (name_of(pos(*a))) "–" (name_of(pos(*b))) " " } }
                }
            }
            @for (a, b) in g.open_pairs() {
                (pair_actions(r, g, (pos(a), pos(b)), index))
            }
        }
    }
}

/// The resolutions of one pair of a group (records at `i` and `j`).
fn pair_actions(r: &Reviewer, g: &DuplicateGroup, (i, j): (usize, usize), index: usize) -> Markup {
    let (a, b) = (&g.records[i], &g.records[j]);
    let back = format!("{PAGE}#d-{index}");
    let form = |keep: &StoredRecord, retire: &StoredRecord, buttons: Markup| {
        html! {
            form.inline.resolve method="post" action="/review/duplicates/resolve" {
                (csrf_field(r))
                input type="hidden" name="keep" value=(keep.id);
                input type="hidden" name="keep_revision" value=(keep.revision);
                input type="hidden" name="retire" value=(retire.id);
                input type="hidden" name="retire_revision" value=(retire.revision);
                input type="hidden" name="back" value=(back);
                (buttons)
            }
        }
    };
    let (la, lb) = (letter(i), letter(j));
    let keep_buttons = |keep: &StoredRecord, lk: char, lr: char| {
        html! {
            button.small type="submit" name="resolution" value="keep" data-keep=(keep.id) {
                (match r.lang {
                    beatbook_schema::text::Lang::Zh => format!("保留 {lk}，注销 {lr}"),
                    beatbook_schema::text::Lang::En => format!("Keep {lk}, retire {lr}"),
                })
            }
            @if a.grid != b.grid {
                button.small type="submit" name="resolution" value="move" data-keep=(keep.id) {
                    (match r.lang {
                        beatbook_schema::text::Lang::Zh => format!("迁入 {}（保留 {lk}）", r.grid_name(keep.grid.as_str())),
                        beatbook_schema::text::Lang::En => format!("Moved to {} (keep {lk})", r.grid_name(keep.grid.as_str())),
                    })
                }
            }
        }
    };
    html! {
        div.pair-actions data-pair=(format!("{}-{}", a.id, b.id)) {
            span.muted { (la) "–" (lb) ": " }
            (form(a, b, keep_buttons(a, la, lb)))
            (form(b, a, keep_buttons(b, lb, la)))
            (form(a, b, html! {
                button.small.plain type="submit" name="resolution" value="distinct" {
                    (r.t("不是同一人", "Different people"))
                }
            }))
        }
    }
}

/// A resolution, as the page posts it.
#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    keep: String,
    keep_revision: Option<u64>,
    retire: String,
    retire_revision: Option<u64>,
    resolution: String,
    back: Option<String>,
}

/// `POST /review/duplicates/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    r: Reviewer,
    Form(f): Form<ResolveForm>,
) -> Result<Response, ReviewError> {
    let resolution = Resolution::parse(&f.resolution)
        .ok_or_else(|| ReviewError::bad_request("未知的处理方式", "unknown resolution"))?;
    let keep: RecordId = f.keep.parse().map_err(|_| ReviewError::not_found())?;
    let retire: RecordId = f.retire.parse().map_err(|_| ReviewError::not_found())?;
    let (Some(kept), Some(retired)) = (
        state.store.record(keep).await?,
        state.store.record(retire).await?,
    ) else {
        return Err(ReviewError::not_found());
    };
    rules::same_person_pair(&r.scope, &kept, &retired).map_err(refused)?;
    let detail = json!({
        "kept": keep.to_string(),
        "retired": retire.to_string(),
        "kept_grid": kept.grid,
        "retired_grid": retired.grid,
    });
    let target = format!("record:{keep}");
    let back = (f.back.as_deref(), PAGE);
    match resolution {
        Resolution::Distinct => {
            let entry = r.audit(resolution.action(), target, detail);
            state.store.mark_distinct(keep, retire, entry).await?;
            let to = back_with(back.0, back.1, "distinct", 1, 0);
            Ok((StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response())
        }
        Resolution::KeepOne | Resolution::Moved => {
            let entry = r.audit(resolution.action(), target, detail);
            let review = Review {
                decision: ReviewDecision::Approve,
                by: r.user.name.clone(),
                at: Utc::now(),
            };
            if f.retire_revision != Some(retired.revision) {
                return Err(ReviewError::page(
                    StatusCode::CONFLICT,
                    "该记录在您查看后已被修改，请刷新页面",
                    "the record changed after you opened it: reload the page",
                ));
            }
            let edit = rules::resolve_duplicate(
                r.scope.clone(),
                (keep, f.keep_revision.unwrap_or(0)),
                retired,
                resolution,
                review,
                Utc::now(),
            );
            let notice = if resolution == Resolution::Moved {
                "moved"
            } else {
                "kept"
            };
            edit_together(&state, vec![keep, retire], edit, entry, back, notice).await
        }
    }
}
