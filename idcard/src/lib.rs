//! Reads the front of a second-generation resident identity card (居民身份证)
//! from a photo, on the device: PP-OCR's detection and recognition models
//! (fetched by `scripts/ocr-models.sh`, see `MODELS.md`) run with pure-Rust
//! tract, the card's layout names the lines, and the ID number's check
//! character corrects or rejects what was read ([`check`]).
//!
//! ```no_run
//! # fn main() -> Result<(), beatbook_idcard::IdCardError> {
//! let reader = beatbook_idcard::Recognizer::from_dir("target/ocr-models".as_ref())?;
//! let photo = std::fs::read("card.jpg").expect("a photo");
//! let card = reader.read_card(&photo)?;
//! if card.id_number.is_ok() {
//!     println!("{}", card.id_number.value);
//! }
//! # Ok(()) }
//! ```

pub mod check;
mod detect;
mod direction;
mod error;
pub mod ethnic_groups;
pub mod layout;
pub mod line;
mod models;
pub mod reading;
mod recognize;
pub mod synth;
pub mod text;

use std::path::Path;

use chrono::NaiveDate;
use image::RgbImage;

pub use crate::check::{Change, IdCheck, Rejection};
pub use crate::error::IdCardError;
pub use crate::models::{default_models_dir, ModelBytes, CLS_FILE, DET_FILE, REC_FILE};
pub use crate::reading::{CardReading, Field, Flag};

use crate::detect::TextBox;
use crate::line::TextLine;
use crate::models::Models;

/// Photos larger than this (long side, pixels) are scaled down first: the
/// card's text stays well above the recognizer's 48-pixel line height.
const MAX_SIDE: u32 = 1600;

/// How the reader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Detection input (width, height), multiples of 32. The photo is scaled
    /// to it; smaller is faster (detection is most of the time), too small
    /// loses thin strokes.
    pub det_size: (usize, usize),
}

impl Default for Options {
    /// 512×320: the card's proportions; its text lines stay about 14 map
    /// pixels high when the card fills the photo.
    fn default() -> Self {
        Self {
            det_size: (512, 320),
        }
    }
}

/// The ID card reader: the models, loaded once. `Send + Sync`; one
/// reading at a time per thread.
pub struct Recognizer {
    models: Models,
}

impl Recognizer {
    /// Loads the three models from a directory (as `scripts/ocr-models.sh`
    /// leaves them), checking their digests.
    pub fn from_dir(dir: &Path) -> Result<Self, IdCardError> {
        Self::from_dir_with(dir, Options::default())
    }

    /// [`Recognizer::from_dir`] with other options.
    pub fn from_dir_with(dir: &Path, options: Options) -> Result<Self, IdCardError> {
        Ok(Self {
            models: Models::from_dir(dir, options.det_size)?,
        })
    }

    /// Loads the models from bytes (bundled with an app), checking their digests.
    pub fn from_bytes(bytes: ModelBytes<'_>, options: Options) -> Result<Self, IdCardError> {
        Ok(Self {
            models: Models::from_bytes(bytes, options.det_size)?,
        })
    }

    /// Prepares the recognizer for every line width now (a few seconds), so
    /// that no reading pays for it. Optional: otherwise each width is
    /// prepared the first time a card needs it (about 0.25 s each).
    pub fn warm_up(&self) -> Result<(), IdCardError> {
        for width in models::REC_WIDTHS {
            self.models.rec.plan(width)?;
        }
        Ok(())
    }

    /// Reads a photo of a card's front (JPEG or PNG bytes).
    pub fn read_card(&self, image: &[u8]) -> Result<CardReading, IdCardError> {
        let image =
            image::load_from_memory(image).map_err(|e| IdCardError::Image(e.to_string()))?;
        let today = chrono::Local::now().date_naive();
        self.read_image(&image.to_rgb8(), today)
    }

    /// Reads a decoded photo; `today` bounds the birth date.
    pub fn read_image(
        &self,
        image: &RgbImage,
        today: NaiveDate,
    ) -> Result<CardReading, IdCardError> {
        let lines = self.read_lines(image)?;
        Ok(reading::assemble(&layout::read_layout(&lines), today))
    }

    /// Every text line found in the photo, recognized, in the card's upright frame.
    pub fn read_lines(&self, image: &RgbImage) -> Result<Vec<TextLine>, IdCardError> {
        let scaled;
        let image = if image.width().max(image.height()) > MAX_SIDE {
            scaled = image::imageops::thumbnail(
                image,
                image.width() * MAX_SIDE / image.width().max(image.height()),
                image.height() * MAX_SIDE / image.width().max(image.height()),
            );
            &scaled
        } else {
            image
        };
        let boxes = detect::detect(&self.models, image)?;
        let mut cuts = Vec::with_capacity(boxes.len());
        for text_box in &boxes {
            if let Some(cut) = recognize::crop(image, text_box) {
                cuts.push((text_box, cut));
            }
        }
        let cut_images: Vec<&RgbImage> = cuts.iter().map(|(_, cut)| cut).collect();
        let flipped = direction::upside_down(&self.models, &cut_images)?;
        if flipped {
            for (_, cut) in &mut cuts {
                image::imageops::rotate180_in_place(cut);
            }
        }
        let cut_images: Vec<&RgbImage> = cuts.iter().map(|(_, cut)| cut).collect();
        let read = recognize::recognize_all(&self.models, &cut_images)?;
        let tilt = tilt(&boxes);
        let lines: Vec<TextLine> = cuts
            .iter()
            .zip(read)
            .map(|((text_box, _), chars)| upright(text_box, chars, tilt, flipped))
            .collect();
        Ok(lines)
    }
}

/// The card's tilt: the length-weighted mean angle of the text boxes.
fn tilt(boxes: &[TextBox]) -> f32 {
    let total: f32 = boxes.iter().map(|b| b.width).sum();
    if total <= 0.0 {
        return 0.0;
    }
    boxes.iter().map(|b| b.angle * b.width).sum::<f32>() / total
}

/// A box's place with the card's tilt undone, and turned round when the card
/// is upside down (rotated about the origin: only positions relative to each
/// other matter).
fn upright(b: &TextBox, chars: Vec<check::ReadChar>, tilt: f32, flipped: bool) -> TextLine {
    let (cos, sin) = (tilt.cos(), tilt.sin());
    let (x, y) = b.centre;
    let (mut cx, mut cy) = (x * cos + y * sin, -x * sin + y * cos);
    if flipped {
        (cx, cy) = (-cx, -cy);
    }
    TextLine {
        chars,
        left: cx - b.width / 2.0,
        top: cy - b.height / 2.0,
        right: cx + b.width / 2.0,
        bottom: cy + b.height / 2.0,
    }
}
