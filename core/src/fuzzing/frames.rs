//! Target: wire frames and fragment sequences into a [`Reassembler`].
//!
//! Each frame's result is compared with a model written from PROTOCOL.md §4 (not from the
//! code): the exact message or the exact typed error. Limits are small and random, so the
//! fuzzer reaches them with small inputs. After an error the peer is closed, so the model
//! starts over; a second reassembler that is never reset keeps taking frames and is only held
//! to its bounds (it must not panic or grow).

use arbitrary::{Arbitrary, Unstructured};

use crate::frame::{self, FrameError, FrameType, Reassembler, MAX_FRAME_PAYLOAD, MORE};

#[derive(Debug)]
struct Script {
    max_message: Size,
    frames: Vec<Wire>,
}

impl Script {
    /// Frames until the input runs out (`arbitrary`'s own collections stop at random early).
    fn read(data: &[u8]) -> arbitrary::Result<Script> {
        let mut u = Unstructured::new(data);
        let max_message = u.arbitrary()?;
        let mut frames = Vec::new();
        while !u.is_empty() && frames.len() < 64 {
            frames.push(u.arbitrary()?);
        }
        Ok(Script { max_message, frames })
    }
}

#[derive(Debug, Arbitrary)]
enum Wire {
    /// Any bytes at all.
    Raw(Vec<u8>),
    /// A frame with a chosen type byte and a payload of `len` copies of `fill`.
    Sized { head: u8, len: Size, fill: u8 },
    /// Every fragment of a payload encoded the way peers encode it.
    Encoded { ty: u8, len: Size },
}

/// A length, mostly near one of the limits.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Size {
    Small(u16),
    NearFrameLimit(i16),
    Multiple { frames: u8, delta: i16 },
}

impl Size {
    fn get(self) -> usize {
        let near = |base: usize, d: i16| base.saturating_add_signed(isize::from(d));
        match self {
            Size::Small(n) => usize::from(n),
            Size::NearFrameLimit(d) => near(MAX_FRAME_PAYLOAD, d % 64),
            Size::Multiple { frames, delta } => {
                near(MAX_FRAME_PAYLOAD * usize::from(frames % 4), delta % 64)
            }
        }
    }
}

/// What PROTOCOL.md §4 says a receiver does: the message and its type, as the model sees it.
struct Model {
    max_message: usize,
    partial: Option<(FrameType, Vec<u8>)>,
}

impl Model {
    fn push(&mut self, f: &[u8]) -> Result<Option<(FrameType, Vec<u8>)>, FrameError> {
        let Some((&head, payload)) = f.split_first() else {
            return Err(FrameError::Empty);
        };
        if payload.len() > MAX_FRAME_PAYLOAD {
            return Err(FrameError::FrameTooLarge { len: f.len(), max: MAX_FRAME_PAYLOAD + 1 });
        }
        let Some(ty) = FrameType::from_byte(head & !MORE) else {
            return Err(FrameError::UnknownType(head));
        };
        let mut so_far = match self.partial.take() {
            Some((expected, _)) if expected != ty => {
                return Err(FrameError::MixedFragments { expected, got: ty })
            }
            Some((_, so_far)) => so_far,
            None => Vec::new(),
        };
        so_far.extend_from_slice(payload);
        if so_far.len() > self.max_message {
            return Err(FrameError::MessageTooLarge { len: so_far.len(), max: self.max_message });
        }
        if head & MORE == 0 {
            return Ok(Some((ty, so_far)));
        }
        self.partial = Some((ty, so_far));
        Ok(None)
    }
}

/// Runs one script read from `data`. Panics when a property does not hold.
pub fn frames(data: &[u8]) {
    let Ok(script) = Script::read(data) else { return };
    let max_message = script.max_message.get();
    let mut model = Model { max_message, partial: None };
    let mut fresh = Reassembler::new(max_message);
    let mut stale = Reassembler::new(max_message);
    // A few frames near the 256 KiB limit per script keep a case quick in debug builds.
    let mut budget = 2 * MAX_FRAME_PAYLOAD;
    for wire in &script.frames {
        for f in wire_frames(wire) {
            budget = match budget.checked_sub(f.len()) {
                Some(left) => left,
                None => return,
            };
            let expected = model.push(&f);
            let got = fresh.push(&f);
            assert_eq!(got, expected, "frame {:02x?}.. of {} bytes", &f[..f.len().min(4)], f.len());
            if got.is_err() {
                model = Model { max_message, partial: None };
                fresh = Reassembler::new(max_message);
            }
            assert!(fresh.buffered() <= max_message);
            if let Ok(Some((_, message))) = stale.push(&f) {
                assert!(message.len() <= max_message);
            }
            assert!(stale.buffered() <= max_message, "the reassembler holds past its limit");
        }
    }
}

fn wire_frames(wire: &Wire) -> Vec<Vec<u8>> {
    match wire {
        Wire::Raw(bytes) => vec![bytes.clone()],
        Wire::Sized { head, len, fill } => {
            let mut f = vec![*fill; len.get() + 1];
            f[0] = *head;
            vec![f]
        }
        Wire::Encoded { ty, len } => {
            let Some(ty) = FrameType::from_byte(*ty % 6) else { return Vec::new() };
            let mut payload = vec![0x5a; len.get()];
            if let Some(last) = payload.last_mut() {
                *last = 0xa5;
            }
            let frames = frame::encode(ty, &payload);
            // How peers encode: full fragments flagged MORE, then the rest.
            let last = frames.len() - 1;
            for (i, f) in frames.iter().enumerate() {
                assert!(f.len() <= MAX_FRAME_PAYLOAD + 1, "encode made an oversized frame");
                assert_eq!(f[0] & MORE != 0, i < last, "MORE flag on the wrong fragment");
                assert_eq!(f[0] & !MORE, ty as u8);
            }
            let joined: Vec<u8> = frames.iter().flat_map(|f| f[1..].iter().copied()).collect();
            assert_eq!(joined, payload, "encode lost or reordered bytes");
            frames
        }
    }
}
