//! Synthetic Haimen standard addresses for the pick-list search: the real
//! towns and villages of `assets/gazetteer/haimen.json` with common road
//! names, door numbers and building/unit/room; and the queries an officer
//! types to find them: initials, full pinyin, partial Chinese, door numbers
//! and two-term combinations.

use anyhow::Context;
use pinyin::ToPinyin;
use serde::Deserialize;

/// The gazetteer the addresses are made from.
pub fn gazetteer() -> anyhow::Result<Gazetteer> {
    let json = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/gazetteer/haimen.json"
    ));
    serde_json::from_str(json).context("parsing assets/gazetteer/haimen.json")
}

const ROADS: &[&str] = &[
    "人民路",
    "人民东路",
    "人民西路",
    "解放东路",
    "解放中路",
    "长江南路",
    "长江北路",
    "北京路",
    "上海路",
    "南京路",
    "黄海路",
    "珠江路",
    "秀山路",
    "海门路",
    "中南路",
    "浦江路",
    "厦门路",
    "广州路",
    "香港路",
    "青岛路",
    "长乐路",
    "浙江路",
    "江海路",
    "东洲路",
    "通江路",
    "北海路",
    "港西大道",
    "富江路",
    "健康路",
    "丝绸路",
    "张謇大道",
    "乐山路",
    "嘉陵江路",
    "湘江路",
    "汉江路",
    "淮河路",
    "钱塘江路",
    "沿江公路",
    "重庆路",
    "银河路",
];

#[derive(Deserialize)]
pub struct Gazetteer {
    towns: Vec<Town>,
}

#[derive(Deserialize)]
struct Town {
    name: String,
    communities: Vec<Community>,
}

#[derive(Deserialize)]
struct Community {
    name: String,
}

/// Deterministic xorshift, so every run searches the same data.
pub struct Rng(pub u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One synthetic address and the parts an officer would type to find it.
pub struct Address {
    pub label: String,
    /// The road or village, e.g. 人民路 or 颐生村.
    place: String,
    door: usize,
    building: Option<usize>,
    /// Village group (组), for village addresses.
    group: Option<usize>,
}

pub fn addresses(gazetteer: &Gazetteer, count: usize, rng: &mut Rng) -> Vec<Address> {
    (0..count)
        .map(|_| {
            let town = rng.pick(&gazetteer.towns);
            let max_door = if rng.below(3) == 0 { 300 } else { 60 };
            let door = 1 + rng.below(max_door);
            if rng.below(10) < 4 && !town.communities.is_empty() {
                let community = &rng.pick(&town.communities).name;
                // 沙南村村委会 → 沙南村, 通江街居委会 → 通江街社区, 秀山社区居委会 → 秀山社区.
                let place = match community.strip_suffix("村委会") {
                    Some(village) => village.to_string(),
                    None => {
                        let name = community.trim_end_matches("居委会");
                        match name.ends_with("社区") {
                            true => name.to_string(),
                            false => format!("{name}社区"),
                        }
                    }
                };
                let group = 1 + rng.below(20);
                Address {
                    label: format!("{}{place}{group}组{door}号", town.name),
                    place,
                    door,
                    building: None,
                    group: Some(group),
                }
            } else {
                let place = rng.pick(ROADS).to_string();
                let building = (rng.below(2) == 0).then(|| 1 + rng.below(30));
                let mut label = format!("{}{place}{door}号", town.name);
                if let Some(b) = building {
                    let (unit, floor, room) =
                        (1 + rng.below(4), 1 + rng.below(18), 1 + rng.below(4));
                    label += &format!("{b}幢{unit}单元{floor}{room:02}室");
                }
                Address {
                    label,
                    place,
                    door,
                    building,
                    group: None,
                }
            }
        })
        .collect()
}

fn initials(text: &str) -> String {
    text.to_pinyin()
        .flatten()
        .map(|p| p.first_letter())
        .collect()
}

fn full_pinyin(text: &str) -> String {
    text.to_pinyin().flatten().map(|p| p.plain()).collect()
}

/// Queries for randomly chosen addresses, as (kind, final text).
pub fn queries(addresses: &[Address], count: usize, rng: &mut Rng) -> Vec<(&'static str, String)> {
    (0..count)
        .map(|i| {
            let a = rng.pick(addresses);
            let place_chars: String = a.place.chars().take(2).collect();
            match i % 8 {
                0 => ("initials", initials(&a.place)),
                1 => ("full pinyin", full_pinyin(&a.place)),
                2 => ("partial Chinese", place_chars),
                3 => ("door number", format!("{}号", a.door)),
                4 => ("door digits", a.door.to_string()),
                5 => (
                    "initials + door",
                    format!("{} {}", initials(&a.place), a.door),
                ),
                6 => ("Chinese + door", format!("{place_chars} {}号", a.door)),
                _ => match (a.building, a.group) {
                    (Some(b), _) => ("door + building", format!("{}号 {b}幢", a.door)),
                    (None, Some(g)) => ("village group", format!("{} {g}z", initials(&a.place))),
                    (None, None) => (
                        "initials + door",
                        format!("{}{}", initials(&a.place), a.door),
                    ),
                },
            }
        })
        .collect()
}
