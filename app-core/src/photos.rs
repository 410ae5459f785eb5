//! Photos as captured in the field: made small enough for a poor network,
//! turned upright, stripped of metadata, hashed, and kept encrypted on the
//! device (DESIGN.md invariant 5 and Security).
//!
//! [`process`] turns a camera file into the attachment that is uploaded; its
//! SHA-256 is the photo's content address. [`store`] and [`load`] keep it
//! sealed (see [`super::sealed`]) under the store key's `photos` subkey, as
//! `<dir>/<sha256 hex>.bbs`, with the hex bound as associated data.

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};

use beatbook_schema::ids::Sha256;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use super::keys::StoreKey;
use super::sealed::{self, SealError};

/// Images with more pixels than this are refused before decoding, which
/// bounds memory (80 MP of RGB is 240 MB). Phone cameras produce 12–50 MP.
pub const MAX_PIXELS: u64 = 80_000_000;

/// How captured photos are reduced. Configurable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoSettings {
    /// The longest edge of the stored photo, in pixels; larger photos are
    /// scaled down, smaller ones are kept as they are. Default 1600.
    pub longest_edge: u32,
    /// JPEG quality, 1–100 (values outside are clamped). Default 80.
    pub jpeg_quality: u8,
}

impl Default for PhotoSettings {
    fn default() -> Self {
        Self {
            longest_edge: 1600,
            jpeg_quality: 80,
        }
    }
}

/// A photo ready to attach: an upright JPEG without metadata.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// The JPEG file.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`: the photo's content address.
    pub sha256: Sha256,
    /// Width in pixels, after orientation.
    pub width: u32,
    /// Height in pixels, after orientation.
    pub height: u32,
}

impl std::fmt::Debug for ProcessedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ProcessedPhoto({} {}×{}, {} bytes)",
            self.sha256,
            self.width,
            self.height,
            self.bytes.len()
        )
    }
}

/// Why a photo could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The bytes are neither a JPEG nor a PNG file.
    #[error("not a JPEG or PNG image")]
    NotAnImage,
    /// The image has more than [`MAX_PIXELS`] pixels.
    #[error("image too large: {width}×{height} pixels (at most 80 megapixels) — lower the camera resolution and take the photo again")]
    TooLarge {
        /// Width in pixels, as the file declares it.
        width: u32,
        /// Height in pixels, as the file declares it.
        height: u32,
    },
    /// The file looks like an image but cannot be decoded.
    #[error("the image is damaged or incomplete ({0}) — take the photo again")]
    Damaged(String),
    /// Encoding the result failed.
    #[error("could not save the photo as JPEG: {0}")]
    Encode(String),
}

/// Why a stored photo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The sealed file is missing, unreadable, or does not decrypt.
    #[error("photo file: {0}")]
    Sealed(#[from] SealError),
    /// The file decrypted but its contents do not hash to its name.
    #[error("photo {0} is corrupt: its contents do not match its hash")]
    HashMismatch(Sha256),
}

