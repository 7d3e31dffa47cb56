//! Per-conversation data keys, wrapped by a master key.
//!
//! Each conversation's chunks are sealed with its own random 32-byte data key. Storage holds
//! that key only wrapped (sealed with a master key, associated data binding the conversation
//! name and the master key id) next to the master key's id. That gives:
//! - rotation without touching history: a data key wrapped with an older master key is
//!   unwrapped with it and rewrapped with the current one; chunks stay as they are;
//! - crypto-shredding: replacing the record by an [`KeyRecord::Erased`] tombstone destroys the
//!   only copy of the data key, so every chunk sealed with it is unreadable for good, wherever
//!   copies of the chunks may linger;
//! - storage moved to another conversation does not open: the name is in the associated data.

use std::fmt;

use zeroize::Zeroizing;

use super::aead::{self, EntropyError};
use super::master_keys::{MasterKeys, KEY_BYTES, MASTER_KEYS_VAR};

const WRAP_DOMAIN: &str = "edgedesk/data-key/v1";

/// A conversation's data key. Wiped on drop, never printed.
pub struct DataKey {
    key: Zeroizing<[u8; KEY_BYTES]>,
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, EntropyError> {
        Ok(Self { key: Zeroizing::new(aead::random()?) })
    }

    /// A key unwrapped from storage (a segment's, sealed with its conversation's key).
    pub(crate) fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self { key: Zeroizing::new(bytes) }
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.key
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// What storage keeps about a conversation's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRecord {
    /// The data key, sealed with master key `kid`.
    Live { conversation: String, kid: String, wrapped: Vec<u8> },
    /// The conversation was erased: the data key is gone and the name stays taken, so no new
    /// conversation silently starts under it.
    Erased { conversation: String, at_ms: i64 },
}

impl KeyRecord {
    pub fn conversation(&self) -> &str {
        match self {
            KeyRecord::Live { conversation, .. } | KeyRecord::Erased { conversation, .. } => {
                conversation
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "this conversation was erased (at {at_ms} ms since the epoch); its history is unreadable and its name cannot be reused"
    )]
    Erased { at_ms: i64 },
    #[error(
        "the conversation's data key is wrapped with master key {kid:?}, which is not in {MASTER_KEYS_VAR} (configured: {configured}); add that key back"
    )]
    MissingMasterKey { kid: String, configured: String },
    #[error(
        "the conversation's data key does not unwrap with master key {kid:?}: that key id now names a different key, or the stored key was altered"
    )]
    Unwrap { kid: String },
    #[error("this storage belongs to conversation {stored:?}, not {expected:?}")]
    WrongConversation { stored: String, expected: String },
    #[error("the conversation has no data key yet and was opened without its name")]
    NoName,
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// An opened data key, and the record to store before sealing anything with it (a new key,
/// or one rewrapped with the current master key).
#[derive(Debug)]
pub struct OpenedKey {
    pub key: DataKey,
    /// The conversation the key belongs to: the associated data of its chunks.
    pub conversation: String,
    pub to_store: Option<KeyRecord>,
}

/// Opens the conversation's data key from its stored record, making one if there is none.
///
/// `expected` is the conversation's name when the caller knows it (a request for it); the
/// stored record must then be that conversation's. Without it, the stored name is used.
pub fn open_data_key(
    stored: Option<&KeyRecord>,
    keys: &MasterKeys,
    expected: Option<&str>,
) -> Result<OpenedKey, KeyError> {
    if let (Some(record), Some(expected)) = (stored, expected) {
        if record.conversation() != expected {
            return Err(KeyError::WrongConversation {
                stored: record.conversation().to_owned(),
                expected: expected.to_owned(),
            });
        }
    }
    match stored {
        None => {
            let conversation = expected.ok_or(KeyError::NoName)?.to_owned();
            let key = DataKey::generate()?;
            let record = wrap(&key, keys, &conversation)?;
            Ok(OpenedKey { key, conversation, to_store: Some(record) })
        }
        Some(KeyRecord::Erased { at_ms, .. }) => Err(KeyError::Erased { at_ms: *at_ms }),
        Some(KeyRecord::Live { conversation, kid, wrapped }) => {
            let master = keys.get(kid).ok_or_else(|| KeyError::MissingMasterKey {
                kid: kid.clone(),
                configured: keys.kids().join(", "),
            })?;
            let plain = Zeroizing::new(
                aead::open(&aead::cipher(master.bytes()), &wrap_aad(conversation, kid), wrapped)
                    .map_err(|_| KeyError::Unwrap { kid: kid.clone() })?,
            );
            let bytes: [u8; KEY_BYTES] =
                plain.as_slice().try_into().map_err(|_| KeyError::Unwrap { kid: kid.clone() })?;
            let key = DataKey { key: Zeroizing::new(bytes) };
            let to_store = if kid == keys.current().kid() {
                None
            } else {
                Some(wrap(&key, keys, conversation)?)
            };
            Ok(OpenedKey { key, conversation: conversation.clone(), to_store })
        }
    }
}

/// The tombstone that replaces a conversation's key record on erasure. Erasing twice keeps
/// the first erasure's time.
pub fn erase(stored: Option<&KeyRecord>, conversation: &str, now_ms: i64) -> KeyRecord {
    match stored {
        Some(KeyRecord::Erased { at_ms, .. }) => {
            KeyRecord::Erased { conversation: conversation.to_owned(), at_ms: *at_ms }
        }
        _ => KeyRecord::Erased { conversation: conversation.to_owned(), at_ms: now_ms },
    }
}

