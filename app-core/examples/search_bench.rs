//! Latency of pick-list search over 100,000 synthetic Haimen standard addresses.
//!
//! `cargo run --release -p beatbook-app --example search_bench`
//!
//! Addresses combine the real towns and villages of `assets/gazetteer/haimen.json` with common road
//! names, door numbers and building/unit/room. Queries are what an officer types, keystroke by
//! keystroke (every prefix of each query is searched, as results-as-you-type does): initials, full
//! pinyin, partial Chinese, door numbers and two-term combinations.

use std::time::{Duration, Instant};

use anyhow::Context;
use beatbook_core::search::SearchIndex;
use pinyin::ToPinyin;
use serde::Deserialize;

const ADDRESSES: usize = 100_000;
const QUERIES: usize = 2_000;
const LIMIT: usize = 50;

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
struct Gazetteer {
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
struct Rng(u64);

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
struct Address {
    label: String,
    /// The road or village, e.g. 人民路 or 颐生村.
    place: String,
    door: usize,
    building: Option<usize>,
    /// Village group (组), for village addresses.
    group: Option<usize>,
}

fn addresses(gazetteer: &Gazetteer, rng: &mut Rng) -> Vec<Address> {
    (0..ADDRESSES)
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
fn queries(addresses: &[Address], rng: &mut Rng) -> Vec<(&'static str, String)> {
    (0..QUERIES)
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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    let json = include_str!("../../assets/gazetteer/haimen.json");
    let gazetteer: Gazetteer = serde_json::from_str(json).context("parsing haimen.json")?;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let addresses = addresses(&gazetteer, &mut rng);
    let queries = queries(&addresses, &mut rng);

    let started = Instant::now();
    let index = SearchIndex::build(
        addresses
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u32, &a.label)),
    );
    let build = started.elapsed();

    // Every keystroke is a query: "rml 12" is searched as r, rm, rml, rml 1, rml 12.
    let mut timings: Vec<(&str, Duration, usize, &str)> = Vec::new();
    let mut typed = 0;
    for (kind, text) in &queries {
        typed += 1;
        for (end, _) in text.char_indices().skip(1).chain([(text.len(), ' ')]) {
            let prefix = &text[..end];
            let started = Instant::now();
            let hits = index.search(prefix, LIMIT);
            timings.push((kind, started.elapsed(), hits.len(), prefix));
        }
    }
    let missing: Vec<&str> = queries
        .iter()
        .filter(|(_, q)| index.search(q, 1).is_empty())
        .map(|(_, q)| q.as_str())
        .collect();

    let labels_bytes: usize = addresses.iter().map(|a| a.label.len()).sum();
    println!("entries            {}", index.len());
    println!(
        "label text         {:.1} MiB (UTF-8)",
        labels_bytes as f64 / 1048576.0
    );
    println!(
        "index heap         {:.1} MiB",
        index.heap_bytes() as f64 / 1048576.0
    );
    println!("build              {:.0} ms", build.as_secs_f64() * 1e3);
    println!(
        "typed queries      {typed} → {} searches (one per keystroke), limit {LIMIT}",
        timings.len()
    );
    println!(
        "no result          {} typed queries, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    println!();
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "kind", "searches", "p50 ms", "p95 ms", "p99 ms", "max ms", "avg hits"
    );
    let mut kinds: Vec<&str> = timings.iter().map(|t| t.0).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds.push("all");
    for kind in kinds {
        let rows: Vec<_> = timings
            .iter()
            .filter(|t| kind == "all" || t.0 == kind)
            .collect();
        let mut times: Vec<Duration> = rows.iter().map(|t| t.1).collect();
        times.sort_unstable();
        let hits = rows.iter().map(|t| t.2).sum::<usize>() as f64 / rows.len() as f64;
        println!(
            "{kind:<18} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {hits:>9.1}",
            rows.len(),
            percentile(&times, 0.50),
            percentile(&times, 0.95),
            percentile(&times, 0.99),
            percentile(&times, 1.0),
        );
    }
    timings.sort_by_key(|t| std::cmp::Reverse(t.1));
    let slowest: Vec<String> = timings[..5]
        .iter()
        .map(|t| format!("{:?} {:.1} ms", t.3, t.1.as_secs_f64() * 1e3))
        .collect();
    println!("slowest: {}", slowest.join(", "));
    Ok(())
}
