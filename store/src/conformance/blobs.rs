//! Blob metadata: what is stored complete, what a device holds, where a
//! photo is shown (now, or in some version), and which blobs may be
//! collected, with the race between listing and forgetting closed.

use std::collections::BTreeSet;
use std::time::Duration;

use beatbook_schema::ids::{RecordId, Sha256};
use beatbook_schema::record::AttachmentRef;
use chrono::Utc;
use serde_json::json;

use super::fixture::{delete, photo, push, upsert, values, world, written, Officer};
use super::Backend;
use crate::{ReadScope, Store};

fn set(hashes: &[Sha256]) -> BTreeSet<Sha256> {
    hashes.iter().copied().collect()
}

async fn upload(store: &dyn Store, by: &Officer, shot: &AttachmentRef) {
    store
        .complete_blob(shot.sha256, shot.size, &shot.content_type, by.device)
        .await
        .expect("complete blob");
}

/// Pushes a new hazard record carrying `shots`; returns its id.
async fn hazard_with(store: &dyn Store, by: &Officer, shots: Vec<AttachmentRef>) -> RecordId {
    let grid = by.user.grids[0].clone();
    let change = upsert(
        by,
        RecordId::new_v7(),
        "hazard",
        &grid,
        0,
        values(&[("description", json!("消防通道堵塞"))]),
        shots,
    );
    let out = push(store, by, vec![change.clone()]).await;
    written(&out[0].1);
    change.record_id
}

/// Sets a record's photos to `shots` (an edit by its officer).
async fn set_photos(store: &dyn Store, by: &Officer, id: RecordId, shots: Vec<AttachmentRef>) {
    let r = store.record(id).await.expect("record").expect("stored");
    let change = upsert(
        by,
        id,
        &r.form_id.0,
        &r.grid,
        r.revision,
        values(&[]),
        shots,
    );
    written(&push(store, by, vec![change]).await[0].1);
}

/// Digests not stored complete are missing until completed, whoever
/// uploaded them.
pub async fn missing_and_complete_blobs(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (x, y) = (photo(b"x-photo"), photo(b"y-photo"));
    let missing = store
        .missing_blobs(vec![x.sha256, y.sha256, x.sha256])
        .await
        .expect("missing");
    assert_eq!(set(&missing), set(&[x.sha256, y.sha256]));
    assert!(store
        .missing_blobs(vec![])
        .await
        .expect("missing")
        .is_empty());
    upload(store, &w.officer_a, &x).await;
    let other = fresh.again.open().await;
    assert_eq!(
        other
            .missing_blobs(vec![x.sha256, y.sha256])
            .await
            .expect("missing"),
        vec![y.sha256]
    );
    upload(other.as_ref(), &w.officer_b, &x).await;
    upload(other.as_ref(), &w.officer_b, &y).await;
    assert!(store
        .missing_blobs(vec![x.sha256, y.sha256])
        .await
        .expect("missing")
        .is_empty());
}

/// A device holds what it uploaded or what a current record in its scope
/// carries; knowing a digest is not holding it. Each digest answered once.
pub async fn blobs_not_held_by_device_and_scope(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let (x, y, z) = (photo(b"x by a"), photo(b"y by b"), photo(b"z nowhere"));
    upload(store, a, &x).await;
    upload(store, b, &y).await;
    hazard_with(store, b, vec![y.clone()]).await;

    let not_held = store
        .blobs_not_held(
            vec![x.sha256, y.sha256, z.sha256, z.sha256],
            a.device,
            w.scope_a(),
        )
        .await
        .expect("not held");
    assert_eq!(not_held.len(), 2, "each once: {not_held:?}");
    assert_eq!(set(&not_held), set(&[y.sha256, z.sha256]));
    let not_held = store
        .blobs_not_held(vec![x.sha256, y.sha256], b.device, w.scope_b())
        .await
        .expect("not held");
    assert_eq!(
        not_held,
        vec![x.sha256],
        "b never uploaded x and no record of B carries it"
    );
    let not_held = store
        .blobs_not_held(vec![y.sha256, z.sha256], a.device, ReadScope::All)
        .await
        .expect("not held");
    assert_eq!(
        not_held,
        vec![z.sha256],
        "y is carried by a record in scope"
    );
}

