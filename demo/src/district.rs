//! The demo district as a whole: its station, grids and accounts, and what
//! each account pushes, stage by stage.

use std::collections::BTreeMap;

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::ids::{DeviceId, GridId, RecordId, Sha256, StationId};
use beatbook_schema::protocol::Role;
use beatbook_schema::record::AttachmentRef;
use chrono::{DateTime, FixedOffset};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::author::{Draft, BATCH};
use crate::gazetteer::{self, DemoPlaces};
use crate::hazards::{self, Hazard};
use crate::households::{self, Household};
use crate::people::People;
use crate::photos::{self, Scene};
use crate::places::{self, Site};
use crate::visits::{self, Visit};
use crate::{DemoSize, PlanError, STATION_ID};

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

/// The badges of the demo accounts.
pub fn badges() -> impl Iterator<Item = &'static str> {
    ACCOUNTS.iter().map(|(badge, ..)| *badge)
}

/// A demo grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// Its id, `320614-01-01` to `-03`.
    pub id: GridId,
    /// The community it is named after.
    pub name: String,
}

/// A demo account (password [`crate::PASSWORD`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Badge number.
    pub badge: &'static str,
    /// Name.
    pub name: &'static str,
    /// Role.
    pub role: Role,
    /// Its grids.
    pub grids: Vec<GridId>,
    /// The device it pushes from; none for the admin, who pushes nothing.
    pub device: Option<DeviceId>,
}

/// A photo a device uploads before pushing the records that attach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// The uploading account (index into [`District::accounts`]).
    pub account: usize,
    /// The JPEG.
    pub bytes: Vec<u8>,
}

impl Photo {
    /// The reference a record carries to it.
    pub fn attachment(&self) -> AttachmentRef {
        attachment(&self.bytes)
    }
}

fn attachment(bytes: &[u8]) -> AttachmentRef {
    AttachmentRef {
        sha256: Sha256::digest(bytes),
        content_type: "image/jpeg".to_owned(),
        size: bytes.len() as u64,
    }
}

/// What one account pushes in a stage.
#[derive(Debug, Clone)]
pub struct Push {
    /// The pushing account (index into [`District::accounts`]).
    pub account: usize,
    /// Its changes, in order.
    pub drafts: Vec<Draft>,
}

impl Push {
    /// The drafts in batches of at most [`BATCH`].
    pub fn batches(self) -> impl Iterator<Item = Vec<Draft>> {
        let mut drafts = self.drafts.into_iter().peekable();
        std::iter::from_fn(move || {
            drafts.peek()?;
            Some(drafts.by_ref().take(BATCH).collect())
        })
    }
}

/// One stage of seeding: photos uploaded first, then pushes, each based on
/// what earlier stages stored.
#[derive(Debug, Clone)]
pub struct Stage {
    /// What is pushed (`addresses`, `persons`, ...).
    pub name: &'static str,
    /// Photos the pushes attach.
    pub photos: Vec<Photo>,
    /// The pushes, by account.
    pub pushes: Vec<Push>,
}

impl Stage {
    /// Changes of the stage.
    pub fn changes(&self) -> usize {
        self.pushes.iter().map(|p| p.drafts.len()).sum()
    }
}

/// The demo district, planned before anything is written.
#[derive(Debug, Clone)]
pub struct District {
    /// The station's id ([`STATION_ID`], named [`crate::STATION_NAME`]).
    pub station: StationId,
    /// The three grids.
    pub grids: Vec<Grid>,
    /// The five accounts.
    pub accounts: Vec<Account>,
    /// What the accounts push, in order.
    pub stages: Vec<Stage>,
    /// Records made, per form.
    pub records: BTreeMap<&'static str, usize>,
}

/// Everything the generator makes, before it becomes drafts.
struct Plan {
    sites: Vec<Site>,
    households: Vec<Household>,
    hazards: Vec<Hazard>,
    visits: Vec<Visit>,
}

