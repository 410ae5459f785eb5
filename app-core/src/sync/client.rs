//! The v1 protocol over HTTP (reqwest with rustls; gzip both ways).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beatbook_schema::ids::{BatchId, Sha256};
use beatbook_schema::protocol::{
    BlobQuery, BlobQueryResponse, BlobStatus, CodeEnrollRequest, Cursor, EnrollRequest,
    EnrollResponse, ErrorBody, ErrorCode, PushResponse,
};
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::address::{self, AddressError};
use crate::store::{LocalStoreError, PulledPage, Unsent};

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No answer (no signal, timeout, connection dropped): worth retrying.
    #[error("no connection to the server: {0}")]
    Network(String),
    /// The server answered with an error.
    #[error("server answered {status}: {}", body.message.en)]
    Server {
        /// HTTP status.
        status: StatusCode,
        /// The error body.
        body: ErrorBody,
        /// Seconds to wait, if the server said.
        retry_after: Option<u64>,
    },
    /// The device is not enrolled yet.
    #[error("this device is not enrolled: enroll with badge number and password first")]
    NotEnrolled,
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] LocalStoreError),
    /// A local photo file could not be read.
    #[error("photo {0}: {1}")]
    Photo(Sha256, String),
    /// The server address is refused before any connection.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The server says this device was revoked: its data was wiped,
    /// including what had not been sent.
    #[error("{}", revoked_message(.unsent).en)]
    Revoked {
        /// What was destroyed before the server had it.
        unsent: Unsent,
    },
}

/// What to tell the officer when the device was revoked and wiped.
pub fn revoked_message(unsent: &Unsent) -> beatbook_schema::text::Text {
    let Unsent { records, photos } = unsent;
    if unsent.is_empty() {
        beatbook_schema::text::Text::new(
            "此设备已被注销，本机数据已清除（所有记录均已上传，没有丢失）",
            "This device was revoked and its data erased (everything had been sent; nothing was lost)",
        )
    } else {
        beatbook_schema::text::Text::new(
            format!("此设备已被注销，本机数据已清除：{records} 条尚未上传的记录和 {photos} 张尚未上传的照片已被销毁，服务器上没有这些数据，请联系管理员"),
            format!("This device was revoked and its data erased: {records} record(s) and {photos} photo(s) that had not been sent were destroyed and are not on the server; tell your administrator"),
        )
    }
}

impl SyncError {
    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Network(_) => true,
            SyncError::Server { status, body, .. } => {
                status.is_server_error() || body.code.is_retryable()
            }
            _ => false,
        }
    }

    /// The server's error code, if it answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            SyncError::Server { body, .. } => Some(body.code),
            SyncError::Revoked { .. } => Some(ErrorCode::DeviceRevoked),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for SyncError {
    fn from(e: reqwest::Error) -> Self {
        SyncError::Network(e.to_string())
    }
}

/// An HTTP client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    /// Requests made (retries included), shared by clones: a sync reports
    /// its round trips.
    requests: Arc<AtomicU64>,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// A push on the wire: a [`PushRequest`](beatbook_schema::protocol::PushRequest)
/// serialized and gzipped once, from the batch's changes as they are (not
/// a copy of them); its retries resend the same bytes.
#[derive(Debug, Clone)]
pub struct PushBody(Bytes);

/// `PushRequest`'s wire form over borrowed changes.
#[derive(Serialize)]
struct PushRequestRef<'a, C> {
    batch_id: BatchId,
    changes: &'a [C],
}

impl PushBody {
    /// The push of `changes` (each a
    /// [`Change`](beatbook_schema::protocol::Change) or its JSON) as batch
    /// `batch_id`, serialized: [`PushBody::gzip`] makes the body of it.
    pub fn json<C: Serialize>(batch_id: BatchId, changes: &[C]) -> Result<Vec<u8>, SyncError> {
        serde_json::to_vec(&PushRequestRef { batch_id, changes })
            .map_err(|e| SyncError::Network(format!("a change did not serialize: {e}")))
    }

    /// The body of a push serialized by [`PushBody::json`].
    pub fn gzip(json: &[u8]) -> Self {
        Self(gzip(json).into())
    }
}

async fn error_of(res: reqwest::Response) -> SyncError {
    let status = res.status();
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| ErrorBody {
        code: if status.is_server_error() {
            ErrorCode::Internal
        } else {
            ErrorCode::MalformedRequest
        },
        message: beatbook_schema::text::Text::new(
            format!("服务器返回 {status}"),
            format!("the server answered {status}"),
        ),
        errors: vec![],
    });
    SyncError::Server {
        status,
        body,
        retry_after,
    }
}

/// How long one request may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

