//! Whether the card was photographed upside down: the direction model
//! (0° or 180°) asked about the longest lines, which all share the card's
//! orientation.

use image::imageops::{self, FilterType};
use image::RgbImage;
use tract_onnx::prelude::*;

use crate::error::IdCardError;
use crate::models::{Models, CLS_SIZE};

/// Lines asked about.
const VOTERS: usize = 3;
/// The model's answer counts when its probability is above this (rapidocr's `cls_thresh`).
const SURE: f32 = 0.9;

/// Whether the lines (cut upright as the detector saw them) read upside
/// down: a majority of the longest lines, each sure of it.
pub(crate) fn upside_down(models: &Models, lines: &[&RgbImage]) -> Result<bool, IdCardError> {
    let mut longest: Vec<&RgbImage> = lines.to_vec();
    longest.sort_by_key(|l| std::cmp::Reverse(l.width()));
    longest.truncate(VOTERS);
    let mut flipped = 0;
    for line in &longest {
        if probability_flipped(models, line)? > SURE {
            flipped += 1;
        }
    }
    Ok(flipped * 2 > longest.len())
}

fn probability_flipped(models: &Models, line: &RgbImage) -> Result<f32, IdCardError> {
    let (w, h) = CLS_SIZE;
    let ratio = line.width() as f32 / line.height().max(1) as f32;
    let width = ((h as f32 * ratio).ceil() as usize).clamp(1, w);
    let resized = imageops::resize(line, width as u32, h as u32, FilterType::Triangle);
    let input = tract_ndarray::Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
        if x < width {
            f32::from(resized.get_pixel(x as u32, y as u32).0[2 - c]) / 127.5 - 1.0
        } else {
            0.0
        }
    });
    let out = models
        .cls
        .run(tvec!(Tensor::from(input).into()))
        .map_err(IdCardError::inference)?;
    let probs = out[0]
        .to_array_view::<f32>()
        .map_err(IdCardError::inference)?;
    Ok(probs.iter().nth(1).copied().unwrap_or(0.0))
}