impl Plan {
    fn make(size: &DemoSize, now: DateTime<FixedOffset>) -> Self {
        let mut rng = StdRng::seed_from_u64(SEED);
        let mut people = People::new(now.date_naive());
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

impl District {
    /// Plans the district of `size` as of `now` (local time: dates are
    /// relative to its day).
    pub fn plan(size: &DemoSize, now: DateTime<FixedOffset>) -> Result<Self, PlanError> {
        size.check()?;
        let places = gazetteer::demo_places()?;
        let station = StationId::new(STATION_ID);
        let grids: Vec<Grid> = places
            .communities
            .iter()
            .enumerate()
            .map(|(i, community)| Grid {
                id: GridId::new(format!("{STATION_ID}-{:02}", i + 1)),
                name: community.name.clone(),
            })
            .collect();
        let accounts = ACCOUNTS
            .iter()
            .map(|&(badge, name, role, grid_indexes)| Account {
                badge,
                name,
                role,
                grids: grid_indexes.iter().map(|&g| grids[g].id.clone()).collect(),
                device: (role != Role::Admin).then(DeviceId::new_v7),
            })
            .collect();
        let plan = Plan::make(size, now);
        let drafter = Drafter {
            places: &places,
            grids: &grids,
        };
        let mut stages = vec![drafter.addresses(&plan)];
        stages.extend(drafter.households(&plan));
        stages.extend(drafter.hazards(&plan));
        stages.push(drafter.visits(&plan));
        let records = BTreeMap::from([
            (form_ids::ADDRESS, plan.sites.len()),
            (form_ids::HOUSE, plan.households.len()),
            (form_ids::PERSON, plan.persons()),
            (form_ids::HAZARD, plan.hazards.len()),
            (form_ids::VISIT, plan.visits.len()),
        ]);
        Ok(Self {
            station,
            grids,
            accounts,
            stages,
            records,
        })
    }
}

/// Turns the plan into drafts.
struct Drafter<'a> {
    places: &'a DemoPlaces,
    grids: &'a [Grid],
}

impl Drafter<'_> {
    fn draft(&self, record: RecordId, form: &'static str, grid: usize) -> Draft {
        Draft {
            record,
            form,
            grid: self.grids[grid].id.clone(),
            base_revision: 0,
            fields: Default::default(),
            attachments: Vec::new(),
        }
    }

    fn addresses(&self, plan: &Plan) -> Stage {
        let drafts = plan
            .sites
            .iter()
            .map(|site| {
                let fields = site.values(self.places, self.grids[site.grid].id.as_str());
                let draft = Draft {
                    fields,
                    ..self.draft(site.id, form_ids::ADDRESS, site.grid)
                };
                (GRID_OFFICER[site.grid], draft)
            })
            .collect();
        stage("addresses", Vec::new(), drafts)
    }

    fn households(&self, plan: &Plan) -> [Stage; 2] {
        let mut houses = Vec::new();
        let mut persons = Vec::new();
        for house in &plan.households {
            let site = &plan.sites[house.site];
            let officer = GRID_OFFICER[site.grid];
            let draft = Draft {
                fields: house.house_values(site, self.places),
                ..self.draft(house.id, form_ids::HOUSE, site.grid)
            };
            houses.push((officer, draft));
            for resident in &house.residents {
                let draft = Draft {
                    fields: resident.person_values(house.id),
                    ..self.draft(resident.id, form_ids::PERSON, site.grid)
                };
                persons.push((officer, draft));
            }
        }
        [
            stage("houses", Vec::new(), houses),
            stage("persons", Vec::new(), persons),
        ]
    }

