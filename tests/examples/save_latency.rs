//! Local save latency on the device: a finalized record (validation, record
//! and outbox row in one durable SQLCipher transaction), and an autosaved
//! answer. Prints a table. Run: `cargo run --release -p beatbook-tests --example save_latency`.

use std::time::Instant;

use beatbook_tests::client::device;
use beatbook_tests::data::house;
use beatbook_tests::TestServer;
use serde_json::json;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "| {name:<34} | {:>5} | {:>7.3} | {:>7.3} | {:>7.3} |",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or_default()
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let server = TestServer::start().await;
    let (_dir, core) = device(&server, "o1").await;

    let mut finalize = Vec::with_capacity(n);
    let mut autosave = Vec::with_capacity(n);
    for i in 0..n {
        let mut session = core
            .new_record("house", None, house(&format!("户主{i}")))
            .expect("new");
        let t = Instant::now();
        session
            .set("owner_phone", json!("13912345678"))
            .expect("answer");
        autosave.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        session.finalize().expect("finalize");
        finalize.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("| operation                          |     n | p50 ms  | p99 ms  | max ms  |");
    println!("|------------------------------------|------:|--------:|--------:|--------:|");
    row("autosave one answer (durable)", autosave);
    row("finalize: validate + record + outbox", finalize);
}
