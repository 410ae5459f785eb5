//! Demo safety hazards (安全隐患): the categories officers meet in a town
//! centre, each with photos, a responsible party and a deadline, and some
//! carried through rectification and the supervisor's check.

use beatbook_schema::form::Values;
use beatbook_schema::ids::{RecordId, Sha256};
use chrono::{Duration, NaiveDate};
use rand::seq::{IteratorRandom, SliceRandom};
use rand::Rng;
use serde_json::json;

use crate::households::{HouseUse, Household};
use crate::people::{self, Origin, People};
use crate::places::{round6, Site};

/// Where a hazard ends up in the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndState {
    /// 待整改.
    Open,
    /// 整改中.
    Rectifying,
    /// 已整改, with after-photos (a second change by its author).
    Rectified,
    /// 已复查 (a third change, by the supervisor).
    Verified,
}

/// A hazard as the demo reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hazard {
    /// Its `hazard` record.
    pub id: RecordId,
    /// Index of its grid.
    pub grid: usize,
    /// `hazard_category` choice.
    pub category: &'static str,
    /// `venue_kind` choice, for the nine small venues.
    pub venue_kind: Option<&'static str>,
    /// `checklist` choices, where the form asks for them.
    pub checklist: Vec<&'static str>,
    /// What the officer wrote.
    pub description: String,
    /// `severity` choice.
    pub severity: &'static str,
    /// Found on.
    pub found: NaiveDate,
    /// The standard address, if the place has one.
    pub address: Option<RecordId>,
    /// Location (lat, lon, accuracy in metres).
    pub location: (f64, f64, f64),
    /// Photos taken when it was found.
    pub photos: usize,
    /// Responsible party and phone.
    pub responsible: Option<(String, String)>,
    /// Rectify by.
    pub deadline: NaiveDate,
    /// Where it ends up.
    pub end_state: EndState,
    /// Rectified on, for rectified and verified hazards.
    pub rectified_on: Option<NaiveDate>,
}

/// Categories with weights (out of 40).
const CATEGORIES: &[(&str, u32)] = &[
    ("nine_small_venues", 12),
    ("ebike_charging", 7),
    ("group_rented", 4),
    ("three_in_one", 4),
    ("blocked_fire_lane", 4),
    ("high_rise", 3),
    ("traffic_black_spot", 2),
    ("hazardous_chemicals", 2),
    ("other", 2),
];

/// Small venues: kind, what the sign says, and the severities met there.
const VENUES: &[(&str, &str)] = &[
    ("small_shop", "便利店"),
    ("small_shop", "烟酒超市"),
    ("small_restaurant", "小吃店"),
    ("small_restaurant", "面馆"),
    ("small_hotel", "快捷旅馆"),
    ("small_leisure", "棋牌室"),
    ("small_leisure", "足浴店"),
    ("small_leisure", "网吧"),
    ("small_workshop", "服装加工作坊"),
    ("small_flammable_store", "五金油漆店"),
    ("small_clinic", "社区诊所"),
];

/// Checklist items with the words an officer would use for them.
const CHECKLIST: &[(&str, &str)] = &[
    ("sleeping_on_premises", "经营场所内住人"),
    ("exit_blocked", "安全出口堆放杂物"),
    ("no_smoke_detector", "未安装烟感报警器"),
    ("no_extinguisher", "灭火器过期"),
    ("no_emergency_lighting", "无应急照明和疏散指示标志"),
    ("unsafe_wiring", "电线私拉乱接"),
    ("combustible_decoration", "使用可燃材料装修"),
    ("illegal_fire_use", "违规使用液化气钢瓶"),
    ("no_fire_pledge", "未签订消防安全承诺书"),
];

/// Plans `n` hazards over the grids (half in the auxiliary's grid).
pub fn plan_hazards(
    rng: &mut impl Rng,
    people: &mut People,
    sites: &[Site],
    households: &[Household],
    n: usize,
) -> Vec<Hazard> {
    (0..n)
        .map(|i| {
            let grid = [0, 0, 1, 2][i % 4];
            hazard(rng, people, sites, households, grid)
        })
        .collect()
}

