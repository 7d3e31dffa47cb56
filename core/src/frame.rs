//! Wire framing: one WebSocket binary message is one frame, `[type byte][payload]`.
//!
//! A payload larger than [`MAX_FRAME_PAYLOAD`] is sent as fragments: every fragment but the
//! last has the [`MORE`] bit set in its type byte and the receiver concatenates payloads
//! until a fragment without it arrives. Fragmenting keeps each WebSocket message well under
//! the platform's per-message limit while a first sync of a long conversation may be
//! megabytes. See PROTOCOL.md.

/// Largest payload in one frame. Also the largest frame a peer may send (plus the type byte).
pub const MAX_FRAME_PAYLOAD: usize = 256 * 1024;
/// Largest reassembled message accepted from a client. A device's offline backlog of a few
/// thousand messages fits; anything larger is refused rather than buffered.
pub const MAX_CLIENT_MESSAGE: usize = 8 * 1024 * 1024;
/// Largest reassembled message a client accepts from the relay (a first sync of a long
/// conversation).
pub const MAX_SERVER_MESSAGE: usize = 64 * 1024 * 1024;
/// Type-byte flag: more fragments of this message follow.
pub const MORE: u8 = 0x80;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameType {
    /// An Automerge sync message for the shared document.
    SyncShared = 0x01,
    /// An Automerge sync message for the agents' internal document (agents only).
    SyncInternal = 0x02,
    /// Ephemeral JSON (typing, presence): relayed, never stored.
    Ephemeral = 0x03,
    /// A JSON notice from the relay, e.g. an error before a close.
    Notice = 0x04,
    /// Raw Automerge changes for the shared document, pushed once both sides are in sync.
    ChangesShared = 0x05,
    /// Raw Automerge changes for the internal document (agents only).
    ChangesInternal = 0x06,
    /// The relay holds the listed changes of a changes frame durably ([`crate::ack`]); sent
    /// only to clients that connected with `caps=acks`.
    Ack = 0x07,
}

impl FrameType {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0x01 => FrameType::SyncShared,
            0x02 => FrameType::SyncInternal,
            0x03 => FrameType::Ephemeral,
            0x04 => FrameType::Notice,
            0x05 => FrameType::ChangesShared,
            0x06 => FrameType::ChangesInternal,
            0x07 => FrameType::Ack,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("empty frame: a frame starts with a type byte")]
    Empty,
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    #[error("frame of {len} bytes exceeds the {max}-byte frame limit")]
    FrameTooLarge { len: usize, max: usize },
    #[error("fragmented message of {len}+ bytes exceeds the {max}-byte message limit")]
    MessageTooLarge { len: usize, max: usize },
    #[error("fragment of type {got:?} continues a message of type {expected:?}")]
    MixedFragments { expected: FrameType, got: FrameType },
}

/// Splits `payload` into wire frames of type `ty`.
pub fn encode(ty: FrameType, payload: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks: Vec<&[u8]> = payload.chunks(MAX_FRAME_PAYLOAD).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut f = Vec::with_capacity(chunk.len() + 1);
            f.push(ty as u8 | if i < last { MORE } else { 0 });
            f.extend_from_slice(chunk);
            f
        })
        .collect()
}

/// Reassembles fragments into whole messages, bounded by `max_message`.
#[derive(Debug)]
pub struct Reassembler {
    /// Largest frame, type byte included.
    max_frame: usize,
    max_message: usize,
    partial: Option<(FrameType, Vec<u8>)>,
}

impl Reassembler {
    pub fn new(max_message: usize) -> Self {
        Self::with_limits(MAX_FRAME_PAYLOAD + 1, max_message)
    }

    /// A reassembler refusing frames over `max_frame` bytes (type byte included), e.g. an
    /// operator's tighter `EDGEDESK_MAX_FRAME_BYTES`.
    pub fn with_limits(max_frame: usize, max_message: usize) -> Self {
        Self { max_frame, max_message, partial: None }
    }

    /// Bytes held for a message whose last fragment has not arrived: never above the limit.
    pub fn buffered(&self) -> usize {
        self.partial.as_ref().map_or(0, |(_, buf)| buf.len())
    }

    /// Takes one wire frame; returns a whole message once its last fragment arrived.
    /// After an error the peer is to be closed; the buffered part is dropped.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<(FrameType, Vec<u8>)>, FrameError> {
        let (&head, payload) = frame.split_first().ok_or(FrameError::Empty)?;
        if frame.len() > self.max_frame {
            self.partial = None;
            return Err(FrameError::FrameTooLarge { len: frame.len(), max: self.max_frame });
        }
        let ty = FrameType::from_byte(head & !MORE).ok_or(FrameError::UnknownType(head))?;
        let mut buf = match self.partial.take() {
            Some((expected, _)) if expected != ty => {
                return Err(FrameError::MixedFragments { expected, got: ty })
            }
            Some((_, buf)) => buf,
            None => Vec::new(),
        };
        if buf.len() + payload.len() > self.max_message {
            return Err(FrameError::MessageTooLarge {
                len: buf.len() + payload.len(),
                max: self.max_message,
            });
        }
        buf.extend_from_slice(payload);
        if head & MORE != 0 {
            self.partial = Some((ty, buf));
            Ok(None)
        } else {
            Ok(Some((ty, buf)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payload_is_one_frame_and_round_trips() {
        let frames = encode(FrameType::SyncShared, b"abc");
        assert_eq!(frames, vec![vec![0x01, b'a', b'b', b'c']]);
        let mut r = Reassembler::new(1024);
        assert_eq!(r.push(&frames[0]).unwrap(), Some((FrameType::SyncShared, b"abc".to_vec())));
    }

    #[test]
    fn large_payload_is_fragmented_and_reassembled() {
        let payload: Vec<u8> = (0..MAX_FRAME_PAYLOAD * 2 + 7).map(|i| i as u8).collect();
        let frames = encode(FrameType::SyncShared, &payload);
        assert_eq!(frames.len(), 3);
        assert!(frames.iter().all(|f| f.len() <= MAX_FRAME_PAYLOAD + 1));
        let mut r = Reassembler::new(MAX_CLIENT_MESSAGE);
        assert_eq!(r.push(&frames[0]).unwrap(), None);
        assert_eq!(r.push(&frames[1]).unwrap(), None);
        assert_eq!(r.push(&frames[2]).unwrap(), Some((FrameType::SyncShared, payload)));
    }

    #[test]
    fn garbage_and_oversize_are_typed_errors() {
        let mut r = Reassembler::new(MAX_FRAME_PAYLOAD + 10);
        assert_eq!(r.push(&[]), Err(FrameError::Empty));
        assert_eq!(r.push(&[0x7f, 1, 2]), Err(FrameError::UnknownType(0x7f)));
        let big = vec![0x01; MAX_FRAME_PAYLOAD + 2];
        assert!(matches!(r.push(&big), Err(FrameError::FrameTooLarge { .. })));
        let part = encode(FrameType::SyncShared, &vec![0; MAX_FRAME_PAYLOAD * 2]);
        r.push(&part[0]).unwrap();
        assert!(matches!(r.push(&part[1]), Err(FrameError::MessageTooLarge { .. })));
        let mut r = Reassembler::new(MAX_CLIENT_MESSAGE);
        r.push(&[0x01 | MORE, 1]).unwrap();
        assert!(matches!(r.push(&[0x03, 1]), Err(FrameError::MixedFragments { .. })));
    }
}
