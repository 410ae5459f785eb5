//! The pick lists at grid scale: a real device store (SQLCipher, the real
//! PIN key derivation) filled through the pull path with `--people` people
//! and `--houses` houses, then queries typed one keystroke at a time —
//! names, pinyin initials, door numbers, the last digits of ID numbers —
//! each keystroke timed as the UI runs it (`Core::search_form`: catch up
//! with the store, then search). Also the time to build the pick lists when
//! the device opens and the memory they hold, a search right after a save,
//! and the lists the officer pages through. Results to a JSON file (by
//! default `docs/bench/pickers.json`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use beatbook_core::index::RecordIndex;
use beatbook_core::keys::PinKeys;
use beatbook_core::platform::Desktop;
use beatbook_core::store::{LocalState, LocalStore, PulledPage, RecordFilter};
use beatbook_core::Core;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::Values;
use beatbook_schema::ids::{DeviceId, FormId, GridId, RecordId, UserId};
use beatbook_schema::protocol::{Cursor, PullItem, PullPage, RecordVersion};
use beatbook_schema::record::{Record, RecordStatus};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{commit, fmt_int, load_average, machine, percentile, table, write_results};

/// Under this, typing feels instant.
const P99_BUDGET_MS: f64 = 20.0;
/// Results a picker asks for per keystroke (a screenful and "more").
const LIMIT: usize = 13;
const PIN: &str = "246810";

#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct Args {
    /// People on the device.
    #[arg(long, default_value_t = 100_000)]
    pub people: usize,
    /// Houses on the device.
    #[arg(long, default_value_t = 50_000)]
    pub houses: usize,
    /// Queries typed per kind.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Where the results go.
    #[arg(long, default_value = "docs/bench/pickers.json")]
    #[serde(skip)]
    pub out: PathBuf,
}

/// Latencies of one kind of query, per keystroke, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keystrokes {
    /// What was typed.
    pub kind: String,
    /// The pick list searched.
    pub form: String,
    /// An example query, as typed to its end.
    pub example: String,
    pub queries: usize,
    pub keystrokes: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Share of full queries whose intended record was among the results.
    pub found_share: f64,
}

/// Milliseconds of a repeated operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub what: String,
    pub runs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PickersFile {
    pub machine: String,
    pub date: String,
    pub commit: String,
    pub args: Args,
    /// Filling the store through the pull path.
    pub fill_s: f64,
    /// Opening the device (PIN key derivation, the pick lists built) end to end.
    pub core_open_ms: f64,
    /// Building the pick lists alone from the open store.
    pub index_build_ms: f64,
    /// What the pick lists hold on the heap (approximate).
    pub index_heap_mib: f64,
    /// The process's resident memory grown by building them.
    pub index_rss_mib: f64,
    /// The database file.
    pub database_mib: f64,
    pub keystrokes: Vec<Keystrokes>,
    pub other: Vec<Timing>,
    /// The machine's 1-minute load average before the fill and after the
    /// queries (other work on a shared machine shows in the tails).
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    /// Every kind's p99 under the budget.
    pub p99_budget_ms: f64,
    pub ok: bool,
}

