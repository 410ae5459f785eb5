//! A device speaking the v1 protocol over real HTTP (no client core: the
//! server's tests must see exactly what goes on the wire).

use beatbook_schema::form::Values;
use beatbook_schema::hlc::Hlc;
use beatbook_schema::ids::{BatchId, ChangeId, DeviceId, FormId, GridId, RecordId, Sha256};
use beatbook_schema::protocol::{
    BlobQuery, BlobQueryResponse, BlobStatus, Change, ChangeOp, Cursor, EnrollRequest,
    EnrollResponse, ErrorBody, PullItem, PullPage, PushRequest, PushResponse, UserInfo,
};
use beatbook_schema::record::AttachmentRef;
use chrono::Utc;
use reqwest::StatusCode;

/// An enrolled device.
pub struct TestDevice {
    /// Server base URL.
    pub url: String,
    /// Device id.
    pub id: DeviceId,
    /// Bearer token.
    pub token: String,
    /// The user.
    pub user: UserInfo,
    /// HTTP client.
    pub http: reqwest::Client,
    clock: std::sync::Mutex<Hlc>,
}

/// A non-2xx answer: status and error body.
#[derive(Debug)]
pub struct Failure {
    /// HTTP status.
    pub status: StatusCode,
    /// The JSON error body.
    pub body: ErrorBody,
}

impl TestDevice {
    /// Enrolls a fresh device.
    pub async fn enroll(url: &str, badge: &str, password: &str) -> Result<Self, Failure> {
        Self::enroll_as(url, badge, password, DeviceId::new_v7()).await
    }

    /// Enrolls with a given device id.
    pub async fn enroll_as(
        url: &str,
        badge: &str,
        password: &str,
        id: DeviceId,
    ) -> Result<Self, Failure> {
        let http = reqwest::Client::new();
        let res = http
            .post(format!("{url}/v1/enroll"))
            .json(&EnrollRequest {
                badge: badge.into(),
                password: password.into(),
                device_id: id,
                device_name: format!("{badge}的测试手机"),
            })
            .send()
            .await
            .expect("enroll request");
        let EnrollResponse { token, user } = read(res).await?;
        Ok(Self {
            url: url.to_owned(),
            id,
            token,
            user,
            http,
            clock: std::sync::Mutex::new(Hlc::zero(id)),
        })
    }

    /// A request with the bearer token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    /// The next timestamp of this device's clock.
    pub fn tick(&self) -> Hlc {
        let mut c = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        *c = c.tick(Utc::now().timestamp_millis() as u64);
        *c
    }

    /// A change creating or editing a record.
    pub fn upsert(
        &self,
        record: RecordId,
        form: &str,
        grid: &str,
        base: u64,
        fields: Values,
    ) -> Change {
        Change {
            change_id: ChangeId::new_v7(),
            record_id: record,
            form_id: FormId::new(form),
            form_version: 1,
            grid: GridId::new(grid),
            base_revision: base,
            hlc: self.tick(),
            at: Utc::now(),
            op: ChangeOp::Upsert {
                fields,
                attachments: vec![],
            },
        }
    }

    /// `POST /v1/blobs/missing`: which of these digests the server lacks for this device.
    pub async fn missing(&self, hashes: Vec<Sha256>) -> Vec<Sha256> {
        let res = self
            .request(reqwest::Method::POST, "/v1/blobs/missing")
            .json(&BlobQuery { hashes })
            .send()
            .await
            .expect("query");
        read::<BlobQueryResponse>(res)
            .await
            .expect("missing")
            .missing
    }

    /// A `PUT /v1/blobs/{sha}` of `body`, with `Content-Range` if given; not
    /// sent yet.
    pub fn put_blob(
        &self,
        sha: Sha256,
        content_type: &str,
        range: Option<String>,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .request(reqwest::Method::PUT, &format!("/v1/blobs/{sha}"))
            .header("content-type", content_type)
            .body(body);
        match range {
            Some(r) => req.header("content-range", r),
            None => req,
        }
    }

    /// `PUT /v1/blobs/{sha}` with `Content-Range: bytes */{total}` and no body:
    /// asks where this device's upload of the JPEG `sha` stands.
    pub async fn upload_status(&self, sha: Sha256, total: usize) -> reqwest::Response {
        self.put_blob(sha, "image/jpeg", Some(format!("bytes */{total}")), vec![])
            .send()
            .await
            .expect("status request")
    }

