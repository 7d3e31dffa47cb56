//! The relay's acknowledgement of a changes frame (PROTOCOL.md §6.2, frame type `0x07`).
//!
//! On the sync protocol a device learns that the relay holds its changes from the heads of
//! the relay's next sync message, which goes out only after the relay persisted. On the fast
//! path (§6.3) nothing comes back for a change that is not a message (a read mark, a status,
//! a tag, a note): the relay already counts the device as holding it, so it has nothing to
//! send. Without an answer a device cannot tell "sent" from "durable", and `in_sync()` could
//! only be optimistic. An ack names the changes of one frame that the relay now holds on
//! disk; changes still waiting for their dependencies are left out (the sync protocol takes
//! over for those).
//!
//! Payload: the type byte of the acknowledged frame (`0x05` ChangesShared or `0x06`
//! ChangesInternal), then each change's 32-byte hash.

use automerge::ChangeHash;

use crate::document::Channel;
use crate::frame::FrameType;

const HASH_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("an ack frame must name the changes frame it acknowledges (0x05 or 0x06)")]
    UnknownDocument,
    #[error("an ack frame's hashes are 32 bytes each; {0} bytes left over")]
    RaggedHashes(usize),
}

/// The ack payload for `hashes`, changes received on `channel`'s changes frame.
pub fn encode(channel: Channel, hashes: &[ChangeHash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + hashes.len() * HASH_BYTES);
    out.push(channel.changes_frame() as u8);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Reads an ack payload: which document, and the hashes it acknowledges.
pub fn decode(payload: &[u8]) -> Result<(Channel, Vec<ChangeHash>), AckError> {
    let (&ty, rest) = payload.split_first().ok_or(AckError::UnknownDocument)?;
    let channel = match FrameType::from_byte(ty) {
        Some(t @ (FrameType::ChangesShared | FrameType::ChangesInternal)) => Channel::of(t),
        _ => None,
    }
    .ok_or(AckError::UnknownDocument)?;
    if rest.len() % HASH_BYTES != 0 {
        return Err(AckError::RaggedHashes(rest.len() % HASH_BYTES));
    }
    let hashes = rest
        .chunks_exact(HASH_BYTES)
        .map(|c| {
            let mut h = [0u8; HASH_BYTES];
            h.copy_from_slice(c);
            ChangeHash(h)
        })
        .collect();
    Ok((channel, hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_names_its_document_and_hashes_and_reads_back() {
        let hashes = vec![ChangeHash([7; 32]), ChangeHash([9; 32])];
        let bytes = encode(Channel::Internal, &hashes);
        assert_eq!(bytes.len(), 65);
        assert_eq!(bytes[0], 0x06);
        assert_eq!(decode(&bytes), Ok((Channel::Internal, hashes)));
    }

    #[test]
    fn an_ack_for_no_known_document_or_with_a_cut_hash_is_refused() {
        assert_eq!(decode(&[]), Err(AckError::UnknownDocument));
        assert_eq!(decode(&[0x01]), Err(AckError::UnknownDocument));
        assert_eq!(decode(&[0x05, 1, 2, 3]), Err(AckError::RaggedHashes(3)));
        assert_eq!(decode(&[0x05]), Ok((Channel::Shared, vec![])));
    }
}
