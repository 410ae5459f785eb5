//! The `demo` command's work: seeding the demo district that
//! [`beatbook_demo`] plans into a data directory, through the paths devices
//! take — each account's device enrolled, its photos stored as a completed
//! upload is, and every batch pushed through [`crate::sync::push`], the
//! service the `/v1/push` handler calls — so each record is validated exactly
//! as a device's would be.

use std::collections::BTreeMap;
use std::fmt;

use beatbook_demo::{Author, District, Draft, Photo, PlanError, Stage};
use beatbook_schema::ids::{DeviceId, GridId, RecordId};
use beatbook_schema::protocol::{ChangeOutcome, Role, UserInfo};
use chrono::Utc;
use tokio::io::AsyncWriteExt;

use crate::auth::{hash_password, hash_token, new_token, verify_password};
use crate::state::AppState;
use crate::sync::{complete_upload, Completed, UploadError};
use beatbook_store::{Grid, NewUser, Station, StoreError};

pub use beatbook_demo::{DemoSize, PASSWORD, STATION_ID, STATION_NAME};

/// How far one stage of seeding has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What is being pushed (`addresses`, `persons`, ...).
    pub stage: &'static str,
    /// Changes pushed so far.
    pub done: usize,
    /// Changes of the stage.
    pub total: usize,
}

/// A demo change the server did not accept outright.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Its form.
    pub form: String,
    /// Its record.
    pub record: RecordId,
    /// What the server answered.
    pub outcome: ChangeOutcome,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.form, self.record)?;
        match &self.outcome {
            ChangeOutcome::Rejected {
                code,
                message,
                errors,
            } => {
                let code = serde_json::to_value(code).unwrap_or_default();
                write!(f, "{}: {}", code.as_str().unwrap_or("rejected"), message.en)?;
                for e in errors {
                    write!(f, "\n      {}: {} ({})", e.path, e.message.en, e.message.zh)?;
                }
                Ok(())
            }
            other => write!(f, "not a clean accept: {other:?}"),
        }
    }
}

/// A demo account, for the table printed at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    /// Badge number.
    pub badge: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Names of its grids.
    pub grids: Vec<String>,
}

/// What the demo made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// The accounts (password [`PASSWORD`]).
    pub accounts: Vec<DemoAccount>,
    /// The grids: id and name.
    pub grids: Vec<(GridId, String)>,
    /// Records made, per form.
    pub records: BTreeMap<&'static str, usize>,
    /// Changes pushed (creations and later edits).
    pub changes: usize,
    /// Pushes (batches) made.
    pub batches: usize,
    /// Photos stored.
    pub photos: usize,
}

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo station exists already.
    #[error("station {0} already exists: this data directory already has data")]
    AlreadySeeded(String),
    /// The data directory has accounts: the demo's, with their published
    /// password, must not be added to a real one.
    #[error("the data directory already has {0} account(s)")]
    HasAccounts(usize),
    /// The demo cannot be planned, or a form it fills is not published.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob directory failed.
    #[error("blob directory: {0}")]
    Io(#[from] std::io::Error),
    /// A demo photo's bytes do not match its digest: a bug in the demo data.
    #[error("demo photo {0}: its bytes do not match its SHA-256")]
    PhotoDigest(String),
    /// Completing a photo's upload failed.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// Hashing a password failed.
    #[error("password hashing: {0}")]
    Password(String),
    /// The demo pushes from an account it gave no device: a bug in the demo.
    #[error("the demo pushes from account {0}, which has no device")]
    NoDevice(usize),
    /// The server did not accept some demo changes: a bug in the demo data
    /// or in the forms.
    #[error("{}", rejections_summary(.0))]
    Rejected(Vec<Rejection>),
}

fn rejections_summary(rejections: &[Rejection]) -> String {
    let mut out = format!(
        "the server did not accept {} demo change(s) of one batch — the demo data or a form \
         definition is wrong; the first ones:",
        rejections.len()
    );
    for r in rejections.iter().take(5) {
        out.push_str(&format!("\n  - {r}"));
    }
    out
}

