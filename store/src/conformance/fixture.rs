//! What the cases share: a small organisation (one station, two grids, an
//! officer with an enrolled phone in each and a supervisor), changes as a
//! device makes them, and a plain decider.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{
    BatchId, ChangeId, DeviceId, GridId, RecordId, Sha256, StationId, UserId,
};
use beatbook_schema::merge::{self, MergeKind};
use beatbook_schema::protocol::{
    Change, ChangeOp, ChangeOutcome, Cursor, ErrorCode, PullItem, Role, UserInfo,
};
use beatbook_schema::record::{AttachmentRef, RecordStatus};
use beatbook_schema::text::Text;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use crate::{
    Decider, Decision, Existing, Grid, NewUser, Pusher, ReadScope, Station, Store, StoredRecord,
};

/// A field that makes the plain decider refuse the change (an `Answer`).
pub const REFUSE: &str = "refuse_me";

/// A placeholder Argon2id hash: the store keeps it, never checks it.
pub const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// An officer's account and enrolled phone.
#[derive(Debug, Clone)]
pub struct Officer {
    /// The account as the store returns it.
    pub user: UserInfo,
    /// The phone.
    pub device: DeviceId,
    /// The phone's token hash.
    pub token: [u8; 32],
}

impl Officer {
    /// The officer pushing from the phone now.
    pub fn pusher(&self) -> Pusher {
        Pusher {
            user: self.user.clone(),
            device: self.device,
            now: Utc::now(),
        }
    }
}

/// The organisation every case starts from.
#[derive(Debug, Clone)]
pub struct World {
    /// The station.
    pub station: StationId,
    /// Grid A.
    pub grid_a: GridId,
    /// Grid B.
    pub grid_b: GridId,
    /// An officer of grid A.
    pub officer_a: Officer,
    /// An officer of grid B.
    pub officer_b: Officer,
    /// The station's supervisor (no device).
    pub supervisor: UserInfo,
}

impl World {
    /// Grid A only.
    pub fn scope_a(&self) -> ReadScope {
        ReadScope::Grids(vec![self.grid_a.clone()])
    }

    /// Grid B only.
    pub fn scope_b(&self) -> ReadScope {
        ReadScope::Grids(vec![self.grid_b.clone()])
    }
}

/// Sets up the organisation in an empty store.
pub async fn world(store: &dyn Store) -> World {
    let station = StationId::new("320614-01");
    store
        .add_station(Station {
            id: station.clone(),
            name: "海门区公安局三厂派出所".into(),
        })
        .await
        .expect("add station");
    let (grid_a, grid_b) = (GridId::new("320614-01-01"), GridId::new("320614-01-02"));
    for (id, name) in [(&grid_a, "东风社区"), (&grid_b, "红星村")] {
        store
            .add_grid(Grid {
                id: id.clone(),
                station: station.clone(),
                name: name.into(),
            })
            .await
            .expect("add grid");
    }
    let officer_a = officer(store, "A1001", "张警官", &station, &grid_a).await;
    let officer_b = officer(store, "B2002", "李警官", &station, &grid_b).await;
    let supervisor = account(store, "S0001", "王所长", Role::Supervisor, &station, &[]).await;
    World {
        station,
        grid_a,
        grid_b,
        officer_a,
        officer_b,
        supervisor,
    }
}

/// Adds an account and returns it as stored.
pub async fn account(
    store: &dyn Store,
    badge: &str,
    name: &str,
    role: Role,
    station: &StationId,
    grids: &[GridId],
) -> UserInfo {
    store
        .add_user(NewUser {
            badge: badge.into(),
            name: name.into(),
            role,
            station: station.clone(),
            grids: grids.to_vec(),
            password_hash: HASH.into(),
        })
        .await
        .expect("add user");
    store
        .user_by_badge(badge)
        .await
        .expect("user by badge")
        .expect("the user just added")
        .info
}

/// Adds an officer of one grid with an enrolled phone.
pub async fn officer(
    store: &dyn Store,
    badge: &str,
    name: &str,
    station: &StationId,
    grid: &GridId,
) -> Officer {
    let user = account(
        store,
        badge,
        name,
        Role::Officer,
        station,
        std::slice::from_ref(grid),
    )
    .await;
    let device = DeviceId::new_v7();
    let token = token(&format!("{badge}-phone"));
    let enrolled = store
        .enroll(device, user.id, &format!("{name}的手机"), token, Utc::now())
        .await
        .expect("enroll");
    assert!(enrolled, "a new device enrolls");
    Officer {
        user,
        device,
        token,
    }
}

