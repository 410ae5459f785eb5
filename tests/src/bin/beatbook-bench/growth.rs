//! How Beatbook's sync costs grow with the backlog: the README's growth
//! table, rendered from the compare runs kept in one directory
//! (`docs/bench/growth/`, one `compare --n N` file per size, made in
//! one sitting): records per second and CPU per record at each size, the
//! incremental sync's time, and the ratios to the peer where it ran.

use std::path::Path;

use anyhow::{ensure, Context, Result};

use crate::compare::{CompareFile, Phase, WritePath};
use crate::{fmt_int, table};

/// Reads every `*.json` of `dir` as a compare file, smallest N first.
pub fn read_dir(dir: &Path) -> Result<Vec<CompareFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let file: CompareFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a compare results file (written by `beatbook-bench compare --out`)",
                path.display()
            )
        })?;
        files.push(file);
    }
    ensure!(
        !files.is_empty(),
        "{} holds no compare results: run `scripts/bench.sh growth`",
        dir.display()
    );
    files.sort_by_key(|f| f.n);
    Ok(files)
}

/// The phases of the incremental sync.
const INCREMENTAL: [&str; 2] = ["incr_push", "incr_pull"];

/// The growth table of `files` (smallest N first).
pub fn render(files: &[CompareFile]) -> String {
    let micros = |phase: Option<&Phase>, cpu: fn(&Phase) -> f64| {
        phase.map_or("–".to_owned(), |p| {
            format!("{:.0}", cpu(p) * 1e6 / p.records.max(1) as f64)
        })
    };
    let rate = |file: &CompareFile, phase: &str| {
        let ours = file
            .beatbook
            .get(phase)
            .map_or(f64::NAN, |p| p.records_per_s);
        match file.peer.get(phase).map(|p| p.records_per_s) {
            Some(theirs) if theirs.is_finite() && theirs > 0.0 => {
                format!("{} ({:.2}×)", fmt_int(ours), ours / theirs)
            }
            _ => fmt_int(ours),
        }
    };
    // Push and pull of the changed records, as the comparison adds them.
    let incremental = |file: &CompareFile| {
        let ours = INCREMENTAL
            .iter()
            .map(|p| file.beatbook.get(*p).map_or(f64::NAN, |p| p.seconds))
            .sum::<f64>();
        let theirs = INCREMENTAL
            .iter()
            .map(|p| file.peer.get(*p).map_or(f64::NAN, |p| p.seconds))
            .sum::<f64>();
        if theirs.is_finite() && ours > 0.0 && theirs >= ours {
            format!("{ours:.3} ({:.1}× faster)", theirs / ours)
        } else if theirs.is_finite() && theirs > 0.0 {
            format!("{ours:.3} ({:.1}× slower)", ours / theirs)
        } else {
            format!("{ours:.3}")
        }
    };
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            let push = f.beatbook.get("push");
            let pull = f.beatbook.get("pull");
            vec![
                fmt_int(f.n as f64),
                fmt_int(
                    f.beatbook
                        .get("write")
                        .map_or(f64::NAN, |p| p.records_per_s),
                ),
                rate(f, "push"),
                micros(push, |p| p.client_cpu_s),
                micros(push, |p| p.server_cpu_s),
                rate(f, "pull"),
                micros(pull, |p| p.client_cpu_s),
                micros(pull, |p| p.server_cpu_s),
                incremental(f),
                f.load_average_at_start
                    .first()
                    .map_or("–".into(), |l| format!("{l:.1}")),
            ]
        })
        .collect();
    let first = &files[0];
    let write = match first.write {
        WritePath::Session => "one form session and durable transaction per record",
        WritePath::Import => "the import path: a form session per record, flushed 500 at a time",
    };
    let mut commits: Vec<&str> = files.iter().map(|f| f.commit.as_str()).collect();
    commits.dedup();
    let runs = files
        .iter()
        .map(|f| format!("{} at {}", f.runs, fmt_int(f.n as f64)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "The peer's records (gen.js, seed 42) at each size; runs of each system (medians where more than one): {runs}; \
         records written on the device by {write}; \
         in parentheses the ratio to the peer's rate at that size in the same sitting, where the peer ran; {}; {} to {}, commit {}.\n\n",
        first.machine,
        first.date,
        files.last().map_or("", |f| f.date.as_str()),
        commits.join(", "),
    );
    out.push_str(&table(
        &[
            "records",
            "local write, records/s",
            "push, records/s",
            "push CPU µs per record, device",
            "push CPU µs per record, server",
            "pull to a fresh device, records/s",
            "pull CPU µs per record, device",
            "pull CPU µs per record, server",
            "incremental sync of the changed records (push + pull), s",
            "load average at start",
        ],
        &rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::compare_file;

    #[test]
    fn each_size_is_a_row_with_its_cpu_per_record_and_the_ratio_where_the_peer_ran() {
        let small = compare_file();
        let mut large = compare_file();
        large.n = 200_000;
        large.peer.clear();
        for phase in large.beatbook.values_mut() {
            phase.records *= 20;
        }
        let text = render(&[small.clone(), large]);
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows.len(), 3, "{text}");
        assert!(rows[1].starts_with("| 10,000 |"), "{text}");
        assert!(rows[2].starts_with("| 200,000 |"), "{text}");
        let push = &small.beatbook["push"];
        let ratio = push.records_per_s / small.peer["push"].records_per_s;
        assert!(rows[1].contains(&format!("({ratio:.2}×)")), "{text}");
        assert!(!rows[2].contains('×'), "no peer, no ratio: {text}");
        let device_us = push.client_cpu_s * 1e6 / push.records as f64;
        assert!(rows[1].contains(&format!("| {device_us:.0} |")), "{text}");
        let seconds = |phases: [f64; 2]| phases.iter().sum::<f64>();
        let ours = seconds(INCREMENTAL.map(|p| small.beatbook[p].seconds));
        let theirs = seconds(INCREMENTAL.map(|p| small.peer[p].seconds));
        assert!(
            rows[1].contains(&format!("| {ours:.3} ({:.1}× faster) |", theirs / ours)),
            "{text}"
        );
    }

    #[test]
    fn a_directory_without_compare_runs_says_how_to_make_them() {
        let dir = tempfile::tempdir().expect("dir");
        let err = read_dir(dir.path()).expect_err("empty");
        assert!(err.to_string().contains("scripts/bench.sh growth"), "{err}");
    }
}
