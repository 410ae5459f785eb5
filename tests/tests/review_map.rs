//! The review pages' station map against the real server: signed-in
//! supervisors only, each sees the hazards of their own station (its data
//! block holds their records and no other station's), and only this page's
//! policy lets scripts run. That it draws and a click opens the record is
//! tests/e2e/map.test.mjs (Chromium).

use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::ChangeOutcome;
use beatbook_tests::browser::Browser;
use beatbook_tests::data::obj;
use beatbook_tests::device::with_attachments;
use beatbook_tests::{TestDevice, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

/// A real JPEG (the demo's hazard scene): a hazard needs a photo.
const JPEG: &[u8] = include_bytes!("../../demo/assets/hazard.jpg");

/// An open hazard of `grid` reported by `device`.
async fn hazard(device: &TestDevice, grid: &str, lat: f64) -> RecordId {
    let photo = device.upload(JPEG, "image/jpeg").await;
    let id = RecordId::new_v7();
    let values = obj(json!({
        "category": "ebike_charging", "description": "楼道内电动车飞线充电", "severity": "high",
        "found_date": "2026-01-05", "location": {"lat": lat, "lon": 121.17, "accuracy_m": 6.0},
        "photos": [photo.sha256.to_hex()], "status": "open", "deadline": "2026-01-10",
    }));
    let change = with_attachments(device.upsert(id, "hazard", grid, 0, values), vec![photo]);
    let res = device.push(vec![change]).await.expect("push");
    assert!(
        matches!(res.results[0].outcome, ChangeOutcome::Accepted { .. }),
        "{:?}",
        res.results
    );
    id
}

/// The map's data block of a page.
fn map_data(body: &str) -> Json {
    let start = body
        .find(r#"id="beatbook-map-data">"#)
        .map(|i| i + r#"id="beatbook-map-data">"#.len())
        .expect("the page holds the map's data");
    let end = start + body[start..].find("</script>").expect("closed");
    serde_json::from_str(&body[start..end]).expect("JSON")
}

fn hazard_ids(data: &Json) -> Vec<String> {
    let layers = data["layers"].as_array().expect("layers");
    let hazards = layers
        .iter()
        .find(|l| l["id"] == "hazards")
        .expect("a hazards layer");
    hazards["data"]["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["properties"]["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The renderer's files as `scripts/map-assets.sh` would leave them (their
/// bytes do not matter here: the page only looks for them), so the test does
/// not depend on npm having run.
fn renderer_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for file in [
        "maplibre-gl.mjs",
        "maplibre-gl-worker.mjs",
        "maplibre-gl.css",
        "pmtiles.js",
    ] {
        std::fs::write(dir.path().join(file), b"").expect("a renderer file");
    }
    dir
}

#[tokio::test]
async fn each_station_maps_its_own_hazards_and_only_the_map_runs_scripts() {
    let renderer = renderer_files();
    let server =
        TestServer::start_with(|c| c.map_assets_dir = Some(renderer.path().to_owned())).await;
    let ours = hazard(&server.device("a1").await, "G1", 31.871).await;
    let theirs = hazard(&server.device("h1").await, "H1", 31.872).await;

    let s1 = Browser::signed_in(&server, "s1").await;
    let page = s1.open("/review/map").await;
    assert_eq!(page.status, StatusCode::OK);
    let data = map_data(&page.body);
    assert_eq!(hazard_ids(&data), [ours.to_string()]);
    assert_eq!(data["open"], "/review/records/{id}");
    let feature = &data["layers"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["id"] == "hazards"))
        .expect("hazards")["data"]["features"][0];
    assert_eq!(feature["geometry"]["coordinates"], json!([121.17, 31.871]));
    assert_eq!(feature["properties"]["status"], "open");
    assert_eq!(feature["properties"]["overdue"], true);
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let board = s1.open("/review/hazards").await;
    let csp = board.headers["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(
        !csp.contains("script-src"),
        "other pages run no script: {csp}"
    );

    let s2 = Browser::signed_in(&server, "s2").await;
    let data = map_data(&s2.open("/review/map?lang=en").await.body);
    assert_eq!(hazard_ids(&data), [theirs.to_string()]);

    // Strangers go to the sign-in page; device tokens open nothing.
    let page = Browser::new(&server).get("/review/map").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/review/login?next=%2Freview%2Fmap");
    let device = server.device("o1").await;
    let res = device
        .request(Method::GET, "/review/map")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The renderer's directory serves its four files and nothing else.
    for path in [
        "/review/map-assets/package.json",
        "/review/map-assets/VERSIONS",
        "/review/map-assets/..%2FCargo.toml",
    ] {
        assert_eq!(s1.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, headers, body) = s1.get_bytes("/review/static/beatbook-map.mjs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/javascript")));
    assert!(String::from_utf8_lossy(&body).contains("export async function draw("));
}
