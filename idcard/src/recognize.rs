//! Text-line recognition: each detected box is cut out upright at the
//! model's height and read by PP-OCRv4's CTC recognizer, keeping each
//! character's probability and the model's next guesses for it.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{warp_into_with, Interpolation, Projection};
use tract_onnx::prelude::*;

use crate::check::ReadChar;
use crate::detect::TextBox;
use crate::error::IdCardError;
use crate::models::{Models, REC_HEIGHT, REC_WIDTHS};

/// Narrowest line cut, in pixels.
const MIN_WIDTH: usize = 8;
/// Longest line fed to the recognizer, in pixels at its height (a longer one is squeezed).
const MAX_WIDTH: usize = REC_WIDTHS[REC_WIDTHS.len() - 1];
/// How many next guesses to keep per character.
const ALTERNATIVES: usize = 3;

/// Cuts the box out of `image`, upright, `REC_HEIGHT` pixels high.
pub(crate) fn crop(image: &RgbImage, text_box: &TextBox) -> Option<RgbImage> {
    if text_box.height < 1.0 || text_box.width < 1.0 {
        return None;
    }
    let scale = REC_HEIGHT as f32 / text_box.height;
    let width = ((text_box.width * scale).round() as usize).clamp(MIN_WIDTH, MAX_WIDTH);
    let (w, h) = (width as f32, REC_HEIGHT as f32);
    let projection = Projection::from_control_points(
        [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)],
        text_box.corners(),
    )?;
    let mut out = RgbImage::new(width as u32, REC_HEIGHT as u32);
    warp_into_with(
        image,
        |x, y| projection * (x, y),
        Interpolation::Bilinear,
        Rgb([255, 255, 255]),
        &mut out,
    );
    Some(out)
}

/// Reads the upright lines cut by [`crop`]: packed side by side, a blank
/// gap between them, into as few recognizer inputs as fit (one run over a
/// wide input costs less than many over short padded ones), then each
/// character handed back to the line it was read from.
pub(crate) fn recognize_all(
    models: &Models,
    lines: &[&RgbImage],
) -> Result<Vec<Vec<ReadChar>>, IdCardError> {
    let rows = pack(lines);
    let strips: Vec<(RgbImage, Vec<usize>)> =
        rows.iter().map(|row| row_image(lines, row)).collect();
    let results = run_strips(models, &strips)?;
    let mut read: Vec<Vec<ReadChar>> = vec![Vec::new(); lines.len()];
    for ((row, (_, offsets)), chars) in rows.iter().zip(&strips).zip(results) {
        for (x, ch) in chars {
            // The line nearest where the character was seen: the recognizer
            // may place a line's first character a step or two early.
            let owner = row.iter().zip(offsets).min_by_key(|(&i, &offset)| {
                let end = offset + lines[i].width() as usize;
                offset.saturating_sub(x) + (x + 1).saturating_sub(end)
            });
            if let Some((&i, _)) = owner {
                read[i].push(ch);
            }
        }
    }
    Ok(read)
}

/// Recognizes the strips, each on a thread of its own where there are
/// threads (a card makes two or three strips; tract runs one on one core).
#[cfg(not(target_family = "wasm"))]
fn run_strips(
    models: &Models,
    strips: &[(RgbImage, Vec<usize>)],
) -> Result<Vec<Vec<(usize, ReadChar)>>, IdCardError> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = strips
            .iter()
            .map(|(strip, _)| scope.spawn(move || run(models, strip)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(IdCardError::Inference(
                        "the recognizer's thread panicked".to_owned(),
                    ))
                })
            })
            .collect()
    })
}

/// Recognizes the strips one after the other (no threads in a browser worker).
#[cfg(target_family = "wasm")]
fn run_strips(
    models: &Models,
    strips: &[(RgbImage, Vec<usize>)],
) -> Result<Vec<Vec<(usize, ReadChar)>>, IdCardError> {
    strips.iter().map(|(strip, _)| run(models, strip)).collect()
}

/// Blank pixels between packed lines: enough for the recognizer to see a
/// break (and so not merge the same character ending one line and
/// starting the next).
const GAP: usize = 16;

/// Groups line indices into rows no wider than [`MAX_WIDTH`], longest
/// lines first, each into the first row with room.
fn pack(lines: &[&RgbImage]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lines[i].width()));
    let mut rows: Vec<(Vec<usize>, usize)> = Vec::new();
    for i in order {
        let width = lines[i].width() as usize;
        match rows
            .iter_mut()
            .find(|(_, used)| used + GAP + width <= MAX_WIDTH)
        {
            Some((row, used)) => {
                row.push(i);
                *used += GAP + width;
            }
            None => rows.push((vec![i], width)),
        }
    }
    rows.into_iter().map(|(row, _)| row).collect()
}

/// The row's lines side by side on white, and where each starts.
fn row_image(lines: &[&RgbImage], row: &[usize]) -> (RgbImage, Vec<usize>) {
    let width: usize = row
        .iter()
        .map(|&i| lines[i].width() as usize)
        .sum::<usize>()
        + GAP * row.len().saturating_sub(1);
    let mut strip = RgbImage::from_pixel(width as u32, REC_HEIGHT as u32, Rgb([255, 255, 255]));
    let mut offsets = Vec::with_capacity(row.len());
    let mut x = 0;
    for &i in row {
        image::imageops::replace(&mut strip, lines[i], x as i64, 0);
        offsets.push(x);
        x += lines[i].width() as usize + GAP;
    }
    (strip, offsets)
}

