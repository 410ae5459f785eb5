//! The demo district: a realistic, deterministic slice of Haimen District
//! (海门区, 320614) to try Beatbook with — one station, three grids named
//! after three real communities of the town centre, five accounts, and
//! thousands of records pushed through the real sync path, so each one is
//! validated exactly as a device's would be.
//!
//! Content comes from a generator seeded with 42, so every run makes the
//! same people, addresses and hazards; record ids are fresh UUIDv7s and
//! dates are relative to the day of seeding.

mod gazetteer;
mod hazards;
mod households;
mod people;
mod photos;
mod places;
mod push;
mod visits;

use std::collections::BTreeMap;
use std::fmt;

use beatbook_schema::ids::{GridId, RecordId, Sha256, StationId};
use beatbook_schema::protocol::{ChangeOutcome, Role, UserInfo};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::auth::{hash_password, verify_password};
use crate::state::AppState;
use beatbook_store::{Grid, NewUser, Station, StoreError};
use gazetteer::DemoPlaces;
use hazards::Hazard;
use households::Household;
use people::People;
use photos::Scene;
use places::Site;
use push::{DemoDevice, Draft, Sender};
use visits::Visit;

/// The demo station's code.
pub const STATION_ID: &str = "320614-01";
/// The demo station's name.
pub const STATION_NAME: &str = "海门区公安局海门派出所";
/// The password of every demo account.
pub const PASSWORD: &str = "beatbook-demo";

/// The seed of the demo's random generator.
const SEED: u64 = 42;

/// The demo accounts: badge, name, role and grids (indexes into the three grids).
const ACCOUNTS: [(&str, &str, Role, &[usize]); 5] = [
    ("061201", "施建军", Role::Officer, &[0, 1]),
    ("061202", "黄丽华", Role::Officer, &[2]),
    ("061301", "陆晓东", Role::Auxiliary, &[0]),
    ("061001", "沈国平", Role::Supervisor, &[]),
    ("060001", "倪海燕", Role::Admin, &[]),
];

/// Which officer (index into [`ACCOUNTS`]) registers the addresses and
/// households of each grid.
const GRID_OFFICER: [usize; 3] = [0, 0, 1];
/// Who reports the hazards of each grid: the auxiliary in grid 1, the
/// officers elsewhere.
const GRID_REPORTER: [usize; 3] = [2, 0, 1];
/// The supervisor's index in [`ACCOUNTS`].
const SUPERVISOR: usize = 3;

/// Bounds on the demo's size.
const MIN_ADDRESSES: usize = 10;
const MAX_ADDRESSES: usize = 100_000;

/// How much to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSize {
    /// Standard addresses.
    pub addresses: usize,
    /// Households (`house` records, each on its own address, with 2–4 people
    /// unless vacant or business premises).
    pub households: usize,
    /// Safety hazards.
    pub hazards: usize,
    /// Household visits.
    pub visits: usize,
}

impl DemoSize {
    /// `addresses` addresses and `households` households, with 40 hazards
    /// and up to 12 visits.
    pub fn new(addresses: usize, households: usize) -> Self {
        Self {
            addresses,
            households,
            hazards: 40,
            visits: households.min(12),
        }
    }

    /// Refuses sizes the demo cannot make.
    pub fn check(&self) -> Result<(), DemoError> {
        if !(MIN_ADDRESSES..=MAX_ADDRESSES).contains(&self.addresses) {
            return Err(DemoError::Size(format!(
                "--addresses must be between {MIN_ADDRESSES} and {MAX_ADDRESSES}, not {}",
                self.addresses
            )));
        }
        if self.households > self.addresses {
            return Err(DemoError::Size(format!(
                "--households ({}) cannot exceed --addresses ({}): each household lives at its own address",
                self.households, self.addresses
            )));
        }
        Ok(())
    }
}

