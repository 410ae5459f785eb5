//! The README's tables, rendered from results files
//! (`beatbook-bench report docs/bench/scale.json`, `… docs/bench/compare.json`):
//! every figure comes from the file.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::compare::{CompareFile, PeerPhase, Phase, WritePath, PHASES};
use crate::load::Measured;
use crate::scale::ScaleFile;
use crate::servers::Backend;
use crate::{fmt_int, table};

/// Renders a results file of either kind, told apart by its fields.
pub fn render_file(path: &Path) -> Result<String> {
    if path.is_dir() {
        return Ok(crate::reliability::render(&crate::reliability::read_dir(
            path,
        )?));
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if json.get("configurations").is_some() {
        Ok(render(
            &serde_json::from_value::<ScaleFile>(json)
                .with_context(|| format!("{} is not a scale results file", path.display()))?,
        ))
    } else if json.get("peer").is_some() {
        Ok(render_compare(
            &serde_json::from_value::<CompareFile>(json)
                .with_context(|| format!("{} is not a compare results file", path.display()))?,
        ))
    } else if json.get("keystrokes").is_some() {
        Ok(crate::pickers::render(
            &serde_json::from_value::<crate::pickers::PickersFile>(json)
                .with_context(|| format!("{} is not a pickers results file", path.display()))?,
        ))
    } else if json.get("levels").is_some() && json.get("det_size").is_some() {
        crate::ocr::render(&json)
    } else if json.get("search").is_some() && json.get("photo").is_some() {
        Ok(crate::local::render(
            &serde_json::from_value::<crate::local::LocalFile>(json)
                .with_context(|| format!("{} is not a local results file", path.display()))?,
        ))
    } else if json.get("restores").is_some() {
        Ok(render_restore(
            &serde_json::from_value::<crate::restore::RestoreFile>(json)
                .with_context(|| format!("{} is not a restore results file", path.display()))?,
        ))
    } else if json.get("frequency_hz").is_some() {
        Ok(crate::profile::render(
            &serde_json::from_value::<crate::profile::ProfileFile>(json)
                .with_context(|| format!("{} is not a profile file", path.display()))?,
        ))
    } else if json.get("revisit_unchanged").is_some() {
        Ok(crate::effort::render(
            &serde_json::from_value::<crate::effort::EffortFile>(json)
                .with_context(|| format!("{} is not an entry-effort file", path.display()))?,
        ))
    } else {
        bail!(
            "{} is neither a scale, a compare, a pickers, a local, a restore, a profile, an entry-effort nor an ID card accuracy file (written by `beatbook-bench scale`, `compare`, `pickers`, `local`, `restore`, `profile`, tests/e2e/field-app.test.mjs or idcard-eval)",
            path.display()
        )
    }
}

/// A row of the comparison: Beatbook's figure and the peer's.
struct Row {
    name: String,
    ours: f64,
    theirs: f64,
    show: fn(f64) -> String,
    /// A duration: the ratio says whether Beatbook was slower or faster.
    seconds: bool,
}

fn ratio(row: &Row) -> String {
    let (o, t) = (row.ours, row.theirs);
    if !(o.is_finite() && t.is_finite() && t > 0.0) {
        return "–".into();
    }
    let r = o / t;
    match row.seconds {
        true if r > 1.0 => format!("{r:.2}× (slower)"),
        true => format!("{r:.2}× ({:.1}× faster)", t / o),
        false => format!("{r:.2}×"),
    }
}

/// A figure, or "–" where a system has none.
fn shown(show: fn(f64) -> String, x: f64) -> String {
    if x.is_finite() {
        show(x)
    } else {
        "–".into()
    }
}

fn fixed3(x: f64) -> String {
    format!("{x:.3}")
}

fn fixed2(x: f64) -> String {
    format!("{x:.2}")
}

fn fixed0(x: f64) -> String {
    format!("{x:.0}")
}

fn version(file: &CompareFile, package: &str) -> String {
    file.peer_versions[package]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

/// The README's "Side by side with PouchDB": what was run where, the table
/// of both systems, and Beatbook's phases.
pub fn render_compare(file: &CompareFile) -> String {
    let nf = file.n.max(1) as f64;
    let k = file.changes.max(1) as f64;
    let ours =
        |phase: &str, f: &dyn Fn(&Phase) -> f64| file.beatbook.get(phase).map_or(f64::NAN, f);
    let theirs =
        |phase: &str, f: &dyn Fn(&PeerPhase) -> f64| file.peer.get(phase).map_or(f64::NAN, f);
    let wire = |p: &Phase| (p.bytes_up + p.bytes_down) as f64;
    let mib = |b: f64| b / 1_048_576.0;
    let row = |name: &str, ours: f64, theirs: f64, show: fn(f64) -> String| Row {
        name: name.to_owned(),
        ours,
        theirs,
        show,
        seconds: false,
    };
    let rows = [
        row(
            "push, records/s",
            ours("push", &|p| p.records_per_s),
            theirs("push", &|p| p.records_per_s),
            fmt_int,
        ),
        row(
            "pull to a fresh device, records/s",
            ours("pull", &|p| p.records_per_s),
            theirs("pull", &|p| p.records_per_s),
            fmt_int,
        ),
        Row {
            seconds: true,
            ..row(
                &format!(
                    "incremental sync of {} changed records (push + pull), s",
                    file.changes
                ),
                ours("incr_push", &|p| p.seconds) + ours("incr_pull", &|p| p.seconds),
                theirs("incr_push", &|p| p.seconds) + theirs("incr_pull", &|p| p.seconds),
                fixed3,
            )
        },
        row(
            "requests, incremental sync (push + pull)",
            ours("incr_push", &|p| p.requests as f64) + ours("incr_pull", &|p| p.requests as f64),
            f64::NAN,
            fixed0,
        ),
        row(
            "bytes on the wire per pushed record",
            ours("push", &wire) / nf,
            theirs("push", &|p| p.bytes_total) / nf,
            fmt_int,
        ),
        row(
            "bytes on the wire per pulled record",
            ours("pull", &wire) / nf,
            theirs("pull", &|p| p.bytes_total) / nf,
            fmt_int,
        ),
        row(
            "bytes on the wire per changed record (push + pull)",
            (ours("incr_push", &wire) + ours("incr_pull", &wire)) / k,
            (theirs("incr_push", &|p| p.bytes_total) + theirs("incr_pull", &|p| p.bytes_total)) / k,
            fmt_int,
        ),
        row(
            "peak server memory (push, pull), MiB",
            mib(ours("push", &|p| p.server_rss_peak as f64)
                .max(ours("pull", &|p| p.server_rss_peak as f64))),
            mib(theirs("push", &|p| p.server_rss_peak).max(theirs("pull", &|p| p.server_rss_peak))),
            fixed0,
        ),
        row(
            "CPU s, push (client + server)",
            ours("push", &|p| p.client_cpu_s + p.server_cpu_s),
            theirs("push", &|p| p.client_cpu_s + p.server_cpu_s),
            fixed2,
        ),
        row(
            "CPU s, pull (client + server)",
            ours("pull", &|p| p.client_cpu_s + p.server_cpu_s),
            theirs("pull", &|p| p.client_cpu_s + p.server_cpu_s),
            fixed2,
        ),
        row(
            "CPU s of the server alone, push + pull",
            ours("push", &|p| p.server_cpu_s) + ours("pull", &|p| p.server_cpu_s),
            theirs("push", &|p| p.server_cpu_s) + theirs("pull", &|p| p.server_cpu_s),
            fixed2,
        ),
        row(
            match file.write {
                WritePath::Session => "local write, records/s (Beatbook: a form session, validation and one durable transaction per record; PouchDB: one `put` per record, LevelDB without fsync)",
                WritePath::Import => "local write, records/s (Beatbook: the import path, a form session and validation per record, flushed to the disk 500 at a time; PouchDB: one `put` per record, LevelDB without fsync)",
            },
            ours("write", &|p| p.records_per_s),
            theirs("write_put", &|p| p.records_per_s),
            fmt_int,
        ),
    ];
    let loads: Vec<String> = file
        .load_average_at_start
        .iter()
        .map(|l| format!("{l:.1}"))
        .collect();
    let mut out = format!(
        "N = {} records (the peer's gen.js, seed 42), {} run(s) of each system, medians; {}; {}, commit {}; \
         the machine's load average as each Beatbook run started: {}; as the peer's started: {}.\n\n",
        fmt_int(file.n as f64),
        file.runs,
        file.machine,
        file.date,
        file.commit,
        if loads.is_empty() { "–".to_owned() } else { loads.join(", ") },
        file.peer_load_average_at_start
            .map_or("–".to_owned(), |l| format!("{l:.1}")),
    );
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                shown(r.show, r.ours),
                shown(r.show, r.theirs),
                ratio(r),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            &format!(
                "N = {} records, {} B of JSON each",
                fmt_int(file.n as f64),
                fmt_int(file.json_bytes_per_record)
            ),
            "Beatbook",
            &format!(
                "PouchDB {} + pouchdb-server {}",
                version(file, "pouchdb_client"),
                version(file, "pouchdb_server")
            ),
            "Beatbook / PouchDB",
        ],
        &table_rows,
    ));
    out.push_str("\nBeatbook's phases (medians):\n\n");
    let phase_rows: Vec<Vec<String>> = PHASES
        .iter()
        .filter_map(|name| Some((*name, file.beatbook.get(*name)?)))
        .map(|(name, p)| {
            vec![
                name.to_owned(),
                fmt_int(p.records as f64),
                fixed3(p.seconds),
                fmt_int(p.records_per_s),
                p.requests.to_string(),
                format!(
                    "{:.2} / {:.2}",
                    p.bytes_up as f64 / 1e6,
                    p.bytes_down as f64 / 1e6
                ),
                format!("{:.2} / {:.2}", p.client_cpu_s, p.server_cpu_s),
                fixed0(mib(p.server_rss_peak as f64)),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "phase",
            "records",
            "s",
            "records/s",
            "requests",
            "wire MB up / down",
            "CPU s device / server",
            "server peak MiB",
        ],
        &phase_rows,
    ));
    out
}

