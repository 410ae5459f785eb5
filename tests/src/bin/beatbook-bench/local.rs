//! The device's own figures, no network: a local save (validation, record
//! and outbox row in one durable SQLCipher transaction) and an autosaved
//! answer; the pick-list search over 100,000 standard addresses, every
//! keystroke timed; a camera photo after the capture pipeline. Results to a
//! JSON file (by default `docs/bench/local.json`), from which
//! `beatbook-bench report` renders the README's "Local figures" table.

mod addresses;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use beatbook_core::photos::{process, synthetic_camera_jpeg, PhotoSettings};
use beatbook_core::search::SearchIndex;
use beatbook_tests::client::device;
use beatbook_tests::data::house;
use beatbook_tests::TestServer;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{commit, fmt_int, load_average, machine, percentile, table, write_results};

/// A save slower than this at p99 is felt.
const SAVE_P99_BUDGET_MS: f64 = 5.0;
/// Under this per keystroke at p99, typing feels instant.
const SEARCH_P99_BUDGET_MS: f64 = 20.0;
/// Results a search asks for.
const SEARCH_LIMIT: usize = 50;
/// The camera picture the photo pipeline is given.
const CAMERA: (u32, u32) = (4000, 3000);

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Records finalized (each after one autosaved answer).
    #[arg(long, default_value_t = 1000)]
    pub saves: usize,
    /// Standard addresses in the pick list searched.
    #[arg(long, default_value_t = 100_000)]
    pub addresses: usize,
    /// Queries typed, each searched at every keystroke.
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
    /// Times the camera picture is processed.
    #[arg(long, default_value_t = 20)]
    pub photo_runs: usize,
    /// Where the results go.
    #[arg(long, default_value = "docs/bench/local.json")]
    pub out: PathBuf,
}

/// Percentiles of a timed operation, milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Millis {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Millis {
    fn of(times: &[Duration]) -> Self {
        let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Self {
            p50: percentile(&ms, 0.5),
            p95: percentile(&ms, 0.95),
            p99: percentile(&ms, 0.99),
            max: percentile(&ms, 1.0),
        }
    }
}

/// Local saves on an enrolled device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saves {
    pub saves: usize,
    /// `finalize`: validate, write the record and its outbox row, commit.
    pub finalize_ms: Millis,
    /// One answer set on an open form session (autosaved, durable).
    pub autosave_ms: Millis,
}

/// One kind of query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchKind {
    pub kind: String,
    pub searches: usize,
    pub ms: Millis,
    pub average_hits: f64,
}

/// The pick-list search, one search per keystroke.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Search {
    pub addresses: usize,
    pub typed_queries: usize,
    /// Searches made: one per keystroke of every typed query.
    pub searches: usize,
    pub limit: usize,
    /// Typed queries whose full text found nothing.
    pub no_result: usize,
    pub index_build_ms: f64,
    pub index_heap_mib: f64,
    pub label_text_mib: f64,
    /// Every keystroke of every kind.
    pub all: Millis,
    pub kinds: Vec<SearchKind>,
}

/// A camera picture after the capture pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Photo {
    pub input_width: u32,
    pub input_height: u32,
    pub input_bytes: usize,
    pub longest_edge: u32,
    pub jpeg_quality: u8,
    pub output_width: u32,
    pub output_height: u32,
    pub output_bytes: usize,
    pub runs: usize,
    /// Time to process the picture.
    pub ms: Millis,
}

/// The results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalFile {
    /// Cores, CPU model and memory.
    pub machine: String,
    /// When the run ended (UTC, RFC 3339).
    pub date: String,
    /// The commit measured (`-dirty` when the work tree had changes).
    pub commit: String,
    /// The machine's one-minute load average as the run started.
    pub load_average_at_start: Option<f64>,
    pub saves: Saves,
    pub search: Search,
    pub photo: Photo,
    /// Wall-clock seconds of each part: saves, search, photo.
    pub seconds: Timings,
}

/// Wall-clock seconds of each part of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timings {
    pub saves: f64,
    pub search: f64,
    pub photo: f64,
}

/// Measures all three and writes the file; returns it.
pub async fn run(args: &Args) -> Result<LocalFile> {
    let load_average_at_start = load_average();
    let t = Instant::now();
    let saves = saves(args.saves).await?;
    let saves_s = t.elapsed().as_secs_f64();
    eprintln!(
        "saves: finalize p99 {:.2} ms ({saves_s:.1} s)",
        saves.finalize_ms.p99
    );
    let t = Instant::now();
    let search = search(args.addresses, args.queries)?;
    let search_s = t.elapsed().as_secs_f64();
    eprintln!(
        "search: p99 {:.2} ms over {} searches ({search_s:.1} s)",
        search.all.p99, search.searches
    );
    let t = Instant::now();
    let photo = photo(args.photo_runs)?;
    let photo_s = t.elapsed().as_secs_f64();
    let file = LocalFile {
        machine: machine(),
        date: beatbook_tests::results::date(),
        commit: commit(),
        load_average_at_start,
        saves,
        search,
        photo,
        seconds: Timings {
            saves: saves_s,
            search: search_s,
            photo: photo_s,
        },
    };
    write_results(&args.out, &file)?;
    eprintln!("results written to {}", args.out.display());
    Ok(file)
}

