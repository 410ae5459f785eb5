//! Beatbook and the PouchDB peer on the same records, in one run.
//!
//! Beatbook's phases mirror the peer's `bench.js`: local write (one durable
//! transaction per record, through a form session: validate, record and
//! outbox row), push (the outbox to the server), pull to a fresh device,
//! then 100 records edited, pushed and pulled (incremental sync). The server
//! is the release `beatbook-server` binary as a child process (its CPU and
//! peak memory read from `/proc`); every byte between client and server is
//! counted by a TCP proxy on loopback, as the peer counts at its server's
//! socket. The medians of both systems go to a results file
//! (`docs/bench/compare.json`) that `beatbook-bench report` renders as the
//! README's table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use beatbook_core::keys::PinKeys;
use beatbook_core::platform::Desktop;
use beatbook_core::store::RecordFilter;
use beatbook_core::sync::{Steps, SyncReport};
use beatbook_core::Core;
use beatbook_schema::form::{FormDef, Values};
use beatbook_schema::ids::{GridId, RecordId};
use beatbook_tests::process::{
    free_addr, own_cpu_seconds, own_written_bytes, seed, Org, ServerProcess,
};
use beatbook_tests::wire::CountingProxy;
use beatbook_tests::PASSWORD;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::{commit, load_average, machine, median, results_dir, write_results};

/// The form the peer's records are validated against.
pub(crate) const FORM: &str =
    include_str!("../../../../assets/forms/bench/household_survey.v1.json");
const PIN: &str = "246810";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Runs of each system; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Records changed in the incremental phase.
    #[arg(long, default_value_t = 100)]
    changes: usize,
    /// A prepared copy of ../shared/peers/pouchdb (after `npm install`).
    #[arg(long, env = "BEATBOOK_PEER_DIR")]
    peer: PathBuf,
    /// Skip running the peer (Beatbook's figures only; no ratios).
    #[arg(long)]
    skip_peer: bool,
    /// How the device's records are written: one form session and durable
    /// commit each, or the import path (sessions flushed to the disk 500
    /// at a time) that makes a large backlog in minutes.
    #[arg(long, value_enum, default_value_t = WritePath::Session)]
    write: WritePath,
    /// Where the medians go (`beatbook-bench report` renders the README's
    /// table from this file); every run is also kept under
    /// `target/bench-results/`.
    #[arg(long, default_value = "docs/bench/compare.json")]
    out: PathBuf,
}

/// How the benchmark writes its records on the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum WritePath {
    /// `new_record` + `finalize`, one durable transaction each.
    #[default]
    Session,
    /// `Core::import`: the same sessions, flushed to the disk per chunk.
    Import,
}

/// What Beatbook did in one phase of a run (or the medians of the runs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Phase {
    pub records: usize,
    pub seconds: f64,
    pub records_per_s: f64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub client_cpu_s: f64,
    pub server_cpu_s: f64,
    pub server_rss_peak: u64,
    /// HTTP requests the device sent (0 for the local phases).
    #[serde(default)]
    pub requests: u64,
    /// The server's time answering them, from the head of each request to
    /// its answer, summed (its `/metrics` summaries' sums). For one request
    /// (an incremental sync) it is what of `seconds` was the server's; the
    /// batches of a push are answered several at once, so theirs may add up
    /// to more than `seconds`.
    #[serde(default)]
    pub server_answer_s: f64,
    /// Bytes the device (the benchmark's process) and the server sent to
    /// storage in the phase: pages written to the log and the database.
    #[serde(default)]
    pub client_written_bytes: u64,
    #[serde(default)]
    pub server_written_bytes: u64,
}

/// Beatbook's phases, in the order they run.
pub const PHASES: [&str; 6] = [
    "write",
    "push",
    "pull",
    "local_edit",
    "incr_push",
    "incr_pull",
];

/// What one Beatbook run measured, by phase.
pub type Run = BTreeMap<String, Phase>;

