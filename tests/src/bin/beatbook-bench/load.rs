//! Many devices at once against one server: each a real client core with its
//! own encrypted store, holding `records` finalized records and one photo;
//! all start their sync (photo upload, push, pull) at the same instant.
//! Reports push latency percentiles, throughput and the server's peak
//! memory, then checks that the server holds exactly the records the devices
//! were told were stored: each once, none missing, none extra.

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
use beatbook_tests::backend::open_store;
use beatbook_tests::data::house;
use beatbook_tests::process::{free_addr, seed, Org, ServerProcess};
use beatbook_tests::PASSWORD;
use futures_util::stream::{self, StreamExt};

use crate::{fmt_int, machine, percentile, results_dir, table};

const PIN: &str = "246810";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Devices syncing at once.
    #[arg(long, default_value_t = 500)]
    devices: usize,
    /// Finalized records per device.
    #[arg(long, default_value_t = 20)]
    records: usize,
    /// Approximate size of each device's photo after capture processing, KB.
    #[arg(long, default_value_t = 200)]
    photo_kb: usize,
    /// Grids (one officer each); devices are spread over them.
    #[arg(long, default_value_t = 20)]
    grids: usize,
    /// Async worker threads of the client side.
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
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

pub async fn run(args: Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let org = Org::district(args.grids);
    seed(&data, &org, &[]).await;
    let mut server = ServerProcess::start(&data, free_addr()).await;
    let url = server.url.clone();
    eprintln!(
        "server {} (pid {}); preparing {} devices × {} records + 1 photo",
        url,
        server.pid(),
        args.devices,
        args.records
    );

    let side = photo_side(args.photo_kb)?;
    let prepared = Instant::now();
    let devices: Vec<(usize, Core, Vec<RecordId>, Sha256, u64)> = stream::iter(0..args.devices)
        .map(|i| {
            let (url, root) = (url.clone(), dir.path().to_owned());
            let grid = i % args.grids;
            let records = args.records;
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
                anyhow::Ok((i, core, ids, sha, size))
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let photo_bytes: u64 = devices.iter().map(|d| d.4).sum();
    eprintln!(
        "prepared in {:.1} s (photo ≈ {:.0} KB each); all devices sync now",
        prepared.elapsed().as_secs_f64(),
        photo_bytes as f64 / devices.len().max(1) as f64 / 1000.0
    );

    let rss_before = server.rss();
    server.reset_peak();
    let cpu0 = server.cpu_seconds();
    let start = Arc::new(tokio::sync::Barrier::new(devices.len() + 1));
    let mut tasks = Vec::new();
    for (i, core, _, _, _) in &devices {
        let (core, start, i) = (core.clone(), start.clone(), *i);
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
    let server_cpu = server.cpu_seconds() - cpu0;
    let peak = server.peak_rss();

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
    let records_total = args.devices * args.records;
    let push_window = last_push.duration_since(storm).as_secs_f64();

    // Exactly what was acknowledged, exactly once.
    let mut acknowledged = HashSet::new();
    for (i, core, ids, _, _) in &devices {
        let status = core.status()?;
        ensure!(
            status.outbox == 0,
            "device {i} still has {} queued",
            status.outbox
        );
        let synced: HashSet<RecordId> = core
            .records(&RecordFilter {
                states: vec![LocalState::Synced],
                form: Some("house".into()),
                ..Default::default()
            })?
            .iter()
            .map(|r| r.id)
            .collect();
        for id in ids {
            ensure!(
                synced.contains(id),
                "device {i}: record {id} was never acknowledged"
            );
            acknowledged.insert(*id);
        }
    }
    server.stop();
    let store = open_store(&data).await?;
    let counts = store.record_counts().await?;
    let on_server = counts.get("house").copied().unwrap_or(0) as usize;
    let mut once = 0usize;
    for id in &acknowledged {
        let versions = store.record_history(*id).await?.len();
        ensure!(
            versions == 1,
            "record {id} has {versions} versions on the server"
        );
        once += 1;
    }
    let hashes: Vec<Sha256> = devices.iter().map(|d| d.3).collect();
    let missing = store.missing_blobs(hashes).await?;
    ensure!(
        on_server == acknowledged.len() && once == records_total && missing.is_empty(),
        "server holds {on_server} houses, {} acknowledged, {} expected; {} photos missing",
        acknowledged.len(),
        records_total,
        missing.len()
    );

    let rows = vec![
        vec!["devices syncing at once".into(), args.devices.to_string()],
        vec![
            "records pushed (each device: records + 1 photo)".into(),
            format!(
                "{} ({} per device)",
                fmt_int(records_total as f64),
                args.records
            ),
        ],
        vec![
            "push latency p50 / p95 / p99, ms".into(),
            format!(
                "{:.0} / {:.0} / {:.0}",
                percentile(&push_ms, 0.5),
                percentile(&push_ms, 0.95),
                percentile(&push_ms, 0.99)
            ),
        ],
        vec![
            "photo upload p50 / p99, ms".into(),
            format!(
                "{:.0} / {:.0}",
                percentile(&upload_ms, 0.5),
                percentile(&upload_ms, 0.99)
            ),
        ],
        vec![
            "whole sync (upload, push, pull) p50 / p99, ms".into(),
            format!(
                "{:.0} / {:.0}",
                percentile(&sync_ms, 0.5),
                percentile(&sync_ms, 0.99)
            ),
        ],
        vec![
            "throughput: records pushed / s (start to last push)".into(),
            fmt_int(records_total as f64 / push_window),
        ],
        vec![
            "throughput: photo MB uploaded / s (whole run)".into(),
            format!("{:.1}", photo_bytes as f64 / 1e6 / wall),
        ],
        vec!["whole run, s".into(), format!("{wall:.2}")],
        vec![
            "server peak memory (RSS), MiB".into(),
            format!("{:.0}", peak as f64 / 1_048_576.0),
        ],
        vec![
            "server memory (RSS) when the devices start, after their enrollment, MiB".into(),
            format!("{:.0}", rss_before as f64 / 1_048_576.0),
        ],
        vec!["server CPU, s".into(), format!("{server_cpu:.2}")],
        vec![
            "server holds exactly the acknowledged records".into(),
            format!(
                "yes: {} records, each once; {} photos, none missing",
                fmt_int(acknowledged.len() as f64),
                devices.len()
            ),
        ],
    ];
    let mut out = format!("\nLoad test: {}\n\n", machine());
    out.push_str(&table(&["", "value"], &rows));
    out.push_str(
        "\nPush latency: from the end of the device's photo upload to the server's answer to \
         its push being recorded on the device (one batch of all its records).\n",
    );
    println!("{out}");
    let file = results_dir().join(format!(
        "load-{}x{}-{}.txt",
        args.devices,
        args.records,
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::write(&file, &out)?;
    eprintln!("results written to {}", file.display());
    drop(devices);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
