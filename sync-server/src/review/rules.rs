//! The rules of a supervisor's review (approve, return) and hazard checks,
//! as edits the store applies inside its transaction (so they judge the
//! record as it is at that moment):
//!
//! - approve or return: only within the supervisor's scope, only the version
//!   the supervisor saw (a record edited since is refused, not decided
//!   blindly), never a deleted record; a whole batch at once touches only
//!   its records still waiting. The decision is a new version of the record
//!   ([`StoredRecord::reviewed`], as [`beatbook_store::Store::review`] writes it),
//!   which the officer's device pulls.
//! - a hazard's steps ([`HazardStep`]): the supervisor sets its deadline and
//!   responsible party, and checks a hazard reported `rectified`: passed, it
//!   becomes `verified` (已复查); failed, it goes back to `rectifying` with
//!   the reason. Each is a new version with a clock that orders after every
//!   value it has seen, re-validated against its form.
//! - resolve a duplicate person (two records, one ID number): keep one (the
//!   other retired as a tombstone, which devices already understand: they
//!   drop it), record a move between grids (the same, the kept record in the
//!   new grid), or mark the pair distinct (no record changes).

use std::collections::HashMap;
use std::sync::Arc;

use beatbook_schema::catalogue::{form_ids, hazard};
use beatbook_schema::form::{Form, ValidationContext};
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{DeviceId, RecordId};
use beatbook_schema::merge::{self, FieldState};
use beatbook_schema::protocol::{ErrorCode, Review};
use beatbook_schema::record::RecordStatus;
use beatbook_schema::text::Text;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::sync::Forms;
use beatbook_store::{ReadScope, RecordEdit, Refusal, StoredRecord};

/// The device id of edits made on the review pages (no phone made them).
pub const REVIEW_DEVICE: DeviceId = DeviceId(Uuid::nil());

fn refuse(code: ErrorCode, zh: &str, en: &str) -> Refusal {
    Refusal {
        code,
        message: Text::new(zh, en),
    }
}

fn common(scope: &ReadScope, r: &StoredRecord, expected: Option<u64>) -> Result<(), Refusal> {
    if !scope.contains(&r.grid) {
        return Err(refuse(
            ErrorCode::OutOfScope,
            "该记录不在您的管辖范围内",
            "the record is not in your scope",
        ));
    }
    if r.deleted {
        return Err(refuse(
            ErrorCode::Conflict,
            "该记录已被删除",
            "the record was deleted",
        ));
    }
    if expected != Some(r.revision) {
        return Err(refuse(
            ErrorCode::Conflict,
            "该记录在您查看后已被修改，请刷新页面后重新审核",
            "the record changed after you opened it: reload the page and review it again",
        ));
    }
    Ok(())
}

/// Approves or returns each record at the revision in `expected`;
/// `pending_only` leaves records already decided alone (a whole batch).
pub fn review(
    scope: ReadScope,
    expected: HashMap<RecordId, u64>,
    review: Review,
    pending_only: bool,
) -> RecordEdit {
    Box::new(move |r| {
        common(&scope, r, expected.get(&r.id).copied())?;
        if pending_only && r.status != RecordStatus::Submitted {
            return Err(refuse(
                ErrorCode::Conflict,
                "该记录已审核",
                "the record was decided already",
            ));
        }
        Ok(r.clone().reviewed(review.clone()))
    })
}

/// What a supervisor does to a hazard on the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HazardStep {
    /// Sets the deadline and who must rectify it (`None` clears a value).
    Assign {
        /// Rectify by (`YYYY-MM-DD`).
        deadline: Option<String>,
        /// The responsible party.
        party: Option<String>,
        /// Their phone.
        phone: Option<String>,
    },
    /// The rectification was checked and passed: verified.
    Pass,
    /// The rectification was checked and failed: back to rectifying, with the reason.
    Fail {
        /// What is still wrong, for whoever rectifies it.
        reason: String,
    },
}