/// `n` records finalized on an enrolled device, each after one answer.
async fn saves(n: usize) -> Result<Saves> {
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;
    let mut finalize = Vec::with_capacity(n);
    let mut autosave = Vec::with_capacity(n);
    for i in 0..n {
        let mut session = core.new_record("house", None, house(&format!("户主{i}")))?;
        let t = Instant::now();
        session.set("owner_phone", json!("13912345678"))?;
        autosave.push(t.elapsed());
        let t = Instant::now();
        session.finalize()?;
        finalize.push(t.elapsed());
    }
    Ok(Saves {
        saves: n,
        finalize_ms: Millis::of(&finalize),
        autosave_ms: Millis::of(&autosave),
    })
}

/// Every prefix of every query searched, as results-as-you-type does:
/// "rml 12" is searched as r, rm, rml, rml 1, rml 12.
fn search(count: usize, typed: usize) -> Result<Search> {
    let gazetteer = addresses::gazetteer()?;
    let mut rng = addresses::Rng(0x5eed_1234_abcd_ef01);
    let addresses = addresses::addresses(&gazetteer, count, &mut rng);
    let queries = addresses::queries(&addresses, typed, &mut rng);

    let started = Instant::now();
    let index = SearchIndex::build(
        addresses
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u32, &a.label)),
    );
    let build = started.elapsed();

    let mut timings: Vec<(&str, Duration, usize)> = Vec::new();
    for (kind, text) in &queries {
        for (end, _) in text.char_indices().skip(1).chain([(text.len(), ' ')]) {
            let started = Instant::now();
            let hits = index.search(&text[..end], SEARCH_LIMIT);
            timings.push((kind, started.elapsed(), hits.len()));
        }
    }
    let no_result = queries
        .iter()
        .filter(|(_, q)| index.search(q, 1).is_empty())
        .count();
    let mut kinds: Vec<&str> = timings.iter().map(|t| t.0).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let kinds = kinds
        .into_iter()
        .map(|kind| {
            let rows: Vec<_> = timings.iter().filter(|t| t.0 == kind).collect();
            let times: Vec<Duration> = rows.iter().map(|t| t.1).collect();
            SearchKind {
                kind: kind.to_owned(),
                searches: rows.len(),
                ms: Millis::of(&times),
                average_hits: rows.iter().map(|t| t.2).sum::<usize>() as f64
                    / rows.len().max(1) as f64,
            }
        })
        .collect();
    let all: Vec<Duration> = timings.iter().map(|t| t.1).collect();
    let mib = |bytes: usize| bytes as f64 / 1_048_576.0;
    Ok(Search {
        addresses: index.len(),
        typed_queries: queries.len(),
        searches: timings.len(),
        limit: SEARCH_LIMIT,
        no_result,
        index_build_ms: build.as_secs_f64() * 1e3,
        index_heap_mib: mib(index.heap_bytes()),
        label_text_mib: mib(addresses.iter().map(|a| a.label.len()).sum()),
        all: Millis::of(&all),
        kinds,
    })
}

/// A synthetic camera JPEG through the capture pipeline, `runs` times.
fn photo(runs: usize) -> Result<Photo> {
    let input = synthetic_camera_jpeg(CAMERA.0, CAMERA.1, 1)?;
    let settings = PhotoSettings::default();
    let mut times = Vec::with_capacity(runs);
    let mut output = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        output = Some(process(&input, &settings)?);
        times.push(start.elapsed());
    }
    let output = output.ok_or_else(|| anyhow::anyhow!("the photo was never processed"))?;
    Ok(Photo {
        input_width: CAMERA.0,
        input_height: CAMERA.1,
        input_bytes: input.len(),
        longest_edge: settings.longest_edge,
        jpeg_quality: settings.jpeg_quality,
        output_width: output.width,
        output_height: output.height,
        output_bytes: output.bytes.len(),
        runs: times.len(),
        ms: Millis::of(&times),
    })
}

/// Whether a p99 is within its budget, as the table says it.
fn budget(p99: f64, budget: f64) -> String {
    if p99 < budget {
        format!("p99 < {budget} ms: met")
    } else {
        format!("p99 < {budget} ms: **not met**")
    }
}

