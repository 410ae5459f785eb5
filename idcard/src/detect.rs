//! Text detection: PP-OCRv4's DB model gives a text-probability map; its
//! connected regions become rotated boxes around each line of text.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, RgbImage};
use imageproc::geometry::min_area_rect;
use imageproc::point::Point;
use imageproc::region_labelling::{connected_components, Connectivity};
use tract_onnx::prelude::*;

use crate::error::IdCardError;
use crate::models::Models;

/// A pixel is text when the map's probability is above this (DB's `thresh`).
const PIXEL_THRESHOLD: f32 = 0.3;
/// A region is a text box when its mean probability is above this.
const BOX_THRESHOLD: f32 = 0.5;
/// DB shrinks text regions when training; boxes grow back by this ratio.
const UNCLIP_RATIO: f32 = 1.6;
/// Regions smaller than this many map pixels are noise.
const MIN_PIXELS: usize = 12;

/// A text line's box in the image: centre, size and angle. The width runs
/// along the text, at `angle` radians from the x axis (within ±45°).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TextBox {
    pub centre: (f32, f32),
    pub width: f32,
    pub height: f32,
    pub angle: f32,
}

impl TextBox {
    /// Corners: top left, top right, bottom right, bottom left.
    pub fn corners(&self) -> [(f32, f32); 4] {
        let (cos, sin) = (self.angle.cos(), self.angle.sin());
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let at = |a: f32, b: f32| {
            (
                self.centre.0 + a * cos - b * sin,
                self.centre.1 + a * sin + b * cos,
            )
        };
        [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
    }
}

/// Finds the text lines in `image`; boxes are in `image`'s pixels.
pub(crate) fn detect(models: &Models, image: &RgbImage) -> Result<Vec<TextBox>, IdCardError> {
    let (w, h) = models.det_size;
    let small = imageops::resize(image, w as u32, h as u32, FilterType::Triangle);
    // BGR, scaled to −1…1, as PaddleOCR feeds OpenCV's images.
    let input = tract_ndarray::Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
        let v = small.get_pixel(x as u32, y as u32).0[2 - c];
        f32::from(v) / 127.5 - 1.0
    });
    let out = models
        .det
        .run(tvec!(Tensor::from(input).into()))
        .map_err(IdCardError::inference)?;
    let map = out[0]
        .to_array_view::<f32>()
        .map_err(IdCardError::inference)?;
    let map = map
        .to_shape((h, w))
        .map_err(IdCardError::inference)?
        .to_owned();

    let mut binary = GrayImage::new(w as u32, h as u32);
    for ((y, x), &p) in map.indexed_iter() {
        if p > PIXEL_THRESHOLD {
            binary.put_pixel(x as u32, y as u32, Luma([255]));
        }
    }
    let labels = connected_components(&binary, Connectivity::Eight, Luma([0]));
    let mut regions: Vec<(Vec<Point<i32>>, f32)> = Vec::new();
    for (x, y, label) in labels.enumerate_pixels() {
        let label = label.0[0] as usize;
        if label == 0 {
            continue;
        }
        if regions.len() < label {
            regions.resize_with(label, || (Vec::new(), 0.0));
        }
        let region = &mut regions[label - 1];
        region.0.push(Point::new(x as i32, y as i32));
        region.1 += map[(y as usize, x as usize)];
    }

    let (sx, sy) = (
        image.width() as f32 / w as f32,
        image.height() as f32 / h as f32,
    );
    let mut boxes = Vec::new();
    for (points, sum) in regions {
        if points.len() < MIN_PIXELS || sum / (points.len() as f32) < BOX_THRESHOLD {
            continue;
        }
        let Some(rect) = rotated_rect(&min_area_rect(&points)) else {
            continue;
        };
        // The rectangle through pixel centres is one pixel short each way.
        let (width, height) = (rect.width + 1.0, rect.height + 1.0);
        let grow = width * height * UNCLIP_RATIO / (2.0 * (width + height));
        let grown = TextBox {
            width: width + 2.0 * grow,
            height: height + 2.0 * grow,
            ..rect
        };
        if grown.height < 4.0 {
            continue;
        }
        boxes.push(scale(&grown, sx, sy));
    }
    Ok(boxes)
}

/// The rectangle through four corners, its width along the edge nearer the
/// horizontal.
fn rotated_rect(corners: &[Point<i32>; 4]) -> Option<TextBox> {
    let p: Vec<(f32, f32)> = corners.iter().map(|c| (c.x as f32, c.y as f32)).collect();
    let centre = (
        p.iter().map(|c| c.0).sum::<f32>() / 4.0,
        p.iter().map(|c| c.1).sum::<f32>() / 4.0,
    );
    let edge = |a: usize, b: usize| (p[b].0 - p[a].0, p[b].1 - p[a].1);
    let (e1, e2) = (edge(0, 1), edge(1, 2));
    let len = |e: (f32, f32)| e.0.hypot(e.1);
    let (along, across) = if e1.0.abs() >= e1.1.abs() && len(e1) > 0.0 || len(e2) == 0.0 {
        (e1, e2)
    } else {
        (e2, e1)
    };
    // Point the width to the right.
    let along = if along.0 < 0.0 {
        (-along.0, -along.1)
    } else {
        along
    };
    let mut angle = along.1.atan2(along.0);
    if !angle.is_finite() {
        angle = 0.0;
    }
    Some(TextBox {
        centre,
        width: len(along),
        height: len(across),
        angle,
    })
}

/// The box in an image scaled by `sx`, `sy` (the map is smaller than the
/// image, and not always in the same proportions).
fn scale(b: &TextBox, sx: f32, sy: f32) -> TextBox {
    let (cos, sin) = (b.angle.cos(), b.angle.sin());
    let along = (cos * sx, sin * sy);
    let across = (-sin * sx, cos * sy);
    TextBox {
        centre: (b.centre.0 * sx, b.centre.1 * sy),
        width: b.width * along.0.hypot(along.1),
        height: b.height * across.0.hypot(across.1),
        angle: along.1.atan2(along.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tilted_rectangle_keeps_its_long_side_as_width() {
        let b = TextBox {
            centre: (50.0, 20.0),
            width: 80.0,
            height: 10.0,
            angle: 0.1,
        };
        let corners = b
            .corners()
            .map(|(x, y)| Point::new(x.round() as i32, y.round() as i32));
        let back = rotated_rect(&corners).expect("a rectangle");
        assert!((back.width - 80.0).abs() < 1.5, "{back:?}");
        assert!((back.height - 10.0).abs() < 1.5, "{back:?}");
        assert!((back.angle - 0.1).abs() < 0.03, "{back:?}");
    }

    #[test]
    fn a_short_box_is_still_read_horizontally() {
        // A single character: taller than wide.
        let corners = [
            Point::new(10, 10),
            Point::new(18, 10),
            Point::new(18, 22),
            Point::new(10, 22),
        ];
        let b = rotated_rect(&corners).expect("a rectangle");
        assert!(b.angle.abs() < 0.01);
        assert!((b.width - 8.0).abs() < 0.01 && (b.height - 12.0).abs() < 0.01);
    }

    #[test]
    fn scaling_stretches_along_each_axis() {
        let b = TextBox {
            centre: (10.0, 10.0),
            width: 20.0,
            height: 5.0,
            angle: 0.0,
        };
        let s = scale(&b, 2.0, 3.0);
        assert_eq!(s.centre, (20.0, 30.0));
        assert!((s.width - 40.0).abs() < 1e-4 && (s.height - 15.0).abs() < 1e-4);
    }
}
