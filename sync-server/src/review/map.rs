//! The station's map: hazards by status, tasks, today's visits and today's
//! patrol tracks, in the reviewer's scope, drawn by the same drawing as the
//! field app's map (`assets/map/beatbook-map.mjs`, from
//! [`beatbook_schema::map::STATION_LAYERS`]) with MapLibre GL, which
//! `scripts/map-assets.sh` installs and this server serves from
//! `map_assets_dir`. A tap on a feature opens its record's page. Without
//! the renderer the page says what to run; the rest of the pages work.

use std::path::PathBuf;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::Values;
use beatbook_schema::ids::{FormId, RecordId};
use beatbook_schema::map::{self, MapRecord, Places, STATION_LAYERS};
use beatbook_store::{ExportQuery, HazardQuery, StoredRecord};
use chrono::{Duration, Utc};
use maud::{html, PreEscaped};
use serde_json::json;

use super::error::ReviewError;
use super::layout::{self, Nav};
use super::records::Cards;
use super::reviewer::Reviewer;
use crate::state::AppState;

/// The drawing, shared with the field app.
const DRAWING: &str = include_str!("../../../assets/map/beatbook-map.mjs");

/// The renderer's files a page loads (what `scripts/map-assets.sh` installs).
const ASSET_FILES: [&str; 4] = [
    "maplibre-gl.mjs",
    "maplibre-gl-worker.mjs",
    "maplibre-gl.css",
    "pmtiles.js",
];

/// Where the renderer is looked for when `map_assets_dir` is not set: where
/// `scripts/map-assets.sh` installs it in this source tree.
const DEFAULT_ASSETS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../map-assets");

/// Most hazards, and most records of each other form, on the map.
const MAX_PER_FORM: usize = 2_000;

/// The map page may run its own scripts (and MapLibre's worker, which it
/// starts from a `blob:` address); nothing else is loosened.
const CSP: &str = "default-src 'none'; script-src 'self'; worker-src 'self' blob:; \
                   connect-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn assets_dir(state: &AppState) -> PathBuf {
    state
        .config
        .map_assets_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ASSETS_DIR))
}

