//! The map of the officer's grid, from the records on this device (so it
//! works with no network): the layers of [`beatbook_schema::map::GRID_LAYERS`]
//! — the grid's outline, standard addresses, houses, this patrol's track,
//! tasks and open hazards — and the officer's position; and "near me":
//! records of a form ordered by distance from the current fix.

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::geo::distance_m;
use beatbook_schema::map::{self, Layer, MapRecord, Places, GRID_LAYERS};
use beatbook_schema::text::Lang;

use crate::error::CoreError;
use crate::platform::Fix;
use crate::service::Core;
use crate::store::{LocalRecord, RecordFilter};

/// What the map screen draws.
#[derive(Debug, Clone, PartialEq)]
pub struct GridMap {
    /// The layers, bottom to top.
    pub layers: Vec<Layer>,
    /// The officer's position, when the device knows it.
    pub position: Option<Fix>,
}

/// A record and how far it is from the officer.
#[derive(Debug, Clone, PartialEq)]
pub struct Near {
    /// The record.
    pub record: LocalRecord,
    /// Metres from the current fix.
    pub distance_m: f64,
}

/// The forms the map draws from (a standard address places what stands at it).
const MAP_FORMS: [&str; 5] = [
    form_ids::ADDRESS,
    form_ids::HOUSE,
    form_ids::HAZARD,
    form_ids::TASK,
    form_ids::PATROL,
];

impl Core {
    /// The grid's map from the records on this device, labels in `lang`.
    /// The track is the running patrol's, else the last patrol entered on
    /// this device.
    pub fn grid_map(&self, lang: Lang) -> Result<GridMap, CoreError> {
        let records = self.map_records(&MAP_FORMS[..4])?;
        let patrol = match self.running_patrol()? {
            Some(p) => Some(self.record(p.id)?),
            None => self.store().latest_of_form(form_ids::PATROL)?,
        };
        let records: Vec<&LocalRecord> = records.iter().chain(patrol.as_ref()).collect();
        let places = self.places(&records, lang);
        Ok(GridMap {
            layers: map::build(&places, GRID_LAYERS),
            position: self.platform().location(),
        })
    }