impl Client {
    /// A client of `base` (e.g. `https://beatbook.example.gov.cn`, or
    /// `http://127.0.0.1:8700` on this machine: see [`address::check`]),
    /// with a token once enrolled.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, SyncError> {
        address::check(base)?;
        #[cfg(not(target_arch = "wasm32"))]
        let http = reqwest::Client::builder()
            // The protocol never redirects; following one could carry the
            // token to an address `check` would have refused.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(REQUEST_TIMEOUT)
            .gzip(true)
            .build()?;
        // The web build goes through the browser's fetch, which decompresses
        // answers itself and follows redirects (reqwest cannot refuse them
        // there; browsers drop the Authorization header on a cross-origin
        // redirect). Its timeout is set per request.
        #[cfg(target_arch = "wasm32")]
        let http = reqwest::Client::builder().build()?;
        Ok(Self {
            http,
            base: base.trim().trim_end_matches('/').to_owned(),
            token,
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Requests this client has made so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let req = self.http.request(method, format!("{}{path}", self.base));
        #[cfg(target_arch = "wasm32")]
        let req = req.timeout(REQUEST_TIMEOUT);
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, SyncError> {
        let res = req.send().await?;
        if !res.status().is_success() {
            return Err(error_of(res).await);
        }
        let bytes = res.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::Network(format!("unreadable answer: {e}")))
    }

    async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, SyncError> {
        let bytes = serde_json::to_vec(body).map_err(|e| SyncError::Network(e.to_string()))?;
        self.post_gzipped(path, gzip(&bytes).into()).await
    }

    async fn post_gzipped<T: DeserializeOwned>(
        &self,
        path: &str,
        gzipped: Bytes,
    ) -> Result<T, SyncError> {
        let req = self
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzipped);
        self.json(req).await
    }

    /// `POST /v1/enroll`.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, SyncError> {
        self.post_json("/v1/enroll", req).await
    }

    /// `POST /v1/enroll/code`.
    pub async fn enroll_with_code(
        &self,
        req: &CodeEnrollRequest,
    ) -> Result<EnrollResponse, SyncError> {
        self.post_json("/v1/enroll/code", req).await
    }

    /// `POST /v1/push`.
    pub async fn push(&self, body: &PushBody) -> Result<PushResponse, SyncError> {
        self.post_gzipped("/v1/push", body.0.clone()).await
    }

    /// `GET /v1/pull`.
    pub async fn pull(&self, since: Cursor, limit: u32) -> Result<PulledPage, SyncError> {
        self.json(self.request(
            Method::GET,
            &format!("/v1/pull?since={}&limit={limit}", since.0),
        ))
        .await
    }

    /// `POST /v1/blobs/missing`.
    pub async fn missing(&self, hashes: Vec<Sha256>) -> Result<Vec<Sha256>, SyncError> {
        let r: BlobQueryResponse = self
            .post_json("/v1/blobs/missing", &BlobQuery { hashes })
            .await?;
        Ok(r.missing)
    }

    /// How many bytes of a blob the server holds (`PUT` with `bytes */total`).
    pub async fn upload_offset(&self, sha: Sha256, total: u64) -> Result<BlobStatus, SyncError> {
        let res = self
            .request(Method::PUT, &format!("/v1/blobs/{sha}"))
            .header("content-range", format!("bytes */{total}"))
            .send()
            .await?;
        match res.status() {
            StatusCode::OK | StatusCode::CREATED | StatusCode::PERMANENT_REDIRECT => {
                let bytes = res.bytes().await?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| SyncError::Network(format!("unreadable answer: {e}")))
            }
            _ => Err(error_of(res).await),
        }
    }

    /// Uploads `blob[first..end]` of a whole blob as one ranged `PUT`
    /// (`Content-Range: bytes first-(end-1)/blob.len()`).
    pub async fn upload_range(
        &self,
        sha: Sha256,
        content_type: &str,
        blob: &[u8],
        first: u64,
        end: usize,
    ) -> Result<BlobStatus, SyncError> {
        let total = blob.len() as u64;
        let end = end.min(blob.len());
        let start = usize::try_from(first).unwrap_or(usize::MAX).min(end);
        let res = self
            .request(Method::PUT, &format!("/v1/blobs/{sha}"))
            .header("content-type", content_type)
            .header(
                "content-range",
                format!("bytes {first}-{}/{total}", end.saturating_sub(1)),
            )
            .body(blob[start..end].to_vec())
            .send()
            .await?;
        match res.status() {
            StatusCode::OK | StatusCode::CREATED | StatusCode::PERMANENT_REDIRECT => {
                let body = res.bytes().await?;
                serde_json::from_slice(&body)
                    .map_err(|e| SyncError::Network(format!("unreadable answer: {e}")))
            }
            _ => Err(error_of(res).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use beatbook_schema::protocol::{Change, PushRequest};

    use super::*;

    #[test]
    fn a_push_body_is_the_push_request_on_the_wire() {
        let device = beatbook_schema::ids::DeviceId::new_v7();
        let change = Change {
            change_id: beatbook_schema::ids::ChangeId::new_v7(),
            record_id: beatbook_schema::ids::RecordId::new_v7(),
            form_id: beatbook_schema::ids::FormId::new("household_survey"),
            form_version: 1,
            grid: beatbook_schema::ids::GridId::new("G1"),
            base_revision: 0,
            hlc: beatbook_schema::hlc::Hlc::zero(device).tick(1),
            at: chrono::Utc::now(),
            op: beatbook_schema::protocol::ChangeOp::Upsert {
                fields: serde_json::json!({"name": "张三", "n": 1, "gone": null})
                    .as_object()
                    .cloned()
                    .expect("an object"),
                attachments: vec![],
            },
        };
        let request = PushRequest {
            batch_id: BatchId::new_v7(),
            changes: vec![change.clone(), change],
        };
        let body = PushBody::gzip(
            &PushBody::json(request.batch_id, &request.changes).expect("serializes"),
        );
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&body.0[..])
            .read_to_end(&mut json)
            .expect("gzip");
        assert_eq!(json, serde_json::to_vec(&request).expect("serializes"));
    }
}