const SURNAMES: [(&str, &str); 16] = [
    ("张", "z"),
    ("王", "w"),
    ("李", "l"),
    ("刘", "l"),
    ("陈", "c"),
    ("杨", "y"),
    ("黄", "h"),
    ("赵", "z"),
    ("吴", "w"),
    ("周", "z"),
    ("徐", "x"),
    ("孙", "s"),
    ("马", "m"),
    ("朱", "z"),
    ("胡", "h"),
    ("郭", "g"),
];
const GIVEN: [(&str, &str); 24] = [
    ("伟", "w"),
    ("芳", "f"),
    ("娜", "n"),
    ("敏", "m"),
    ("静", "j"),
    ("丽", "l"),
    ("强", "q"),
    ("磊", "l"),
    ("军", "j"),
    ("洋", "y"),
    ("勇", "y"),
    ("艳", "y"),
    ("杰", "j"),
    ("涛", "t"),
    ("明", "m"),
    ("超", "c"),
    ("秀", "x"),
    ("霞", "x"),
    ("平", "p"),
    ("刚", "g"),
    ("桂", "g"),
    ("英", "y"),
    ("建", "j"),
    ("国", "g"),
];
const USES: [&str; 4] = ["owner_occupied", "rented", "group_rented", "vacant"];
const COMMUNITIES: [&str; 8] = [
    "东港社区",
    "西城社区",
    "南苑社区",
    "北湖社区",
    "海门街道",
    "三星镇",
    "常乐镇",
    "临江新区",
];
const ROADS: [(&str, &str); 20] = [
    ("人民路", "rml"),
    ("解放路", "jfl"),
    ("长江路", "cjl"),
    ("黄河路", "hhl"),
    ("中山路", "zsl"),
    ("建设路", "jsl"),
    ("和平路", "hpl"),
    ("新华路", "xhl"),
    ("胜利路", "sll"),
    ("青年路", "qnl"),
    ("北京路", "bjl"),
    ("上海路", "shl"),
    ("南京路", "njl"),
    ("光明路", "gml"),
    ("文化路", "whl"),
    ("友谊路", "yyl"),
    ("工农路", "gnl"),
    ("幸福路", "xfl"),
    ("团结路", "tjl"),
    ("朝阳路", "cyl"),
];

struct Person {
    id: RecordId,
    name: String,
    initials: String,
    id_number: String,
}

struct House {
    id: RecordId,
    road: usize,
    door: u32,
}

fn record(id: RecordId, form: &str, values: serde_json::Value, n: u64) -> Result<PullItem> {
    let serde_json::Value::Object(values) = values else {
        anyhow::bail!("values must be an object");
    };
    let at = chrono::Utc::now();
    Ok(PullItem::Record {
        cursor: Cursor(n),
        version: Box::new(RecordVersion {
            record: Record {
                id,
                form_id: FormId(form.into()),
                form_version: 1,
                grid: GridId::new("g-bench"),
                author: UserId::new_v7(),
                device: DeviceId::new_v7(),
                values,
                attachments: Vec::new(),
                created_at: at,
                updated_at: at,
                status: RecordStatus::Submitted,
            },
            revision: 1,
            deleted: false,
            conflicted: false,
            conflicts: Vec::new(),
            review: None,
        }),
    })
}

