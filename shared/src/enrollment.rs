//! Enrollment codes and the QR payload that carries one to a phone.
//!
//! A supervisor's page makes a one-time code for an officer and shows it as
//! a QR code whose text is [`EnrollmentQr::payload`]:
//! `beatbook-enroll:1:<code>:<server address>`. The phone reads that text
//! back ([`EnrollmentQr::parse`]) and enrolls at the address with the code,
//! so nobody types an address or a password. The code is 128 random bits,
//! written as 32 lowercase hexadecimal digits; people see it in groups of
//! four ([`display_code`]) and may type it back in any case, with spaces or
//! dashes ([`normalize_code`]).

/// What every enrollment QR payload starts with, before its version.
pub const QR_SCHEME: &str = "beatbook-enroll:";

/// The payload version this crate writes and reads.
const QR_VERSION: &str = "1";

/// Hexadecimal digits of a code (128 bits).
pub const CODE_HEX_DIGITS: usize = 32;

/// A code in its stored form (32 lowercase hexadecimal digits), from a code
/// as typed or shown: case, spaces and dashes are ignored. `None` if what
/// is left is not 32 hexadecimal digits.
pub fn normalize_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == CODE_HEX_DIGITS && code.bytes().all(|b| b.is_ascii_hexdigit())).then_some(code)
}

/// A code as people read it: groups of four digits joined by `-`.
pub fn display_code(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What an enrollment QR code says: where to enroll, and with which code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentQr {
    /// The server's address, e.g. `https://beatbook.example.cn`.
    pub server: String,
    /// The code, normalized (see [`normalize_code`]).
    pub code: String,
}

/// Why a QR code's text is not an enrollment code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrPayloadError {
    /// The text is not a Beatbook enrollment payload at all (another QR code).
    #[error("not a Beatbook enrollment code")]
    NotBeatbook,
    /// A Beatbook enrollment payload of a version this app does not know.
    #[error("enrollment code of an unknown version {0}: update the app")]
    UnknownVersion(String),
    /// A Beatbook enrollment payload with a malformed code or no address.
    #[error("damaged enrollment code: {0}")]
    Malformed(&'static str),
}

impl EnrollmentQr {
    /// The text to put in the QR code.
    pub fn payload(&self) -> String {
        format!(
            "{QR_SCHEME}{QR_VERSION}:{}:{}",
            self.code,
            self.server.trim_end_matches('/')
        )
    }

    /// Reads a QR code's text.
    pub fn parse(text: &str) -> Result<Self, QrPayloadError> {
        let rest = text
            .trim()
            .strip_prefix(QR_SCHEME)
            .ok_or(QrPayloadError::NotBeatbook)?;
        let (version, rest) = rest
            .split_once(':')
            .ok_or(QrPayloadError::Malformed("no version"))?;
        if version != QR_VERSION {
            return Err(QrPayloadError::UnknownVersion(version.to_owned()));
        }
        let (code, server) = rest
            .split_once(':')
            .ok_or(QrPayloadError::Malformed("no server address"))?;
        let code = normalize_code(code).ok_or(QrPayloadError::Malformed("code"))?;
        let server = server.trim_end_matches('/');
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(QrPayloadError::Malformed("server address"));
        }
        Ok(Self {
            server: server.to_owned(),
            code,
        })
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const CODE: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn payload_round_trips_and_drops_a_trailing_slash() {
        let qr = EnrollmentQr {
            server: "http://127.0.0.1:8700/".into(),
            code: CODE.into(),
        };
        let text = qr.payload();
        assert_eq!(
            text,
            format!("beatbook-enroll:1:{CODE}:http://127.0.0.1:8700")
        );
        let back = EnrollmentQr::parse(&text).expect("parses");
        assert_eq!(back.server, "http://127.0.0.1:8700");
        assert_eq!(back.code, CODE);
    }

    #[test]
    fn codes_are_read_as_typed_or_shown() {
        let shown = display_code(CODE);
        assert_eq!(shown, "0123-4567-89ab-cdef-0123-4567-89ab-cdef");
        assert_eq!(normalize_code(&shown).as_deref(), Some(CODE));
        assert_eq!(
            normalize_code(" 0123 4567 89AB CDEF 0123 4567 89ab cdef ").as_deref(),
            Some(CODE)
        );
        assert_eq!(normalize_code(&CODE[1..]), None);
        assert_eq!(normalize_code(&format!("{}g", &CODE[1..])), None);
    }

    #[rstest]
    #[case::another_qr("https://example.cn/", QrPayloadError::NotBeatbook)]
    #[case::future("beatbook-enroll:2:x:y", QrPayloadError::UnknownVersion("2".into()))]
    #[case::short_code("beatbook-enroll:1:0123:http://a", QrPayloadError::Malformed("code"))]
    #[case::no_address(
        "beatbook-enroll:1:0123456789abcdef0123456789abcdef",
        QrPayloadError::Malformed("no server address")
    )]
    #[case::not_http(
        "beatbook-enroll:1:0123456789abcdef0123456789abcdef:ftp://a",
        QrPayloadError::Malformed("server address")
    )]
    fn other_texts_are_told_apart(#[case] text: &str, #[case] want: QrPayloadError) {
        assert_eq!(EnrollmentQr::parse(text), Err(want));
    }
}