fn hazard(
    rng: &mut impl Rng,
    people: &mut People,
    sites: &[Site],
    households: &[Household],
    grid: usize,
) -> Hazard {
    let today = people.today();
    let category = weighted_category(rng);
    let site = site_for(rng, category, grid, sites, households);
    let place = site.map(Site::label).unwrap_or_default();
    let (venue_kind, venue) = if category == "nine_small_venues" {
        let (kind, name) = VENUES.choose(rng).copied().unwrap_or(VENUES[0]);
        (Some(kind), name)
    } else {
        (None, "")
    };
    let checklist: Vec<(&str, &str)> = match category {
        "nine_small_venues" | "three_in_one" | "group_rented" => {
            let n = rng.gen_range(1..=3);
            CHECKLIST.choose_multiple(rng, n).copied().collect()
        }
        _ => Vec::new(),
    };
    let findings: Vec<&str> = checklist.iter().map(|(_, words)| *words).collect();
    let description = describe(rng, category, &place, venue, &findings, site);
    let end_state = match rng.gen_range(0..100) {
        0..=39 => EndState::Open,
        40..=64 => EndState::Rectifying,
        65..=84 => EndState::Rectified,
        _ => EndState::Verified,
    };
    let found = today - Duration::days(rng.gen_range(5..=60));
    let rectified_on = matches!(end_state, EndState::Rectified | EndState::Verified).then(|| {
        let days = (today - found).num_days().clamp(1, 20);
        found + Duration::days(rng.gen_range(1..=days))
    });
    let (lat, lon, accuracy) = match site {
        Some(s) => (s.lat, s.lon, s.accuracy_m),
        None => {
            let s = sites.iter().filter(|s| s.grid == grid).choose(rng);
            let (lat, lon) = s.map_or((31.87, 121.17), |s| (s.lat, s.lon));
            (
                round6(lat + rng.gen_range(-0.001..0.001)),
                round6(lon + rng.gen_range(-0.001..0.001)),
                8.0,
            )
        }
    };
    Hazard {
        id: RecordId::new_v7(),
        grid,
        category,
        venue_kind,
        checklist: checklist.iter().map(|(value, _)| *value).collect(),
        description,
        severity: severity(rng, category),
        found,
        address: site.map(|s| s.id),
        location: (lat, lon, accuracy),
        photos: rng.gen_range(1..=2),
        responsible: responsible(rng, people, category, venue),
        deadline: found + Duration::days(rng.gen_range(7..=30)),
        end_state,
        rectified_on,
    }
}

fn weighted_category(rng: &mut impl Rng) -> &'static str {
    CATEGORIES
        .choose_weighted(rng, |(_, w)| *w)
        .map_or("other", |(c, _)| *c)
}

/// The address a hazard of `category` sits at: a group-rented house for
/// group renting, a high-rise flat for high-rise fire safety, a street-front
/// house for venues, nothing for a road black spot.
fn site_for<'a>(
    rng: &mut impl Rng,
    category: &str,
    grid: usize,
    sites: &'a [Site],
    households: &[Household],
) -> Option<&'a Site> {
    let in_grid = || sites.iter().filter(move |s| s.grid == grid);
    match category {
        "traffic_black_spot" => None,
        "group_rented" => households
            .iter()
            .filter(|h| h.usage == HouseUse::GroupRented)
            .map(|h| &sites[h.site])
            .filter(|s| s.grid == grid)
            .choose(rng)
            .or_else(|| in_grid().choose(rng)),
        "high_rise" => in_grid()
            .filter(|s| s.storeys >= 11)
            .choose(rng)
            .or_else(|| in_grid().choose(rng)),
        "nine_small_venues" | "three_in_one" | "hazardous_chemicals" | "other" => in_grid()
            .filter(|s| s.flat.is_none())
            .choose(rng)
            .or_else(|| in_grid().choose(rng)),
        _ => in_grid().choose(rng),
    }
}

fn describe(
    rng: &mut impl Rng,
    category: &str,
    place: &str,
    venue: &str,
    findings: &[&str],
    site: Option<&Site>,
) -> String {
    let found = findings.join("、");
    match category {
        "nine_small_venues" => {
            format!("{place}{venue}检查发现：{found}。已告知经营者限期整改。")
        }
        "three_in_one" => format!(
            "{place}一楼经营{}，二楼住人，住人部分与经营储存部分未有效分隔；{found}。",
            ["小超市", "电动车修理", "布艺加工"]
                .choose(rng)
                .copied()
                .unwrap_or("小超市")
        ),
        "group_rented" => format!(
            "{place}出租房被隔成{}间，居住{}人；{found}。",
            rng.gen_range(4..=8),
            rng.gen_range(6..=14)
        ),
        "blocked_fire_lane" => {
            let road = site.map_or("", |s| s.road);
            format!("{road}小区消防通道被私家车和杂物占用，消防车无法通行，已通知物业清理。")
        }
        "high_rise" => format!("{place}所在高层住宅消火栓箱内水带缺失，部分楼层常闭式防火门敞开。"),
        "ebike_charging" => {
            format!("{place}楼道内停放电动自行车并充电，有电线从窗口拉出飞线充电。")
        }
        "traffic_black_spot" => format!(
            "{}与{}交叉口无信号灯，早晚高峰电动车与机动车混行，近三个月发生{}起事故。",
            ["长江南路", "人民中路", "北京西路", "育才路"]
                .choose(rng)
                .copied()
                .unwrap_or("长江南路"),
            ["秀山路", "解放西路", "狮山路", "海兴路"]
                .choose(rng)
                .copied()
                .unwrap_or("秀山路"),
            rng.gen_range(2..=6)
        ),
        "hazardous_chemicals" => format!(
            "{place}五金店违规储存油漆、稀释剂等易燃液体约{}桶，未设专用仓库。",
            rng.gen_range(10..=40)
        ),
        _ => format!("{place}沿街广告牌固定螺栓锈蚀松动，存在坠落风险。"),
    }
}

