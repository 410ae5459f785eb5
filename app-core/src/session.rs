//! A form session: one record being entered or revised. Every answer is
//! autosaved; relevance and derived values follow the answers; finalizing
//! validates everything at once and queues the change.

use std::collections::HashMap;
use std::sync::Arc;

use beatbook_schema::form::{
    AddressBook, CompiledField, DefaultValue, FieldError, FieldKind, Form, ValidationContext,
    Values,
};
use beatbook_schema::ids::{GridId, RecordId};
use beatbook_schema::protocol::UserInfo;
use beatbook_schema::record::AttachmentRef;
use serde_json::{json, Value as Json};

use crate::device::Device;
use crate::error::{CoreError, FieldMisuse};
use crate::platform::device_fact;
use crate::store::{LocalRecord, LocalState, Rejection};

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
        };
        session.refresh_derived();
        session.save()?;
        Ok(session)
    }

    pub(crate) fn resume(device: Device, form: Arc<Form>, record: LocalRecord) -> Self {
        let review_reason = record.review.as_ref().and_then(|r| match &r.decision {
            beatbook_schema::protocol::ReviewDecision::Return { reason } => Some(reason.clone()),
            beatbook_schema::protocol::ReviewDecision::Approve => None,
        });
        Self {
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
        let mut values = std::mem::take(&mut self.values);
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

    /// Sets an answer (`null` clears it) and autosaves. Derived fields are
    /// read-only: setting one is refused.
    pub fn set(&mut self, path: &str, value: Json) -> Result<(), CoreError> {
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
        if let Some(items) = self.values.get_mut(group).and_then(Json::as_array_mut) {
            if index < items.len() {
                items.remove(index);
            }
        }
        self.save()
    }

    /// Adds a photo to a photo field: processed, sealed on disk, attached.
    pub fn add_photo(&mut self, field: &str, bytes: &[u8]) -> Result<AttachmentRef, CoreError> {
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
        self.device
            .store()
            .finalize(self.id, &normalized, &attachments)?;
        self.values = normalized;
        self.attachments = attachments;
        self.state = LocalState::Queued;
        self.review_reason = None;
        self.rejection = None;
        Ok(())
    }
}
