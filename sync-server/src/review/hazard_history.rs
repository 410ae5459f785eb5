//! A hazard's history as the board shows it: each version that moved its
//! status or its verification, when, by whom (the officer whose sync wrote
//! it, or the supervisor whose step did, from the audit log) and why (a
//! failed verification's reason).

use std::collections::HashMap;

use beatbook_schema::catalogue::hazard;
use beatbook_schema::ids::{BatchId, RecordId};
use beatbook_schema::protocol::{RecordVersion, Role};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::error::ReviewError;
use super::reviewer::Reviewer;
use super::rules::HazardStep;
use crate::state::AppState;
use beatbook_store::{AuditQuery, StoreError, StoredRecord};

/// The most audit entries of each hazard step read for one board.
const MAX_STEPS: u32 = 2000;

/// One step of a hazard's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HazardEvent {
    /// The version it wrote.
    pub revision: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The status after it.
    pub status: String,
    /// The deadline, when this step set it.
    pub deadline: Option<String>,
    /// Who: the officer whose sync wrote it, or the supervisor.
    pub by: Option<String>,
    /// The supervisor's verification this step recorded (`passed`, `failed`).
    pub verification: Option<String>,
    /// Why a verification failed.
    pub reason: Option<String>,
}

/// Names of who wrote what, read once for a whole board.
pub struct Authors {
    /// The supervisor of each hazard step, by record and the revision it wrote.
    steps: HashMap<(String, u64), String>,
    /// The officer of each batch.
    batches: HashMap<BatchId, Option<String>>,
}

impl Authors {
    /// Reads the hazard steps of the audit log the reviewer may see.
    pub async fn load(state: &AppState, r: &Reviewer) -> Result<Self, ReviewError> {
        let mut steps = HashMap::new();
        for action in HazardStep::ACTIONS {
            let (entries, _) = state
                .store
                .audit_log(AuditQuery {
                    station: (r.user.role != Role::Admin).then(|| r.user.station.clone()),
                    action: Some(action.to_owned()),
                    limit: MAX_STEPS,
                    offset: 0,
                })
                .await?;
            for e in entries {
                // The entry names the revision the supervisor saw; the step wrote the next.
                if let Some(seen) = e.entry.detail.get("revision").and_then(Json::as_u64) {
                    steps.insert((e.entry.target.clone(), seen + 1), e.entry.name.clone());
                }
            }
        }
        Ok(Self {
            steps,
            batches: HashMap::new(),
        })
    }

    async fn officer(
        &mut self,
        state: &AppState,
        r: &Reviewer,
        batch: BatchId,
    ) -> Result<Option<String>, ReviewError> {
        if let Some(name) = self.batches.get(&batch) {
            return Ok(name.clone());
        }
        let name = state
            .store
            .batch_row(batch, r.scope.clone())
            .await?
            .map(|row| row.officer);
        self.batches.insert(batch, name.clone());
        Ok(name)
    }

    /// The history of `record`, oldest first.
    pub async fn history(
        &mut self,
        state: &AppState,
        r: &Reviewer,
        record: &StoredRecord,
    ) -> Result<Vec<HazardEvent>, ReviewError> {
        let id: RecordId = record.id;
        let versions: Vec<RecordVersion> = state
            .store
            .record_history(id)
            .await?
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|e| {
                    StoreError::Corrupt(format!("a stored version of record {id}: {e}"))
                })
            })
            .collect::<Result<_, _>>()?;
        let batches = state.store.record_batches(id).await?;
        let text = |v: &RecordVersion, name: &str| {
            v.record
                .values
                .get(name)
                .and_then(Json::as_str)
                .map(str::to_owned)
        };
        let mut events = Vec::new();
        let mut before: Option<&RecordVersion> = None;
        for v in &versions {
            let status = text(v, hazard::STATUS).unwrap_or_else(|| hazard::OPEN.to_owned());
            let was = before.and_then(|b| text(b, hazard::STATUS));
            let deadline = text(v, hazard::DEADLINE)
                .filter(|d| before.is_none_or(|b| text(b, hazard::DEADLINE).as_ref() != Some(d)));
            before = Some(v);
            if (was.as_deref() == Some(status.as_str()) && deadline.is_none()) || v.deleted {
                continue;
            }
            // A check on the review pages moves a rectified hazard on.
            let checked =
                was.as_deref() == Some(hazard::RECTIFIED) && !batches.contains_key(&v.revision);
            let by = match batches.get(&v.revision) {
                Some(batch) => self.officer(state, r, *batch).await?,
                None => self
                    .steps
                    .get(&(format!("record:{id}"), v.revision))
                    .cloned(),
            };
            let verification = text(v, hazard::VERIFICATION).filter(|_| checked);
            let reason = (verification.as_deref() == Some(hazard::FAILED))
                .then(|| text(v, hazard::VERIFICATION_REASON))
                .flatten();
            events.push(HazardEvent {
                revision: v.revision,
                at: v.record.updated_at,
                status,
                deadline,
                by,
                verification,
                reason,
            });
        }
        Ok(events)
    }
}