/// Turns a camera file (JPEG or PNG) into the photo that is stored and
/// uploaded: decoded, turned upright by its EXIF orientation (all eight),
/// scaled down so the longest edge is at most `settings.longest_edge` (never
/// up), and re-encoded as a JPEG at `settings.jpeg_quality`.
///
/// Re-encoding drops every metadata segment, EXIF included, and with it any
/// GPS position, camera serial number and timestamp the phone embedded: where
/// a photo was taken is recorded in a form field the officer can see, never
/// leaked inside the file. The output is a pure function of the input and the
/// settings, so the same capture always gets the same SHA-256.
pub fn process(input: &[u8], settings: &PhotoSettings) -> Result<ProcessedPhoto, PhotoError> {
    let format = match image::guess_format(input) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => f,
        _ => return Err(PhotoError::NotAnImage),
    };
    let decoder = ImageReader::with_format(Cursor::new(input), format)
        .into_decoder()
        .map_err(|e| PhotoError::Damaged(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooLarge { width, height });
    }
    let image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        ImageError::Limits(_) => PhotoError::TooLarge { width, height },
        e => PhotoError::Damaged(e.to_string()),
    })?;

    // Scale before turning: rotating the small image is cheaper, and the
    // longest edge is the same either way.
    let edge = settings.longest_edge.max(1);
    let image = if width.max(height) > edge {
        image.resize(edge, edge, FilterType::Triangle)
    } else {
        image
    };
    // JPEG has no alpha and no 16-bit samples; transparent PNG areas take
    // the colour stored under them.
    let mut image = DynamicImage::ImageRgb8(image.into_rgb8());
    image.apply_orientation(exif_orientation(input));

    let mut bytes = Vec::new();
    let encoder = JpegEncoder::new_with_quality(&mut bytes, settings.jpeg_quality.clamp(1, 100));
    image
        .write_with_encoder(encoder)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(ProcessedPhoto {
        sha256: Sha256::digest(&bytes),
        width: image.width(),
        height: image.height(),
        bytes,
    })
}

/// The EXIF orientation of an image file; upright when there is no EXIF or
/// it cannot be read (a garbled tag must not lose the photo).
fn exif_orientation(input: &[u8]) -> Orientation {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(input))
        .ok()
        .and_then(|exif| {
            exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?
                .value
                .get_uint(0)
        })
        .and_then(|n| Orientation::from_exif(u8::try_from(n).ok()?))
        .unwrap_or(Orientation::NoTransforms)
}

/// Where the sealed file of photo `sha` lives in `dir`.
pub fn photo_path(dir: &Path, sha: &Sha256) -> PathBuf {
    dir.join(format!("{}.bbs", sha.to_hex()))
}

/// Stores `photo` encrypted as `<dir>/<sha256 hex>.bbs` (atomically; see
/// [`sealed::write_sealed`]), creating `dir` if needed, and returns the path.
pub fn store(dir: &Path, key: &StoreKey, photo: &ProcessedPhoto) -> io::Result<PathBuf> {
    crate::files::create_dir_all(dir)?;
    let path = photo_path(dir, &photo.sha256);
    let aad = photo.sha256.to_hex();
    sealed::write_sealed(&path, &key.subkey(b"photos"), aad.as_bytes(), &photo.bytes)?;
    Ok(path)
}

/// Loads and decrypts photo `sha` from `dir`, checking that the bytes still
/// hash to `sha`.
pub fn load(dir: &Path, key: &StoreKey, sha: &Sha256) -> Result<Vec<u8>, LoadError> {
    let aad = sha.to_hex();
    let bytes = sealed::read_sealed(
        &photo_path(dir, sha),
        &key.subkey(b"photos"),
        aad.as_bytes(),
    )?;
    if Sha256::digest(&bytes) != *sha {
        return Err(LoadError::HashMismatch(*sha));
    }
    Ok(bytes)
}

