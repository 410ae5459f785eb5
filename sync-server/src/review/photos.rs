//! Photos for signed-in reviewers, only when a version of a record in their
//! scope carried them (the record pages show its history): full size (the
//! stored bytes, never decoded here), and thumbnails (see [`crate::thumbs`]).
//! Served as images only (`nosniff`, type from the bytes themselves): an
//! upload can never be served as a page.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use beatbook_schema::ids::Sha256;

use super::error::ReviewError;
use super::reviewer::Reviewer;
use crate::state::AppState;
use crate::thumbs::Refusal;

/// The image type of some bytes, by their magic number.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        _ => None,
    }
}

async fn readable(
    state: &AppState,
    r: &Reviewer,
    sha: &str,
) -> Result<(Sha256, PathBuf), ReviewError> {
    let sha: Sha256 = sha.parse().map_err(|_| ReviewError::not_found())?;
    if !state.store.blob_in_history(sha, r.scope.clone()).await? {
        return Err(ReviewError::not_found());
    }
    Ok((sha, state.blobs.path(&sha)))
}

fn image(bytes: Vec<u8>) -> Response {
    let content_type = image_type(&bytes).unwrap_or("application/octet-stream");
    let disposition = if content_type.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    (
        [
            (CONTENT_TYPE, content_type),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CONTENT_DISPOSITION, disposition),
            // Content-addressed, so never stale; personal data, so never in a shared cache.
            (CACHE_CONTROL, "private, max-age=86400, immutable"),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// `GET /review/photos/{sha256}`.
pub async fn full(
    State(state): State<AppState>,
    r: Reviewer,
    Path(sha): Path<String>,
) -> Result<Response, ReviewError> {
    let (_, path) = readable(&state, &r, &sha).await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ReviewError::not_found())?;
    Ok(image(bytes))
}

/// `GET /review/photos/{sha256}/thumb`. A photo too large or unreadable for
/// a thumbnail is refused (422) with a page saying so; the page showing it
/// then shows the image's alternative text.
pub async fn thumb(
    State(state): State<AppState>,
    r: Reviewer,
    Path(sha): Path<String>,
) -> Result<Response, ReviewError> {
    let (sha, path) = readable(&state, &r, &sha).await?;
    match state.thumbnails.get(sha, &path).await {
        Ok(bytes) => Ok(image(bytes)),
        Err(Refusal::Missing) => Err(ReviewError::not_found()),
        Err(Refusal::TooLarge { width, height }) => Err(ReviewError::page(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("照片尺寸异常（{width}×{height} 像素），不生成缩略图：请核实这张照片的来源"),
            format!("the photo is abnormally large ({width}×{height} pixels), so no thumbnail is made: check where this photo came from"),
        )),
        // Never the raw bytes as an image either.
        Err(Refusal::Unreadable) => Err(ReviewError::page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "照片不是可识别的 JPEG 或 PNG 图片，不生成缩略图：请核实这张照片的来源",
            "the photo is not a readable JPEG or PNG image, so no thumbnail is made: check where this photo came from",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jpeg_and_png_are_images() {
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"\x89PNG\r\n"), Some("image/png"));
        assert_eq!(image_type(b"<html>"), None);
        let res = image(b"<html><script>".to_vec());
        assert_eq!(res.headers()[CONTENT_TYPE], "application/octet-stream");
        assert_eq!(res.headers()[CONTENT_DISPOSITION], "attachment");
    }
}
