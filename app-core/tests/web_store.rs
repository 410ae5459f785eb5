//! The web build's encrypted store in a real browser (headless Chromium, in a
//! dedicated worker, as the field app's web build will run it): a record
//! saved through the OPFS pool is there after the store is closed and opened
//! again, only the right PIN opens it, and the database's bytes in the pool
//! hold no plain text of it. Run by `scripts/wasm-test.sh`.
#![cfg(target_arch = "wasm32")]

use std::path::Path;

use beatbook_core::keys::PinKeys;
use beatbook_core::store::{opfs, Store, StoreError};
use beatbook_schema::form::Values;
use beatbook_schema::ids::{FormId, GridId, UserId};
use sqlite_wasm_rs::vfs::transfer::DbTransfer;
use sqlite_wasm_rs::vfs::VfsFilesManager;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const MARKER: &str = "Zhang Wei, 3 Plum Blossom Lane, tel 13800138000";

#[wasm_bindgen_test]
async fn a_saved_record_survives_reopening_and_is_stored_encrypted() {
    let pool = opfs::install().await.expect("install the OPFS pool");
    let dir = Path::new("/smoke");
    let keys = PinKeys::fast_for_tests();

    let values: Values =
        serde_json::from_value(serde_json::json!({ "resident": MARKER })).expect("values");
    let (device, id) = {
        let store = Store::open(dir, "123456", &keys).expect("open a new store");
        let id = store
            .create_draft(
                (&FormId::new("household"), 1),
                &GridId::new("G-01"),
                UserId::new_v7(),
                &values,
            )
            .expect("save a draft");
        (store.device(), id)
    };

    let store = Store::open(dir, "123456", &keys).expect("reopen with the right PIN");
    assert_eq!(store.device(), device, "the device file was kept");
    let record = store.record(id).expect("read the record back");
    assert_eq!(record.values, values);
    drop(store);

    assert!(matches!(
        Store::open(dir, "654321", &keys),
        Err(StoreError::WrongPin)
    ));

    let names = pool.names().expect("list the pool");
    assert!(
        names.iter().any(|n| n == "/smoke/beatbook.db"),
        "the database is in the pool: {names:?}"
    );
    let bytes = pool
        .export_db("/smoke/beatbook.db")
        .expect("export the database");
    assert!(bytes.len() >= 4096, "a database of {} bytes", bytes.len());
    assert!(
        !contains(&bytes, b"SQLite format 3"),
        "the header is encrypted"
    );
    assert!(
        !contains(&bytes, MARKER.as_bytes()),
        "the record is encrypted"
    );
    assert!(!contains(&bytes, b"Plum Blossom"), "no part of it is plain");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
