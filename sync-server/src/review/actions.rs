//! What a supervisor does to records — review (approve, return), verify a
//! hazard, resolve a duplicate person — as the pages apply it: the form's choice checked, the rule of
//! [`super::rules`] run inside the store's transaction with its audit entry,
//! and the outcome for one record turned into the page's answer.

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use beatbook_schema::ids::RecordId;
use beatbook_schema::protocol::{ErrorCode, Review, ReviewDecision};
use beatbook_store::{EditOutcome, NewAudit, RecordEdit, Refusal};
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
    back: (Option<&str>, &str),
    notice: &str,
) -> Result<Response, ReviewError> {
    edit_together(state, vec![id], edit, entry, back, notice).await
}

/// [`edit_one`] for records edited together (a duplicate's resolution):
/// `entry` is written only when every record was, and the first record not
/// written gives the answer.
pub async fn edit_together(
    state: &AppState,
    ids: Vec<RecordId>,
    edit: RecordEdit,
    entry: NewAudit,
    (back, fallback): (Option<&str>, &str),
    notice: &str,
) -> Result<Response, ReviewError> {
    let n = ids.len();
    let results = state
        .store
        .edit_records(
            ids,
            edit,
            Box::new(move |results| {
                results
                    .iter()
                    .all(|(_, o)| matches!(o, EditOutcome::Written { .. }))
                    .then_some(entry)
            }),
        )
        .await?;
    let failed = results
        .into_iter()
        .map(|(_, o)| o)
        .find(|o| !matches!(o, EditOutcome::Written { .. }));
    match failed {
        None if n > 0 => {
            let to = back_with(back, fallback, notice, 1, 0);
            Ok((StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response())
        }
        Some(EditOutcome::Refused(refusal)) => Err(refused(refusal)),
        None | Some(EditOutcome::Missing) | Some(EditOutcome::Written { .. }) => {
            Err(ReviewError::not_found())
        }
    }
}

/// A rule's refusal as the pages answer it: 404 when the record is out of
/// scope (its existence is not revealed), 422 when it would not validate,
/// else 409 with the reason.
pub fn refused(refusal: Refusal) -> ReviewError {
    if refusal.code == ErrorCode::OutOfScope {
        return ReviewError::not_found();
    }
    ReviewError::Page {
        status: if refusal.code == ErrorCode::ValidationFailed {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::CONFLICT
        },
        message: refusal.message,
    }
}
