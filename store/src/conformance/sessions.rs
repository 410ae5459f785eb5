//! Web sessions of the review pages: created, read with their account,
//! touched, ended, and forgotten once expired.

use beatbook_schema::ids::Sha256;
use chrono::Duration;

use super::fixture::{now_ms, world};
use super::Backend;
use crate::{NewWebSession, Store};

fn id_hash(seed: &str) -> [u8; 32] {
    Sha256::digest(seed.as_bytes()).0
}

async fn create(store: &dyn Store, session: &NewWebSession) {
    store
        .create_web_session(session.clone())
        .await
        .expect("create web session");
}

/// A session reads back with its account (through any handle), notes
/// activity, and ends; an unknown one reads as none.
pub async fn web_session_lifecycle(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let now = now_ms();
    let new = NewWebSession {
        id_hash: id_hash("session"),
        user: w.supervisor.id,
        created_at: now,
        expires_at: now + Duration::hours(8),
    };
    create(store, &new).await;
    let other = fresh.again.open().await;
    let session = other
        .web_session(new.id_hash)
        .await
        .expect("session")
        .expect("created");
    assert_eq!(session.user, w.supervisor);
    assert!(!session.disabled);
    assert_eq!(
        (session.created_at, session.expires_at, session.last_seen_at),
        (now, new.expires_at, now),
        "last seen starts at sign-in"
    );
    let later = now + Duration::minutes(5);
    other
        .touch_web_session(new.id_hash, later)
        .await
        .expect("touch");
    let session = store
        .web_session(new.id_hash)
        .await
        .expect("session")
        .expect("kept");
    assert_eq!(session.last_seen_at, later);
    assert_eq!(
        session.expires_at, new.expires_at,
        "touching does not extend the end"
    );

    assert!(store
        .web_session(id_hash("unknown"))
        .await
        .expect("session")
        .is_none());
    store
        .touch_web_session(id_hash("unknown"), later)
        .await
        .expect("touching an unknown session is harmless");
    store.end_web_session(new.id_hash).await.expect("end");
    assert!(store
        .web_session(new.id_hash)
        .await
        .expect("session")
        .is_none());
    other
        .end_web_session(new.id_hash)
        .await
        .expect("ending twice is harmless");
}

/// Creating a session forgets the expired ones, and only those.
pub async fn expired_web_sessions_are_forgotten(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let now = now_ms();
    let expired = NewWebSession {
        id_hash: id_hash("expired"),
        user: w.officer_a.user.id,
        created_at: now - Duration::hours(10),
        expires_at: now - Duration::hours(2),
    };
    let alive = NewWebSession {
        id_hash: id_hash("alive"),
        user: w.officer_b.user.id,
        created_at: now - Duration::hours(1),
        expires_at: now + Duration::hours(7),
    };
    create(store, &expired).await;
    create(store, &alive).await;
    let fresh_one = NewWebSession {
        id_hash: id_hash("new"),
        user: w.supervisor.id,
        created_at: now,
        expires_at: now + Duration::hours(8),
    };
    create(store, &fresh_one).await;
    assert!(store
        .web_session(expired.id_hash)
        .await
        .expect("session")
        .is_none());
    for kept in [&alive, &fresh_one] {
        let s = store
            .web_session(kept.id_hash)
            .await
            .expect("session")
            .expect("not expired");
        assert_eq!(s.expires_at, kept.expires_at);
    }
}
