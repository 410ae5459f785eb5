//! The map's data: records with a place, as GeoJSON layers (one function
//! per layer), for the field app's map of the officer's grid and the review
//! pages' map of the station. Pure: the callers gather the records and say
//! what day it is. Positions are read defensively — a record whose place
//! does not read (no fix yet, an older form, a hand-edited value) is simply
//! not drawn.
//!
//! Every feature carries `id` (the record), `form`, `label` and `layer`;
//! hazards and tasks add `status`, `deadline`/`due` and `overdue`.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{json, Map, Value as Json};

use crate::catalogue::form_ids;
use crate::form::Values;
use crate::ids::RecordId;

/// One record the map may draw.
#[derive(Debug, Clone)]
pub struct MapRecord<'a> {
    /// The record.
    pub id: RecordId,
    /// Its form.
    pub form: &'a str,
    /// Its values.
    pub values: &'a Values,
    /// How it is named in a list (the caller's label, in the reader's language).
    pub label: String,
}

/// What the layers are drawn from: records, and what day it is (for
/// overdue hazards and tasks).
#[derive(Debug, Clone)]
pub struct Places<'a> {
    records: Vec<MapRecord<'a>>,
    today: NaiveDate,
    /// Where each standard address is, for what stands at one (houses, visits).
    address_points: HashMap<String, (f64, f64)>,
}

impl<'a> Places<'a> {
    /// The places of `records`, on `today`.
    pub fn new(records: Vec<MapRecord<'a>>, today: NaiveDate) -> Self {
        let address_points = records
            .iter()
            .filter(|r| r.form == form_ids::ADDRESS)
            .filter_map(|r| Some((r.id.to_string(), point(r.values.get("geopoint")?)?)))
            .collect();
        Self {
            records,
            today,
            address_points,
        }
    }

    /// The records, in the order given.
    pub fn records(&self) -> &[MapRecord<'a>] {
        &self.records
    }

    fn of_form(&self, form: &'a str) -> impl Iterator<Item = &MapRecord<'a>> + '_ {
        self.records.iter().filter(move |r| r.form == form)
    }

    /// Where the address a record names in `field` is.
    fn at_address(&self, record: &MapRecord<'_>, field: &str) -> Option<(f64, f64)> {
        let address = record.values.get(field)?.as_str()?;
        self.address_points.get(address).copied()
    }
}

/// A layer: its name (a stable id the pages style and query by) and its
/// features, a GeoJSON `FeatureCollection`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Stable id: `outline`, `addresses`, `houses`, `hazards`, `tasks`, `visits`, `tracks`.
    pub id: &'static str,
    /// A GeoJSON `FeatureCollection`.
    pub data: Json,
}