    /// `PUT /v1/blobs/{sha}` of `bytes[from..to]` out of the whole `bytes`
    /// (a JPEG), with its `Content-Range`: one part of a resumable upload.
    pub async fn put_part(&self, bytes: &[u8], from: usize, to: usize) -> reqwest::Response {
        let range = format!("bytes {from}-{}/{}", to - 1, bytes.len());
        self.put_blob(
            Sha256::digest(bytes),
            "image/jpeg",
            Some(range),
            bytes[from..to].to_vec(),
        )
        .send()
        .await
        .expect("upload request")
    }

    /// Uploads an attachment in one request; returns the reference a change carries.
    pub async fn upload(&self, bytes: &[u8], content_type: &str) -> AttachmentRef {
        let sha = Sha256::digest(bytes);
        let res = self
            .put_blob(sha, content_type, None, bytes.to_vec())
            .send()
            .await
            .expect("upload");
        assert!(res.status().is_success(), "upload: {}", res.status());
        AttachmentRef {
            sha256: sha,
            content_type: content_type.into(),
            size: bytes.len() as u64,
        }
    }

    /// Uploads `bytes` in two parts: the first `split` bytes here, the rest
    /// through `other` (another instance, as a device routed elsewhere by a
    /// load balancer), which must know how far this one got. Returns the
    /// device as seen through `other`, the blob complete there.
    pub async fn upload_split_across(self, other: &str, bytes: &[u8], split: usize) -> Self {
        let sha = Sha256::digest(bytes);
        let res = self.put_part(bytes, 0, split).await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        let elsewhere = self.via(other);
        let res = elsewhere.upload_status(sha, bytes.len()).await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(res.headers()["range"], format!("bytes=0-{}", split - 1));
        let status: BlobStatus = res.json().await.expect("status");
        assert_eq!((status.received, status.complete), (split as u64, false));
        let res = elsewhere.put_part(bytes, split, bytes.len()).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert!(elsewhere.missing(vec![sha]).await.is_empty());
        elsewhere
    }

    /// The same device, talking to the server through another address (a proxy).
    pub fn via(self, url: &str) -> Self {
        Self {
            url: url.to_owned(),
            ..self
        }
    }

    /// Pushes a batch.
    pub async fn push_batch(&self, batch: &PushRequest) -> Result<PushResponse, Failure> {
        read(
            self.request(reqwest::Method::POST, "/v1/push")
                .json(batch)
                .send()
                .await
                .expect("push request"),
        )
        .await
    }

    /// Pushes changes as a new batch.
    pub async fn push(&self, changes: Vec<Change>) -> Result<PushResponse, Failure> {
        self.push_batch(&PushRequest {
            batch_id: BatchId::new_v7(),
            changes,
        })
        .await
    }

    /// One pull page.
    pub async fn pull_page(&self, since: Cursor, limit: u32) -> Result<PullPage, Failure> {
        read(
            self.request(
                reqwest::Method::GET,
                &format!("/v1/pull?since={}&limit={limit}", since.0),
            )
            .send()
            .await
            .expect("pull request"),
        )
        .await
    }

    /// Pulls every page after `since`; returns the items and the final cursor.
    pub async fn pull_all(
        &self,
        since: Cursor,
        limit: u32,
    ) -> Result<(Vec<PullItem>, Cursor), Failure> {
        let mut items = Vec::new();
        let mut cursor = since;
        loop {
            let page = self.pull_page(cursor, limit).await?;
            items.extend(page.items);
            cursor = page.next;
            if !page.has_more {
                return Ok((items, cursor));
            }
        }
    }

    /// Every record version pulled from the start, forms left out.
    pub async fn records(&self) -> Vec<beatbook_schema::protocol::RecordVersion> {
        let (items, _) = self.pull_all(Cursor(0), 500).await.expect("pull");
        items
            .into_iter()
            .filter_map(|i| match i {
                PullItem::Record { version, .. } => Some(*version),
                PullItem::Form { .. } => None,
            })
            .collect()
    }
}

/// The change with these attachments.
pub fn with_attachments(mut change: Change, attachments: Vec<AttachmentRef>) -> Change {
    if let ChangeOp::Upsert { attachments: a, .. } = &mut change.op {
        *a = attachments;
    }
    change
}

/// Reads a JSON answer, or the error body of a non-2xx one.
pub async fn read<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> Result<T, Failure> {
    let status = res.status();
    let text = res.text().await.expect("response body");
    if status.is_success() {
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}")))
    } else {
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status} without an error body ({e}): {text}"));
        Err(Failure { status, body })
    }
}
