//! A fresh device restoring a grid pulls each record's current version, not
//! its history: the change log is compacted as records are edited, so what
//! a restore downloads and applies grows with the records, not the versions.

use beatbook_core::Core;
use beatbook_schema::ids::RecordId;
use beatbook_tests::client::{device, house_ids, sync};
use beatbook_tests::data::house;
use beatbook_tests::wire::CountingProxy;
use beatbook_tests::TestServer;
use serde_json::json;

/// Records in the grid.
const RECORDS: usize = 40;
/// Versions of each in the second run.
const VERSIONS: u64 = 10;

/// What a fresh device's restore took.
#[derive(Debug)]
struct Restore {
    /// Items pulled (forms included).
    items: u64,
    /// Bytes the server sent.
    bytes_down: u64,
}

/// On a new server, a device writes `RECORDS` houses, each edited until it
/// has `versions` versions (a sync after each round, so each edit is a
/// version of its own), then a fresh device restores through a counting
/// proxy.
async fn restore_after(versions: u64) -> Restore {
    let server = TestServer::start().await;
    let (_a_dir, a) = device(&server, "o1").await;
    let ids: Vec<RecordId> = (0..RECORDS)
        .map(|i| {
            let mut s = a
                .new_record("house", None, house(&format!("户主{i}")))
                .expect("new house");
            s.finalize().expect("valid house");
            s.id()
        })
        .collect();
    sync(&a).await;
    for round in 2..=versions {
        for id in &ids {
            edit(&a, *id, round);
        }
        let report = sync(&a).await;
        assert_eq!(report.accepted, RECORDS as u64, "round {round}");
    }
    for id in &ids {
        assert_eq!(
            server.history_len(*id).await as u64,
            versions,
            "the server keeps every version of {id}"
        );
    }

    let (_b_dir, b) = device(&server, "o1").await;
    let proxy = CountingProxy::start(server.addr);
    let report = b
        .sync_via(Some(&proxy.url), &|_| {})
        .await
        .expect("restore");
    let forms = server.state.store.forms().await.expect("forms").len() as u64;
    assert_eq!(
        report.pulled,
        RECORDS as u64 + forms,
        "one item per record (and per form), whatever the versions"
    );
    assert_eq!(house_ids(&b, None), ids.iter().copied().collect());
    for id in &ids {
        let restored = b.record(*id).expect("restored");
        assert_eq!(
            restored.base_revision, versions,
            "{id} at its current revision"
        );
        let current = a.record(*id).expect("on the first device");
        assert_eq!(restored.values, current.values, "{id} as last written");
    }
    Restore {
        items: report.pulled - forms,
        bytes_down: proxy.traffic().down,
    }
}

/// The next version of a house: a field changed.
fn edit(core: &Core, id: RecordId, round: u64) {
    let mut s = core.open_record(id).expect("open");
    s.set("storeys", json!(round + 3)).expect("set");
    s.finalize().expect("finalize");
}

#[tokio::test]
async fn a_fresh_device_restores_current_versions_not_history() {
    let once = restore_after(1).await;
    let often = restore_after(VERSIONS).await;
    eprintln!("restore of {RECORDS} records: 1 version {once:?}, {VERSIONS} versions {often:?}");
    assert_eq!(once.items, RECORDS as u64);
    assert_eq!(
        often.items, RECORDS as u64,
        "exactly one record item per record after {VERSIONS} versions each"
    );
    // The current versions carry a little more (revisions, clocks), nothing
    // like ten times the items.
    let ratio = often.bytes_down as f64 / once.bytes_down as f64;
    assert!(
        ratio < 1.3,
        "bytes grow with records, not versions: {} B after 1 version, {} B after {VERSIONS} ({ratio:.2}×)",
        once.bytes_down,
        often.bytes_down
    );
}