/// A token hash, distinct per seed.
pub fn token(seed: &str) -> [u8; 32] {
    Sha256::digest(seed.as_bytes()).0
}

/// A timestamp later than every earlier one this process made.
fn hlc(device: DeviceId) -> Hlc {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    Hlc {
        wall_ms: Utc::now().timestamp_millis().max(0) as u64,
        counter: COUNTER.fetch_add(1, Ordering::Relaxed),
        device,
    }
}

/// Field values from pairs.
pub fn values(pairs: &[(&str, Json)]) -> Map<String, Json> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// An edit (or creation, at base 0) of a record of `form` in `grid`.
pub fn upsert(
    by: &Officer,
    record: RecordId,
    form: &str,
    grid: &GridId,
    base_revision: u64,
    fields: Map<String, Json>,
    attachments: Vec<AttachmentRef>,
) -> Change {
    Change {
        change_id: ChangeId::new_v7(),
        record_id: record,
        form_id: form.into(),
        form_version: 1,
        grid: grid.clone(),
        base_revision,
        hlc: hlc(by.device),
        at: Utc::now(),
        op: ChangeOp::Upsert {
            fields,
            attachments,
        },
    }
}

/// A new `visit` record in `grid` with one note.
pub fn visit(by: &Officer, grid: &GridId, note: &str) -> Change {
    upsert(
        by,
        RecordId::new_v7(),
        "visit",
        grid,
        0,
        values(&[("note", Json::from(note))]),
        vec![],
    )
}

/// The deletion of a record.
pub fn delete(by: &Officer, record: &StoredRecord) -> Change {
    Change {
        change_id: ChangeId::new_v7(),
        record_id: record.id,
        form_id: record.form_id.clone(),
        form_version: record.form_version,
        grid: record.grid.clone(),
        base_revision: record.revision,
        hlc: hlc(by.device),
        at: Utc::now(),
        op: ChangeOp::Delete,
    }
}

/// A photo attachment for `bytes`.
pub fn photo(bytes: &[u8]) -> AttachmentRef {
    AttachmentRef {
        sha256: Sha256::digest(bytes),
        content_type: "image/jpeg".into(),
        size: bytes.len() as u64,
    }
}

/// The plain decider: refuses a change carrying [`REFUSE`] (an answer),
/// defers one whose attachments the server lacks, refuses edits of a
/// deleted record, and otherwise writes the change merged field by field
/// (the schema crate's merge) at the next revision, a new record authored by
/// `author`. Storage, not sync rules.
pub fn decider(author: UserId) -> Decider {
    Decider::new(move |change, existing| decide(author, change, existing))
}

/// The plain decider, counting the times it is asked (replays and
/// decisions taken as made ahead must not ask).
pub fn counting(asked: Arc<AtomicUsize>, by: &Officer) -> Decider {
    let plain = decider(by.user.id);
    Decider::new(move |change, existing| {
        asked.fetch_add(1, Ordering::SeqCst);
        plain.decide(change, existing)
    })
}

fn refusal(code: ErrorCode, why: &str) -> ChangeOutcome {
    ChangeOutcome::Rejected {
        code,
        message: Text::new(why, why),
        errors: vec![],
    }
}

