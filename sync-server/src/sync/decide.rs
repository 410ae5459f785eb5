//! The fate of one pushed change.

use std::collections::BTreeMap;

use beatbook_schema::audience;
use beatbook_schema::catalogue::{form_ids, hazard};
use beatbook_schema::form::{FieldError, Form, ValidationContext, Values};
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::Sha256;
use beatbook_schema::merge::{self, FieldState, Merge, MergeKind};
use beatbook_schema::protocol::{Change, ChangeOp, ChangeOutcome, ErrorCode, Role};
use beatbook_schema::record::{AttachmentRef, RecordStatus};
use beatbook_schema::text::Text;
use chrono::FixedOffset;
use serde_json::Value as Json;

use super::forms::Forms;
use super::tasks::task_refusal;
use beatbook_store::{Decision, Existing, Pusher, ReadScope, StoredRecord};

/// The rules a push is judged by.
#[derive(Debug, Clone)]
pub struct Policy {
    /// A device clock may run at most this far ahead of the server's before
    /// its timestamps are clamped (so it cannot win conflicts by lying).
    pub max_clock_ahead_ms: u64,
    /// The offset of the officers' local time (China: UTC+8), for "today".
    pub local_offset: FixedOffset,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_clock_ahead_ms: 5 * 60 * 1000,
            local_offset: FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset"),
        }
    }
}

fn unknown_form() -> ChangeOutcome {
    reject(
        ErrorCode::UnknownForm,
        "服务器上没有该表单版本，请更新应用",
        "the server does not publish this form version: update the app",
        vec![],
    )
}

fn reject(code: ErrorCode, zh: &str, en: &str, errors: Vec<FieldError>) -> ChangeOutcome {
    ChangeOutcome::Rejected {
        code,
        message: Text::new(zh, en),
        errors,
    }
}

