//! A fresh device restoring a grid whose records have one version each, and
//! the same grid after every record was edited into ten versions: the
//! change log is compacted, so the restore's items, bytes, time and server
//! CPU grow with the records, not with the versions.
//!
//! Per number of versions: a new server (the release binary as a child
//! process, on SQLite), a device that writes the records through form
//! sessions and syncs after each round of edits (each edit a version of its
//! own), then a fresh device that restores through a byte-counting proxy.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use beatbook_core::store::RecordFilter;
use beatbook_tests::data::house;
use beatbook_tests::process::{free_addr, own_cpu_seconds, seed, Org, ServerProcess};
use beatbook_tests::wire::CountingProxy;
use beatbook_tests::PASSWORD;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::compare::open_device;
use crate::{commit, load_average, machine, median, results_dir, write_results};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records in the grid.
    #[arg(long, default_value_t = 2_000)]
    records: usize,
    /// Versions of each record, one restore measured per number.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    versions: Vec<u64>,
    /// Restores measured per number of versions (fresh devices, one after
    /// another); medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the results go (`beatbook-bench report` renders them).
    #[arg(long, default_value = "docs/bench/restore.json")]
    out: PathBuf,
}

/// The results file.
#[derive(Debug, Serialize, Deserialize)]
pub struct RestoreFile {
    pub machine: String,
    pub commit: String,
    pub date: String,
    /// The machine's 1-minute load average when the run started.
    pub load_average: Option<f64>,
    pub records: usize,
    pub runs: usize,
    /// One per number of versions, fewest first.
    pub restores: Vec<Restore>,
}

/// A fresh device's restore (medians of the runs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restore {
    /// Versions of each record on the server.
    pub versions: u64,
    /// Record items the device pulled and applied.
    pub items: u64,
    /// Requests of the restore (enrollment excluded).
    pub requests: u64,
    pub seconds: f64,
    /// Server → device, headers and bodies.
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub server_cpu_s: f64,
    pub client_cpu_s: f64,
    /// Server CPU per edit pushed while the versions were written (each
    /// edit supersedes a version: what compaction costs the push), µs;
    /// none with one version.
    #[serde(default)]
    pub edit_server_cpu_us: Option<f64>,
}

impl Restore {
    /// Server CPU per record restored, µs.
    pub fn server_cpu_us_per_record(&self, records: usize) -> f64 {
        self.server_cpu_s * 1e6 / records.max(1) as f64
    }
}

pub async fn run(args: &Args) -> Result<RestoreFile> {
    ensure!(
        args.records > 0 && args.runs > 0,
        "--records and --runs must be at least 1"
    );
    let started_load = load_average();
    let mut restores = Vec::new();
    let mut versions = args.versions.clone();
    versions.sort_unstable();
    versions.dedup();
    for v in versions {
        ensure!(v > 0, "a record has at least one version");
        restores.push(measure(args.records, v, args.runs).await?);
    }
    let file = RestoreFile {
        machine: machine(),
        commit: commit(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        load_average: started_load,
        records: args.records,
        runs: args.runs,
        restores,
    };
    write_results(&args.out, &file)?;
    write_results(
        &results_dir().join(format!(
            "restore-{}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        )),
        &file,
    )?;
    eprintln!("results: {}", args.out.display());
    Ok(file)
}

/// One server whose `records` records each have `versions` versions, and
/// `runs` fresh devices restoring from it.
async fn measure(records: usize, versions: u64, runs: usize) -> Result<Restore> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    seed(&data, &Org::standard(), &[]).await;
    let server = ServerProcess::start(&data, free_addr()).await;
    let proxy = CountingProxy::start(server.addr);

    eprintln!("restore: {records} records × {versions} version(s): writing");
    let a = open_device(&dir.path().join("device-a"))?;
    a.enroll(&proxy.url, "o1", PASSWORD, "bench A").await?;
    // Before any record: the log holds the published forms only.
    let forms = a.sync(&|_| {}).await?.pulled;
    let mut ids = Vec::with_capacity(records);
    for i in 0..records {
        let mut s = a.new_record("house", None, house(&format!("户主{i}")))?;
        s.finalize()
            .with_context(|| format!("house {i} does not validate"))?;
        ids.push(s.id());
    }
    let report = a.sync(&|_| {}).await?;
    ensure!(report.accepted as usize == records, "write: {report:?}");
    let edits_started = server.cpu_seconds();
    for round in 2..=versions {
        for id in &ids {
            let mut s = a.open_record(*id)?;
            s.set("storeys", json!(round + 3))?;
            s.finalize()?;
        }
        let report = a.sync(&|_| {}).await?;
        ensure!(
            report.accepted as usize == records,
            "round {round}: {report:?}"
        );
    }

    let edits = records as u64 * (versions - 1);
    let edit_server_cpu_us =
        (edits > 0).then(|| (server.cpu_seconds() - edits_started) * 1e6 / edits as f64);

    let mut measured = Vec::with_capacity(runs);
    for r in 0..runs {
        let c = open_device(&dir.path().join(format!("device-c{r}")))?;
        c.enroll(&proxy.url, "o1", PASSWORD, "bench C").await?;
        proxy.reset();
        let (client_cpu, server_cpu) = (
            own_cpu_seconds() - proxy.cpu_seconds(),
            server.cpu_seconds(),
        );
        let started = Instant::now();
        let report = c.sync(&|_| {}).await?;
        let seconds = started.elapsed().as_secs_f64();
        let traffic = proxy.traffic();
        let restored = c.records(&RecordFilter {
            form: Some("house".into()),
            ..Default::default()
        })?;
        ensure!(
            restored.len() == records && restored.iter().all(|r| r.base_revision == versions),
            "the fresh device has {} of {records} records at revision {versions}",
            restored.len()
        );
        let restore = Restore {
            versions,
            items: report.pulled.saturating_sub(forms),
            requests: report.requests,
            seconds,
            bytes_down: traffic.down,
            bytes_up: traffic.up,
            server_cpu_s: server.cpu_seconds() - server_cpu,
            client_cpu_s: own_cpu_seconds() - proxy.cpu_seconds() - client_cpu,
            edit_server_cpu_us,
        };
        eprintln!(
            "  run {r}: {} items ({forms} forms besides) in {seconds:.2} s, {:.2} MB down, CPU {:.3} s server / {:.3} s device",
            restore.items,
            traffic.down as f64 / 1e6,
            restore.server_cpu_s,
            restore.client_cpu_s
        );
        measured.push(restore);
    }
    let m = |f: &dyn Fn(&Restore) -> f64| median(&measured.iter().map(f).collect::<Vec<_>>());
    Ok(Restore {
        versions,
        items: m(&|r| r.items as f64).round() as u64,
        requests: m(&|r| r.requests as f64).round() as u64,
        seconds: m(&|r| r.seconds),
        bytes_down: m(&|r| r.bytes_down as f64).round() as u64,
        bytes_up: m(&|r| r.bytes_up as f64).round() as u64,
        server_cpu_s: m(&|r| r.server_cpu_s),
        client_cpu_s: m(&|r| r.client_cpu_s),
        edit_server_cpu_us,
    })
}
