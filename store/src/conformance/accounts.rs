//! Organisation, accounts and devices: uniqueness, sign-out on a password
//! change, enrollment that cannot take another officer's phone, revocation.

use beatbook_schema::ids::{DeviceId, GridId, StationId, UserId};
use beatbook_schema::protocol::Role;
use chrono::Utc;

use super::fixture::{another_phone, in_secs, token, world, HASH};
use super::Backend;
use crate::{Grid, NewUser, NewWebSession, Station, Store, StoreError};

fn new_user(badge: &str, station: &StationId, grids: &[GridId]) -> NewUser {
    NewUser {
        badge: badge.into(),
        name: "赵辅警".into(),
        role: Role::Auxiliary,
        station: station.clone(),
        grids: grids.to_vec(),
        password_hash: HASH.into(),
    }
}

async fn session(store: &dyn Store, user: UserId, seed: &str) -> [u8; 32] {
    let id_hash = token(seed);
    store
        .create_web_session(NewWebSession {
            id_hash,
            user,
            created_at: Utc::now(),
            expires_at: in_secs(3600),
        })
        .await
        .expect("create web session");
    id_hash
}

/// Taken ids and badges are `Duplicate`; unknown badges and devices are
/// `NotFound`; an unknown badge reads as no account.
pub async fn organisation_duplicates_and_unknowns(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let again = Station {
        id: w.station.clone(),
        name: "另一个所".into(),
    };
    assert!(matches!(
        store.add_station(again).await,
        Err(StoreError::Duplicate(_))
    ));
    let grid = Grid {
        id: w.grid_a.clone(),
        station: w.station.clone(),
        name: "重复".into(),
    };
    assert!(matches!(
        store.add_grid(grid).await,
        Err(StoreError::Duplicate(_))
    ));
    let taken = NewUser {
        badge: w.officer_a.user.badge.clone(),
        ..new_user("x", &w.station, &[])
    };
    assert!(matches!(
        store.add_user(taken).await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        store.set_password("NOBODY", HASH.into()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_disabled("NOBODY", true).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.revoke_device(DeviceId::new_v7(), Utc::now()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store
        .user_by_badge("NOBODY")
        .await
        .expect("lookup")
        .is_none());
    assert!(!store
        .device_revoked(DeviceId::new_v7())
        .await
        .expect("revoked?"));
    assert!(
        store
            .add_user(new_user("G404", &w.station, &[GridId::new("no-such-grid")]))
            .await
            .is_err(),
        "an account in an unknown grid is refused"
    );
    assert!(
        store.user_by_badge("G404").await.expect("lookup").is_none(),
        "a refused account leaves nothing behind"
    );

    let stations = store.stations().await.expect("stations");
    assert_eq!(stations.len(), 1);
    assert_eq!(
        stations[0].name, "海门区公安局三厂派出所",
        "the first name stands"
    );
    let grids = store.grids().await.expect("grids");
    let ids: Vec<&GridId> = grids.iter().map(|g| &g.id).collect();
    assert_eq!(ids, [&w.grid_a, &w.grid_b]);
    assert!(grids.iter().all(|g| g.station == w.station));
    assert_eq!(store.users().await.expect("users").len(), 3);
}

/// Accounts keep role, station and grids; disabling shows on the account,
/// on its tokens and on its web sessions, and can be undone.
pub async fn users_keep_role_scope_and_disabled_flag(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let both = [w.grid_a.clone(), w.grid_b.clone()];
    let id = store
        .add_user(new_user("X3003", &w.station, &both))
        .await
        .expect("add user");
    let account = store
        .user_by_badge("X3003")
        .await
        .expect("lookup")
        .expect("added");
    assert_eq!(account.info.id, id);
    assert_eq!(account.info.role, Role::Auxiliary);
    assert_eq!(account.info.station, w.station);
    assert_eq!(account.info.grids, both);
    assert_eq!(account.password_hash, HASH);
    assert!(!account.disabled);
    let users = store.users().await.expect("users");
    assert!(users.contains(&account), "users() lists it as stored");
    let supervisor = users
        .iter()
        .find(|u| u.info.id == w.supervisor.id)
        .expect("the supervisor");
    assert_eq!(supervisor.info.role, Role::Supervisor);
    assert!(supervisor.info.grids.is_empty());

    let a = &w.officer_a;
    let web = session(store, a.user.id, "a-web").await;
    store
        .set_disabled(&a.user.badge, true)
        .await
        .expect("disable");
    assert!(
        store
            .user_by_badge(&a.user.badge)
            .await
            .expect("lookup")
            .expect("kept")
            .disabled
    );
    let owner = store
        .token_owner(a.token)
        .await
        .expect("token")
        .expect("still resolves");
    assert!(owner.disabled && !owner.revoked);
    assert_eq!(owner.device, a.device);
    assert!(
        store
            .web_session(web)
            .await
            .expect("session")
            .expect("kept")
            .disabled
    );
    let other = store
        .token_owner(w.officer_b.token)
        .await
        .expect("token")
        .expect("b");
    assert!(!other.disabled, "only that account is disabled");

    store
        .set_disabled(&a.user.badge, false)
        .await
        .expect("enable");
    assert!(
        !store
            .token_owner(a.token)
            .await
            .expect("token")
            .expect("a")
            .disabled
    );
}

/// A password change signs the account out everywhere, in one go: its
/// devices' tokens stop working (not revoked: they enroll again) and its web
/// sessions end; other accounts are untouched.
pub async fn set_password_signs_out_devices_and_sessions(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let spare = another_phone(store, a).await;
    let a_web = session(store, a.user.id, "a-web").await;
    let b_web = session(store, b.user.id, "b-web").await;
    let new_hash = HASH.replace("aGFzaGhhc2hoYXNoaGFzaA", "bmV3bmV3bmV3bmV3bmV3");

    let other = fresh.again.open().await;
    other
        .set_password(&a.user.badge, new_hash.clone())
        .await
        .expect("set password");

    let account = store
        .user_by_badge(&a.user.badge)
        .await
        .expect("lookup")
        .expect("a");
    assert_eq!(account.password_hash, new_hash);
    for phone in [a, &spare] {
        let owner = store.token_owner(phone.token).await.expect("token");
        assert!(
            owner.is_none(),
            "a signed-out token resolves to no one: {owner:?}"
        );
    }
    let devices = store.devices().await.expect("devices");
    for d in &devices {
        let mine = d.user == a.user.id;
        assert_eq!(d.signed_in, !mine, "signed in: {d:?}");
        assert!(d.revoked_at.is_none(), "signed out, not revoked: {d:?}");
    }
    assert!(!store.device_revoked(a.device).await.expect("revoked?"));
    assert!(store.web_session(a_web).await.expect("session").is_none());
    assert!(store.web_session(b_web).await.expect("session").is_some());
    assert!(store.token_owner(b.token).await.expect("token").is_some());

    let fresh_token = token("a-after-password");
    assert!(
        store
            .enroll(a.device, a.user.id, "张警官的手机", fresh_token, Utc::now())
            .await
            .expect("enroll"),
        "the officer enrolls the phone again"
    );
    let owner = store
        .token_owner(fresh_token)
        .await
        .expect("token")
        .expect("works");
    assert_eq!((owner.device, owner.user.id), (a.device, a.user.id));
    assert!(store.token_owner(a.token).await.expect("token").is_none());
}

/// Enrolling a device bound to another account, or revoked, changes nothing
/// and says so; enrolling one's own device again replaces its token.
pub async fn enroll_refuses_another_users_or_revoked_device(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    let stolen = token("b-takes-a-phone");
    assert!(
        !store
            .enroll(a.device, b.user.id, "抢来的", stolen, Utc::now())
            .await
            .expect("enroll"),
        "another officer's phone is refused"
    );
    assert!(store.token_owner(stolen).await.expect("token").is_none());
    let owner = store
        .token_owner(a.token)
        .await
        .expect("token")
        .expect("a's token works");
    assert_eq!(owner.user.id, a.user.id);

    let spare = another_phone(store, a).await;
    store
        .revoke_device(spare.device, Utc::now())
        .await
        .expect("revoke");
    let again = token("spare-again");
    assert!(
        !store
            .enroll(spare.device, a.user.id, "备用手机", again, Utc::now())
            .await
            .expect("enroll"),
        "a revoked phone is refused"
    );
    assert!(store.token_owner(again).await.expect("token").is_none());
    assert!(store.device_revoked(spare.device).await.expect("revoked?"));

    let renewed = token("a-renewed");
    let later = in_secs(60);
    assert!(store
        .enroll(a.device, a.user.id, "新名字", renewed, later)
        .await
        .expect("enroll"));
    assert!(
        store.token_owner(a.token).await.expect("token").is_none(),
        "old token replaced"
    );
    let owner = store
        .token_owner(renewed)
        .await
        .expect("token")
        .expect("new token");
    assert_eq!(owner.device, a.device);
    assert_eq!(
        owner.issued_at.timestamp(),
        later.timestamp(),
        "issued anew"
    );
    let devices = store.devices().await.expect("devices");
    let phone = devices.iter().find(|d| d.id == a.device).expect("listed");
    assert_eq!(phone.name, "新名字");
    assert_eq!(phone.badge, a.user.badge);
    assert_eq!(
        devices.iter().filter(|d| d.id == a.device).count(),
        1,
        "one row per device"
    );
}

/// A revoked device is known as revoked and its token no longer passes as
/// a working one; other devices are untouched.
pub async fn revoke_device_stops_its_token(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let (a, b) = (&w.officer_a, &w.officer_b);
    assert!(!store.device_revoked(a.device).await.expect("revoked?"));
    let other = fresh.again.open().await;
    other
        .revoke_device(a.device, Utc::now())
        .await
        .expect("revoke");
    assert!(store.device_revoked(a.device).await.expect("revoked?"));
    let owner = store.token_owner(a.token).await.expect("token");
    assert!(
        owner.as_ref().is_none_or(|o| o.revoked),
        "a revoked device's token must not pass as working: {owner:?}"
    );
    let devices = store.devices().await.expect("devices");
    let phone = devices.iter().find(|d| d.id == a.device).expect("listed");
    assert!(phone.revoked_at.is_some());
    assert!(!store.device_revoked(b.device).await.expect("revoked?"));
    let b_owner = store
        .token_owner(b.token)
        .await
        .expect("token")
        .expect("b works");
    assert!(!b_owner.revoked);
}

/// A role and grids change replaces both at once, is seen through the
/// account's device token at once (its next pull is scoped by it), and an
/// unknown badge or grid is `NotFound` and changes nothing.
pub async fn set_role_and_grids_replaces_both_and_the_token_sees_it(backend: &dyn Backend) {
    let fresh = backend.fresh().await;
    let store = fresh.store.as_ref();
    let w = world(store).await;
    let a = &w.officer_a;
    store
        .set_role_and_grids(&a.user.badge, Role::Auxiliary, vec![w.grid_b.clone()])
        .await
        .expect("change role and grids");
    let owner = store
        .token_owner(a.token)
        .await
        .expect("token owner")
        .expect("still signed in");
    assert_eq!(owner.user.role, Role::Auxiliary);
    assert_eq!(owner.user.grids, vec![w.grid_b.clone()]);
    assert!(!owner.revoked && !owner.disabled);

    let unknown = GridId("NO-SUCH-GRID".into());
    assert!(matches!(
        store
            .set_role_and_grids(
                &a.user.badge,
                Role::Officer,
                vec![w.grid_a.clone(), unknown]
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .set_role_and_grids("NOBODY", Role::Officer, vec![])
            .await,
        Err(StoreError::NotFound(_))
    ));
    let kept = store
        .user_by_badge(&a.user.badge)
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(
        kept.info.role,
        Role::Auxiliary,
        "a refused change changes nothing"
    );
    assert_eq!(kept.info.grids, vec![w.grid_b.clone()]);

    store
        .set_role_and_grids(&a.user.badge, Role::Supervisor, vec![])
        .await
        .expect("to supervisor");
    let sup = store
        .user_by_badge(&a.user.badge)
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(sup.info.role, Role::Supervisor);
    assert!(sup.info.grids.is_empty());
}