impl HazardStep {
    /// The audit words of the steps: assign, pass, fail.
    pub const ACTIONS: [&'static str; 3] = ["hazard_assign", "verify", "verify_fail"];

    /// The audit word of the step.
    pub fn action(&self) -> &'static str {
        let [assign, pass, fail] = Self::ACTIONS;
        match self {
            HazardStep::Assign { .. } => assign,
            HazardStep::Pass => pass,
            HazardStep::Fail { .. } => fail,
        }
    }

    /// The values the step writes (`null` clears one).
    fn values(&self) -> Vec<(&'static str, Json)> {
        let or_null = |v: &Option<String>| v.clone().map_or(Json::Null, Json::from);
        match self {
            HazardStep::Assign {
                deadline,
                party,
                phone,
            } => vec![
                (hazard::DEADLINE, or_null(deadline)),
                (hazard::RESPONSIBLE_PARTY, or_null(party)),
                (hazard::RESPONSIBLE_PHONE, or_null(phone)),
            ],
            HazardStep::Pass => vec![
                (hazard::STATUS, json!(hazard::VERIFIED)),
                (hazard::VERIFICATION, json!(hazard::PASSED)),
            ],
            HazardStep::Fail { reason } => vec![
                (hazard::STATUS, json!(hazard::RECTIFYING)),
                (hazard::VERIFICATION, json!(hazard::FAILED)),
                (hazard::VERIFICATION_REASON, json!(reason)),
            ],
        }
    }

