//! The server's side of push, alone: the comparison's records (the peer's
//! `gen.js`) pushed straight over HTTP as a device sends them (JSON, gzip,
//! `batch` changes a request), by one device or many at once, with no device
//! store on the client side. Reports the server's CPU time per pushed record
//! (read from `/proc`), the requests' latency and the server's peak memory;
//! `--perf FILE` records the server with `perf record` meanwhile.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use beatbook_schema::form::{FormDef, Values};
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, FormId, GridId, RecordId};
use beatbook_schema::protocol::{
    Change, ChangeOp, ChangeOutcome, EnrollRequest, EnrollResponse, PushRequest, PushResponse,
};
use beatbook_tests::process::Org;
use beatbook_tests::PASSWORD;
use serde::Serialize;

use crate::compare::{node, to_values, FORM};
use crate::servers::{Backend, Servers};
use crate::{load_average, machine, percentile, results_dir, write_results};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records, in all.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Changes per push request (the device's batch).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Devices pushing at once; the records are shared out among them.
    #[arg(long, default_value_t = 1)]
    devices: usize,
    /// A prepared copy of ../shared/peers/pouchdb (its gen.js makes the records).
    #[arg(long, env = "BEATBOOK_PEER_DIR")]
    peer: PathBuf,
    /// Where the server keeps its records.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// Records the server with `perf record` (DWARF call graphs) into this file while it answers.
    #[arg(long)]
    perf: Option<PathBuf>,
}

/// One run's figures.
#[derive(Debug, Serialize)]
pub struct PushFile {
    machine: String,
    date: String,
    commit: String,
    backend: Backend,
    n: usize,
    batch: usize,
    devices: usize,
    load_average_at_start: Option<f64>,
    seconds: f64,
    records_per_s: f64,
    server_cpu_s: f64,
    server_cpu_us_per_record: f64,
    server_peak_rss_mib: f64,
    request_ms_p50: f64,
    request_ms_p95: f64,
    request_ms_p99: f64,
}

/// The gzip'd JSON bodies of one device's pushes.
fn bodies(device: DeviceId, records: &[Values], batch: usize) -> Result<Vec<Vec<u8>>> {
    let form = FormId::new("household_survey");
    let grid = GridId::new("L001");
    let mut hlc = Hlc::zero(device);
    records
        .chunks(batch.max(1))
        .map(|chunk| {
            let changes = chunk
                .iter()
                .map(|values| {
                    let now = chrono::Utc::now();
                    hlc = hlc.tick(now.timestamp_millis() as u64);
                    Change {
                        change_id: ChangeId::new_v7(),
                        record_id: RecordId::new_v7(),
                        form_id: form.clone(),
                        form_version: 1,
                        grid: grid.clone(),
                        base_revision: 0,
                        hlc,
                        at: now,
                        op: ChangeOp::Upsert {
                            fields: values.clone(),
                            attachments: vec![],
                        },
                    }
                })
                .collect();
            let json = serde_json::to_vec(&PushRequest {
                batch_id: BatchId::new_v7(),
                changes,
            })?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&json)?;
            Ok(gz.finish()?)
        })
        .collect()
}

async fn enroll(http: &reqwest::Client, url: &str, device: DeviceId) -> Result<String> {
    let answer: EnrollResponse = http
        .post(format!("{url}/v1/enroll"))
        .json(&EnrollRequest {
            badge: "lo001".into(),
            password: PASSWORD.into(),
            device_id: device,
            device_name: "push bench".into(),
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(answer.token)
}

/// Pushes `bodies` one after the other; answers each request's latency, ms.
async fn push_all(
    http: reqwest::Client,
    url: String,
    token: String,
    bodies: Vec<Vec<u8>>,
) -> Result<Vec<f64>> {
    let mut ms = Vec::with_capacity(bodies.len());
    for body in bodies {
        let t = Instant::now();
        let answer: PushResponse = http
            .post(format!("{url}/v1/push"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let refused: Vec<_> = answer
            .results
            .iter()
            .filter(|r| !matches!(r.outcome, ChangeOutcome::Accepted { revision: 1 }))
            .collect();
        ensure!(refused.is_empty(), "not accepted: {:?}", refused.first());
    }
    Ok(ms)
}

fn start_perf(out: &PathBuf, pid: u32) -> Result<Child> {
    let child = Command::new("perf")
        .args([
            "record",
            "-F",
            "999",
            "--call-graph",
            "dwarf,16384",
            "-p",
            &pid.to_string(),
            "-o",
        ])
        .arg(out)
        .spawn()
        .context("running perf")?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    Ok(child)
}

/// Runs one push storm and writes its results file; returns it.
pub async fn run(args: Args) -> Result<PushFile> {
    let records: Vec<Values> = node(&args.peer, &["gen.js", &args.n.to_string()])?
        .lines()
        .map(|l| to_values(&serde_json::from_str(l)?))
        .collect::<Result<_>>()?;
    let dir = tempfile::tempdir()?;
    let mut servers = Servers::start(dir.path(), args.backend, 1, &Org::district(1)).await?;
    let form: FormDef = serde_json::from_str(FORM)?;
    servers.store().await?.publish_form(&form).await?;
    let url = servers.urls()[0].clone();
    let http = reqwest::Client::new();

    let devices = args.devices.max(1);
    let share = records.len().div_ceil(devices);
    let mut work = Vec::with_capacity(devices);
    for chunk in records.chunks(share.max(1)) {
        let device = DeviceId::new_v7();
        let token = enroll(&http, &url, device).await?;
        work.push((token, bodies(device, chunk, args.batch)?));
    }
    eprintln!(
        "{:?}: {} records, {} device(s), {} a push; pushing",
        args.backend, args.n, devices, args.batch
    );

    let load = load_average();
    let server = &servers.instances[0];
    let mut perf = args
        .perf
        .as_ref()
        .map(|out| start_perf(out, server.pid()))
        .transpose()?;
    server.reset_peak();
    let cpu0 = server.cpu_seconds();
    let started = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(token, bodies)| tokio::spawn(push_all(http.clone(), url.clone(), token, bodies)))
        .collect();
    let mut ms = Vec::new();
    for t in tasks {
        ms.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu0;
    let peak = server.peak_rss() as f64 / 1_048_576.0;
    if let Some(child) = perf.as_mut() {
        crate::profile::stop_perf(child)?;
    }
    servers.stop();
    ms.sort_by(f64::total_cmp);
    let file = PushFile {
        machine: machine(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        commit: crate::commit(),
        backend: args.backend,
        n: records.len(),
        batch: args.batch,
        devices,
        load_average_at_start: load,
        seconds,
        records_per_s: records.len() as f64 / seconds,
        server_cpu_s: cpu,
        server_cpu_us_per_record: cpu * 1e6 / records.len().max(1) as f64,
        server_peak_rss_mib: peak,
        request_ms_p50: percentile(&ms, 0.5),
        request_ms_p95: percentile(&ms, 0.95),
        request_ms_p99: percentile(&ms, 0.99),
    };
    let kept = results_dir().join(format!(
        "push-{}x{}-{}.json",
        devices,
        args.batch,
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    write_results(&kept, &file)?;
    eprintln!("results written to {}", kept.display());
    Ok(file)
}