/// A camera-like JPEG for tests, benchmarks and demo data (never used on
/// captures), from a seeded generator: a smooth colour gradient (sky, a
/// wall) over the top, random texture a few pixels across fading in towards
/// the bottom (ground, foliage), and per-pixel sensor noise everywhere,
/// encoded at quality 92 like a phone camera. At 4000×3000 it weighs about
/// 4 MB, like a real photo; both its texture and its noise matter, since a
/// plain gradient compresses to almost nothing and pure noise averages away
/// when scaled down.
pub fn synthetic_camera_jpeg(width: u32, height: u32, seed: u64) -> Result<Vec<u8>, PhotoError> {
    use rand::{Rng, SeedableRng};
    const CELL: u32 = 8; // texture feature size, pixels
    const TEXTURE: f32 = 30.0; // texture amplitude, levels
    const NOISE: u8 = 16; // noise span, levels

    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let coarse = image::RgbImage::from_fn(width / CELL + 2, height / CELL + 2, |_, _| {
        image::Rgb(rng.gen())
    });
    let texture = DynamicImage::ImageRgb8(coarse)
        .resize_exact(width, height, FilterType::Triangle)
        .into_rgb8();
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / w, y as f32 / h);
        let amplitude = TEXTURE * (fy * 1.6 - 0.3).clamp(0.0, 1.0);
        let t = texture.get_pixel(x, y).0;
        let n: [u8; 3] = rng.gen();
        let level = |base: f32, t: u8, n: u8| {
            let texture = amplitude * (f32::from(t) - 128.0) / 128.0;
            let noise = f32::from(n % NOISE) - f32::from(NOISE / 2);
            (base + texture + noise).clamp(0.0, 255.0) as u8
        };
        image::Rgb([
            level(70.0 + 120.0 * fx, t[0], n[0]),
            level(90.0 + 100.0 * fy, t[1], n[1]),
            level(170.0 - 40.0 * (fx + fy), t[2], n[2]),
        ])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, 92))
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};
    use rstest::rstest;

    use super::*;

    const RED: [u8; 3] = [255, 0, 0];
    const GREEN: [u8; 3] = [0, 255, 0];
    const BLUE: [u8; 3] = [0, 0, 255];
    const WHITE: [u8; 3] = [255, 255, 255];

    fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
            .unwrap();
        out
    }

    /// `jpeg` with a minimal EXIF APP1 segment right after SOI: a big-endian
    /// TIFF header and one IFD0 entry, Orientation (0x0112) = `orientation`.
    fn with_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
        #[rustfmt::skip]
        let app1 = [
            0xFF, 0xE1, 0x00, 0x22,                  // APP1, length 34
            b'E', b'x', b'i', b'f', 0, 0,            // "Exif\0\0"
            b'M', b'M', 0x00, 0x2A, 0, 0, 0, 0x08,   // TIFF header, IFD0 at 8
            0x00, 0x01,                              // one entry
            0x01, 0x12, 0x00, 0x03, 0, 0, 0, 0x01,   // Orientation, SHORT, count 1
            0x00, orientation, 0x00, 0x00,           // value
            0, 0, 0, 0,                              // no next IFD
        ];
        [&jpeg[..2], &app1[..], &jpeg[2..]].concat()
    }

    /// 64×32, a colour per quadrant: red, green above; blue, white below.
    fn quadrants() -> RgbImage {
        RgbImage::from_fn(64, 32, |x, y| {
            Rgb(match (x < 32, y < 16) {
                (true, true) => RED,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => WHITE,
            })
        })
    }

    fn colour_near(image: &RgbImage, x: u32, y: u32) -> [u8; 3] {
        let snap = |v: u8| if v > 127 { 255 } else { 0 };
        let [r, g, b] = image.get_pixel(x, y).0;
        [snap(r), snap(g), snap(b)]
    }

    #[test]
    fn a_camera_sized_photo_shrinks_to_1600_by_1200_and_under_400_kb() {
        let input = synthetic_camera_jpeg(4000, 3000, 1).unwrap();
        assert!(
            input.len() >= 2_000_000,
            "synthetic input is only {} bytes",
            input.len()
        );
        let photo = process(&input, &PhotoSettings::default()).unwrap();
        assert_eq!((photo.width, photo.height), (1600, 1200));
        assert!(
            photo.bytes.len() <= 400_000,
            "output is {} bytes",
            photo.bytes.len()
        );
        let decoded = image::load_from_memory(&photo.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (1600, 1200));
        assert_eq!(photo.sha256, Sha256::digest(&photo.bytes));
    }

    #[test]
    fn a_hand_made_exif_segment_is_read_by_kamadak_exif() {
        let input = with_orientation(&jpeg(&quadrants(), 90), 6);
        assert_eq!(exif_orientation(&input), Orientation::Rotate90);
        assert_eq!(
            exif_orientation(&jpeg(&quadrants(), 90)),
            Orientation::NoTransforms
        );
    }

    #[test]
    fn a_portrait_shot_comes_out_portrait_and_without_exif() {
        let input = with_orientation(&synthetic_camera_jpeg(400, 300, 2).unwrap(), 6);
        let photo = process(&input, &PhotoSettings::default()).unwrap();
        assert_eq!((photo.width, photo.height), (300, 400));
        assert!(exif::Reader::new()
            .read_from_container(&mut Cursor::new(&photo.bytes))
            .is_err());
    }

    /// Where each quadrant lands, read off the EXIF definition of the tag:
    /// the colours of the upright image's top-left and top-right corners.
    #[rstest]
    #[case(1, RED, GREEN, false)]
    #[case(2, GREEN, RED, false)]
    #[case(3, WHITE, BLUE, false)]
    #[case(4, BLUE, WHITE, false)]
    #[case(5, RED, BLUE, true)]
    #[case(6, BLUE, RED, true)]
    #[case(7, WHITE, GREEN, true)]
    #[case(8, GREEN, WHITE, true)]
    fn every_exif_orientation_is_turned_upright(
        #[case] orientation: u8,
        #[case] top_left: [u8; 3],
        #[case] top_right: [u8; 3],
        #[case] turned: bool,
    ) {
        let input = with_orientation(&jpeg(&quadrants(), 95), orientation);
        let photo = process(&input, &PhotoSettings::default()).unwrap();
        let expected = if turned { (32, 64) } else { (64, 32) };
        assert_eq!((photo.width, photo.height), expected);
        let upright = image::load_from_memory(&photo.bytes).unwrap().into_rgb8();
        assert_eq!(colour_near(&upright, 4, 4), top_left);
        assert_eq!(colour_near(&upright, photo.width - 5, 4), top_right);
    }

    #[test]
    fn garbled_exif_counts_as_upright() {
        let mut input = with_orientation(&jpeg(&quadrants(), 90), 6);
        input[12..18].copy_from_slice(b"XXXXXX"); // the TIFF header
        assert_eq!(exif_orientation(&input), Orientation::NoTransforms);
        let photo = process(&input, &PhotoSettings::default()).unwrap();
        assert_eq!((photo.width, photo.height), (64, 32));
    }

    #[test]
    fn a_small_photo_is_not_upscaled() {
        let photo = process(&jpeg(&quadrants(), 90), &PhotoSettings::default()).unwrap();
        assert_eq!((photo.width, photo.height), (64, 32));
    }

    #[test]
    fn the_longest_edge_is_configurable_and_kept_in_portrait() {
        let input = with_orientation(&synthetic_camera_jpeg(800, 600, 3).unwrap(), 8);
        let settings = PhotoSettings {
            longest_edge: 400,
            jpeg_quality: 60,
        };
        let photo = process(&input, &settings).unwrap();
        assert_eq!((photo.width, photo.height), (300, 400));
    }

    #[test]
    fn a_png_becomes_a_jpeg() {
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(quadrants()).into_rgba8())
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let photo = process(&png, &PhotoSettings::default()).unwrap();
        assert_eq!(
            image::guess_format(&photo.bytes).unwrap(),
            ImageFormat::Jpeg
        );
        assert_eq!((photo.width, photo.height), (64, 32));
    }

    #[rstest]
    #[case::garbage(b"hello, this is not a photo".to_vec())]
    #[case::empty(Vec::new())]
    #[case::gif(b"GIF89a\x01\x00\x01\x00".to_vec())]
    fn non_images_are_refused_in_words(#[case] input: Vec<u8>) {
        let err = process(&input, &PhotoSettings::default()).unwrap_err();
        assert!(matches!(err, PhotoError::NotAnImage));
        assert_eq!(err.to_string(), "not a JPEG or PNG image");
    }

    #[test]
    fn a_truncated_jpeg_is_called_damaged() {
        let input = jpeg(&quadrants(), 90);
        let err = process(&input[..input.len() / 3], &PhotoSettings::default()).unwrap_err();
        assert!(matches!(err, PhotoError::Damaged(_)), "{err}");
    }

    /// A PNG of 30000×20000 pixels: the header, one empty data chunk, the end.
    fn huge_png() -> Vec<u8> {
        let mut ihdr = [30_000u32.to_be_bytes(), 20_000u32.to_be_bytes()].concat();
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
        let chunk = |kind: &[u8], data: &[u8]| {
            let body = [kind, data].concat();
            let len = u32::try_from(data.len()).unwrap().to_be_bytes();
            [&len[..], &body, &crc32(&body).to_be_bytes()].concat()
        };
        [
            &b"\x89PNG\r\n\x1a\n"[..],
            &chunk(b"IHDR", &ihdr),
            &chunk(b"IDAT", &[]),
            &chunk(b"IEND", &[]),
        ]
        .concat()
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
        !crc
    }

    /// A small JPEG whose frame header (SOF0) claims 30000×20000 pixels.
    fn huge_jpeg() -> Vec<u8> {
        let mut bytes = jpeg(&quadrants(), 90);
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bytes[sof + 5..sof + 7].copy_from_slice(&20_000u16.to_be_bytes());
        bytes[sof + 7..sof + 9].copy_from_slice(&30_000u16.to_be_bytes());
        bytes
    }

    #[rstest]
    #[case::png(huge_png())]
    #[case::jpeg(huge_jpeg())]
    fn huge_images_are_refused_before_decoding(#[case] input: Vec<u8>) {
        let err = process(&input, &PhotoSettings::default()).unwrap_err();
        assert!(
            matches!(
                err,
                PhotoError::TooLarge {
                    width: 30_000,
                    height: 20_000
                }
            ),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("image too large: 30000×20000 pixels"));
    }

    #[test]
    fn the_same_input_gives_the_same_hash() {
        let input = with_orientation(&synthetic_camera_jpeg(1200, 900, 4).unwrap(), 3);
        let a = process(&input, &PhotoSettings::default()).unwrap();
        let b = process(&input, &PhotoSettings::default()).unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a, b);
    }

    #[test]
    fn stored_photos_load_back_encrypted_and_only_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::from_bytes([1; 32]);
        let photo = process(&jpeg(&quadrants(), 90), &PhotoSettings::default()).unwrap();

        let path = store(dir.path(), &key, &photo).unwrap();
        assert_eq!(path, dir.path().join(format!("{}.bbs", photo.sha256)));
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk.starts_with(sealed::MAGIC));
        assert!(!on_disk.windows(64).any(|w| w == &photo.bytes[..64]));
        assert_eq!(load(dir.path(), &key, &photo.sha256).unwrap(), photo.bytes);

        let other = StoreKey::from_bytes([2; 32]);
        assert!(matches!(
            load(dir.path(), &other, &photo.sha256),
            Err(LoadError::Sealed(SealError::Authentication))
        ));
    }

    #[test]
    fn a_photo_file_renamed_to_another_hash_does_not_load() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::from_bytes([1; 32]);
        let photo = process(&jpeg(&quadrants(), 90), &PhotoSettings::default()).unwrap();
        let path = store(dir.path(), &key, &photo).unwrap();
        let other = Sha256::digest(b"another photo");
        std::fs::rename(&path, photo_path(dir.path(), &other)).unwrap();
        assert!(matches!(
            load(dir.path(), &key, &other),
            Err(LoadError::Sealed(SealError::Authentication))
        ));
    }

    #[test]
    fn a_photo_whose_contents_do_not_match_its_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::from_bytes([1; 32]);
        let sha = Sha256::digest(b"what should be there");
        let aad = sha.to_hex();
        let path = photo_path(dir.path(), &sha);
        sealed::write_sealed(&path, &key.subkey(b"photos"), aad.as_bytes(), b"other").unwrap();
        assert!(matches!(
            load(dir.path(), &key, &sha),
            Err(LoadError::HashMismatch(s)) if s == sha
        ));
    }
}
