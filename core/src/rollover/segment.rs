//! Sealing an archive segment: its own random key, wrapped by the conversation's data key.
//!
//! A segment's key exists only wrapped, next to the segment, so deleting that one record
//! crypto-shreds the segment alone (retention), and erasing the conversation (its data key)
//! shreds every segment with it. Rows are bound to the conversation, the epoch, their index
//! and the number of rows, so no row opens in another place or with one missing.

use crate::at_rest::{ChunkCipher, DataKey, EntropyError, ValueCipher, ValueError};
use crate::limits::MAX_ROW_BYTES;

const KEY_PURPOSE: &str = "segment-key";

/// A sealed segment as stored: the wrapped key and the rows of the sealed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSegment {
    pub wrapped_key: Vec<u8>,
    pub rows: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("segment {epoch}'s key does not open with the conversation's key: {reason}")]
    Key { epoch: u64, reason: String },
    #[error("segment {epoch}: {0}", epoch = .1)]
    Row(#[source] ValueError, u64),
    #[error("segment {epoch} has no rows")]
    Empty { epoch: u64 },
}

/// Seals `snapshot` (the sealed document's save) as segment `epoch` under a fresh key.
pub fn seal(
    conversation: &ChunkCipher,
    epoch: u64,
    snapshot: &[u8],
) -> Result<SealedSegment, EntropyError> {
    let key = DataKey::generate()?;
    let wrapped_key =
        conversation.seal_record(KEY_PURPOSE, &[&epoch.to_be_bytes()], key.bytes())?;
    let cipher = ValueCipher::new(&key, conversation.conversation());
    let parts: Vec<&[u8]> = snapshot.chunks(MAX_ROW_BYTES).collect();
    let n = parts.len();
    let rows = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| cipher.seal(&row_label(epoch, i, n), part))
        .collect::<Result<_, _>>()?;
    Ok(SealedSegment { wrapped_key, rows })
}

/// The sealed document of segment `epoch`, joined from its rows in order.
pub fn open(
    conversation: &ChunkCipher,
    epoch: u64,
    segment: &SealedSegment,
) -> Result<Vec<u8>, SegmentError> {
    if segment.rows.is_empty() {
        return Err(SegmentError::Empty { epoch });
    }
    let raw = conversation
        .open_record(KEY_PURPOSE, &[&epoch.to_be_bytes()], &segment.wrapped_key)
        .map_err(|e| SegmentError::Key { epoch, reason: e.to_string() })?;
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| SegmentError::Key { epoch, reason: format!("{} bytes", raw.len()) })?;
    let cipher = ValueCipher::new(&DataKey::from_bytes(bytes), conversation.conversation());
    let n = segment.rows.len();
    let mut joined = Vec::new();
    for (i, row) in segment.rows.iter().enumerate() {
        let part =
            cipher.open(&row_label(epoch, i, n), row).map_err(|e| SegmentError::Row(e, epoch))?;
        joined.extend_from_slice(&part);
    }
    Ok(joined)
}

fn row_label(epoch: u64, index: usize, rows: usize) -> String {
    format!("segment/{epoch}/{index}/{rows}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(name: &str) -> ChunkCipher {
        ChunkCipher::new(&DataKey::from_bytes([7; 32]), name)
    }

    #[test]
    fn a_segment_opens_only_in_its_place_and_whole() {
        let doc: Vec<u8> = (0..(MAX_ROW_BYTES + 10)).map(|i| (i % 251) as u8).collect();
        let sealed = seal(&cipher("c1"), 3, &doc).unwrap();
        assert_eq!(sealed.rows.len(), 2);
        assert!(sealed
            .rows
            .iter()
            .all(|r| !r.windows(64).any(|w| doc.windows(64).next() == Some(w))));
        assert_eq!(open(&cipher("c1"), 3, &sealed).unwrap(), doc);
        assert!(matches!(open(&cipher("c1"), 4, &sealed), Err(SegmentError::Key { .. })));
        assert!(matches!(open(&cipher("c2"), 3, &sealed), Err(SegmentError::Key { .. })));
        let mut cut = sealed.clone();
        cut.rows.pop();
        assert!(matches!(open(&cipher("c1"), 3, &cut), Err(SegmentError::Row(..))));
        let mut swapped = sealed.clone();
        swapped.rows.swap(0, 1);
        assert!(open(&cipher("c1"), 3, &swapped).is_err());
    }

    #[test]
    fn without_its_wrapped_key_a_segment_is_unreadable_even_with_the_conversation_key() {
        let sealed = seal(&cipher("c1"), 0, b"history").unwrap();
        let other = seal(&cipher("c1"), 0, b"history").unwrap();
        let forged = SealedSegment { wrapped_key: other.wrapped_key, rows: sealed.rows };
        assert!(matches!(open(&cipher("c1"), 0, &forged), Err(SegmentError::Row(..))));
    }
}
