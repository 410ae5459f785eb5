//! Encrypted files at rest ("sealed" files), used for photos on the device.
//!
//! Format: the magic `b"BBS1"`, a random 24-byte nonce, then the
//! XChaCha20-Poly1305 ciphertext with its 16-byte tag. The nonce is fresh for
//! every file; XChaCha's 192-bit nonces make random choice safe however many
//! files one key seals. The caller binds the file's identity (for photos, the
//! SHA-256 hex that names the file) as associated data, so a sealed file
//! moved or copied under another name no longer opens.

use std::io;
use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::files;

/// The first bytes of every sealed file; the `1` is the format version.
pub const MAGIC: &[u8; 4] = b"BBS1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + NONCE_LEN;

/// Why a sealed file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The file could not be read (missing, permissions, I/O error).
    #[error("could not read the encrypted file: {0}")]
    Io(#[from] io::Error),
    /// The bytes do not start with the sealed-file magic.
    #[error("not a Beatbook encrypted file (wrong header)")]
    BadMagic,
    /// The file is shorter than a header and a tag: it was cut off.
    #[error("the encrypted file is truncated")]
    TooShort,
    /// Decryption failed: the key is wrong (another device or PIN), or the
    /// file was altered, damaged, or renamed.
    #[error("could not decrypt the file: wrong key, or the file was altered or damaged")]
    Authentication,
}

/// Encrypts `plain` under `key`, binding `aad` (not stored; the reader must
/// supply the same bytes). Returns `MAGIC ‖ nonce ‖ ciphertext ‖ tag`.
///
/// # Panics
/// Only if `plain` exceeds XChaCha20-Poly1305's limit of about 256 GiB,
/// which no in-memory buffer on a phone reaches.
pub fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: plain, aad })
        .expect("plaintext within the XChaCha20-Poly1305 length limit");
    let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts bytes made by [`seal`] with the same `key` and `aad`.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if !sealed.starts_with(MAGIC) {
        return Err(if sealed.len() < MAGIC.len() {
            SealError::TooShort
        } else {
            SealError::BadMagic
        });
    }
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(SealError::TooShort);
    }
    let (nonce, ciphertext) = sealed[MAGIC.len()..].split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| SealError::Authentication)
}

/// Seals `plain` into the file at `path`, atomically: the bytes go to a
/// temporary file in the same directory, which is flushed to disk and then
/// renamed over `path`. A crash leaves either the old file or the new one,
/// never half of one (at worst a stray `.tmp` file).
#[cfg(not(target_arch = "wasm32"))]
pub fn write_sealed(path: &Path, key: &[u8; 32], aad: &[u8], plain: &[u8]) -> io::Result<()> {
    use std::fs;
    use std::io::Write;

    use rand::RngCore;

    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{:016x}.tmp",
        name.to_string_lossy(),
        rand::thread_rng().next_u64()
    ));
    let sealed = seal(key, aad, plain);
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(&sealed)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    files::sync_dir(dir)
}

/// Seals `plain` into the file at `path`: one durable write of the web
/// build's file table (see [`crate::files`]), old contents or new, never half.
#[cfg(target_arch = "wasm32")]
pub fn write_sealed(path: &Path, key: &[u8; 32], aad: &[u8], plain: &[u8]) -> io::Result<()> {
    files::replace(path, &seal(key, aad, plain))
}

/// Reads and decrypts a file written by [`write_sealed`].
pub fn read_sealed(path: &Path, key: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    open(key, aad, &files::read(path)?)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const MARKER: &[u8] = b"ID 320102199001011234 Zhang San, Building 3";

    #[test]
    fn sealed_bytes_open_with_the_same_key_and_aad() {
        let sealed = seal(&KEY, b"name", MARKER);
        assert!(sealed.starts_with(MAGIC));
        assert_eq!(sealed.len(), HEADER_LEN + MARKER.len() + TAG_LEN);
        assert_eq!(open(&KEY, b"name", &sealed).unwrap(), MARKER);
        assert_eq!(open(&KEY, b"", &seal(&KEY, b"", b"")).unwrap(), b"");
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        assert_ne!(seal(&KEY, b"a", MARKER), seal(&KEY, b"a", MARKER));
    }

    #[test]
    fn a_wrong_key_does_not_open() {
        let sealed = seal(&KEY, b"name", MARKER);
        assert!(matches!(
            open(&[8; 32], b"name", &sealed),
            Err(SealError::Authentication)
        ));
    }

    #[test]
    fn a_wrong_aad_does_not_open() {
        let sealed = seal(&KEY, b"photo-a", MARKER);
        assert!(matches!(
            open(&KEY, b"photo-b", &sealed),
            Err(SealError::Authentication)
        ));
    }

    #[test]
    fn any_flipped_byte_after_the_magic_is_detected() {
        let sealed = seal(&KEY, b"name", MARKER);
        for i in MAGIC.len()..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(
                matches!(
                    open(&KEY, b"name", &tampered),
                    Err(SealError::Authentication)
                ),
                "flip at {i}"
            );
        }
    }

    #[test]
    fn wrong_magic_and_truncation_are_named() {
        let sealed = seal(&KEY, b"name", MARKER);
        let mut other = sealed.clone();
        other[0] = b'X';
        assert!(matches!(
            open(&KEY, b"name", &other),
            Err(SealError::BadMagic)
        ));
        assert!(matches!(
            open(&KEY, b"name", b"BB"),
            Err(SealError::TooShort)
        ));
        assert!(matches!(
            open(&KEY, b"name", &sealed[..HEADER_LEN + TAG_LEN - 1]),
            Err(SealError::TooShort)
        ));
        assert!(matches!(
            open(&KEY, b"name", &sealed[..sealed.len() - 1]),
            Err(SealError::Authentication)
        ));
    }

    #[test]
    fn sealed_bytes_do_not_contain_the_plaintext() {
        let plain = MARKER.repeat(100);
        let sealed = seal(&KEY, b"name", &plain);
        assert!(!sealed.windows(8).any(|w| MARKER.windows(8).any(|m| m == w)));
    }

    #[test]
    fn written_files_read_back_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bbs");
        write_sealed(&path, &KEY, b"a", MARKER).unwrap();
        write_sealed(&path, &KEY, b"a", b"replaced").unwrap();
        assert_eq!(read_sealed(&path, &KEY, b"a").unwrap(), b"replaced");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.bbs"]);
        let on_disk = fs::read(&path).unwrap();
        assert!(!on_disk.windows(8).any(|w| w == &b"replaced"[..]));
        assert!(matches!(
            read_sealed(&dir.path().join("missing.bbs"), &KEY, b"a"),
            Err(SealError::Io(e)) if e.kind() == io::ErrorKind::NotFound
        ));
    }
}
