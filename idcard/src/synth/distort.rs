//! A flat card photographed badly: placed on a desk, rotated, seen in
//! perspective, unevenly lit, with a patch of glare, blurred, noisy and
//! JPEG-compressed, each to a degree set by the [`Level`].

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use imageproc::filter::gaussian_blur_f32;
use imageproc::geometric_transformations::Projection;
use rand::Rng;
use serde::Serialize;

/// The photo's size: a phone photo cropped around the card.
pub const PHOTO: (u32, u32) = (1024, 700);

/// How badly the card is photographed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Straight, sharp, even light, high JPEG quality.
    Clean,
    /// A hand-held photo: a few degrees off, slight blur.
    Mild,
    /// Careless: tilted, in perspective, soft, uneven light, some glare.
    Moderate,
    /// Poor: strongly tilted and skewed, blurred, dark on one side, glare
    /// over part of the text, heavy compression.
    Strong,
}

impl Level {
    /// Every level, mildest first.
    pub const ALL: [Level; 4] = [Level::Clean, Level::Mild, Level::Moderate, Level::Strong];

    /// The level's name, as in the accuracy file.
    pub fn name(self) -> &'static str {
        match self {
            Level::Clean => "clean",
            Level::Mild => "mild",
            Level::Moderate => "moderate",
            Level::Strong => "strong",
        }
    }

    /// The ranges the distortions are drawn from at this level.
    pub fn params(self) -> Params {
        match self {
            Level::Clean => Params {
                rotation_deg: 0.0,
                perspective: 0.0,
                blur_sigma: (0.0, 0.0),
                light: 0.0,
                glare: 0.0,
                noise: 0.0,
                jpeg_quality: 95,
            },
            Level::Mild => Params {
                rotation_deg: 3.0,
                perspective: 0.015,
                blur_sigma: (0.3, 0.8),
                light: 0.15,
                glare: 0.0,
                noise: 3.0,
                jpeg_quality: 80,
            },
            Level::Moderate => Params {
                rotation_deg: 7.0,
                perspective: 0.035,
                blur_sigma: (0.8, 1.4),
                light: 0.3,
                glare: 0.5,
                noise: 6.0,
                jpeg_quality: 55,
            },
            Level::Strong => Params {
                rotation_deg: 12.0,
                perspective: 0.06,
                blur_sigma: (1.4, 2.0),
                light: 0.45,
                glare: 0.85,
                noise: 10.0,
                jpeg_quality: 30,
            },
        }
    }
}

/// The distortions of a level; each photo draws its own values within them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// Rotation up to ± this many degrees.
    pub rotation_deg: f32,
    /// Each corner moved up to this fraction of the card's width.
    pub perspective: f32,
    /// Gaussian blur sigma, drawn from this range (pixels).
    pub blur_sigma: (f32, f32),
    /// Light falls off by up to this fraction across the card.
    pub light: f32,
    /// Peak strength of a glare spot, 0 for none.
    pub glare: f32,
    /// Sensor noise, ± this many levels.
    pub noise: f32,
    /// JPEG quality.
    pub jpeg_quality: u8,
}