fn decide(author: UserId, change: &Change, existing: &Existing) -> Decision {
    let current = existing.record.as_ref();
    let revision = current.map_or(0, |r| r.revision) + 1;
    let (fields, attachments) = match &change.op {
        ChangeOp::Delete => {
            let Some(r) = current.filter(|r| !r.deleted) else {
                return Decision::Answer(refusal(ErrorCode::NotFound, "no such record"));
            };
            let record = StoredRecord {
                deleted: true,
                updated_at: change.at,
                ..r.clone().next_revision()
            };
            return Decision::Write {
                record: Box::new(record),
                conflicts: vec![],
                outcome: ChangeOutcome::Accepted { revision },
            };
        }
        ChangeOp::Upsert {
            fields,
            attachments,
        } => (fields, attachments),
    };
    if fields.contains_key(REFUSE) {
        return Decision::Answer(refusal(ErrorCode::ValidationFailed, "refused on request"));
    }
    if current.is_some_and(|r| r.deleted) {
        return Decision::Answer(refusal(ErrorCode::Conflict, "the record was deleted"));
    }
    if !existing.missing_blobs.is_empty() {
        return Decision::Defer(refusal(ErrorCode::MissingBlob, "upload the photos first"));
    }
    let mut next = current.map(|r| r.fields.clone()).unwrap_or_default();
    let m = merge::merge(
        &next,
        revision - 1,
        change.base_revision,
        change.hlc,
        fields,
    );
    merge::apply(&mut next, &m, change.hlc, revision);
    let outcome = match m.kind {
        MergeKind::Clean => ChangeOutcome::Accepted { revision },
        MergeKind::Soft => ChangeOutcome::Merged { revision },
        MergeKind::Hard => ChangeOutcome::Conflicted {
            revision,
            conflicts: m.conflicts.clone(),
        },
    };
    let hard = m.kind == MergeKind::Hard;
    let record = match current {
        Some(r) => StoredRecord {
            form_version: change.form_version,
            grid: change.grid.clone(),
            fields: next,
            attachments: attachments.clone(),
            updated_at: change.at,
            status: RecordStatus::Submitted,
            revision,
            conflicted: r.conflicted || hard,
            resolved: m.conflicts.clone(),
            ..r.clone()
        },
        None => StoredRecord {
            id: change.record_id,
            form_id: change.form_id.clone(),
            form_version: change.form_version,
            grid: change.grid.clone(),
            author,
            device: change.hlc.device,
            fields: next,
            attachments: attachments.clone(),
            created_at: change.at,
            updated_at: change.at,
            status: RecordStatus::Submitted,
            revision,
            deleted: false,
            conflicted: hard,
            review: None,
            resolved: m.conflicts.clone(),
        },
    };
    Decision::Write {
        record: Box::new(record),
        conflicts: m.conflicts,
        outcome,
    }
}

/// Pushes `changes` as one new batch by `by`, with the plain decider.
pub async fn push(
    store: &dyn Store,
    by: &Officer,
    changes: Vec<Change>,
) -> Vec<(ChangeId, ChangeOutcome)> {
    push_batch(store, by, BatchId::new_v7(), changes).await
}

/// Pushes `changes` as batch `batch` by `by`, with the plain decider.
pub async fn push_batch(
    store: &dyn Store,
    by: &Officer,
    batch: BatchId,
    changes: Vec<Change>,
) -> Vec<(ChangeId, ChangeOutcome)> {
    store
        .push(by.pusher(), batch, changes, decider(by.user.id))
        .await
        .expect("push")
}

/// The revision an outcome wrote; panics on a refusal.
pub fn written(outcome: &ChangeOutcome) -> u64 {
    outcome
        .revision()
        .unwrap_or_else(|| panic!("expected a write, got {outcome:?}"))
}

/// Every item after `since` in `scope`, paging `limit` at a time.
pub async fn pull_all(
    store: &dyn Store,
    scope: ReadScope,
    since: Cursor,
    limit: u32,
) -> Vec<PullItem> {
    let mut items = Vec::new();
    let mut at = since;
    loop {
        let page = store.pull(scope.clone(), at, limit).await.expect("pull");
        for raw in &page.items {
            let item: PullItem = serde_json::from_str(raw.json.get()).expect("a pull item");
            assert_eq!(item.cursor(), raw.cursor, "an item carries its own cursor");
            items.push(item);
        }
        assert!(page.next >= at, "next never goes back");
        at = page.next;
        if !page.has_more {
            return items;
        }
    }
}

/// The records' versions among pull items, as (record, revision).
pub fn versions(items: &[PullItem]) -> Vec<(RecordId, u64)> {
    items
        .iter()
        .filter_map(|i| match i {
            PullItem::Record { version, .. } => Some((version.record.id, version.revision)),
            PullItem::Form { .. } => None,
        })
        .collect()
}

/// A time `secs` seconds from now (negative: in the past).
pub fn in_secs(secs: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(secs)
}

/// A second phone enrolled for the same officer (its writes are concurrent
/// with the first phone's).
pub async fn another_phone(store: &dyn Store, of: &Officer) -> Officer {
    let device = DeviceId::new_v7();
    let token = token(&format!("{device}-token"));
    let enrolled = store
        .enroll(device, of.user.id, "备用手机", token, Utc::now())
        .await
        .expect("enroll");
    assert!(enrolled, "a new device enrolls");
    Officer {
        user: of.user.clone(),
        device,
        token,
    }
}

/// Now, to the millisecond: times the store keeps read back equal.
pub fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
