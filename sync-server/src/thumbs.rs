//! Thumbnails of photos for the review pages, made once and kept beside the
//! blobs (`thumbs/<sha256>.jpg`).
//!
//! Photos come from devices, and a device may be hostile: a PNG of a few
//! kilobytes can declare 30000×30000 pixels and inflate to gigabytes when
//! decoded. So an image's header is read first and only an image of at most
//! `max_pixels` is decoded (the app downscales photos to 1600 px, so a far
//! bigger one did not come from it), with the decoder's memory capped, at
//! most `decodes` at a time. A photo that got no thumbnail is remembered and
//! refused again without being read.

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use beatbook_schema::ids::Sha256;
use image::codecs::jpeg::JpegEncoder;
use image::{ImageError, ImageReader, Limits};
use tokio::sync::Semaphore;

/// Longest edge of a thumbnail, in pixels.
pub const EDGE: u32 = 320;
/// Decoder memory allowed per pixel of the budget: 8-bit RGBA. (A 16-bit
/// image needs twice that, so it may have half the pixels.)
const BYTES_PER_PIXEL: u64 = 4;
/// Refused photos remembered; past this the oldest is forgotten.
const REMEMBERED: usize = 4096;

/// Why a photo gets no thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The photo's bytes are not on disk.
    #[error("the photo's bytes are missing")]
    Missing,
    /// Its header declares more pixels than the budget, or decoding it would
    /// take more memory than the decoder may have.
    #[error("{width}×{height} pixels is too large for a thumbnail")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// Not a JPEG or PNG that decodes.
    #[error("not a readable JPEG or PNG image")]
    Unreadable,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::TooLarge { .. } => "too_large",
            Refusal::Unreadable => "unreadable",
        }
    }
}

/// Makes, keeps and refuses thumbnails (see the module docs).
pub struct Thumbnails {
    dir: PathBuf,
    max_pixels: u64,
    decodes: Arc<Semaphore>,
    refused: Mutex<Refused>,
}

/// Photos that got no thumbnail, oldest first.
#[derive(Default)]
struct Refused {
    by_sha: HashMap<Sha256, Refusal>,
    order: VecDeque<Sha256>,
}

impl Refused {
    fn remember(&mut self, sha: Sha256, why: Refusal) {
        if self.by_sha.insert(sha, why).is_some() {
            return;
        }
        self.order.push_back(sha);
        if self.order.len() > REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.by_sha.remove(&oldest);
            }
        }
    }
}

impl Thumbnails {
    /// Thumbnails kept in `dir`, made from images of at most `max_pixels`,
    /// at most `decodes` (at least one) at a time.
    pub fn new(dir: PathBuf, max_pixels: u64, decodes: usize) -> Self {
        Self {
            dir,
            max_pixels,
            decodes: Arc::new(Semaphore::new(decodes.clamp(1, Semaphore::MAX_PERMITS))),
            refused: Mutex::new(Refused::default()),
        }
    }

