//! Many devices at once against the server: each a real client core with
//! its own encrypted store, holding `records` finalized records and one
//! photo; all start their sync (photo upload, push, pull) at the same
//! instant. The server is one process on SQLite, or N processes on one
//! PostgreSQL database with devices spread round-robin over them, as a load
//! balancer would. Reports push latency percentiles, throughput, the
//! servers' CPU and peak memory (and the PostgreSQL cluster's own CPU), then
//! checks that the database holds exactly the records the devices were told
//! were stored: each once, none missing, none extra.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use beatbook_core::keys::PinKeys;
use beatbook_core::photos::{process, synthetic_camera_jpeg, PhotoSettings};
use beatbook_core::platform::Desktop;
use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_core::sync::Phase;
use beatbook_core::Core;
use beatbook_schema::ids::{GridId, RecordId, Sha256};
use beatbook_tests::data::house;
use beatbook_tests::process::{nice_of, own_cpu_seconds, Org};
use beatbook_tests::PASSWORD;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::servers::{Backend, Servers};
use crate::{fmt_int, load_average, machine, percentile, results_dir, table};

const PIN: &str = "246810";

/// What the devices hold and how many sync at once.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct Workload {
    /// Devices syncing at once.
    #[arg(long, default_value_t = 500)]
    pub devices: usize,
    /// Finalized records per device.
    #[arg(long, default_value_t = 20)]
    pub records: usize,
    /// Approximate size of each device's photo after capture processing, KB.
    #[arg(long, default_value_t = 200)]
    pub photo_kb: usize,
    /// Grids (one officer each); devices are spread over them.
    #[arg(long, default_value_t = 20)]
    pub grids: usize,
    /// Async worker threads of the client side.
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
    /// Niceness of the devices' threads (Linux; 0 leaves them as they
    /// are). The 500 phones have CPUs of their own; here they share the
    /// server's two cores, and at the same priority their 64 threads would
    /// take most of the server's time slices. At 19 the server gets the
    /// cores it needs first and the devices what is left.
    #[arg(long, default_value_t = 19)]
    #[serde(default)]
    pub devices_nice: i32,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub workload: Workload,
    /// Where the servers keep their records.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// Server instances (PostgreSQL only), devices spread round-robin over them.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Latency {
    fn of(sorted: &[f64]) -> Self {
        Self {
            p50: percentile(sorted, 0.5),
            p95: percentile(sorted, 0.95),
            p99: percentile(sorted, 0.99),
        }
    }
}

/// The exactly-once check after a run: what the devices were told was
/// stored against what the database holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExactlyOnce {
    /// Whether the database holds exactly the acknowledged records, each
    /// once, and every photo.
    pub ok: bool,
    /// Records the devices entered.
    pub entered: usize,
    /// Records the devices hold as acknowledged (synced).
    pub acknowledged: usize,
    /// Changes still queued on the devices after their sync.
    pub left_in_outboxes: u64,
    /// Live `house` records in the database.
    pub on_server: usize,
    /// Acknowledged records the database holds in exactly one version.
    pub stored_once: usize,
    /// Photos the database lacks.
    pub photos_missing: usize,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub backend: Backend,
    pub instances: usize,
    /// From the end of a device's photo upload to its push being answered.
    pub push_ms: Latency,
    /// The servers' own time to answer a push, from its request's head to
    /// its answer (the commit included), as their `/metrics` summaries give
    /// it; with several instances, the largest figure of each. What the
    /// device adds (making the batch, recording the answer, waiting for one
    /// of the two cores the 500 simulated devices share) is not in it.
    #[serde(default)]
    pub server_push_ms: Option<Latency>,
    pub upload_ms: Latency,
    /// Upload, push and pull.
    pub sync_ms: Latency,
    /// Records pushed per second, from the start to the last push answered.
    pub records_per_s: f64,
    pub photo_mb_per_s: f64,
    pub wall_s: f64,
    /// CPU seconds of all server instances together.
    pub server_cpu_s: f64,
    /// CPU seconds of the devices (this process) during the run.
    #[serde(default)]
    pub devices_cpu_s: Option<f64>,
    pub server_cpu_s_per_instance: Vec<f64>,
    /// Peak resident memory of the largest instance, MiB.
    pub server_peak_rss_mib: f64,
    pub server_peak_rss_mib_per_instance: Vec<f64>,
    /// Resident memory of all instances when the devices start, MiB.
    pub server_rss_at_start_mib: f64,
    /// CPU seconds of the PostgreSQL cluster (all its processes).
    pub postgres_cpu_s: Option<f64>,
    /// The machine's cores, which the servers, the devices and PostgreSQL
    /// share.
    #[serde(default)]
    pub cores: Option<usize>,
    pub postgres_version: Option<String>,
    /// The machine's one-minute load average as the devices started (other
    /// work on the machine shows here).
    pub load_average_at_start: Option<f64>,
    pub exactly_once: ExactlyOnce,
}

