//! `POST /v1/push` and `GET /v1/pull`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use beatbook_schema::protocol::{
    ChangeOutcome, ChangeResult, Cursor, ErrorCode, PushRequest, PushResponse,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::storage::Pusher;
use crate::sync::{decide, read_scope, Decider};

#[tracing::instrument(skip_all, fields(device = %caller.device, batch_len = req.changes.len()), err(Debug))]
pub(super) async fn push(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    if req.changes.len() > state.config.max_batch_changes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "一次最多同步 {} 条修改，请分批",
                state.config.max_batch_changes
            ),
            format!(
                "at most {} changes per push: split the batch",
                state.config.max_batch_changes
            ),
        ));
    }
    let grids = state.store.grids().await?;
    let scope = read_scope(&caller.user, &grids);
    let pusher = Pusher {
        user: caller.user,
        device: caller.device,
        now: Utc::now(),
    };
    let (forms, policy, judge) = (state.forms(), state.policy.clone(), pusher.clone());
    let decider: Decider =
        Arc::new(move |change, existing| decide(change, existing, &judge, &scope, &forms, &policy));
    let results = state
        .store
        .push(pusher, req.batch_id, req.changes, decider)
        .await?;

    metrics::counter!("beatbook_sync_batches_total").increment(1);
    for (_, outcome) in &results {
        let label = match outcome {
            ChangeOutcome::Accepted { .. } => "accepted",
            ChangeOutcome::Merged { .. } => "merged",
            ChangeOutcome::Conflicted { .. } => "conflicted",
            ChangeOutcome::Rejected { .. } => "rejected",
        };
        metrics::counter!("beatbook_sync_changes_total", "outcome" => label).increment(1);
        if let ChangeOutcome::Conflicted { conflicts, .. } = outcome {
            metrics::counter!("beatbook_sync_conflicts_total").increment(conflicts.len() as u64);
        }
    }
    Ok(Json(PushResponse {
        batch_id: req.batch_id,
        results: results
            .into_iter()
            .map(|(change_id, outcome)| ChangeResult { change_id, outcome })
            .collect(),
    }))
}

/// Query of `GET /v1/pull`.
#[derive(Debug, Deserialize)]
pub(super) struct PullParams {
    #[serde(default)]
    since: u64,
    limit: Option<u32>,
}

/// Serializes exactly like [`beatbook_schema::protocol::PullPage`], but from
/// the stored item JSON without parsing it.
#[derive(Serialize)]
pub(super) struct RawPullPage {
    items: Vec<Box<RawValue>>,
    next: Cursor,
    has_more: bool,
}

#[tracing::instrument(skip_all, fields(device = %caller.device, since = params.since), err(Debug))]
pub(super) async fn pull(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PullParams>,
) -> Result<Json<RawPullPage>, ApiError> {
    let max = state.config.pull_page_limit.max(1);
    let limit = params.limit.unwrap_or(max).clamp(1, max);
    let grids = state.store.grids().await?;
    let page = state
        .store
        .pull(
            read_scope(&caller.user, &grids),
            Cursor(params.since),
            limit,
        )
        .await?;
    Ok(Json(RawPullPage {
        items: page.items.into_iter().map(|i| i.json).collect(),
        next: page.next,
        has_more: page.has_more,
    }))
}