    /// The thumbnail of photo `sha`, whose bytes are at `blob`: a JPEG, or
    /// the photo itself when it is small already.
    pub async fn get(&self, sha: Sha256, blob: &Path) -> Result<Vec<u8>, Refusal> {
        let kept = self.dir.join(format!("{}.jpg", sha.to_hex()));
        if let Some(found) = self.known(sha, &kept).await {
            return found;
        }
        // Waiting here costs no thread and no memory.
        let Ok(turn) = self.decodes.clone().acquire_owned().await else {
            return Err(Refusal::Unreadable); // never closed
        };
        // Another request may have made (or refused) it while this one waited.
        if let Some(found) = self.known(sha, &kept).await {
            return found;
        }
        let (blob, dir, max_pixels) = (blob.to_owned(), self.dir.clone(), self.max_pixels);
        let made = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let bytes = std::fs::read(&blob).map_err(|_| Refusal::Missing)?;
            let (width, height) = dimensions(&bytes, max_pixels)?;
            metrics::counter!("beatbook_thumbnail_decodes_total").increment(1);
            let thumb = shrink(&bytes, width, height, max_pixels)?;
            keep(&dir, &kept, &thumb);
            Ok(thumb)
        })
        .await
        // A decoder that panicked: the image is not one to try again.
        .unwrap_or(Err(Refusal::Unreadable));
        if let Err(why) = made {
            if why != Refusal::Missing {
                tracing::warn!(sha = %sha, reason = why.reason(), "no thumbnail: {why}");
                self.refused
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remember(sha, why);
            }
            metrics::counter!("beatbook_thumbnails_refused_total", "reason" => why.reason())
                .increment(1);
        }
        made
    }

    /// A thumbnail already made, or a refusal already decided.
    async fn known(&self, sha: Sha256, kept: &Path) -> Option<Result<Vec<u8>, Refusal>> {
        if let Ok(bytes) = tokio::fs::read(kept).await {
            return Some(Ok(bytes));
        }
        let why = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_sha
            .get(&sha)
            .copied()?;
        metrics::counter!("beatbook_thumbnails_refused_total", "reason" => why.reason())
            .increment(1);
        Some(Err(why))
    }
}

/// A reader of `bytes` as whatever image they are, with the decoder's memory capped.
fn reader(bytes: &[u8], max_pixels: u64) -> Result<ImageReader<Cursor<&[u8]>>, Refusal> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| Refusal::Unreadable)?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(BYTES_PER_PIXEL));
    reader.limits(limits);
    Ok(reader)
}

/// An image's size from its header alone, if it is within the budget.
pub fn dimensions(bytes: &[u8], max_pixels: u64) -> Result<(u32, u32), Refusal> {
    let (width, height) = reader(bytes, max_pixels)?
        .into_dimensions()
        .map_err(|_| Refusal::Unreadable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Refusal::TooLarge { width, height });
    }
    Ok((width, height))
}

/// Decodes an image of `width`×`height` (from [`dimensions`]) and makes its
/// thumbnail: a JPEG at most [`EDGE`] pixels on its longest side, or the
/// image itself when it is that small already.
pub fn shrink(bytes: &[u8], width: u32, height: u32, max_pixels: u64) -> Result<Vec<u8>, Refusal> {
    let image = reader(bytes, max_pixels)?.decode().map_err(|e| match e {
        ImageError::Limits(_) => Refusal::TooLarge { width, height },
        _ => Refusal::Unreadable,
    })?;
    if width.max(height) <= EDGE {
        return Ok(bytes.to_vec());
    }
    let small = image.thumbnail(EDGE, EDGE).to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .map_err(|_| Refusal::Unreadable)?;
    Ok(out)
}

