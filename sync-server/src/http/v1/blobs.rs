//! Attachments: `POST /v1/blobs/missing`, resumable `PUT /v1/blobs/{sha256}`
//! and `GET /v1/blobs/{sha256}`.
//!
//! Uploads follow the resumable-upload convention of object stores: each PUT
//! carries `Content-Range: bytes <first>-<last>/<total>` (or `bytes */<total>`
//! to ask where the upload stands, or no header for a whole blob in one go).
//! While incomplete the answer is `308` with `Range: bytes=0-<received-1>`;
//! when the last byte arrives the SHA-256 is checked: `201` if it matches,
//! `422 hash_mismatch` (and the partial bytes discarded) if not. Bytes are
//! written as they arrive, so a connection dropped mid-body keeps what came.
//!
//! What a device may leave on disk is bounded: its unfinished uploads by count
//! and bytes, everything it uploaded that no record uses yet by bytes (429),
//! and all uploads by the free space the database needs (507). The bytes
//! arrive as sent (no `Content-Encoding`), so a limit counts what the device
//! really transferred.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use beatbook_schema::ids::{DeviceId, Sha256};
use beatbook_schema::protocol::{BlobQuery, BlobQueryResponse, BlobStatus, ErrorBody, ErrorCode};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::auth::Caller;
use crate::disk;
use crate::error::ApiError;
use crate::http::ApiJson;
use crate::state::AppState;
use crate::sync::{complete_upload, read_scope, Completed, UploadError};

/// Most digests in one presence query.
const MAX_QUERY: usize = 10_000;

/// Raw attachment bytes: the schema of the octet-stream bodies.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documentation only: the handlers stream the bytes
struct Bytes(Vec<u8>);

/// Which of these digests this device lacks.
///
/// Upload those before pushing changes that reference them. A digest is
/// missing for a device until it uploaded the bytes or can read a record
/// that carries them, whether or not the server has them from elsewhere.
#[utoipa::path(
    post,
    path = "/v1/blobs/missing",
    tag = "blobs",
    operation_id = "missing_blobs",
    security(("bearer" = [])),
    request_body = BlobQuery,
    responses(
        (status = 200, description = "The digests this device does not hold: not stored complete, or neither uploaded by it nor carried by a record it can read.", body = BlobQueryResponse),
        (status = 400, description = "`malformed_request`: not JSON of the expected shape (e.g. a digest that is not 64 hex characters).", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no, an unknown or an expired token, or the account is disabled; `device_revoked`: wipe local data.", body = ErrorBody),
        (status = 408, description = "`internal`: the request body stopped arriving (longer than `body_idle_timeout_secs` between bytes); send it again.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: more than 10 000 digests, or the body exceeds the server's limit.", body = ErrorBody),
        (status = 415, description = "`malformed_request`: the body is not sent as `application/json`.", body = ErrorBody),
        (status = 503, description = "`internal`: the server cannot handle this right now; retry later.", body = ErrorBody),
    ),
)]
pub(super) async fn missing(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(query): ApiJson<BlobQuery>,
) -> Result<Json<BlobQueryResponse>, ApiError> {
    if query.hashes.len() > MAX_QUERY {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("一次最多查询 {MAX_QUERY} 个附件"),
            format!("at most {MAX_QUERY} digests per query"),
        ));
    }
    let missing = not_held(&state, &caller, query.hashes).await?;
    Ok(Json(BlobQueryResponse { missing }))
}

/// Which of `hashes` the caller's device does not hold.
async fn not_held(
    state: &AppState,
    caller: &Caller,
    hashes: Vec<Sha256>,
) -> Result<Vec<Sha256>, ApiError> {
    let grids = state.store.grids().await?;
    let scope = read_scope(&caller.user, &grids);
    Ok(state
        .store
        .blobs_not_held(hashes, caller.device, scope)
        .await?)
}

fn parse_sha(raw: &str) -> Result<Sha256, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::malformed(format!(
            "'{raw}' is not a SHA-256 digest (64 hex characters)"
        ))
    })
}

/// A parsed `Content-Range`.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// `bytes */total`: where does the upload stand?
    Query { total: u64 },
    /// `bytes first-last/total`.
    Bytes { first: u64, last: u64, total: u64 },
}

fn parse_range(value: &str) -> Option<Range> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let total: u64 = total.trim().parse().ok()?;
    if span.trim() == "*" {
        return Some(Range::Query { total });
    }
    let (first, last) = span.split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first <= last && last < total).then_some(Range::Bytes { first, last, total })
}