    /// Refuses the step if the hazard is not where it can be taken.
    fn allowed_from(&self, status: Option<&str>) -> Result<(), Refusal> {
        match self {
            HazardStep::Assign { .. } if status == Some(hazard::VERIFIED) => Err(refuse(
                ErrorCode::Conflict,
                "该隐患已复查通过，无需再设整改期限",
                "the hazard is verified already: it needs no deadline",
            )),
            HazardStep::Pass | HazardStep::Fail { .. } if status != Some(hazard::RECTIFIED) => {
                Err(refuse(
                    ErrorCode::Conflict,
                    "只有“已整改”的隐患可以复查",
                    "only a hazard reported rectified can be verified",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Takes `step` on a hazard at revision `expected`: the values written as a
/// new version with a clock that orders after every value it has seen,
/// under the newest hazard form when the record's own version lacks a field
/// the step writes (v2 adds the verification; it keeps every v1 field), and
/// the record re-validated and normalized as a pushed change would be.
pub fn hazard_step(
    scope: ReadScope,
    expected: u64,
    step: HazardStep,
    forms: Arc<Forms>,
    now: DateTime<Utc>,
    local_offset: FixedOffset,
) -> RecordEdit {
    Box::new(move |r| {
        common(&scope, r, Some(expected))?;
        if r.form_id.as_str() != form_ids::HAZARD {
            return Err(refuse(
                ErrorCode::Conflict,
                "只有安全隐患可以复查",
                "only hazards are verified",
            ));
        }
        step.allowed_from(r.fields.get(hazard::STATUS).and_then(|s| s.value.as_str()))?;
        let values = step.values();
        let has_all = |f: &Form| values.iter().all(|(name, _)| f.field(name).is_some());
        let form = forms
            .get(r.form_id.as_str(), r.form_version)
            .filter(|f| has_all(f))
            .or_else(|| forms.latest(form_ids::HAZARD).filter(|f| has_all(f)))
            .ok_or_else(|| {
                refuse(
                    ErrorCode::UnknownForm,
                    "服务器没有发布含复查字段的隐患表单，请管理员发布最新表单",
                    "no published hazard form has the verification fields: ask an admin to publish the newest forms",
                )
            })?;
        let now_ms = now.timestamp_millis().max(0) as u64;
        let hlc = r
            .fields
            .values()
            .fold(Hlc::zero(REVIEW_DEVICE), |clock, st| {
                clock.observe(st.hlc, now_ms)
            })
            .tick(now_ms);
        let mut next = r.clone().next_revision();
        next.updated_at = now;
        next.form_version = form.version();
        let revision = next.revision;
        let state = |value: Json| FieldState {
            value,
            hlc,
            revision,
        };
        for (name, value) in values {
            next.fields.insert(name.to_owned(), state(value));
        }
        let hashes: Vec<_> = next.attachments.iter().map(|a| a.sha256).collect();
        let ctx = ValidationContext {
            today: now.with_timezone(&local_offset).date_naive(),
            attachments: &hashes,
            addresses: None,
        };
        let normalized = form
            .validate(&merge::values(&next.fields), &ctx)
            .map_err(|errors| {
                let first = errors.first().map(|e| e.message.clone());
                let (zh, en) = first.map_or_else(
                    || {
                        (
                            "记录未通过校验".to_owned(),
                            "the record does not validate".to_owned(),
                        )
                    },
                    |m| (m.zh, m.en),
                );
                Refusal {
                    code: ErrorCode::ValidationFailed,
                    message: Text::new(format!("不能保存：{zh}"), format!("cannot save: {en}")),
                }
            })?;
        // What validation normalized is stored (hidden fields cleared: a
        // failed check's hazard is rectifying again, its after-photos gone
        // from the current version, kept in the history).
        let names: Vec<String> = next
            .fields
            .keys()
            .chain(normalized.keys())
            .cloned()
            .collect();
        for name in names {
            let target = normalized.get(&name).cloned().unwrap_or(Json::Null);
            if next.fields.get(&name).is_none_or(|st| st.value != target) {
                next.fields.insert(name, state(target));
            }
        }
        let shown = form.photo_digests(&normalized);
        next.attachments.retain(|a| shown.contains(&a.sha256));
        Ok(next)
    })
}

/// How a supervisor resolves two person records that share an ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// One person recorded twice in one place: keep one, retire the other.
    KeepOne,
    /// The person moved: keep the record in the new grid, close the old one.
    Moved,
    /// Two people (a typo'd number on one): mark the pair, change neither.
    Distinct,
}

impl Resolution {
    /// From the page's form value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keep" => Some(Self::KeepOne),
            "move" => Some(Self::Moved),
            "distinct" => Some(Self::Distinct),
            _ => None,
        }
    }

    /// The audit word.
    pub fn action(self) -> &'static str {
        match self {
            Self::KeepOne => "duplicate_keep",
            Self::Moved => "duplicate_move",
            Self::Distinct => "duplicate_distinct",
        }
    }
}

/// Two live person records in `scope` sharing one ID number: what a
/// resolution needs to hold before anything is written or marked.
pub fn same_person_pair(
    scope: &ReadScope,
    a: &StoredRecord,
    b: &StoredRecord,
) -> Result<(), Refusal> {
    for r in [a, b] {
        common(scope, r, Some(r.revision))?;
    }
    let number = beatbook_store::person_id_number(a);
    if a.id == b.id || number.is_none() || number != beatbook_store::person_id_number(b) {
        return Err(refuse(
            ErrorCode::Conflict,
            "这两条记录的身份证号已不相同，请刷新页面",
            "the two records no longer share an ID number: reload the page",
        ));
    }
    Ok(())
}

/// Keeps `keep` and retires `retired` (two person records sharing an ID
/// number), each at the revision the supervisor saw; `retired` is the record
/// to retire as read at that revision. The kept record is edited first, and
/// only when the whole resolution holds (both in scope and live, one number,
/// a move between two grids): it becomes approved (the supervisor compared
/// it with its duplicate and keeps it), which its grid's devices pull. The
/// other then becomes a tombstone, which its grid's devices pull and drop;
/// it is refused when the kept one was, so a resolution never retires both.
/// (Only an edit of the retired record between the two reads can leave the
/// kept one approved and the pair still listed, with no audit entry.)
pub fn resolve_duplicate(
    scope: ReadScope,
    (keep, keep_revision): (RecordId, u64),
    retired: StoredRecord,
    resolution: Resolution,
    review: Review,
    now: DateTime<Utc>,
) -> RecordEdit {
    let mut kept_ok = false;
    Box::new(move |r| {
        if r.id == keep {
            common(&scope, r, Some(keep_revision))?;
            same_person_pair(&scope, r, &retired)?;
            if resolution == Resolution::Moved && r.grid == retired.grid {
                return Err(refuse(
                    ErrorCode::Conflict,
                    "两条记录在同一网格，不是迁移：请选择保留其中一条",
                    "both records are in one grid, so this is no move: keep one of them instead",
                ));
            }
            kept_ok = true;
            return Ok(r.clone().reviewed(review.clone()));
        }
        if r.id != retired.id {
            return Err(refuse(
                ErrorCode::Conflict,
                "不属于这对重复记录",
                "not one of the pair",
            ));
        }
        common(&scope, r, Some(retired.revision))?;
        if !kept_ok {
            return Err(refuse(
                ErrorCode::Conflict,
                "保留的记录无法处理，另一条记录未作改动",
                "the record to keep could not be resolved, so the other was left alone",
            ));
        }
        let mut next = r.clone().next_revision();
        next.deleted = true;
        next.updated_at = now;
        Ok(next)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use beatbook_schema::catalogue::standard_forms;
    use beatbook_schema::ids::{FormId, GridId, Sha256, UserId};
    use beatbook_schema::protocol::ReviewDecision;
    use beatbook_schema::record::AttachmentRef;

    use super::*;

    fn hazard(status: &str) -> StoredRecord {
        let device = DeviceId::new_v7();
        let (a, b) = (Sha256::digest(b"a"), Sha256::digest(b"b"));
        let today = Utc::now().date_naive().to_string();
        let values = json!({
            "category": "other", "description": "广告牌松动", "severity": "low",
            "found_date": today, "location": {"lat": 31.87, "lon": 121.17},
            "photos": [a.to_hex()], "status": status,
            "after_photos": [b.to_hex()], "rectified_date": today,
        });
        let fields: BTreeMap<String, FieldState> = values
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| {
                let hlc = Hlc {
                    wall_ms: Utc::now().timestamp_millis() as u64 + 60_000,
                    counter: 3,
                    device,
                };
                (
                    k.clone(),
                    FieldState {
                        value: v.clone(),
                        hlc,
                        revision: 2,
                    },
                )
            })
            .collect();
        StoredRecord {
            id: RecordId::new_v7(),
            form_id: FormId::new("hazard"),
            form_version: 1,
            grid: GridId::new("G1"),
            author: UserId::new_v7(),
            device,
            fields,
            attachments: [a, b]
                .map(|sha256| AttachmentRef {
                    sha256,
                    content_type: "image/jpeg".into(),
                    size: 1,
                })
                .to_vec(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            status: RecordStatus::Submitted,
            revision: 2,
            deleted: false,
            conflicted: true,
            review: None,
            resolved: vec![],
        }
    }

    fn forms() -> Arc<Forms> {
        Arc::new(
            Forms::compile(
                standard_forms()
                    .expect("forms")
                    .iter()
                    .map(|f| f.def().clone())
                    .collect(),
            )
            .expect("compile"),
        )
    }

    fn scope() -> ReadScope {
        ReadScope::Grids(vec![GridId::new("G1")])
    }

    fn offset() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).expect("offset")
    }

    #[test]
    fn a_rectified_hazard_is_verified_with_a_clock_after_every_value() {
        let r = hazard("rectified");
        let mut edit = hazard_step(scope(), 2, HazardStep::Pass, forms(), Utc::now(), offset());
        let next = edit(&r).expect("verified");
        assert_eq!(next.revision, 3);
        let status = &next.fields["status"];
        assert_eq!(status.value, json!("verified"));
        assert_eq!(status.revision, 3);
        assert!(
            r.fields.values().all(|st| status.hlc > st.hlc),
            "orders after the device's clock"
        );
        assert_eq!(status.hlc.device, REVIEW_DEVICE);
        assert_eq!(next.fields["verification"].value, json!("passed"));
        assert_eq!(
            next.form_version, 2,
            "written under the form with the verification"
        );
    }

    #[test]
    fn a_failed_verification_sends_the_hazard_back_to_rectifying_with_its_reason() {
        let r = hazard("rectified");
        let fail = HazardStep::Fail {
            reason: "灭火器仍未配备".into(),
        };
        let mut edit = hazard_step(scope(), 2, fail, forms(), Utc::now(), offset());
        let next = edit(&r).expect("failed");
        let value = |name: &str| next.fields.get(name).map(|s| s.value.clone());
        assert_eq!(value("status"), Some(json!("rectifying")));
        assert_eq!(value("verification"), Some(json!("failed")));
        assert_eq!(value("verification_reason"), Some(json!("灭火器仍未配备")));
        // Rectifying again starts from no after-photos; the history keeps them.
        assert_eq!(value("after_photos"), Some(Json::Null));
        assert_eq!(next.attachments.len(), 1, "{:?}", next.attachments);
        let mut again = hazard_step(scope(), 3, HazardStep::Pass, forms(), Utc::now(), offset());
        assert_eq!(
            again(&next).unwrap_err().code,
            ErrorCode::Conflict,
            "only a rectified hazard is checked"
        );
    }

    #[test]
    fn the_supervisor_sets_deadline_and_responsible_party_until_it_is_verified() {
        let assign = HazardStep::Assign {
            deadline: Some(Utc::now().date_naive().to_string()),
            party: Some("张三（店主）".into()),
            phone: Some("13800138000".into()),
        };
        let mut edit = hazard_step(scope(), 2, assign.clone(), forms(), Utc::now(), offset());
        let next = edit(&hazard("open")).expect("assigned");
        assert_eq!(
            next.fields["responsible_party"].value,
            json!("张三（店主）")
        );
        assert_eq!(next.fields["responsible_phone"].value, json!("13800138000"));
        assert_eq!(
            next.form_version, 1,
            "v1 has these fields: the record keeps its version"
        );
        let mut late = hazard_step(scope(), 2, assign, forms(), Utc::now(), offset());
        assert_eq!(
            late(&hazard("verified")).unwrap_err().code,
            ErrorCode::Conflict
        );
        let bad = HazardStep::Assign {
            deadline: Some("2000-01-01".into()),
            party: None,
            phone: None,
        };
        let mut edit = hazard_step(scope(), 2, bad, forms(), Utc::now(), offset());
        assert_eq!(
            edit(&hazard("open")).unwrap_err().code,
            ErrorCode::ValidationFailed,
            "a deadline before the hazard was found"
        );
    }

    #[test]
    fn verification_needs_a_rectified_hazard_in_scope_at_the_version_seen() {
        let forms = forms();
        let mut edit = hazard_step(
            scope(),
            2,
            HazardStep::Pass,
            forms.clone(),
            Utc::now(),
            offset(),
        );
        assert_eq!(edit(&hazard("open")).unwrap_err().code, ErrorCode::Conflict);
        let mut stale = hazard_step(
            scope(),
            1,
            HazardStep::Pass,
            forms.clone(),
            Utc::now(),
            offset(),
        );
        assert_eq!(
            stale(&hazard("rectified")).unwrap_err().code,
            ErrorCode::Conflict
        );
        let mut foreign = hazard_step(
            ReadScope::Grids(vec![GridId::new("H1")]),
            2,
            HazardStep::Pass,
            forms.clone(),
            Utc::now(),
            offset(),
        );
        assert_eq!(
            foreign(&hazard("rectified")).unwrap_err().code,
            ErrorCode::OutOfScope
        );
        // Without its after-photos a rectified hazard does not validate as verified.
        let mut r = hazard("rectified");
        r.fields.remove("after_photos");
        assert_eq!(edit(&r).unwrap_err().code, ErrorCode::ValidationFailed);
    }

    fn person(grid: &str, number: &str) -> StoredRecord {
        let mut r = hazard("open");
        r.form_id = FormId::new(form_ids::PERSON);
        r.grid = GridId::new(grid);
        r.fields.insert(
            "id_number".into(),
            FieldState {
                value: json!(number),
                hlc: Hlc::zero(REVIEW_DEVICE),
                revision: 2,
            },
        );
        r
    }

    fn approval() -> Review {
        Review {
            decision: ReviewDecision::Approve,
            by: "所领导".into(),
            at: Utc::now(),
        }
    }

    const NUMBER: &str = "11010519491231002X";

    #[test]
    fn a_move_keeps_the_new_grids_record_approved_and_tombstones_the_old_one() {
        let scope = ReadScope::Grids(vec![GridId::new("G1"), GridId::new("G3")]);
        let (new, old) = (person("G3", NUMBER), person("G1", &NUMBER.to_lowercase()));
        let mut edit = resolve_duplicate(
            scope,
            (new.id, 2),
            old.clone(),
            Resolution::Moved,
            approval(),
            Utc::now(),
        );
        let kept = edit(&new).expect("kept");
        assert_eq!(
            (kept.status, kept.deleted, kept.revision),
            (RecordStatus::Approved, false, 3)
        );
        let closed = edit(&old).expect("closed");
        assert_eq!(
            (closed.deleted, closed.revision, closed.grid.as_str()),
            (true, 3, "G1")
        );
    }

    #[test]
    fn a_resolution_that_does_not_hold_writes_neither_record() {
        let both = ReadScope::Grids(vec![GridId::new("G1"), GridId::new("G3")]);
        let cases = [
            // A move within one grid.
            (
                both.clone(),
                person("G1", NUMBER),
                person("G1", NUMBER),
                Resolution::Moved,
                ErrorCode::Conflict,
            ),
            // Numbers that differ (one was corrected meanwhile).
            (
                both.clone(),
                person("G3", NUMBER),
                person("G1", "110105194912310037"),
                Resolution::KeepOne,
                ErrorCode::Conflict,
            ),
            // The other record outside the supervisor's scope.
            (
                ReadScope::Grids(vec![GridId::new("G3")]),
                person("G3", NUMBER),
                person("G1", NUMBER),
                Resolution::KeepOne,
                ErrorCode::OutOfScope,
            ),
        ];
        for (scope, keep, retire, resolution, code) in cases {
            let mut edit = resolve_duplicate(
                scope,
                (keep.id, 2),
                retire.clone(),
                resolution,
                approval(),
                Utc::now(),
            );
            assert_eq!(edit(&keep).unwrap_err().code, code, "{resolution:?}");
            assert!(edit(&retire).is_err(), "the other is left alone");
        }
        // A stale revision of the kept record.
        let (keep, retire) = (person("G3", NUMBER), person("G1", NUMBER));
        let mut stale = resolve_duplicate(
            both,
            (keep.id, 1),
            retire.clone(),
            Resolution::KeepOne,
            approval(),
            Utc::now(),
        );
        assert!(stale(&keep).is_err());
        assert!(stale(&retire).is_err());
    }

    #[test]
    fn decisions_touch_only_the_version_seen_and_clear_the_conflict_flag() {
        let r = hazard("open");
        let decision = Review {
            decision: ReviewDecision::Return {
                reason: "照片不清晰".into(),
            },
            by: "所领导".into(),
            at: Utc::now(),
        };
        let mut edit = review(scope(), HashMap::from([(r.id, 2)]), decision.clone(), false);
        let next = edit(&r).expect("returned");
        assert_eq!(
            (next.status, next.revision, next.conflicted),
            (RecordStatus::Returned, 3, false)
        );
        assert_eq!(next.review, Some(decision.clone()));
        let mut stale = review(scope(), HashMap::from([(r.id, 1)]), decision.clone(), false);
        assert!(stale(&r).is_err());
        let mut batch = review(scope(), HashMap::from([(next.id, 3)]), decision, true);
        assert!(
            batch(&next).is_err(),
            "a whole batch leaves decided records alone"
        );
    }
}