/// Keeps a thumbnail (whole or not at all); a failure only means it is made again.
fn keep(dir: &Path, kept: &Path, thumb: &[u8]) {
    let _ = std::fs::create_dir_all(dir);
    let tmp = kept.with_extension("tmp");
    if std::fs::write(&tmp, thumb).is_ok() {
        let _ = std::fs::rename(&tmp, kept);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use image::{GrayImage, ImageFormat, RgbImage};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        RgbImage::from_pixel(width, height, image::Rgb([200, 120, 40]))
            .write_to(&mut out, ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    }

    #[test]
    fn a_large_photo_becomes_a_small_jpeg_and_a_small_one_stays_itself() {
        let big = png(1600, 1200);
        let (w, h) = dimensions(&big, 40_000_000).expect("within budget");
        let thumb = shrink(&big, w, h, 40_000_000).expect("thumbnail");
        assert_eq!(&thumb[..3], &[0xFF, 0xD8, 0xFF]);
        let read = image::load_from_memory(&thumb).expect("a JPEG");
        assert_eq!((read.width(), read.height()), (EDGE, 240));
        let small = png(200, 100);
        assert_eq!(shrink(&small, 200, 100, 40_000_000), Ok(small));
    }

    #[test]
    fn the_header_decides_before_any_decoding() {
        let photo = png(1600, 1200);
        assert_eq!(
            dimensions(&photo, 1_000_000),
            Err(Refusal::TooLarge {
                width: 1600,
                height: 1200
            })
        );
        assert_eq!(dimensions(b"<html>", 1_000_000), Err(Refusal::Unreadable));
        assert_eq!(
            dimensions(&photo[..20], 1_000_000),
            Err(Refusal::Unreadable)
        );
    }

    #[test]
    fn the_decoder_may_not_take_more_memory_than_the_budget_allows() {
        // 100×100 at two bytes a pixel (16-bit grey) is 20,000 bytes decoded:
        // beyond a budget of 4,000 pixels (16,000 bytes), though the pixels fit.
        let mut out = Cursor::new(Vec::new());
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(100, 100, image::Luma([7]))
            .write_to(&mut out, ImageFormat::Png)
            .expect("encode");
        let deep = out.into_inner();
        let too_large = Err(Refusal::TooLarge {
            width: 100,
            height: 100,
        });
        assert_eq!(shrink(&deep, 100, 100, 4_000), too_large);
        let mut out = Cursor::new(Vec::new());
        GrayImage::from_pixel(100, 100, image::Luma([7]))
            .write_to(&mut out, ImageFormat::Png)
            .expect("encode");
        assert!(shrink(&out.into_inner(), 100, 100, 10_000).is_ok());
    }

    #[test]
    fn a_truncated_image_is_unreadable() {
        let photo = png(800, 600);
        let cut = &photo[..photo.len() / 2];
        let (w, h) = dimensions(cut, 40_000_000).expect("the header is whole");
        assert_eq!(shrink(cut, w, h, 40_000_000), Err(Refusal::Unreadable));
    }

    #[tokio::test]
    async fn a_refused_photo_is_remembered_and_not_read_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let thumbs = Thumbnails::new(dir.path().join("thumbs"), 1_000_000, 1);
        let blob = dir.path().join("blob");
        std::fs::write(&blob, png(1600, 1200)).expect("write");
        let sha = Sha256::digest(b"any");
        let too_large = Err(Refusal::TooLarge {
            width: 1600,
            height: 1200,
        });
        assert_eq!(thumbs.get(sha, &blob).await, too_large);
        std::fs::remove_file(&blob).expect("remove");
        assert_eq!(thumbs.get(sha, &blob).await, too_large, "not read again");
        let other = Sha256::digest(b"other");
        assert_eq!(thumbs.get(other, &blob).await, Err(Refusal::Missing));
    }

    #[tokio::test]
    async fn a_photo_waits_for_a_decoding_turn() {
        let dir = tempfile::tempdir().expect("temp dir");
        let thumbs = Thumbnails::new(dir.path().join("thumbs"), 40_000_000, 1);
        let blob = dir.path().join("blob");
        std::fs::write(&blob, png(1600, 1200)).expect("write");
        let sha = Sha256::digest(b"photo");
        let busy = thumbs
            .decodes
            .clone()
            .acquire_owned()
            .await
            .expect("the turn");
        let waited = tokio::time::timeout(Duration::from_millis(300), thumbs.get(sha, &blob)).await;
        assert!(waited.is_err(), "decoded without a turn");
        drop(busy);
        let thumb = thumbs.get(sha, &blob).await.expect("a thumbnail");
        assert_eq!(&thumb[..3], &[0xFF, 0xD8, 0xFF]);
    }

    #[test]
    fn the_memory_of_refusals_is_bounded() {
        let mut refused = Refused::default();
        for i in 0..REMEMBERED + 10 {
            refused.remember(Sha256::digest(&i.to_le_bytes()), Refusal::Unreadable);
        }
        assert_eq!(refused.by_sha.len(), REMEMBERED);
        assert_eq!(refused.order.len(), REMEMBERED);
        assert!(!refused
            .by_sha
            .contains_key(&Sha256::digest(&0usize.to_le_bytes())));
    }
}
