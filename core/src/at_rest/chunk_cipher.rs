//! Sealing of stored chunks with a conversation's data key.
//!
//! The associated data names the chunk's place: conversation, document, row sequence number,
//! kind, and for snapshot rows how many rows the snapshot has. A chunk copied, moved or
//! renumbered to any other place (another row, document or conversation), or a snapshot
//! missing one of its rows, fails to open.

use std::fmt;

use aes_gcm::Aes256Gcm;

use super::aead::{self, EntropyError, OpenFailure};
use super::data_key::DataKey;
use crate::store::{ChunkKind, DocLabel};

const CHUNK_DOMAIN: &str = "edgedesk/chunk/v1";
/// Small named values a conversation keeps beside its documents (the visitor's claims, the
/// webhook outbox's bodies): another domain, so no record opens as a chunk or the reverse.
const RECORD_DOMAIN: &str = "edgedesk/record/v1";

/// Where a chunk is stored: what its associated data binds it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlace {
    pub doc: DocLabel,
    /// The row's sequence number within its document (assigned by the encrypting store).
    pub seq: u64,
    pub kind: ChunkKind,
    /// For a snapshot row, the number of rows of its snapshot; 0 for an increment.
    pub snapshot_rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error(
        "{doc} chunk {seq} does not decrypt: it was altered, moved from another row, document or conversation, or sealed with another data key"
    )]
    Unauthentic { doc: DocLabel, seq: u64 },
    #[error("{doc} chunk {seq} has format version {version}; this build reads version 1")]
    UnknownVersion { doc: DocLabel, seq: u64, version: u8 },
    #[error("{doc} chunk {seq} is {len} bytes, too short to be a sealed chunk")]
    TooShort { doc: DocLabel, seq: u64, len: usize },
    #[error(
        "{doc} chunk rows are not contiguous: row {found} follows row {previous} (rows were removed or added)"
    )]
    Gap { doc: DocLabel, previous: u64, found: u64 },
    #[error("{doc} chunk {seq} is a snapshot row after an increment")]
    SnapshotAfterIncrement { doc: DocLabel, seq: u64 },
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// Seals and opens one conversation's chunks.
#[derive(Clone)]
pub struct ChunkCipher {
    aes: Aes256Gcm,
    conversation: String,
}

impl ChunkCipher {
    pub fn new(key: &DataKey, conversation: &str) -> Self {
        Self { aes: aead::cipher(key.bytes()), conversation: conversation.to_owned() }
    }

    pub fn conversation(&self) -> &str {
        &self.conversation
    }

    pub fn seal(&self, at: ChunkPlace, plaintext: &[u8]) -> Result<Vec<u8>, EntropyError> {
        aead::seal(&self.aes, &self.aad(at), plaintext)
    }

    pub fn open(&self, at: ChunkPlace, sealed: &[u8]) -> Result<Vec<u8>, ChunkError> {
        let (doc, seq) = (at.doc, at.seq);
        aead::open(&self.aes, &self.aad(at), sealed).map_err(|f| match f {
            OpenFailure::TooShort { len } => ChunkError::TooShort { doc, seq, len },
            OpenFailure::Version(version) => ChunkError::UnknownVersion { doc, seq, version },
            OpenFailure::Unauthentic => ChunkError::Unauthentic { doc, seq },
        })
    }

    /// Seals a named record; `name` is bound, so a record opens only under its own name.
    pub fn seal_record(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, EntropyError> {
        aead::seal(&self.aes, &self.record_aad(name), plaintext)
    }

    /// Opens a record sealed under `name`; `None` if it was altered, moved or sealed with
    /// another key.
    pub fn open_record(&self, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        aead::open(&self.aes, &self.record_aad(name), sealed).ok()
    }

    fn record_aad(&self, name: &str) -> Vec<u8> {
        aead::aad(RECORD_DOMAIN, &[self.conversation.as_bytes(), name.as_bytes()])
    }

    fn aad(&self, at: ChunkPlace) -> Vec<u8> {
        aead::aad(
            CHUNK_DOMAIN,
            &[
                self.conversation.as_bytes(),
                at.doc.as_str().as_bytes(),
                &at.seq.to_be_bytes(),
                at.kind.as_str().as_bytes(),
                &at.snapshot_rows.to_be_bytes(),
            ],
        )
    }
}

impl fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkCipher({:?}, <key redacted>)", self.conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(doc: DocLabel, seq: u64) -> ChunkPlace {
        ChunkPlace { doc, seq, kind: ChunkKind::Increment, snapshot_rows: 0 }
    }

    #[test]
    fn a_chunk_opens_only_at_the_place_it_was_sealed_for() {
        let key = DataKey::generate().unwrap();
        let c = ChunkCipher::new(&key, "ws/conv");
        let at = place(DocLabel::Shared, 7);
        let sealed = c.seal(at, b"hello automerge").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"hello"));
        assert_eq!(c.open(at, &sealed).unwrap(), b"hello automerge");

        let unauthentic = |c: &ChunkCipher, at: ChunkPlace| {
            assert_eq!(
                c.open(at, &sealed),
                Err(ChunkError::Unauthentic { doc: at.doc, seq: at.seq }),
                "{at:?}"
            )
        };
        unauthentic(&c, place(DocLabel::Shared, 8));
        unauthentic(&c, place(DocLabel::Internal, 7));
        unauthentic(&c, ChunkPlace { kind: ChunkKind::Snapshot, snapshot_rows: 1, ..at });
        unauthentic(&ChunkCipher::new(&key, "ws/other"), at);
        unauthentic(&ChunkCipher::new(&DataKey::generate().unwrap(), "ws/conv"), at);
    }

    #[test]
    fn a_snapshot_row_is_bound_to_its_snapshot_row_count() {
        let c = ChunkCipher::new(&DataKey::generate().unwrap(), "c");
        let at = ChunkPlace {
            doc: DocLabel::Shared,
            seq: 3,
            kind: ChunkKind::Snapshot,
            snapshot_rows: 2,
        };
        let sealed = c.seal(at, b"part").unwrap();
        assert!(c.open(at, &sealed).is_ok());
        assert!(c.open(ChunkPlace { snapshot_rows: 1, ..at }, &sealed).is_err());
    }

    #[test]
    fn a_record_opens_only_under_its_name_and_never_as_a_chunk() {
        let key = DataKey::generate().unwrap();
        let c = ChunkCipher::new(&key, "ws/conv");
        let sealed = c.seal_record("visitor", b"{\"vip\":true}").unwrap();
        assert_eq!(c.open_record("visitor", &sealed).unwrap(), b"{\"vip\":true}");
        assert!(c.open_record("config", &sealed).is_none());
        assert!(ChunkCipher::new(&key, "ws/other").open_record("visitor", &sealed).is_none());
        assert!(c.open(place(DocLabel::Shared, 1), &sealed).is_err());
    }

    #[test]
    fn every_tampered_byte_is_detected() {
        let c = ChunkCipher::new(&DataKey::generate().unwrap(), "c");
        let at = place(DocLabel::Shared, 1);
        let sealed = c.seal(at, b"some chunk bytes").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x40;
            assert!(c.open(at, &t).is_err(), "flipped byte {i} went unnoticed");
        }
        let e = c.open(at, &sealed[..sealed.len() - 1]).unwrap_err();
        assert_eq!(e, ChunkError::Unauthentic { doc: DocLabel::Shared, seq: 1 });
    }
}
