//! The map of the officer's grid ([`beatbook_core::map`]): drawn from the
//! records on this device with MapLibre GL through `document::eval` (the
//! drawing is `assets/map/beatbook-map.mjs`, shared with the review pages),
//! with the officer's position; a tap on a feature opens its record. Below
//! it, "near me": hazards or houses by distance from the current fix.

use std::path::PathBuf;

use beatbook_core::map::Near;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::RecordId;
use dioxus::prelude::*;
use serde_json::json;

use super::errors::read_failed;
use super::i18n::{tr, use_lang};
use super::lists::{distance, RecordRow};
use super::{Route, Ui, UiOptions};

/// The drawing, served beside the renderer's files under this name (the
/// web build copies the file itself).
#[cfg(feature = "liveview")]
pub const DRAWING: &str = include_str!("../../../assets/map/beatbook-map.mjs");
/// The drawing's file name.
pub const DRAWING_FILE: &str = "beatbook-map.mjs";
/// The renderer's files (`scripts/map-assets.sh`) a page loads.
pub const ASSET_FILES: [&str; 4] = [
    "maplibre-gl.mjs",
    "maplibre-gl-worker.mjs",
    "maplibre-gl.css",
    "pmtiles.js",
];

/// Where the map's renderer and basemap come from.
#[derive(Debug, Clone, Default)]
pub struct MapSource {
    /// The directory `scripts/map-assets.sh` installs into (liveview serves it).
    pub assets_dir: Option<PathBuf>,
    /// An offline basemap an admin supplied (a raster PMTiles file), drawn under the data.
    pub basemap: Option<PathBuf>,
    /// Where the page loads the renderer and the drawing from (a path ending
    /// in `/`); `None`: this face has no renderer, and the map says so.
    pub assets_url: Option<String>,
    /// Where the page reads the basemap from.
    pub basemap_url: Option<String>,
}

impl MapSource {
    /// Whether `dir` holds every file of the renderer.
    pub fn has_assets(dir: &std::path::Path) -> bool {
        ASSET_FILES.iter().all(|f| dir.join(f).is_file())
    }
}

/// What the near-me list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NearKind {
    Hazards,
    Houses,
}