/// `GET /review/map`.
pub async fn page(State(state): State<AppState>, r: Reviewer) -> Result<Response, ReviewError> {
    let today = Utc::now().with_timezone(&r.offset).date_naive();
    let mut records = state
        .store
        .hazards(HazardQuery {
            scope: r.scope.clone(),
            status: None,
            grid: None,
            today: today.to_string(),
            limit: MAX_PER_FORM as u32,
        })
        .await?;
    let day_start = today
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(r.offset).single())
        .map(|t| t.with_timezone(&Utc));
    let day = day_start.map(|s| (s, s + Duration::days(1)));
    records.extend(of_form(&state, &r, form_ids::TASK, None).await?);
    for form in [form_ids::VISIT, form_ids::PATROL] {
        if let Some(day) = day {
            records.extend(of_form(&state, &r, form, Some(day)).await?);
        }
    }
    let forms = state.recent_forms().await?;
    let refs: Vec<&StoredRecord> = records.iter().collect();
    let cards = Cards::load(&state, &r, &forms, &refs).await?;
    // The standard addresses visits stand at (in scope), for their place.
    let mut addresses = Vec::new();
    for record in records
        .iter()
        .filter(|v| v.form_id.as_str() == form_ids::VISIT)
    {
        let address = record.fields.get("address").and_then(|f| f.value.as_str());
        let Some(id) = address.and_then(|a| a.parse::<RecordId>().ok()) else {
            continue;
        };
        if addresses.iter().any(|a: &StoredRecord| a.id == id) {
            continue;
        }
        if let Some(a) = state.store.record(id).await? {
            if r.scope.contains(&a.grid) && !a.deleted {
                addresses.push(a);
            }
        }
    }
    let values: Vec<Values> = records
        .iter()
        .chain(&addresses)
        .map(|r| beatbook_schema::merge::values(&r.fields))
        .collect();
    let labelled: Vec<MapRecord<'_>> = records
        .iter()
        .chain(&addresses)
        .zip(&values)
        .map(|(record, values)| {
            let (form, summary) = cards.title(record);
            MapRecord {
                id: record.id,
                form: record.form_id.as_str(),
                values,
                label: format!("{form} · {summary}"),
            }
        })
        .collect();
    let layers = map::build(&Places::new(labelled, today), STATION_LAYERS);
    let count = |id: &str| layers.iter().find(|l| l.id == id).map_or(0, |l| l.len());
    let has_renderer = ASSET_FILES
        .iter()
        .all(|f| assets_dir(&state).join(f).is_file());
    let config = json!({
        "assets": "/review/map-assets/",
        "open": "/review/records/{id}",
        "layers": layers.iter().map(|l| json!({"id": l.id, "data": l.data})).collect::<Vec<_>>(),
    });
    // Inside a JSON block `</` could end the element early.
    let config = config.to_string().replace("</", "<\\/");
    let legend: [(&str, &str, &str, &str); 7] = [
        ("red", "", "待整改", "Open"),
        ("amber", "", "整改中", "Rectifying"),
        ("lime", "", "已整改", "Rectified"),
        ("grey", "", "已复查", "Verified"),
        ("violet", "tasks", "任务", "Tasks"),
        ("teal", "visits", "今日走访", "Today's visits"),
        ("green", "tracks", "今日巡逻轨迹", "Today's patrol tracks"),
    ];
    let body = html! {
        div.page-head {
            h1 { (r.t("辖区地图", "Station map")) }
            p.muted { (r.t("隐患（按整改状态着色，黑圈为逾期）、任务、今日走访和今日巡逻轨迹。点击图上的点打开记录。",
                           "Hazards (coloured by status, a black ring when overdue), tasks, today's visits and today's patrol tracks. Click a point to open its record.")) }
        }
        div.map-missing id="map-missing" hidden[has_renderer] {
            (r.t("地图组件未安装：管理员请运行 scripts/map-assets.sh（或设置 map_assets_dir）后重启服务。其他页面不受影响。",
                 "The map renderer is not installed: an admin runs scripts/map-assets.sh (or sets map_assets_dir), then restarts the server. The other pages work."))
        }
        @if has_renderer {
            div.map id="map" {}
            script type="application/json" id="beatbook-map-data" { (PreEscaped(config)) }
            script type="module" src="/review/static/beatbook-map.mjs" {}
        }
        ul.legend {
            li { strong { (r.t("隐患", "Hazards")) } " " span.count id="count-hazards" { (count("hazards")) } }
            @for (class, layer, zh, en) in legend {
                li { span class=(format!("dot {class}")) {} (r.t(zh, en))
                    @if !layer.is_empty() { " " span.count id=(format!("count-{layer}")) { (count(layer)) } } }
            }
        }
    };
    let markup = layout::page(&r, Nav::Map, r.t("辖区地图", "Station map"), None, body);
    Ok(([(CONTENT_SECURITY_POLICY, CSP)], markup).into_response())
}

/// Live records of `form` in the reviewer's scope, created within `day` if
/// given, at most [`MAX_PER_FORM`].
async fn of_form(
    state: &AppState,
    r: &Reviewer,
    form: &str,
    day: Option<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)>,
) -> Result<Vec<StoredRecord>, ReviewError> {
    let query = ExportQuery {
        scope: r.scope.clone(),
        form: FormId(form.into()),
        grid: None,
        created_from: day.map(|d| d.0),
        created_before: day.map(|d| d.1),
    };
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .export_page(query.clone(), after, 500, 8 * 1024 * 1024)
            .await?;
        records.extend(page.records);
        after = page.next;
        if after.is_none() || records.len() >= MAX_PER_FORM {
            break;
        }
    }
    records.truncate(MAX_PER_FORM);
    Ok(records)
}

/// `GET /review/static/beatbook-map.mjs`: the drawing.
pub async fn drawing() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        DRAWING,
    )
}

/// `GET /review/map-assets/{file}`: the renderer's files (public library code).
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(name) = ASSET_FILES.iter().find(|f| **f == file) else {
        return ReviewError::not_found().into_response();
    };
    let content_type = if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    match tokio::fs::read(assets_dir(&state).join(name)).await {
        Ok(bytes) => (
            [
                (CONTENT_TYPE, content_type),
                (CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, file = name, "a map renderer file is missing: run scripts/map-assets.sh");
            ReviewError::not_found().into_response()
        }
    }
}
