//! [`Core`]: the service the UI, the command line and the tests hand around.
//! It owns the device (store, platform; shared with its form sessions), the
//! compiled forms, the address search index and the sync engine; cloning it
//! is cheap.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, MutexGuard, RwLock};

use beatbook_schema::catalogue::form_ids;
use beatbook_schema::form::{Form, FormDef, Values};
use beatbook_schema::ids::{GridId, RecordId, Sha256};
use beatbook_schema::protocol::UserInfo;
use beatbook_schema::record::AttachmentRef;
use beatbook_schema::text::Lang;
use serde_json::{json, Value as Json};

use crate::device::Device;
use crate::error::CoreError;
use crate::keys::KeyProvider;
use crate::lockout::{self, PinPolicy};
use crate::photos;
use crate::platform::Platform;
use crate::search::SearchIndex;
use crate::session::FormSession;
use crate::store::{LocalRecord, LocalState, LocalStore, RecordFilter};
use crate::sync::{self, Enrollment, Progress, Steps, SyncEngine, SyncReport};

struct Inner {
    device: Device,
    forms: RwLock<HashMap<(String, u32), Arc<Form>>>,
    addresses: RwLock<Arc<SearchIndex<RecordId>>>,
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
    let s = |k: &str| values.get(k).and_then(Json::as_str).unwrap_or("");
    let door = s("door_number");
    let door_suffix = if !door.is_empty() && door.chars().all(|c| c.is_ascii_digit()) {
        "号"
    } else {
        ""
    };
    let mut label = format!("{}{}{door}{door_suffix}", s("community"), s("road"));
    for (k, suffix) in [("building", "幢"), ("unit_no", "单元"), ("room", "室")] {
        let v = s(k);
        if !v.is_empty() {
            label.push_str(v);
            if !v.ends_with(suffix) {
                label.push_str(suffix);
            }
        }
    }
    label
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
            addresses: RwLock::new(Arc::new(SearchIndex::build(
                Vec::<(RecordId, String)>::new(),
            ))),
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

    fn store(&self) -> MutexGuard<'_, LocalStore> {
        self.0.device.store()
    }

    /// The platform services (clock, position) the core was opened with.
    pub fn platform(&self) -> &Arc<dyn Platform> {
        self.0.device.platform()
    }

    /// Recompiles the forms and rebuilds the address index from the store.
    /// Forms shipped with the app are there from the first start, offline.
    fn reload(&self) -> Result<(), CoreError> {
        let (defs, addresses) = {
            let store = self.store();
            let mut defs: Vec<FormDef> = store.forms()?;
            if defs.is_empty() {
                defs = beatbook_schema::catalogue::standard_forms()
                    .map(|forms| forms.iter().map(|f| f.def().clone()).collect())
                    .unwrap_or_default();
            }
            let addresses = store.records(&RecordFilter {
                form: Some(form_ids::ADDRESS.into()),
                ..Default::default()
            })?;
            (defs, addresses)
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
        *self.0.forms.write().unwrap_or_else(|p| p.into_inner()) = compiled;
        let index = SearchIndex::build(addresses.iter().map(|r| (r.id, address_label(&r.values))));
        *self.0.addresses.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
        Ok(())
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
    /// only); forms and the address index are rebuilt when the pull brought
    /// new ones (or may have, when the sync failed part-way).
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
        let grid = grid
            .cloned()
            .or_else(|| user.grids.first().cloned())
            .unwrap_or_else(|| GridId::new(""));
        FormSession::create(
            self.0.device.clone(),
            self.form(form_id)?,
            &user,
            grid,
            prefill,
        )
    }

    /// Opens an existing record (a draft, a synced record to revisit, a returned one).
    pub fn open_record(&self, id: RecordId) -> Result<FormSession, CoreError> {
        let record = self.store().record(id)?;
        let form = self.form_version(record.form_id.as_str(), record.form_version)?;
        Ok(FormSession::resume(self.0.device.clone(), form, record))
    }

    /// A revisit where nothing changed: one call records a `visit` of the
    /// house (or address) as "nothing changed", finalized and queued.
    pub fn confirm_unchanged(&self, house: RecordId) -> Result<RecordId, CoreError> {
        let record = self.store().record(house)?;
        let mut prefill = Values::new();
        prefill.insert("purpose".into(), json!("household_visit"));
        prefill.insert("outcome".into(), json!("unchanged"));
        match record.form_id.as_str() {
            form_ids::ADDRESS => {
                prefill.insert("address".into(), json!(house));
            }
            _ => {
                prefill.insert("house".into(), json!(house));
                if let Some(a) = record.values.get("address") {
                    prefill.insert("address".into(), a.clone());
                }
            }
        }
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

    /// Standard addresses matching a query (characters, pinyin initials, door numbers).
    pub fn search_addresses(&self, query: &str, limit: usize) -> Vec<(RecordId, String)> {
        let index = self
            .0
            .addresses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        index
            .search(query, limit)
            .into_iter()
            .map(|h| (*h.key, h.label.to_owned()))
            .collect()
    }

    /// Records matching a filter.
    pub fn records(&self, filter: &RecordFilter) -> Result<Vec<LocalRecord>, CoreError> {
        Ok(self.store().records(filter)?)
    }

    /// One record.
    pub fn record(&self, id: RecordId) -> Result<LocalRecord, CoreError> {
        Ok(self.store().record(id)?)
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
        let all = self.records(&RecordFilter {
            form: Some(form.to_owned()),
            ..Default::default()
        })?;
        Ok(all
            .into_iter()
            .filter(|r| r.values.get(field).and_then(Json::as_str) == Some(value))
            .collect())
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

    /// People by name or the last digits of their ID number, and houses by
    /// owner or address — what an officer types to find someone on patrol.
    pub fn search_records(&self, query: &str, limit: usize) -> Result<Vec<LocalRecord>, CoreError> {
        let q = query.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let mut hits = Vec::new();
        for r in self.records(&RecordFilter {
            form: Some(form_ids::PERSON.into()),
            ..Default::default()
        })? {
            let name = r.values.get("name").and_then(Json::as_str).unwrap_or("");
            let id = r
                .values
                .get("id_number")
                .and_then(Json::as_str)
                .unwrap_or("");
            if name.contains(q) || (q.len() >= 4 && id.ends_with(&q.to_uppercase())) {
                hits.push(r);
            }
        }
        let addresses: std::collections::HashSet<String> = self
            .search_addresses(q, 200)
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect();
        for r in self.records(&RecordFilter {
            form: Some(form_ids::HOUSE.into()),
            ..Default::default()
        })? {
            let owner = r
                .values
                .get("owner_name")
                .and_then(Json::as_str)
                .unwrap_or("");
            let at = r.values.get("address").and_then(Json::as_str).unwrap_or("");
            if owner.contains(q) || addresses.contains(at) {
                hits.push(r);
            }
        }
        hits.truncate(limit);
        Ok(hits)
    }
}
