//! `beatbook-bench`: Beatbook measured against the PouchDB peer on the same
//! records, and a many-device load test — one machine, loopback only, the
//! real `beatbook-server` binary as a child process and real client cores.
//!
//! ```text
//! scripts/bench.sh                      # both, N = 10,000, 500 devices
//! beatbook-bench compare --n 50000 --peer DIR [--runs 3] [--out docs/bench/compare.json]
//! beatbook-bench push --n 10000 --peer DIR [--devices 1] [--batch 500] [--perf FILE]
//! beatbook-bench load --devices 500 [--records 20] [--photo-kb 200]
//!                     [--backend sqlite|postgres] [--instances N]
//! beatbook-bench scale [--devices 500 …] [--out docs/bench/scale.json]
//! beatbook-bench pickers [--people 100000 --houses 50000] [--out docs/bench/pickers.json]
//! beatbook-bench local [--saves 1000] [--out docs/bench/local.json]
//! beatbook-bench restore [--records 2000 --versions 1,10] [--out docs/bench/restore.json]
//! beatbook-bench report docs/bench/scale.json    # or compare.json, pickers.json, local.json, restore.json
//! beatbook-bench report --devices docs/bench/scale.json   # its SQLite run in full
//! beatbook-bench report docs/reliability         # the fault trials' long runs
//! beatbook-bench report --growth docs/bench/growth   # compare runs at 10k, 50k, 200k records
//! beatbook-bench report docs/bench/profile.json --incremental-growth docs/bench/profile-50k.json
//! beatbook-bench profile --peer DIR [--n 10000] [--out docs/bench/profile.json]
//! ```
//!
//! Build it with the server in release mode first
//! (`cargo build --release -p beatbook-server -p beatbook-tests --bin beatbook-bench`).

mod compare;
mod effort;
mod growth;
mod load;
mod local;
mod ocr;
mod pickers;
mod postgres;
mod profile;
mod push;
mod reliability;
mod report;
mod restore;
mod scale;
mod servers;

use std::path::PathBuf;