/// The Markdown the README shows: one line saying what was run where, and
/// one row per configuration.
pub fn render(file: &ScaleFile) -> String {
    let a = &file.args;
    let postgres = file
        .configurations
        .iter()
        .find_map(|m| m.postgres_version.as_deref())
        .map(|v| format!("PostgreSQL {v}; "))
        .unwrap_or_default();
    let loads: Vec<String> = file
        .configurations
        .iter()
        .map(|m| {
            m.load_average_at_start
                .map_or("–".into(), |l| format!("{l:.1}"))
        })
        .collect();
    let mut out = format!(
        "{} devices, each with {} records and one ≈{} KB photo, all syncing at once; \
         {}; {postgres}{}, commit {}; the machine's load average as each configuration \
         started: {}.\n\n",
        a.devices,
        a.records,
        a.photo_kb,
        file.machine,
        file.date,
        file.commit,
        loads.join(", ")
    );
    let rows: Vec<Vec<String>> = file.configurations.iter().map(row).collect();
    out.push_str(&table(
        &[
            "servers",
            "push p50 / p95 / p99, ms",
            "the server's own answer to a push, p50 / p99, ms",
            "whole sync p50 / p99, ms",
            "records pushed / s",
            "server CPU, s",
            "PostgreSQL CPU, s",
            "server peak RSS, MiB",
            "exactly once",
        ],
        &rows,
    ));
    out
}