impl Layer {
    /// How many features it holds.
    pub fn len(&self) -> usize {
        self.data["features"].as_array().map_or(0, Vec::len)
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A layer's builder.
pub type LayerFn = fn(&Places<'_>) -> Vec<Json>;

/// The field app's map of the officer's grid, bottom to top.
pub const GRID_LAYERS: &[(&str, LayerFn)] = &[
    ("outline", outline),
    ("addresses", addresses),
    ("houses", houses),
    ("tracks", tracks),
    ("tasks", tasks),
    ("hazards", open_hazards),
];

/// The review pages' map of the station, bottom to top (no outline: the
/// page reads hazards and today's work, not every address of each grid).
pub const STATION_LAYERS: &[(&str, LayerFn)] = &[
    ("tracks", tracks),
    ("visits", visits),
    ("tasks", tasks),
    ("hazards", hazards),
];

/// Builds `layers` from `places`.
pub fn build(places: &Places<'_>, layers: &[(&'static str, LayerFn)]) -> Vec<Layer> {
    layers
        .iter()
        .map(|(id, build)| Layer {
            id,
            data: json!({"type": "FeatureCollection", "features": build(places)}),
        })
        .collect()
}

/// A geopoint value's position as (latitude, longitude), if it is one on
/// the Earth.
pub fn point(value: &Json) -> Option<(f64, f64)> {
    let lat = value.get("lat")?.as_f64()?;
    let lon = value.get("lon")?.as_f64()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// Where a record is, if it has a place of its own or stands at a known
/// address: what "near me" measures from.
pub fn place_of(places: &Places<'_>, record: &MapRecord<'_>) -> Option<(f64, f64)> {
    ["geopoint", "location"]
        .iter()
        .find_map(|f| point(record.values.get(*f)?))
        .or_else(|| places.at_address(record, "address"))
}

fn feature(record: &MapRecord<'_>, layer: &str, geometry: Json, extra: Map<String, Json>) -> Json {
    let mut properties = Map::new();
    properties.insert("id".into(), json!(record.id.to_string()));
    properties.insert("form".into(), json!(record.form));
    properties.insert("label".into(), json!(record.label));
    properties.insert("layer".into(), json!(layer));
    properties.extend(extra);
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

fn point_geometry((lat, lon): (f64, f64)) -> Json {
    json!({"type": "Point", "coordinates": [lon, lat]})
}

fn text<'v>(values: &'v Values, field: &str) -> Option<&'v str> {
    values.get(field)?.as_str().filter(|s| !s.is_empty())
}

fn date(values: &Values, field: &str) -> Option<NaiveDate> {
    text(values, field)?.parse().ok()
}

/// Standard addresses at their located door plates.
pub fn addresses(places: &Places<'_>) -> Vec<Json> {
    places
        .of_form(form_ids::ADDRESS)
        .filter_map(|r| {
            let at = point(r.values.get("geopoint")?)?;
            Some(feature(r, "addresses", point_geometry(at), Map::new()))
        })
        .collect()
}

/// Houses, at their standard address's position.
pub fn houses(places: &Places<'_>) -> Vec<Json> {
    places
        .of_form(form_ids::HOUSE)
        .filter_map(|r| {
            let at = places.at_address(r, "address")?;
            let mut extra = Map::new();
            if let Some(u) = text(r.values, "use") {
                extra.insert("use".into(), json!(u));
            }
            Some(feature(r, "houses", point_geometry(at), extra))
        })
        .collect()
}

/// Hazards at their location, with status, deadline and whether an
/// unfinished one is past its deadline.
pub fn hazards(places: &Places<'_>) -> Vec<Json> {
    places
        .of_form(form_ids::HAZARD)
        .filter_map(|r| {
            let at = point(r.values.get("location")?)?;
            let status = text(r.values, "status").unwrap_or("open");
            let deadline = date(r.values, "deadline");
            let unfinished = matches!(status, "open" | "rectifying");
            let mut extra = Map::new();
            extra.insert("status".into(), json!(status));
            extra.insert("severity".into(), json!(text(r.values, "severity")));
            extra.insert("deadline".into(), json!(deadline.map(|d| d.to_string())));
            extra.insert(
                "overdue".into(),
                json!(unfinished && deadline.is_some_and(|d| d < places.today)),
            );
            Some(feature(r, "hazards", point_geometry(at), extra))
        })
        .collect()
}

/// Hazards not yet rectified (open or being rectified).
pub fn open_hazards(places: &Places<'_>) -> Vec<Json> {
    hazards(places)
        .into_iter()
        .filter(|f| {
            matches!(
                f["properties"]["status"].as_str(),
                Some("open" | "rectifying")
            )
        })
        .collect()
}

/// Tasks with a location, with status, due date and whether an open one is
/// overdue.
pub fn tasks(places: &Places<'_>) -> Vec<Json> {
    places
        .of_form(form_ids::TASK)
        .filter_map(|r| {
            let at = point(r.values.get("location")?)?;
            let status = text(r.values, "status").unwrap_or("open");
            let due = date(r.values, "due");
            let mut extra = Map::new();
            extra.insert("status".into(), json!(status));
            extra.insert("due".into(), json!(due.map(|d| d.to_string())));
            extra.insert(
                "overdue".into(),
                json!(status == "open" && due.is_some_and(|d| d < places.today)),
            );
            Some(feature(r, "tasks", point_geometry(at), extra))
        })
        .collect()
}

/// Visits, at the address visited.
pub fn visits(places: &Places<'_>) -> Vec<Json> {
    places
        .of_form(form_ids::VISIT)
        .filter_map(|r| {
            let at = places.at_address(r, "address")?;
            Some(feature(r, "visits", point_geometry(at), Map::new()))
        })
        .collect()
}

/// Patrol tracks as lines (a track of one point is a point).
pub fn tracks(places: &Places<'_>) -> Vec<Json> {
    places
        .of_form(form_ids::PATROL)
        .filter_map(|r| {
            let points: Vec<[f64; 2]> = r
                .values
                .get("track")?
                .as_array()?
                .iter()
                .filter_map(point)
                .map(|(lat, lon)| [lon, lat])
                .collect();
            let geometry = match points.as_slice() {
                [] => return None,
                [one] => json!({"type": "Point", "coordinates": one}),
                _ => json!({"type": "LineString", "coordinates": points}),
            };
            Some(feature(r, "tracks", geometry, Map::new()))
        })
        .collect()
}

/// Each grid's outline where its addresses are known: the convex hull of
/// its located standard addresses (no drawn boundary exists in the data),
/// for grids with at least three of them.
pub fn outline(places: &Places<'_>) -> Vec<Json> {
    let mut grids: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();
    for r in places.of_form(form_ids::ADDRESS) {
        let (Some(grid), Some(at)) = (
            text(r.values, "grid"),
            r.values.get("geopoint").and_then(point),
        ) else {
            continue;
        };
        match grids.iter_mut().find(|(g, _)| *g == grid) {
            Some((_, points)) => points.push((at.1, at.0)),
            None => grids.push((grid, vec![(at.1, at.0)])),
        }
    }
    grids
        .into_iter()
        .filter_map(|(grid, points)| {
            let mut ring = convex_hull(points);
            if ring.len() < 3 {
                return None;
            }
            ring.push(ring[0]);
            let ring: Vec<[f64; 2]> = ring.into_iter().map(|(x, y)| [x, y]).collect();
            Some(json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"grid": grid, "layer": "outline", "label": grid},
            }))
        })
        .collect()
}

