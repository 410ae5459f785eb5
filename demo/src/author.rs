//! Demo records as a device writes them: each change stamped by its
//! device's hybrid logical clock, in batches a push carries.

use beatbook_schema::form::Values;
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, FormId, GridId, RecordId};
use beatbook_schema::protocol::{Change, ChangeOp};
use beatbook_schema::record::AttachmentRef;
use chrono::Utc;

use crate::PlanError;

/// Most changes per push, well under the server's batch limit.
pub const BATCH: usize = 500;

/// One record change to push, before a device stamps it.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The record.
    pub record: RecordId,
    /// Its form (one of [`beatbook_schema::catalogue::form_ids`]).
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

/// One push: a batch id and its changes.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The batch.
    pub id: BatchId,
    /// Its changes, in order.
    pub changes: Vec<Change>,
}

/// A demo device writing changes: its id and its hybrid logical clock.
#[derive(Debug, Clone)]
pub struct Author {
    device: DeviceId,
    clock: Hlc,
}

impl Author {
    /// The device `device`, its clock at zero.
    pub fn new(device: DeviceId) -> Self {
        Self {
            device,
            clock: Hlc::zero(device),
        }
    }

    /// The device.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// `drafts` as one batch of changes written now, each of the version
    /// `version_of` answers for its form (the latest one published).
    pub fn batch(
        &mut self,
        drafts: Vec<Draft>,
        version_of: impl Fn(&str) -> Option<u32>,
    ) -> Result<Batch, PlanError> {
        let changes = drafts
            .into_iter()
            .map(|draft| {
                let version = version_of(draft.form).ok_or(PlanError::NoForm(draft.form))?;
                Ok(self.change(draft, version))
            })
            .collect::<Result<_, PlanError>>()?;
        Ok(Batch {
            id: BatchId::new_v7(),
            changes,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(form: &'static str) -> Draft {
        Draft {
            record: RecordId::new_v7(),
            form,
            grid: GridId::new("G1"),
            base_revision: 0,
            fields: Values::new(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_batch_carries_the_latest_version_and_a_rising_clock() {
        let device = DeviceId::new_v7();
        let mut author = Author::new(device);
        let batch = author
            .batch(vec![draft("hazard"), draft("visit")], |form| {
                (form == "hazard").then_some(3).or(Some(1))
            })
            .unwrap();
        assert_eq!(batch.changes.len(), 2);
        assert_eq!(batch.changes[0].form_version, 3);
        assert_eq!(batch.changes[1].form_version, 1);
        assert!(batch.changes[0].hlc < batch.changes[1].hlc);
        assert_eq!(batch.changes[1].hlc.device, device);
    }

    #[test]
    fn a_form_nobody_published_is_named() {
        let mut author = Author::new(DeviceId::new_v7());
        let refused = author.batch(vec![draft("patrol")], |_| None);
        assert!(
            matches!(refused, Err(PlanError::NoForm("patrol"))),
            "{refused:?}"
        );
    }
}