fn wrap(key: &DataKey, keys: &MasterKeys, conversation: &str) -> Result<KeyRecord, KeyError> {
    let master = keys.current();
    let wrapped = aead::seal(
        &aead::cipher(master.bytes()),
        &wrap_aad(conversation, master.kid()),
        key.bytes(),
    )?;
    Ok(KeyRecord::Live {
        conversation: conversation.to_owned(),
        kid: master.kid().to_owned(),
        wrapped,
    })
}

fn wrap_aad(conversation: &str, kid: &str) -> Vec<u8> {
    aead::aad(WRAP_DOMAIN, &[conversation.as_bytes(), kid.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at_rest::master_keys::MasterKey;

    fn keys(list: &[(&str, u8)]) -> MasterKeys {
        MasterKeys::from_keys(
            list.iter().map(|(k, b)| MasterKey::new(k, [*b; 32]).unwrap()).collect(),
        )
        .unwrap()
    }

    fn live(record: &KeyRecord) -> (&str, &[u8]) {
        match record {
            KeyRecord::Live { kid, wrapped, .. } => (kid, wrapped),
            other => panic!("expected a live record, got {other:?}"),
        }
    }

    #[test]
    fn a_new_conversation_gets_a_fresh_key_wrapped_with_the_current_master_key() {
        let ks = keys(&[("k2", 2), ("k1", 1)]);
        let a = open_data_key(None, &ks, Some("ws/a")).unwrap();
        let record = a.to_store.unwrap();
        assert_eq!(live(&record).0, "k2");
        assert!(!live(&record).1.windows(32).any(|w| w == a.key.bytes()), "stored in clear");
        let again = open_data_key(Some(&record), &ks, Some("ws/a")).unwrap();
        assert_eq!(again.key.bytes(), a.key.bytes());
        assert!(again.to_store.is_none(), "already under the current key");
        let b = open_data_key(None, &ks, Some("ws/a")).unwrap();
        assert_ne!(b.key.bytes(), a.key.bytes());
    }

    #[test]
    fn rotation_rewraps_with_the_current_key_and_the_old_key_can_then_go() {
        let old = keys(&[("k1", 1)]);
        let first = open_data_key(None, &old, Some("c")).unwrap();
        let stored = first.to_store.unwrap();

        let rotated = keys(&[("k2", 2), ("k1", 1)]);
        let opened = open_data_key(Some(&stored), &rotated, None).unwrap();
        assert_eq!(opened.key.bytes(), first.key.bytes(), "same data key: history untouched");
        assert_eq!(opened.conversation, "c");
        let rewrapped = opened.to_store.unwrap();
        assert_eq!(live(&rewrapped).0, "k2");

        let only_new = keys(&[("k2", 2)]);
        let later = open_data_key(Some(&rewrapped), &only_new, Some("c")).unwrap();
        assert_eq!(later.key.bytes(), first.key.bytes());
        assert!(later.to_store.is_none());
        // The record not yet rewrapped needs the old key, and says which one.
        let e = open_data_key(Some(&stored), &only_new, Some("c")).unwrap_err();
        assert_eq!(e, KeyError::MissingMasterKey { kid: "k1".into(), configured: "k2".into() });
    }

    #[test]
    fn a_wrapped_key_opens_only_for_its_conversation_kid_and_bytes() {
        let ks = keys(&[("k1", 1)]);
        let stored = open_data_key(None, &ks, Some("c")).unwrap().to_store.unwrap();
        let e = open_data_key(Some(&stored), &ks, Some("d")).unwrap_err();
        assert!(matches!(e, KeyError::WrongConversation { .. }), "{e}");
        // Renaming the record does not help: the name is authenticated.
        let (kid, wrapped) = live(&stored);
        let renamed =
            KeyRecord::Live { conversation: "d".into(), kid: kid.into(), wrapped: wrapped.into() };
        let e = open_data_key(Some(&renamed), &ks, Some("d")).unwrap_err();
        assert_eq!(e, KeyError::Unwrap { kid: "k1".into() });
        // A different key under the same id.
        let e = open_data_key(Some(&stored), &keys(&[("k1", 9)]), None).unwrap_err();
        assert_eq!(e, KeyError::Unwrap { kid: "k1".into() });
        let mut tampered = wrapped.to_vec();
        tampered[20] ^= 1;
        let tampered =
            KeyRecord::Live { conversation: "c".into(), kid: kid.into(), wrapped: tampered };
        assert!(matches!(open_data_key(Some(&tampered), &ks, None), Err(KeyError::Unwrap { .. })));
        assert_eq!(open_data_key(None, &ks, None).unwrap_err(), KeyError::NoName);
    }

    #[test]
    fn an_erased_conversation_never_opens_again_and_keeps_its_first_erasure_time() {
        let ks = keys(&[("k1", 1)]);
        let stored = open_data_key(None, &ks, Some("c")).unwrap().to_store.unwrap();
        let tomb = erase(Some(&stored), "c", 100);
        assert_eq!(tomb, KeyRecord::Erased { conversation: "c".into(), at_ms: 100 });
        assert_eq!(
            open_data_key(Some(&tomb), &ks, Some("c")).unwrap_err(),
            KeyError::Erased { at_ms: 100 }
        );
        assert_eq!(
            open_data_key(Some(&tomb), &ks, None).unwrap_err(),
            KeyError::Erased { at_ms: 100 }
        );
        assert_eq!(erase(Some(&tomb), "c", 200), tomb);
        assert_eq!(
            erase(None, "never-used", 5),
            KeyRecord::Erased { conversation: "never-used".into(), at_ms: 5 }
        );
    }
}
