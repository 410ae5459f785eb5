//! [`Core`]: the service the UI, the command line and the tests hand around.
//! It owns the device (store, platform; shared with its form sessions), the
//! compiled forms, the pick lists ([`RecordIndex`]) and the sync engine;
//! cloning it is cheap.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use beatbook_schema::audience;
use beatbook_schema::catalogue::form_ids;
use beatbook_schema::enrollment::EnrollmentQr;
use beatbook_schema::form::{Form, FormDef, Values};
use beatbook_schema::ids::{GridId, RecordId, Sha256};
use beatbook_schema::protocol::UserInfo;
use beatbook_schema::record::AttachmentRef;
use beatbook_schema::text::Lang;
use serde_json::Value as Json;

use crate::device::Device;
use crate::error::CoreError;
use crate::id_numbers;
use crate::index::RecordIndex;
use crate::keys::KeyProvider;
use crate::lockout::{self, PinPolicy};
use crate::photos;
use crate::platform::Platform;
use crate::session::FormSession;
use crate::store::{LocalRecord, LocalState, LocalStore, LostValue, RecordFilter};
use crate::sync::{self, Enrollment, Progress, Steps, SyncEngine, SyncReport};
use crate::tasks::{self, Task, TaskKind, TaskOpens};
use crate::visit::{self, VisitOutcome};

struct Inner {
    device: Device,
    forms: RwLock<HashMap<(String, u32), Arc<Form>>>,
    /// Locked after the store, never before it.
    index: Mutex<RecordIndex>,
    engine: SyncEngine,
}

/// The headless field app.
#[derive(Clone)]
pub struct Core(Arc<Inner>);

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Core")
    }
}

/// Counts for the home screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Records per local state.
    pub states: Vec<(LocalState, u64)>,
    /// Changes waiting to be sent.
    pub outbox: u64,
    /// Last successful sync.
    pub last_sync: Option<chrono::DateTime<chrono::Utc>>,
}

/// The label an address shows in pick lists: community, road and door, building/unit/room.
pub fn address_label(values: &Values) -> String {
    crate::index::address_label(|k| values.get(k).and_then(Json::as_str).unwrap_or(""))
}

/// The label of a choice of a single-choice field, in Chinese (the data's
/// language), if `value` is one.
fn choice_label(form: &Form, field: &str, value: &str) -> Option<String> {
    match &form.field(field)?.def.kind {
        beatbook_schema::form::FieldKind::SingleChoice { list } => form
            .choices(list)
            .iter()
            .find(|c| c.value == value)
            .map(|c| c.label.zh.clone()),
        _ => None,
    }
}

impl Core {
    /// Opens the device in `dir` with the officer's PIN, counting wrong PINs
    /// by the default [`PinPolicy`].
    pub fn open(
        dir: &Path,
        pin: &str,
        keys: &dyn KeyProvider,
        platform: Arc<dyn Platform>,
    ) -> Result<Self, CoreError> {
        Self::open_with(dir, pin, keys, platform, &PinPolicy::default())
    }

    /// Opens the device in `dir` with the officer's PIN; wrong PINs are
    /// answered by `policy`, on the platform's clock.
    pub fn open_with(
        dir: &Path,
        pin: &str,
        keys: &dyn KeyProvider,
        platform: Arc<dyn Platform>,
        policy: &PinPolicy,
    ) -> Result<Self, CoreError> {
        let store = lockout::unlock(dir, policy, platform.now(), || {
            LocalStore::open(dir, pin, keys)
        })?;
        let core = Core(Arc::new(Inner {
            device: Device::new(store, platform),
            forms: RwLock::new(HashMap::new()),
            index: Mutex::new(RecordIndex::default()),
            engine: SyncEngine::default(),
        }));
        core.reload()?;
        Ok(core)
    }