/// Fills the store through `apply_pull`, a thousand records a page, as a
/// fresh device's first sync would.
fn fill(
    store: &mut LocalStore,
    args: &Args,
    rng: &mut StdRng,
) -> Result<(Vec<Person>, Vec<House>)> {
    let mut items = Vec::new();
    let mut n = 0_u64;
    let mut flush = |items: &mut Vec<PullItem>, n: u64, force: bool| -> Result<()> {
        if items.len() >= 1000 || (force && !items.is_empty()) {
            store.apply_pull(&PulledPage::try_from(&PullPage {
                items: std::mem::take(items),
                next: Cursor(n),
                has_more: !force,
                grids: None,
            })?)?;
        }
        Ok(())
    };
    let mut houses = Vec::with_capacity(args.houses);
    for i in 0..args.houses {
        let road = rng.gen_range(0..ROADS.len());
        let door = rng.gen_range(1..400);
        let id = RecordId::new_v7();
        let owner: String = format!(
            "{}{}",
            SURNAMES[rng.gen_range(0..SURNAMES.len())].0,
            GIVEN[rng.gen_range(0..GIVEN.len())].0
        );
        n += 1;
        items.push(record(
            id,
            form_ids::HOUSE,
            json!({
                "address": RecordId::new_v7(),
                "community": COMMUNITIES[i % COMMUNITIES.len()],
                "road": ROADS[road].0,
                "door_number": door.to_string(),
                "building": (i % 7 + 1).to_string(),
                "room": format!("{}0{}", i % 20 + 1, i % 4 + 1),
                "use": USES[i % USES.len()],
                "area_m2": 60 + i % 90,
                "storeys": 1 + i % 6,
                "owner_name": owner,
                "owner_phone": format!("139{:08}", rng.gen_range(0..100_000_000)),
                "tenant_count": 1 + i % 5,
                "fire_issues": ["none"],
            }),
            n,
        )?);
        houses.push(House { id, road, door });
        flush(&mut items, n, false)?;
    }
    let mut people = Vec::with_capacity(args.people);
    for _ in 0..args.people {
        let (surname, s) = SURNAMES[rng.gen_range(0..SURNAMES.len())];
        let given: Vec<(&str, &str)> = (0..rng.gen_range(1..=2))
            .map(|_| GIVEN[rng.gen_range(0..GIVEN.len())])
            .collect();
        let name = format!("{surname}{}", given.iter().map(|g| g.0).collect::<String>());
        let initials = format!("{s}{}", given.iter().map(|g| g.1).collect::<String>());
        let id_number = format!(
            "320684{:04}{:02}{:02}{:03}{}",
            rng.gen_range(1940..2020),
            rng.gen_range(1..13),
            rng.gen_range(1..29),
            rng.gen_range(0..1000),
            rng.gen_range(0..10)
        );
        let id = RecordId::new_v7();
        let house = houses
            .choose(rng)
            .map(|h| h.id)
            .context("people need houses: --houses 0")?;
        n += 1;
        items.push(record(
            id,
            form_ids::PERSON,
            json!({
                "house": house,
                "relation": "head",
                "category": "registered",
                "name": name,
                "id_number": id_number,
                "ethnicity": "han",
                "phone": format!("138{:08}", rng.gen_range(0..100_000_000)),
                "residence_permit": "not_needed",
                "move_in_date": "2020-05-01",
            }),
            n,
        )?);
        people.push(Person {
            id,
            name,
            initials,
            id_number,
        });
        flush(&mut items, n, false)?;
    }
    flush(&mut items, n, true)?;
    Ok((people, houses))
}

/// Resident memory of this process, in bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Types `query` one character at a time; returns each keystroke's
/// milliseconds and whether the last one found `want`.
fn type_query(core: &Core, form: &str, query: &str, want: RecordId) -> Result<(Vec<f64>, bool)> {
    let mut times = Vec::new();
    let mut typed = String::new();
    let mut found = false;
    for c in query.chars() {
        typed.push(c);
        let start = Instant::now();
        let hits = core.search_form(form, &typed, LIMIT)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        found = hits.iter().any(|(id, _)| *id == want);
    }
    Ok((times, found))
}

fn keystrokes(
    kind: &str,
    form: &str,
    queries: &[(String, RecordId)],
    core: &Core,
) -> Result<Keystrokes> {
    let mut all = Vec::new();
    let mut found = 0;
    for (q, want) in queries {
        let (times, hit) = type_query(core, form, q, *want)?;
        all.extend(times);
        found += usize::from(hit);
    }
    all.sort_by(f64::total_cmp);
    Ok(Keystrokes {
        kind: kind.into(),
        form: form.into(),
        example: queries.first().map(|q| q.0.clone()).unwrap_or_default(),
        queries: queries.len(),
        keystrokes: all.len(),
        p50_ms: percentile(&all, 0.5),
        p95_ms: percentile(&all, 0.95),
        p99_ms: percentile(&all, 0.99),
        max_ms: all.last().copied().unwrap_or(f64::NAN),
        found_share: found as f64 / queries.len().max(1) as f64,
    })
}

