//! The device's CPU per synced record, without a server or a network: `N`
//! records of about 1.4 KB finalized, then the outbox pushed in batches the
//! "server" acknowledges at once (`next_batch`, `apply_push`), then their
//! versions pulled into a fresh device in pages of 1,000, read from JSON as
//! the client reads an answer (`apply_pull`). Wall-clock figures on a shared
//! machine are noise; count instructions instead:
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=cg.out \
//!     --toggle-collect='sync_cost::push_all' --toggle-collect='sync_cost::pull_all' \
//!     target/release/examples/sync_cost 1000
//! callgrind_annotate cg.out | head -40   # Ir of push_all and pull_all, ÷ N
//! ```

use std::time::Instant;

use beatbook_core::keys::PinKeys;
use beatbook_core::store::{BatchLimits, LocalStore, PulledPage};
use beatbook_schema::form::Values;
use beatbook_schema::ids::{DeviceId, FormId, GridId, UserId};
use beatbook_schema::protocol::{ChangeOutcome, ChangeResult};
use serde_json::json;

const PIN: &str = "246810";
const PAGE: usize = 1000;

fn values(i: usize) -> Values {
    let v = json!({
        "household_id": format!("HH-{i:08}"),
        "head_name": format!("张建国{i}"),
        "id_number": format!("3206821990{:08}", i % 100_000_000),
        "phone": format!("1380000{:04}", i % 10_000),
        "address": format!("江苏省南通市海门区滨江街道人民路{}号{}幢{}室", i % 500, i % 30, i % 400),
        "members": i % 7 + 1,
        "status": "registered",
        "notes": "住户信息已核对，家庭成员均在册；门牌清晰，无出租情况。社区网格员已走访。".repeat(4),
        "income": (i * 37) % 90_000,
        "visited_at": "2026-11-30T10:00:00Z",
        "tags": ["常住", "已核对", "网格G1"],
    });
    v.as_object().cloned().unwrap_or_default()
}

#[inline(never)]
fn push_all(store: &mut LocalStore) -> anyhow::Result<usize> {
    let mut pushed = 0;
    while let Some(batch) = store.next_batch(BatchLimits::default(), &[])? {
        let results: Vec<ChangeResult> = batch
            .changes
            .iter()
            .map(|c| ChangeResult {
                change_id: c.change_id,
                outcome: ChangeOutcome::Accepted { revision: 1 },
            })
            .collect();
        store.apply_push(&batch, &results)?;
        pushed += batch.changes.len();
    }
    Ok(pushed)
}

#[inline(never)]
fn pull_all(store: &mut LocalStore, pages: &[Vec<u8>]) -> anyhow::Result<()> {
    for page in pages {
        let page: PulledPage = serde_json::from_slice(page)?;
        store.apply_pull(&page)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let keys = PinKeys::fast_for_tests();
    let mut a = LocalStore::open(&dir.path().join("a"), PIN, &keys)?;
    let (form, grid, author) = (
        FormId::new("household_survey"),
        GridId::new("G1"),
        UserId::new_v7(),
    );
    for i in 0..n {
        let id = a.create_draft((&form, 1), &grid, author, &Values::new())?;
        a.finalize(id, &values(i), &[], None)?;
    }

    let started = Instant::now();
    let pushed = push_all(&mut a)?;
    let push_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        pushed == n && a.outbox_len()? == 0,
        "pushed {pushed} of {n}"
    );

    let device = DeviceId::new_v7();
    let now = "2026-11-30T10:00:00Z";
    let items: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
                "kind": "record",
                "cursor": i + 1,
                "version": {
                    "record": {
                        "id": beatbook_schema::ids::RecordId::new_v7(),
                        "form_id": form, "form_version": 1, "grid": grid,
                        "author": author, "device": device, "values": values(i),
                        "created_at": now, "updated_at": now, "status": "submitted"
                    },
                    "revision": 1
                }
            })
        })
        .collect();
    let pages: Vec<Vec<u8>> = items
        .chunks(PAGE)
        .enumerate()
        .map(|(p, chunk)| {
            serde_json::to_vec(&json!({
                "items": chunk,
                "next": ((p + 1) * PAGE).min(n),
                "has_more": (p + 1) * PAGE < n,
            }))
        })
        .collect::<Result<_, _>>()?;
    let mut c = LocalStore::open(&dir.path().join("c"), PIN, &keys)?;
    let started = Instant::now();
    pull_all(&mut c, &pages)?;
    let pull_s = started.elapsed().as_secs_f64();
    println!(
        "{n} records: push {:.1} µs/record, pull {:.1} µs/record (wall clock)",
        push_s * 1e6 / n as f64,
        pull_s * 1e6 / n as f64
    );
    Ok(())
}
