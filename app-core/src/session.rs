//! A form session: one record being entered or revised. Every answer is
//! autosaved; relevance and derived values follow the answers; finalizing
//! validates everything at once and queues the change.

use std::collections::HashMap;
use std::sync::Arc;

use beatbook_schema::catalogue::{form_ids, hazard};
use beatbook_schema::form::{
    AddressBook, CompiledField, DefaultValue, FieldError, FieldKind, Form, ValidationContext,
    Values,
};
use beatbook_schema::ids::{GridId, RecordId, Sha256};
use beatbook_schema::protocol::UserInfo;
use beatbook_schema::record::AttachmentRef;
use serde_json::{json, Value as Json};

use crate::device::Device;
use crate::error::{CoreError, FieldMisuse};
use crate::platform::device_fact;
use crate::store::{LocalRecord, LocalState, LocalStoreError, LostValue, Rejection};

/// Standard addresses by id, for address-derived fields.
struct Addresses(HashMap<RecordId, Values>);

impl AddressBook for Addresses {
    fn address(&self, id: &RecordId) -> Option<&Values> {
        self.0.get(id)
    }
}

/// One record being entered.
pub struct FormSession {
    device: Device,
    form: Arc<Form>,
    id: RecordId,
    grid: GridId,
    values: Values,
    attachments: Vec<AttachmentRef>,
    state: LocalState,
    review_reason: Option<String>,
    rejection: Option<Rejection>,
    /// The server revision the record is based on (0: the server never had it).
    base_revision: u64,
    /// The enrolled officer's badge: saving may complete their tasks.
    officer: Option<String>,
    /// Top-level fields the officer may not change here (see [`Self::is_locked`]).
    locked: Vec<String>,
    /// A supervisor approved the record.
    approved: bool,
    /// The officer may change it at all.
    editable: bool,
}

impl std::fmt::Debug for FormSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormSession")
            .field("form", self.form.id())
            .field("id", &self.id)
            .finish()
    }
}

/// A parsed field path: `name` or `group[i].name`.
enum Path<'a> {
    Top(&'a str),
    Entry(&'a str, usize, &'a str),
}

/// The fields of `form` an officer may not change: a hazard's verification
/// (the supervisor's), and once its report is approved everything but its
/// rectification part.
fn locked_fields(form: &Form, approved: bool) -> Vec<String> {
    if form.id().as_str() != form_ids::HAZARD {
        return Vec::new();
    }
    let open = hazard::section_fields(form, hazard::RECTIFICATION_SECTION);
    let verification = hazard::section_fields(form, hazard::VERIFICATION_SECTION);
    form.fields()
        .iter()
        .map(|f| f.name())
        .filter(|name| verification.contains(name) || (approved && !open.contains(name)))
        .map(str::to_owned)
        .collect()
}

fn parse_path(path: &str) -> Option<Path<'_>> {
    match path.split_once('[') {
        None => Some(Path::Top(path)),
        Some((group, rest)) => {
            let (index, field) = rest.split_once("].")?;
            Some(Path::Entry(group, index.parse().ok()?, field))
        }
    }
}

impl FormSession {
    pub(crate) fn create(
        device: Device,
        form: Arc<Form>,
        user: &UserInfo,
        grid: GridId,
        prefill: Values,
    ) -> Result<Self, CoreError> {
        let platform = device.platform().clone();
        let previous = device.store().latest_of_form(form.id().as_str())?;
        let mut values = Values::new();
        for f in form.fields() {
            let name = f.name();
            let value = match &f.def.default {
                Some(DefaultValue::Value(v)) => Some(v.clone()),
                Some(DefaultValue::Device(fact)) => {
                    device_fact(platform.as_ref(), *fact, &user.name, grid.as_str())
                }
                None => None,
            };
            let carried = f
                .def
                .carry_forward
                .then(|| previous.as_ref().and_then(|p| p.values.get(name).cloned()))
                .flatten();
            if let Some(v) = carried.or(value) {
                values.insert(name.to_owned(), v);
            }
        }
        values.extend(prefill);
        let id =
            device
                .store()
                .create_draft((form.id(), form.version()), &grid, user.id, &values)?;
        let mut session = Self {
            device,
            form,
            id,
            grid,
            values,
            attachments: Vec::new(),
            state: LocalState::Draft,
            review_reason: None,
            rejection: None,
            base_revision: 0,
            officer: Some(user.badge.clone()),
            locked: Vec::new(),
            approved: false,
            editable: true,
        };
        session.locked = locked_fields(&session.form, false);
        session.refresh_derived();
        session.save()?;
        Ok(session)
    }