/// Decides what to do with `change` given the stored state, for `pusher`
/// whose records are `scope`.
pub fn decide(
    change: &Change,
    existing: &Existing,
    pusher: &Pusher,
    scope: &ReadScope,
    forms: &Forms,
    policy: &Policy,
) -> Decision {
    let (user, now) = (&pusher.user, pusher.now);
    if !scope.contains(&change.grid)
        || existing
            .record
            .as_ref()
            .is_some_and(|r| !scope.contains(&r.grid))
    {
        return Decision::Answer(reject(
            ErrorCode::OutOfScope,
            "该记录所属网格不在您的管辖范围内（网格可能已被管理员调整）：请联系所长",
            "the record's grid is not one of yours (an admin may have changed your grids): ask your supervisor",
            vec![],
        ));
    }
    // Who may write, and whether new records may be started, follow the
    // form as published now (its newest version), whatever version the
    // record was started with.
    let Some(latest) = forms.latest(change.form_id.as_str()) else {
        return Decision::Answer(unknown_form());
    };
    if !audience::may_enter(latest.def(), user.role) {
        return Decision::Answer(reject(
            ErrorCode::Forbidden,
            "您的角色不能提交此类表单",
            "your role may not submit this form",
            vec![],
        ));
    }
    if latest.def().retired && existing.record.is_none() {
        return Decision::Answer(reject(
            ErrorCode::FormRetired,
            "该表单已停用，不再接受新记录；已有记录仍可修改。请改用其他表单录入",
            "this form was retired and takes no new records (existing ones may still be edited): enter it with another form",
            vec![],
        ));
    }
    if checks_hazard(change, existing) && !matches!(user.role, Role::Supervisor | Role::Admin) {
        return Decision::Answer(reject(
            ErrorCode::Forbidden,
            "隐患的复查（“已复查”状态、复查结果）只能由所领导设置",
            "only a supervisor may verify a hazard (its verified status and verification outcome)",
            vec![],
        ));
    }
    if let Some((code, message)) = task_refusal(change, existing, user) {
        return Decision::Answer(ChangeOutcome::Rejected {
            code,
            message,
            errors: vec![],
        });
    }
    let Some(form) = forms.get(change.form_id.as_str(), change.form_version) else {
        return Decision::Answer(unknown_form());
    };
    if let Some(r) = &existing.record {
        if r.form_id != change.form_id {
            return Decision::Answer(reject(
                ErrorCode::Conflict,
                "记录编号已被另一种表单使用",
                "this record id belongs to another form",
                vec![],
            ));
        }
        if r.status == RecordStatus::Approved && !edits_open_after_approval(change, r, form) {
            return Decision::Answer(reject(
                ErrorCode::Conflict,
                "该记录已审核通过，不能再修改（隐患的整改部分除外）；如需更正，请所领导先退回",
                "the record was approved and cannot be edited (a hazard's rectification part excepted): ask the supervisor to return it first",
                vec![],
            ));
        }
    }

    let revision = existing.record.as_ref().map_or(0, |r| r.revision) + 1;
    // The clock's device is the authenticated one (no borrowing another's
    // tie-breaks), and a clock running ahead of the server's is clamped.
    let hlc = Hlc {
        device: pusher.device,
        ..change.hlc
    }
    .clamp(
        now.timestamp_millis().max(0) as u64,
        policy.max_clock_ahead_ms,
    );

    match &change.op {
        ChangeOp::Delete => {
            let Some(r) = &existing.record else {
                return Decision::Answer(reject(
                    ErrorCode::NotFound,
                    "服务器上没有这条记录，无需删除",
                    "the server has no such record to delete",
                    vec![],
                ));
            };
            if r.deleted {
                return Decision::Answer(ChangeOutcome::Accepted {
                    revision: r.revision,
                });
            }
            let mut record = r.clone().next_revision();
            record.deleted = true;
            record.updated_at = change.at;
            let outcome = if change.base_revision >= r.revision {
                ChangeOutcome::Accepted { revision }
            } else {
                ChangeOutcome::Merged { revision }
            };
            Decision::Write {
                record: Box::new(record),
                conflicts: vec![],
                outcome,
            }
        }
        ChangeOp::Upsert {
            fields,
            attachments,
        } => {
            if existing.record.as_ref().is_some_and(|r| r.deleted) {
                return Decision::Answer(reject(
                    ErrorCode::Conflict,
                    "该记录已被删除，不能再修改",
                    "the record was deleted and cannot be edited",
                    vec![],
                ));
            }
            let empty = BTreeMap::new();
            let current = existing.record.as_ref().map_or(&empty, |r| &r.fields);
            let current_revision = existing.record.as_ref().map_or(0, |r| r.revision);
            // A new record takes its fields as pushed: the merge with
            // nothing stored would copy every value into the fields to
            // apply, and those into the values validation judges. Without
            // it, validation reads them where they lie (unless one is null,
            // which the values leave out).
            let fresh = existing.record.is_none() && fields.values().all(|v| !v.is_null());
            let mut m = if fresh {
                Merge {
                    apply: Values::new(),
                    conflicts: Vec::new(),
                    kind: MergeKind::Clean,
                }
            } else {
                merge::merge(current, current_revision, change.base_revision, hlc, fields)
            };
            // The pusher's name goes with the values it won: the device
            // whose value lost reads it on its next pull.
            for c in m
                .conflicts
                .iter_mut()
                .filter(|c| c.winner.device == hlc.device)
            {
                c.winner_name = Some(user.name.clone());
            }
            // The values validation judges: the stored ones with the merge
            // applied. A field the merge sets gets its new state now and its
            // value once validation has normalized it (the values move, not
            // copied: this runs for every record pushed).
            let mut next = current.clone();
            // A field's state as this change sets it.
            let now_set = |value: Json| FieldState {
                value,
                hlc,
                revision,
            };
            let merged;
            let values = if fresh {
                for name in fields.keys() {
                    next.insert(name.clone(), now_set(Json::Null));
                }
                fields
            } else {
                let mut values = merge::values(current);
                for (name, value) in std::mem::take(&mut m.apply) {
                    next.insert(name.clone(), now_set(Json::Null));
                    if value.is_null() {
                        values.remove(&name);
                    } else {
                        values.insert(name, value);
                    }
                }
                merged = values;
                &merged
            };

            let hashes: Vec<_> = attachments.iter().map(|a| a.sha256).collect();
            let ctx = ValidationContext {
                today: now.with_timezone(&policy.local_offset).date_naive(),
                attachments: &hashes,
                addresses: None,
            };
            let normalized =
                match form.validate(values, &ctx) {
                    Ok(v) => v,
                    Err(errors) => return Decision::Answer(reject(
                        ErrorCode::ValidationFailed,
                        "记录未通过校验，请按提示修改后重新提交",
                        "the record did not validate: correct the fields named and submit again",
                        errors,
                    )),
                };
            let attachments = match attachments_shown(
                &form.photo_digests(&normalized),
                attachments,
                change.base_revision < current_revision,
            ) {
                Ok(shown) => shown,
                Err(outcome) => return Decision::Answer(outcome),
            };
            if let Some(outcome) = unheld(&attachments, existing, scope) {
                return Decision::Defer(outcome);
            }
            // Store what validation normalized (typed ID numbers upper-cased,
            // derived values recomputed, hidden fields cleared): a value it
            // changed or dropped is written now, at this revision.
            for (name, state) in next.iter_mut() {
                if !normalized.contains_key(name) && !state.value.is_null() {
                    *state = now_set(Json::Null);
                }
            }
            for (name, target) in normalized {
                match next.get_mut(&name) {
                    Some(state) if state.value == target => {}
                    Some(state) => *state = now_set(target),
                    None => {
                        next.insert(name, now_set(target));
                    }
                }
            }

            let outcome = match m.kind {
                MergeKind::Clean => ChangeOutcome::Accepted { revision },
                MergeKind::Soft => ChangeOutcome::Merged { revision },
                MergeKind::Hard => ChangeOutcome::Conflicted {
                    revision,
                    conflicts: m.conflicts.clone(),
                },
            };
            let record = match &existing.record {
                Some(r) => StoredRecord {
                    form_version: change.form_version,
                    grid: change.grid.clone(),
                    fields: next,
                    attachments: attachments.clone(),
                    updated_at: change.at,
                    // An approved report stays approved while its
                    // rectification goes on: the check is the verification.
                    status: if r.status == RecordStatus::Approved {
                        RecordStatus::Approved
                    } else {
                        RecordStatus::Submitted
                    },
                    revision,
                    conflicted: r.conflicted || m.kind == MergeKind::Hard,
                    resolved: m.conflicts.clone(),
                    // The rest as stored (not `..r.clone()`: that copied
                    // every field state only to drop them).
                    id: r.id,
                    form_id: r.form_id.clone(),
                    author: r.author,
                    device: r.device,
                    created_at: r.created_at,
                    deleted: r.deleted,
                    review: r.review.clone(),
                },
                None => StoredRecord {
                    id: change.record_id,
                    form_id: change.form_id.clone(),
                    form_version: change.form_version,
                    grid: change.grid.clone(),
                    author: user.id,
                    device: pusher.device,
                    fields: next,
                    attachments: attachments.clone(),
                    created_at: change.at,
                    updated_at: change.at,
                    status: RecordStatus::Submitted,
                    revision,
                    deleted: false,
                    conflicted: m.kind == MergeKind::Hard,
                    review: None,
                    resolved: m.conflicts.clone(),
                },
            };
            Decision::Write {
                record: Box::new(record),
                conflicts: m.conflicts,
                outcome,
            }
        }
    }
}

