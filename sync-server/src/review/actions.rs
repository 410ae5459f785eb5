//! What a supervisor does to records — review (approve, return) and verify a
//! hazard — as the pages apply it: the form's choice checked, the rule of
//! [`super::rules`] run inside the store's transaction with its audit entry,
//! and the outcome for one record turned into the page's answer.

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ErrorCode, Review, ReviewDecision};
use beatbook_store::{EditOutcome, NewAudit, RecordEdit};
use chrono::Utc;

use super::error::ReviewError;
use super::layout::back_with;
use super::reviewer::Reviewer;
use crate::state::AppState;

/// The longest reason a return may give.
pub const MAX_REASON_CHARS: usize = 500;

/// A decision, checked: approve, or return with a reason.
pub fn parse_decision(
    r: &Reviewer,
    decision: &str,
    reason: Option<&str>,
) -> Result<Review, ReviewError> {
    let decision = match decision {
        "approve" => ReviewDecision::Approve,
        "return" => {
            let reason = reason.map(str::trim).unwrap_or("");
            if reason.is_empty() {
                return Err(ReviewError::page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "退回时必须填写原因，民警需要知道要改什么",
                    "a return needs a reason: the officer needs to know what to correct",
                ));
            }
            if reason.chars().count() > MAX_REASON_CHARS {
                return Err(ReviewError::page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("退回原因最多 {MAX_REASON_CHARS} 字"),
                    format!("the reason may have at most {MAX_REASON_CHARS} characters"),
                ));
            }
            ReviewDecision::Return {
                reason: reason.to_owned(),
            }
        }
        _ => {
            return Err(ReviewError::bad_request(
                "未知的审核决定",
                "unknown decision",
            ))
        }
    };
    Ok(Review {
        decision,
        by: r.user.name.clone(),
        at: Utc::now(),
    })
}

/// The audit word of a decision.
pub fn action_of(review: &Review) -> &'static str {
    match review.decision {
        ReviewDecision::Approve => "approve",
        ReviewDecision::Return { .. } => "return",
    }
}

/// The reason of a return (none for an approval).
pub fn reason_of(review: &Review) -> Option<String> {
    match &review.decision {
        ReviewDecision::Return { reason } => Some(reason.clone()),
        ReviewDecision::Approve => None,
    }
}

/// The notice the page shows after an action (`approve` → `approved`).
pub fn notice_of(action: &str) -> &'static str {
    match action {
        "approve" => "approved",
        "return" => "returned",
        _ => "verified",
    }
}

/// Applies `edit` to the one record `id`, writing `entry` to the audit log in
/// the same transaction if the record was written, and answers as the pages
/// do: back to `back` (else `fallback`) with `notice`; 404 when the record is
/// out of scope or gone; the refusal's reason otherwise (422 when the record
/// would not validate, else 409).
pub async fn edit_one(
    state: &AppState,
    id: RecordId,
    edit: RecordEdit,
    entry: NewAudit,
    (back, fallback): (Option<&str>, &str),
    notice: &str,
) -> Result<Response, ReviewError> {
    let results = state
        .store
        .edit_records(
            vec![id],
            edit,
            Box::new(move |results| {
                results
                    .iter()
                    .any(|(_, o)| matches!(o, EditOutcome::Written { .. }))
                    .then_some(entry)
            }),
        )
        .await?;
    match results.into_iter().next().map(|(_, o)| o) {
        Some(EditOutcome::Written { .. }) => {
            let to = back_with(back, fallback, notice, 1, 0);
            Ok((StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response())
        }
        Some(EditOutcome::Refused(refusal)) if refusal.code == ErrorCode::OutOfScope => {
            Err(ReviewError::not_found())
        }
        Some(EditOutcome::Refused(refusal)) => Err(ReviewError::Page {
            status: if refusal.code == ErrorCode::ValidationFailed {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::CONFLICT
            },
            message: refusal.message,
        }),
        Some(EditOutcome::Missing) | None => Err(ReviewError::not_found()),
    }
}