/// The results file of a comparison (`docs/bench/compare.json`): every
/// figure of both systems, from which `beatbook-bench report` renders the
/// README's "Side by side with PouchDB" table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareFile {
    /// Cores, CPU model and memory.
    pub machine: String,
    /// When the run ended (UTC, RFC 3339).
    pub date: String,
    /// The commit measured (`-dirty` when the work tree had changes).
    pub commit: String,
    /// Records.
    pub n: usize,
    /// Runs of each system.
    pub runs: usize,
    /// Records changed in the incremental phase.
    pub changes: usize,
    /// How the records were written on the device.
    #[serde(default)]
    pub write: WritePath,
    /// Mean JSON size of a record as the peer generates it, bytes.
    pub json_bytes_per_record: f64,
    /// The machine's 1-minute load average as each Beatbook run started
    /// (the machine is shared: read the figures with it).
    pub load_average_at_start: Vec<f64>,
    /// The same as the peer's runs started.
    pub peer_load_average_at_start: Option<f64>,
    /// Beatbook's medians by phase.
    pub beatbook: BTreeMap<String, Phase>,
    /// Every Beatbook run.
    pub beatbook_runs: Vec<Run>,
    /// The peer's medians by phase, as its bench.js aggregates them (empty
    /// with `--skip-peer`).
    pub peer: BTreeMap<String, PeerPhase>,
    /// Node, PouchDB and pouchdb-server versions of the peer.
    pub peer_versions: Json,
}

/// The median of each figure of a phase over the runs.
fn median_phase(runs: &[Run], name: &str) -> Option<Phase> {
    let phases: Vec<&Phase> = runs.iter().filter_map(|r| r.get(name)).collect();
    if phases.is_empty() {
        return None;
    }
    let m = |f: &dyn Fn(&Phase) -> f64| median(&phases.iter().map(|p| f(p)).collect::<Vec<_>>());
    Some(Phase {
        records: m(&|p| p.records as f64).round() as usize,
        seconds: m(&|p| p.seconds),
        records_per_s: m(&|p| p.records_per_s),
        bytes_up: m(&|p| p.bytes_up as f64).round() as u64,
        bytes_down: m(&|p| p.bytes_down as f64).round() as u64,
        client_cpu_s: m(&|p| p.client_cpu_s),
        server_cpu_s: m(&|p| p.server_cpu_s),
        server_rss_peak: m(&|p| p.server_rss_peak as f64).round() as u64,
        requests: m(&|p| p.requests as f64).round() as u64,
        server_answer_s: m(&|p| p.server_answer_s),
        client_written_bytes: m(&|p| p.client_written_bytes as f64).round() as u64,
        server_written_bytes: m(&|p| p.server_written_bytes as f64).round() as u64,
    })
}

/// Something that watches a phase of a run (a profiler): told before the
/// phase starts and after it ended.
pub(crate) trait Watch {
    /// Before the phase's clock starts.
    fn begin(&mut self) -> Result<()>;
    /// After it stopped, with what the phase did and the server's process id.
    fn end(&mut self, name: &str, phase: &Phase, server: u32) -> Result<()>;
    /// Incremental syncs to watch after the run's phases, as one more phase
    /// (0: none). The one incremental sync of a run is too short to sample.
    fn incremental_rounds(&self) -> usize {
        0
    }
    /// Stops watching for a while (the edits between two rounds).
    fn pause(&mut self) -> Result<()> {
        Ok(())
    }
    /// Watches again.
    fn resume(&mut self) -> Result<()> {
        Ok(())
    }
}

struct Meter {
    started: Instant,
    client_cpu: f64,
    server_cpu: f64,
    server_answering: f64,
    client_written: u64,
    server_written: u64,
}

impl Meter {
    async fn start(proxy: &CountingProxy, server: &ServerProcess) -> Result<Self> {
        proxy.reset();
        server.reset_peak();
        let server_answering = answering_seconds(server).await?;
        Ok(Self {
            started: Instant::now(),
            client_cpu: own_cpu_seconds() - proxy.cpu_seconds(),
            server_cpu: server.cpu_seconds(),
            server_answering,
            client_written: own_written_bytes(),
            server_written: server.written_bytes(),
        })
    }

