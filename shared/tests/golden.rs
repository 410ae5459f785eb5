//! Golden wire fixtures: each v1 protocol type, serialized, must equal its
//! fixture byte for byte, and the fixture must parse back to the same value.
//! /v1 changes only by addition: a failing test here means a client in the
//! field would misread the server. Regenerate deliberately with
//! `BLESS=1 cargo test -p beatbook-schema --test golden`.

use std::path::PathBuf;

use beatbook_schema::form::{FieldError, FormDef};
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, RecordId, Sha256, UserId};
use beatbook_schema::merge::FieldConflict;
use beatbook_schema::problem::ProblemCode;
use beatbook_schema::protocol::*;
use beatbook_schema::record::{AttachmentRef, Record, RecordStatus};
use beatbook_schema::text::Text;
use chrono::{TimeZone, Utc};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::json;
use uuid::Uuid;

fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
    let actual = serde_json::to_string_pretty(value).expect("serializes") + "\n";
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &actual).expect("write fixture");
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create it)", path.display()));
    assert_eq!(actual, expected, "wire format of {name} changed");
    let parsed: T = serde_json::from_str(&expected).expect("fixture parses");
    assert_eq!(&parsed, value, "{name} does not round-trip");
}

fn device() -> DeviceId {
    DeviceId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001))
}

fn hlc() -> Hlc {
    Hlc {
        wall_ms: 1_764_300_000_000,
        counter: 2,
        device: device(),
    }
}

fn photo() -> AttachmentRef {
    AttachmentRef {
        sha256: Sha256::digest(b"door plate"),
        content_type: "image/jpeg".into(),
        size: 183_204,
    }
}

fn record() -> Record {
    Record {
        id: RecordId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00aa)),
        form_id: "house".into(),
        form_version: 1,
        grid: "320614-001-01".into(),
        author: UserId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0abc)),
        device: device(),
        values: json!({"use": "rented", "storeys": 6, "photos": [photo().sha256]})
            .as_object()
            .cloned()
            .unwrap(),
        attachments: vec![photo()],
        created_at: Utc.with_ymd_and_hms(2026, 11, 28, 9, 30, 0).unwrap(),
        updated_at: Utc.with_ymd_and_hms(2026, 11, 28, 9, 41, 5).unwrap(),
        status: RecordStatus::Submitted,
    }
}

fn change(op: ChangeOp) -> Change {
    Change {
        change_id: ChangeId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0c01)),
        record_id: record().id,
        form_id: "house".into(),
        form_version: 1,
        grid: "320614-001-01".into(),
        base_revision: 3,
        hlc: hlc(),
        at: Utc.with_ymd_and_hms(2026, 11, 28, 9, 41, 5).unwrap(),
        op,
    }
}

#[test]
fn enroll() {
    check(
        "enroll_request",
        &EnrollRequest {
            badge: "061234".into(),
            password: "correct horse".into(),
            device_id: device(),
            device_name: "张警官的手机".into(),
        },
    );
    check(
        "code_enroll_request",
        &CodeEnrollRequest {
            code: "0123-4567-89ab-cdef-0123-4567-89ab-cdef".into(),
            device_id: device(),
            device_name: "张警官的手机".into(),
        },
    );
    check(
        "enroll_response",
        &EnrollResponse {
            token: "bb1_9f8e7d6c5b4a".into(),
            user: UserInfo {
                id: record().author,
                badge: "061234".into(),
                name: "张伟".into(),
                role: Role::Officer,
                station: "320614-01".into(),
                grids: vec!["320614-001-01".into(), "320614-001-02".into()],
            },
        },
    );
}