fn timing(what: &str, runs: usize, mut f: impl FnMut(usize) -> Result<()>) -> Result<Timing> {
    let mut ms = Vec::with_capacity(runs);
    for i in 0..runs {
        let start = Instant::now();
        f(i)?;
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok(Timing {
        what: what.into(),
        runs,
        p50_ms: percentile(&ms, 0.5),
        p99_ms: percentile(&ms, 0.99),
    })
}

/// Enrolls the device in the store's meta without a server (the pick
/// lists and lists need no sync; a draft needs an officer).
fn enroll_offline(store: &LocalStore) -> Result<()> {
    let user = beatbook_schema::protocol::UserInfo {
        id: UserId::new_v7(),
        badge: "000001".into(),
        name: "基准测试".into(),
        role: beatbook_schema::protocol::Role::Officer,
        station: beatbook_schema::ids::StationId::new("s-bench"),
        grids: vec![GridId::new("g-bench")],
    };
    store.set_meta(
        "enrollment",
        &beatbook_core::sync::Enrollment {
            server: "http://127.0.0.1:9".into(),
            token: "offline".into(),
            user,
        },
    )?;
    Ok(())
}

pub fn run(args: &Args) -> Result<PickersFile> {
    let load_before = load_average();
    let dir = tempfile::tempdir()?;
    let keys = PinKeys::default();
    let mut rng = StdRng::seed_from_u64(16);

    eprintln!(
        "filling {} people and {} houses …",
        args.people, args.houses
    );
    let start = Instant::now();
    let (people, houses) = {
        let mut store = LocalStore::open(dir.path(), PIN, &keys)?;
        enroll_offline(&store)?;
        fill(&mut store, args, &mut rng)?
    };
    let fill_s = start.elapsed().as_secs_f64();
    let database_mib =
        std::fs::metadata(dir.path().join("beatbook.db"))?.len() as f64 / 1_048_576.0;

    // The pick lists alone, on an open store.
    let (index_build_ms, index_heap_mib, index_rss_mib) = {
        let mut store = LocalStore::open(dir.path(), PIN, &keys)?;
        let before = rss_bytes();
        let start = Instant::now();
        let index = RecordIndex::build(&mut store, &|_, _, _| None)?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        ensure!(
            index.len(form_ids::PERSON) == args.people && index.len(form_ids::HOUSE) == args.houses,
            "the pick lists hold {} people and {} houses",
            index.len(form_ids::PERSON),
            index.len(form_ids::HOUSE)
        );
        let rss = rss_bytes().saturating_sub(before) as f64 / 1_048_576.0;
        (ms, index.heap_bytes() as f64 / 1_048_576.0, rss)
    };

    let start = Instant::now();
    let core = Core::open(dir.path(), PIN, &keys, Arc::new(Desktop::default()))?;
    let core_open_ms = start.elapsed().as_secs_f64() * 1000.0;
    eprintln!("filled in {fill_s:.0} s; pick lists built in {index_build_ms:.0} ms, device opened in {core_open_ms:.0} ms");

    let n = args.queries;
    let sample_people: Vec<&Person> = people.choose_multiple(&mut rng, n).collect();
    let sample_houses: Vec<&House> = houses.choose_multiple(&mut rng, n).collect();
    let names: Vec<_> = sample_people
        .iter()
        .map(|p| (p.name.clone(), p.id))
        .collect();
    let initials: Vec<_> = sample_people
        .iter()
        .map(|p| (p.initials.clone(), p.id))
        .collect();
    let id_digits: Vec<_> = sample_people
        .iter()
        .map(|p| (p.id_number[p.id_number.len() - 4..].to_owned(), p.id))
        .collect();
    let doors: Vec<_> = sample_houses
        .iter()
        .map(|h| (format!("{}{}", ROADS[h.road].1, h.door), h.id))
        .collect();
    let door_numbers: Vec<_> = sample_houses
        .iter()
        .map(|h| (format!("{}{}号", ROADS[h.road].0, h.door), h.id))
        .collect();
    let kinds = vec![
        keystrokes("name (characters)", form_ids::PERSON, &names, &core)?,
        keystrokes("name (pinyin initials)", form_ids::PERSON, &initials, &core)?,
        keystrokes("last 4 ID digits", form_ids::PERSON, &id_digits, &core)?,
        keystrokes(
            "road initials + door number",
            form_ids::HOUSE,
            &doors,
            &core,
        )?,
        keystrokes(
            "road + door number (characters)",
            form_ids::HOUSE,
            &door_numbers,
            &core,
        )?,
    ];

    // The officer saves a draft, then searches: the pick list catches up first.
    let mut session = core.new_record(form_ids::PERSON, None, Values::new())?;
    let mut after_save = Vec::new();
    for (i, (given, _)) in GIVEN.iter().cycle().take(200).enumerate() {
        let name = format!("王{given}{}", GIVEN[i % 7].0);
        session.set("name", json!(name))?;
        let start = Instant::now();
        let hits = core.search_form(form_ids::PERSON, &name, LIMIT)?;
        after_save.push(start.elapsed().as_secs_f64() * 1000.0);
        ensure!(
            hits.iter().any(|(id, _)| *id == session.id()),
            "the draft just saved is found"
        );
    }
    after_save.sort_by(f64::total_cmp);
    let after_save = Timing {
        what: "search right after an autosave (the pick list catches up)".into(),
        runs: after_save.len(),
        p50_ms: percentile(&after_save, 0.5),
        p99_ms: percentile(&after_save, 0.99),
    };
    let list_first = timing("sent list, first page (51 rows)", 50, |_| {
        core.records(&RecordFilter {
            states: vec![LocalState::Synced, LocalState::Approved],
            limit: Some(51),
            ..Default::default()
        })?;
        Ok(())
    })?;
    let list_deep = timing("sent list, page 100", 50, |_| {
        core.records(&RecordFilter {
            states: vec![LocalState::Synced, LocalState::Approved],
            limit: Some(51),
            offset: 50 * 99,
            ..Default::default()
        })?;
        Ok(())
    })?;
    let residents = timing("residents of a house (visit screen)", 200, |i| {
        let house = sample_houses[i % sample_houses.len()].id.to_string();
        core.records_where(form_ids::PERSON, "house", &house)?;
        Ok(())
    })?;
    let other = vec![after_save, list_first, list_deep, residents];

    let ok = kinds.iter().all(|k| k.p99_ms < P99_BUDGET_MS);
    let file = PickersFile {
        machine: machine(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        commit: commit(),
        args: args.clone(),
        fill_s,
        core_open_ms,
        index_build_ms,
        index_heap_mib,
        index_rss_mib,
        database_mib,
        keystrokes: kinds,
        other,
        load_before,
        load_after: load_average(),
        p99_budget_ms: P99_BUDGET_MS,
        ok,
    };
    write_results(&args.out, &file)?;
    eprintln!("results written to {}", args.out.display());
    Ok(file)
}

/// The Markdown of a results file.
pub fn render(file: &PickersFile) -> String {
    let ms = |x: f64| format!("{x:.1}");
    let rows: Vec<Vec<String>> = file
        .keystrokes
        .iter()
        .map(|k| {
            vec![
                format!("{} (`{}`)", k.kind, k.example),
                k.form.clone(),
                fmt_int(k.keystrokes as f64),
                ms(k.p50_ms),
                ms(k.p95_ms),
                ms(k.p99_ms),
                ms(k.max_ms),
                format!("{:.0}%", k.found_share * 100.0),
            ]
        })
        .collect();
    let mut out = format!(
        "{} people, {} houses on one device ({}; commit {}):\n\n",
        fmt_int(file.args.people as f64),
        fmt_int(file.args.houses as f64),
        file.machine,
        file.commit
    );
    out.push_str(&table(
        &[
            "typed",
            "pick list",
            "keystrokes",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "found",
        ],
        &rows,
    ));
    let other: Vec<Vec<String>> = file
        .other
        .iter()
        .map(|t| {
            vec![
                t.what.clone(),
                fmt_int(t.runs as f64),
                ms(t.p50_ms),
                ms(t.p99_ms),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table(&["operation", "runs", "p50 ms", "p99 ms"], &other));
    out.push_str(&format!(
        "\nPick lists built in {:.0} ms ({:.0} MiB on the heap, resident memory +{:.0} MiB); the device opens in {:.0} ms with the PIN's key derivation; database {:.0} MiB. Load average {} before, {} after.\n",
        file.index_build_ms,
        file.index_heap_mib,
        file.index_rss_mib,
        file.core_open_ms,
        file.database_mib,
        file.load_before.map_or("–".into(), |l| format!("{l:.1}")),
        file.load_after.map_or("–".into(), |l| format!("{l:.1}")),
    ));
    out
}
