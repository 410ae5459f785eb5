//! Photo processing on a synthetic 4000×3000 camera JPEG: sizes and timing.
//!
//! `cargo run --release -p beatbook-app --example photo_bench [runs]`

use std::time::Instant;

use beatbook_core::photos::{process, synthetic_camera_jpeg, PhotoSettings};

fn main() -> anyhow::Result<()> {
    let runs: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 20,
    };
    let input = synthetic_camera_jpeg(4000, 3000, 1)?;
    let settings = PhotoSettings::default();

    let mut millis = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let photo = process(&input, &settings)?;
        millis.push(start.elapsed().as_secs_f64() * 1000.0);
        last = Some(photo);
    }
    let photo = last.ok_or_else(|| anyhow::anyhow!("no runs"))?;
    millis.sort_by(f64::total_cmp);
    let pct = |p: f64| millis[((millis.len() - 1) as f64 * p).round() as usize];

    println!(
        "settings: longest edge {} px, JPEG quality {}; {} runs",
        settings.longest_edge,
        settings.jpeg_quality,
        millis.len()
    );
    println!("| input | input bytes | output bytes | output dims | p50 ms | p99 ms |");
    println!("|---|---:|---:|---|---:|---:|");
    println!(
        "| 4000×3000 JPEG q92 | {} | {} | {}×{} | {:.0} | {:.0} |",
        input.len(),
        photo.bytes.len(),
        photo.width,
        photo.height,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}
