//! Photos for signed-in reviewers, only when a version of a record in their
//! scope carried them (the record pages show its history): full size, and
//! thumbnails (made once, kept beside the blobs).
//! Served as images only (`nosniff`, type from the bytes themselves): an
//! upload can never be served as a page.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use beatbook_schema::ids::Sha256;

use super::error::ReviewError;
use super::session::Reviewer;
use crate::state::AppState;

/// Longest edge of a thumbnail, in pixels.
const THUMB_EDGE: u32 = 320;

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

/// `GET /review/photos/{sha256}/thumb`.
pub async fn thumb(
    State(state): State<AppState>,
    r: Reviewer,
    Path(sha): Path<String>,
) -> Result<Response, ReviewError> {
    let (sha, path) = readable(&state, &r, &sha).await?;
    let dir = state.config.data_dir.join("thumbs");
    let cached = dir.join(format!("{}.jpg", sha.to_hex()));
    if let Ok(bytes) = tokio::fs::read(&cached).await {
        return Ok(image(bytes));
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ReviewError::not_found())?;
    let made = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
        let img = image::load_from_memory(&bytes).ok()?;
        let out = if img.width().max(img.height()) <= THUMB_EDGE {
            // Small already: the original is the thumbnail.
            bytes
        } else {
            let small = img.thumbnail(THUMB_EDGE, THUMB_EDGE).to_rgb8();
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
                .encode_image(&small)
                .ok()?;
            out
        };
        let _ = std::fs::create_dir_all(&dir);
        let tmp = dir.join(format!("{}.tmp", sha.to_hex()));
        if std::fs::write(&tmp, &out).is_ok() {
            let _ = std::fs::rename(&tmp, &cached);
        }
        Some(out)
    })
    .await
    .ok()
    .flatten();
    match made {
        Some(bytes) => Ok(image(bytes)),
        // Not an image we can read: no thumbnail, but never the raw bytes as an image either.
        None => Err(ReviewError::not_found()),
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