/// Photographs the flat `card` at `level`; returns the JPEG.
pub fn photograph(
    card: &RgbImage,
    level: Level,
    rng: &mut impl Rng,
) -> Result<Vec<u8>, image::ImageError> {
    let p = level.params();
    let (pw, ph) = (PHOTO.0 as f32, PHOTO.1 as f32);
    let (cw, ch) = (card.width() as f32, card.height() as f32);

    // Where the card's corners land in the photo.
    let scale = pw * rng.gen_range(0.80..0.88) / cw;
    let angle = rng.gen_range(-1.0..=1.0) * p.rotation_deg.to_radians();
    let centre = (
        pw / 2.0 + rng.gen_range(-15.0..15.0),
        ph / 2.0 + rng.gen_range(-12.0..12.0),
    );
    let (cos, sin) = (angle.cos(), angle.sin());
    let jitter = p.perspective * cw * scale;
    let mut corners = [(0.0f32, 0.0f32); 4];
    for (i, &(x, y)) in [(0.0, 0.0), (cw, 0.0), (cw, ch), (0.0, ch)]
        .iter()
        .enumerate()
    {
        let (dx, dy) = ((x - cw / 2.0) * scale, (y - ch / 2.0) * scale);
        corners[i] = (
            centre.0 + dx * cos - dy * sin + rng.gen_range(-1.0..=1.0) * jitter,
            centre.1 + dx * sin + dy * cos + rng.gen_range(-1.0..=1.0) * jitter,
        );
    }
    let to_card =
        Projection::from_control_points(corners, [(0.0, 0.0), (cw, 0.0), (cw, ch), (0.0, ch)]);

    let desk = [
        rng.gen_range(60.0..160.0f32),
        rng.gen_range(50.0..140.0f32),
        rng.gen_range(40.0..120.0f32),
    ];
    let light_dir = rng.gen_range(0.0..std::f32::consts::TAU);
    let (lx, ly) = (light_dir.cos(), light_dir.sin());
    let light = p.light * rng.gen_range(0.6..=1.0);
    let glare_at = (
        centre.0 + rng.gen_range(-0.35..0.35) * cw * scale,
        centre.1 + rng.gen_range(-0.3..0.3) * ch * scale,
    );
    let glare_size = rng.gen_range(50.0..110.0f32);
    let glare = p.glare * rng.gen_range(0.7..=1.0);

    let mut photo = RgbImage::from_fn(PHOTO.0, PHOTO.1, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let inside = to_card
            .map(|proj| proj * (fx, fy))
            .filter(|&(u, v)| u >= 0.0 && v >= 0.0 && u <= cw - 1.0 && v <= ch - 1.0);
        let mut rgb = match inside {
            Some((u, v)) => bilinear(card, u, v),
            None => {
                let shade = 0.85 + 0.15 * (fx / pw);
                desk.map(|c| c * shade)
            }
        };
        // Light falls off along one direction across the photo.
        let along = ((fx / pw - 0.5) * lx + (fy / ph - 0.5) * ly + 0.5).clamp(0.0, 1.0);
        let lit = 1.0 - light * along;
        let d2 = (fx - glare_at.0).powi(2) + (fy - glare_at.1).powi(2);
        let flare = glare * (-d2 / (2.0 * glare_size * glare_size)).exp();
        for c in &mut rgb {
            *c = *c * lit * (1.0 - flare) + 255.0 * flare;
        }
        Rgb(rgb.map(|c| c.clamp(0.0, 255.0) as u8))
    });

    let sigma = rng.gen_range(p.blur_sigma.0..=p.blur_sigma.1);
    if sigma > 0.0 {
        photo = gaussian_blur_f32(&photo, sigma);
    }
    if p.noise > 0.0 {
        for px in photo.pixels_mut() {
            let n = rng.gen_range(-p.noise..=p.noise);
            for c in &mut px.0 {
                *c = (f32::from(*c) + n).clamp(0.0, 255.0) as u8;
            }
        }
    }

    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, p.jpeg_quality).encode_image(&photo)?;
    Ok(jpeg)
}

fn bilinear(img: &RgbImage, u: f32, v: f32) -> [f32; 3] {
    let (x0, y0) = (u.floor() as u32, v.floor() as u32);
    let (x1, y1) = (
        (x0 + 1).min(img.width() - 1),
        (y0 + 1).min(img.height() - 1),
    );
    let (fx, fy) = (u - x0 as f32, v - y0 as f32);
    let at = |x, y| img.get_pixel(x, y).0.map(f32::from);
    let (a, b, c, d) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
    let mut out = [0.0; 3];
    for i in 0..3 {
        let top = a[i] * (1.0 - fx) + b[i] * fx;
        let bottom = c[i] * (1.0 - fx) + d[i] * fx;
        out[i] = top * (1.0 - fy) + bottom * fy;
    }
    out
}
