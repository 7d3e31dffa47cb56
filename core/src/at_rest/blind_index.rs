//! Blind index terms: searchable stand-ins for words that are never stored in plaintext.
//!
//! The inbox's full-text index holds, for every token of a message, a keyed hash of it
//! instead of the token. A query is hashed the same way, so equal tokens still match, but the
//! stored index reveals nothing readable without the key. What it still reveals is equality
//! and frequency (the same word gives the same term within one owner): the price of being
//! able to search at all. Terms of different owners, or under different data keys, differ,
//! so rows copied between inboxes are useless there.
//!
//! The key is derived from the owner's data key with its own domain string, so the index key
//! is never the sealing key itself, and erasing the data key also makes the index unreadable.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::aead;
use super::data_key::DataKey;

const BLIND_DOMAIN: &str = "edgedesk/blind-index/v1";
/// Bytes of the MAC kept per term: 128 bits, so distinct tokens do not collide in practice.
const TERM_BYTES: usize = 16;
/// HMAC-SHA256's block size: a key of at most this length is zero-padded to it.
const BLOCK: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Computes an owner's blind index terms.
#[derive(Clone)]
pub struct BlindIndex {
    /// Keyed with the derived index key; cloned per term.
    mac: HmacSha256,
}

impl BlindIndex {
    /// The index of `owner` (e.g. the inbox's name), keyed from its data key.
    pub fn new(key: &DataKey, owner: &str) -> Self {
        let mut derive = keyed(key.bytes());
        derive.update(&aead::aad(BLIND_DOMAIN, &[owner.as_bytes()]));
        let derived = Zeroizing::new(<[u8; 32]>::from(derive.finalize().into_bytes()));
        Self { mac: keyed(&derived) }
    }

    /// The stored term of `token`: lowercase hex of the first 16 bytes of its MAC (32 ASCII
    /// alphanumerics, one token for any FTS5 tokenizer).
    pub fn term(&self, token: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..TERM_BYTES])
    }
}

/// An HMAC-SHA256 keyed with 32 bytes, built without a fallible constructor: HMAC zero-pads
/// short keys to the block size, so the padded key is the same key.
fn keyed(key: &[u8; 32]) -> HmacSha256 {
    let mut padded = Zeroizing::new([0u8; BLOCK]);
    padded[..key.len()].copy_from_slice(key);
    <HmacSha256 as KeyInit>::new(&(*padded).into())
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndex(<key redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_stable_per_key_and_owner_and_differ_across_them() {
        let key = DataKey::generate().unwrap();
        let a = BlindIndex::new(&key, "ws-1/inbox");
        let term = a.term("退款");
        assert_eq!(term.len(), 32);
        assert!(term.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{term}");
        assert_eq!(BlindIndex::new(&key, "ws-1/inbox").term("退款"), term, "deterministic");
        assert_ne!(a.term("退"), term);
        assert_ne!(BlindIndex::new(&key, "ws-2/inbox").term("退款"), term, "other owner");
        let other_key = DataKey::generate().unwrap();
        assert_ne!(BlindIndex::new(&other_key, "ws-1/inbox").term("退款"), term, "other key");
    }

    #[test]
    fn the_padded_key_is_the_standard_hmac_key() {
        let key = [7u8; 32];
        let mut standard = HmacSha256::new_from_slice(&key).unwrap();
        standard.update(b"refund");
        let mut padded = keyed(&key);
        padded.update(b"refund");
        assert_eq!(padded.finalize().into_bytes(), standard.finalize().into_bytes());
    }

    #[test]
    fn debug_output_redacts_the_key() {
        let index = BlindIndex::new(&DataKey::generate().unwrap(), "ws");
        assert_eq!(format!("{index:?}"), "BlindIndex(<key redacted>)");
    }
}
