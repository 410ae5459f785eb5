//! `beatbook-server migrate-to` on the demo district: a device enrolled and
//! synced on SQLite before the move keeps syncing after it from its stored
//! cursor, with no re-enrollment, no gap and no duplicate.

use std::path::Path;
use std::process::Command;

use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ChangeOutcome, Cursor, PullItem};
use beatbook_tests::data::house;
use beatbook_tests::process::{free_addr, server_binary, ServerProcess, Storage};
use beatbook_tests::TestDevice;

fn run(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(server_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("beatbook-server runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "beatbook-server {args:?}: {text}");
    text
}

async fn push_house(device: &TestDevice, id: RecordId, base: u64, owner: &str) {
    let grid = device.user.grids[0].to_string();
    let answer = device
        .push(vec![device.upsert(id, "house", &grid, base, house(owner))])
        .await
        .expect("push answered");
    assert!(
        answer
            .results
            .iter()
            .all(|r| matches!(r.outcome, ChangeOutcome::Accepted { .. })),
        "{answer:?}"
    );
}

fn json(items: &[PullItem]) -> Vec<serde_json::Value> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).expect("an item serializes"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_enrolled_before_the_move_syncs_after_it_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let district = dir.path().join("district");
    // The move always starts from SQLite, whatever backend the other tests use.
    run(
        &district,
        &[
            "--database",
            &district.join("beatbook.sqlite3").to_string_lossy(),
            "demo",
            "--addresses",
            "300",
            "--households",
            "40",
        ],
    );
    let addr = free_addr();
    let sqlite = Storage {
        database: Some(
            district
                .join("beatbook.sqlite3")
                .to_string_lossy()
                .into_owned(),
        ),
        ..Storage::local(&district)
    };
    let mut server = ServerProcess::start_on(sqlite, addr).await;
    let password = beatbook_server::demo::PASSWORD;
    let officer = TestDevice::enroll(&server.url, "061201", password)
        .await
        .expect("the officer enrolls");
    let colleague = TestDevice::enroll(&server.url, "061201", password)
        .await
        .expect("a second phone enrolls");
    let (district_items, _) = officer.pull_all(Cursor(0), 500).await.expect("pull");
    assert!(!district_items.is_empty());
    let before_move = RecordId::new_v7();
    push_house(&colleague, before_move, 0, "迁移前").await;
    let (old, stored_cursor) = officer.pull_all(Cursor(0), 500).await.expect("pull");
    assert_eq!(old.len(), district_items.len() + 1);
    server.stop();

    let url = beatbook_store_postgres::testing::fresh_database().await;
    let blobs = dir.path().join("shared-blobs");
    let report = run(
        &district,
        &[
            "--database",
            &district.join("beatbook.sqlite3").to_string_lossy(),
            "migrate-to",
            &url,
            "--blob-dir",
            &blobs.to_string_lossy(),
        ],
    );
    assert!(report.contains("verified"), "{report}");

    let instance = dir.path().join("instance");
    let server = ServerProcess::start_on(Storage::shared(&instance, &url, &blobs), addr).await;
    // The stored cursor, on the new database: nothing again.
    let (again, cursor) = officer
        .pull_all(stored_cursor, 500)
        .await
        .expect("the token still works after the move");
    assert!(again.is_empty(), "pulled again after the move: {again:?}");
    assert_eq!(cursor, stored_cursor);

    // Changes after the move arrive once, after the stored cursor.
    let after_move = RecordId::new_v7();
    push_house(&colleague, after_move, 0, "迁移后").await;
    push_house(&colleague, before_move, 1, "迁移后修改").await;
    let (new, _) = officer.pull_all(stored_cursor, 500).await.expect("pull");
    let records: Vec<RecordId> = new
        .iter()
        .filter_map(|i| match i {
            PullItem::Record { version, .. } => Some(version.record.id),
            PullItem::Form { .. } => None,
        })
        .collect();
    assert_eq!(records, vec![after_move, before_move], "{new:?}");

    // The whole log from the start: the old items unchanged (but the first
    // version of the record edited since, which left the compacted log),
    // then the new ones.
    let (all, _) = officer.pull_all(Cursor(0), 500).await.expect("pull");
    let kept: Vec<PullItem> = old
        .iter()
        .filter(
            |i| !matches!(i, PullItem::Record { version, .. } if version.record.id == before_move),
        )
        .cloned()
        .collect();
    assert_eq!(kept.len(), old.len() - 1);
    assert_eq!(all.len(), kept.len() + 2);
    assert_eq!(
        json(&all[..kept.len()]),
        json(&kept),
        "the copied log differs"
    );
    assert_eq!(json(&all[kept.len()..]), json(&new));
    drop(server);
}
