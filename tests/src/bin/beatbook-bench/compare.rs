//! Beatbook and the PouchDB peer on the same records, in one run.
//!
//! Beatbook's phases mirror the peer's `bench.js`: local write (one durable
//! transaction per record, through a form session: validate, record and
//! outbox row), push (the outbox to the server), pull to a fresh device,
//! then 100 records edited, pushed and pulled (incremental sync). The server
//! is the release `beatbook-server` binary as a child process (its CPU and
//! peak memory read from `/proc`); every byte between client and server is
//! counted by a TCP proxy on loopback, as the peer counts at its server's
//! socket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use beatbook_core::keys::PinKeys;
use beatbook_core::platform::Desktop;
use beatbook_core::store::RecordFilter;
use beatbook_core::sync::Steps;
use beatbook_core::Core;
use beatbook_schema::form::{FormDef, Values};
use beatbook_schema::ids::GridId;
use beatbook_tests::process::{free_addr, own_cpu_seconds, seed, Org, ServerProcess};
use beatbook_tests::wire::CountingProxy;
use beatbook_tests::PASSWORD;
use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::{fmt_int, machine, median, results_dir, table};

/// The form the peer's records are validated against.
const FORM: &str = include_str!("../../../../assets/forms/bench/household_survey.v1.json");
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
}

#[derive(Debug, Clone, Default, Serialize)]
struct Phase {
    records: usize,
    seconds: f64,
    records_per_s: f64,
    bytes_up: u64,
    bytes_down: u64,
    client_cpu_s: f64,
    server_cpu_s: f64,
    server_rss_peak: u64,
}

/// What one Beatbook run measured.
type Run = BTreeMap<&'static str, Phase>;

struct Meter {
    started: Instant,
    client_cpu: f64,
    server_cpu: f64,
}

impl Meter {
    fn start(proxy: &CountingProxy, server: &ServerProcess) -> Self {
        proxy.reset();
        server.reset_peak();
        Self {
            started: Instant::now(),
            client_cpu: own_cpu_seconds() - proxy.cpu_seconds(),
            server_cpu: server.cpu_seconds(),
        }
    }

    fn finish(self, records: usize, proxy: &CountingProxy, server: &ServerProcess) -> Phase {
        let seconds = self.started.elapsed().as_secs_f64();
        let traffic = proxy.traffic();
        let phase = Phase {
            records,
            seconds,
            records_per_s: records as f64 / seconds,
            bytes_up: traffic.up,
            bytes_down: traffic.down,
            client_cpu_s: own_cpu_seconds() - proxy.cpu_seconds() - self.client_cpu,
            server_cpu_s: server.cpu_seconds() - self.server_cpu,
            server_rss_peak: server.peak_rss(),
        };
        eprintln!(
            "  {records} records in {seconds:.2} s = {:.0} rec/s, wire {:.2} MB up / {:.2} MB down, CPU {:.2} s client / {:.2} s server, server peak {:.0} MiB",
            phase.records_per_s,
            traffic.up as f64 / 1e6,
            traffic.down as f64 / 1e6,
            phase.client_cpu_s,
            phase.server_cpu_s,
            phase.server_rss_peak as f64 / 1_048_576.0
        );
        phase
    }
}

