//! Demo standard addresses (标准地址): the roads of Haimen's old town centre,
//! residential compounds with buildings, units, floors and rooms, detached
//! houses along the roads, and a location for each.

use beatbook_schema::form::Values;
use beatbook_schema::ids::RecordId;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;

use crate::gazetteer::DemoPlaces;

/// Roads of each grid's community (real road names of Haimen's centre).
const ROADS: [&[&str]; 3] = [
    &[
        "解放中路",
        "解放东路",
        "人民中路",
        "长江南路",
        "秀山路",
        "新华巷",
    ],
    &[
        "人民西路",
        "解放西路",
        "北京西路",
        "长江中路",
        "浦江路",
        "向民路",
    ],
    &[
        "育才路",
        "狮山路",
        "北京中路",
        "长江北路",
        "海兴路",
        "通源路",
    ],
];

/// Approximate centre of each grid (WGS 84 lat, lon), around 31.87 N 121.17 E.
const CENTRES: [(f64, f64); 3] = [
    (31.8712, 121.1768),
    (31.8745, 121.1592),
    (31.8638, 121.1681),
];

/// Share of addresses that are flats in a compound rather than detached houses.
const FLAT_SHARE: f64 = 0.65;

/// Storeys of compound buildings: mostly six-storey walk-ups, some high-rises.
const STOREYS: &[u32] = &[5, 6, 6, 6, 7, 11, 18];

/// A flat's place in its compound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flat {
    /// Building (幢).
    pub building: u32,
    /// Unit / entrance (单元).
    pub unit: u32,
    /// Floor.
    pub floor: i64,
    /// Room, e.g. 501.
    pub room: u32,
}

/// One standard address.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Its `address` record.
    pub id: RecordId,
    /// Index of its grid (0..3).
    pub grid: usize,
    /// Road (街路巷).
    pub road: &'static str,
    /// Door number (门牌号).
    pub door: u32,
    /// Building, unit, floor and room, for a flat.
    pub flat: Option<Flat>,
    /// Storeys of the building.
    pub storeys: u32,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// GPS accuracy in metres.
    pub accuracy_m: f64,
}

impl Site {
    /// The address as people write it, e.g. `人民中路88号3幢2单元501室`.
    pub fn label(&self) -> String {
        match self.flat {
            Some(f) => format!(
                "{}{}号{}幢{}单元{}室",
                self.road, self.door, f.building, f.unit, f.room
            ),
            None => format!("{}{}号", self.road, self.door),
        }
    }

