//! Enrollment codes: one device per code, before it expires, all or nothing;
//! of devices racing with one code through several handles, exactly one wins.

use std::sync::Arc;

use beatbook_schema::ids::{DeviceId, UserId};
use chrono::{DateTime, Utc};

use super::fixture::{in_secs, token, world};
use super::Backend;
use crate::{CodeEnrollment, CodeRedemption, NewEnrollmentCode, Store, StoreError};

fn redemption(code: &str, device: DeviceId, now: DateTime<Utc>) -> CodeRedemption {
    CodeRedemption {
        code_hash: token(code),
        device,
        device_name: "扫码的手机".into(),
        token_hash: token(&format!("{code}-{device}")),
        now,
    }
}

async fn code_for(
    store: &dyn Store,
    code: &str,
    user: &UserId,
    by: &UserId,
    expires_at: DateTime<Utc>,
) {
    store
        .create_enrollment_code(NewEnrollmentCode {
            code_hash: token(code),
            user: *user,
            created_by: *by,
            created_at: Utc::now(),
            expires_at,
        })
        .await
        .expect("create enrollment code");
}

/// A code enrolls one device to its account, once; a used, expired or
/// unknown code, a disabled account or a taken device is refused without
/// changing anything (the code stays usable where it was not at fault).
pub async fn enrollment_codes_enroll_once_before_they_expire(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b, boss) = (&w.officer_a, &w.officer_b, &w.supervisor.id);

    code_for(store, "code-1", &a.user.id, boss, in_secs(900)).await;
    let phone = DeviceId::new_v7();
    let first = redemption("code-1", phone, Utc::now());
    match store.enroll_with_code(first.clone()).await.expect("redeem") {
        CodeEnrollment::Enrolled(account) => assert_eq!(account.info, a.user),
        other => panic!("a fresh code enrolls, got {other:?}"),
    }
    let owner = store
        .token_owner(first.token_hash)
        .await
        .expect("token")
        .expect("the new token works");
    assert_eq!((owner.device, owner.user.id), (phone, a.user.id));
    let listed = store.devices().await.expect("devices");
    let listed = listed.iter().find(|d| d.id == phone).expect("listed");
    assert_eq!(listed.name, "扫码的手机");

    let again = redemption("code-1", DeviceId::new_v7(), Utc::now());
    assert_eq!(
        store.enroll_with_code(again.clone()).await.expect("redeem"),
        CodeEnrollment::Used
    );
    assert!(store
        .token_owner(again.token_hash)
        .await
        .expect("token")
        .is_none());

    assert_eq!(
        store
            .enroll_with_code(redemption("never-made", DeviceId::new_v7(), Utc::now()))
            .await
            .expect("redeem"),
        CodeEnrollment::Unknown
    );

    code_for(store, "code-2", &a.user.id, boss, in_secs(60)).await;
    let late = redemption("code-2", DeviceId::new_v7(), in_secs(60));
    assert_eq!(
        store.enroll_with_code(late).await.expect("redeem"),
        CodeEnrollment::Expired,
        "expired at its expiry time"
    );

    // b's phone cannot be taken over with a code for a; the code stays unused.
    code_for(store, "code-3", &a.user.id, boss, in_secs(900)).await;
    assert_eq!(
        store
            .enroll_with_code(redemption("code-3", b.device, Utc::now()))
            .await
            .expect("redeem"),
        CodeEnrollment::DeviceTaken
    );
    assert!(
        store.token_owner(b.token).await.expect("token").is_some(),
        "b's phone keeps its token"
    );
    store
        .set_disabled(&a.user.badge, true)
        .await
        .expect("disable");
    assert_eq!(
        store
            .enroll_with_code(redemption("code-3", DeviceId::new_v7(), Utc::now()))
            .await
            .expect("redeem"),
        CodeEnrollment::Disabled
    );
    store
        .set_disabled(&a.user.badge, false)
        .await
        .expect("enable");
    assert!(
        matches!(
            store
                .enroll_with_code(redemption("code-3", DeviceId::new_v7(), Utc::now()))
                .await
                .expect("redeem"),
            CodeEnrollment::Enrolled(_)
        ),
        "refusals left the code unused"
    );

    let taken = NewEnrollmentCode {
        code_hash: token("code-3"),
        user: a.user.id,
        created_by: *boss,
        created_at: Utc::now(),
        expires_at: in_secs(900),
    };
    assert!(matches!(
        store.create_enrollment_code(taken.clone()).await,
        Err(StoreError::Duplicate(_))
    ));
    let nobody = NewEnrollmentCode {
        code_hash: token("code-4"),
        user: UserId::new_v7(),
        ..taken
    };
    assert!(matches!(
        store.create_enrollment_code(nobody).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Codes long expired are forgotten when new ones are made: storage stays bounded.
pub async fn long_expired_enrollment_codes_are_forgotten(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, boss) = (&w.officer_a, &w.supervisor.id);
    let long_ago = Utc::now() - crate::EXPIRED_CODES_KEPT - chrono::TimeDelta::hours(1);
    code_for(store, "old", &a.user.id, boss, long_ago).await;
    code_for(store, "recent", &a.user.id, boss, in_secs(-60)).await;
    code_for(store, "new", &a.user.id, boss, in_secs(900)).await;
    let now = Utc::now();
    assert_eq!(
        store
            .enroll_with_code(redemption("old", DeviceId::new_v7(), now))
            .await
            .expect("redeem"),
        CodeEnrollment::Unknown
    );
    assert_eq!(
        store
            .enroll_with_code(redemption("recent", DeviceId::new_v7(), now))
            .await
            .expect("redeem"),
        CodeEnrollment::Expired
    );
}

/// Eight devices redeem one code at once through four handles onto the
/// database: exactly one is enrolled, the others are told it was used.
pub async fn racing_redemptions_of_one_code_enroll_exactly_one_device(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let w = world(fresh.store.as_ref()).await;
    code_for(
        fresh.store.as_ref(),
        "race",
        &w.officer_a.user.id,
        &w.supervisor.id,
        in_secs(900),
    )
    .await;
    let mut handles: Vec<Arc<dyn Store>> = vec![fresh.store.clone()];
    for _ in 0..3 {
        handles.push(fresh.again.open().await);
    }
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let store = handles[i % handles.len()].clone();
            tokio::spawn(async move {
                let device = DeviceId::new_v7();
                let answer = store
                    .enroll_with_code(redemption("race", device, Utc::now()))
                    .await
                    .expect("redeem");
                (device, answer)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.expect("attempt"));
    }
    let winners: Vec<_> = answers
        .iter()
        .filter(|(_, a)| matches!(a, CodeEnrollment::Enrolled(_)))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one device wins: {answers:?}");
    assert!(
        answers
            .iter()
            .all(|(_, a)| matches!(a, CodeEnrollment::Enrolled(_) | CodeEnrollment::Used)),
        "the others are told the code was used: {answers:?}"
    );
    let devices = fresh.store.devices().await.expect("devices");
    let enrolled: Vec<_> = answers
        .iter()
        .filter(|(d, _)| devices.iter().any(|x| x.id == *d))
        .collect();
    assert_eq!(enrolled.len(), 1, "only the winner is bound");
}
