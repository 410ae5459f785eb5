//! Demo photos: two small real JPEGs (a hazard-stripe scene and a green
//! "rectified" one, 96×72), made distinct per photo by a JPEG comment segment
//! so each has its own SHA-256.

/// The scene photographed when a hazard is found.
const HAZARD_JPEG: &[u8] = include_bytes!("../assets/hazard.jpg");
/// The scene photographed after rectification.
const RECTIFIED_JPEG: &[u8] = include_bytes!("../assets/rectified.jpg");

/// What a photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// A hazard as found.
    Hazard,
    /// The same place after rectification.
    Rectified,
}

/// The bytes of photo `label` of `scene`: the scene's JPEG with a comment
/// (`COM`) segment naming the photo, placed after the JFIF header.
pub fn photo_bytes(scene: Scene, label: &str) -> Vec<u8> {
    let base = match scene {
        Scene::Hazard => HAZARD_JPEG,
        Scene::Rectified => RECTIFIED_JPEG,
    };
    let comment = format!("Beatbook demo photo {label}");
    // SOI (2 bytes), then an APP0 segment: marker (2) + big-endian length.
    let app0_end = match base.get(2..6) {
        Some([0xFF, 0xE0, hi, lo]) => 4 + usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => 2,
    };
    let split = app0_end.min(base.len());
    let segment_len = (comment.len() + 2) as u16;
    let mut out = Vec::with_capacity(base.len() + comment.len() + 4);
    out.extend_from_slice(&base[..split]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&segment_len.to_be_bytes());
    out.extend_from_slice(comment.as_bytes());
    out.extend_from_slice(&base[split..]);
    out
}

#[cfg(test)]
mod tests {
    use beatbook_schema::ids::Sha256;

    use super::*;

    #[test]
    fn photos_are_jpegs_distinct_by_label() {
        let a = photo_bytes(Scene::Hazard, "1");
        let b = photo_bytes(Scene::Hazard, "2");
        assert_ne!(Sha256::digest(&a), Sha256::digest(&b));
        for bytes in [&a, &b] {
            assert_eq!(&bytes[..4], &[0xFF, 0xD8, 0xFF, 0xE0]);
            assert_eq!(&bytes[bytes.len() - 2..], &[0xFF, 0xD9]);
        }
        // The comment sits right after the JFIF header.
        assert_eq!(&a[20..22], &[0xFF, 0xFE]);
        assert!(photo_bytes(Scene::Rectified, "1").len() > RECTIFIED_JPEG.len());
    }
}