    async fn finish(
        self,
        records: usize,
        proxy: &CountingProxy,
        server: &ServerProcess,
    ) -> Result<Phase> {
        let seconds = self.started.elapsed().as_secs_f64();
        let client_cpu_s = own_cpu_seconds() - proxy.cpu_seconds() - self.client_cpu;
        let server_cpu_s = server.cpu_seconds() - self.server_cpu;
        let traffic = proxy.traffic();
        let phase = Phase {
            records,
            seconds,
            records_per_s: records as f64 / seconds,
            bytes_up: traffic.up,
            bytes_down: traffic.down,
            client_cpu_s,
            server_cpu_s,
            server_rss_peak: server.peak_rss(),
            requests: 0,
            server_answer_s: answering_seconds(server).await? - self.server_answering,
            client_written_bytes: own_written_bytes().saturating_sub(self.client_written),
            server_written_bytes: server.written_bytes().saturating_sub(self.server_written),
        };
        eprintln!(
            "  {records} records in {seconds:.2} s = {:.0} rec/s, wire {:.2} MB up / {:.2} MB down, CPU {:.2} s client / {:.2} s server, server answering {:.3} s, written {:.2} MB client / {:.2} MB server, server peak {:.0} MiB",
            phase.records_per_s,
            traffic.up as f64 / 1e6,
            traffic.down as f64 / 1e6,
            phase.client_cpu_s,
            phase.server_cpu_s,
            phase.server_answer_s,
            phase.client_written_bytes as f64 / 1e6,
            phase.server_written_bytes as f64 / 1e6,
            phase.server_rss_peak as f64 / 1_048_576.0
        );
        Ok(phase)
    }

    /// As [`Meter::finish`], for a sync that reported its requests.
    async fn finish_sync(
        self,
        records: usize,
        report: &SyncReport,
        proxy: &CountingProxy,
        server: &ServerProcess,
    ) -> Result<Phase> {
        let phase = self.finish(records, proxy, server).await?;
        eprintln!("  {} request(s)", report.requests);
        Ok(Phase {
            requests: report.requests,
            ..phase
        })
    }
}

/// The seconds the server has spent answering requests since it started:
/// the sums of its `beatbook_http_request_seconds` summaries, but for the
/// route that reads them.
async fn answering_seconds(server: &ServerProcess) -> Result<f64> {
    let text = crate::server_metrics(&reqwest::Client::new(), &server.url).await?;
    Ok(answering_seconds_in(&text))
}

