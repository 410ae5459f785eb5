//! The front of a second-generation resident identity card, drawn flat:
//! 85.6 × 54 mm at 10 pixels a millimetre, labels in blue on the left, the
//! values in black, the photo on the right, the number along the bottom.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use imageproc::drawing::{
    draw_filled_ellipse_mut, draw_filled_rect_mut, draw_line_segment_mut, draw_text_mut,
};
use imageproc::rect::Rect;
use rand::Rng;

use super::fonts::Fonts;
use super::person::Person;

/// Card size in pixels (10 px/mm).
pub const SIZE: (u32, u32) = (856, 540);
/// Characters of address per line before it wraps.
const ADDRESS_LINE: usize = 11;

const LABEL: Rgb<u8> = Rgb([40, 110, 170]);
const VALUE: Rgb<u8> = Rgb([20, 20, 24]);

/// Draws `person`'s card.
pub fn draw(fonts: &Fonts, person: &Person, rng: &mut impl Rng) -> RgbImage {
    let mut card = background(rng);
    let value_font = if rng.gen_bool(0.7) {
        &fonts.sans
    } else {
        &fonts.serif
    };
    let label = 26.0;
    let value = rng.gen_range(31.0..35.0);
    let (lx, vx) = (50, 150);

    let text = |img: &mut RgbImage, font: &FontVec, color, x, y, px, s: &str, tracking| {
        spaced(img, font, color, x, y, px, s, tracking)
    };
    text(&mut card, &fonts.sans, LABEL, lx, 62, label, "姓名", 10.0);
    text(
        &mut card,
        &fonts.sans_bold,
        VALUE,
        vx,
        56,
        value,
        &person.name,
        2.0,
    );

    text(&mut card, &fonts.sans, LABEL, lx, 128, label, "性别", 10.0);
    text(
        &mut card,
        value_font,
        VALUE,
        vx,
        122,
        value,
        &person.gender,
        0.0,
    );
    text(&mut card, &fonts.sans, LABEL, 290, 128, label, "民族", 10.0);
    text(
        &mut card,
        value_font,
        VALUE,
        390,
        122,
        value,
        &person.ethnicity,
        0.0,
    );

    text(&mut card, &fonts.sans, LABEL, lx, 194, label, "出生", 10.0);
    let birth = person.birth_date;
    let (y, m, d) = (
        birth.format("%Y").to_string(),
        birth.format("%-m").to_string(),
        birth.format("%-d").to_string(),
    );
    let mut x = vx;
    for (part, unit) in [(y, "年"), (m, "月"), (d, "日")] {
        x = spaced(&mut card, value_font, VALUE, x, 188, value, &part, 1.0) + 10;
        x = spaced(&mut card, &fonts.sans, LABEL, x, 194, label, unit, 0.0) + 14;
    }

    text(&mut card, &fonts.sans, LABEL, lx, 260, label, "住址", 10.0);
    let chars: Vec<char> = person.address.chars().collect();
    for (i, line) in chars.chunks(ADDRESS_LINE).take(3).enumerate() {
        let line: String = line.iter().collect();
        text(
            &mut card,
            value_font,
            VALUE,
            vx,
            254 + 46 * i as i32,
            value,
            &line,
            1.5,
        );
    }

    text(
        &mut card,
        &fonts.sans,
        LABEL,
        lx,
        448,
        label,
        "公民身份号码",
        6.0,
    );
    let number_px = rng.gen_range(34.0..38.0);
    text(
        &mut card,
        &fonts.sans_bold,
        VALUE,
        290,
        440,
        number_px,
        &person.id_number,
        3.0,
    );

    photo(&mut card, rng);
    card
}

/// Draws `s` from (`x`, `y`) with `tracking` extra pixels between
/// characters; returns the x after the last character.
#[allow(clippy::too_many_arguments)]
fn spaced(
    img: &mut RgbImage,
    font: &FontVec,
    color: Rgb<u8>,
    x: i32,
    y: i32,
    px: f32,
    s: &str,
    tracking: f32,
) -> i32 {
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let mut at = x as f32;
    for c in s.chars() {
        draw_text_mut(
            img,
            color,
            at.round() as i32,
            y,
            scale,
            font,
            &c.to_string(),
        );
        at += scaled.h_advance(font.glyph_id(c)) + tracking;
    }
    at.round() as i32
}

/// The card's pale ground with faint guilloche lines.
fn background(rng: &mut impl Rng) -> RgbImage {
    let (w, h) = SIZE;
    let tint: [f32; 3] = [
        rng.gen_range(228.0..242.0),
        rng.gen_range(232.0..244.0),
        rng.gen_range(232.0..246.0),
    ];
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        let t = (x as f32 / w as f32 + y as f32 / h as f32) / 2.0;
        Rgb([
            (tint[0] + 10.0 * t) as u8,
            (tint[1] + 6.0 * t) as u8,
            (tint[2] - 8.0 * t) as u8,
        ])
    });
    let phase: f32 = rng.gen_range(0.0..std::f32::consts::TAU);
    for k in 0..14 {
        let base = 20.0 + k as f32 * 38.0;
        let mut prev = (0.0, base);
        for step in 1..=86 {
            let x = step as f32 * 10.0;
            let y = base + 9.0 * (x / 37.0 + phase + k as f32).sin();
            draw_line_segment_mut(&mut img, prev, (x, y), Rgb([214, 224, 232]));
            prev = (x, y);
        }
    }
    img
}

/// A stand-in for the holder's photo: a light panel with a head and
/// shoulders, in the card's top right.
fn photo(img: &mut RgbImage, rng: &mut impl Rng) {
    let shade = rng.gen_range(200u8..235);
    draw_filled_rect_mut(
        img,
        Rect::at(560, 50).of_size(240, 300),
        Rgb([shade, shade, shade.saturating_add(8)]),
    );
    let hair = rng.gen_range(20u8..70);
    draw_filled_ellipse_mut(img, (680, 160), 62, 78, Rgb([hair, hair, hair]));
    draw_filled_ellipse_mut(img, (680, 175), 52, 66, Rgb([222, 190, 165]));
    draw_filled_ellipse_mut(img, (680, 350), 115, 90, Rgb([60, 70, 90]));
    // The shoulders must not spill below the panel.
    draw_filled_rect_mut(
        img,
        Rect::at(560, 351).of_size(240, 40),
        Rgb([236, 238, 238]),
    );
}