/// Seeds the demo district into `state`'s store, reporting progress as it
/// goes. Refuses if the demo station exists already.
pub async fn seed(
    state: &AppState,
    size: &DemoSize,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<DemoReport, DemoError> {
    check(state, size).await?;
    let now = Utc::now().with_timezone(&state.policy.local_offset);
    let mut district = District::plan(size, now)?;
    create_organisation(state, &district).await?;
    let users = create_accounts(state, &district).await?;
    let mut devices = Vec::with_capacity(users.len());
    for (account, user) in district.accounts.iter().zip(&users) {
        devices.push(match account.device {
            Some(device) => Some(DemoDevice::enroll(state, user.clone(), device).await?),
            None => None,
        });
    }
    let mut seeder = Seeder {
        state,
        devices,
        batches: 0,
        changes: 0,
        photos: 0,
    };
    for stage in std::mem::take(&mut district.stages) {
        seeder.apply(stage, progress).await?;
    }
    Ok(seeder.report(&district, &users))
}

/// Whether [`seed`] would start: a sensible size, the demo's places in the
/// gazetteer, no demo station and no account yet.
pub async fn check(state: &AppState, size: &DemoSize) -> Result<(), DemoError> {
    beatbook_demo::check(size)?;
    let stations = state.store.stations().await?;
    if stations.iter().any(|s| s.id.as_str() == STATION_ID) {
        return Err(DemoError::AlreadySeeded(STATION_ID.to_owned()));
    }
    let accounts = state.store.users().await?.len();
    if accounts > 0 {
        return Err(DemoError::HasAccounts(accounts));
    }
    Ok(())
}

/// The badges of enabled demo accounts whose password is still the
/// published [`PASSWORD`] (one Argon2id check per demo badge present).
pub async fn accounts_with_published_password(state: &AppState) -> Result<Vec<String>, StoreError> {
    let demo_badges: Vec<&str> = beatbook_demo::badges().collect();
    let mut open = Vec::new();
    for account in state.store.users().await? {
        if account.disabled || !demo_badges.contains(&account.info.badge.as_str()) {
            continue;
        }
        let hash = account.password_hash;
        // A check that could not run counts as the published password: refuse rather than guess.
        let published = tokio::task::spawn_blocking(move || verify_password(PASSWORD, &hash))
            .await
            .unwrap_or(true);
        if published {
            open.push(account.info.badge);
        }
    }
    Ok(open)
}

/// The station and its three grids.
async fn create_organisation(state: &AppState, district: &District) -> Result<(), DemoError> {
    state
        .store
        .add_station(Station {
            id: district.station.clone(),
            name: STATION_NAME.to_owned(),
        })
        .await?;
    for grid in &district.grids {
        state
            .store
            .add_grid(Grid {
                id: grid.id.clone(),
                station: district.station.clone(),
                name: grid.name.clone(),
            })
            .await?;
    }
    Ok(())
}

/// The accounts, in the district's order.
async fn create_accounts(
    state: &AppState,
    district: &District,
) -> Result<Vec<UserInfo>, DemoError> {
    let mut users = Vec::new();
    for account in &district.accounts {
        let password_hash = tokio::task::spawn_blocking(|| hash_password(PASSWORD))
            .await
            .map_err(|e| DemoError::Password(e.to_string()))?
            .map_err(|e| DemoError::Password(e.to_string()))?;
        state
            .store
            .add_user(NewUser {
                badge: account.badge.to_owned(),
                name: account.name.to_owned(),
                role: account.role,
                station: district.station.clone(),
                grids: account.grids.clone(),
                password_hash,
            })
            .await?;
        let stored = state
            .store
            .user_by_badge(account.badge)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("badge {}", account.badge)))?;
        users.push(stored.info);
    }
    Ok(users)
}

/// An account's enrolled demo device.
struct DemoDevice {
    user: UserInfo,
    author: Author,
}

impl DemoDevice {
    /// Enrolls `device` for `user` with a token nobody keeps (the device
    /// exists for the records it authored, not to sync again).
    async fn enroll(state: &AppState, user: UserInfo, device: DeviceId) -> Result<Self, DemoError> {
        let name = format!("演示设备（{}）", user.name);
        state
            .store
            .enroll(device, user.id, &name, hash_token(&new_token()), Utc::now())
            .await?;
        Ok(Self {
            user,
            author: Author::new(device),
        })
    }
}