    pub(crate) fn resume(
        device: Device,
        form: Arc<Form>,
        record: LocalRecord,
        officer: Option<String>,
    ) -> Self {
        let review_reason = record.review.as_ref().and_then(|r| match &r.decision {
            beatbook_schema::protocol::ReviewDecision::Return { reason } => Some(reason.clone()),
            beatbook_schema::protocol::ReviewDecision::Approve => None,
        });
        let locked = locked_fields(&form, record.approved());
        Self {
            locked,
            approved: record.approved(),
            editable: record.editable(),
            device,
            form,
            id: record.id,
            grid: record.grid,
            values: record.values,
            attachments: record.attachments,
            state: record.state,
            review_reason: review_reason.filter(|_| record.state == LocalState::Returned),
            rejection: record.rejection,
            base_revision: record.base_revision,
            officer,
        }
    }

    /// The record id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The form.
    pub fn form(&self) -> &Arc<Form> {
        &self.form
    }

    /// The grid the record belongs to.
    pub fn grid(&self) -> &GridId {
        &self.grid
    }

    /// The current answers.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// The record's state when the session opened or last finalized.
    pub fn state(&self) -> LocalState {
        self.state
    }

    /// Whether the record is a draft never sent to the server, which the
    /// officer may discard ([`Core::discard_draft`](crate::Core::discard_draft)
    /// has the last word: a change still in the outbox keeps it).
    pub fn discardable(&self) -> bool {
        self.state == LocalState::Draft && self.base_revision == 0
    }

    /// Why a supervisor returned the record, for a returned one.
    pub fn review_reason(&self) -> Option<&str> {
        self.review_reason.as_deref()
    }

    /// Why the server refused the last change, if it did.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }

    /// Attachments of the record.
    pub fn attachments(&self) -> &[AttachmentRef] {
        &self.attachments
    }

    /// The standard addresses the record refers to, from the device's
    /// gazetteer, so address parts are derived, not typed.
    fn addresses(&self) -> Addresses {
        let mut book = HashMap::new();
        for f in self.form.fields() {
            if matches!(f.def.kind, FieldKind::AddressRef) {
                let id = self
                    .values
                    .get(f.name())
                    .and_then(Json::as_str)
                    .and_then(|s| s.parse::<RecordId>().ok());
                if let Some(record) = id.and_then(|id| self.device.store().record(id).ok()) {
                    book.insert(record.id, record.values);
                }
            }
        }
        Addresses(book)
    }