    /// Hazards as reported, then rectified by their reporters, then checked
    /// by the supervisor: three stages, each based on the last revision.
    fn hazards(&self, plan: &Plan) -> [Stage; 3] {
        let mut report_photos = Vec::new();
        let mut after_photos = Vec::new();
        let mut reports = Vec::new();
        let mut rectified = Vec::new();
        let mut verified = Vec::new();
        for (i, hazard) in plan.hazards.iter().enumerate() {
            let reporter = GRID_REPORTER[hazard.grid];
            let mut attachments = Vec::new();
            for k in 0..hazard.photos {
                let bytes = photos::photo_bytes(Scene::Hazard, &format!("H{i:03}-{k}"));
                attachments.push(attachment(&bytes));
                report_photos.push(Photo {
                    account: reporter,
                    bytes,
                });
            }
            let before: Vec<_> = attachments.iter().map(|a| a.sha256).collect();
            reports.push((
                reporter,
                Draft {
                    fields: hazard.report_values(&before),
                    attachments: attachments.clone(),
                    ..self.draft(hazard.id, form_ids::HAZARD, hazard.grid)
                },
            ));
            let after = photos::photo_bytes(Scene::Rectified, &format!("H{i:03}-after"));
            let Some(fields) = hazard.rectified_fields(&[Sha256::digest(&after)]) else {
                continue;
            };
            attachments.push(attachment(&after));
            after_photos.push(Photo {
                account: reporter,
                bytes: after,
            });
            rectified.push((
                reporter,
                Draft {
                    fields,
                    attachments: attachments.clone(),
                    base_revision: 1,
                    ..self.draft(hazard.id, form_ids::HAZARD, hazard.grid)
                },
            ));
            if let Some(fields) = hazard.verified_fields() {
                verified.push((
                    SUPERVISOR,
                    Draft {
                        fields,
                        attachments,
                        base_revision: 2,
                        ..self.draft(hazard.id, form_ids::HAZARD, hazard.grid)
                    },
                ));
            }
        }
        [
            stage("hazards", report_photos, reports),
            stage("hazard rectifications", after_photos, rectified),
            stage("hazard checks", Vec::new(), verified),
        ]
    }

    fn visits(&self, plan: &Plan) -> Stage {
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
                    ACCOUNTS[officer].1,
                    self.grids[site.grid].id.as_str(),
                );
                let draft = Draft {
                    fields,
                    ..self.draft(visit.id, form_ids::VISIT, site.grid)
                };
                (officer, draft)
            })
            .collect();
        stage("visits", Vec::new(), drafts)
    }
}

/// A stage of `drafts`, split by the account that pushes them (in account order).
fn stage(name: &'static str, photos: Vec<Photo>, drafts: Vec<(usize, Draft)>) -> Stage {
    let mut split: BTreeMap<usize, Vec<Draft>> = BTreeMap::new();
    for (account, draft) in drafts {
        split.entry(account).or_default().push(draft);
    }
    Stage {
        name,
        photos,
        pushes: split
            .into_iter()
            .map(|(account, drafts)| Push { account, drafts })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn now() -> DateTime<FixedOffset> {
        Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
    }

    #[test]
    fn the_plan_is_the_same_every_time() {
        let now = now();
        let a = Plan::make(&DemoSize::new(300, 40), now);
        let b = Plan::make(&DemoSize::new(300, 40), now);
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

    #[test]
    fn the_district_counts_what_its_stages_push() {
        let district = District::plan(&DemoSize::new(200, 20), now()).unwrap();
        assert_eq!(district.grids.len(), 3);
        assert_eq!(district.grids[0].name, "解放中路社区");
        assert_eq!(district.accounts[0].grids.len(), 2);
        let devices = district.accounts.iter().filter(|a| a.device.is_some());
        assert_eq!(devices.count(), 4, "every account but the admin pushes");

        let stage = |name: &str| {
            district
                .stages
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no stage {name}"))
        };
        assert_eq!(stage("addresses").changes(), 200);
        assert_eq!(stage("houses").changes(), 20);
        assert_eq!(
            stage("persons").changes(),
            district.records[form_ids::PERSON]
        );
        assert_eq!(stage("hazards").changes(), 40);
        assert_eq!(stage("visits").changes(), 12);
        // Every photo a hazard change attaches is uploaded in that stage or before.
        let mut uploaded = std::collections::HashSet::new();
        for stage in &district.stages {
            uploaded.extend(stage.photos.iter().map(|p| p.attachment().sha256));
            for push in &stage.pushes {
                for draft in &push.drafts {
                    assert!(draft
                        .attachments
                        .iter()
                        .all(|a| uploaded.contains(&a.sha256)));
                }
            }
        }
        assert!(!uploaded.is_empty());
    }

    #[test]
    fn pushes_split_into_batches_of_at_most_batch() {
        let district = District::plan(&DemoSize::new(1_200, 0), now()).unwrap();
        let addresses = district.stages[0].clone();
        let sizes: Vec<usize> = addresses
            .pushes
            .into_iter()
            .flat_map(|p| p.batches().map(|b| b.len()).collect::<Vec<_>>())
            .collect();
        assert!(sizes.iter().all(|&n| (1..=BATCH).contains(&n)), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 1_200);
    }
}