/// A peer record as Beatbook field values: the record's own id and form
/// name are the envelope's in Beatbook (a UUID and a form id as well), and
/// the one boolean (`insured`) is a yes/no choice, Beatbook having no
/// boolean field kind. Everything else is sent as generated.
fn to_values(record: &Json) -> Result<Values> {
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

fn node(peer: &Path, args: &[&str]) -> Result<String> {
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

fn open_device(dir: &Path) -> Result<Core> {
    Ok(Core::open(
        dir,
        PIN,
        &PinKeys::fast_for_tests(),
        Arc::new(Desktop::default()),
    )?)
}

async fn beatbook_run(
    records: &[Values],
    edits: &[(usize, Values)],
    form: &FormDef,
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

    eprintln!(
        "Beatbook: local write (form session per record: validate, record + outbox, durable)"
    );
    let meter = Meter::start(&proxy, &server);
    let mut ids = Vec::with_capacity(n);
    for (i, values) in records.iter().enumerate() {
        let mut session = a.new_record("household_survey", Some(&grid), values.clone())?;
        session
            .finalize()
            .with_context(|| format!("record {i} does not validate"))?;
        ids.push(session.id());
    }
    run.insert("write", meter.finish(n, &proxy, &server));

    eprintln!("Beatbook: push");
    let meter = Meter::start(&proxy, &server);
    let report = a.sync_steps(None, Steps::Send, &|_| {}).await?;
    run.insert("push", meter.finish(n, &proxy, &server));
    ensure!(
        report.accepted as usize == n && report.rejected == 0,
        "push: {report:?}"
    );

    eprintln!("Beatbook: pull to a fresh device");
    let c = open_device(&dir.path().join("device-c"))?;
    c.enroll(&proxy.url, "o1", PASSWORD, "bench C").await?;
    let meter = Meter::start(&proxy, &server);
    let report = c.sync(&|_| {}).await?;
    run.insert("pull", meter.finish(n, &proxy, &server));
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
    let meter = Meter::start(&proxy, &server);
    for (i, edited) in edits {
        let mut session = a.open_record(ids[*i])?;
        for key in ["status", "updated_at", "notes"] {
            session.set(key, edited[key].clone())?;
        }
        session.finalize()?;
    }
    run.insert("local_edit", meter.finish(edits.len(), &proxy, &server));

    eprintln!("Beatbook: incremental push");
    let meter = Meter::start(&proxy, &server);
    let report = a.sync_steps(None, Steps::Send, &|_| {}).await?;
    run.insert("incr_push", meter.finish(edits.len(), &proxy, &server));
    ensure!(
        report.accepted as usize == edits.len(),
        "incremental push: {report:?}"
    );

    eprintln!("Beatbook: incremental pull");
    let meter = Meter::start(&proxy, &server);
    let report = c.sync(&|_| {}).await?;
    run.insert("incr_pull", meter.finish(edits.len(), &proxy, &server));
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
    server.stop();
    Ok(run)
}

/// The peer's aggregate for one phase, as bench.js writes it.
#[derive(Debug, Clone, Default, Serialize)]
struct PeerPhase {
    records_per_s: f64,
    seconds: f64,
    bytes_total: f64,
    server_rss_peak: f64,
    client_cpu_s: f64,
    server_cpu_s: f64,
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

/// A row of the comparison: name, Beatbook's figure, the peer's, whether
/// higher is better, and how to print a figure.
type Row = (&'static str, f64, f64, bool, Box<dyn Fn(f64) -> String>);

fn ratio(ours: f64, theirs: f64) -> String {
    if ours.is_finite() && theirs.is_finite() && theirs > 0.0 {
        format!("{:.2}×", ours / theirs)
    } else {
        "–".into()
    }
}

pub async fn run(args: Args) -> Result<()> {
    let peer = args.peer.canonicalize().with_context(|| {
        format!(
            "no peer at {} (scripts/bench.sh prepares one)",
            args.peer.display()
        )
    })?;
    let n = args.n;
    eprintln!("generating {n} records with the peer's gen.js (seed 42)");
    let records: Vec<Values> = node(&peer, &["gen.js", &n.to_string()])?
        .lines()
        .map(|l| {
            serde_json::from_str::<Json>(l)
                .map_err(anyhow::Error::from)
                .and_then(|r| to_values(&r))
        })
        .collect::<Result<_>>()?;
    ensure!(records.len() == n, "gen.js gave {} records", records.len());
    let logical: usize = records
        .iter()
        .map(|r| Json::Object(r.clone()).to_string().len())
        .sum();
    let edits: Vec<(usize, Values)> = node(
        &peer,
        &["-e", EDITS_JS, &n.to_string(), &args.changes.to_string()],
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
    let form: FormDef = serde_json::from_str(FORM)?;

    let mut runs = Vec::new();
    for r in 1..=args.runs.max(1) {
        eprintln!("== Beatbook run {r}/{}", args.runs.max(1));
        runs.push(beatbook_run(&records, &edits, &form).await?);
    }
    let (peer_phases, versions) = if args.skip_peer {
        (BTreeMap::new(), Json::Null)
    } else {
        peer_run(&peer, n, args.runs.max(1))?
    };

    let ours = |phase: &str, f: &dyn Fn(&Phase) -> f64| -> f64 {
        median(
            &runs
                .iter()
                .filter_map(|r| r.get(phase))
                .map(f)
                .collect::<Vec<_>>(),
        )
    };
    let theirs = |phase: &str, f: &dyn Fn(&PeerPhase) -> f64| -> f64 {
        peer_phases.get(phase).map_or(f64::NAN, f)
    };
    let k = edits.len().max(1) as f64;
    let nf = n as f64;
    let mib = |b: f64| b / 1_048_576.0;
    let rows_spec: Vec<Row> = vec![
        (
            "push, records/s",
            ours("push", &|p| p.records_per_s),
            theirs("push", &|p| p.records_per_s),
            true,
            Box::new(fmt_int),
        ),
        (
            "pull to a fresh device, records/s",
            ours("pull", &|p| p.records_per_s),
            theirs("pull", &|p| p.records_per_s),
            true,
            Box::new(fmt_int),
        ),
        (
            "incremental sync of 100 changed (push + pull), s",
            ours("incr_push", &|p| p.seconds) + ours("incr_pull", &|p| p.seconds),
            theirs("incr_push", &|p| p.seconds) + theirs("incr_pull", &|p| p.seconds),
            false,
            Box::new(|x| format!("{x:.3}")),
        ),
        (
            "bytes on the wire per pushed record",
            ours("push", &|p| (p.bytes_up + p.bytes_down) as f64) / nf,
            theirs("push", &|p| p.bytes_total) / nf,
            false,
            Box::new(fmt_int),
        ),
        (
            "bytes on the wire per pulled record",
            ours("pull", &|p| (p.bytes_up + p.bytes_down) as f64) / nf,
            theirs("pull", &|p| p.bytes_total) / nf,
            false,
            Box::new(fmt_int),
        ),
        (
            "bytes on the wire per changed record (push + pull)",
            (ours("incr_push", &|p| (p.bytes_up + p.bytes_down) as f64)
                + ours("incr_pull", &|p| (p.bytes_up + p.bytes_down) as f64))
                / k,
            (theirs("incr_push", &|p| p.bytes_total) + theirs("incr_pull", &|p| p.bytes_total)) / k,
            false,
            Box::new(fmt_int),
        ),
        (
            "peak server memory (push, pull), MiB",
            mib(ours("push", &|p| p.server_rss_peak as f64).max(ours("pull", &|p| p.server_rss_peak as f64))),
            mib(theirs("push", &|p| p.server_rss_peak).max(theirs("pull", &|p| p.server_rss_peak))),
            false,
            Box::new(|x| format!("{x:.0}")),
        ),
        (
            "CPU s, push (client + server)",
            ours("push", &|p| p.client_cpu_s + p.server_cpu_s),
            theirs("push", &|p| p.client_cpu_s + p.server_cpu_s),
            false,
            Box::new(|x| format!("{x:.2}")),
        ),
        (
            "CPU s, pull (client + server)",
            ours("pull", &|p| p.client_cpu_s + p.server_cpu_s),
            theirs("pull", &|p| p.client_cpu_s + p.server_cpu_s),
            false,
            Box::new(|x| format!("{x:.2}")),
        ),
        (
            "CPU s of the server alone, push + pull",
            ours("push", &|p| p.server_cpu_s) + ours("pull", &|p| p.server_cpu_s),
            theirs("push", &|p| p.server_cpu_s) + theirs("pull", &|p| p.server_cpu_s),
            false,
            Box::new(|x| format!("{x:.2}")),
        ),
        (
            "local write, records/s (Beatbook: a form session and one durable transaction per record; PouchDB: one put per record)",
            ours("write", &|p| p.records_per_s),
            theirs("write_put", &|p| p.records_per_s),
            true,
            Box::new(fmt_int),
        ),
    ];
    let rows: Vec<Vec<String>> = rows_spec
        .iter()
        .map(|(name, o, t, _, fmt)| vec![(*name).to_owned(), fmt(*o), fmt(*t), ratio(*o, *t)])
        .collect();
    let mut out = format!(
        "\nBeatbook vs PouchDB, N = {n} records (peer's gen.js, seed 42; {:.0} B of JSON per record), \
         {} run(s) each, medians; {}\n\n",
        logical as f64 / nf,
        args.runs.max(1),
        machine()
    );
    out.push_str(&table(
        &["", "Beatbook", "PouchDB", "Beatbook / PouchDB"],
        &rows,
    ));
    out.push_str("\nBeatbook phases (median):\n\n");
    let phase_rows: Vec<Vec<String>> = [
        "write",
        "push",
        "pull",
        "local_edit",
        "incr_push",
        "incr_pull",
    ]
    .iter()
    .map(|ph| {
        vec![
            (*ph).to_owned(),
            format!("{:.0}", ours(ph, &|p| p.records as f64)),
            format!("{:.3}", ours(ph, &|p| p.seconds)),
            fmt_int(ours(ph, &|p| p.records_per_s)),
            format!(
                "{:.2} / {:.2}",
                ours(ph, &|p| p.bytes_up as f64) / 1e6,
                ours(ph, &|p| p.bytes_down as f64) / 1e6
            ),
            format!(
                "{:.2} / {:.2}",
                ours(ph, &|p| p.client_cpu_s),
                ours(ph, &|p| p.server_cpu_s)
            ),
            format!("{:.0}", mib(ours(ph, &|p| p.server_rss_peak as f64))),
        ]
    })
    .collect();
    out.push_str(&table(
        &[
            "phase",
            "records",
            "s",
            "records/s",
            "wire MB up / down",
            "CPU s client / server",
            "server peak MiB",
        ],
        &phase_rows,
    ));
    println!("{out}");
    let file = results_dir().join(format!(
        "compare-N{n}-{}.json",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&json!({
            "n": n,
            "machine": machine(),
            "beatbook_runs": runs,
            "peer": peer_phases,
            "peer_versions": versions,
            "table": out,
        }))?,
    )?;
    eprintln!("results written to {}", file.display());
    if runs.is_empty() {
        bail!("no run finished");
    }
    Ok(())
}