/// The attachments to store: those a photo field of the record shows, each
/// once. An attachment no photo field shows is refused, unless the change is
/// stale (based on an older revision): then a concurrent edit may have
/// removed a photo the device still lists, and that attachment is dropped.
fn attachments_shown(
    shown: &[Sha256],
    listed: &[AttachmentRef],
    stale: bool,
) -> Result<Vec<AttachmentRef>, ChangeOutcome> {
    let mut kept: Vec<AttachmentRef> = Vec::new();
    for a in listed {
        if kept.iter().any(|k| k.sha256 == a.sha256) {
            continue;
        }
        if shown.contains(&a.sha256) {
            kept.push(a.clone());
        } else if !stale {
            return Err(reject(
                ErrorCode::ValidationFailed,
                "记录附带的照片没有出现在任何照片字段中，请删除该附件后重新提交",
                "the record carries a photo that no photo field shows: remove it and submit again",
                vec![],
            ));
        }
    }
    Ok(kept)
}

/// A refusal if the pushing device holds an attachment neither by having
/// uploaded it nor by reading a current record that carries it. Deferred
/// with the answer a missing photo gets, so the device uploads the bytes and
/// the same change then succeeds: a digest alone (seen in an old grid, an
/// exported link) is not the photo, and the answer does not say whether the
/// server has it.
fn unheld(
    attachments: &[AttachmentRef],
    existing: &Existing,
    scope: &ReadScope,
) -> Option<ChangeOutcome> {
    let held = |sha: &Sha256| {
        !existing.missing_blobs.contains(sha)
            && (existing.uploaded_blobs.contains(sha)
                || existing
                    .attached_in
                    .iter()
                    .any(|(s, grid)| s == sha && scope.contains(grid)))
    };
    attachments.iter().any(|a| !held(&a.sha256)).then(|| {
        reject(
            ErrorCode::MissingBlob,
            "照片尚未上传完成，请稍后重试同步",
            "a photo has not been uploaded yet: sync again",
            vec![],
        )
    })
}