pub use beatbook_tests::results::{commit, load_average, machine, write_results};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Beatbook benchmarks: side by side with PouchDB, and many devices at once")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Push, fresh-device pull and incremental sync of the PouchDB peer's
    /// records through Beatbook, then the peer itself on the same records.
    Compare(compare::Args),
    /// Where the CPU of a push and of a fresh device's pull goes: one run
    /// sampled by `perf record`; the profile to a JSON file.
    Profile(profile::Args),
    /// Many devices syncing at once against one server, or several
    /// instances on one PostgreSQL database.
    Load(load::Args),
    /// The server's side of push alone: records pushed straight over HTTP
    /// by one device or many, the server's CPU time per record.
    Push(push::Args),
    /// The load against SQLite, PostgreSQL with one instance and with two,
    /// in one run; results to a JSON file.
    Scale(scale::Args),
    /// The field app's pick lists at grid scale: a device store filled
    /// with people and houses, queries timed keystroke by keystroke.
    Pickers(pickers::Args),
    /// The device's own figures: local save, pick-list search, photo
    /// size; results to a JSON file.
    Local(local::Args),
    /// A fresh device's restore of records with one and with ten versions
    /// each (the compacted change log); results to a JSON file.
    Restore(restore::Args),
    /// Prints the Markdown of a results file: the README's scale table, its
    /// "Side by side with PouchDB" table, … — or, for a directory of fault
    /// results (`scripts/faults-long.sh`), the long runs' table.
    Report {
        /// The file `scale`, `compare`, `local`, … wrote, or a directory of
        /// fault results.
        file: PathBuf,
        /// Of a scale file: its SQLite run in full (the README's "Many
        /// devices at once").
        #[arg(long)]
        devices: bool,
        /// Of a directory of compare runs at several sizes: how the costs
        /// grow with the backlog (the README's growth table).
        #[arg(long, conflicts_with = "devices")]
        growth: bool,
        /// Of a profile file: its incremental syncs' CPU per changed record,
        /// operation by operation, against those of LARGER (a profile at
        /// more records): what grows with the backlog.
        #[arg(long, value_name = "LARGER", conflicts_with_all = ["devices", "growth"])]
        incremental_growth: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Compare(args) => phase_runtime()?.block_on(async {
            let file = compare::run(args).await?;
            println!("{}", report::render_compare(&file));
            Ok(())
        }),
        Cmd::Profile(args) => phase_runtime()?.block_on(async {
            let file = profile::run(args).await?;
            println!("{}", profile::render(&file));
            Ok(())
        }),
        Cmd::Push(args) => load_runtime(4, 0)?.block_on(async {
            let file = push::run(args).await?;
            println!("{}", serde_json::to_string_pretty(&file)?);
            Ok(())
        }),
        Cmd::Load(args) => load_runtime(args.workload.workers, args.workload.devices_nice)?
            .block_on(load::run(args)),
        Cmd::Scale(args) => {
            let file = load_runtime(args.workload.workers, args.workload.devices_nice)?
                .block_on(scale::run(&args))?;
            println!("{}", report::render(&file));
            let failed: Vec<_> = file
                .configurations
                .iter()
                .filter(|m| !m.exactly_once.ok)
                .map(|m| (m.backend, m.instances))
                .collect();
            anyhow::ensure!(
                failed.is_empty(),
                "the exactly-once check failed for {failed:?}"
            );
            Ok(())
        }
        Cmd::Pickers(args) => {
            let file = pickers::run(&args)?;
            println!("{}", pickers::render(&file));
            anyhow::ensure!(
                file.ok,
                "a kind of query took {} ms or more per keystroke at p99",
                file.p99_budget_ms
            );
            Ok(())
        }
        Cmd::Local(args) => phase_runtime()?.block_on(async {
            let file = local::run(&args).await?;
            println!("{}", local::render(&file));
            Ok(())
        }),
        Cmd::Restore(args) => phase_runtime()?.block_on(async {
            let file = restore::run(&args).await?;
            println!("{}", report::render_restore(&file));
            Ok(())
        }),
        Cmd::Report {
            file, growth: true, ..
        } => {
            print!("{}", growth::render(&growth::read_dir(&file)?));
            Ok(())
        }
        Cmd::Report {
            file,
            incremental_growth: Some(larger),
            ..
        } => {
            print!(
                "{}",
                profile::render_incremental_growth_files(&file, &larger)?
            );
            Ok(())
        }
        Cmd::Report {
            file,
            devices: true,
            ..
        } => {
            print!("{}", report::render_devices_file(&file)?);
            Ok(())
        }
        Cmd::Report { file, .. } => {
            print!("{}", report::render_file(&file)?);
            Ok(())
        }
    }
}

/// The runtime of the one-device benchmarks (compare, profile, local,
/// restore): two worker threads.
fn phase_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The runtime of the load's client side, its threads at niceness `nice`
/// (0: as they are). The thread calling `block_on` keeps its own: the
/// servers, started from there, are not lowered with the devices.
fn load_runtime(workers: usize, nice: i32) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        // Device cores block on SQLite inside async code; enough workers
        // that a device waiting on its disk does not hold up the others.
        .worker_threads(workers)
        .max_blocking_threads(1024)
        .on_thread_start(move || lower_this_thread(nice))
        .enable_all()
        .build()
}

/// Sets the calling thread's niceness to `nice` (on Linux a thread's own,
/// inherited by the threads and processes it starts); 0 leaves it.
fn lower_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice != 0 {
        if let Err(e) = rustix::process::setpriority_process(None, nice) {
            eprintln!("could not lower the devices' priority to {nice}: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Median.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A markdown table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", headers.join(" | "));
    out.push_str(&format!(
        "|{}|\n",
        headers
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

/// A server's `/metrics` page (`url` its base), as text.
pub async fn server_metrics(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    Ok(http
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

/// Where results are written: `target/bench-results/`.
pub fn results_dir() -> PathBuf {
    // The binary is <target dir>/<profile>/beatbook-bench, whatever the
    // target directory is called (CARGO_TARGET_DIR).
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().and_then(std::path::Path::parent).map_or_else(
        || PathBuf::from("bench-results"),
        |t| t.join("bench-results"),
    );
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Thousands separators.
pub fn fmt_int(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let s = format!("{:.0}", x);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}
