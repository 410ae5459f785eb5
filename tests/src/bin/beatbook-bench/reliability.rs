//! The README's long-run reliability results, rendered from the fault
//! trials' results files (`scripts/faults-long.sh` writes them to
//! `docs/reliability/`, one `<test>.json` per test: `beatbook_tests::fault`).

use std::path::Path;

use anyhow::{ensure, Context, Result};
use beatbook_tests::fault::FaultResults;

use crate::{fmt_int, table};

/// The order the README lists the tests in; others follow by name.
const ORDER: &[&str] = &[
    "fault_client_kill",
    "fault_server_kill",
    "fault_network",
    "fault_network.each_fault",
];

/// Reads every `*.json` of `dir` as fault results, in the README's order.
pub fn read_dir(dir: &Path) -> Result<Vec<FaultResults>> {
    let mut files: Vec<(usize, String, FaultResults)> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let results: FaultResults = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a fault results file (written by a fault test with BEATBOOK_FAULT_RESULTS set)",
                path.display()
            )
        })?;
        let rank = ORDER.iter().position(|o| *o == name).unwrap_or(ORDER.len());
        files.push((rank, name, results));
    }
    ensure!(
        !files.is_empty(),
        "{} holds no fault results: run scripts/faults-long.sh",
        dir.display()
    );
    files.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(files.into_iter().map(|(_, _, r)| r).collect())
}

/// The distinct values of one field, in order of first appearance.
fn distinct(runs: &[FaultResults], field: impl Fn(&FaultResults) -> &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for r in runs {
        if !seen.contains(&field(r)) {
            seen.push(field(r));
        }
    }
    seen.join(" and ")
}

/// One line saying where and when, and one row per test.
pub fn render(runs: &[FaultResults]) -> String {
    let first = runs.iter().map(|r| r.date.as_str()).min().unwrap_or("–");
    let last = runs.iter().map(|r| r.date.as_str()).max().unwrap_or("–");
    let mut out = format!(
        "{}; {} build; commit {}; {}.\n\n",
        distinct(runs, |r| &r.machine),
        distinct(runs, |r| &r.profile),
        distinct(runs, |r| &r.commit),
        if first == last {
            first.to_owned()
        } else {
            format!("{first} to {last}")
        }
    );
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                format!("`{}`", r.test),
                fmt_int(r.trials as f64),
                format!("{} {}", fmt_int(r.faults as f64), r.injected),
                fmt_int(r.records as f64),
                fmt_int(r.lost as f64),
                fmt_int(r.duplicated as f64),
                match (r.converged, r.problems.first()) {
                    (true, _) => "yes".to_owned(),
                    (false, Some(p)) => format!("**NO**: {p}"),
                    (false, None) => "**NO**".to_owned(),
                },
                format!("{:.0}", r.seconds),
                r.seed.map_or("–".to_owned(), |s| s.to_string()),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "test (`tests/tests/…`)",
            "trials",
            "injected",
            "records saved",
            "lost",
            "duplicated",
            "converged",
            "s",
            "first seed",
        ],
        &rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(test: &str, faults: usize, lost: usize) -> FaultResults {
        FaultResults {
            test: test.into(),
            commit: "0123456789ab".into(),
            date: "2026-12-01T10:00:00Z".into(),
            machine: "2 cores (Test CPU), 4.0 GiB RAM".into(),
            profile: "debug".into(),
            seed: Some(99),
            trials: 200,
            injected: "kills".into(),
            faults,
            records: 4141,
            lost,
            duplicated: 0,
            converged: lost == 0,
            problems: if lost == 0 {
                Vec::new()
            } else {
                vec!["trial 3 (seed 102): record x: 0 stored, 1 expected".into()]
            },
            seconds: 216.6,
        }
    }

    fn write(dir: &Path, name: &str, r: &FaultResults) {
        crate::write_results(&dir.join(format!("{name}.json")), r).expect("write");
    }

    #[test]
    fn the_long_runs_table_shows_every_file_in_the_readmes_order() {
        let dir = tempfile::tempdir().expect("dir");
        write(
            dir.path(),
            "fault_server_kill",
            &results("fault_server_kill::b", 313, 1),
        );
        write(
            dir.path(),
            "fault_client_kill",
            &results("fault_client_kill::a", 384, 0),
        );
        std::fs::write(dir.path().join("notes.txt"), "not a result").expect("write");
        let text = render(&read_dir(dir.path()).expect("read"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "2 cores (Test CPU), 4.0 GiB RAM; debug build; commit 0123456789ab; 2026-12-01T10:00:00Z."
        );
        assert_eq!(
            lines[4],
            "| `fault_client_kill::a` | 200 | 384 kills | 4,141 | 0 | 0 | yes | 217 | 99 |"
        );
        assert_eq!(
            lines[5],
            "| `fault_server_kill::b` | 200 | 313 kills | 4,141 | 1 | 0 | **NO**: trial 3 (seed 102): record x: 0 stored, 1 expected | 217 | 99 |"
        );
    }

    #[test]
    fn a_directory_without_results_or_with_another_file_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let empty = read_dir(dir.path()).expect_err("no results");
        assert!(
            empty.to_string().contains("scripts/faults-long.sh"),
            "{empty}"
        );
        std::fs::write(dir.path().join("scale.json"), r#"{"configurations": []}"#).expect("write");
        let other = read_dir(dir.path()).expect_err("not fault results");
        assert!(
            format!("{other:#}").contains("is not a fault results file"),
            "{other:#}"
        );
    }
}