/// The map screen.
#[component]
pub fn MapView() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let source = use_context::<UiOptions>().map;
    let mut failed = use_signal(|| None::<String>);
    let grid = ui.core().map(|c| c.grid_map(l));
    let grid = match grid {
        Some(Ok(g)) => g,
        Some(Err(e)) => return read_failed(l, "map", &e),
        None => return rsx! {},
    };
    let counts: Vec<(&str, usize)> = grid
        .layers
        .iter()
        .map(|layer| (layer.id, layer.len()))
        .collect();
    let count = |id: &str| counts.iter().find(|(l, _)| *l == id).map_or(0, |(_, n)| *n);
    let payload = json!({
        "assets": source.assets_url,
        "basemap": source.basemap_url,
        "layers": grid.layers.iter().map(|layer| json!({"id": layer.id, "data": layer.data})).collect::<Vec<_>>(),
        "position": grid.position.map(|p| json!({"lat": p.lat, "lon": p.lon})),
    });
    let has_renderer = source.assets_url.is_some();
    use_future(move || {
        let payload = payload.clone();
        async move {
            if !has_renderer {
                return;
            }
            let script = format!(
                r#"const payload = {payload};
let container;
while (!(container = document.getElementById("map"))) await new Promise(r => setTimeout(r, 50));
try {{
  const {{ draw }} = await import(payload.assets + "{DRAWING_FILE}");
  await draw(container, {{ ...payload, onOpen: id => dioxus.send({{ open: id }}) }});
}} catch (e) {{ dioxus.send({{ failed: String(e) }}); }}
await new Promise(() => {{}});"#
            );
            let mut eval = document::eval(&script);
            while let Ok(message) = eval.recv::<serde_json::Value>().await {
                if let Some(id) = message["open"]
                    .as_str()
                    .and_then(|s| s.parse::<RecordId>().ok())
                {
                    ui.go(Route::Edit(id));
                } else if let Some(why) = message["failed"].as_str() {
                    tracing::warn!(error = why, "the map did not draw");
                    failed.set(Some(why.to_owned()));
                }
            }
        }
    });
    let missing = !has_renderer || failed().is_some();
    // The desktop window serves no files to its page: the renderer may be
    // installed and still out of its reach.
    let installed = source
        .assets_dir
        .as_deref()
        .is_some_and(MapSource::has_assets);
    rsx! {
        h2 { {tr(l, "网格地图", "Grid map")} }
        if missing {
            div { class: "banner warn", id: "map-missing",
                if let Some(why) = failed() {
                    {tr(l, &format!("地图未能显示（其余功能照常）：{why}。如浏览器不支持 WebGL，请换用较新的浏览器；管理员可重新运行 scripts/map-assets.sh。"),
                        &format!("The map could not be drawn (everything else works): {why}. If the browser lacks WebGL, use a newer one; an admin may rerun scripts/map-assets.sh."))}
                } else if installed {
                    {tr(l, "此窗口暂不能显示地图（其余功能照常）：请在浏览器中打开（beatbook-app liveview）或使用手机网页版。下方仍按距离列出附近记录。",
                        "This window cannot draw the map yet (everything else works): open the app in a browser (beatbook-app liveview) or use the phone web build. Nearby records are still listed below.")}
                } else {
                    {tr(l, "地图组件未安装，无法显示地图（其余功能照常）。管理员请运行 scripts/map-assets.sh 后重启应用。",
                        "The map renderer is not installed, so the map cannot be drawn (everything else works). An admin runs scripts/map-assets.sh, then restarts the app.")}
                }
            }
        } else {
            div { id: "map", class: "map" }
        }
        ul { class: "legend",
            li { span { class: "dot hazard" } {tr(l, &format!("未整改隐患 {}", count("hazards")), &format!("Open hazards {}", count("hazards")))} }
            li { span { class: "dot task" } {tr(l, &format!("任务 {}", count("tasks")), &format!("Tasks {}", count("tasks")))} }
            li { span { class: "dot house" } {tr(l, &format!("房屋 {}", count("houses")), &format!("Houses {}", count("houses")))} }
            li { span { class: "dot address" } {tr(l, &format!("标准地址 {}", count("addresses")), &format!("Addresses {}", count("addresses")))} }
            li { span { class: "dot track" } {tr(l, "巡逻轨迹", "Patrol track")} }
            if grid.position.is_some() { li { span { class: "dot me" } {tr(l, "我的位置", "You are here")} } }
        }
        NearMe {}
    }
}

/// Hazards or houses, nearest first.
#[component]
fn NearMe() -> Element {
    let ui = use_context::<Ui>();
    let l = *use_lang().read();
    let mut kind = use_signal(|| NearKind::Hazards);
    let form = match kind() {
        NearKind::Hazards => form_ids::HAZARD,
        NearKind::Houses => form_ids::HOUSE,
    };
    let near: Option<Vec<Near>> = match ui.core().map(|c| c.near_me(form, 30)) {
        Some(Ok(near)) => near,
        Some(Err(e)) => return read_failed(l, "near me", &e),
        None => None,
    };
    rsx! {
        h3 { {tr(l, "附近", "Near me")} }
        div { class: "chips", id: "near-kind", role: "radiogroup",
            for (k, id, label) in [(NearKind::Hazards, "near-hazards", tr(l, "隐患", "Hazards")), (NearKind::Houses, "near-houses", tr(l, "房屋", "Houses"))] {
                button { r#type: "button", id,
                    class: if kind() == k { "chip on" } else { "chip" },
                    onclick: move |_| kind.set(k), "{label}" }
            }
        }
        match near {
            None => rsx! { p { class: "empty", id: "near-no-fix", {tr(l, "尚未定位，无法按距离排序", "No position yet: cannot order by distance")} } },
            Some(near) if near.is_empty() => rsx! { p { class: "empty", {tr(l, "附近没有记录", "Nothing nearby")} } },
            Some(near) => rsx! {
                ul { class: "rows", id: "near",
                    for n in near {
                        RecordRow { key: "{n.record.id}", record: n.record.clone(), note: distance(n.distance_m) }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::*;

    #[cfg(feature = "liveview")]
    #[test]
    fn the_drawing_is_the_module_the_pages_import() {
        assert!(DRAWING.contains("export async function draw("));
    }
}