fn answering_seconds_in(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("beatbook_http_request_seconds_sum{"))
        .filter(|l| !l.starts_with(r#"route="/metrics""#))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// A peer record as Beatbook field values: the record's own id and form
/// name are the envelope's in Beatbook (a UUID and a form id as well), and
/// the one boolean (`insured`) is a yes/no choice, Beatbook having no
/// boolean field kind. Everything else is sent as generated.
pub(crate) fn to_values(record: &Json) -> Result<Values> {
    let mut values = record
        .as_object()
        .cloned()
        .context("a record is a JSON object")?;
    values.remove("id");
    values.remove("form_id");
    if let Some(Json::Array(members)) = values.get_mut("members") {
        for m in members {
            if let Some(b) = m.get("insured").and_then(Json::as_bool) {
                m["insured"] = json!(if b { "yes" } else { "no" });
            }
        }
    }
    Ok(values)
}

pub(crate) fn node(peer: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("node")
        .args(args)
        .current_dir(peer)
        .output()
        .context("running node (is Node.js installed?)")?;
    ensure!(
        out.status.success(),
        "node {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

const EDITS_JS: &str = "const G = require('./gen'); const [n, k] = process.argv.slice(1).map(Number); \
    for (const i of G.changedIndices(n, k)) \
    process.stdout.write(JSON.stringify({ i, rec: G.editRecord(G.generateRecord(i, G.DEFAULT_SEED), 1) }) + '\\n');";

/// Writes `records` on the device as `write` says; their ids, in order.
fn write_records(
    device: &Core,
    grid: &GridId,
    records: &[Values],
    write: WritePath,
) -> Result<Vec<RecordId>> {
    let mut ids = Vec::with_capacity(records.len());
    match write {
        WritePath::Session => {
            for (i, values) in records.iter().enumerate() {
                let mut session =
                    device.new_record("household_survey", Some(grid), values.clone())?;
                session
                    .finalize()
                    .with_context(|| format!("record {i} does not validate"))?;
                ids.push(session.id());
            }
        }
        WritePath::Import => {
            let mut refused = None;
            device.import(
                "household_survey",
                Some(grid),
                records.iter().cloned().enumerate(),
                |row| match row.result {
                    Ok(id) => {
                        ids.push(id);
                        if ids.len() % 10_000 == 0 {
                            eprintln!("  {} records written", ids.len());
                        }
                    }
                    Err(e) => {
                        refused = refused.take().or(Some(format!("record {}: {e}", row.line)))
                    }
                },
            )?;
            if let Some(refused) = refused {
                anyhow::bail!("{refused} does not validate");
            }
        }
    }
    Ok(ids)
}

/// A device in `dir`, its key derived fast (the key derivation is not what
/// is measured).
pub(crate) fn open_device(dir: &Path) -> Result<Core> {
    Ok(Core::open(
        dir,
        PIN,
        &PinKeys::fast_for_tests(),
        Arc::new(Desktop::default()),
    )?)
}

/// One run of Beatbook's phases; `watch`, if any, watches the push and the
/// pull.
pub(crate) async fn beatbook_run(
    records: &[Values],
    edits: &[(usize, Values)],
    form: &FormDef,
    write: WritePath,
    mut watch: Option<&mut dyn Watch>,
) -> Result<Run> {
    let n = records.len();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    seed(&data, &Org::standard(), std::slice::from_ref(form)).await;
    let mut server = ServerProcess::start(&data, free_addr()).await;
    let proxy = CountingProxy::start(server.addr);
    let grid = GridId::new("G1");
    let mut run = Run::new();

    // The entering device: enrolled, and the benchmark form pulled (not timed).
    let a = open_device(&dir.path().join("device-a"))?;
    a.enroll(&proxy.url, "o1", PASSWORD, "bench A").await?;
    a.sync(&|_| {}).await?;
    a.form("household_survey")
        .context("the benchmark form arrived with the pull")?;

    eprintln!("Beatbook: local write ({write:?}: a form session per record, validated)");
    let meter = Meter::start(&proxy, &server).await?;
    let ids = write_records(&a, &grid, records, write)?;
    run.insert("write".into(), meter.finish(n, &proxy, &server).await?);

    eprintln!("Beatbook: push");
    if let Some(p) = watch.as_mut() {
        p.begin()?;
    }
    let meter = Meter::start(&proxy, &server).await?;
    let report = a.sync_steps(None, Steps::Send, &|_| {}).await?;
    let push = meter.finish_sync(n, &report, &proxy, &server).await?;
    if let Some(p) = watch.as_mut() {
        p.end("push", &push, server.pid())?;
    }
    run.insert("push".into(), push);
    ensure!(
        report.accepted as usize == n && report.rejected == 0,
        "push: {report:?}"
    );

    eprintln!("Beatbook: pull to a fresh device");
    let c = open_device(&dir.path().join("device-c"))?;
    c.enroll(&proxy.url, "o1", PASSWORD, "bench C").await?;
    if let Some(p) = watch.as_mut() {
        p.begin()?;
    }
    let meter = Meter::start(&proxy, &server).await?;
    let report = c.sync(&|_| {}).await?;
    let pull = meter.finish_sync(n, &report, &proxy, &server).await?;
    if let Some(p) = watch.as_mut() {
        p.end("pull", &pull, server.pid())?;
    }
    run.insert("pull".into(), pull);
    let pulled = c.records(&RecordFilter {
        form: Some("household_survey".into()),
        ..Default::default()
    })?;
    ensure!(
        pulled.len() == n,
        "the fresh device has {} of {n} records ({report:?})",
        pulled.len()
    );

    eprintln!("Beatbook: local edit of {}", edits.len());
    let meter = Meter::start(&proxy, &server).await?;
    edit(&a, &ids, edits, 1)?;
    run.insert(
        "local_edit".into(),
        meter.finish(edits.len(), &proxy, &server).await?,
    );

    eprintln!("Beatbook: incremental push");
    let meter = Meter::start(&proxy, &server).await?;
    let report = a.sync_steps(None, Steps::Send, &|_| {}).await?;
    run.insert(
        "incr_push".into(),
        meter
            .finish_sync(edits.len(), &report, &proxy, &server)
            .await?,
    );
    ensure!(
        report.accepted as usize == edits.len(),
        "incremental push: {report:?}"
    );

    eprintln!("Beatbook: incremental pull");
    let meter = Meter::start(&proxy, &server).await?;
    let report = c.sync(&|_| {}).await?;
    run.insert(
        "incr_pull".into(),
        meter
            .finish_sync(edits.len(), &report, &proxy, &server)
            .await?,
    );
    ensure!(
        report.pulled as usize == edits.len(),
        "incremental pull: {report:?}"
    );
    if let Some((i, _)) = edits.first() {
        let seen = c.record(ids[*i])?;
        ensure!(
            seen.values["status"] == "verified"
                && seen.values["notes"]
                    .as_str()
                    .is_some_and(|s| s.contains("复核第1轮")),
            "the incremental edit is not visible on the fresh device"
        );
    }
    if let Some(w) = watch.filter(|w| w.incremental_rounds() > 0) {
        incremental_rounds(w, &a, &c, &ids, edits, server.pid()).await?;
    }
    server.stop();
    Ok(run)
}

/// Makes `edits` on `device`'s records `ids`, as an officer would: a form
/// session each, three fields set, finalized. `round` > 1 writes the notes
/// again with the round's number, so that every round changes them.
fn edit(device: &Core, ids: &[RecordId], edits: &[(usize, Values)], round: usize) -> Result<()> {
    for (i, edited) in edits {
        let mut session = device.open_record(ids[*i])?;
        for key in ["status", "updated_at"] {
            session.set(key, edited[key].clone())?;
        }
        let notes = match (round, edited["notes"].as_str()) {
            (1, _) | (_, None) => edited["notes"].clone(),
            (_, Some(text)) => Json::from(format!("{text} 第{round}次")),
        };
        session.set("notes", notes)?;
        session.finalize()?;
    }
    Ok(())
}

/// `watch`'s incremental syncs: each round `edits` made on `a` (not
/// watched), pushed, and pulled by `c`; watched together as one phase.
async fn incremental_rounds(
    watch: &mut dyn Watch,
    a: &Core,
    c: &Core,
    ids: &[RecordId],
    edits: &[(usize, Values)],
    server: u32,
) -> Result<()> {
    let rounds = watch.incremental_rounds();
    eprintln!(
        "Beatbook: {rounds} more incremental syncs of {} records, watched",
        edits.len()
    );
    watch.begin()?;
    let mut seconds = 0.0;
    for round in 2..rounds + 2 {
        watch.pause()?;
        edit(a, ids, edits, round)?;
        watch.resume()?;
        let started = Instant::now();
        let pushed = a.sync_steps(None, Steps::Send, &|_| {}).await?;
        let pulled = c.sync(&|_| {}).await?;
        seconds += started.elapsed().as_secs_f64();
        ensure!(
            pushed.accepted as usize == edits.len() && pulled.pulled as usize == edits.len(),
            "incremental round {round}: pushed {pushed:?}, pulled {pulled:?}"
        );
    }
    let records = rounds * edits.len();
    let phase = Phase {
        records,
        seconds,
        records_per_s: records as f64 / seconds,
        ..Phase::default()
    };
    watch.end(
        &format!(
            "{rounds} {} of {} changed records (push + pull)",
            crate::profile::INCREMENTAL,
            edits.len()
        ),
        &phase,
        server,
    )
}

/// The peer's medians for one phase, as its bench.js aggregates them. A
/// figure the peer has not for a phase (its local phases have no server) is
/// NaN here and `null` in the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PeerPhase {
    #[serde(deserialize_with = "figure")]
    pub records_per_s: f64,
    #[serde(deserialize_with = "figure")]
    pub seconds: f64,
    #[serde(deserialize_with = "figure")]
    pub bytes_total: f64,
    #[serde(deserialize_with = "figure")]
    pub server_rss_peak: f64,
    #[serde(deserialize_with = "figure")]
    pub client_cpu_s: f64,
    #[serde(deserialize_with = "figure")]
    pub server_cpu_s: f64,
}

/// A figure that JSON holds as `null` when there is none (serde_json writes
/// NaN so).
fn figure<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn peer_run(peer: &Path, n: usize, runs: usize) -> Result<(BTreeMap<String, PeerPhase>, Json)> {
    let started = std::time::SystemTime::now();
    eprintln!("PouchDB: node bench.js {n} --runs {runs}");
    let status = Command::new("node")
        .args(["bench.js", &n.to_string(), "--runs", &runs.to_string()])
        .current_dir(peer)
        .stdout(std::process::Stdio::inherit())
        .status()
        .context("running the peer")?;
    ensure!(status.success(), "the peer's bench.js failed");
    let newest = std::fs::read_dir(peer.join("results"))?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("bench-N{n}-"))
        })
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= started)
        })
        .max_by_key(|e| e.file_name())
        .context("the peer wrote no results file")?;
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(newest.path())?)?;
    let med = |phase: &Json, key: &str| phase[key]["median"].as_f64().unwrap_or(f64::NAN);
    let mut phases = BTreeMap::new();
    for (name, p) in doc["aggregate"].as_object().context("aggregate")? {
        phases.insert(
            name.clone(),
            PeerPhase {
                records_per_s: med(p, "records_per_s"),
                seconds: med(p, "seconds"),
                bytes_total: med(p, "bytes_total"),
                server_rss_peak: med(p, "server_rss_peak"),
                client_cpu_s: med(p, "client_cpu_s"),
                server_cpu_s: med(p, "server_cpu_s"),
            },
        );
    }
    Ok((phases, doc["versions"].clone()))
}

