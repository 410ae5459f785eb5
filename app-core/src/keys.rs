//! Keys for data at rest. The officer's PIN is stretched with Argon2id and a
//! per-device random salt into the store key, which opens the SQLCipher
//! database; photo files are encrypted with a subkey derived from it (HKDF).
//! Where the key comes from is behind [`KeyProvider`], so phone builds can
//! keep it in the platform keystore instead.

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// The 256-bit key of a device's local store. Wiped from memory on drop.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct StoreKey([u8; 32]);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

/// Why no key could be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PIN is too short or not digits.
    #[error("the PIN must be 6 to 12 digits")]
    BadPin,
    /// Key derivation failed.
    #[error("key derivation failed: {0}")]
    Derivation(String),
}

impl StoreKey {
    /// Wraps raw key bytes (from a platform keystore).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The SQLCipher raw key literal: `x'<64 hex>'`.
    pub fn sqlcipher_literal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", hex::encode(self.0)))
    }

    /// A subkey for one purpose (e.g. `b"photos"`), by HKDF-SHA256.
    pub fn subkey(&self, purpose: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"beatbook/v1"), &self.0);
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hk.expand(purpose, out.as_mut());
        out
    }
}

/// Where a device's store key comes from.
pub trait KeyProvider: Send + Sync {
    /// The key for `pin` and this device's `salt`.
    fn key(&self, pin: &str, salt: &[u8; 16]) -> Result<StoreKey, KeyError>;
}

/// Derives the key from the PIN with Argon2id (m = 64 MiB, t = 3, p = 1): a
/// stolen phone's database resists offline PIN guessing for as long as the
/// hardware allows, and each guess costs the attacker real memory.
#[derive(Debug, Clone)]
pub struct PinKeys {
    params: Params,
}

impl Default for PinKeys {
    fn default() -> Self {
        Self {
            params: Params::new(64 * 1024, 3, 1, Some(32)).unwrap_or_default(),
        }
    }
}

impl PinKeys {
    /// Cheap parameters for tests only.
    pub fn fast_for_tests() -> Self {
        Self {
            params: Params::new(1024, 1, 1, Some(32)).unwrap_or_default(),
        }
    }
}

impl KeyProvider for PinKeys {
    fn key(&self, pin: &str, salt: &[u8; 16]) -> Result<StoreKey, KeyError> {
        if !(6..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KeyError::BadPin);
        }
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .hash_password_into(pin.as_bytes(), salt, &mut out)
            .map_err(|e| KeyError::Derivation(e.to_string()))?;
        Ok(StoreKey(out))
    }
}

/// A fresh random salt, made once per device.
pub fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_pin_and_salt_give_the_same_key_and_others_do_not() {
        let keys = PinKeys::fast_for_tests();
        let salt = [7u8; 16];
        let a = keys.key("246810", &salt).unwrap();
        assert_eq!(a.0, keys.key("246810", &salt).unwrap().0);
        assert_ne!(a.0, keys.key("246811", &salt).unwrap().0);
        assert_ne!(a.0, keys.key("246810", &[8u8; 16]).unwrap().0);
        assert_ne!(*a.subkey(b"photos"), a.0);
        assert_ne!(*a.subkey(b"photos"), *a.subkey(b"other"));
    }

    #[test]
    fn pins_must_be_six_to_twelve_digits() {
        let keys = PinKeys::fast_for_tests();
        for bad in ["12345", "abcdef", "1234567890123", ""] {
            assert!(
                matches!(keys.key(bad, &[0; 16]), Err(KeyError::BadPin)),
                "{bad}"
            );
        }
    }
}