/// Applies stages and counts what it did.
struct Seeder<'a> {
    state: &'a AppState,
    /// By account; none for an account without a device.
    devices: Vec<Option<DemoDevice>>,
    batches: usize,
    changes: usize,
    photos: usize,
}

impl Seeder<'_> {
    fn device(&mut self, account: usize) -> Result<&mut DemoDevice, DemoError> {
        self.devices
            .get_mut(account)
            .and_then(Option::as_mut)
            .ok_or(DemoError::NoDevice(account))
    }

    /// Stores the stage's photos, then pushes its changes in batches,
    /// reporting progress after each; fails on the first batch with a change
    /// that is not accepted outright.
    async fn apply(
        &mut self,
        stage: Stage,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DemoError> {
        let mut tally = Progress {
            stage: stage.name,
            done: 0,
            total: stage.changes(),
        };
        for photo in &stage.photos {
            let device = self.device(photo.account)?.author.device();
            store_photo(self.state, device, photo).await?;
            self.photos += 1;
        }
        for push in stage.pushes {
            let account = push.account;
            for drafts in push.batches() {
                tally.done += drafts.len();
                self.push_batch(account, drafts).await?;
                progress(tally.clone());
            }
        }
        Ok(())
    }

    async fn push_batch(&mut self, account: usize, drafts: Vec<Draft>) -> Result<(), DemoError> {
        let state = self.state;
        let forms = state.forms();
        let device = self.device(account)?;
        let batch = device
            .author
            .batch(drafts, |form| forms.latest(form).map(|f| f.version()))?;
        let sent: Vec<(RecordId, String)> = batch
            .changes
            .iter()
            .map(|c| (c.record_id, c.form_id.as_str().to_owned()))
            .collect();
        let results = crate::sync::push(
            state.store.as_ref(),
            &state.forms,
            &state.policy,
            device.user.clone(),
            device.author.device(),
            batch.id,
            batch.changes,
        )
        .await?;
        self.batches += 1;
        let pushed = results.len();
        let rejections: Vec<Rejection> = results
            .into_iter()
            .zip(sent)
            .filter(|((_, outcome), _)| !matches!(outcome, ChangeOutcome::Accepted { .. }))
            .map(|((_, outcome), (record, form))| Rejection {
                form,
                record,
                outcome,
            })
            .collect();
        if !rejections.is_empty() {
            return Err(DemoError::Rejected(rejections));
        }
        self.changes += pushed;
        Ok(())
    }

    fn report(&self, district: &District, users: &[UserInfo]) -> DemoReport {
        let grid_name = |id: &GridId| {
            district
                .grids
                .iter()
                .find(|g| &g.id == id)
                .map_or_else(|| id.to_string(), |g| g.name.clone())
        };
        DemoReport {
            accounts: users
                .iter()
                .map(|u| DemoAccount {
                    badge: u.badge.clone(),
                    name: u.name.clone(),
                    role: u.role,
                    grids: u.grids.iter().map(grid_name).collect(),
                })
                .collect(),
            grids: district
                .grids
                .iter()
                .map(|g| (g.id.clone(), g.name.clone()))
                .collect(),
            records: district.records.clone(),
            changes: self.changes,
            batches: self.batches,
            photos: self.photos,
        }
    }
}