#[test]
fn push() {
    check(
        "push_request",
        &PushRequest {
            batch_id: BatchId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0b01)),
            changes: vec![
                change(ChangeOp::Upsert {
                    fields: json!({"use": "rented", "tenant_count": 4})
                        .as_object()
                        .cloned()
                        .unwrap(),
                    attachments: vec![photo()],
                }),
                change(ChangeOp::Delete),
            ],
        },
    );
    let id = change(ChangeOp::Delete).change_id;
    check(
        "push_response",
        &PushResponse {
            batch_id: BatchId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0b01)),
            results: vec![
                ChangeResult {
                    change_id: id,
                    outcome: ChangeOutcome::Accepted { revision: 4 },
                },
                ChangeResult {
                    change_id: id,
                    outcome: ChangeOutcome::Merged { revision: 5 },
                },
                ChangeResult {
                    change_id: id,
                    outcome: ChangeOutcome::Conflicted {
                        revision: 6,
                        conflicts: vec![FieldConflict {
                            field: "use".into(),
                            winning_value: json!("vacant"),
                            winner: hlc(),
                            losing_value: json!("rented"),
                            loser: Hlc {
                                wall_ms: 1_764_299_000_000,
                                ..hlc()
                            },
                            winner_name: None,
                        }],
                    },
                },
                ChangeResult {
                    change_id: id,
                    outcome: ChangeOutcome::Rejected {
                        code: ErrorCode::ValidationFailed,
                        message: Text::new("记录未通过校验", "the record did not validate"),
                        errors: vec![FieldError {
                            path: "residents[0].id_number".into(),
                            code: ProblemCode::IdCheckChar,
                            message: Text::new(
                                "身份证号 3206…：校验位应为 7",
                                "ID number 3206…: check character should be 7",
                            ),
                        }],
                    },
                },
            ],
        },
    );
}

#[test]
fn pull() {
    let definition: FormDef = serde_json::from_value(json!({
        "form_id": "visit", "version": 1, "title": {"zh": "走访记录", "en": "Visit"},
        "sections": [{"id": "s", "title": {"zh": "走访", "en": "Visit"}, "fields": [
            {"name": "notes", "label": {"zh": "情况", "en": "Notes"}, "kind": {"type": "text", "multiline": true}}
        ]}]
    }))
    .unwrap();
    check(
        "pull_page",
        &PullPage {
            items: vec![
                PullItem::Form {
                    cursor: Cursor(41),
                    definition: Box::new(definition),
                },
                PullItem::Record {
                    cursor: Cursor(42),
                    version: Box::new(RecordVersion {
                        record: Record {
                            status: RecordStatus::Returned,
                            ..record()
                        },
                        revision: 7,
                        deleted: false,
                        conflicted: true,
                        review: Some(Review {
                            decision: ReviewDecision::Return {
                                reason: "租户人数与现场不符，请核实".into(),
                            },
                            by: "王所长".into(),
                            at: Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
                        }),
                        conflicts: vec![],
                    }),
                },
            ],
            next: Cursor(42),
            has_more: true,
            // Added to /v1 (November 2026): an officer's page names the grids
            // it was read with; left out for supervisors and admins.
            grids: Some(vec![record().grid]),
        },
    );
}

/// Added to /v1 (November 2026): a pulled version names the hard conflicts
/// its change resolved, and a conflict may name who wrote the winning
/// value. Both are left out when empty, so the fixtures above are unchanged.
#[test]
fn a_version_that_resolved_a_conflict() {
    let other = DeviceId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0002));
    check(
        "record_version",
        &RecordVersion {
            record: record(),
            revision: 8,
            deleted: false,
            conflicted: true,
            review: None,
            conflicts: vec![FieldConflict {
                field: "use".into(),
                winning_value: json!("vacant"),
                winner: Hlc {
                    device: other,
                    ..hlc()
                },
                losing_value: json!("rented"),
                loser: Hlc {
                    wall_ms: 1_764_299_000_000,
                    ..hlc()
                },
                winner_name: Some("李警官".into()),
            }],
        },
    );
}

#[test]
fn blobs() {
    check(
        "blob_query",
        &BlobQuery {
            hashes: vec![photo().sha256],
        },
    );
    check(
        "blob_query_response",
        &BlobQueryResponse {
            missing: vec![photo().sha256],
        },
    );
    check(
        "blob_status",
        &BlobStatus {
            sha256: photo().sha256,
            received: 65_536,
            complete: false,
        },
    );
}

#[test]
fn errors() {
    check(
        "error_body",
        &ErrorBody {
            code: ErrorCode::OutOfScope,
            message: Text::new(
                "该记录不属于您的网格",
                "the record's grid is not one of yours",
            ),
            errors: vec![],
        },
    );
}
