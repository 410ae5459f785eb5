//! Reading an enrollment QR code from a picture, on the device: a photo of
//! the supervisor's screen (or a saved image of it) gives the server's
//! address and the one-time code ([`EnrollmentQr`]) that
//! [`crate::Core::enroll_with_code`] enrolls with. Pure Rust (`rqrr`), so
//! the window, liveview and the web build read codes the same way.

use beatbook_schema::enrollment::{EnrollmentQr, QrPayloadError};
use beatbook_schema::text::Text;
use image::imageops::FilterType;

/// Longest side a picture is searched at; larger photos are scaled down
/// first (a phone photo of a screen is a few thousand pixels; the QR code
/// fills a good part of it).
const MAX_SIDE: u32 = 1600;

/// Why a picture gave no enrollment code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrReadError {
    /// The bytes are not an image this app reads (JPEG, PNG).
    #[error("not an image: {0}")]
    NotAnImage(String),
    /// No QR code could be read in the picture.
    #[error("no QR code found in the picture")]
    NoQrCode,
    /// A QR code, but not a Beatbook enrollment code.
    #[error(transparent)]
    NotEnrollment(#[from] QrPayloadError),
}

impl QrReadError {
    /// What to tell the officer, in both languages.
    pub fn message(&self) -> Text {
        match self {
            QrReadError::NotAnImage(_) => Text::new(
                "无法打开这张图片，请拍照或选择 JPEG/PNG 图片",
                "This picture cannot be opened: take a photo or choose a JPEG or PNG image",
            ),
            QrReadError::NoQrCode => Text::new(
                "图片中没有识别到二维码：请对准二维码、保持清晰后重拍",
                "No QR code found in the picture: aim at the QR code and take a sharp photo again",
            ),
            QrReadError::NotEnrollment(QrPayloadError::UnknownVersion(_)) => Text::new(
                "这是新版本的绑定码：请先更新应用",
                "This enrollment code is from a newer version: update the app first",
            ),
            QrReadError::NotEnrollment(_) => Text::new(
                "这不是 Beatbook 绑定码：请扫描所领导在审核页面生成的二维码",
                "This is not a Beatbook enrollment code: scan the QR code your supervisor made on the review pages",
            ),
        }
    }
}

/// Reads the enrollment code in a picture (JPEG or PNG bytes). Of several
/// QR codes in it, the first that is an enrollment code counts.
pub fn read_enrollment_qr(picture: &[u8]) -> Result<EnrollmentQr, QrReadError> {
    let image =
        image::load_from_memory(picture).map_err(|e| QrReadError::NotAnImage(e.to_string()))?;
    let image = if image.width().max(image.height()) > MAX_SIDE {
        image.resize(MAX_SIDE, MAX_SIDE, FilterType::Triangle)
    } else {
        image
    };
    let luma = image.to_luma8();
    let (width, height) = (luma.width() as usize, luma.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        luma.get_pixel(x as u32, y as u32).0[0]
    });
    let mut other = None;
    for grid in prepared.detect_grids() {
        let Ok((_, text)) = grid.decode() else {
            continue;
        };
        match EnrollmentQr::parse(&text) {
            Ok(qr) => return Ok(qr),
            Err(e) => other = Some(e),
        }
    }
    Err(other.map_or(QrReadError::NoQrCode, QrReadError::NotEnrollment))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{GrayImage, ImageFormat, Luma};

    use super::*;

    /// `text` as a QR code `px` pixels a module, at (`at`, `at`) on a white
    /// picture `side` pixels square, as PNG.
    fn picture(text: &str, px: u32, at: u32, side: u32) -> Vec<u8> {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("fits");
        let n = code.width() as u32;
        let colors = code.to_colors();
        let img = GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = ((x.wrapping_sub(at)) / px, (y.wrapping_sub(at)) / px);
            let dark = x >= at
                && y >= at
                && mx < n
                && my < n
                && colors[(my * n + mx) as usize] == qrcode::Color::Dark;
            Luma([if dark { 20 } else { 235 }])
        });
        let mut png = Cursor::new(Vec::new());
        img.write_to(&mut png, ImageFormat::Png).expect("png");
        png.into_inner()
    }

    const PAYLOAD: &str =
        "beatbook-enroll:1:0123456789abcdef0123456789abcdef:http://127.0.0.1:8700";

    #[test]
    fn an_enrollment_code_is_read_even_from_a_large_photo() {
        let small = read_enrollment_qr(&picture(PAYLOAD, 6, 40, 500)).expect("read");
        assert_eq!(small.server, "http://127.0.0.1:8700");
        assert_eq!(small.code, "0123456789abcdef0123456789abcdef");
        let large = read_enrollment_qr(&picture(PAYLOAD, 30, 900, 3000)).expect("read scaled");
        assert_eq!(large, small);
    }

    #[test]
    fn other_pictures_are_told_apart() {
        assert_eq!(
            read_enrollment_qr(&picture("https://example.cn/", 6, 40, 400)),
            Err(QrReadError::NotEnrollment(QrPayloadError::NotBeatbook))
        );
        assert_eq!(
            read_enrollment_qr(&picture("", 6, 400, 300)),
            Err(QrReadError::NoQrCode),
            "a blank picture"
        );
        assert!(matches!(
            read_enrollment_qr(b"not an image"),
            Err(QrReadError::NotAnImage(_))
        ));
        for e in [
            QrReadError::NotAnImage(String::new()),
            QrReadError::NoQrCode,
            QrReadError::NotEnrollment(QrPayloadError::NotBeatbook),
            QrReadError::NotEnrollment(QrPayloadError::UnknownVersion("2".into())),
        ] {
            let m = e.message();
            assert!(m.zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
            assert!(m.en.is_ascii(), "{}", m.en);
        }
    }
}