/// When each step of one device's sync ended, from the common start.
#[derive(Debug, Default, Clone)]
struct Timeline {
    uploaded: Option<Instant>,
    pushed: Option<Instant>,
    done: Option<Instant>,
}

/// A photo input whose processed JPEG is about `kb` KB: a synthetic camera
/// picture, sized by trying.
fn photo_side(kb: usize) -> Result<u32> {
    let settings = PhotoSettings::default();
    let target = (kb * 1000) as f64;
    let mut best = (f64::MAX, 800);
    for side in (400..=1600).step_by(100) {
        let input = synthetic_camera_jpeg(side, side * 3 / 4, 7)?;
        let size = process(&input, &settings)?.bytes.len() as f64;
        let off = (size - target).abs();
        if off < best.0 {
            best = (off, side);
        }
        if size > target {
            break;
        }
    }
    Ok(best.1)
}

/// Runs the load once and prints its table (also written to
/// `target/bench-results/`); fails if the exactly-once check does.
pub async fn run(args: Args) -> Result<()> {
    let m = measure(&args.workload, args.backend, args.instances).await?;
    let mut out = format!("\nLoad test: {}\n\n", machine());
    out.push_str(&render(&args.workload, &m));
    out.push_str(
        "\nPush latency: from the end of the device's photo upload to the server's answer to \
         its push being recorded on the device (one batch of all its records).\n",
    );
    println!("{out}");
    let file = results_dir().join(format!(
        "load-{}x{}-{}-{}-{}.txt",
        args.workload.devices,
        args.workload.records,
        serde_json::to_value(args.backend)?
            .as_str()
            .unwrap_or("backend"),
        args.instances,
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::write(&file, &out)?;
    eprintln!("results written to {}", file.display());
    ensure!(
        m.exactly_once.ok,
        "the database does not hold exactly the acknowledged records: {:?}",
        m.exactly_once
    );
    Ok(())
}

/// One device, ready to sync: its core, the records it entered, its photo.
struct Device {
    index: usize,
    core: Core,
    records: Vec<RecordId>,
    photo: Sha256,
    photo_size: u64,
}

/// Enrolls `workload.devices` devices round-robin over `urls`, each with
/// its records and photo entered.
async fn prepare(
    workload: &Workload,
    urls: &[String],
    root: &std::path::Path,
) -> Result<Vec<Device>> {
    let side = photo_side(workload.photo_kb)?;
    stream::iter(0..workload.devices)
        .map(|i| {
            let (url, root) = (urls[i % urls.len()].clone(), root.to_owned());
            let grid = i % workload.grids;
            let records = workload.records;
            async move {
                let badge = format!("lo{:03}", grid + 1);
                let core = tokio::task::spawn_blocking(move || {
                    Core::open(
                        &root.join(format!("device-{i:04}")),
                        PIN,
                        &PinKeys::fast_for_tests(),
                        Arc::new(Desktop::default()),
                    )
                })
                .await??;
                core.enroll(&url, &badge, PASSWORD, &format!("load device {i}"))
                    .await?;
                let core2 = core.clone();
                let grid_id = GridId::new(format!("L{:03}", grid + 1));
                let (ids, sha, size) = tokio::task::spawn_blocking(move || -> Result<_> {
                    let jpeg = synthetic_camera_jpeg(side, side * 3 / 4, 1000 + i as u64)?;
                    let mut ids = Vec::with_capacity(records);
                    let mut photo = None;
                    for r in 0..records {
                        let values = house(&format!("负载{i}-{r}"));
                        let mut session = core2.new_record("house", Some(&grid_id), values)?;
                        if r == 0 {
                            photo = Some(session.add_photo("photos", &jpeg)?);
                        }
                        session.finalize()?;
                        ids.push(session.id());
                    }
                    let photo = photo.context("no records, no photo")?;
                    Ok((ids, photo.sha256, photo.size))
                })
                .await??;
                anyhow::Ok(Device {
                    index: i,
                    core,
                    records: ids,
                    photo: sha,
                    photo_size: size,
                })
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await
}

/// Runs the load once against `instances` servers on `backend`.
pub async fn measure(workload: &Workload, backend: Backend, instances: usize) -> Result<Measured> {
    let dir = tempfile::tempdir()?;
    let org = Org::district(workload.grids);
    let mut servers = Servers::start(dir.path(), backend, instances, &org).await?;
    let urls = servers.urls();
    if cfg!(target_os = "linux") && workload.devices_nice > 0 {
        for server in &servers.instances {
            let nice = nice_of(server.pid());
            ensure!(
                nice.is_some_and(|n| n < workload.devices_nice),
                "server process {} runs at niceness {nice:?}, not above the devices' {}: \
                 it was started from a lowered thread",
                server.pid(),
                workload.devices_nice
            );
        }
    }
    eprintln!(
        "{backend:?}, {instances} instance(s) at {}; preparing {} devices × {} records + 1 photo",
        urls.join(" "),
        workload.devices,
        workload.records
    );
    let prepared = Instant::now();
    let devices = prepare(workload, &urls, dir.path()).await?;
    let photo_bytes: u64 = devices.iter().map(|d| d.photo_size).sum();
    eprintln!(
        "prepared in {:.1} s (photo ≈ {:.0} KB each); all devices sync now",
        prepared.elapsed().as_secs_f64(),
        photo_bytes as f64 / devices.len().max(1) as f64 / 1000.0
    );

    let load_average_at_start = load_average();
    let rss_before: u64 = servers.rss().iter().sum();
    servers.reset_peak();
    let cpu0 = servers.cpu_seconds();
    let devices_cpu0 = own_cpu_seconds();
    let pg_cpu0 = servers.cluster.as_ref().and_then(|c| c.cpu_seconds());
    let start = Arc::new(tokio::sync::Barrier::new(devices.len() + 1));
    let mut tasks = Vec::new();
    for device in &devices {
        let (core, start, i) = (device.core.clone(), start.clone(), device.index);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let t0 = Instant::now();
            let line = Arc::new(Mutex::new(Timeline::default()));
            let l = line.clone();
            let result = core
                .sync(&move |p| {
                    let mut t = l.lock().unwrap_or_else(|e| e.into_inner());
                    match p.phase {
                        Phase::Uploading => t.uploaded = Some(Instant::now()),
                        Phase::Pushing => t.pushed = t.pushed.or(Some(Instant::now())),
                        Phase::Done => t.done = Some(Instant::now()),
                        Phase::Pulling => {}
                    }
                })
                .await;
            let t = line.lock().unwrap_or_else(|e| e.into_inner()).clone();
            (i, t0, t, result.map_err(|e| e.to_string()))
        }));
    }
    let storm = Instant::now();
    start.wait().await;
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await?);
    }
    let wall = storm.elapsed().as_secs_f64();
    let devices_cpu = own_cpu_seconds() - devices_cpu0;
    let server_cpu: Vec<f64> = servers
        .cpu_seconds()
        .iter()
        .zip(&cpu0)
        .map(|(now, before)| now - before)
        .collect();
    let postgres_cpu = servers
        .cluster
        .as_ref()
        .and_then(|c| Some(c.cpu_seconds()? - pg_cpu0?));
    let peak: Vec<f64> = servers
        .peak_rss()
        .iter()
        .map(|b| *b as f64 / 1_048_576.0)
        .collect();

    let mut push_ms = Vec::new();
    let mut upload_ms = Vec::new();
    let mut sync_ms = Vec::new();
    let mut failures = Vec::new();
    let mut last_push = storm;
    for (i, t0, t, result) in &results {
        if let Err(e) = result {
            failures.push(format!("device {i}: {e}"));
            continue;
        }
        let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1e3;
        let up_end = t.uploaded.unwrap_or(*t0);
        upload_ms.push(ms(*t0, up_end));
        if let Some(p) = t.pushed {
            push_ms.push(ms(up_end, p));
            last_push = last_push.max(p);
        }
        if let Some(d) = t.done {
            sync_ms.push(ms(*t0, d));
        }
    }
    ensure!(failures.is_empty(), "syncs failed: {failures:#?}");
    for v in [&mut push_ms, &mut upload_ms, &mut sync_ms] {
        v.sort_by(f64::total_cmp);
    }
    let records_total = workload.devices * workload.records;
    let push_window = last_push.duration_since(storm).as_secs_f64();
    let server_push_ms = answer_times(&urls, "/v1/push").await?;

    servers.stop();
    let exactly_once = check(&devices, &servers).await?;
    let postgres_version = servers.cluster.as_ref().map(|c| c.version.clone());
    drop(devices);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(Measured {
        backend,
        instances,
        push_ms: Latency::of(&push_ms),
        server_push_ms,
        upload_ms: Latency::of(&upload_ms),
        sync_ms: Latency::of(&sync_ms),
        records_per_s: records_total as f64 / push_window,
        photo_mb_per_s: photo_bytes as f64 / 1e6 / wall,
        wall_s: wall,
        server_cpu_s: server_cpu.iter().sum(),
        server_cpu_s_per_instance: server_cpu,
        devices_cpu_s: Some(devices_cpu),
        server_peak_rss_mib: peak.iter().copied().fold(0.0, f64::max),
        server_peak_rss_mib_per_instance: peak,
        server_rss_at_start_mib: rss_before as f64 / 1_048_576.0,
        postgres_cpu_s: postgres_cpu,
        cores: std::thread::available_parallelism().ok().map(|n| n.get()),
        postgres_version,
        load_average_at_start,
        exactly_once,
    })
}