/// Stores a photo as a verified upload from `device` is stored: its bytes
/// written to the device's partial file, then completed through the one
/// upload path, so the device may then attach it.
async fn store_photo(state: &AppState, device: DeviceId, photo: &Photo) -> Result<(), DemoError> {
    let attachment = photo.attachment();
    let sha = attachment.sha256;
    let _device = state.blobs.lock_device(device).await?;
    state.blobs.discard(device, &sha).await?;
    let mut file = state.blobs.append_partial(device, &sha).await?;
    file.write_all(&photo.bytes).await?;
    file.sync_all().await?;
    let completed = complete_upload(
        state.store.as_ref(),
        &state.blobs,
        device,
        sha,
        attachment.size,
        &attachment.content_type,
    )
    .await?;
    match completed {
        Completed::Stored => Ok(()),
        Completed::Mismatch => Err(DemoError::PhotoDigest(sha.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::ids::StationId;
    use tempfile::TempDir;

    use super::*;
    use crate::auth::verify_password;
    use crate::config::Config;

    async fn open_temp() -> (TempDir, AppState) {
        let dir = TempDir::new().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let state = crate::open(config).await.unwrap();
        (dir, state)
    }

    #[tokio::test]
    async fn a_small_demo_is_accepted_in_full() {
        let (_dir, state) = open_temp().await;
        let mut stages = Vec::new();
        let report = seed(&state, &DemoSize::new(200, 20), &mut |p| stages.push(p))
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let counts = state.store.record_counts().await.unwrap();
        let expected: BTreeMap<String, u64> = report
            .records
            .iter()
            .map(|(form, n)| ((*form).to_owned(), *n as u64))
            .collect();
        assert_eq!(counts, expected);
        assert_eq!(counts["address"], 200);
        assert_eq!(counts["house"], 20);
        assert!((20..=80).contains(&counts["person"]), "{counts:?}");
        assert_eq!(counts["hazard"], 40);
        assert_eq!(counts["visit"], 12);
        assert!(stages
            .iter()
            .any(|p| p.stage == "addresses" && p.done == 200));

        let batches = state.store.batches(1_000).await.unwrap();
        assert_eq!(batches.len(), report.batches);
        assert!(batches.iter().all(|b| b.rejected == 0 && b.conflicts == 0));
        assert_eq!(
            batches.iter().map(|b| b.stored).sum::<u64>(),
            report.changes as u64
        );
        assert!(state.store.missing_blobs(vec![]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn demo_accounts_sign_in_with_the_demo_password() {
        let (_dir, state) = open_temp().await;
        let report = seed(&state, &DemoSize::new(10, 0), &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.accounts.len(), 5);
        for account in &report.accounts {
            let stored = state
                .store
                .user_by_badge(&account.badge)
                .await
                .unwrap()
                .unwrap();
            assert!(verify_password(PASSWORD, &stored.password_hash));
        }
        let officer = &report.accounts[0];
        assert_eq!(officer.grids, ["解放中路社区", "人民西路社区"]);
    }

    #[tokio::test]
    async fn seeding_twice_is_refused() {
        let (_dir, state) = open_temp().await;
        seed(&state, &DemoSize::new(10, 0), &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let again = seed(&state, &DemoSize::new(10, 0), &mut |_| {}).await;
        assert!(
            matches!(again, Err(DemoError::AlreadySeeded(_))),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn a_directory_with_accounts_is_refused() {
        let (_dir, state) = open_temp().await;
        state
            .store
            .add_station(Station {
                id: StationId::new("S1"),
                name: "一号派出所".into(),
            })
            .await
            .unwrap();
        state
            .store
            .add_user(NewUser {
                badge: "000001".into(),
                name: "管理员".into(),
                role: Role::Admin,
                station: StationId::new("S1"),
                grids: vec![],
                password_hash: hash_password("a real password").unwrap(),
            })
            .await
            .unwrap();
        let refused = seed(&state, &DemoSize::new(10, 0), &mut |_| {}).await;
        assert!(
            matches!(refused, Err(DemoError::HasAccounts(1))),
            "{refused:?}"
        );
        assert_eq!(state.store.users().await.unwrap().len(), 1);
        assert_eq!(state.store.stations().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn demo_accounts_count_until_their_password_changes_or_they_are_disabled() {
        let (_dir, state) = open_temp().await;
        seed(&state, &DemoSize::new(10, 0), &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let all: Vec<String> = beatbook_demo::badges().map(str::to_owned).collect();
        let mut open = accounts_with_published_password(&state).await.unwrap();
        open.sort();
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(open, expected);

        state
            .store
            .set_password("061201", hash_password("a new secret").unwrap())
            .await
            .unwrap();
        state.store.set_disabled("060001", true).await.unwrap();
        let open = accounts_with_published_password(&state).await.unwrap();
        assert_eq!(open.len(), 3, "{open:?}");
        assert!(!open.iter().any(|b| b == "061201" || b == "060001"));
    }
}
