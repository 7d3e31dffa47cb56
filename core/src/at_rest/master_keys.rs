//! Master keys, from the `EDGEDESK_MASTER_KEYS` secret.
//!
//! The value is a comma-separated list of `kid:base64-key` entries, each key 32 bytes (e.g.
//! `openssl rand -base64 32`). The first entry is the current key: new data keys are wrapped
//! with it, and data keys wrapped with any other listed key are rewrapped with it when their
//! conversation is next opened. Keeping an old entry after the current one is what lets a
//! rotation happen without re-encrypting any history.
//!
//! Errors name the entry and its key id but never echo key material, so they can be logged
//! and shown to an operator as they are.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use zeroize::Zeroizing;

/// The Worker variable (a secret in production) holding the master keys.
pub const MASTER_KEYS_VAR: &str = "EDGEDESK_MASTER_KEYS";
/// Longest key id, in bytes. Key ids are stored next to every wrapped data key.
pub const MAX_KID_LEN: usize = 32;
/// AES-256: every master key and data key is this long.
pub const KEY_BYTES: usize = 32;

/// Standard base64, padding optional (what `openssl rand -base64 32` prints, with or
/// without its `=`).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why `EDGEDESK_MASTER_KEYS` was refused. Entries are counted from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "{MASTER_KEYS_VAR} is not set or empty; set it to `kid:base64-32-byte-key` (e.g. `k1:` followed by the output of `openssl rand -base64 32`)"
    )]
    Empty,
    #[error("{MASTER_KEYS_VAR} entry {entry} is empty (a stray comma?)")]
    EmptyEntry { entry: usize },
    #[error("{MASTER_KEYS_VAR} entry {entry} has no `:`; write each entry as `kid:base64-key`")]
    MissingSeparator { entry: usize },
    #[error(
        "{MASTER_KEYS_VAR} entry {entry} has an invalid key id: 1 to {MAX_KID_LEN} characters of ASCII letters, digits, `.`, `_`, `-`"
    )]
    BadKid { entry: usize },
    #[error("{MASTER_KEYS_VAR} entry {entry} (key id {kid:?}) is not valid base64")]
    BadBase64 { entry: usize, kid: String },
    #[error(
        "{MASTER_KEYS_VAR} entry {entry} (key id {kid:?}) decodes to {len} bytes; AES-256 keys are {KEY_BYTES} bytes"
    )]
    WrongLength { entry: usize, kid: String, len: usize },
    #[error("{MASTER_KEYS_VAR} lists key id {kid:?} twice (entries {first} and {second})")]
    DuplicateKid { kid: String, first: usize, second: usize },
}

/// One master key. Its bytes are wiped on drop and never printed.
pub struct MasterKey {
    kid: String,
    key: Zeroizing<[u8; KEY_BYTES]>,
}

impl MasterKey {
    /// A key from raw bytes (tests and tools; the Worker parses the secret).
    pub fn new(kid: &str, key: [u8; KEY_BYTES]) -> Result<Self, MasterKeyError> {
        if !valid_kid(kid) {
            return Err(MasterKeyError::BadKid { entry: 1 });
        }
        Ok(Self { kid: kid.to_owned(), key: Zeroizing::new(key) })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.key
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({:?}, <redacted>)", self.kid)
    }
}

/// The configured master keys; never empty, the first is current.
#[derive(Debug)]
pub struct MasterKeys {
    keys: Vec<MasterKey>,
}