/// A photo a record drops (or a deleted record carried) leaves the scope's
/// current photos but stays in its history, within its grid only.
pub async fn dropped_photo_leaves_scope_but_stays_in_history(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let (p, q) = (photo(b"before photo"), photo(b"deleted record photo"));
    upload(store, a, &p).await;
    upload(store, a, &q).await;
    let kept = hazard_with(store, a, vec![p.clone()]).await;
    let gone = hazard_with(store, a, vec![q.clone()]).await;
    for sha in [p.sha256, q.sha256] {
        assert!(store.blob_in_scope(sha, w.scope_a()).await.expect("scope"));
        assert!(store
            .blob_in_scope(sha, ReadScope::All)
            .await
            .expect("scope"));
        assert!(!store.blob_in_scope(sha, w.scope_b()).await.expect("scope"));
        assert!(store
            .blob_in_history(sha, w.scope_a())
            .await
            .expect("history"));
    }
    set_photos(store, a, kept, vec![]).await;
    let record = store.record(gone).await.expect("record").expect("stored");
    written(&push(store, a, vec![delete(a, &record)]).await[0].1);
    let other = fresh.again.open().await;
    for sha in [p.sha256, q.sha256] {
        assert!(
            !other.blob_in_scope(sha, w.scope_a()).await.expect("scope"),
            "no current record carries it"
        );
        assert!(!other
            .blob_in_scope(sha, ReadScope::All)
            .await
            .expect("scope"));
        assert!(
            other
                .blob_in_history(sha, w.scope_a())
                .await
                .expect("history"),
            "an old version did"
        );
        assert!(other
            .blob_in_history(sha, ReadScope::All)
            .await
            .expect("history"));
        assert!(
            !other
                .blob_in_history(sha, w.scope_b())
                .await
                .expect("history"),
            "not in grid B"
        );
    }
    let never = photo(b"never attached");
    upload(store, a, &never).await;
    assert!(!store
        .blob_in_history(never.sha256, ReadScope::All)
        .await
        .expect("history"));
}

/// A device's uploaded bytes count as unattached until some version of a
/// record carries them (and stay attached once one did).
pub async fn unattached_bytes_count_until_attached(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let (p, q) = (photo(&[1u8; 1000]), photo(&[2u8; 2500]));
    assert_eq!(store.unattached_bytes(a.device).await.expect("bytes"), 0);
    upload(store, a, &p).await;
    upload(store, a, &q).await;
    assert_eq!(store.unattached_bytes(a.device).await.expect("bytes"), 3500);
    assert_eq!(store.unattached_bytes(b.device).await.expect("bytes"), 0);
    let id = hazard_with(store, a, vec![p.clone()]).await;
    assert_eq!(store.unattached_bytes(a.device).await.expect("bytes"), 2500);
    set_photos(store, a, id, vec![]).await;
    assert_eq!(
        store.unattached_bytes(a.device).await.expect("bytes"),
        2500,
        "a photo an old version carried is attached"
    );
}

/// Blobs no version carries, stored and last uploaded before the cutoff,
/// are listed oldest first; forgetting re-checks in its transaction, so a
/// blob attached (or uploaded again) after the listing is kept.
pub async fn unreferenced_blobs_and_forget_blob(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    let shots: Vec<AttachmentRef> = ["p", "q", "r", "s"]
        .iter()
        .map(|n| photo(format!("photo {n}").as_bytes()))
        .collect();
    let [p, q, r, s] = [&shots[0], &shots[1], &shots[2], &shots[3]];
    let before_all = Utc::now();
    for shot in &shots {
        tokio::time::sleep(Duration::from_millis(20)).await;
        upload(store, a, shot).await;
    }
    hazard_with(store, a, vec![q.clone()]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    upload(store, &w.officer_b, s).await; // uploaded again after the cutoff

    assert!(store
        .unreferenced_blobs(before_all, 10)
        .await
        .expect("list")
        .is_empty());
    let listed = store.unreferenced_blobs(cutoff, 10).await.expect("list");
    assert_eq!(
        listed,
        vec![p.sha256, r.sha256],
        "oldest first, only the unreferenced"
    );
    assert_eq!(
        store.unreferenced_blobs(cutoff, 1).await.expect("list"),
        vec![p.sha256]
    );

    hazard_with(store, a, vec![r.clone()]).await; // attached after the listing
    let other = fresh.again.open().await;
    assert!(
        !other.forget_blob(r.sha256, cutoff).await.expect("forget"),
        "r is carried now"
    );
    assert!(!other.forget_blob(q.sha256, cutoff).await.expect("forget"));
    assert!(
        !other.forget_blob(s.sha256, cutoff).await.expect("forget"),
        "s was uploaded again"
    );
    assert!(other.forget_blob(p.sha256, cutoff).await.expect("forget"));
    assert!(
        !other.forget_blob(p.sha256, cutoff).await.expect("forget"),
        "forgotten once"
    );
    assert_eq!(
        store
            .missing_blobs(vec![p.sha256, q.sha256, r.sha256, s.sha256])
            .await
            .expect("missing"),
        vec![p.sha256]
    );
    assert_eq!(
        store.unattached_bytes(a.device).await.expect("bytes"),
        s.size,
        "p's upload is forgotten with it"
    );
    assert!(store
        .unreferenced_blobs(cutoff, 10)
        .await
        .expect("list")
        .is_empty());
}