fn status_response(code: StatusCode, sha: Sha256, received: u64, complete: bool) -> Response {
    let body = Json(BlobStatus {
        sha256: sha,
        received,
        complete,
    });
    if code == StatusCode::PERMANENT_REDIRECT && received > 0 {
        (code, [(RANGE, format!("bytes=0-{}", received - 1))], body).into_response()
    } else {
        (code, body).into_response()
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Io(e) => io_error(e),
            UploadError::Store(e) => e.into(),
        }
    }
}

fn io_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "blob storage failure");
    ApiError::new(
        ErrorCode::Internal,
        "服务器存储附件失败，请稍后重试",
        "the server could not store the attachment: try again later",
    )
    .with_status(StatusCode::SERVICE_UNAVAILABLE)
}

/// Uploads an attachment, resumably.
///
/// Each PUT carries `Content-Range: bytes <first>-<last>/<total>`, or
/// `bytes */<total>` to ask where the upload stands, or no header for the
/// whole blob in one go. The `Content-Type` sent is stored as the
/// attachment's type.
#[utoipa::path(
    put,
    path = "/v1/blobs/{sha256}",
    tag = "blobs",
    operation_id = "upload_blob",
    security(("bearer" = [])),
    params(
        ("sha256" = Sha256, Path, description = "SHA-256 of the whole blob, lowercase hex."),
        ("Content-Range" = Option<String>, Header, nullable = false, pattern = r"^bytes (\*|[0-9]+-[0-9]+)/[0-9]+$",
            description = "`bytes <first>-<last>/<total>` (inclusive, `first` ≤ bytes received so far, `last` < `total`), or `bytes */<total>` to ask where the upload stands. Without it the body is the whole blob."),
    ),
    request_body(content = inline(Bytes), content_type = "application/octet-stream",
        description = "The bytes `first..=last` of the blob (any media type; it is stored with the attachment). Empty for a `bytes */<total>` status query."),
    responses(
        (status = 200, description = "This device already holds the whole blob (it uploaded it, or a record it can read carries it): nothing more to send.", body = BlobStatus),
        (status = 201, description = "The last byte arrived and the SHA-256 matches: the blob is stored.", body = BlobStatus),
        (status = 308, description = "Incomplete (or the answer to a `bytes */<total>` query): continue at byte `received`.", body = BlobStatus,
            headers(("Range" = String, description = "`bytes=0-<received - 1>`; absent while nothing has been received."))),
        (status = 400, description = "`malformed_request`: the digest is not 64 hex characters, the Content-Range is malformed, or the body does not match its Content-Range.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no, an unknown or an expired token, or the account is disabled; `device_revoked`: wipe local data.", body = ErrorBody),
        (status = 409, description = "`range_mismatch`: `first` lies beyond the bytes received; resend from the byte the Range header names.", body = ErrorBody,
            headers(("Range" = String, description = "`bytes=0-<received - 1>` (`bytes=0-0` while nothing has been received)."))),
        (status = 413, description = "`payload_too_large`: the Content-Range total (or the Content-Length of a whole blob) exceeds the attachment size limit.", body = ErrorBody),
        (status = 415, description = "`malformed_request`: the body was sent with a Content-Encoding; send the bytes as they are.", body = ErrorBody),
        (status = 422, description = "`hash_mismatch`: the complete bytes do not match the digest; they were discarded, upload again.", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: this device holds too many unfinished uploads, too many of their bytes, or too many uploaded bytes no record uses yet; finish or push first, or wait until unfinished uploads expire.", body = ErrorBody),
        (status = 503, description = "`internal`: the server cannot store the attachment right now; retry later.", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`: the server is short of disk space; retry later.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(device = %caller.device))]
pub(super) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let sha = parse_sha(&raw)?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .chars()
        .take(100)
        .collect::<String>();
    if not_held(&state, &caller, vec![sha]).await?.is_empty() {
        return Ok(status_response(StatusCode::OK, sha, 0, true));
    }
    let device = caller.device;
    let range = match headers.get(CONTENT_RANGE) {
        Some(v) => Some(v.to_str().ok().and_then(parse_range).ok_or_else(|| {
            ApiError::malformed("Content-Range must be 'bytes first-last/total' or 'bytes */total'")
        })?),
        None => None,
    };
    let total = match &range {
        Some(Range::Query { total } | Range::Bytes { total, .. }) => Some(*total),
        None => None,
    };
    let length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let declared = total.or(length);
    if declared.is_some_and(|t| t > state.config.max_blob_bytes) {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "附件不能超过 {} MB",
                state.config.max_blob_bytes / 1_048_576
            ),
            format!(
                "attachments are limited to {} MB",
                state.config.max_blob_bytes / 1_048_576
            ),
        ));
    }

    let _turn = state.blobs.lock_device(device).await.map_err(io_error)?;
    let received = state.blobs.received(device, &sha).await.map_err(io_error)?;
    if total.is_some_and(|t| t > 0 && received >= t) {
        // Every byte arrived before, but the blob was never verified (the
        // server stopped in between): verify it now, or the device would be
        // told to continue at a byte past the end, forever.
        return finish(&state, device, sha, received, &content_type).await;
    }
    let (first, last, total) = match range {
        Some(Range::Query { .. }) => {
            return Ok(status_response(
                StatusCode::PERMANENT_REDIRECT,
                sha,
                received,
                false,
            ))
        }
        Some(Range::Bytes { first, last, total }) => (first, Some(last), total),
        None => (0, None, length.unwrap_or(state.config.max_blob_bytes)),
    };
    if first > received {
        let err = ApiError::new(
            ErrorCode::RangeMismatch,
            format!("上传应从第 {received} 字节继续"),
            format!("the upload continues at byte {received}, not {first}"),
        );
        let mut response = err.into_response();
        if received > 0 {
            if let Ok(range) = format!("bytes=0-{}", received - 1).parse() {
                response.headers_mut().insert(RANGE, range);
            }
        }
        return Ok(response);
    }

    // The file never grows past `end`: the body may not run beyond it.
    let end = last.map_or(total, |l| l + 1); // exclusive
    if end > received {
        within_quota(&state, device, sha, end).await?;
        if !disk::has_room(
            &state.config.blob_dir(),
            end - received,
            state.config.min_free_disk_bytes,
        ) {
            tracing::warn!("upload refused: the blob directory is short of free space");
            return Err(ApiError::new(
                ErrorCode::InsufficientStorage,
                "服务器磁盘空间不足，暂不接收照片（记录仍可同步）：请稍后重试，并告知管理员",
                "the server is short of disk space and takes no photos for now (records still sync): try again later and tell the administrator",
            ));
        }
    }

    // Append what arrives, skipping bytes already held (a resend after a lost answer).
    let mut file = state
        .blobs
        .append_partial(device, &sha)
        .await
        .map_err(io_error)?;
    let mut position = first;
    let mut written = received;
    let mut stream = body.into_data_stream();
    let mut broken = false;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            broken = true; // client went away: keep what arrived
            break;
        };
        let chunk_end = position + chunk.len() as u64;
        if chunk_end > end {
            file.sync_all().await.map_err(io_error)?;
            return Err(ApiError::malformed(
                "the body is longer than its Content-Range",
            ));
        }
        if chunk_end > written {
            let skip = (written - position) as usize;
            file.write_all(&chunk[skip..]).await.map_err(io_error)?;
            written = chunk_end;
        }
        position = chunk_end;
    }
    file.sync_all().await.map_err(io_error)?;
    drop(file);
    if broken {
        return Ok(status_response(
            StatusCode::PERMANENT_REDIRECT,
            sha,
            written,
            false,
        ));
    }
    let whole = last.is_none();
    if last.is_some() && position != end {
        return Err(ApiError::malformed(
            "the body is shorter than its Content-Range",
        ));
    }
    if written < total && !whole {
        return Ok(status_response(
            StatusCode::PERMANENT_REDIRECT,
            sha,
            written,
            false,
        ));
    }

    finish(&state, device, sha, written, &content_type).await
}

/// Refuses (429) bytes up to `end` of `device`'s upload of `sha` when they
/// would take the device past one of its quotas. Called with the device's
/// upload lock held, so its files hold still while counted.
async fn within_quota(
    state: &AppState,
    device: DeviceId,
    sha: Sha256,
    end: u64,
) -> Result<(), ApiError> {
    let config = &state.config;
    let partials = state.blobs.partials(device).await.map_err(io_error)?;
    let others: Vec<_> = partials.iter().filter(|p| p.sha != sha).collect();
    let other_bytes: u64 = others.iter().map(|p| p.len).sum();
    let mib = |b: u64| b / (1024 * 1024);
    let fresh = others.len() == partials.len();
    let refusal = if fresh
        && others.len() as u64 >= u64::from(config.max_partial_uploads_per_device)
    {
        Some((
            format!(
                "本设备未完成的附件上传已达 {} 个：请先完成这些上传，未完成的上传 {} 小时不动即被清除",
                config.max_partial_uploads_per_device,
                config.partial_upload_ttl_secs / 3600
            ),
            format!(
                "this device already has {} unfinished uploads: finish them first (unfinished uploads left alone for {} h are removed)",
                config.max_partial_uploads_per_device,
                config.partial_upload_ttl_secs / 3600
            ),
        ))
    } else if other_bytes.saturating_add(end) > config.max_partial_bytes_per_device {
        Some((
            format!(
                "本设备未完成的附件上传最多 {} MB：请先完成正在进行的上传",
                mib(config.max_partial_bytes_per_device)
            ),
            format!(
                "this device's unfinished uploads may hold at most {} MB: finish the uploads under way first",
                mib(config.max_partial_bytes_per_device)
            ),
        ))
    } else {
        let unattached = state.store.unattached_bytes(device).await?;
        (unattached
            .saturating_add(other_bytes)
            .saturating_add(end)
            > config.max_unattached_bytes_per_device)
            .then(|| {
                (
                    format!(
                        "本设备已上传但尚未被记录使用的照片最多 {} MB：请先同步使用这些照片的记录，再上传其余照片",
                        mib(config.max_unattached_bytes_per_device)
                    ),
                    format!(
                        "this device may hold at most {} MB of uploaded photos no record uses yet: push the records that use them, then upload the rest",
                        mib(config.max_unattached_bytes_per_device)
                    ),
                )
            })
    };
    match refusal {
        Some((zh, en)) => {
            tracing::warn!(
                partials = partials.len(),
                partial_bytes = other_bytes,
                "upload refused: device quota"
            );
            Err(ApiError::new(ErrorCode::TooManyRequests, zh, en))
        }
        None => Ok(()),
    }
}

/// Verifies a blob whose bytes have all arrived: stored (201) if they match
/// the digest, discarded (422) if not.
async fn finish(
    state: &AppState,
    device: DeviceId,
    sha: Sha256,
    written: u64,
    content_type: &str,
) -> Result<Response, ApiError> {
    let completed = complete_upload(
        state.store.as_ref(),
        &state.blobs,
        device,
        sha,
        written,
        content_type,
    )
    .await?;
    if completed == Completed::Mismatch {
        return Err(ApiError::new(
            ErrorCode::HashMismatch,
            "附件内容与其 SHA-256 不符，已丢弃，请重新上传",
            "the bytes do not match their SHA-256: discarded, upload again",
        ));
    }
    Ok(status_response(StatusCode::CREATED, sha, written, true))
}

/// Refuses (415) an attachment upload sent with a `Content-Encoding`, before
/// the decompression layer inflates anything: a few kilobytes of gzip can
/// stand for gigabytes, and photos are compressed already.
pub(crate) async fn refuse_encoded_upload(req: Request, next: Next) -> Response {
    let encoded = req
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded && req.method() == Method::PUT && req.uri().path().starts_with("/v1/blobs/") {
        return ApiError::new(
            ErrorCode::MalformedRequest,
            "附件须按原样上传，不能带 Content-Encoding（照片本身已压缩）",
            "send attachment bytes as they are, without Content-Encoding (photos are compressed already)",
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .into_response();
    }
    next.run(req).await
}

/// The bytes of an attachment of a record in the caller's scope.
#[utoipa::path(
    get,
    path = "/v1/blobs/{sha256}",
    tag = "blobs",
    operation_id = "download_blob",
    security(("bearer" = [])),
    params(
        ("sha256" = Sha256, Path, description = "SHA-256 of the blob, lowercase hex."),
    ),
    responses(
        (status = 200, description = "The bytes.", content_type = "application/octet-stream", body = inline(Bytes)),
        (status = 400, description = "`malformed_request`: the digest is not 64 hex characters.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no, an unknown or an expired token, or the account is disabled; `device_revoked`: wipe local data.", body = ErrorBody),
        (status = 404, description = "`not_found`: no complete blob with this digest is attached to a record in the caller's scope.", body = ErrorBody),
        (status = 503, description = "`internal`: the server cannot read the attachment right now; retry later.", body = ErrorBody),
    ),
)]
pub(super) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let sha = parse_sha(&raw)?;
    let grids = state.store.grids().await?;
    if !state
        .store
        .blob_in_scope(sha, read_scope(&caller.user, &grids))
        .await?
    {
        return Err(ApiError::not_found("attachment"));
    }
    let bytes = tokio::fs::read(state.blobs.path(&sha))
        .await
        .map_err(io_error)?;
    Ok(([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_range("bytes 0-99/200"),
            Some(Range::Bytes {
                first: 0,
                last: 99,
                total: 200
            })
        );
        assert_eq!(
            parse_range("bytes */200"),
            Some(Range::Query { total: 200 })
        );
        assert_eq!(parse_range("bytes 100-99/200"), None);
        assert_eq!(parse_range("bytes 0-200/200"), None);
        assert_eq!(parse_range("items 0-1/2"), None);
        assert_eq!(parse_range("bytes a-b/c"), None);
    }
}