/// Recognizes one strip; each character with the x (in the strip) where
/// the recognizer saw it.
fn run(models: &Models, line: &RgbImage) -> Result<Vec<(usize, ReadChar)>, IdCardError> {
    let (plan, width) = models.rec.plan(line.width() as usize)?;
    // BGR scaled to −1…1; the padding on the right is 0 (mid grey), as
    // PaddleOCR pads.
    let input = tract_ndarray::Array4::from_shape_fn((1, 3, REC_HEIGHT, width), |(_, c, y, x)| {
        if x < line.width() as usize {
            f32::from(line.get_pixel(x as u32, y as u32).0[2 - c]) / 127.5 - 1.0
        } else {
            0.0
        }
    });
    let out = plan
        .run(tvec!(Tensor::from(input).into()))
        .map_err(IdCardError::inference)?;
    let probs = out[0]
        .to_array_view::<f32>()
        .map_err(IdCardError::inference)?;
    let shape = probs.shape().to_vec();
    let [_, steps, classes] = shape[..] else {
        return Err(IdCardError::Inference(format!(
            "the recognizer gave an output of shape {shape:?}"
        )));
    };
    let probs = probs
        .to_shape((steps, classes))
        .map_err(IdCardError::inference)?;
    let step_width = width / steps.max(1);
    Ok(
        decode((0..steps).map(|t| probs.row(t).to_vec()), &models.charset)
            .into_iter()
            .map(|(step, ch)| (step * step_width + step_width / 2, ch))
            .collect(),
    )
}

/// CTC greedy decoding: the best class at each step, repeats merged, blanks
/// (class 0) dropped. A character's confidence is its best step's
/// probability; its alternatives are that step's next classes. Each comes
/// with the step it started at.
pub(crate) fn decode(
    steps: impl Iterator<Item = Vec<f32>>,
    charset: &[String],
) -> Vec<(usize, ReadChar)> {
    let mut out: Vec<(usize, ReadChar)> = Vec::new();
    let mut previous = 0usize;
    for (t, step) in steps.enumerate() {
        let (best, p) = step
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        let ch = charset.get(best).and_then(|s| s.chars().next());
        match ch {
            Some(ch) if best != 0 => {
                if best == previous {
                    if let Some((_, last)) = out.last_mut() {
                        if p > last.confidence {
                            last.confidence = p;
                            last.alternatives = alternatives(&step, best, charset);
                        }
                    }
                } else {
                    out.push((
                        t,
                        ReadChar {
                            ch,
                            confidence: p,
                            alternatives: alternatives(&step, best, charset),
                        },
                    ));
                }
            }
            _ => {}
        }
        previous = best;
    }
    out
}

fn alternatives(step: &[f32], best: usize, charset: &[String]) -> Vec<char> {
    let mut ranked: Vec<(usize, f32)> = step
        .iter()
        .copied()
        .enumerate()
        .filter(|&(i, _)| i != best && i != 0)
        .collect();
    let n = ALTERNATIVES.min(ranked.len());
    if n == 0 {
        return Vec::new();
    }
    ranked.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1));
    ranked.truncate(n);
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
        .into_iter()
        .filter_map(|(i, _)| charset.get(i).and_then(|s| s.chars().next()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charset() -> Vec<String> {
        ["", "1", "7", "张"].iter().map(|s| s.to_string()).collect()
    }

    fn step(best: usize, p: f32) -> Vec<f32> {
        let mut v = vec![0.01; 4];
        v[best] = p;
        v
    }

    #[test]
    fn repeats_merge_and_blanks_separate() {
        let steps = vec![
            step(1, 0.6),
            step(1, 0.9),
            step(0, 0.9),
            step(1, 0.8),
            step(3, 0.7),
            step(0, 0.9),
        ];
        let got = decode(steps.into_iter(), &charset());
        let text: String = got.iter().map(|(_, c)| c.ch).collect();
        assert_eq!(text, "11张");
        assert_eq!(got[0].1.confidence, 0.9);
        assert_eq!(got[2].1.confidence, 0.7);
        let starts: Vec<usize> = got.iter().map(|(t, _)| *t).collect();
        assert_eq!(starts, [0, 3, 4]);
    }

    #[test]
    fn the_next_guess_is_kept() {
        let mut s = step(1, 0.5);
        s[2] = 0.4;
        let got = decode(vec![s].into_iter(), &charset());
        assert_eq!(got[0].1.alternatives.first(), Some(&'7'));
    }

    #[test]
    fn packing_fills_rows_up_to_the_widest_input() {
        let widths = [1000u32, 300, 200, 100, 900, 50];
        let lines: Vec<RgbImage> = widths.iter().map(|&w| RgbImage::new(w, 48)).collect();
        let refs: Vec<&RgbImage> = lines.iter().collect();
        let rows = pack(&refs);
        for row in &rows {
            let used: usize =
                row.iter().map(|&i| widths[i] as usize).sum::<usize>() + GAP * (row.len() - 1);
            assert!(used <= MAX_WIDTH, "{row:?}");
        }
        let mut all: Vec<usize> = rows.concat();
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2, 3, 4, 5]);
        assert_eq!(rows.len(), 3);
    }
}