impl Default for DemoSize {
    fn default() -> Self {
        Self::new(3_000, 300)
    }
}

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
    /// The requested size makes no sense.
    #[error("{0}")]
    Size(String),
    /// The embedded gazetteer lacks the demo's places.
    #[error("gazetteer: {0}")]
    Gazetteer(String),
    /// A form the demo fills is not published.
    #[error("the server does not publish the form {0}")]
    NoForm(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob directory failed.
    #[error("blob directory: {0}")]
    Io(#[from] std::io::Error),
    /// Hashing a password failed.
    #[error("password hashing: {0}")]
    Password(String),
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

/// Everything the demo will push, planned before anything is written.
struct Plan {
    sites: Vec<Site>,
    households: Vec<Household>,
    hazards: Vec<Hazard>,
    visits: Vec<Visit>,
}

impl Plan {
    fn make(size: &DemoSize, today: NaiveDate, now: DateTime<FixedOffset>) -> Self {
        let mut rng = StdRng::seed_from_u64(SEED);
        let mut people = People::new(today);
        let sites = places::plan_sites(&mut rng, size.addresses);
        let households =
            households::plan_households(&mut rng, &mut people, &sites, size.households);
        let hazards =
            hazards::plan_hazards(&mut rng, &mut people, &sites, &households, size.hazards);
        let visits = visits::plan_visits(&mut rng, &households, size.visits, now);
        Self {
            sites,
            households,
            hazards,
            visits,
        }
    }

    fn persons(&self) -> usize {
        self.households.iter().map(|h| h.residents.len()).sum()
    }
}

/// What seeding works with once the organisation exists.
struct Seeder<'a> {
    state: &'a AppState,
    places: DemoPlaces,
    grids: [GridId; 3],
    devices: Vec<DemoDevice>,
    sender: Sender<'a>,
    photos: usize,
}

/// Seeds the demo district into `state`'s store, reporting progress as it
/// goes. Refuses if the demo station exists already.
pub async fn seed(
    state: &AppState,
    size: &DemoSize,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<DemoReport, DemoError> {
    check(state, size).await?;
    let places = gazetteer::demo_places()?;
    let grids = create_organisation(state, &places).await?;
    let users = create_accounts(state, &grids).await?;
    let mut devices = Vec::new();
    for user in users.iter().filter(|u| u.role != Role::Admin) {
        devices.push(DemoDevice::enroll(state, user.clone()).await?);
    }
    let now = Utc::now().with_timezone(&state.policy.local_offset);
    let plan = Plan::make(size, now.date_naive(), now);
    let mut seeder = Seeder {
        state,
        sender: Sender::new(state),
        places,
        grids,
        devices,
        photos: 0,
    };
    seeder.push_addresses(&plan, progress).await?;
    seeder.push_households(&plan, progress).await?;
    seeder.push_hazards(&plan, progress).await?;
    seeder.push_visits(&plan, progress).await?;
    Ok(seeder.report(&plan, &users))
}

/// Whether [`seed`] would start: a sensible size, the demo's places in the
/// gazetteer, no demo station and no account yet.
pub async fn check(state: &AppState, size: &DemoSize) -> Result<(), DemoError> {
    size.check()?;
    gazetteer::demo_places()?;
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
    let demo_badges: Vec<&str> = ACCOUNTS.iter().map(|(badge, ..)| *badge).collect();
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

/// The station and its three grids, `320614-01-01` to `-03`.
async fn create_organisation(
    state: &AppState,
    places: &DemoPlaces,
) -> Result<[GridId; 3], DemoError> {
    let station = StationId::new(STATION_ID);
    state
        .store
        .add_station(Station {
            id: station.clone(),
            name: STATION_NAME.to_owned(),
        })
        .await?;
    let grids = [1, 2, 3].map(|n| GridId::new(format!("{STATION_ID}-{n:02}")));
    for (id, community) in grids.iter().zip(&places.communities) {
        state
            .store
            .add_grid(Grid {
                id: id.clone(),
                station: station.clone(),
                name: community.name.clone(),
            })
            .await?;
    }
    Ok(grids)
}

/// The five accounts, in [`ACCOUNTS`] order.
async fn create_accounts(
    state: &AppState,
    grids: &[GridId; 3],
) -> Result<Vec<UserInfo>, DemoError> {
    let mut users = Vec::new();
    for (badge, name, role, grid_indexes) in ACCOUNTS {
        let password_hash = tokio::task::spawn_blocking(|| hash_password(PASSWORD))
            .await
            .map_err(|e| DemoError::Password(e.to_string()))?
            .map_err(|e| DemoError::Password(e.to_string()))?;
        state
            .store
            .add_user(NewUser {
                badge: badge.to_owned(),
                name: name.to_owned(),
                role,
                station: StationId::new(STATION_ID),
                grids: grid_indexes.iter().map(|&g| grids[g].clone()).collect(),
                password_hash,
            })
            .await?;
        let account = state
            .store
            .user_by_badge(badge)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("badge {badge}")))?;
        users.push(account.info);
    }
    Ok(users)
}

impl Seeder<'_> {
    fn grid(&self, index: usize) -> GridId {
        self.grids[index].clone()
    }

    /// Pushes one device's drafts per entry of `by_device` (index into the
    /// devices), as one progress stage.
    async fn push_stage(
        &mut self,
        stage: &'static str,
        by_device: Vec<(usize, Vec<Draft>)>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DemoError> {
        let mut tally = Progress {
            stage,
            done: 0,
            total: by_device.iter().map(|(_, d)| d.len()).sum(),
        };
        for (device, drafts) in by_device {
            let device = &mut self.devices[device];
            self.sender
                .push(device, drafts, &mut tally, progress)
                .await?;
        }
        Ok(())
    }

    /// Splits drafts by the device that pushes them.
    fn by_device(drafts: Vec<(usize, Draft)>) -> Vec<(usize, Vec<Draft>)> {
        let mut split: BTreeMap<usize, Vec<Draft>> = BTreeMap::new();
        for (device, draft) in drafts {
            split.entry(device).or_default().push(draft);
        }
        split.into_iter().collect()
    }

    fn draft(&self, record: RecordId, form: &'static str, grid: usize) -> Draft {
        Draft {
            record,
            form,
            grid: self.grid(grid),
            base_revision: 0,
            fields: Default::default(),
            attachments: Vec::new(),
        }
    }

    async fn push_addresses(
        &mut self,
        plan: &Plan,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DemoError> {
        let drafts = plan
            .sites
            .iter()
            .map(|site| {
                let fields = site.values(&self.places, self.grids[site.grid].as_str());
                let draft = Draft {
                    fields,
                    ..self.draft(site.id, "address", site.grid)
                };
                (GRID_OFFICER[site.grid], draft)
            })
            .collect();
        self.push_stage("addresses", Self::by_device(drafts), progress)
            .await
    }

    async fn push_households(
        &mut self,
        plan: &Plan,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DemoError> {
        let mut houses = Vec::new();
        let mut persons = Vec::new();
        for house in &plan.households {
            let site = &plan.sites[house.site];
            let officer = GRID_OFFICER[site.grid];
            let draft = Draft {
                fields: house.house_values(site, &self.places),
                ..self.draft(house.id, "house", site.grid)
            };
            houses.push((officer, draft));
            for resident in &house.residents {
                let draft = Draft {
                    fields: resident.person_values(house.id),
                    ..self.draft(resident.id, "person", site.grid)
                };
                persons.push((officer, draft));
            }
        }
        self.push_stage("houses", Self::by_device(houses), progress)
            .await?;
        self.push_stage("persons", Self::by_device(persons), progress)
            .await
    }

    /// Hazards as reported, then rectified by their reporters, then checked
    /// by the supervisor: three pushes, each based on the last revision.
    async fn push_hazards(
        &mut self,
        plan: &Plan,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DemoError> {
        let mut reports = Vec::new();
        let mut rectified = Vec::new();
        let mut verified = Vec::new();
        for (i, hazard) in plan.hazards.iter().enumerate() {
            let reporter = GRID_REPORTER[hazard.grid];
            let device = self.devices[reporter].device;
            let mut attachments = Vec::new();
            for k in 0..hazard.photos {
                let bytes = photos::photo_bytes(Scene::Hazard, &format!("H{i:03}-{k}"));
                attachments.push(photos::store_photo(self.state, device, bytes).await?);
            }
            self.photos += attachments.len();
            let before: Vec<_> = attachments.iter().map(|a| a.sha256).collect();
            reports.push((
                reporter,
                Draft {
                    fields: hazard.report_values(&before),
                    attachments: attachments.clone(),
                    ..self.draft(hazard.id, "hazard", hazard.grid)
                },
            ));
            let after = photos::photo_bytes(Scene::Rectified, &format!("H{i:03}-after"));
            let Some(fields) = hazard.rectified_fields(&[Sha256::digest(&after)]) else {
                continue;
            };
            attachments.push(photos::store_photo(self.state, device, after).await?);
            self.photos += 1;
            rectified.push((
                reporter,
                Draft {
                    fields,
                    attachments: attachments.clone(),
                    base_revision: 1,
                    ..self.draft(hazard.id, "hazard", hazard.grid)
                },
            ));
            if let Some(fields) = hazard.verified_fields() {
                verified.push((
                    SUPERVISOR,
                    Draft {
                        fields,
                        attachments,
                        base_revision: 2,
                        ..self.draft(hazard.id, "hazard", hazard.grid)
                    },
                ));
            }
        }
        self.push_stage("hazards", Self::by_device(reports), progress)
            .await?;
        self.push_stage(
            "hazard rectifications",
            Self::by_device(rectified),
            progress,
        )
        .await?;
        self.push_stage("hazard checks", Self::by_device(verified), progress)
            .await
    }

    async fn push_visits(
        &mut self,
        plan: &Plan,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DemoError> {
        let drafts = plan
            .visits
            .iter()
            .map(|visit| {
                let house = &plan.households[visit.household];
                let site = &plan.sites[house.site];
                let officer = GRID_OFFICER[site.grid];
                let fields = visit.values(
                    house,
                    site.id,
                    &self.devices[officer].user.name,
                    self.grids[site.grid].as_str(),
                );
                let draft = Draft {
                    fields,
                    ..self.draft(visit.id, "visit", site.grid)
                };
                (officer, draft)
            })
            .collect();
        self.push_stage("visits", Self::by_device(drafts), progress)
            .await
    }

    fn report(&self, plan: &Plan, users: &[UserInfo]) -> DemoReport {
        let grid_name = |id: &GridId| {
            self.grids.iter().position(|g| g == id).map_or_else(
                || id.to_string(),
                |i| self.places.communities[i].name.clone(),
            )
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
            grids: self
                .grids
                .iter()
                .map(|g| (g.clone(), grid_name(g)))
                .collect(),
            records: BTreeMap::from([
                ("address", plan.sites.len()),
                ("house", plan.households.len()),
                ("person", plan.persons()),
                ("hazard", plan.hazards.len()),
                ("visit", plan.visits.len()),
            ]),
            changes: self.sender.changes,
            batches: self.sender.batches,
            photos: self.photos,
        }
    }
}

#[cfg(test)]
mod tests {
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
        let all: Vec<String> = ACCOUNTS.iter().map(|a| a.0.to_owned()).collect();
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

    #[test]
    fn nonsense_sizes_are_refused() {
        assert!(DemoSize::new(5, 0).check().is_err());
        assert!(DemoSize::new(100, 101).check().is_err());
        assert!(DemoSize::default().check().is_ok());
    }

    #[test]
    fn the_plan_is_the_same_every_time() {
        let now = Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
        let today = now.date_naive();
        let a = Plan::make(&DemoSize::new(300, 40), today, now);
        let b = Plan::make(&DemoSize::new(300, 40), today, now);
        let people = |p: &Plan| -> Vec<(String, String)> {
            p.households
                .iter()
                .flat_map(|h| &h.residents)
                .map(|r| (r.citizen.name.clone(), r.citizen.id_number.clone()))
                .collect()
        };
        assert_eq!(people(&a), people(&b));
        let labels = |p: &Plan| -> Vec<String> { p.sites.iter().map(Site::label).collect() };
        assert_eq!(labels(&a), labels(&b));
        let hazards =
            |p: &Plan| -> Vec<String> { p.hazards.iter().map(|h| h.description.clone()).collect() };
        assert_eq!(hazards(&a), hazards(&b));
    }
}
