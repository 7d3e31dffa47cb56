//! The signing keys, from `EDGEDESK_JWT_KEYS`: `kid:base64url-secret,kid:base64url-secret,…`.
//!
//! The first key signs what the relay mints (widget visitor tokens); every key verifies.
//! Rotating is therefore: put a new key first and keep the old one after it until the tokens
//! it signed have expired, then drop it. The token header's `kid` picks the key, so an
//! unknown or retired key id is refused without trying the others.

use std::fmt;

use base64::engine::general_purpose::{URL_SAFE_NO_PAD, URL_SAFE_NO_PAD_INDIFFERENT};
use base64::Engine;

/// Shortest secret accepted: RFC 7518 §3.2 requires an HS256 key of at least the hash's
/// 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest key id, in bytes.
pub const MAX_KID_LEN: usize = 64;

/// Why `EDGEDESK_JWT_KEYS` could not be used. No variant carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("EDGEDESK_JWT_KEYS is empty; set it to `kid:base64url-secret[,kid:secret…]`")]
    Empty,
    #[error("EDGEDESK_JWT_KEYS entry {index} is not `kid:base64url-secret`")]
    NotAPair { index: usize },
    #[error(
        "EDGEDESK_JWT_KEYS entry {index}: key id must be 1-{MAX_KID_LEN} of A-Z a-z 0-9 . _ -"
    )]
    BadKid { index: usize },
    #[error("EDGEDESK_JWT_KEYS key {kid:?}: the secret is not base64url")]
    BadSecret { kid: String },
    #[error(
        "EDGEDESK_JWT_KEYS key {kid:?}: the secret is {len} bytes; HS256 needs at least {MIN_SECRET_BYTES}"
    )]
    ShortSecret { kid: String, len: usize },
    #[error("EDGEDESK_JWT_KEYS names key {kid:?} twice")]
    DuplicateKid { kid: String },
}

/// One HMAC key and its id.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    kid: String,
    secret: Vec<u8>,
}

impl Key {
    /// A key from raw bytes (tests, tools); `Keyring::parse` is the usual way in.
    pub fn new(kid: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Key, KeyringError> {
        let kid = kid.into();
        if !valid_kid(&kid) {
            return Err(KeyringError::BadKid { index: 0 });
        }
        let secret = secret.into();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyringError::ShortSecret { kid, len: secret.len() });
        }
        Ok(Key { kid, secret })
    }

    /// A fresh random 256-bit key (tests and tools; panics only on a platform without an
    /// entropy source, like [`crate::ids::random_hex`]).
    pub fn random(kid: impl Into<String>) -> Result<Key, KeyringError> {
        let mut secret = vec![0u8; MIN_SECRET_BYTES];
        getrandom::fill(&mut secret).expect("the platform has no random number source");
        Key::new(kid, secret)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The key as one `EDGEDESK_JWT_KEYS` entry: `kid:base64url-secret`.
    pub fn to_entry(&self) -> String {
        format!("{}:{}", self.kid, URL_SAFE_NO_PAD.encode(&self.secret))
    }
}

/// Secrets stay out of logs and panic messages.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).field("secret", &"<redacted>").finish()
    }
}

/// The configured keys, in order: the first signs, all verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// Parses `kid:base64url-secret,…`. Whitespace around entries is ignored (a secret pasted
    /// into `wrangler secret put` often ends with a newline); padding on the secret is optional.
    pub fn parse(s: &str) -> Result<Keyring, KeyringError> {
        let mut keys = Vec::new();
        for (index, entry) in s.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let (kid, secret) = entry.split_once(':').ok_or(KeyringError::NotAPair { index })?;
            let (kid, secret) = (kid.trim(), secret.trim());
            if !valid_kid(kid) {
                return Err(KeyringError::BadKid { index });
            }
            let secret = URL_SAFE_NO_PAD_INDIFFERENT
                .decode(secret)
                .map_err(|_| KeyringError::BadSecret { kid: kid.to_owned() })?;
            let key = Key::new(kid, secret).map_err(|e| match e {
                KeyringError::BadKid { .. } => KeyringError::BadKid { index },
                other => other,
            })?;
            keys.push(key);
        }
        Keyring::new(keys)
    }

    pub fn new(keys: Vec<Key>) -> Result<Keyring, KeyringError> {
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|other| other.kid == k.kid) {
                return Err(KeyringError::DuplicateKid { kid: k.kid.clone() });
            }
        }
        Ok(Keyring { keys })
    }

    /// The key that signs: the first one.
    pub fn signing(&self) -> &Key {
        // `new` refuses an empty list.
        &self.keys[0]
    }

    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The whole keyring as an `EDGEDESK_JWT_KEYS` value.
    pub fn to_env(&self) -> String {
        self.keys.iter().map(Key::to_entry).collect::<Vec<_>>().join(",")
    }
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S32: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"; // bytes 0..32

    #[test]
    fn parses_several_keys_first_signs_all_verify() {
        let ring = Keyring::parse(&format!(" k2:{S32}=, k1:{S32}\n")).unwrap();
        assert_eq!(ring.signing().kid(), "k2");
        assert_eq!(ring.get("k1").unwrap().secret(), (0u8..32).collect::<Vec<_>>());
        assert!(ring.get("k3").is_none());
        assert_eq!(Keyring::parse(&ring.to_env()).unwrap(), ring);
    }

    #[test]
    fn refuses_unusable_keyrings_without_echoing_secrets() {
        assert_eq!(Keyring::parse(" , "), Err(KeyringError::Empty));
        assert_eq!(Keyring::parse("justasecret"), Err(KeyringError::NotAPair { index: 0 }));
        assert_eq!(
            Keyring::parse(&format!("k:{S32},b d:{S32}")),
            Err(KeyringError::BadKid { index: 1 })
        );
        assert!(matches!(Keyring::parse("k:not base64!"), Err(KeyringError::BadSecret { .. })));
        let short = Keyring::parse("k:c2hvcnQ").unwrap_err();
        assert_eq!(short, KeyringError::ShortSecret { kid: "k".into(), len: 5 });
        assert!(!short.to_string().contains("c2hvcnQ"));
        assert!(matches!(
            Keyring::parse(&format!("k:{S32},k:{S32}")),
            Err(KeyringError::DuplicateKid { .. })
        ));
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let key = Key::random("k").unwrap();
        let shown = format!("{:?}", Keyring::new(vec![key.clone()]).unwrap());
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&key.to_entry()[2..]));
    }
}