/// The README's "Local figures": what was run where, and one row per figure.
pub fn render(file: &LocalFile) -> String {
    let (s, q, p) = (&file.saves, &file.search, &file.photo);
    let mut out = format!(
        "{}; {}, commit {}; the machine's load average as the run started: {}.\n\n",
        file.machine,
        file.date,
        file.commit,
        file.load_average_at_start
            .map_or("–".to_owned(), |l| format!("{l:.1}"))
    );
    let rows = vec![
        vec![
            format!(
                "local save, finalize (validate + record + outbox row, one durable SQLCipher transaction), {} saves",
                fmt_int(s.saves as f64)
            ),
            format!(
                "p50 {:.2} ms, p99 {:.2} ms",
                s.finalize_ms.p50, s.finalize_ms.p99
            ),
            budget(s.finalize_ms.p99, SAVE_P99_BUDGET_MS),
        ],
        vec![
            "autosave of one answer (durable)".to_owned(),
            format!(
                "p50 {:.2} ms, p99 {:.2} ms",
                s.autosave_ms.p50, s.autosave_ms.p99
            ),
            String::new(),
        ],
        vec![
            format!(
                "pick-list search over {} standard addresses, every keystroke of {} typed queries ({} searches, at most {} results each)",
                fmt_int(q.addresses as f64),
                fmt_int(q.typed_queries as f64),
                fmt_int(q.searches as f64),
                q.limit
            ),
            format!(
                "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
                q.all.p50, q.all.p95, q.all.p99
            ),
            budget(q.all.p99, SEARCH_P99_BUDGET_MS),
        ],
        vec![
            "that pick list's index, built when the device opens".to_owned(),
            format!(
                "{:.0} ms, {:.1} MiB",
                q.index_build_ms, q.index_heap_mib
            ),
            String::new(),
        ],
        vec![
            format!(
                "photo after capture, {}×{} JPEG ({:.1} MB) → longest edge {} px, quality {}",
                p.input_width,
                p.input_height,
                p.input_bytes as f64 / 1e6,
                p.longest_edge,
                p.jpeg_quality
            ),
            format!(
                "{}×{}, {} KB; p50 {:.0} ms to process",
                p.output_width,
                p.output_height,
                fmt_int(p.output_bytes as f64 / 1e3),
                p.ms.p50
            ),
            String::new(),
        ],
    ];
    out.push_str(&table(&["what", "result", "target"], &rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(p50: f64, p99: f64) -> Millis {
        Millis {
            p50,
            p95: (p50 + p99) / 2.0,
            p99,
            max: p99 * 2.0,
        }
    }

    fn file() -> LocalFile {
        LocalFile {
            machine: "2 cores (Test CPU), 4.0 GiB RAM".into(),
            date: "2026-12-01T10:00:00Z".into(),
            commit: "0123456789ab".into(),
            load_average_at_start: Some(1.26),
            saves: Saves {
                saves: 1000,
                finalize_ms: millis(0.391, 0.704),
                autosave_ms: millis(0.2, 0.46),
            },
            search: Search {
                addresses: 100_000,
                typed_queries: 2_000,
                searches: 13_456,
                limit: 50,
                no_result: 0,
                index_build_ms: 812.4,
                index_heap_mib: 21.34,
                label_text_mib: 3.0,
                all: millis(2.71, 5.84),
                kinds: Vec::new(),
            },
            photo: Photo {
                input_width: 4000,
                input_height: 3000,
                input_bytes: 4_312_000,
                longest_edge: 1600,
                jpeg_quality: 80,
                output_width: 1600,
                output_height: 1200,
                output_bytes: 303_400,
                runs: 20,
                ms: millis(151.2, 170.0),
            },
            seconds: Timings {
                saves: 3.0,
                search: 9.0,
                photo: 3.2,
            },
        }
    }

    #[test]
    fn the_local_figures_table_shows_the_figures_of_the_file() {
        let text = render(&file());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "2 cores (Test CPU), 4.0 GiB RAM; 2026-12-01T10:00:00Z, commit 0123456789ab; \
             the machine's load average as the run started: 1.3."
        );
        assert_eq!(
            lines[4],
            "| local save, finalize (validate + record + outbox row, one durable SQLCipher transaction), \
             1,000 saves | p50 0.39 ms, p99 0.70 ms | p99 < 5 ms: met |"
        );
        assert!(text.contains(
            "| pick-list search over 100,000 standard addresses, every keystroke of 2,000 typed queries \
             (13,456 searches, at most 50 results each) | p50 2.7 ms, p95 4.3 ms, p99 5.8 ms | p99 < 20 ms: met |"
        ), "{text}");
        assert!(text.contains("| 812 ms, 21.3 MiB |"), "{text}");
        assert!(
            text.contains("| 1600×1200, 303 KB; p50 151 ms to process |"),
            "{text}"
        );
    }

    #[test]
    fn a_figure_over_its_budget_says_so() {
        let mut slow = file();
        slow.saves.finalize_ms.p99 = 5.0;
        assert!(render(&slow).contains("| p50 0.39 ms, p99 5.00 ms | p99 < 5 ms: **not met** |"));
    }

    #[test]
    fn the_file_reads_back_and_renders_the_same() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("local.json");
        write_results(&path, &file()).expect("write");
        assert_eq!(
            crate::report::render_file(&path).expect("render"),
            render(&file())
        );
    }
}