/// The value of `name` as stored in `record`.
fn stored<'a>(record: &'a StoredRecord, name: &str) -> Option<&'a Json> {
    record
        .fields
        .get(name)
        .map(|s| &s.value)
        .filter(|v| !v.is_null())
}

/// The fields a change sets to something other than what `existing` holds.
fn changed<'a>(change: &'a Change, existing: Option<&'a StoredRecord>) -> Vec<&'a str> {
    let ChangeOp::Upsert { fields, .. } = &change.op else {
        return Vec::new();
    };
    fields
        .iter()
        .filter(|(name, v)| {
            let now = existing.and_then(|r| stored(r, name));
            now != Some(*v) && !(now.is_none() && v.is_null())
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Whether a change checks a hazard: moves it to verified, or sets the
/// supervisor's verification outcome or reason.
fn checks_hazard(change: &Change, existing: &Existing) -> bool {
    if change.form_id.as_str() != form_ids::HAZARD {
        return false;
    }
    changed(change, existing.record.as_ref())
        .into_iter()
        .any(|name| match name {
            hazard::VERIFICATION | hazard::VERIFICATION_REASON => true,
            hazard::STATUS => matches!(
                &change.op,
                ChangeOp::Upsert { fields, .. }
                    if fields.get(hazard::STATUS).and_then(Json::as_str) == Some(hazard::VERIFIED)
            ),
            _ => false,
        })
}

/// Whether a change to an approved record stays inside what may change after
/// approval: a hazard's rectification part (its review covers the report; the
/// rectification is checked by verification), no value of any other record.
/// (A deletion changes no value: who may delete is not decided here.)
fn edits_open_after_approval(change: &Change, approved: &StoredRecord, form: &Form) -> bool {
    let open = if change.form_id.as_str() == form_ids::HAZARD {
        let mut open = hazard::section_fields(form, hazard::RECTIFICATION_SECTION);
        open.extend(hazard::section_fields(form, hazard::VERIFICATION_SECTION));
        open
    } else {
        Vec::new()
    };
    changed(change, Some(approved))
        .iter()
        .all(|name| open.contains(name))
}

#[cfg(test)]
mod tests {
    use beatbook_schema::catalogue::standard_forms;
    use beatbook_schema::form::Values;
    use beatbook_schema::hlc::Hlc;
    use beatbook_schema::ids::Sha256;
    use beatbook_schema::ids::{ChangeId, DeviceId, FormId, GridId, RecordId};
    use beatbook_schema::record::AttachmentRef;
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::sync::testing::standard as forms;

    fn pusher(role: Role) -> Pusher {
        crate::sync::testing::pusher(role, "测试")
    }

    fn photo(n: u8) -> (Sha256, AttachmentRef) {
        let sha = Sha256::digest(&[n]);
        (
            sha,
            AttachmentRef {
                sha256: sha,
                content_type: "image/jpeg".into(),
                size: 1,
            },
        )
    }

    fn change(
        record: RecordId,
        base: u64,
        fields: Values,
        attachments: Vec<AttachmentRef>,
    ) -> Change {
        let device = DeviceId::new_v7();
        Change {
            change_id: ChangeId::new_v7(),
            record_id: record,
            form_id: FormId::new("hazard"),
            form_version: 1,
            grid: GridId::new("G1"),
            base_revision: base,
            hlc: Hlc::zero(device).tick(Utc::now().timestamp_millis() as u64),
            at: Utc::now(),
            op: ChangeOp::Upsert {
                fields,
                attachments,
            },
        }
    }

    /// A rectified hazard as stored, and the attachments it carries.
    fn rectified(forms: &Forms) -> (StoredRecord, Vec<AttachmentRef>) {
        let (before, a) = photo(1);
        let (after, b) = photo(2);
        let today = Utc::now().date_naive().to_string();
        let fields = json!({
            "category": "other", "description": "广告牌松动", "severity": "low",
            "found_date": today, "location": {"lat": 31.87, "lon": 121.17},
            "photos": [before.to_hex()], "status": "rectified",
            "after_photos": [after.to_hex()], "rectified_date": today,
        });
        let c = change(
            RecordId::new_v7(),
            0,
            fields.as_object().cloned().expect("object"),
            vec![a.clone(), b.clone()],
        );
        let officer = pusher(Role::Officer);
        let scope = ReadScope::Grids(vec![GridId::new("G1")]);
        let existing = Existing {
            uploaded_blobs: vec![before, after],
            ..Existing::default()
        };
        match decide(&c, &existing, &officer, &scope, forms, &Policy::default()) {
            Decision::Write { record, .. } => (*record, vec![a, b]),
            other => panic!("a rectified hazard is accepted: {other:?}"),
        }
    }

    /// What the backend reports for a change to `stored` that keeps its attachments.
    fn carried(stored: &StoredRecord) -> Existing {
        Existing {
            record: Some(stored.clone()),
            attached_in: stored
                .attachments
                .iter()
                .map(|a| (a.sha256, stored.grid.clone()))
                .collect(),
            ..Existing::default()
        }
    }

    /// What `pusher` writes for `c` to `on` in a G1-only scope; a test of
    /// an edit that must be written.
    fn written(c: &Change, on: &StoredRecord, pusher: &Pusher, forms: &Forms) -> StoredRecord {
        let scope = ReadScope::Grids(vec![GridId::new("G1")]);
        match decide(c, &carried(on), pusher, &scope, forms, &Policy::default()) {
            Decision::Write { record, .. } => *record,
            other => panic!("the edit is written: {other:?}"),
        }
    }

    #[test]
    fn a_retired_form_refuses_new_records_and_takes_edits_of_existing_ones() {
        let mut defs: Vec<_> = standard_forms()
            .expect("standard forms")
            .into_iter()
            .map(|f| f.def().clone())
            .collect();
        let (stored, attachments) = rectified(&forms());
        let hazard = defs
            .iter()
            .find(|d| d.form_id.as_str() == "hazard")
            .cloned()
            .expect("hazard");
        defs.push(audience::retired(&hazard));
        let retired = Forms::compile(defs).expect("compile");
        let officer = pusher(Role::Officer);
        let scope = ReadScope::Grids(vec![GridId::new("G1")]);

        let mut fields = Values::new();
        fields.insert("description".into(), json!("广告牌松动，已加固"));
        let edit = change(stored.id, stored.revision, fields.clone(), attachments);
        let decision = decide(
            &edit,
            &carried(&stored),
            &officer,
            &scope,
            &retired,
            &Policy::default(),
        );
        assert!(
            matches!(decision, Decision::Write { .. }),
            "an edit of an existing v1 record finishes: {decision:?}"
        );

        let new = change(RecordId::new_v7(), 0, fields, vec![]);
        match decide(
            &new,
            &Existing::default(),
            &officer,
            &scope,
            &retired,
            &Policy::default(),
        ) {
            Decision::Answer(ChangeOutcome::Rejected { code, message, .. }) => {
                assert_eq!(code, ErrorCode::FormRetired);
                assert!(message.en.contains("retired"), "{message:?}");
            }
            other => panic!("a new record of a retired form is refused: {other:?}"),
        }
    }

    #[test]
    fn a_version_holds_what_validation_made_of_the_values_each_at_the_revision_that_set_it() {
        let forms = forms();
        let (stored, attachments) = rectified(&forms);
        let officer = pusher(Role::Officer);
        let written = |c: &Change, on: &StoredRecord| written(c, on, &officer, &forms);

        let mut fields = Values::new();
        fields.insert("category".into(), json!("nine_small_venues"));
        fields.insert("venue_kind".into(), json!("small_shop"));
        fields.insert("responsible_phone".into(), json!("+86 138 1234 5678"));
        let first = change(stored.id, stored.revision, fields, attachments.clone());
        let second = written(&first, &stored);
        assert_eq!(
            second.fields["responsible_phone"].value,
            json!("13812345678")
        );
        for name in ["category", "venue_kind", "responsible_phone"] {
            assert_eq!(second.fields[name].revision, 2, "{name}");
        }
        assert_eq!(second.fields["description"], stored.fields["description"]);

        let mut fields = Values::new();
        fields.insert("category".into(), json!("other"));
        let back = change(stored.id, second.revision, fields, attachments);
        let third = written(&back, &second);
        // A field the new category hides is cleared, at the revision that hid it.
        assert_eq!(third.fields["venue_kind"].value, Json::Null);
        assert_eq!(third.fields["venue_kind"].revision, 3);
        assert_eq!(third.fields["category"].revision, 3);
        assert_eq!(
            third.fields["responsible_phone"],
            second.fields["responsible_phone"]
        );
        assert_eq!(third.fields["description"], stored.fields["description"]);
        assert!(!merge::values(&third.fields).contains_key("venue_kind"));
    }

    #[test]
    fn only_supervisors_and_admins_may_mark_a_hazard_verified() {
        let forms = forms();
        let (stored, attachments) = rectified(&forms);
        let scope = ReadScope::Grids(vec![GridId::new("G1")]);
        let existing = carried(&stored);
        let verify = change(
            stored.id,
            stored.revision,
            json!({"status": "verified"})
                .as_object()
                .cloned()
                .expect("object"),
            attachments,
        );
        for role in [Role::Officer, Role::Auxiliary] {
            match decide(
                &verify,
                &existing,
                &pusher(role),
                &scope,
                &forms,
                &Policy::default(),
            ) {
                Decision::Answer(ChangeOutcome::Rejected { code, .. }) => {
                    assert_eq!(code, ErrorCode::Forbidden, "{role:?}")
                }
                other => panic!("{role:?} may not verify: {other:?}"),
            }
        }
        for role in [Role::Supervisor, Role::Admin] {
            let d = decide(
                &verify,
                &existing,
                &pusher(role),
                &scope,
                &forms,
                &Policy::default(),
            );
            assert!(
                matches!(d, Decision::Write { .. }),
                "{role:?} verifies: {d:?}"
            );
        }
    }

    #[test]
    fn an_officer_may_still_edit_a_verified_hazard_and_report_rectification() {
        let forms = forms();
        let (mut stored, attachments) = rectified(&forms);
        let scope = ReadScope::Grids(vec![GridId::new("G1")]);
        let officer = pusher(Role::Officer);
        // Reporting "rectified" is the officer's own step.
        assert!(!checks_hazard(
            &change(
                stored.id,
                1,
                json!({"status": "rectified"})
                    .as_object()
                    .cloned()
                    .expect("object"),
                vec![]
            ),
            &Existing::default(),
        ));
        // Once verified, resending the status unchanged is not a move.
        stored.fields.get_mut("status").expect("status").value = json!("verified");
        let existing = carried(&stored);
        let edit = change(
            stored.id,
            stored.revision,
            json!({"status": "verified", "rectified_note": "复查后补充说明"})
                .as_object()
                .cloned()
                .expect("object"),
            attachments,
        );
        let d = decide(
            &edit,
            &existing,
            &officer,
            &scope,
            &forms,
            &Policy::default(),
        );
        assert!(matches!(d, Decision::Write { .. }), "{d:?}");
    }

    #[test]
    fn an_approved_hazard_takes_its_rectification_and_nothing_else() {
        let forms = forms();
        let (mut stored, attachments) = rectified(&forms);
        stored.status = RecordStatus::Approved;
        let existing = carried(&stored);
        let edit = |fields: Json| {
            let c = change(
                stored.id,
                stored.revision,
                fields.as_object().cloned().expect("object"),
                attachments.clone(),
            );
            decide(
                &c,
                &existing,
                &pusher(Role::Auxiliary),
                &ReadScope::Grids(vec![GridId::new("G1")]),
                &forms,
                &Policy::default(),
            )
        };
        match edit(json!({"rectified_note": "已加固", "responsible_party": "店主"})) {
            Decision::Write { record, .. } => {
                assert_eq!(
                    record.status,
                    RecordStatus::Approved,
                    "the report stays approved"
                )
            }
            other => panic!("the rectification part is open: {other:?}"),
        }
        let d = edit(json!({"description": "改写的描述"}));
        assert_eq!(refusal(&d), Some((false, ErrorCode::Conflict)), "{d:?}");
        let d = edit(json!({"verification": "passed"}));
        assert_eq!(refusal(&d), Some((false, ErrorCode::Forbidden)), "{d:?}");
    }

    #[test]
    fn an_approved_record_of_another_form_is_not_edited() {
        let forms = forms();
        let (mut stored, attachments) = rectified(&forms);
        stored.status = RecordStatus::Approved;
        stored.form_id = FormId::new("visit");
        let mut c = change(
            stored.id,
            stored.revision,
            json!({"rectified_note": "x"})
                .as_object()
                .cloned()
                .expect("object"),
            attachments,
        );
        c.form_id = FormId::new("visit");
        let d = judge(&c, &carried(&stored));
        assert_eq!(refusal(&d), Some((false, ErrorCode::Conflict)), "{d:?}");
    }

    /// A new hazard report whose photo field shows `shown`, listing `listed`.
    fn report(shown: &[Sha256], listed: Vec<AttachmentRef>) -> Change {
        let today = Utc::now().date_naive().to_string();
        let fields = json!({
            "category": "other", "description": "广告牌松动", "severity": "low",
            "found_date": today, "location": {"lat": 31.87, "lon": 121.17},
            "photos": shown, "status": "open",
        });
        change(
            RecordId::new_v7(),
            0,
            fields.as_object().cloned().expect("object"),
            listed,
        )
    }

    fn judge(c: &Change, existing: &Existing) -> Decision {
        let scope = ReadScope::Grids(vec![GridId::new("G1")]);
        decide(
            c,
            existing,
            &pusher(Role::Officer),
            &scope,
            &forms(),
            &Policy::default(),
        )
    }

    fn refusal(d: &Decision) -> Option<(bool, ErrorCode)> {
        match d {
            Decision::Answer(ChangeOutcome::Rejected { code, .. }) => Some((false, *code)),
            Decision::Defer(ChangeOutcome::Rejected { code, .. }) => Some((true, *code)),
            _ => None,
        }
    }

    #[test]
    fn an_attachment_no_photo_field_shows_is_refused() {
        let ((a, ra), (x, rx)) = (photo(1), photo(9));
        let uploaded = Existing {
            uploaded_blobs: vec![a, x],
            ..Existing::default()
        };
        let d = judge(&report(&[a], vec![ra.clone(), rx]), &uploaded);
        assert_eq!(
            refusal(&d),
            Some((false, ErrorCode::ValidationFailed)),
            "{d:?}"
        );
        let d = judge(&report(&[a], vec![ra.clone(), ra]), &uploaded);
        match d {
            Decision::Write { record, .. } => {
                assert_eq!(record.attachments.len(), 1, "listed twice, stored once")
            }
            other => panic!("a shown photo is accepted: {other:?}"),
        }
    }

    #[test]
    fn a_stale_change_drops_a_photo_a_concurrent_edit_removed() {
        let forms = forms();
        let (stored, listed) = rectified(&forms);
        // Revision 2 reopened the hazard and dropped its after-photo, which
        // a device editing revision 1 still lists.
        let mut current = stored.clone();
        current.revision = 2;
        current.attachments.truncate(1);
        current.fields.remove("after_photos");
        current.fields.remove("rectified_date");
        if let Some(status) = current.fields.get_mut("status") {
            status.value = json!("open");
        }
        let edit = change(
            stored.id,
            1,
            json!({"description": "广告牌松动，已设警示"})
                .as_object()
                .cloned()
                .expect("object"),
            listed.clone(),
        );
        match judge(&edit, &carried(&current)) {
            Decision::Write { record, .. } => {
                assert_eq!(record.attachments, current.attachments)
            }
            other => panic!("a stale edit is merged, not refused: {other:?}"),
        }
        // The same list on the current revision is the device's own claim: refused.
        let edit = Change {
            base_revision: 2,
            ..edit
        };
        let d = judge(&edit, &carried(&current));
        assert_eq!(
            refusal(&d),
            Some((false, ErrorCode::ValidationFailed)),
            "{d:?}"
        );
    }

    #[test]
    fn a_photo_is_attached_only_by_a_device_that_uploaded_or_reads_it() {
        let (a, ra) = photo(1);
        let c = report(&[a], vec![ra]);
        let elsewhere = Existing {
            attached_in: vec![(a, GridId::new("H1"))],
            ..Existing::default()
        };
        let not_stored = Existing {
            missing_blobs: vec![a],
            uploaded_blobs: vec![a],
            ..Existing::default()
        };
        for existing in [&Existing::default(), &elsewhere, &not_stored] {
            let d = judge(&c, existing);
            assert_eq!(refusal(&d), Some((true, ErrorCode::MissingBlob)), "{d:?}");
        }
        let uploaded = Existing {
            uploaded_blobs: vec![a],
            ..Existing::default()
        };
        let readable = Existing {
            attached_in: vec![(a, GridId::new("H1")), (a, GridId::new("G1"))],
            ..Existing::default()
        };
        for existing in [&uploaded, &readable] {
            let d = judge(&c, existing);
            assert!(matches!(d, Decision::Write { .. }), "{d:?}");
        }
    }

    /// What a device learns of a same-field conflict: the version the
    /// change writes names the conflict, with the pusher's name when the
    /// pusher's value won; a later write names none.
    #[test]
    fn a_resolved_conflict_travels_with_the_version_it_wrote_and_names_a_winning_pusher() {
        let forms = forms();
        let (stored, attachments) = rectified(&forms);
        let officer = pusher(Role::Officer);
        let edit = |base: u64, wall_ms: Option<u64>, text: &str| {
            let mut c = change(
                stored.id,
                base,
                json!({"description": text})
                    .as_object()
                    .cloned()
                    .expect("object"),
                attachments.clone(),
            );
            if let Some(ms) = wall_ms {
                c.hlc.wall_ms = ms;
            }
            c
        };
        let write = |c: &Change, on: &StoredRecord| written(c, on, &officer, &forms);

        // Not having seen revision 1, with a later clock: the pusher wins.
        let won = write(&edit(0, None, "广告牌已加固"), &stored);
        let told = won.version().conflicts;
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].field, "description");
        assert_eq!(told[0].losing_value, json!("广告牌松动"));
        assert_eq!(told[0].winner_name.as_deref(), Some("测试"));
        assert_eq!(told[0].winner.device, officer.device);

        // With an earlier clock: the stored value wins; its writer is not the pusher.
        let lost = write(&edit(0, Some(1), "无异常"), &stored);
        let told = lost.version().conflicts;
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].losing_value, json!("无异常"));
        assert_eq!(
            told[0].winner_name, None,
            "named later, from the kept history"
        );

        // The next write, based on the current revision, resolved nothing.
        let next = write(&edit(won.revision, None, "已复查"), &won);
        assert!(next.version().conflicts.is_empty());
        let reviewed = won.clone().reviewed(beatbook_schema::protocol::Review {
            decision: beatbook_schema::protocol::ReviewDecision::Approve,
            by: "所长".into(),
            at: Utc::now(),
        });
        assert!(
            reviewed.version().conflicts.is_empty(),
            "a review is not the conflict's write"
        );
    }
}
