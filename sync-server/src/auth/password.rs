//! Password hashing with Argon2id (the argon2 crate's defaults: m = 19 MiB,
//! t = 2, p = 1, per OWASP's recommendation), in PHC string format, and the
//! one place sign-ins check a password: in turn, one check per core.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a stored PHC string. A malformed stored hash
/// verifies nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks a sign-in's password against the account's stored hash, or — when
/// the badge is unknown (`None`) — against a hash of a random password made
/// with the same parameters, so that the answer takes as long either way and
/// timing does not tell which badges exist.
///
/// Each check takes 19 MiB and a core for a while, so every sign-in route
/// waits for one of the process's turns (one per core): a crowd of phones
/// enrolling together neither oversubscribes the CPU nor makes the allocator
/// hold a block per waiting request.
pub async fn password_matches(password: String, phc: Option<String>) -> bool {
    crate::cores::on_a_core(move || match phc {
        Some(phc) => verify_password(&password, &phc),
        None => {
            verify_password(&password, dummy_hash());
            false
        }
    })
    .await
}

/// The hash checked for unknown badges: made once by [`hash_password`], so its
/// parameters are always those of real hashes.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        hash_password(&hex::encode(random)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horse ", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn the_dummy_hash_has_the_parameters_of_real_hashes() {
        let real = hash_password("x").unwrap();
        let params = |phc: &str| {
            let h = PasswordHash::new(phc).expect("a PHC string");
            (h.algorithm.to_string(), h.version, h.params.to_string())
        };
        assert_eq!(params(dummy_hash()), params(&real));
    }

    #[tokio::test]
    async fn an_unknown_badge_never_matches() {
        let h = hash_password("pw").unwrap();
        assert!(password_matches("pw".into(), Some(h)).await);
        assert!(!password_matches("pw".into(), None).await);
    }
}
