//! `POST /v1/push` and `GET /v1/pull`.

use axum::extract::State;
use axum::Json;
use beatbook_schema::ids::GridId;
use beatbook_schema::protocol::{
    ChangeResult, Cursor, ErrorBody, ErrorCode, PullPage, PushRequest, PushResponse, Role,
};
use beatbook_store::ReadScope;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::Caller;
use crate::disk;
use crate::error::ApiError;
use crate::http::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::sync::{self, read_scope};

/// Sends a batch of changes.
///
/// Answers one result per change, in order. Replaying a batch or a change
/// returns the original results.
#[utoipa::path(
    post,
    path = "/v1/push",
    tag = "sync",
    operation_id = "push",
    security(("bearer" = [])),
    request_body = PushRequest,
    responses(
        (status = 200, description = "Every change's outcome; a refused change is `rejected` here, not an HTTP error.", body = PushResponse),
        (status = 400, description = "`malformed_request`: not JSON of the expected shape.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no, an unknown or an expired token, or the account is disabled; `device_revoked`: wipe local data.", body = ErrorBody),
        (status = 408, description = "`internal`: the request body stopped arriving (longer than `body_idle_timeout_secs` between bytes); send it again.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: more changes than the server takes in one push, or the body exceeds its limit.", body = ErrorBody),
        (status = 415, description = "`malformed_request`: the body is not sent as `application/json`.", body = ErrorBody),
        (status = 503, description = "`internal`: the server cannot handle this right now; retry later.", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`: the server is short of disk space; the changes stay on the device, retry later.", body = ErrorBody),
    ),
)]
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
    if !disk::has_room(
        &state.config.data_dir,
        0,
        state.config.push_min_free_disk_bytes,
    ) {
        tracing::warn!("push refused: the data directory is short of free space");
        return Err(ApiError::new(
            ErrorCode::InsufficientStorage,
            "服务器磁盘空间不足，暂时无法保存记录（记录仍在设备上）：请稍后重试，并告知管理员",
            "the server is short of disk space and cannot store records now (they stay on the device): try again later and tell the administrator",
        ));
    }
    let results = sync::push(
        state.store.as_ref(),
        &state.forms,
        &state.policy,
        caller.user,
        caller.device,
        req.batch_id,
        req.changes,
    )
    .await?;
    Ok(Json(PushResponse {
        batch_id: req.batch_id,
        results: results
            .into_iter()
            .map(|(change_id, outcome)| ChangeResult { change_id, outcome })
            .collect(),
    }))
}

/// Query of `GET /v1/pull`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PullParams {
    /// The `next` cursor of the last page applied; 0 (the default) for everything.
    #[serde(default)]
    since: u64,
    /// Most items in the page; the server caps it at its own page limit, and 0 counts as 1.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    limit: Option<u32>,
}

/// Serializes exactly like [`beatbook_schema::protocol::PullPage`], but from
/// the stored item JSON without parsing it.
#[derive(Serialize)]
pub(super) struct RawPullPage {
    items: Vec<Box<RawValue>>,
    next: Cursor,
    has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    grids: Option<Vec<GridId>>,
}

/// What changed in the caller's scope.
///
/// The forms and record versions committed after `since`, in log order.
#[utoipa::path(
    get,
    path = "/v1/pull",
    tag = "sync",
    operation_id = "pull",
    security(("bearer" = [])),
    params(PullParams),
    responses(
        (status = 200, description = "One page; pass `next` as `since` for the next one while `has_more`.", body = PullPage),
        (status = 400, description = "`malformed_request`: `since` or `limit` is not a non-negative integer in range.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no, an unknown or an expired token, or the account is disabled; `device_revoked`: wipe local data.", body = ErrorBody),
        (status = 503, description = "`internal`: the server cannot handle this right now; retry later.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(device = %caller.device, since = params.since), err(Debug))]
pub(super) async fn pull(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PullParams>,
) -> Result<Json<RawPullPage>, ApiError> {
    // Cursors are SQL integers: one past i64::MAX names no position (and
    // would wrap to a negative cursor, i.e. the whole log again).
    if params.since > i64::MAX as u64 {
        return Err(ApiError::malformed(
            "since must be a cursor the server answered (at most 9223372036854775807)",
        ));
    }
    let max = state.config.pull_page_limit.max(1);
    let limit = params.limit.unwrap_or(max).clamp(1, max);
    let grids = state.store.grids().await?;
    let scope = read_scope(&caller.user, &grids);
    // Only an officer's or auxiliary's scope is their own grid list: the one
    // a device keeps and must be told about when an admin changes it.
    let own_grids = match (caller.user.role, &scope) {
        (Role::Officer | Role::Auxiliary, ReadScope::Grids(g)) => Some(g.clone()),
        _ => None,
    };
    let page = state.store.pull(scope, Cursor(params.since), limit).await?;
    Ok(Json(RawPullPage {
        items: page.items.into_iter().map(|i| i.json).collect(),
        next: page.next,
        has_more: page.has_more,
        grids: own_grids,
    }))
}
