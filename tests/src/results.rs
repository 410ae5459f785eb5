//! What every results file says beside its figures — the machine, the
//! commit, the date — and how it is written: the benchmarks
//! (`beatbook-bench`) and the fault trials' long mode ([`crate::fault`])
//! alike, so that the README's tables are rendered from files, not typed.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde::Serialize;

/// The machine, as the README's tables name it: cores, CPU model, memory.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores ({cpu}), {:.1} GiB RAM",
        mem_kib as f64 / 1_048_576.0
    )
}

/// The checked-out commit, `-dirty` if tracked files other than results
/// files have changed; "unknown" outside a git work tree.
pub fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    // Results files written by earlier runs of the same sitting are not
    // changes to what is measured.
    match git(&[
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ":/",
        ":(top,exclude)docs/bench",
        ":(top,exclude)docs/reliability",
    ]) {
        Some(changes) if !changes.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}

/// Now, as results files write their date: UTC, RFC 3339, seconds.
pub fn date() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The machine's 1-minute load average now.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
}

/// Writes a results file as pretty JSON, making its directory.
pub fn write_results<T: Serialize>(path: &Path, file: &T) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let mut json = serde_json::to_string_pretty(file)?;
    json.push('\n');
    std::fs::write(path, json).with_context(|| format!("write {}", path.display()))
}