    /// Runs `f` with what validation needs: today, the attachments, and the
    /// standard addresses the record refers to.
    fn with_ctx<T>(&self, f: impl FnOnce(&ValidationContext<'_>) -> T) -> T {
        let hashes: Vec<_> = self.attachments.iter().map(|a| a.sha256).collect();
        let book = self.addresses();
        f(&ValidationContext {
            today: self.device.platform().today(),
            attachments: &hashes,
            addresses: Some(&book),
        })
    }

    fn refresh_derived(&mut self) {
        // The context is read from the answers (the address they name), so
        // it is built before they are taken out to be derived into.
        let mut values = self.values.clone();
        self.with_ctx(|ctx| self.form.derive(&mut values, ctx));
        self.values = values;
    }

    fn save(&self) -> Result<(), CoreError> {
        Ok(self
            .device
            .store()
            .save_draft(self.id, &self.values, &self.attachments)?)
    }

    fn field(&self, path: &str) -> Result<&CompiledField, CoreError> {
        let unknown = || CoreError::UnknownField(path.to_owned());
        match parse_path(path).ok_or_else(unknown)? {
            Path::Top(name) => self.form.field(name).ok_or_else(unknown),
            Path::Entry(group, _, name) => self
                .form
                .field(group)
                .and_then(|g| g.children.iter().find(|c| c.name() == name))
                .ok_or_else(unknown),
        }
    }

    /// Whether a supervisor approved the record (an approved hazard still
    /// takes its rectification).
    pub fn approved(&self) -> bool {
        self.approved
    }

    /// Whether the officer may change the record at all.
    pub fn editable(&self) -> bool {
        self.editable
    }

    /// Whether the officer may not change the top-level field `name` here:
    /// a hazard's verification is the supervisor's, and an approved hazard
    /// takes only its rectification part.
    pub fn is_locked(&self, name: &str) -> bool {
        self.locked.iter().any(|l| l == name)
    }

    /// Refuses a change to a locked field (or an entry of one).
    fn check_open(&self, path: &str) -> Result<(), CoreError> {
        let top = match parse_path(path) {
            Some(Path::Top(name)) | Some(Path::Entry(name, _, _)) => name,
            None => path,
        };
        if self.is_locked(top) {
            return Err(CoreError::MisusedField {
                path: path.to_owned(),
                misuse: FieldMisuse::Locked,
            });
        }
        Ok(())
    }

    /// Sets an answer (`null` clears it) and autosaves. Derived fields are
    /// read-only: setting one is refused; so is setting a locked one.
    pub fn set(&mut self, path: &str, value: Json) -> Result<(), CoreError> {
        self.check_open(path)?;
        if self.field(path)?.def.derived.is_some() {
            return Err(CoreError::MisusedField {
                path: path.to_owned(),
                misuse: FieldMisuse::Derived,
            });
        }
        let target =
            match parse_path(path).ok_or_else(|| CoreError::UnknownField(path.to_owned()))? {
                Path::Top(name) => Some((&mut self.values, name)),
                Path::Entry(group, i, name) => self
                    .values
                    .get_mut(group)
                    .and_then(Json::as_array_mut)
                    .and_then(|items| items.get_mut(i))
                    .and_then(Json::as_object_mut)
                    .map(|o| (o, name)),
            };
        let (map, name) = target.ok_or_else(|| CoreError::UnknownField(path.to_owned()))?;
        if value.is_null() || value.as_str().is_some_and(str::is_empty) {
            map.remove(name);
        } else {
            map.insert(name.to_owned(), value);
        }
        self.refresh_derived();
        self.save()
    }

    /// Adds an entry to a repeat group (e.g. another resident); returns its index.
    pub fn add_entry(&mut self, group: &str, entry: Values) -> Result<usize, CoreError> {
        self.check_open(group)?;
        if !matches!(self.field(group)?.def.kind, FieldKind::Repeat { .. }) {
            return Err(CoreError::MisusedField {
                path: group.to_owned(),
                misuse: FieldMisuse::NotRepeat,
            });
        }
        let items = self
            .values
            .entry(group.to_owned())
            .or_insert_with(|| json!([]));
        let Some(items) = items.as_array_mut() else {
            return Err(CoreError::MisusedField {
                path: group.to_owned(),
                misuse: FieldMisuse::NotRepeat,
            });
        };
        items.push(Json::Object(entry));
        let index = items.len() - 1;
        self.refresh_derived();
        self.save()?;
        Ok(index)
    }

    /// Removes an entry of a repeat group.
    pub fn remove_entry(&mut self, group: &str, index: usize) -> Result<(), CoreError> {
        self.check_open(group)?;
        if let Some(items) = self.values.get_mut(group).and_then(Json::as_array_mut) {
            if index < items.len() {
                items.remove(index);
            }
        }
        self.save()
    }

    /// Adds a photo to a photo field: processed, sealed on disk, attached.
    pub fn add_photo(&mut self, field: &str, bytes: &[u8]) -> Result<AttachmentRef, CoreError> {
        self.check_open(field)?;
        if !matches!(self.field(field)?.def.kind, FieldKind::Photo { .. }) {
            return Err(CoreError::MisusedField {
                path: field.to_owned(),
                misuse: FieldMisuse::NotPhoto,
            });
        }
        let attachment = self.device.add_photo(bytes)?;
        let list = self
            .values
            .entry(field.to_owned())
            .or_insert_with(|| json!([]));
        if let Some(items) = list.as_array_mut() {
            items.push(json!(attachment.sha256));
        }
        if !self
            .attachments
            .iter()
            .any(|a| a.sha256 == attachment.sha256)
        {
            self.attachments.push(attachment.clone());
        }
        self.save()?;
        Ok(attachment)
    }

    /// Removes photo `sha` from a photo field (a wrong or blurred shot,
    /// before saving); the field is cleared when it was the last. A photo
    /// nothing else names is deleted from the device, unless the server
    /// already has it (an earlier version carried it).
    pub fn remove_photo(&mut self, field: &str, sha: &Sha256) -> Result<(), CoreError> {
        self.check_open(field)?;
        if !matches!(self.field(field)?.def.kind, FieldKind::Photo { .. }) {
            return Err(CoreError::MisusedField {
                path: field.to_owned(),
                misuse: FieldMisuse::NotPhoto,
            });
        }
        let hex = sha.to_hex();
        if let Some(items) = self.values.get_mut(field).and_then(Json::as_array_mut) {
            items.retain(|v| v.as_str() != Some(hex.as_str()));
            if items.is_empty() {
                self.values.remove(field);
            }
        }
        let named = serde_json::to_string(&self.values)
            .map_err(LocalStoreError::from)?
            .contains(&hex);
        if !named {
            self.attachments.retain(|a| a.sha256 != *sha);
        }
        self.save()?;
        if !named {
            self.device.store().discard_photo_if_unused(sha)?;
        }
        Ok(())
    }

    /// The photos of a photo field, in the order they were taken.
    pub fn photos(&self, field: &str) -> Vec<Sha256> {
        self.values
            .get(field)
            .and_then(Json::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The officer's values in this record that another device's value
    /// beat in a same-field conflict, still standing lost.
    pub fn lost_values(&self) -> Result<Vec<LostValue>, CoreError> {
        Ok(self.device.store().lost_values(Some(self.id))?)
    }

    /// Re-applies the officer's value of `field` that lost a conflict, as a
    /// new change: set, finalized (queued for sync; it is based on the
    /// version that holds the winner, so it is not concurrent and stands),
    /// and the loss forgotten. If the record does not validate, the value
    /// stays entered in the draft, nothing is queued, and the loss is shown
    /// until a pulled version holds the value.
    pub fn reapply_lost(&mut self, field: &str) -> Result<(), CoreError> {
        let lost = self
            .lost_values()?
            .into_iter()
            .find(|l| l.field == field)
            .ok_or_else(|| CoreError::UnknownField(field.to_owned()))?;
        self.set(field, lost.mine)?;
        self.finalize()?;
        Ok(self.device.store().forget_lost(self.id, field)?)
    }

    /// Keeps the value that won `field`'s conflict: the loss is forgotten.
    pub fn keep_winner(&self, field: &str) -> Result<(), CoreError> {
        Ok(self.device.store().forget_lost(self.id, field)?)
    }

    /// Whether a top-level field is shown given the answers so far.
    pub fn is_relevant(&self, name: &str) -> bool {
        self.form.field(name).is_some_and(|f| {
            self.form
                .is_relevant(f, &self.values, self.device.platform().today())
        })
    }

    /// Every field error as things stand (for inline messages).
    pub fn errors(&self) -> Vec<FieldError> {
        self.with_ctx(|ctx| self.form.validate(&self.values, ctx))
            .err()
            .unwrap_or_default()
    }

    /// Validates everything; if valid, queues the record for sync (record and
    /// outbox entry in one transaction). Otherwise returns every field error
    /// at once ([`CoreError::Invalid`]) and changes nothing.
    pub fn finalize(&mut self) -> Result<(), CoreError> {
        let normalized = self
            .with_ctx(|ctx| self.form.validate(&self.values, ctx))
            .map_err(CoreError::Invalid)?;
        // Keep only the attachments the final values still name.
        let text = serde_json::to_string(&normalized).unwrap_or_default();
        let attachments: Vec<_> = self
            .attachments
            .iter()
            .filter(|a| text.contains(&a.sha256.to_hex()))
            .cloned()
            .collect();
        self.device.store().finalize(
            self.id,
            &normalized,
            &attachments,
            self.officer.as_deref(),
        )?;
        self.values = normalized;
        self.attachments = attachments;
        self.state = LocalState::Queued;
        self.review_reason = None;
        self.rejection = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use beatbook_schema::catalogue::form_ids;
    use beatbook_schema::form::Values;
    use serde_json::json;

    use crate::error::{CoreError, FieldMisuse};
    use crate::photos::synthetic_camera_jpeg;
    use crate::testing::{address, citizen_id, enrolled_core, finalized, obj};

    fn hazard_values() -> Values {
        obj(
            json!({"category": "group_rented", "description": "楼道堆放杂物",
            "severity": "medium"}),
        )
    }

    #[test]
    fn a_photo_removed_before_saving_is_neither_kept_nor_sent() {
        let (_dir, core) = enrolled_core();
        let mut s = core
            .new_record(form_ids::HAZARD, None, hazard_values())
            .unwrap();
        let wrong = s
            .add_photo("photos", &synthetic_camera_jpeg(64, 48, 1).unwrap())
            .unwrap();
        let right = s
            .add_photo("photos", &synthetic_camera_jpeg(64, 48, 2).unwrap())
            .unwrap();
        assert_eq!(s.photos("photos"), [wrong.sha256, right.sha256]);

        s.remove_photo("photos", &wrong.sha256).unwrap();
        assert_eq!(s.photos("photos"), [right.sha256]);
        // Autosaved: a session opened again sees the same.
        let again = core.open_record(s.id()).unwrap();
        assert_eq!(again.photos("photos"), [right.sha256]);

        let sealed = |sha| crate::photos::photo_path(&core.store().photo_dir(), sha);
        assert!(
            !sealed(&wrong.sha256).exists(),
            "nothing names it: deleted from the device"
        );
        assert!(sealed(&right.sha256).exists());
        assert_eq!(
            core.store().unsent().unwrap().photos,
            1,
            "the removed photo is not waiting to go"
        );

        s.finalize().unwrap();
        let stored = core.record(s.id()).unwrap();
        let carried: Vec<_> = stored.attachments.iter().map(|a| a.sha256).collect();
        assert_eq!(carried, [right.sha256], "the removed photo is not sent");
        assert_eq!(stored.values["photos"], json!([right.sha256.to_hex()]));
    }

    #[test]
    fn a_photo_a_saved_version_carries_stays_on_the_device_when_removed_from_the_draft() {
        let (_dir, core) = enrolled_core();
        let mut s = core
            .new_record(form_ids::HAZARD, None, hazard_values())
            .unwrap();
        let first = s
            .add_photo("photos", &synthetic_camera_jpeg(64, 48, 9).unwrap())
            .unwrap();
        s.finalize().unwrap(); // queued: the change names the photo
        let mut again = core.open_record(s.id()).unwrap();
        again
            .add_photo("photos", &synthetic_camera_jpeg(64, 48, 10).unwrap())
            .unwrap();
        again.remove_photo("photos", &first.sha256).unwrap();
        let sealed = crate::photos::photo_path(&core.store().photo_dir(), &first.sha256);
        assert!(sealed.exists(), "the queued change still sends it");
        assert!(core.photo(&first.sha256).is_ok());
    }

    #[test]
    fn removing_the_last_photo_empties_the_field_and_a_retake_fills_it() {
        let (_dir, core) = enrolled_core();
        let mut s = core
            .new_record(form_ids::HAZARD, None, hazard_values())
            .unwrap();
        let only = s
            .add_photo("photos", &synthetic_camera_jpeg(64, 48, 3).unwrap())
            .unwrap();
        s.remove_photo("photos", &only.sha256).unwrap();
        assert!(s.values().get("photos").is_none());
        match s.finalize() {
            Err(CoreError::Invalid(errors)) => {
                assert!(errors.iter().any(|e| e.path == "photos"), "{errors:?}")
            }
            other => panic!("a hazard needs a photo: {other:?}"),
        }
        let retaken = s
            .add_photo("photos", &synthetic_camera_jpeg(64, 48, 4).unwrap())
            .unwrap();
        s.finalize().unwrap();
        assert_eq!(
            core.record(s.id()).unwrap().values["photos"],
            json!([retaken.sha256.to_hex()])
        );
    }

    #[test]
    fn after_photos_are_removed_the_same_way_and_only_from_their_field() {
        let (_dir, core) = enrolled_core();
        let mut values = hazard_values();
        values.insert("status".into(), json!("rectified"));
        let mut s = core.new_record(form_ids::HAZARD, None, values).unwrap();
        let before = s
            .add_photo("photos", &synthetic_camera_jpeg(64, 48, 5).unwrap())
            .unwrap();
        let after = s
            .add_photo("after_photos", &synthetic_camera_jpeg(64, 48, 6).unwrap())
            .unwrap();
        let blurred = s
            .add_photo("after_photos", &synthetic_camera_jpeg(64, 48, 7).unwrap())
            .unwrap();
        // The same photo named in the other field stays there.
        s.remove_photo("after_photos", &before.sha256).unwrap();
        assert_eq!(s.photos("photos"), [before.sha256]);
        let sealed = |sha| crate::photos::photo_path(&core.store().photo_dir(), sha);
        assert!(sealed(&before.sha256).exists(), "still named: kept");
        s.remove_photo("after_photos", &blurred.sha256).unwrap();
        assert_eq!(s.photos("after_photos"), [after.sha256]);
        match s.remove_photo("description", &after.sha256) {
            Err(CoreError::MisusedField {
                misuse: FieldMisuse::NotPhoto,
                ..
            }) => {}
            other => panic!("not a photo field: {other:?}"),
        }
    }

    #[test]
    fn a_thumbnail_is_made_from_the_encrypted_photo_store() {
        let (dir, core) = enrolled_core();
        let mut s = core
            .new_record(form_ids::HAZARD, None, hazard_values())
            .unwrap();
        let photo = s
            .add_photo("photos", &synthetic_camera_jpeg(800, 600, 8).unwrap())
            .unwrap();
        let thumb = core.photo_thumbnail(&photo.sha256, 120).unwrap();
        let small = image::load_from_memory(&thumb).unwrap();
        assert_eq!((small.width(), small.height()), (120, 90));
        // Nothing on disk is a plain JPEG: the thumbnail came from sealed bytes.
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
                "plain JPEG at {}",
                entry.display()
            );
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                files.extend(walk(&p));
            } else {
                files.push(p);
            }
        }
        files
    }

    #[test]
    fn the_repeat_group_editor_adds_fills_derives_and_removes_entries() {
        let (_dir, core) = enrolled_core();
        let at = address(&core, "7");
        let mut s = core
            .new_record(
                form_ids::VISIT,
                None,
                obj(json!({"address": at, "purpose": "household_visit", "outcome": "updated"})),
            )
            .unwrap();
        assert_eq!(s.add_entry("residents", Values::new()).unwrap(), 0);
        assert_eq!(s.add_entry("residents", Values::new()).unwrap(), 1);
        s.set("residents[0].name", json!("王芳")).unwrap();
        s.set("residents[1].name", json!("李强")).unwrap();
        s.set("residents[1].id_number", json!(citizen_id(13)))
            .unwrap();
        let entry =
            |s: &crate::FormSession, i: usize, k: &str| s.values()["residents"][i].get(k).cloned();
        assert_eq!(
            entry(&s, 1, "gender"),
            Some(json!("male")),
            "derived in its own entry"
        );
        assert_eq!(entry(&s, 1, "birth_date"), Some(json!("1985-06-15")));
        assert_eq!(entry(&s, 0, "gender"), None, "and only there");
        match s.set("residents[1].gender", json!("female")) {
            Err(CoreError::MisusedField {
                misuse: FieldMisuse::Derived,
                ..
            }) => {}
            other => panic!("a derived entry field is read-only: {other:?}"),
        }
        match s.add_entry("observations", Values::new()) {
            Err(CoreError::MisusedField {
                misuse: FieldMisuse::NotRepeat,
                ..
            }) => {}
            other => panic!("not a repeat group: {other:?}"),
        }
        assert!(matches!(
            s.set("residents[5].name", json!("x")),
            Err(CoreError::UnknownField(_))
        ));

        s.remove_entry("residents", 0).unwrap();
        s.remove_entry("residents", 9).unwrap(); // past the end: nothing happens
        assert_eq!(s.values()["residents"].as_array().map(Vec::len), Some(1));
        assert_eq!(entry(&s, 0, "name"), Some(json!("李强")));
        assert_eq!(entry(&s, 0, "gender"), Some(json!("male")));
        s.finalize().unwrap();
        let stored = core.record(s.id()).unwrap();
        assert_eq!(stored.values["residents"][0]["name"], json!("李强"));
    }

    #[test]
    fn address_parts_are_derived_from_the_picked_address_and_follow_a_new_pick() {
        let (_dir, core) = enrolled_core();
        let (first, second) = (address(&core, "12"), address(&core, "14"));
        let mut s = core
            .new_record(form_ids::HOUSE, None, obj(json!({"address": first})))
            .unwrap();
        assert_eq!(s.values().get("community"), Some(&json!("人民社区")));
        assert_eq!(s.values().get("road"), Some(&json!("人民路")));
        assert_eq!(s.values().get("door_number"), Some(&json!("12")));
        s.set("address", json!(second)).unwrap();
        assert_eq!(s.values().get("door_number"), Some(&json!("14")));
        match s.set("road", json!("别的路")) {
            Err(CoreError::MisusedField {
                misuse: FieldMisuse::Derived,
                ..
            }) => {}
            other => panic!("an address part is never typed: {other:?}"),
        }
        s.set("use", json!("owner_occupied")).unwrap();
        s.set("owner_name", json!("王芳")).unwrap();
        s.finalize().unwrap();
        assert_eq!(
            core.record(s.id()).unwrap().values["door_number"],
            json!("14")
        );
    }

    #[test]
    fn carry_forward_fields_start_from_the_previous_record_of_the_form_and_others_do_not() {
        let (_dir, core) = enrolled_core();
        let at = address(&core, "9");
        for purpose in ["verification", "safety_check"] {
            finalized(
                &core,
                form_ids::VISIT,
                obj(
                    json!({"address": at, "purpose": purpose, "outcome": "unchanged",
                    "observations": "灭火器过期"}),
                ),
            );
        }
        // From the newest one.
        let next = core
            .new_record(form_ids::VISIT, None, Values::new())
            .unwrap();
        assert_eq!(
            next.values().get("purpose"),
            Some(&json!("safety_check")),
            "carried forward"
        );
        assert_eq!(
            next.values().get("observations"),
            None,
            "not a carry-forward field"
        );
        assert_eq!(next.values().get("address"), None);
        // What the officer starts with (prefill) wins over what is carried.
        let prefilled = core
            .new_record(form_ids::VISIT, None, obj(json!({"purpose": "other"})))
            .unwrap();
        assert_eq!(prefilled.values().get("purpose"), Some(&json!("other")));
        // Another form carries nothing from a visit.
        let house = core
            .new_record(form_ids::HOUSE, None, Values::new())
            .unwrap();
        assert_eq!(house.values().get("purpose"), None);
    }
}