    /// Live records of `form` with a place, nearest first, at most `limit`;
    /// `None` when the device has no fix. A house or a visit is where its
    /// standard address is.
    pub fn near_me(&self, form: &str, limit: usize) -> Result<Option<Vec<Near>>, CoreError> {
        let Some(here) = self.platform().location() else {
            return Ok(None);
        };
        let records = self.map_records(&[form_ids::ADDRESS, form])?;
        let refs: Vec<&LocalRecord> = records.iter().collect();
        let places = self.places(&refs, Lang::Zh);
        let mut near: Vec<(f64, usize)> = places
            .records()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.form == form)
            .filter_map(|(i, r)| {
                let at = map::place_of(&places, r)?;
                Some((distance_m((here.lat, here.lon), at), i))
            })
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Some(
            near.into_iter()
                .take(limit)
                .map(|(distance_m, i)| Near {
                    record: refs[i].clone(),
                    distance_m,
                })
                .collect(),
        ))
    }

    fn map_records(&self, forms: &[&str]) -> Result<Vec<LocalRecord>, CoreError> {
        let mut records = Vec::new();
        for form in forms {
            records.extend(self.records(&RecordFilter {
                form: Some((*form).to_owned()),
                ..Default::default()
            })?);
        }
        Ok(records)
    }

    fn places<'r>(&self, records: &[&'r LocalRecord], lang: Lang) -> Places<'r> {
        Places::new(
            records
                .iter()
                .map(|r| MapRecord {
                    id: r.id,
                    form: r.form_id.as_str(),
                    values: &r.values,
                    label: self.label(r, lang),
                })
                .collect(),
            self.platform().today(),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{enrolled_core, finalized, obj};

    /// A standard address `dlat` thousandths of a degree north of the test fix.
    fn address_north(core: &Core, door: &str, dlat: f64) -> beatbook_schema::ids::RecordId {
        finalized(
            core,
            form_ids::ADDRESS,
            obj(json!({
                "division_code": "320614", "town": "海门街道", "community": "人民社区",
                "road": "人民路", "door_number": door,
                "geopoint": {"lat": 31.87 + dlat / 1000.0, "lon": 121.17, "accuracy_m": 5.0},
            })),
        )
    }

    fn house_at(
        core: &Core,
        address: beatbook_schema::ids::RecordId,
    ) -> beatbook_schema::ids::RecordId {
        finalized(
            core,
            form_ids::HOUSE,
            obj(
                json!({"address": address.to_string(), "use": "owner_occupied", "owner_name": "陆建华"}),
            ),
        )
    }

    fn layer<'m>(map: &'m GridMap, id: &str) -> &'m Layer {
        map.layers
            .iter()
            .find(|l| l.id == id)
            .expect("the layer is drawn")
    }

    fn ids(layer: &Layer) -> Vec<String> {
        layer.data["features"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| f["properties"]["id"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_grid_map_draws_the_records_on_the_device() {
        let (_dir, core) = enrolled_core();
        let a = address_north(&core, "1", 1.0);
        let h = house_at(&core, a);
        let open = core
            .new_record(
                form_ids::HAZARD,
                None,
                obj(json!({"category": "fire", "status": "open", "deadline": "2000-01-01"})),
            )
            .expect("a hazard draft")
            .id();
        let done = core
            .new_record(form_ids::HAZARD, None, obj(json!({"status": "verified"})))
            .expect("a hazard draft")
            .id();
        core.start_patrol().expect("a patrol starts");

        let m = core.grid_map(Lang::En).expect("the map");
        let names: Vec<&str> = m.layers.iter().map(|l| l.id).collect();
        assert_eq!(
            names,
            [
                "outline",
                "addresses",
                "houses",
                "tracks",
                "tasks",
                "hazards"
            ]
        );
        assert_eq!(ids(layer(&m, "addresses")), [a.to_string()]);
        assert_eq!(ids(layer(&m, "houses")), [h.to_string()]);
        // The hazard's location defaulted to the device's fix; a verified one is no longer open.
        let hazards = ids(layer(&m, "hazards"));
        assert_eq!(hazards, [open.to_string()], "not {done}");
        assert_eq!(
            layer(&m, "hazards").data["features"][0]["properties"]["overdue"],
            true
        );
        let running = core.running_patrol().expect("read").expect("running").id;
        assert_eq!(ids(layer(&m, "tracks")), [running.to_string()]);
        assert_eq!(m.position.map(|p| (p.lat, p.lon)), Some((31.87, 121.17)));
        let label = layer(&m, "houses").data["features"][0]["properties"]["label"].clone();
        assert!(
            label.as_str().is_some_and(|l| l.contains("人民路")),
            "{label}"
        );
    }

    #[test]
    fn near_me_orders_by_distance_from_the_fix() {
        let (_dir, core) = enrolled_core();
        let far = house_at(&core, address_north(&core, "9", 5.0));
        let near = house_at(&core, address_north(&core, "2", 0.5));
        let middle = house_at(&core, address_north(&core, "5", -2.0));
        let hits = core
            .near_me(form_ids::HOUSE, 10)
            .expect("read")
            .expect("a fix");
        let order: Vec<_> = hits.iter().map(|n| n.record.id).collect();
        assert_eq!(order, [near, middle, far]);
        assert!(
            (hits[0].distance_m - 55.6).abs() < 1.0,
            "{}",
            hits[0].distance_m
        );
        assert!(
            (hits[2].distance_m - 556.0).abs() < 5.0,
            "{}",
            hits[2].distance_m
        );
        assert_eq!(
            core.near_me(form_ids::HOUSE, 1)
                .expect("read")
                .map(|h| h.len()),
            Some(1)
        );
        // Addresses are not houses.
        assert!(hits
            .iter()
            .all(|n| n.record.form_id.as_str() == form_ids::HOUSE));
    }
}
