//! Pushing demo records through the real sync path: each officer gets an
//! enrolled device, changes carry that device's hybrid logical clock, and
//! every batch goes through [`crate::sync::push`], the service the `/v1/push`
//! handler calls, so demo data is validated exactly like device data.

use beatbook_schema::form::Values;
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, FormId, GridId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, UserInfo};
use beatbook_schema::record::AttachmentRef;
use chrono::Utc;

use super::{DemoError, Progress, Rejection};
use crate::auth::{hash_token, new_token};
use crate::state::AppState;

/// Most changes per push, well under the server's batch limit.
pub const BATCH: usize = 500;

/// One record change to push.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The record.
    pub record: RecordId,
    /// Its form.
    pub form: &'static str,
    /// Its grid.
    pub grid: GridId,
    /// The revision it is based on (0 for a new record).
    pub base_revision: u64,
    /// Changed fields.
    pub fields: Values,
    /// All attachments after the change.
    pub attachments: Vec<AttachmentRef>,
}

/// An officer's enrolled demo device.
#[derive(Debug, Clone)]
pub struct DemoDevice {
    /// Its user.
    pub user: UserInfo,
    /// The device.
    pub device: DeviceId,
    clock: Hlc,
}

impl DemoDevice {
    /// Enrolls a device for `user` with a token nobody keeps (the device
    /// exists for the records it authored, not to sync again).
    pub async fn enroll(state: &AppState, user: UserInfo) -> Result<Self, DemoError> {
        let device = DeviceId::new_v7();
        let name = format!("演示设备（{}）", user.name);
        state
            .store
            .enroll(device, user.id, &name, hash_token(&new_token()), Utc::now())
            .await?;
        Ok(Self {
            user,
            device,
            clock: Hlc::zero(device),
        })
    }

    fn change(&mut self, draft: Draft, version: u32) -> Change {
        let now = Utc::now();
        self.clock = self.clock.tick(now.timestamp_millis().max(0) as u64);
        Change {
            change_id: ChangeId::new_v7(),
            record_id: draft.record,
            form_id: FormId::new(draft.form),
            form_version: version,
            grid: draft.grid,
            base_revision: draft.base_revision,
            hlc: self.clock,
            at: now,
            op: ChangeOp::Upsert {
                fields: draft.fields,
                attachments: draft.attachments,
            },
        }
    }
}

/// Pushes drafts and counts what it did.
pub struct Sender<'a> {
    state: &'a AppState,
    /// Pushes made.
    pub batches: usize,
    /// Changes accepted.
    pub changes: usize,
}

impl<'a> Sender<'a> {
    /// A sender over `state`'s store.
    pub fn new(state: &'a AppState) -> Self {
        Self {
            state,
            batches: 0,
            changes: 0,
        }
    }

    /// Pushes `drafts` from `device` in batches of at most [`BATCH`],
    /// counting them into `tally` and reporting it after each batch; fails
    /// on the first batch with a change that is not accepted outright.
    pub async fn push(
        &mut self,
        device: &mut DemoDevice,
        drafts: Vec<Draft>,
        tally: &mut Progress,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), DemoError> {
        let mut drafts = drafts.into_iter().peekable();
        while drafts.peek().is_some() {
            let chunk: Vec<Draft> = drafts.by_ref().take(BATCH).collect();
            tally.done += chunk.len();
            self.push_batch(device, chunk).await?;
            progress(tally.clone());
        }
        Ok(())
    }

    async fn push_batch(
        &mut self,
        device: &mut DemoDevice,
        drafts: Vec<Draft>,
    ) -> Result<(), DemoError> {
        let forms = self.state.forms();
        let mut changes = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let version = forms
                .latest(draft.form)
                .map(|f| f.version())
                .ok_or(DemoError::NoForm(draft.form))?;
            changes.push(device.change(draft, version));
        }
        let forms_of: Vec<(RecordId, String)> = changes
            .iter()
            .map(|c| (c.record_id, c.form_id.as_str().to_owned()))
            .collect();
        let results = crate::sync::push(
            self.state.store.as_ref(),
            &self.state.forms,
            &self.state.policy,
            device.user.clone(),
            device.device,
            BatchId::new_v7(),
            changes,
        )
        .await?;
        self.batches += 1;
        let pushed = results.len();
        let rejections: Vec<Rejection> = results
            .into_iter()
            .zip(forms_of)
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
}
