//! The one sealed format every encrypted value uses: `[version][nonce][ciphertext + tag]`.
//!
//! AES-256-GCM with a fresh random 96-bit nonce per value. A random nonce is safe for far
//! more values than one key ever seals here (NIST's bound for random nonces is 2^32 per
//! key; a conversation writes one chunk per accepted change set).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

/// Format version of sealed values; readers refuse any other.
pub const VERSION: u8 = 1;
pub const NONCE_BYTES: usize = 12;
pub const TAG_BYTES: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_BYTES + TAG_BYTES;

/// The platform gave no randomness, so no nonce could be drawn. Nothing was sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no randomness available for a nonce or key: {0}")]
pub struct EntropyError(pub String);

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    TooShort {
        len: usize,
    },
    Version(u8),
    /// Wrong key, wrong associated data, or altered bytes: GCM cannot tell which.
    Unauthentic,
}

pub fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

pub fn random<const N: usize>() -> Result<[u8; N], EntropyError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| EntropyError(e.to_string()))?;
    Ok(b)
}

pub fn seal(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, EntropyError> {
    let nonce: [u8; NONCE_BYTES] = random()?;
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let body = &mut out[1 + NONCE_BYTES..];
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), aad, body.into())
        // Only possible for inputs over 64 GiB, far beyond a row or a key.
        .map_err(|_| EntropyError("plaintext too long for AES-GCM".into()))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

pub fn open(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenFailure> {
    if sealed.len() < OVERHEAD {
        return Err(OpenFailure::TooShort { len: sealed.len() });
    }
    if sealed[0] != VERSION {
        return Err(OpenFailure::Version(sealed[0]));
    }
    let (nonce, rest) = sealed[1..].split_at(NONCE_BYTES);
    let (body, tag) = rest.split_at(rest.len() - TAG_BYTES);
    let nonce = Nonce::try_from(nonce).map_err(|_| OpenFailure::TooShort { len: sealed.len() })?;
    let tag = Tag::try_from(tag).map_err(|_| OpenFailure::TooShort { len: sealed.len() })?;
    let mut plain = body.to_vec();
    cipher
        .decrypt_inout_detached(&nonce, aad, plain.as_mut_slice().into(), &tag)
        .map_err(|_| OpenFailure::Unauthentic)?;
    Ok(plain)
}

/// Associated data from a domain string and fields, each length-prefixed so no two
/// different field lists give the same bytes.
pub fn aad(domain: &str, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for f in std::iter::once(domain.as_bytes()).chain(fields.iter().copied()) {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_associated_data() {
        let c = cipher(&[7; 32]);
        let sealed = seal(&c, b"aad", b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + OVERHEAD);
        assert_eq!(open(&c, b"aad", &sealed).unwrap(), b"hello");
        assert_eq!(open(&c, b"aaD", &sealed), Err(OpenFailure::Unauthentic));
        assert_eq!(open(&cipher(&[8; 32]), b"aad", &sealed), Err(OpenFailure::Unauthentic));
        let mut bad = sealed.clone();
        bad[0] = 2;
        assert_eq!(open(&c, b"aad", &bad), Err(OpenFailure::Version(2)));
        assert_eq!(open(&c, b"aad", &sealed[..10]), Err(OpenFailure::TooShort { len: 10 }));
    }

    #[test]
    fn each_seal_draws_a_fresh_nonce() {
        let c = cipher(&[7; 32]);
        let a = seal(&c, b"", b"same").unwrap();
        let b = seal(&c, b"", b"same").unwrap();
        assert_ne!(a[1..1 + NONCE_BYTES], b[1..1 + NONCE_BYTES]);
        assert_ne!(a, b);
    }

    #[test]
    fn associated_data_fields_cannot_be_shifted_into_each_other() {
        assert_ne!(aad("d", &[b"ab", b"c"]), aad("d", &[b"a", b"bc"]));
        assert_ne!(aad("d", &[b"x"]), aad("dx", &[]));
    }
}
