//! Sealing of single stored values with a data key: a workspace's configuration, which holds
//! webhook secrets.
//!
//! The associated data names the value's owner (the Durable Object's name) and a label the
//! caller chooses (e.g. `config/v3`), so a sealed value does not open under another owner or
//! label: an old version cannot be passed off as the current one by copying rows.

use std::fmt;

use aes_gcm::Aes256Gcm;

use super::aead::{self, EntropyError, OpenFailure};
use super::data_key::DataKey;

const VALUE_DOMAIN: &str = "edgedesk/value/v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(
        "stored value {label:?} does not decrypt: it was altered, moved from another row or object, or sealed with another data key"
    )]
    Unauthentic { label: String },
    #[error("stored value {label:?} has format version {version}; this build reads version 1")]
    UnknownVersion { label: String, version: u8 },
    #[error("stored value {label:?} is {len} bytes, too short to be a sealed value")]
    TooShort { label: String, len: usize },
}

/// Seals and opens one owner's values.
#[derive(Clone)]
pub struct ValueCipher {
    aes: Aes256Gcm,
    owner: String,
}

impl ValueCipher {
    pub fn new(key: &DataKey, owner: &str) -> Self {
        Self { aes: aead::cipher(key.bytes()), owner: owner.to_owned() }
    }

    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, EntropyError> {
        aead::seal(&self.aes, &self.aad(label), plaintext)
    }

    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, ValueError> {
        let label_owned = || label.to_owned();
        aead::open(&self.aes, &self.aad(label), sealed).map_err(|f| match f {
            OpenFailure::TooShort { len } => ValueError::TooShort { label: label_owned(), len },
            OpenFailure::Version(version) => {
                ValueError::UnknownVersion { label: label_owned(), version }
            }
            OpenFailure::Unauthentic => ValueError::Unauthentic { label: label_owned() },
        })
    }

    fn aad(&self, label: &str) -> Vec<u8> {
        aead::aad(VALUE_DOMAIN, &[self.owner.as_bytes(), label.as_bytes()])
    }
}

impl fmt::Debug for ValueCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValueCipher({:?}, <key redacted>)", self.owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_for_its_owner_and_label() {
        let key = DataKey::generate().unwrap();
        let c = ValueCipher::new(&key, "acme");
        let sealed = c.seal("config/v2", b"{\"secret\":\"s3cr3t-s3cr3t-s3cr3t\"}").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(c.open("config/v2", &sealed).unwrap(), b"{\"secret\":\"s3cr3t-s3cr3t-s3cr3t\"}");
        let unauthentic = |c: &ValueCipher, label: &str| {
            assert_eq!(
                c.open(label, &sealed),
                Err(ValueError::Unauthentic { label: label.into() }),
                "{label}"
            )
        };
        unauthentic(&c, "config/v1");
        unauthentic(&ValueCipher::new(&key, "other"), "config/v2");
        unauthentic(&ValueCipher::new(&DataKey::generate().unwrap(), "acme"), "config/v2");
        assert!(matches!(c.open("config/v2", &sealed[..5]), Err(ValueError::TooShort { .. })));
    }
}