fn row(m: &Measured) -> Vec<String> {
    let per_instance = |total: String, each: &[f64], digits: usize| {
        if each.len() > 1 {
            let each: Vec<String> = each.iter().map(|x| format!("{x:.digits$}")).collect();
            format!("{total} ({})", each.join(" + "))
        } else {
            total
        }
    };
    let e = &m.exactly_once;
    vec![
        m.servers(),
        format!(
            "{:.0} / {:.0} / {:.0}",
            m.push_ms.p50, m.push_ms.p95, m.push_ms.p99
        ),
        m.server_push_ms.as_ref().map_or_else(
            || "–".to_owned(),
            |s| format!("{:.0} / {:.0}", s.p50, s.p99),
        ),
        format!("{:.0} / {:.0}", m.sync_ms.p50, m.sync_ms.p99),
        fmt_int(m.records_per_s),
        per_instance(
            format!("{:.1}", m.server_cpu_s),
            &m.server_cpu_s_per_instance,
            1,
        ),
        m.postgres_cpu_s
            .map_or_else(|| "–".to_owned(), |s| format!("{s:.1}")),
        if m.server_peak_rss_mib_per_instance.len() > 1 {
            let each: Vec<String> = m
                .server_peak_rss_mib_per_instance
                .iter()
                .map(|x| format!("{x:.0}"))
                .collect();
            each.join(" and ")
        } else {
            format!("{:.0}", m.server_peak_rss_mib)
        },
        if e.ok {
            format!("yes ({} records)", fmt_int(e.stored_once as f64))
        } else {
            format!(
                "NO: {} entered, {} acknowledged, {} on the server, {} stored once",
                e.entered, e.acknowledged, e.on_server, e.stored_once
            )
        },
    ]
}

