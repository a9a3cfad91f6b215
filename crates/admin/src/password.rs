//! Passwords: argon2id hashes only (PHC strings), checked off the async runtime by callers.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};

/// Shortest password accepted for a new user (as `bidsieve user add`).
pub(crate) const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (hashing cost does not depend on it much, but bodies should stay small).
pub(crate) const MAX_PASSWORD_LEN: usize = 1024;

/// Hashes `password` with argon2id and the crate's default (OWASP-recommended) parameters.
///
/// # Errors
/// The hasher failed (not expected with the default parameters).
pub(crate) fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// True when `password` matches the argon2id PHC string `hash`. Anything that is not an
/// argon2id hash never matches.
pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash of a random password, checked when the email is unknown so that a wrong email costs
/// the same time as a wrong password.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        let text: String = random.iter().map(|b| format!("{b:02x}")).collect();
        hash_password(&text).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert!(!verify_password("", ""));
    }

    #[test]
    fn other_argon2_variants_are_refused() {
        let salt = SaltString::generate(&mut OsRng);
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            argon2::Version::V0x13,
            argon2::Params::default(),
        )
        .hash_password(b"pw-pw-pw-pw", &salt)
        .unwrap()
        .to_string();
        assert!(argon2i.starts_with("$argon2i$"));
        assert!(!verify_password(&argon2i, "pw-pw-pw-pw"));
    }

    #[test]
    fn the_decoy_matches_nothing_simple() {
        let decoy = decoy_hash();
        assert!(decoy.starts_with("$argon2id$"));
        assert!(!verify_password(decoy, ""));
        assert!(!verify_password(decoy, "password"));
    }
}
