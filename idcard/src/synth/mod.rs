//! Synthetic card photos for measuring the reader: made-up residents with
//! valid ID numbers ([`person`]), drawn on the card's layout with Debian's
//! Noto CJK fonts ([`card`], [`fonts`]), then photographed badly at a chosen
//! [`Level`] ([`distort`]). Deterministic for a seed.

pub mod card;
pub mod distort;
pub mod fonts;
pub mod person;

use rand::rngs::StdRng;
use rand::SeedableRng;

pub use self::distort::Level;
pub use self::fonts::{FontError, Fonts};
pub use self::person::Person;

/// One labelled photo.
pub struct Sample {
    /// Who is on the card.
    pub person: Person,
    /// The photo, JPEG.
    pub jpeg: Vec<u8>,
}

/// Makes the `index`th sample of a set at `level`: the same seed, index and
/// level always give the same photo (and each level its own residents).
pub fn sample(
    fonts: &Fonts,
    seed: u64,
    index: u64,
    level: Level,
) -> Result<Sample, image::ImageError> {
    let stream = index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (level as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut rng = StdRng::seed_from_u64(seed ^ stream);
    let person = Person::random(&mut rng);
    let front = card::draw(fonts, &person, &mut rng);
    let jpeg = distort::photograph(&front, level, &mut rng)?;
    Ok(Sample { person, jpeg })
}