/// `report --devices FILE`: [`render_devices`] of a scale file.
pub fn render_devices_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let file: ScaleFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a scale results file", path.display()))?;
    render_devices(&file)
        .with_context(|| format!("{} has no SQLite run of one instance", path.display()))
}

/// The README's "Many devices at once": the scale run's SQLite
/// configuration (one instance) with every figure, so that section and the
/// "Scale" table come from the same run.
pub fn render_devices(file: &ScaleFile) -> Option<String> {
    let m = file
        .configurations
        .iter()
        .find(|m| m.backend == Backend::Sqlite && m.instances == 1)?;
    let mut out = format!(
        "{}; {}, commit {}; the machine's load average as the devices started: {}.\n\n",
        file.machine,
        file.date,
        file.commit,
        m.load_average_at_start
            .map_or("–".into(), |l| format!("{l:.1}"))
    );
    out.push_str(&crate::load::render(&file.args, m));
    Some(out)
}

/// The restore table: a fresh device's restore of the same records with
/// one and with more versions each, and how each figure grew.
pub fn render_restore(file: &crate::restore::RestoreFile) -> String {
    let Some(first) = file.restores.first() else {
        return "No restore measured.\n".into();
    };
    let growth = |x: f64, base: f64| {
        if base > 0.0 {
            format!("{:.2}×", x / base)
        } else {
            "–".into()
        }
    };
    let rows: Vec<Vec<String>> = file
        .restores
        .iter()
        .map(|r| {
            vec![
                r.versions.to_string(),
                fmt_int(r.items as f64),
                r.requests.to_string(),
                format!(
                    "{:.2} MB ({})",
                    r.bytes_down as f64 / 1e6,
                    growth(r.bytes_down as f64, first.bytes_down as f64)
                ),
                format!("{:.2} s ({})", r.seconds, growth(r.seconds, first.seconds)),
                format!(
                    "{} µs ({})",
                    fixed0(r.server_cpu_us_per_record(file.records)),
                    growth(r.server_cpu_s, first.server_cpu_s)
                ),
                format!("{:.2} s", r.client_cpu_s),
                r.edit_server_cpu_us
                    .map_or("–".into(), |us| format!("{us:.0} µs")),
            ]
        })
        .collect();
    format!(
        "Fresh-device restore of {} records (median of {} runs; {}, {}, commit {}):\n\n{}",
        fmt_int(file.records as f64),
        file.runs,
        file.machine,
        file.date,
        file.commit,
        table(
            &[
                "versions per record",
                "items pulled",
                "requests",
                "bytes down (vs 1 version)",
                "time",
                "server CPU per record",
                "device CPU",
                "server CPU per edit written",
            ],
            &rows,
        )
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_readme_shows_the_committed_results() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        for file in [
            "docs/bench/compare.json",
            "docs/bench/scale.json",
            "docs/bench/pickers.json",
            "docs/entry-effort.json",
            "docs/ocr-accuracy.json",
            "docs/bench/local.json",
            "docs/bench/restore.json",
            "docs/bench/profile.json",
            // A directory: the fault trials' long runs.
            "docs/reliability",
        ] {
            let rendered = render_file(&root.join(file)).expect(file);
            assert!(
                readme.contains(rendered.trim()),
                "README.md does not show {file} as `scripts/bench.sh report {file}` renders it: \
                 paste that output into the README"
            );
        }
        let growth = crate::growth::render(
            &crate::growth::read_dir(&root.join("docs/bench/growth")).expect("docs/bench/growth"),
        );
        assert!(
            readme.contains(growth.trim()),
            "README.md does not show docs/bench/growth as `scripts/bench.sh report --growth docs/bench/growth` renders it: paste that output"
        );
        // The incremental syncs at 50,000 records, and at 10,000 in an
        // earlier run of the same sitting (the machine's drift).
        for (small, large) in [
            ("docs/bench/profile.json", "docs/bench/profile-50k.json"),
            (
                "docs/bench/profile-10k-earlier.json",
                "docs/bench/profile.json",
            ),
        ] {
            let rendered = crate::profile::render_incremental_growth_files(
                &root.join(small),
                &root.join(large),
            )
            .expect(large);
            assert!(
                readme.contains(rendered.trim()),
                "README.md does not show `scripts/bench.sh report {small} --incremental-growth \
                 {large}`: paste that output"
            );
        }
        let devices = render_devices_file(&root.join("docs/bench/scale.json")).expect("scale.json");
        assert!(
            readme.contains(devices.trim()),
            "README.md's \"Many devices at once\" does not show docs/bench/scale.json's SQLite run as \
             `scripts/bench.sh report --devices docs/bench/scale.json` renders it: paste that output"
        );
    }
    use crate::load::{ExactlyOnce, Latency, Workload};

    fn measured(backend: Backend, cpu: Vec<f64>, rss: Vec<f64>, pg: Option<f64>) -> Measured {
        Measured {
            backend,
            instances: cpu.len(),
            push_ms: Latency {
                p50: 101.4,
                p95: 202.6,
                p99: 303.0,
            },
            server_push_ms: Some(Latency {
                p50: 12.4,
                p95: 40.0,
                p99: 48.6,
            }),
            upload_ms: Latency {
                p50: 1.0,
                p95: 2.0,
                p99: 3.0,
            },
            sync_ms: Latency {
                p50: 404.0,
                p95: 450.0,
                p99: 505.0,
            },
            records_per_s: 12345.6,
            photo_mb_per_s: 9.9,
            wall_s: 7.0,
            server_cpu_s: cpu.iter().sum(),
            devices_cpu_s: Some(9.87),
            server_cpu_s_per_instance: cpu,
            server_peak_rss_mib: rss.iter().copied().fold(0.0, f64::max),
            server_peak_rss_mib_per_instance: rss,
            server_rss_at_start_mib: 20.0,
            postgres_cpu_s: pg,
            cores: Some(2),
            postgres_version: pg.map(|_| "15.14".into()),
            load_average_at_start: Some(1.5),
            exactly_once: ExactlyOnce {
                ok: true,
                entered: 10_000,
                acknowledged: 10_000,
                left_in_outboxes: 0,
                on_server: 10_000,
                stored_once: 10_000,
                photos_missing: 0,
            },
        }
    }

    pub(crate) fn compare_file() -> CompareFile {
        let phase =
            |records: usize, seconds: f64, bytes: (u64, u64), cpu: (f64, f64), requests| Phase {
                records,
                seconds,
                records_per_s: records as f64 / seconds,
                bytes_up: bytes.0,
                bytes_down: bytes.1,
                client_cpu_s: cpu.0,
                server_cpu_s: cpu.1,
                server_rss_peak: 40 * 1_048_576,
                requests,
                server_answer_s: seconds / 2.0,
                client_written_bytes: bytes.1 * 2,
                server_written_bytes: bytes.0 * 2,
            };
        let peer = |records_per_s: f64, seconds: f64, bytes_total: f64| PeerPhase {
            records_per_s,
            seconds,
            bytes_total,
            server_rss_peak: 180.0 * 1_048_576.0,
            client_cpu_s: 2.0,
            server_cpu_s: 3.0,
        };
        let beatbook: std::collections::BTreeMap<String, Phase> = [
            ("write", phase(10_000, 40.0, (0, 0), (9.0, 0.0), 0)),
            (
                "push",
                phase(10_000, 2.0, (4_000_000, 160_000), (1.4, 1.5), 20),
            ),
            (
                "pull",
                phase(10_000, 1.0, (1_000, 2_500_000), (0.8, 0.2), 11),
            ),
            (
                "incr_push",
                phase(100, 0.06, (10_000, 2_000), (0.04, 0.02), 1),
            ),
            ("incr_pull", phase(100, 0.02, (300, 30_000), (0.02, 0.0), 1)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        CompareFile {
            machine: "2 cores (Test CPU), 4.0 GiB RAM".into(),
            date: "2026-12-01T10:00:00Z".into(),
            commit: "0123456789ab".into(),
            n: 10_000,
            runs: 3,
            changes: 100,
            write: WritePath::Session,
            json_bytes_per_record: 1432.4,
            load_average_at_start: vec![1.26, 2.0, 3.0],
            peer_load_average_at_start: Some(2.5),
            beatbook,
            beatbook_runs: Vec::new(),
            peer: [
                ("push", peer(2_000.0, 5.0, 17_550_000.0)),
                ("pull", peer(2_500.0, 4.0, 4_530_000.0)),
                ("incr_push", peer(0.0, 0.05, 100_000.0)),
                ("incr_pull", peer(0.0, 0.07, 133_200.0)),
                ("write_put", peer(3_000.0, 3.3, 0.0)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            peer_versions: serde_json::json!({"pouchdb_client": "9.0.0", "pouchdb_server": "4.2.0"}),
        }
    }

    #[test]
    fn the_comparison_shows_the_figures_of_the_file() {
        let text = render_compare(&compare_file());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "N = 10,000 records (the peer's gen.js, seed 42), 3 run(s) of each system, medians; \
             2 cores (Test CPU), 4.0 GiB RAM; 2026-12-01T10:00:00Z, commit 0123456789ab; the machine's \
             load average as each Beatbook run started: 1.3, 2.0, 3.0; as the peer's started: 2.5."
        );
        assert_eq!(
            lines[2],
            "| N = 10,000 records, 1,432 B of JSON each | Beatbook | PouchDB 9.0.0 + pouchdb-server 4.2.0 | Beatbook / PouchDB |"
        );
        assert_eq!(lines[4], "| push, records/s | 5,000 | 2,000 | 2.50× |");
        assert_eq!(
            lines[6],
            "| incremental sync of 100 changed records (push + pull), s | 0.080 | 0.120 | 0.67× (1.5× faster) |"
        );
        assert_eq!(
            lines[7],
            "| requests, incremental sync (push + pull) | 2 | – | – |"
        );
        assert_eq!(
            lines[8],
            "| bytes on the wire per pushed record | 416 | 1,755 | 0.24× |"
        );
        assert!(
            text.contains(
                "| push | 10,000 | 2.000 | 5,000 | 20 | 4.00 / 0.16 | 1.40 / 1.50 | 40 |"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_file_with_figures_the_peer_has_not_reads_back_and_renders_the_same() {
        let mut file = compare_file();
        file.peer.get_mut("write_put").unwrap().server_cpu_s = f64::NAN;
        let json = serde_json::to_string(&file).unwrap();
        assert!(json.contains(r#""server_cpu_s":null"#), "{json}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compare.json");
        std::fs::write(&path, json).unwrap();
        assert_eq!(render_file(&path).unwrap(), render_compare(&file));
    }

    #[test]
    fn a_slower_duration_says_so() {
        let mut file = compare_file();
        file.peer.get_mut("incr_pull").unwrap().seconds = 0.01;
        assert!(render_compare(&file).contains("| 0.080 | 0.060 | 1.33× (slower) |"));
    }

    #[test]
    fn the_table_shows_the_figures_of_the_file() {
        let mut broken = measured(
            Backend::Postgres,
            vec![4.0, 5.0],
            vec![61.0, 58.4],
            Some(7.26),
        );
        broken.exactly_once.ok = false;
        broken.server_push_ms = None;
        broken.exactly_once.stored_once = 9_999;
        let file = ScaleFile {
            machine: "2 cores (Test CPU), 4.0 GiB RAM".into(),
            date: "2026-12-01T10:00:00Z".into(),
            commit: "0123456789ab".into(),
            args: Workload {
                devices: 500,
                records: 20,
                photo_kb: 200,
                grids: 20,
                workers: 64,
                devices_nice: 19,
            },
            configurations: vec![
                measured(Backend::Sqlite, vec![3.26], vec![80.2], None),
                broken,
            ],
        };
        let text = render(&file);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "500 devices, each with 20 records and one ≈200 KB photo, all syncing at once; \
             2 cores (Test CPU), 4.0 GiB RAM; PostgreSQL 15.14; 2026-12-01T10:00:00Z, commit \
             0123456789ab; the machine's load average as each configuration started: 1.5, 1.5."
        );
        assert_eq!(
            lines[4],
            "| SQLite, 1 instance | 101 / 203 / 303 | 12 / 49 | 404 / 505 | 12,346 | 3.3 | – | 80 | yes (10,000 records) |"
        );
        assert_eq!(
            lines[5],
            "| PostgreSQL, 2 instances | 101 / 203 / 303 | – | 404 / 505 | 12,346 | 9.0 (4.0 + 5.0) | 7.3 | 61 and 58 | \
             NO: 10000 entered, 10000 acknowledged, 10000 on the server, 9999 stored once |"
        );
    }

    #[test]
    fn the_many_devices_table_is_the_sqlite_run_of_the_scale_file_in_full() {
        let mut sqlite = measured(Backend::Sqlite, vec![3.26], vec![80.2], None);
        sqlite.load_average_at_start = Some(0.4);
        let file = ScaleFile {
            machine: "2 cores (Test CPU), 4.0 GiB RAM".into(),
            date: "2026-12-01T10:00:00Z".into(),
            commit: "0123456789ab".into(),
            args: Workload {
                devices: 500,
                records: 20,
                photo_kb: 200,
                grids: 20,
                workers: 64,
                devices_nice: 19,
            },
            configurations: vec![
                measured(Backend::Postgres, vec![4.0], vec![61.0], Some(7.26)),
                sqlite,
            ],
        };
        let text = render_devices(&file).expect("a SQLite run");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "2 cores (Test CPU), 4.0 GiB RAM; 2026-12-01T10:00:00Z, commit 0123456789ab; \
             the machine's load average as the devices started: 0.4."
        );
        assert_eq!(
            lines[2],
            "| 500 devices at once, each 20 records + 1 photo of ≈ 200 KB | SQLite, 1 instance |"
        );
        assert_eq!(
            lines[4],
            "| push latency p50 / p95 / p99, ms | 101 / 203 / 303 |"
        );
        assert_eq!(
            lines[5],
            "| push answered by the server (its own time) p50 / p95 / p99, ms | 12 / 40 / 49 |"
        );
        assert!(
            text.contains("| server CPU (all instances), s | 3.26 |"),
            "{text}"
        );
        assert!(
            text.contains("| the simulated devices' CPU, s | 9.87 |"),
            "{text}"
        );
        assert!(text.contains("| server peak memory (RSS) of the largest instance, MiB | 80 |"));
        // (3.26 + 9.87) / (2 × 7.0)
        assert!(
            text.contains(
                "| the 2 cores' time in use (all the CPU above / (2 × whole run)) | 94 % |"
            ),
            "{text}"
        );
        assert!(!text.contains("PostgreSQL"), "only the SQLite run: {text}");
        assert!(text.contains(
            "| server holds exactly the acknowledged records | yes: 10,000 records, each once; 500 photos, none missing |"
        ));

        let only_postgres = ScaleFile {
            configurations: vec![file.configurations[0].clone()],
            ..file
        };
        assert!(render_devices(&only_postgres).is_none());
    }

    #[test]
    fn the_restore_table_shows_growth_against_one_version() {
        use crate::restore::{Restore, RestoreFile};
        let restore = |versions: u64, bytes_down: u64, seconds: f64| Restore {
            versions,
            items: 2_000,
            requests: 3,
            seconds,
            bytes_down,
            bytes_up: 1_000,
            server_cpu_s: 0.01,
            client_cpu_s: 0.08,
            edit_server_cpu_us: (versions > 1).then_some(63.0),
        };
        let file = RestoreFile {
            machine: "2 cores".into(),
            commit: "abc".into(),
            date: "2026-11-30T17:37:23Z".into(),
            load_average: None,
            records: 2_000,
            runs: 3,
            restores: vec![restore(1, 110_000, 0.14), restore(10, 121_000, 0.17)],
        };
        let md = render_restore(&file);
        assert!(
            md.contains("| 10 | 2,000 | 3 | 0.12 MB (1.10×) | 0.17 s (1.21×) | 5 µs (1.00×) | 0.08 s | 63 µs |"),
            "{md}"
        );
        assert!(md.contains("| 1 | 2,000 | 3 | 0.11 MB (1.00×)"), "{md}");
    }
}
