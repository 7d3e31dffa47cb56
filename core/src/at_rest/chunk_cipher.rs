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

/// A sealed record (see [`ChunkCipher::seal_record`]) that did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sealed {purpose} record does not open: {reason}")]
pub struct RecordError {
    pub purpose: String,
    pub reason: &'static str,
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

    /// Seals a value that is not a document chunk (e.g. a queued webhook body, which holds
    /// message text) with the same data key, bound to this conversation, `purpose` and the
    /// record's identity `id`, so it opens only for that same record and is shredded with
    /// the conversation.
    pub fn seal_record(
        &self,
        purpose: &str,
        id: &[&[u8]],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EntropyError> {
        aead::seal(&self.aes, &self.record_aad(purpose, id), plaintext)
    }

    pub fn open_record(
        &self,
        purpose: &str,
        id: &[&[u8]],
        sealed: &[u8],
    ) -> Result<Vec<u8>, RecordError> {
        aead::open(&self.aes, &self.record_aad(purpose, id), sealed).map_err(|f| RecordError {
            purpose: purpose.to_owned(),
            reason: match f {
                OpenFailure::TooShort { .. } => "too short to be sealed",
                OpenFailure::Version(_) => "unknown format version",
                OpenFailure::Unauthentic => {
                    "altered, moved from another record or conversation, or sealed with another data key"
                }
            },
        })
    }

    fn record_aad(&self, purpose: &str, id: &[&[u8]]) -> Vec<u8> {
        let head = [self.conversation.as_bytes(), purpose.as_bytes()];
        let fields: Vec<&[u8]> = head.iter().copied().chain(id.iter().copied()).collect();
        aead::aad(RECORD_DOMAIN, &fields)
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
    fn a_record_opens_only_for_its_purpose_identity_and_conversation() {
        let key = DataKey::generate().unwrap();
        let c = ChunkCipher::new(&key, "ws/conv");
        let id: &[&[u8]] = &[b"evt-1", b"crm"];
        let sealed = c.seal_record("webhook", id, b"refund please").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"refund"));
        assert_eq!(c.open_record("webhook", id, &sealed).unwrap(), b"refund please");
        assert!(c.open_record("webhook", &[b"evt-1", b"other"], &sealed).is_err());
        assert!(c.open_record("webhook", &[b"evt-1crm"], &sealed).is_err());
        assert!(c.open_record("other", id, &sealed).is_err());
        assert!(ChunkCipher::new(&key, "ws/other").open_record("webhook", id, &sealed).is_err());
        // Nor does it pass for a document chunk, or a chunk for it.
        let at = place(DocLabel::Shared, 1);
        assert!(c.open(at, &sealed).is_err());
        let chunk = c.seal(at, b"x").unwrap();
        assert!(c.open_record("webhook", id, &chunk).is_err());
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
