//! Byte-level mutations of recorded frames and changes: what a corrupted or tampered copy of
//! real traffic looks like.

use arbitrary::Arbitrary;

#[derive(Debug, Clone, Arbitrary)]
pub(super) enum Mutation {
    FlipBit {
        at: u32,
        bit: u8,
    },
    Truncate {
        at: u32,
    },
    Insert {
        at: u32,
        bytes: Vec<u8>,
    },
    Remove {
        at: u32,
        len: u8,
    },
    Overwrite {
        at: u32,
        bytes: Vec<u8>,
    },
    /// Bytes from another recorded frame or change (splicing two sessions).
    Splice {
        other: u16,
        from: u32,
        len: u16,
        at: u32,
    },
    /// A value parsers treat specially (LEB128 edges, lengths, type codes).
    Special {
        at: u32,
        which: u8,
    },
}

const SPECIAL: [&[u8]; 8] = [
    &[0x00],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[0x85, 0x6f, 0x4a, 0x83],
    &[0x42],
];

/// Applies `mutations` in order; `others` are the recorded byte strings to splice from.
pub(super) fn apply(mut bytes: Vec<u8>, mutations: &[Mutation], others: &[&[u8]]) -> Vec<u8> {
    for m in mutations.iter().take(8) {
        let at = |i: u32| i as usize % (bytes.len() + 1);
        match m {
            Mutation::FlipBit { at: i, bit } => {
                if !bytes.is_empty() {
                    let i = *i as usize % bytes.len();
                    bytes[i] ^= 1 << (bit % 8);
                }
            }
            Mutation::Truncate { at: i } => bytes.truncate(at(*i)),
            Mutation::Insert { at: i, bytes: b } => {
                let i = at(*i);
                bytes.splice(i..i, b.iter().copied());
            }
            Mutation::Remove { at: i, len } => {
                let i = at(*i);
                let end = (i + usize::from(*len)).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Overwrite { at: i, bytes: b } => {
                let i = at(*i);
                let end = (i + b.len()).min(bytes.len());
                bytes.splice(i..end, b.iter().copied());
            }
            Mutation::Splice { other, from, len, at: i } => {
                if others.is_empty() {
                    continue;
                }
                let src = others[usize::from(*other) % others.len()];
                let from = *from as usize % (src.len() + 1);
                let end = (from + usize::from(*len)).min(src.len());
                let i = at(*i);
                let tail = bytes.len().min(i + (end - from));
                bytes.splice(i..tail, src[from..end].iter().copied());
            }
            Mutation::Special { at: i, which } => {
                let i = at(*i);
                let v = SPECIAL[usize::from(*which) % SPECIAL.len()];
                let end = (i + v.len()).min(bytes.len());
                bytes.splice(i..end, v.iter().copied());
            }
        }
    }
    bytes
}
