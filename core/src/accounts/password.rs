//! Passwords: argon2id (RFC 9106) with OWASP's first recommended setting (19 MiB, two
//! passes, one lane), stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) so
//! stronger parameters can come later and old hashes still verify.
//!
//! A hash costs some tens of milliseconds of CPU by design; the sign-in path bounds how often
//! it runs ([`super::lockout`]).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password, in characters (NIST SP 800-63B asks at least 8; we ask a little more
/// and nothing about character classes).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password, in bytes: bounds the hashing input.
pub const MAX_PASSWORD_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password has at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password has at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("the platform's random source failed; try again")]
    Random,
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // 19 MiB, t = 2, p = 1: the parameters are constants that `Params::new` accepts.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string for `password` with a fresh 16-byte salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_policy(password)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| PasswordError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string. A stored string that does not parse
/// matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Spends what [`verify`] spends, for an email no account has: the answer's timing must
/// not tell which addresses have accounts.
pub fn burn(password: &str) {
    let salt = SaltString::from_b64("ZWRnZWRlc2stbm8tYWNjb3VudA").ok();
    if let Some(salt) = salt {
        let cut = &password.as_bytes()[..password.len().min(MAX_PASSWORD_BYTES)];
        let _ = argon2().hash_password(cut, &salt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_names_argon2id() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("correct horse battery", "not a phc string"));
        // Salted: the same password hashes differently twice.
        assert_ne!(hash("correct horse battery").unwrap(), phc);
        burn("anything at all");
    }

    #[test]
    fn the_policy_counts_characters_not_bytes() {
        assert_eq!(check_policy("short"), Err(PasswordError::TooShort));
        assert_eq!(check_policy("密码密码密码密码密"), Err(PasswordError::TooShort));
        assert!(check_policy("密码密码密码密码密码").is_ok());
        assert_eq!(check_policy(&"x".repeat(257)), Err(PasswordError::TooLong));
        assert!(!verify(&"x".repeat(257), "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"));
    }
}