/// The peer's records as field values, the edits of the incremental phase
/// and the form they are validated against.
pub(crate) struct Prepared {
    pub(crate) records: Vec<Values>,
    pub(crate) edits: Vec<(usize, Values)>,
    pub(crate) form: FormDef,
}

/// `n` records and `changes` edits made by the peer's own generator (in
/// `peer`, a prepared copy of it).
pub(crate) fn prepare(peer: &Path, n: usize, changes: usize) -> Result<Prepared> {
    eprintln!("generating {n} records with the peer's gen.js (seed 42)");
    let records: Vec<Values> = node(peer, &["gen.js", &n.to_string()])?
        .lines()
        .map(|l| {
            serde_json::from_str::<Json>(l)
                .map_err(anyhow::Error::from)
                .and_then(|r| to_values(&r))
        })
        .collect::<Result<_>>()?;
    ensure!(records.len() == n, "gen.js gave {} records", records.len());
    let edits: Vec<(usize, Values)> = node(
        peer,
        &["-e", EDITS_JS, &n.to_string(), &changes.to_string()],
    )?
    .lines()
    .map(|l| -> Result<(usize, Values)> {
        let v: Json = serde_json::from_str(l)?;
        Ok((
            v["i"].as_u64().context("index")? as usize,
            to_values(&v["rec"])?,
        ))
    })
    .collect::<Result<_>>()?;
    Ok(Prepared {
        records,
        edits,
        form: serde_json::from_str(FORM)?,
    })
}