    /// The `address` form's values for this site.
    pub fn values(&self, places: &DemoPlaces, grid_id: &str) -> Values {
        let mut v = Values::new();
        v.insert("division_code".into(), json!(places.division_code));
        v.insert("town".into(), json!(places.town));
        v.insert(
            "community".into(),
            json!(places.communities[self.grid].name),
        );
        v.insert("grid".into(), json!(grid_id));
        v.insert("road".into(), json!(self.road));
        v.insert("door_number".into(), json!(self.door.to_string()));
        if let Some(f) = self.flat {
            v.insert("building".into(), json!(f.building.to_string()));
            v.insert("unit_no".into(), json!(f.unit.to_string()));
            v.insert("floor".into(), json!(f.floor));
            v.insert("room".into(), json!(f.room.to_string()));
        }
        v.insert(
            "geopoint".into(),
            json!({"lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m}),
        );
        v
    }
}

/// A residential compound (小区) behind one door number.
#[derive(Debug, Clone)]
struct Compound {
    road: &'static str,
    door: u32,
    buildings: u32,
    units: u32,
    storeys: u32,
    lat: f64,
    lon: f64,
}

impl Compound {
    fn flats(&self) -> u32 {
        self.buildings * self.units * self.storeys * 2
    }
}

/// Plans `total` addresses spread over the three grids (grid order, then
/// road and door order within a grid).
pub fn plan_sites(rng: &mut impl Rng, total: usize) -> Vec<Site> {
    let shares = [total * 2 / 5, total * 7 / 20];
    let counts = [shares[0], shares[1], total - shares[0] - shares[1]];
    counts
        .iter()
        .enumerate()
        .flat_map(|(grid, &n)| plan_grid(rng, grid, n))
        .collect()
}

fn plan_grid(rng: &mut impl Rng, grid: usize, n: usize) -> Vec<Site> {
    let flats = (n as f64 * FLAT_SHARE).round() as usize;
    let compounds = plan_compounds(rng, grid, flats);
    let mut sites = pick_flats(rng, grid, &compounds, flats);
    sites.extend(pick_houses(rng, grid, &compounds, n - flats));
    sites
}

/// Enough compounds to hold `flats` flats with room to spare.
fn plan_compounds(rng: &mut impl Rng, grid: usize, flats: usize) -> Vec<Compound> {
    let (lat0, lon0) = CENTRES[grid];
    let mut compounds: Vec<Compound> = Vec::new();
    let capacity = |c: &[Compound]| c.iter().map(|c| c.flats() as usize).sum::<usize>();
    while compounds.len() < 2 || capacity(&compounds) < flats + flats / 4 {
        let road = ROADS[grid].choose(rng).copied().unwrap_or(ROADS[grid][0]);
        // Compounds take even numbers from 100 up; detached houses the rest.
        let door = 100 + 2 * compounds.len() as u32 * 7 + 2 * rng.gen_range(0..7);
        compounds.push(Compound {
            road,
            door,
            buildings: rng.gen_range(4..=14),
            units: rng.gen_range(2..=3),
            storeys: STOREYS.choose(rng).copied().unwrap_or(6),
            lat: lat0 + rng.gen_range(-0.004..0.004),
            lon: lon0 + rng.gen_range(-0.004..0.004),
        });
    }
    compounds
}

fn pick_flats(rng: &mut impl Rng, grid: usize, compounds: &[Compound], n: usize) -> Vec<Site> {
    let mut slots: Vec<(usize, Flat)> = Vec::new();
    for (i, c) in compounds.iter().enumerate() {
        for building in 1..=c.buildings {
            for unit in 1..=c.units {
                for floor in 1..=c.storeys {
                    for room in 1..=2 {
                        slots.push((
                            i,
                            Flat {
                                building,
                                unit,
                                floor: i64::from(floor),
                                room: floor * 100 + room,
                            },
                        ));
                    }
                }
            }
        }
    }
    slots.shuffle(rng);
    slots.truncate(n);
    slots.sort();
    slots
        .into_iter()
        .map(|(i, flat)| {
            let c = &compounds[i];
            Site {
                id: RecordId::new_v7(),
                grid,
                road: c.road,
                door: c.door,
                flat: Some(flat),
                storeys: c.storeys,
                lat: round6(c.lat + rng.gen_range(-0.0003..0.0003)),
                lon: round6(c.lon + rng.gen_range(-0.0003..0.0003)),
                accuracy_m: f64::from(rng.gen_range(3..=25u32)),
            }
        })
        .collect()
}

fn pick_houses(rng: &mut impl Rng, grid: usize, compounds: &[Compound], n: usize) -> Vec<Site> {
    let roads = ROADS[grid];
    let max_door = (n * 3 / roads.len()).max(120) as u32;
    let mut slots: Vec<(usize, u32)> = (0..roads.len())
        .flat_map(|r| (1..=max_door).map(move |d| (r, d)))
        .filter(|&(r, d)| !compounds.iter().any(|c| c.road == roads[r] && c.door == d))
        .collect();
    slots.shuffle(rng);
    slots.truncate(n);
    slots.sort();
    let (lat0, lon0) = CENTRES[grid];
    slots
        .into_iter()
        .map(|(r, door)| Site {
            id: RecordId::new_v7(),
            grid,
            road: roads[r],
            door,
            flat: None,
            storeys: rng.gen_range(2..=3),
            lat: round6(lat0 + rng.gen_range(-0.005..0.005)),
            lon: round6(lon0 + rng.gen_range(-0.005..0.005)),
            accuracy_m: f64::from(rng.gen_range(3..=25u32)),
        })
        .collect()
}

/// Rounds a coordinate to 6 decimals (about 0.1 m), as a GPS reading shows it.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn sites_are_unique_and_counted_per_grid() {
        for total in [10, 200, 3_000] {
            let sites = plan_sites(&mut StdRng::seed_from_u64(42), total);
            assert_eq!(sites.len(), total);
            let labels: HashSet<(usize, String)> =
                sites.iter().map(|s| (s.grid, s.label())).collect();
            assert_eq!(labels.len(), total, "duplicate addresses");
            assert!(sites
                .iter()
                .all(|s| s.flat.is_none_or(|f| f.floor <= i64::from(s.storeys))));
        }
    }
}