/// The servers' time to answer `route` from their `/metrics` summaries
/// (the largest p50, p95 and p99 of the instances), or `None` if one has
/// answered none.
async fn answer_times(urls: &[String], route: &str) -> Result<Option<Latency>> {
    let http = reqwest::Client::new();
    let mut worst: Option<Latency> = None;
    for url in urls {
        let text = crate::server_metrics(&http, url).await?;
        let quantile = |q: &str| -> Option<f64> {
            let head =
                format!("beatbook_http_request_seconds{{route=\"{route}\",quantile=\"{q}\"}} ");
            let line = text.lines().find_map(|l| l.strip_prefix(head.as_str()))?;
            line.trim().parse::<f64>().ok().map(|s| s * 1e3)
        };
        let (Some(p50), Some(p95), Some(p99)) =
            (quantile("0.5"), quantile("0.95"), quantile("0.99"))
        else {
            return Ok(None);
        };
        let w = worst.get_or_insert(Latency { p50, p95, p99 });
        (w.p50, w.p95, w.p99) = (w.p50.max(p50), w.p95.max(p95), w.p99.max(p99));
    }
    Ok(worst)
}

/// Exactly what was acknowledged, exactly once: the devices' synced
/// records against the database the run used (its servers stopped).
async fn check(devices: &[Device], servers: &Servers) -> Result<ExactlyOnce> {
    let mut acknowledged = HashSet::new();
    let mut left_in_outboxes = 0;
    let mut entered = 0;
    for device in devices {
        left_in_outboxes += device.core.status()?.outbox;
        let synced: HashSet<RecordId> = device
            .core
            .records(&RecordFilter {
                states: vec![LocalState::Synced],
                form: Some("house".into()),
                ..Default::default()
            })?
            .iter()
            .map(|r| r.id)
            .collect();
        entered += device.records.len();
        acknowledged.extend(device.records.iter().filter(|id| synced.contains(id)));
    }
    let store = servers.store().await?;
    let counts = store.record_counts().await?;
    let on_server = counts.get("house").copied().unwrap_or(0) as usize;
    let versions: Vec<usize> = stream::iter(acknowledged.iter().copied())
        .map(|id| {
            let store = store.clone();
            async move { anyhow::Ok(store.record_history(id).await?.len()) }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let stored_once = versions.iter().filter(|v| **v == 1).count();
    let hashes: Vec<Sha256> = devices.iter().map(|d| d.photo).collect();
    let photos_missing = store.missing_blobs(hashes).await?.len();
    Ok(ExactlyOnce {
        ok: left_in_outboxes == 0
            && acknowledged.len() == entered
            && on_server == entered
            && stored_once == entered
            && photos_missing == 0,
        entered,
        acknowledged: acknowledged.len(),
        left_in_outboxes,
        on_server,
        stored_once,
        photos_missing,
    })
}

impl Measured {
    /// The servers measured, as the tables name them: "SQLite, 1 instance".
    pub fn servers(&self) -> String {
        let backend = match self.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        match self.instances {
            1 => format!("{backend}, 1 instance"),
            n => format!("{backend}, {n} instances"),
        }
    }
}

/// One run's table, every figure: what `load` prints, and (for the SQLite
/// run of `docs/bench/scale.json`) the README's "Many devices at once".
pub fn render(workload: &Workload, m: &Measured) -> String {
    let e = &m.exactly_once;
    let mut rows = vec![
        vec![
            "push latency p50 / p95 / p99, ms".into(),
            format!(
                "{:.0} / {:.0} / {:.0}",
                m.push_ms.p50, m.push_ms.p95, m.push_ms.p99
            ),
        ],
        vec![
            "push answered by the server (its own time) p50 / p95 / p99, ms".into(),
            m.server_push_ms.as_ref().map_or_else(
                || "not measured".into(),
                |s| format!("{:.0} / {:.0} / {:.0}", s.p50, s.p95, s.p99),
            ),
        ],
        vec![
            "photo upload p50 / p99, ms".into(),
            format!("{:.0} / {:.0}", m.upload_ms.p50, m.upload_ms.p99),
        ],
        vec![
            "whole sync (upload, push, pull) p50 / p99, ms".into(),
            format!("{:.0} / {:.0}", m.sync_ms.p50, m.sync_ms.p99),
        ],
        vec![
            "throughput: records pushed / s (start to the last push)".into(),
            fmt_int(m.records_per_s),
        ],
        vec![
            "throughput: photo MB uploaded / s (whole run)".into(),
            format!("{:.1}", m.photo_mb_per_s),
        ],
        vec!["whole run, s".into(), format!("{:.2}", m.wall_s)],
        vec![
            "server peak memory (RSS) of the largest instance, MiB".into(),
            format!("{:.0}", m.server_peak_rss_mib),
        ],
        vec![
            "server memory (RSS) when the devices start, after their enrollment, MiB".into(),
            format!("{:.0}", m.server_rss_at_start_mib),
        ],
        vec![
            "server CPU (all instances), s".into(),
            format!("{:.2}", m.server_cpu_s),
        ],
    ];
    if let Some(cpu) = m.devices_cpu_s {
        rows.push(vec![
            "the simulated devices' CPU, s".into(),
            format!("{cpu:.2}"),
        ]);
    }
    if let Some(cpu) = m.postgres_cpu_s {
        rows.push(vec!["PostgreSQL CPU, s".into(), format!("{cpu:.2}")]);
    }
    if let (Some(cores), Some(devices)) = (m.cores.filter(|&c| c > 0), m.devices_cpu_s) {
        let used = m.server_cpu_s + devices + m.postgres_cpu_s.unwrap_or(0.0);
        rows.push(vec![
            format!("the {cores} cores' time in use (all the CPU above / ({cores} × whole run))"),
            format!("{:.0} %", 100.0 * used / (cores as f64 * m.wall_s)),
        ]);
    }
    rows.push(vec![
        "server holds exactly the acknowledged records".into(),
        if e.ok {
            format!(
                "yes: {} records, each once; {} photos, none missing",
                fmt_int(e.stored_once as f64),
                workload.devices
            )
        } else {
            format!("NO: {e:?}")
        },
    ]);
    table(
        &[
            &format!(
                "{} devices at once, each {} records + 1 photo of ≈ {} KB",
                workload.devices, workload.records, workload.photo_kb
            ),
            &m.servers(),
        ],
        &rows,
    )
}