/// Runs both systems and writes the results file; returns it.
pub async fn run(args: Args) -> Result<CompareFile> {
    let peer = args.peer.canonicalize().with_context(|| {
        format!(
            "no peer at {} (scripts/bench.sh prepares one)",
            args.peer.display()
        )
    })?;
    let n = args.n;
    let Prepared {
        records,
        edits,
        form,
    } = prepare(&peer, n, args.changes)?;
    let logical: usize = records
        .iter()
        .map(|r| Json::Object(r.clone()).to_string().len())
        .sum();

    let mut runs = Vec::new();
    let mut load_average_at_start = Vec::new();
    for r in 1..=args.runs.max(1) {
        eprintln!("== Beatbook run {r}/{}", args.runs.max(1));
        load_average_at_start.extend(load_average());
        runs.push(beatbook_run(&records, &edits, &form, args.write, None).await?);
    }
    let peer_load_average_at_start = load_average();
    let (peer, peer_versions) = if args.skip_peer {
        (BTreeMap::new(), Json::Null)
    } else {
        peer_run(&peer, n, args.runs.max(1))?
    };
    let beatbook = PHASES
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), median_phase(&runs, name)?)))
        .collect();
    let file = CompareFile {
        machine: machine(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        commit: commit(),
        n,
        runs: runs.len(),
        changes: edits.len(),
        write: args.write,
        json_bytes_per_record: logical as f64 / n.max(1) as f64,
        load_average_at_start,
        peer_load_average_at_start: peer_load_average_at_start.filter(|_| !args.skip_peer),
        beatbook,
        beatbook_runs: runs,
        peer,
        peer_versions,
    };
    let kept = results_dir().join(format!(
        "compare-N{n}-{}.json",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    write_results(&kept, &file)?;
    write_results(&args.out, &file)?;
    eprintln!(
        "results written to {} and {}",
        args.out.display(),
        kept.display()
    );
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::answering_seconds_in;

    #[test]
    fn the_server_answering_time_sums_every_route_but_the_metrics() {
        let metrics = r#"# TYPE beatbook_http_request_seconds summary
beatbook_http_request_seconds{route="/v1/push",quantile="0.5"} 0.02
beatbook_http_request_seconds_sum{route="/v1/push"} 1.25
beatbook_http_request_seconds_count{route="/v1/push"} 40
beatbook_http_request_seconds_sum{route="/v1/pull"} 0.5
beatbook_http_request_seconds_sum{route="/metrics"} 7
beatbook_http_requests_total{route="/v1/pull",status="200"} 3
"#;
        assert!((answering_seconds_in(metrics) - 1.75).abs() < 1e-9);
        assert_eq!(answering_seconds_in("not metrics"), 0.0);
    }
}