fn severity(rng: &mut impl Rng, category: &str) -> &'static str {
    let pool: &[&str] = match category {
        "hazardous_chemicals" => &["high", "critical"],
        "traffic_black_spot" => &["high"],
        "group_rented" | "three_in_one" => &["medium", "high", "high"],
        "ebike_charging" | "high_rise" => &["medium", "high"],
        _ => &["low", "medium", "medium", "high"],
    };
    pool.choose(rng).copied().unwrap_or("medium")
}

fn responsible(
    rng: &mut impl Rng,
    people: &mut People,
    category: &str,
    venue: &str,
) -> Option<(String, String)> {
    match category {
        "traffic_black_spot" => Some(("海门区交通运输局".to_owned(), people::landline(rng))),
        "blocked_fire_lane" | "high_rise" => {
            Some(("小区物业服务中心".to_owned(), people::landline(rng)))
        }
        _ => {
            let surname = people.surname(rng, Origin::Local);
            let gender = people::gender(rng, 0.6);
            let age = rng.gen_range(28..=65);
            let person = people.person(rng, surname, gender, age, Origin::Local);
            let role = if venue.is_empty() {
                "房主"
            } else {
                "经营者"
            };
            Some((
                format!("{}（{venue}{role}）", person.name),
                person.phone.unwrap_or_else(|| people::mobile(rng)),
            ))
        }
    }
}

impl Hazard {
    /// The values of the report as first pushed (open, or already rectifying).
    pub fn report_values(&self, photos: &[Sha256]) -> Values {
        let mut v = Values::new();
        v.insert("category".into(), json!(self.category));
        if let Some(kind) = self.venue_kind {
            v.insert("venue_kind".into(), json!(kind));
        }
        if !self.checklist.is_empty() {
            v.insert("checklist".into(), json!(self.checklist));
        }
        v.insert("description".into(), json!(self.description));
        v.insert("severity".into(), json!(self.severity));
        v.insert("found_date".into(), json!(self.found.to_string()));
        if let Some(address) = self.address {
            v.insert("address".into(), json!(address.to_string()));
        }
        let (lat, lon, accuracy_m) = self.location;
        v.insert(
            "location".into(),
            json!({"lat": lat, "lon": lon, "accuracy_m": accuracy_m}),
        );
        v.insert("photos".into(), json!(hex_list(photos)));
        if let Some((party, phone)) = &self.responsible {
            v.insert("responsible_party".into(), json!(party));
            v.insert("responsible_phone".into(), json!(phone));
        }
        v.insert("deadline".into(), json!(self.deadline.to_string()));
        let status = match self.end_state {
            EndState::Rectifying => "rectifying",
            _ => "open",
        };
        v.insert("status".into(), json!(status));
        v
    }

    /// The fields its author changes on reporting it rectified, if it was.
    pub fn rectified_fields(&self, after_photos: &[Sha256]) -> Option<Values> {
        let date = self.rectified_on?;
        let mut v = Values::new();
        v.insert("status".into(), json!("rectified"));
        v.insert("after_photos".into(), json!(hex_list(after_photos)));
        v.insert("rectified_date".into(), json!(date.to_string()));
        v.insert(
            "rectified_note".into(),
            json!("已按要求整改完毕，附整改后照片。"),
        );
        Some(v)
    }

    /// The field the supervisor changes on checking the rectification, if they did.
    pub fn verified_fields(&self) -> Option<Values> {
        (self.end_state == EndState::Verified).then(|| {
            let mut v = Values::new();
            v.insert("status".into(), json!("verified"));
            v
        })
    }
}

fn hex_list(hashes: &[Sha256]) -> Vec<String> {
    hashes.iter().map(Sha256::to_hex).collect()
}