/// Andrew's monotone chain, counter-clockwise, without repeated or collinear points.
fn convex_hull(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(points.len() * 2);
    for pass in [points.clone(), points.into_iter().rev().collect()] {
        let start = hull.len();
        for p in pass {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: Json) -> Values {
        match v {
            Json::Object(m) => m.into_iter().collect(),
            _ => unreachable!("an object"),
        }
    }

    fn id(n: u8) -> RecordId {
        format!("0192f2c0-0000-7000-8000-0000000000{n:02x}")
            .parse()
            .expect("a record id")
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date")
    }

    struct Fixture(Vec<(RecordId, &'static str, Values)>);

    impl Fixture {
        fn places(&self) -> Places<'_> {
            Places::new(
                self.0
                    .iter()
                    .map(|(id, form, values)| MapRecord {
                        id: *id,
                        form,
                        values,
                        label: format!("{form} {id}"),
                    })
                    .collect(),
                today(),
            )
        }
    }

    fn ids(features: &[Json]) -> Vec<String> {
        features
            .iter()
            .map(|f| f["properties"]["id"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    #[test]
    fn addresses_are_drawn_where_located_and_houses_at_their_address() {
        let f = Fixture(vec![
            (
                id(1),
                form_ids::ADDRESS,
                values(
                    json!({"grid": "g1", "geopoint": {"lat": 31.87, "lon": 121.17, "accuracy_m": 5.0}}),
                ),
            ),
            (id(2), form_ids::ADDRESS, values(json!({"grid": "g1"}))),
            (
                id(3),
                form_ids::HOUSE,
                values(json!({"address": id(1).to_string(), "use": "owner_occupied"})),
            ),
            (
                id(4),
                form_ids::HOUSE,
                values(json!({"address": id(2).to_string()})),
            ),
            (
                id(5),
                form_ids::HOUSE,
                values(json!({"address": "not an id"})),
            ),
        ]);
        let places = f.places();
        let a = addresses(&places);
        assert_eq!(ids(&a), [id(1).to_string()]);
        assert_eq!(a[0]["geometry"]["coordinates"], json!([121.17, 31.87]));
        let h = houses(&places);
        assert_eq!(ids(&h), [id(3).to_string()]);
        assert_eq!(h[0]["geometry"], a[0]["geometry"]);
        assert_eq!(h[0]["properties"]["use"], "owner_occupied");
        assert_eq!(h[0]["properties"]["form"], "house");
    }

    #[test]
    fn hazards_carry_status_deadline_and_overdue() {
        let at = json!({"lat": 31.87, "lon": 121.17});
        let f = Fixture(vec![
            (
                id(1),
                form_ids::HAZARD,
                values(json!({"location": at, "status": "open", "deadline": "2026-11-29"})),
            ),
            (
                id(2),
                form_ids::HAZARD,
                values(json!({"location": at, "status": "rectifying", "deadline": "2026-11-30"})),
            ),
            (
                id(3),
                form_ids::HAZARD,
                values(json!({"location": at, "status": "verified", "deadline": "2026-01-01"})),
            ),
            (
                id(4),
                form_ids::HAZARD,
                values(json!({"location": {"lat": "x"}, "status": "open"})),
            ),
            (
                id(5),
                form_ids::HAZARD,
                values(json!({"location": {"lat": 91.0, "lon": 0.0}})),
            ),
        ]);
        let h = hazards(&f.places());
        assert_eq!(
            ids(&h),
            [id(1).to_string(), id(2).to_string(), id(3).to_string()]
        );
        let overdue: Vec<bool> = h
            .iter()
            .map(|f| f["properties"]["overdue"] == true)
            .collect();
        assert_eq!(
            overdue,
            [true, false, false],
            "only an unfinished hazard past its deadline is overdue"
        );
        assert_eq!(h[1]["properties"]["status"], "rectifying");
        assert_eq!(h[1]["properties"]["deadline"], "2026-11-30");
    }

    #[test]
    fn tasks_need_a_location_and_read_their_fields_defensively() {
        let at = json!({"lat": 31.87, "lon": 121.17});
        let f = Fixture(vec![
            (
                id(1),
                form_ids::TASK,
                values(json!({"location": at, "status": "open", "due": "2026-11-01"})),
            ),
            (
                id(2),
                form_ids::TASK,
                values(json!({"location": at, "status": "done", "due": "2026-11-01"})),
            ),
            (
                id(3),
                form_ids::TASK,
                values(json!({"location": at, "due": 17})),
            ),
            (id(4), form_ids::TASK, values(json!({"status": "open"}))),
        ]);
        let t = tasks(&f.places());
        assert_eq!(
            ids(&t),
            [id(1).to_string(), id(2).to_string(), id(3).to_string()]
        );
        assert_eq!(t[0]["properties"]["overdue"], true);
        assert_eq!(t[1]["properties"]["overdue"], false);
        assert_eq!(t[2]["properties"]["due"], Json::Null);
        assert_eq!(t[2]["properties"]["status"], "open");
    }

    #[test]
    fn a_track_is_a_line_of_its_readable_points() {
        let f = Fixture(vec![
            (
                id(1),
                form_ids::PATROL,
                values(
                    json!({"track": [{"lat": 31.87, "lon": 121.17}, {"bad": 1}, {"lat": 31.871, "lon": 121.171}]}),
                ),
            ),
            (
                id(2),
                form_ids::PATROL,
                values(json!({"track": [{"lat": 31.87, "lon": 121.17}]})),
            ),
            (id(3), form_ids::PATROL, values(json!({"track": []}))),
            (id(4), form_ids::PATROL, values(json!({"route": "人民路"}))),
        ]);
        let t = tracks(&f.places());
        assert_eq!(ids(&t), [id(1).to_string(), id(2).to_string()]);
        assert_eq!(
            t[0]["geometry"],
            json!({"type": "LineString", "coordinates": [[121.17, 31.87], [121.171, 31.871]]})
        );
        assert_eq!(t[1]["geometry"]["type"], "Point");
    }

    #[test]
    fn a_grid_outline_is_the_hull_of_its_addresses() {
        let corner = |lat: f64, lon: f64| {
            values(json!({"grid": "g1", "geopoint": {"lat": lat, "lon": lon}}))
        };
        let f = Fixture(vec![
            (id(1), form_ids::ADDRESS, corner(0.0, 0.0)),
            (id(2), form_ids::ADDRESS, corner(0.0, 1.0)),
            (id(3), form_ids::ADDRESS, corner(1.0, 1.0)),
            (id(4), form_ids::ADDRESS, corner(1.0, 0.0)),
            (id(5), form_ids::ADDRESS, corner(0.5, 0.5)),
            (
                id(6),
                form_ids::ADDRESS,
                values(json!({"grid": "g2", "geopoint": {"lat": 0.0, "lon": 0.0}})),
            ),
        ]);
        let o = outline(&f.places());
        assert_eq!(o.len(), 1, "g2 has one address: no outline");
        let ring = o[0]["geometry"]["coordinates"][0]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(ring.len(), 5, "four corners, closed: {ring:?}");
        assert_eq!(ring.first(), ring.last());
        assert!(
            !ring.contains(&json!([0.5, 0.5])),
            "an inner address is not on the outline"
        );
    }

    #[test]
    fn visits_stand_at_the_address_visited_and_layers_build_in_order() {
        let f = Fixture(vec![
            (
                id(1),
                form_ids::ADDRESS,
                values(json!({"grid": "g1", "geopoint": {"lat": 31.87, "lon": 121.17}})),
            ),
            (
                id(2),
                form_ids::VISIT,
                values(json!({"address": id(1).to_string()})),
            ),
        ]);
        let places = f.places();
        assert_eq!(ids(&visits(&places)), [id(2).to_string()]);
        let layers = build(&places, STATION_LAYERS);
        let names: Vec<&str> = layers.iter().map(|l| l.id).collect();
        assert_eq!(names, ["tracks", "visits", "tasks", "hazards"]);
        assert_eq!(layers[1].len(), 1);
        assert!(layers[3].is_empty());
        let visit = MapRecord {
            id: id(2),
            form: form_ids::VISIT,
            values: &f.0[1].2,
            label: String::new(),
        };
        assert_eq!(place_of(&places, &visit), Some((31.87, 121.17)));
    }
}