impl MasterKeys {
    /// Parses the `EDGEDESK_MASTER_KEYS` value. Whitespace around entries and parts is ignored.
    pub fn parse(value: &str) -> Result<Self, MasterKeyError> {
        if value.trim().is_empty() {
            return Err(MasterKeyError::Empty);
        }
        let mut keys: Vec<MasterKey> = Vec::new();
        for (i, raw) in value.split(',').enumerate() {
            let entry = i + 1;
            let raw = raw.trim();
            if raw.is_empty() {
                return Err(MasterKeyError::EmptyEntry { entry });
            }
            let (kid, b64) =
                raw.split_once(':').ok_or(MasterKeyError::MissingSeparator { entry })?;
            let (kid, b64) = (kid.trim(), b64.trim());
            if !valid_kid(kid) {
                return Err(MasterKeyError::BadKid { entry });
            }
            let kid = kid.to_owned();
            let decoded = Zeroizing::new(
                BASE64
                    .decode(b64)
                    .map_err(|_| MasterKeyError::BadBase64 { entry, kid: kid.clone() })?,
            );
            let key: [u8; KEY_BYTES] = decoded.as_slice().try_into().map_err(|_| {
                MasterKeyError::WrongLength { entry, kid: kid.clone(), len: decoded.len() }
            })?;
            if let Some(first) = keys.iter().position(|k| k.kid == kid) {
                return Err(MasterKeyError::DuplicateKid { kid, first: first + 1, second: entry });
            }
            keys.push(MasterKey { kid, key: Zeroizing::new(key) });
        }
        Ok(Self { keys })
    }

    /// Keys in order, the current one first.
    pub fn from_keys(keys: Vec<MasterKey>) -> Result<Self, MasterKeyError> {
        if keys.is_empty() {
            return Err(MasterKeyError::Empty);
        }
        Ok(Self { keys })
    }

    /// The key new data keys are wrapped with.
    pub fn current(&self) -> &MasterKey {
        // `parse` and `from_keys` refuse an empty list.
        &self.keys[0]
    }

    pub fn get(&self, kid: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The configured key ids, current first: safe to show.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA";

    #[test]
    fn the_first_key_is_current_and_all_are_found_by_kid() {
        let keys = MasterKeys::parse(&format!(" new : {K2} , old:{K1}")).unwrap();
        assert_eq!(keys.current().kid(), "new");
        assert_eq!(keys.kids(), ["new", "old"]);
        assert_eq!(keys.get("old").unwrap().bytes()[1], 1);
        assert_eq!(keys.get("new").unwrap().bytes()[0], 0x1f);
        assert!(keys.get("other").is_none());
    }

    #[test]
    fn bad_input_gets_a_typed_error_naming_the_entry() {
        let p = MasterKeys::parse;
        assert_eq!(p("").unwrap_err(), MasterKeyError::Empty);
        assert_eq!(p("  ").unwrap_err(), MasterKeyError::Empty);
        assert_eq!(p(&format!("a:{K1},")).unwrap_err(), MasterKeyError::EmptyEntry { entry: 2 });
        assert_eq!(p(K1).unwrap_err(), MasterKeyError::MissingSeparator { entry: 1 });
        assert_eq!(p(&format!("a b:{K1}")).unwrap_err(), MasterKeyError::BadKid { entry: 1 });
        assert_eq!(p(&format!(":{K1}")).unwrap_err(), MasterKeyError::BadKid { entry: 1 });
        assert_eq!(
            p("a:not*base64").unwrap_err(),
            MasterKeyError::BadBase64 { entry: 1, kid: "a".into() }
        );
        assert_eq!(
            p("a:AAECAwQF").unwrap_err(),
            MasterKeyError::WrongLength { entry: 1, kid: "a".into(), len: 6 }
        );
        assert_eq!(
            p(&format!("a:{K1},b:{K2},a:{K2}")).unwrap_err(),
            MasterKeyError::DuplicateKid { kid: "a".into(), first: 1, second: 3 }
        );
    }

    #[test]
    fn errors_and_debug_output_never_contain_key_material() {
        // A 31-byte key: its base64 must not appear in the error.
        let short = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg";
        let e = MasterKeys::parse(&format!("k:{short}")).unwrap_err().to_string();
        assert!(e.contains("\"k\"") && e.contains("31 bytes"), "{e}");
        assert!(!e.contains(short), "{e}");
        let keys = MasterKeys::parse(&format!("k1:{K1}")).unwrap();
        let shown = format!("{keys:?}");
        assert!(shown.contains("k1") && shown.contains("redacted"), "{shown}");
        assert!(!shown.contains(K1) && !shown.contains("[0, 1, 2"), "{shown}");
    }
}