    /// Replaces the sync engine's settings (tests, benchmarks).
    pub fn with_engine(self, engine: SyncEngine) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.engine = engine;
                Core(Arc::new(inner))
            }
            Err(shared) => Core(shared),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, LocalStore> {
        self.0.device.store()
    }

    /// The platform services (clock, position) the core was opened with.
    pub fn platform(&self) -> &Arc<dyn Platform> {
        self.0.device.platform()
    }

    /// Recompiles the forms and brings the pick lists up to date: built
    /// anew when the forms changed (their choice labels are in the labels),
    /// otherwise only the records written since. Forms shipped with the app
    /// are there from the first start, offline.
    fn reload(&self) -> Result<(), CoreError> {
        let defs = {
            let mut defs: Vec<FormDef> = self.store().forms()?;
            if defs.is_empty() {
                defs = beatbook_schema::catalogue::standard_forms()
                    .map(|forms| forms.iter().map(|f| f.def().clone()).collect())
                    .unwrap_or_default();
            }
            defs
        };
        let compiled: HashMap<_, _> = defs
            .into_iter()
            .filter_map(|d| {
                let key = (d.form_id.as_str().to_owned(), d.version);
                match Form::compile(d) {
                    Ok(f) => Some((key, Arc::new(f))),
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping a form that does not compile");
                        None
                    }
                }
            })
            .collect();
        let forms_changed = {
            let mut forms = self.0.forms.write().unwrap_or_else(|p| p.into_inner());
            let changed =
                forms.len() != compiled.len() || compiled.keys().any(|k| !forms.contains_key(k));
            *forms = compiled;
            changed
        };
        let mut store = self.store();
        let mut index = self.0.index.lock().unwrap_or_else(|p| p.into_inner());
        let choice = |form: &str, field: &str, value: &str| {
            choice_label(&*self.form(form).ok()?, field, value)
        };
        if forms_changed {
            *index = RecordIndex::build(&mut store, &choice)?;
        } else {
            index.catch_up(&mut store, &choice)?;
        }
        Ok(())
    }

    /// Runs `f` on the pick lists once they hold every record as stored now.
    fn with_index<T>(&self, f: impl FnOnce(&RecordIndex) -> T) -> Result<T, CoreError> {
        let mut store = self.store();
        let mut index = self.0.index.lock().unwrap_or_else(|p| p.into_inner());
        let choice = |form: &str, field: &str, value: &str| {
            choice_label(&*self.form(form).ok()?, field, value)
        };
        index.catch_up(&mut store, &choice)?;
        drop(store);
        Ok(f(&index))
    }

    /// The newest version of a form.
    pub fn form(&self, form_id: &str) -> Result<Arc<Form>, CoreError> {
        self.0
            .forms
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|((id, _), _)| id == form_id)
            .max_by_key(|((_, v), _)| *v)
            .map(|(_, f)| f.clone())
            .ok_or_else(|| CoreError::UnknownForm(form_id.to_owned()))
    }

    /// The forms this user may start a new record of, newest version each,
    /// in catalogue order and then by id: those not retired whose audience
    /// holds the user's role ([`audience::may_start`], the rule the server
    /// decides by). Empty before enrollment.
    pub fn offered_forms(&self) -> Result<Vec<Arc<Form>>, CoreError> {
        let Some(user) = self.user()? else {
            return Ok(Vec::new());
        };
        let forms = self.0.forms.read().unwrap_or_else(|p| p.into_inner());
        let mut latest: HashMap<&str, &Arc<Form>> = HashMap::new();
        for ((id, version), form) in forms.iter() {
            if latest
                .get(id.as_str())
                .is_none_or(|f| f.version() < *version)
            {
                latest.insert(id, form);
            }
        }
        let mut offered: Vec<Arc<Form>> = latest
            .into_values()
            .filter(|f| audience::may_start(f.def(), user.role))
            .cloned()
            .collect();
        let order = |f: &Arc<Form>| {
            let id = f.id().as_str().to_owned();
            let standard = form_ids::ALL.iter().position(|s| *s == id);
            (standard.unwrap_or(form_ids::ALL.len()), id)
        };
        offered.sort_by_key(order);
        Ok(offered)
    }

    /// Whether this user may start a new record of `form_id` (see
    /// [`Core::offered_forms`]).
    pub fn may_start(&self, form_id: &str) -> Result<bool, CoreError> {
        let Some(user) = self.user()? else {
            return Ok(false);
        };
        Ok(self
            .form(form_id)
            .is_ok_and(|f| audience::may_start(f.def(), user.role)))
    }

    /// A form at a version.
    pub fn form_version(&self, form_id: &str, version: u32) -> Result<Arc<Form>, CoreError> {
        self.0
            .forms
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(form_id.to_owned(), version))
            .cloned()
            .ok_or_else(|| CoreError::UnknownForm(format!("{form_id} v{version}")))
    }

    /// This device's id.
    pub fn device_id(&self) -> beatbook_schema::ids::DeviceId {
        self.store().device()
    }

    /// The enrolled officer, if any.
    pub fn user(&self) -> Result<Option<UserInfo>, CoreError> {
        Ok(self
            .store()
            .meta::<Enrollment>("enrollment")?
            .map(|e| e.user))
    }

    /// Enrolls the device.
    pub async fn enroll(
        &self,
        server: &str,
        badge: &str,
        password: &str,
        device_name: &str,
    ) -> Result<UserInfo, CoreError> {
        Ok(sync::enroll(
            self.0.device.store_lock(),
            server,
            badge,
            password,
            device_name,
        )
        .await?)
    }

    /// Enrolls the device with an enrollment code read from a QR code (see
    /// [`crate::qr::read_enrollment_qr`]), at the server the code names.
    pub async fn enroll_with_code(
        &self,
        qr: &EnrollmentQr,
        device_name: &str,
    ) -> Result<UserInfo, CoreError> {
        Ok(sync::enroll_with_code(self.0.device.store_lock(), qr, device_name).await?)
    }

    /// Syncs, reporting progress; afterwards forms and addresses are reloaded.
    pub async fn sync(
        &self,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<SyncReport, CoreError> {
        self.sync_via(None, progress).await
    }

    /// Syncs through another server address than the enrolled one (this time only).
    pub async fn sync_via(
        &self,
        server: Option<&str>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<SyncReport, CoreError> {
        self.sync_steps(server, Steps::All, progress).await
    }

    /// Runs some steps of a sync (e.g. [`Steps::Send`]: photos and outbox
    /// only); forms are recompiled when the pull brought new ones (or may
    /// have, when the sync failed part-way), and the pick lists catch up.
    pub async fn sync_steps(
        &self,
        server: Option<&str>,
        steps: Steps,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<SyncReport, CoreError> {
        let report = self
            .0
            .engine
            .run(self.0.device.store_lock(), server, steps, progress)
            .await;
        if report.as_ref().map_or(true, |r| r.references_changed) {
            self.reload()?;
        } else {
            self.with_index(|_| ())?;
        }
        Ok(report?)
    }

    /// Starts a new record of a form in a grid, with defaults, device facts,
    /// carried-forward values and `prefill` already in place.
    pub fn new_record(
        &self,
        form_id: &str,
        grid: Option<&GridId>,
        prefill: Values,
    ) -> Result<FormSession, CoreError> {
        let user = self.user()?.ok_or(CoreError::NotEnrolled)?;
        let form = self.form(form_id)?;
        if !audience::may_start(form.def(), user.role) {
            return Err(CoreError::NotOffered(form_id.to_owned()));
        }
        let grid = grid
            .cloned()
            .or_else(|| user.grids.first().cloned())
            .unwrap_or_else(|| GridId::new(""));
        FormSession::create(self.0.device.clone(), form, &user, grid, prefill)
    }

    /// Opens an existing record (a draft, a synced record to revisit, a returned one).
    pub fn open_record(&self, id: RecordId) -> Result<FormSession, CoreError> {
        let record = self.store().record(id)?;
        let form = self.form_version(record.form_id.as_str(), record.form_version)?;
        let officer = self.user()?.map(|u| u.badge);
        Ok(FormSession::resume(
            self.0.device.clone(),
            form,
            record,
            officer,
        ))
    }

    /// A visit finished in one tap: records a `visit` of `place` (an
    /// address, a house or a unit) that ended as `outcome` (nothing
    /// changed, nobody home, refused), finalized and queued.
    pub fn record_visit(
        &self,
        place: RecordId,
        outcome: VisitOutcome,
    ) -> Result<RecordId, CoreError> {
        let record = self.store().record(place)?;
        let prefill = visit::prefill(&*self.form(form_ids::VISIT)?, &record, outcome)?;
        let mut session = self.new_record(form_ids::VISIT, Some(&record.grid), prefill)?;
        session.finalize()?;
        Ok(session.id())
    }

    /// Processes a photo (downscale, orientation, JPEG), seals it on disk and
    /// registers it; returns its reference for a record's attachments.
    pub fn add_photo(&self, bytes: &[u8]) -> Result<AttachmentRef, CoreError> {
        self.0.device.add_photo(bytes)
    }

    /// A photo's bytes, decrypted.
    pub fn photo(&self, sha: &Sha256) -> Result<Vec<u8>, CoreError> {
        let store = self.store();
        photos::load(&store.photo_dir(), store.key(), sha)
            .map_err(|e| CoreError::Photo(e.to_string()))
    }

    /// A small copy of photo `sha` (longest edge `edge` pixels, JPEG), made
    /// from the encrypted photo store for a thumbnail: the photo never
    /// leaves the core as a plain file.
    pub fn photo_thumbnail(&self, sha: &Sha256, edge: u32) -> Result<Vec<u8>, CoreError> {
        let photo = self.photo(sha)?;
        let settings = photos::PhotoSettings {
            longest_edge: edge,
            jpeg_quality: 70,
        };
        photos::process(&photo, &settings)
            .map(|small| small.bytes)
            .map_err(|e| CoreError::Photo(e.to_string()))
    }

    /// Standard addresses matching a query (characters, pinyin initials, door numbers).
    pub fn search_addresses(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<(RecordId, String)>, CoreError> {
        self.search_form(form_ids::ADDRESS, query, limit)
    }

    /// Records of a form with a pick list ([`index::INDEXED`](crate::index::INDEXED):
    /// addresses, houses, people, units, hazards, disputes) matching a
    /// query, with their pick-list labels, best first; an empty query gives
    /// the most recently changed. Characters, pinyin in full or by initials
    /// (`zs` finds 张三), door numbers, the last digits of an ID number.
    pub fn search_form(
        &self,
        form: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<(RecordId, String)>, CoreError> {
        self.with_index(|index| index.search(form, query, limit))
    }

    /// A record's pick-list label (a chosen house, unit or address shown
    /// in its field), if its form has a pick list.
    pub fn pick_label(&self, form: &str, id: RecordId) -> Result<Option<String>, CoreError> {
        self.with_index(|index| index.label(form, &id).map(str::to_owned))
    }

    /// Discards a draft that was never queued (see
    /// [`LocalStore::discard_draft`]); anything else is refused and kept.
    pub fn discard_draft(&self, id: RecordId) -> Result<(), CoreError> {
        Ok(self.store().discard_draft(id)?)
    }

    /// Records matching a filter.
    pub fn records(&self, filter: &RecordFilter) -> Result<Vec<LocalRecord>, CoreError> {
        Ok(self.store().records(filter)?)
    }

    /// One record.
    pub fn record(&self, id: RecordId) -> Result<LocalRecord, CoreError> {
        Ok(self.store().record(id)?)
    }

    /// The officer's values, in every record, that another device's value
    /// beat in a same-field conflict and that still stand lost.
    pub fn lost_values(&self) -> Result<Vec<LostValue>, CoreError> {
        Ok(self.store().lost_values(None)?)
    }

    /// The open tasks assigned to the enrolled officer, overdue first, then
    /// by due date.
    pub fn my_tasks(&self) -> Result<Vec<Task>, CoreError> {
        let Some(user) = self.user()? else {
            return Ok(Vec::new());
        };
        let mut mine: Vec<Task> = self
            .store()
            .records_where(form_ids::TASK, "assignee", &user.badge)?
            .iter()
            .filter_map(|r| Task::of(r.id, &r.grid, &r.values))
            .filter(Task::is_open)
            .collect();
        tasks::sort_for_today(&mut mine, self.platform().today());
        Ok(mine)
    }

    /// Where `task` takes the officer: a visit opens the visit screen on the
    /// house (at its address), a follow-up or a check opens the record.
    pub fn task_opens(&self, task: &Task) -> Result<TaskOpens, CoreError> {
        if task.kind != TaskKind::Visit {
            return Ok(TaskOpens::Edit(task.target));
        }
        let house = self.store().record(task.target)?;
        let address = house
            .values
            .get("address")
            .and_then(Json::as_str)
            .and_then(|a| a.parse().ok());
        Ok(match address {
            Some(address) => TaskOpens::Visit {
                address,
                house: house.id,
            },
            None => TaskOpens::Edit(house.id),
        })
    }

    /// Home-screen counts.
    pub fn status(&self) -> Result<Status, CoreError> {
        let store = self.store();
        Ok(Status {
            states: store.state_counts()?,
            outbox: store.outbox_len()?,
            last_sync: store.meta("last_sync")?,
        })
    }

    /// Records of a form whose field `field` holds `value` (e.g. the houses at
    /// an address, the residents of a house), newest first.
    pub fn records_where(
        &self,
        form: &str,
        field: &str,
        value: &str,
    ) -> Result<Vec<LocalRecord>, CoreError> {
        Ok(self.store().records_where(form, field, value)?)
    }

    /// How many records of a form have `field` at one of `values` (e.g. the
    /// open hazards for the home screen's badge).
    pub fn count_where(&self, form: &str, field: &str, values: &[&str]) -> Result<u64, CoreError> {
        Ok(self.store().count_where(form, field, values)?)
    }

    /// A one-line label of a record in `lang`, from its form's summary
    /// fields (an address shows as its pick-list label).
    pub fn label(&self, record: &LocalRecord, lang: Lang) -> String {
        if record.form_id.as_str() == form_ids::ADDRESS {
            return address_label(&record.values);
        }
        let Ok(form) = self.form_version(record.form_id.as_str(), record.form_version) else {
            return record.id.to_string();
        };
        let parts: Vec<String> = form
            .def()
            .summary
            .iter()
            .filter_map(|k| Some((form.field(k)?, record.values.get(k)?)))
            .map(|(field, v)| match (&field.def.kind, v) {
                // A choice shows as its label, not its stored value.
                (beatbook_schema::form::FieldKind::SingleChoice { list }, Json::String(s)) => form
                    .choices(list)
                    .iter()
                    .find(|c| c.value == *s)
                    .map_or_else(|| s.clone(), |c| c.label.get(lang).to_owned()),
                (_, Json::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            })
            .collect();
        if parts.is_empty() {
            record.id.to_string()
        } else {
            parts.join(" · ")
        }
    }

    /// Where the citizen ID number `typed` is already recorded on this
    /// device (its own grids' records only): the person records holding it,
    /// except `except` (the record being entered). Nothing until the number
    /// validates.
    pub fn id_number_recorded_at(
        &self,
        typed: &str,
        except: Option<RecordId>,
    ) -> Result<Vec<id_numbers::RecordedAt>, CoreError> {
        let today = self.platform().today();
        id_numbers::recorded_at(&self.store(), typed, today, except)
    }

    /// People by name (characters or pinyin) or the last digits of their
    /// ID number, then houses by owner or address — what an officer types
    /// to find someone on patrol. An empty query finds nothing.
    pub fn search_records(&self, query: &str, limit: usize) -> Result<Vec<LocalRecord>, CoreError> {
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.with_index(|index| {
            let mut ids = index.search(form_ids::PERSON, query, limit);
            ids.extend(index.search(form_ids::HOUSE, query, limit - ids.len()));
            ids
        })?;
        let store = self.store();
        ids.into_iter()
            .map(|(id, _)| Ok(store.record(id)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::ids::{DeviceId, FormId, StationId, UserId};
    use beatbook_schema::protocol::{Cursor, PullItem, PullPage, RecordVersion, Role};
    use beatbook_schema::record::{Record, RecordStatus};
    use rstest::rstest;
    use serde_json::json;

    use super::*;
    use crate::keys::PinKeys;
    use crate::platform::Desktop;
    use crate::store::{LocalStoreError, PulledPage};

    const ME: &str = "0192f2c0-0000-7000-8000-000000000001";

    fn enrolled() -> (tempfile::TempDir, Core) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let core = Core::open(
            dir.path(),
            "123456",
            &PinKeys::fast_for_tests(),
            Arc::new(Desktop::default()),
        )
        .expect("open");
        let user = UserInfo {
            id: ME.parse().expect("user id"),
            badge: "012345".into(),
            name: "王警官".into(),
            role: Role::Officer,
            station: StationId::new("s1"),
            grids: vec![GridId::new("g1")],
        };
        core.store()
            .set_meta(
                "enrollment",
                &Enrollment {
                    server: "http://127.0.0.1:9".into(),
                    token: "token".into(),
                    user,
                },
            )
            .expect("enrollment");
        (dir, core)
    }

    fn version(id: RecordId, form: &str, values: Json, revision: u64, deleted: bool) -> PullItem {
        let Json::Object(values) = values else {
            panic!("values are an object")
        };
        PullItem::Record {
            cursor: Cursor(revision),
            version: Box::new(RecordVersion {
                record: Record {
                    id,
                    form_id: FormId(form.into()),
                    form_version: 1,
                    grid: GridId::new("g1"),
                    author: UserId::new_v7(),
                    device: DeviceId::new_v7(),
                    values,
                    attachments: Vec::new(),
                    created_at: chrono::Utc::now(),
                    updated_at: chrono::Utc::now(),
                    status: RecordStatus::Submitted,
                },
                revision,
                deleted,
                conflicted: false,
                conflicts: Vec::new(),
                review: None,
            }),
        }
    }

    /// `page` as the device reads it from the server.
    fn pulled(page: &PullPage) -> PulledPage {
        PulledPage::try_from(page).expect("a page reads back")
    }

    fn pull(core: &Core, items: Vec<PullItem>) {
        let next = Cursor(items.len() as u64);
        core.store()
            .apply_pull(&pulled(&PullPage {
                items,
                next,
                has_more: false,
                grids: None,
            }))
            .expect("pulled page applies");
    }

    fn found(core: &Core, form: &str, query: &str) -> Vec<String> {
        core.search_form(form, query, 20)
            .expect("search")
            .into_iter()
            .map(|(_, label)| label)
            .collect()
    }

    /// One record of every form with a pick list, as a pull brings them.
    fn grid(core: &Core) -> RecordId {
        let address = RecordId::new_v7();
        pull(
            core,
            vec![
                version(
                    address,
                    form_ids::ADDRESS,
                    json!({"community": "东港社区", "road": "人民路", "door_number": "12"}),
                    1,
                    false,
                ),
                version(
                    RecordId::new_v7(),
                    form_ids::HOUSE,
                    json!({"address": address, "community": "东港社区", "road": "人民路",
                           "door_number": "12", "owner_name": "陈建国", "use": "rented"}),
                    2,
                    false,
                ),
                version(
                    RecordId::new_v7(),
                    form_ids::PERSON,
                    json!({"name": "张三丰", "id_number": "32068419800101123X"}),
                    3,
                    false,
                ),
                version(
                    RecordId::new_v7(),
                    form_ids::UNIT,
                    json!({"name": "好又多便利店", "road": "人民路", "door_number": "14"}),
                    4,
                    false,
                ),
                version(
                    RecordId::new_v7(),
                    form_ids::HAZARD,
                    json!({"category": "group_rented", "address": address}),
                    5,
                    false,
                ),
                version(
                    RecordId::new_v7(),
                    form_ids::DISPUTE,
                    json!({"kind": "neighbour", "parties": [{"name": "刘备"}, {"name": "关羽"}]}),
                    6,
                    false,
                ),
            ],
        );
        address
    }

    #[rstest]
    #[case::address_by_initials_and_door(form_ids::ADDRESS, "rml12", "东港社区人民路12号")]
    #[case::house_by_door_number(form_ids::HOUSE, "12号", "东港社区人民路12号 陈建国")]
    #[case::house_by_owner_initials(form_ids::HOUSE, "cjg", "东港社区人民路12号 陈建国")]
    #[case::person_by_characters(form_ids::PERSON, "三丰", "张三丰 …01123X")]
    #[case::person_by_initials(form_ids::PERSON, "zsf", "张三丰 …01123X")]
    #[case::person_by_full_pinyin(form_ids::PERSON, "zhangsan", "张三丰 …01123X")]
    #[case::person_by_last_id_digits(form_ids::PERSON, "123x", "张三丰 …01123X")]
    #[case::unit_by_name_initials(form_ids::UNIT, "hyd", "好又多便利店 人民路14号")]
    #[case::unit_by_door(form_ids::UNIT, "14", "好又多便利店 人民路14号")]
    #[case::hazard_by_category(form_ids::HAZARD, "群租", "群租房 东港社区人民路12号")]
    #[case::hazard_by_address(form_ids::HAZARD, "rml 12", "群租房 东港社区人民路12号")]
    #[case::dispute_by_party_initials(form_ids::DISPUTE, "gy", "邻里纠纷 刘备 关羽")]
    fn each_pick_list_finds_its_records(
        #[case] form: &str,
        #[case] query: &str,
        #[case] label: &str,
    ) {
        let (_dir, core) = enrolled();
        grid(&core);
        assert_eq!(found(&core, form, query), [label]);
    }

    #[test]
    fn values_of_unexpected_shapes_are_indexed_by_what_reads() {
        let (dir, core) = enrolled();
        pull(
            &core,
            vec![version(
                RecordId::new_v7(),
                form_ids::DISPUTE,
                json!({"kind": "neighbour", "parties": "刘备", "address": 12}),
                1,
                false,
            )],
        );
        assert_eq!(found(&core, form_ids::DISPUTE, "ll"), ["邻里纠纷"]);
        drop(core);
        let reopened = Core::open(
            dir.path(),
            "123456",
            &PinKeys::fast_for_tests(),
            Arc::new(Desktop::default()),
        )
        .expect("the device opens");
        assert_eq!(found(&reopened, form_ids::DISPUTE, "ll"), ["邻里纠纷"]);
    }

    #[test]
    fn a_pick_list_holds_only_its_own_form() {
        let (_dir, core) = enrolled();
        grid(&core);
        assert!(found(&core, form_ids::PERSON, "cjg").is_empty());
        assert!(found(&core, form_ids::HOUSE, "zsf").is_empty());
        assert!(found(&core, form_ids::VISIT, "").is_empty());
    }

    #[test]
    fn the_pick_list_follows_each_autosave_of_a_draft() {
        let (_dir, core) = enrolled();
        let mut session = core
            .new_record(form_ids::PERSON, None, Values::new())
            .expect("new person");
        session.set("name", json!("张三")).expect("name");
        session
            .set("id_number", json!("320684198001015678"))
            .expect("id");
        assert_eq!(found(&core, form_ids::PERSON, "zs"), ["张三 …015678"]);
        session.set("name", json!("李四")).expect("renamed");
        assert!(found(&core, form_ids::PERSON, "zs").is_empty());
        assert_eq!(found(&core, form_ids::PERSON, "5678"), ["李四 …015678"]);
    }

    #[test]
    fn a_pulled_change_and_a_pulled_tombstone_reach_the_pick_list() {
        let (_dir, core) = enrolled();
        grid(&core);
        let house = core.search_form(form_ids::HOUSE, "cjg", 1).expect("search")[0].0;
        pull(
            &core,
            vec![version(
                house,
                form_ids::HOUSE,
                json!({"road": "解放路", "door_number": "8", "owner_name": "陈建国"}),
                7,
                false,
            )],
        );
        assert_eq!(found(&core, form_ids::HOUSE, "cjg"), ["解放路8号 陈建国"]);
        pull(
            &core,
            vec![version(house, form_ids::HOUSE, json!({}), 8, true)],
        );
        assert!(found(&core, form_ids::HOUSE, "cjg").is_empty());
        assert!(found(&core, form_ids::HOUSE, "").is_empty());
    }

    #[test]
    fn a_record_written_twice_before_the_pick_list_looks_is_noted_once() {
        let (_dir, core) = enrolled();
        let house = RecordId::new_v7();
        let owner = |name: &str, revision| {
            version(
                house,
                form_ids::HOUSE,
                json!({"road": "解放路", "door_number": "8", "owner_name": name}),
                revision,
                false,
            )
        };
        // Two versions of one record in one page, then another page: the
        // pull's upsert updates a record already noted.
        pull(&core, vec![owner("陈建国", 1), owner("陈建民", 2)]);
        pull(&core, vec![owner("陈建华", 3)]);
        assert_eq!(found(&core, form_ids::HOUSE, "cj"), ["解放路8号 陈建华"]);
    }

    #[test]
    fn an_empty_query_lists_the_most_recently_changed_first() {
        let (_dir, core) = enrolled();
        let mut names = Vec::new();
        for name in ["甲", "乙", "丙"] {
            let mut s = core
                .new_record(form_ids::PERSON, None, Values::new())
                .expect("new person");
            s.set("name", json!(name)).expect("name");
            names.push(s);
        }
        assert_eq!(found(&core, form_ids::PERSON, ""), ["丙", "乙", "甲"]);
        names[0].set("name", json!("甲一")).expect("renamed");
        assert_eq!(found(&core, form_ids::PERSON, ""), ["甲一", "丙", "乙"]);
    }

    #[test]
    fn a_discarded_draft_is_gone_from_the_device_and_the_pick_list() {
        let (_dir, core) = enrolled();
        let mut session = core
            .new_record(form_ids::PERSON, None, Values::new())
            .expect("new person");
        session.set("name", json!("张三")).expect("name");
        assert_eq!(found(&core, form_ids::PERSON, "zs"), ["张三"]);
        core.discard_draft(session.id())
            .expect("a new draft is discarded");
        assert!(found(&core, form_ids::PERSON, "zs").is_empty());
        assert!(matches!(
            core.record(session.id()),
            Err(CoreError::Store(LocalStoreError::NoRecord(_)))
        ));
    }

    #[test]
    fn a_queued_or_synced_record_is_not_discarded() {
        let (_dir, core) = enrolled();
        let synced = grid(&core);
        let mut queued = core
            .new_record(form_ids::PERSON, None, Values::new())
            .expect("new person");
        queued.set("name", json!("张三")).expect("name");
        let values = queued.values().clone();
        core.store()
            .finalize(queued.id(), &values, &[], None)
            .expect("queued");
        for (id, state) in [
            (queued.id(), LocalState::Queued),
            (synced, LocalState::Synced),
        ] {
            let refused = core.discard_draft(id);
            assert!(
                matches!(
                    &refused,
                    Err(CoreError::Store(LocalStoreError::NotDiscardable { state: s, .. })) if *s == state
                ),
                "{refused:?}"
            );
            assert_eq!(core.record(id).expect("still there").state, state);
        }
        assert_eq!(core.status().expect("status").outbox, 1);
        assert_eq!(
            found(&core, form_ids::PERSON, "张三"),
            ["张三", "张三丰 …01123X"]
        );
    }

    #[test]
    fn a_synced_record_edited_again_is_not_discarded() {
        let (_dir, core) = enrolled();
        grid(&core);
        let person = core
            .search_form(form_ids::PERSON, "zsf", 1)
            .expect("search")[0]
            .0;
        let mut session = core.open_record(person).expect("open");
        session.set("name", json!("张三")).expect("edited");
        assert_eq!(core.record(person).expect("there").state, LocalState::Draft);
        assert!(matches!(
            core.discard_draft(person),
            Err(CoreError::Store(LocalStoreError::NotDiscardable { .. }))
        ));
    }

    #[test]
    fn the_lists_tell_mine_from_the_grids_and_page() {
        let (_dir, core) = enrolled();
        grid(&core);
        let me: UserId = ME.parse().expect("user id");
        let mut mine = Vec::new();
        for name in ["甲", "乙", "丙"] {
            let mut s = core
                .new_record(form_ids::PERSON, None, Values::new())
                .expect("new person");
            s.set("name", json!(name)).expect("name");
            mine.push(s.id());
        }
        let page = |author: Option<UserId>, offset: u32| -> Vec<RecordId> {
            core.records(&RecordFilter {
                author,
                limit: Some(2),
                offset,
                ..Default::default()
            })
            .expect("records")
            .into_iter()
            .map(|r| r.id)
            .collect()
        };
        assert_eq!(page(Some(me), 0), [mine[2], mine[1]]);
        assert_eq!(page(Some(me), 2), [mine[0]]);
        assert!(page(Some(me), 4).is_empty());
        let everyone: Vec<RecordId> = (0..5).flat_map(|p| page(None, p * 2)).collect();
        assert_eq!(everyone.len(), 9, "six pulled and three of mine");
        assert_eq!(
            everyone
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            9
        );
    }

    #[test]
    fn count_where_counts_live_records_by_a_fields_value() {
        let (_dir, core) = enrolled();
        let hazard = |status: &str, revision, deleted| {
            version(
                RecordId::new_v7(),
                form_ids::HAZARD,
                json!({"category": "group_rented", "status": status}),
                revision,
                deleted,
            )
        };
        pull(
            &core,
            vec![
                hazard("open", 1, false),
                hazard("rectifying", 2, false),
                hazard("closed", 3, false),
                hazard("open", 4, true),
            ],
        );
        let open = core.count_where(form_ids::HAZARD, "status", &["open", "rectifying"]);
        assert_eq!(open.expect("counted"), 2);
        assert!(core
            .count_where(form_ids::HAZARD, "status)", &["open"])
            .is_err());
    }

    #[test]
    fn search_records_finds_people_by_pinyin_and_houses_by_address() {
        let (_dir, core) = enrolled();
        grid(&core);
        let hits = core.search_records("zsf", 10).expect("search");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].form_id.as_str(), form_ids::PERSON);
        let hits = core.search_records("rml12", 10).expect("search");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].form_id.as_str(), form_ids::HOUSE);
    }

    #[test]
    fn a_visit_of_the_house_completes_my_task_in_the_same_save() {
        let (_dir, core) = enrolled();
        let address = grid(&core);
        let house = RecordId::new_v7();
        let (mine, theirs) = (RecordId::new_v7(), RecordId::new_v7());
        let task = |assignee: &str, due: &str| {
            json!({"kind": "visit", "house": house, "due": due, "assignee": assignee,
                   "status": "open", "place": "人民路 12号"})
        };
        pull(
            &core,
            vec![
                version(
                    house,
                    form_ids::HOUSE,
                    json!({"address": address, "use": "group_rented", "owner_name": "王芳"}),
                    1,
                    false,
                ),
                version(mine, form_ids::TASK, task("012345", "2020-01-01"), 2, false),
                version(
                    theirs,
                    form_ids::TASK,
                    task("099999", "2020-01-01"),
                    3,
                    false,
                ),
            ],
        );
        let open = core.my_tasks().expect("my tasks");
        assert_eq!(
            open.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![mine],
            "only mine"
        );
        assert!(open[0].is_overdue(core.platform().today()));
        assert_eq!(
            core.task_opens(&open[0]).expect("where it opens"),
            TaskOpens::Visit { address, house }
        );
        let outbox_before = core.status().expect("status").outbox;

        let visit = core
            .record_visit(house, VisitOutcome::Unchanged)
            .expect("the visit is recorded");

        assert!(
            core.my_tasks().expect("my tasks").is_empty(),
            "the task is done"
        );
        let done = core.record(mine).expect("the task");
        assert_eq!(done.state, LocalState::Queued);
        assert_eq!(done.values["status"], "done");
        assert_eq!(done.values["completed_by"], visit.to_string());
        assert_eq!(
            core.record(theirs).expect("theirs").values["status"],
            "open",
            "another's task is left alone"
        );
        assert_eq!(
            core.status().expect("status").outbox,
            outbox_before + 2,
            "the visit and the task's completion are queued together"
        );
        let batch = core
            .store()
            .next_batch(Default::default(), &[])
            .expect("a batch")
            .expect("changes");
        let task_change = batch
            .changes
            .iter()
            .find(|c| c.record_id == mine)
            .expect("the task's change");
        let beatbook_schema::protocol::ChangeOp::Upsert { fields, .. } =
            task_change.change().expect("the stored change reads").op
        else {
            panic!("an upsert")
        };
        let mut sent: Vec<&str> = fields.keys().map(String::as_str).collect();
        sent.sort_unstable();
        assert_eq!(
            sent,
            ["completed_at", "completed_by", "status"],
            "only the completion is sent"
        );
    }

    #[test]
    fn saving_the_dispute_completes_its_follow_up_task() {
        let (_dir, core) = enrolled();
        let dispute = RecordId::new_v7();
        let task = RecordId::new_v7();
        pull(
            &core,
            vec![
                version(
                    dispute,
                    form_ids::DISPUTE,
                    json!({"kind": "neighbour", "summary": "邻居装修噪音扰民", "risk_level": "low",
                           "reported_date": "2026-11-01", "mediation_path": "peoples",
                           "outcome": "pending", "follow_up_date": "2026-11-20",
                           "parties": [{"name": "甲", "role": "complainant"}, {"name": "乙", "role": "respondent"}]}),
                    1,
                    false,
                ),
                version(
                    task,
                    form_ids::TASK,
                    json!({"kind": "dispute_follow_up", "dispute": dispute, "due": "2099-01-01",
                           "assignee": "012345", "status": "open"}),
                    2,
                    false,
                ),
            ],
        );
        let open = core.my_tasks().expect("my tasks");
        assert_eq!(
            core.task_opens(&open[0]).expect("opens"),
            TaskOpens::Edit(dispute)
        );

        let mut session = core.open_record(dispute).expect("the dispute opens");
        session
            .set("mediation_notes", json!("回访：双方已和解"))
            .expect("notes");
        match session.finalize() {
            Ok(()) => {}
            Err(CoreError::Invalid(errors)) => panic!("the pulled dispute is valid: {errors:?}"),
            Err(e) => panic!("saved: {e}"),
        }

        assert!(core.my_tasks().expect("my tasks").is_empty());
        assert_eq!(
            core.record(task).expect("task").values["completed_by"],
            dispute.to_string()
        );
    }

    fn page(items: Vec<PullItem>, next: u64, grids: &[&str]) -> PulledPage {
        pulled(&PullPage {
            items,
            next: Cursor(next),
            has_more: false,
            grids: Some(grids.iter().map(|g| GridId::new(*g)).collect()),
        })
    }

    #[test]
    fn a_page_naming_other_grids_restarts_the_pull_or_drops_the_removed_grids_records() {
        let (_dir, core) = enrolled();
        let id = RecordId::new_v7();
        let same = core
            .store()
            .apply_pull(&page(
                vec![version(id, "visit", json!({"n": 1}), 3, false)],
                3,
                &["g1"],
            ))
            .expect("applies");
        assert_eq!(same, crate::store::Rescoped::default());
        assert_eq!(core.store().cursor().expect("cursor"), Cursor(3));

        let added = core
            .store()
            .apply_pull(&page(vec![], 9, &["g1", "g2"]))
            .expect("applies");
        assert_eq!(added.added, [GridId::new("g2")]);
        assert_eq!(
            core.store().cursor().expect("cursor"),
            Cursor(0),
            "pulls again from the start"
        );
        let grids = core.user().expect("user").expect("enrolled").grids;
        assert_eq!(grids, [GridId::new("g1"), GridId::new("g2")]);

        // Pulled again from the start: the same version, still one record.
        core.store()
            .apply_pull(&page(
                vec![version(id, "visit", json!({"n": 1}), 3, false)],
                9,
                &["g1", "g2"],
            ))
            .expect("applies");
        assert_eq!(core.store().cursor().expect("cursor"), Cursor(9));
        assert_eq!(core.store().record(id).expect("held").base_revision, 3);

        let removed = core
            .store()
            .apply_pull(&page(vec![], 9, &["g2"]))
            .expect("applies");
        assert_eq!(removed.removed, [GridId::new("g1")]);
        assert!(removed.added.is_empty());
        assert!(matches!(
            core.store().record(id),
            Err(LocalStoreError::NoRecord(_))
        ));
        assert_eq!(core.store().cursor().expect("cursor"), Cursor(9));
    }
}
