//! The web build's encrypted store in a real browser (headless Chromium, in a
//! dedicated worker, as the field app's web build will run it): a record
//! saved through the OPFS pool is there after the store is closed and opened
//! again, only the right PIN opens it, and the database's bytes in the pool
//! hold no plain text of it; the whole core opens there too, counts wrong
//! PINs, keeps sealed photos and erases the device after too many wrong PINs.
//! Run by `scripts/wasm-test.sh`.
#![cfg(target_arch = "wasm32")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use beatbook_core::keys::PinKeys;
use beatbook_core::lockout::{PinPolicy, UnlockError};
use beatbook_core::photos::synthetic_camera_jpeg;
use beatbook_core::platform::Desktop;
use beatbook_core::store::{opfs, LocalStore, LocalStoreError};
use beatbook_core::{Core, CoreError};
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
        let store = LocalStore::open(dir, "123456", &keys).expect("open a new store");
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

    let store = LocalStore::open(dir, "123456", &keys).expect("reopen with the right PIN");
    assert_eq!(store.device(), device, "the device file was kept");
    let record = store.record(id).expect("read the record back");
    assert_eq!(record.values, values);
    drop(store);

    assert!(matches!(
        LocalStore::open(dir, "654321", &keys),
        Err(LocalStoreError::WrongPin)
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

#[wasm_bindgen_test]
async fn the_core_counts_wrong_pins_keeps_sealed_photos_and_erases_after_too_many() {
    let pool = opfs::install().await.expect("install the OPFS pool");
    let dir = Path::new("/core");
    let keys = PinKeys::fast_for_tests();
    let policy = PinPolicy {
        delay_from: 10,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        wipe_after: 3,
    };
    let open = |pin: &str| Core::open_with(dir, pin, &keys, Arc::new(Desktop::default()), &policy);

    let core = open("123456").expect("open a new device");
    let device = core.device_id();
    let jpeg = synthetic_camera_jpeg(640, 480, 7).expect("a test photo");
    let photo = core.add_photo(&jpeg).expect("add a photo");
    drop(core);

    // The count lives in the pool between tries: one wrong PIN leaves two.
    assert!(matches!(
        open("000000"),
        Err(CoreError::Unlock(UnlockError::WrongPin { left: 2, .. }))
    ));
    assert!(matches!(
        open("000000"),
        Err(CoreError::Unlock(UnlockError::WrongPin { left: 1, .. }))
    ));
    let core = open("123456").expect("the right PIN still opens");
    assert_eq!(core.device_id(), device);
    let back = core
        .photo(&photo.sha256)
        .expect("the sealed photo reads back");
    assert_eq!(back.len() as u64, photo.size);
    assert_eq!(&back[..2], &[0xFF, 0xD8], "a JPEG");
    drop(core);

    // The right PIN cleared the count: three wrong ones in a row erase.
    for left in [2, 1] {
        assert!(matches!(
            open("000000"),
            Err(CoreError::Unlock(UnlockError::WrongPin { left: l, .. })) if l == left
        ));
    }
    assert!(matches!(
        open("000000"),
        Err(CoreError::Unlock(UnlockError::Erased { failures: 3 }))
    ));
    let names = pool.names().expect("list the pool");
    assert!(
        !names.iter().any(|n| n.starts_with("/core/")),
        "the device's database left the pool: {names:?}"
    );
    let fresh = open("123456").expect("a new, empty device");
    assert_ne!(fresh.device_id(), device, "a new device id and salt");
    assert!(fresh.photo(&photo.sha256).is_err(), "the photo is gone");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
