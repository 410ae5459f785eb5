//! The README's scale table, rendered from a results file of the scale run
//! (`beatbook-bench report docs/bench/scale.json`): every figure comes from
//! the file.

use crate::load::Measured;
use crate::scale::ScaleFile;
use crate::servers::Backend;
use crate::{fmt_int, table};

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
    let servers = match (m.backend, m.instances) {
        (Backend::Sqlite, 1) => "SQLite, 1 instance".to_owned(),
        (Backend::Sqlite, n) => format!("SQLite, {n} instances"),
        (Backend::Postgres, 1) => "PostgreSQL, 1 instance".to_owned(),
        (Backend::Postgres, n) => format!("PostgreSQL, {n} instances"),
    };
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
        servers,
        format!(
            "{:.0} / {:.0} / {:.0}",
            m.push_ms.p50, m.push_ms.p95, m.push_ms.p99
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

#[cfg(test)]
mod tests {
    use super::*;
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
            server_cpu_s_per_instance: cpu,
            server_peak_rss_mib: rss.iter().copied().fold(0.0, f64::max),
            server_peak_rss_mib_per_instance: rss,
            server_rss_at_start_mib: 20.0,
            postgres_cpu_s: pg,
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

    #[test]
    fn the_table_shows_the_figures_of_the_file() {
        let mut broken = measured(
            Backend::Postgres,
            vec![4.0, 5.0],
            vec![61.0, 58.4],
            Some(7.26),
        );
        broken.exactly_once.ok = false;
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
            "| SQLite, 1 instance | 101 / 203 / 303 | 404 / 505 | 12,346 | 3.3 | – | 80 | yes (10,000 records) |"
        );
        assert_eq!(
            lines[5],
            "| PostgreSQL, 2 instances | 101 / 203 / 303 | 404 / 505 | 12,346 | 9.0 (4.0 + 5.0) | 7.3 | 61 and 58 | \
             NO: 10000 entered, 10000 acknowledged, 10000 on the server, 9999 stored once |"
        );
    }
}
