//! Bounded inflation: how far a peer's Automerge chunks expand, measured before Automerge
//! expands them.
//!
//! Automerge inflates compressed change chunks and deflated document columns in full while it
//! parses them, with no limit. Deflate reaches ratios near 1000:1, so one 256 KiB frame can
//! name 256 MiB of zeros, enough to take down the Durable Object's isolate (128 MB, shared by
//! every conversation on it); found by the fuzz target in `fuzzing::validation`. So the relay
//! walks a peer's chunks first, inflating every compressed part into a counter that stops at
//! the budget, and refuses the frame before Automerge sees it.
//!
//! Chunk layout (Automerge's binary format): 4 magic bytes, a 4-byte checksum, a type byte
//! (0 document, 1 change, 2 compressed change, 3 bundle), a LEB128 length, the body. A
//! document body: actors, heads, change column metadata, op column metadata, then the column
//! data; a column whose spec has bit 3 set is deflated. Change chunks never hold deflated
//! columns (Automerge refuses them before inflating anything).

use std::io::Read;

use crate::chunk::{self, leb128, take};

const DEFLATED_COLUMN: u64 = 0b1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("compressed data inflates past the {budget}-byte limit")]
    TooLarge { budget: usize },
    #[error("bundle chunks are not accepted; send changes or a document")]
    Bundle,
    #[error("malformed Automerge chunk: {0}")]
    Malformed(&'static str),
}

/// Checks the chunks in `bytes` (one after another, as Automerge reads them). `left` is what
/// the caller's budget still allows; it is reduced by what these chunks inflate to. Stops
/// quietly at a deflate stream Automerge cannot read either (it stops there too).
pub fn check(mut bytes: &[u8], left: &mut usize, budget: usize) -> Result<(), InflateError> {
    while !bytes.is_empty() {
        let (ty, body, rest) = chunk::split(bytes).map_err(InflateError::Malformed)?;
        let readable = match ty {
            0 => document(body, left, budget)?,
            1 => true,
            2 => inflate(body, left, budget)?,
            3 => return Err(InflateError::Bundle),
            _ => return Err(InflateError::Malformed("unknown chunk type")),
        };
        if !readable {
            return Ok(());
        }
        bytes = rest;
    }
    Ok(())
}

/// The type and total length (header included) of the chunk `bytes` starts with.
pub fn chunk_header(bytes: &[u8]) -> Result<(u8, usize), InflateError> {
    let (ty, _, rest) = chunk::split(bytes).map_err(InflateError::Malformed)?;
    Ok((ty, bytes.len() - rest.len()))
}

/// Inflates one deflate stream into a counter. Returns whether the stream was readable.
fn inflate(deflated: &[u8], left: &mut usize, budget: usize) -> Result<bool, InflateError> {
    let mut decoder = flate2::bufread::DeflateDecoder::new(deflated);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                *left = left.checked_sub(n).ok_or(InflateError::TooLarge { budget })?;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// Inflates the deflated columns of a document chunk's body.
fn document(body: &[u8], left: &mut usize, budget: usize) -> Result<bool, InflateError> {
    let (columns, mut data) = document_columns(body).map_err(InflateError::Malformed)?;
    for (spec, len) in columns {
        let column = take(&mut data, len).map_err(InflateError::Malformed)?;
        if spec & DEFLATED_COLUMN != 0 && !inflate(column, left, budget)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// (spec, length) of one column.
type Column = (u64, u64);

/// The (spec, length) of every column of a document body, and the column data after them.
fn document_columns(mut body: &[u8]) -> Result<(Vec<Column>, &[u8]), &'static str> {
    let actors = leb128(&mut body)?;
    for _ in 0..actors {
        let len = leb128(&mut body)?;
        take(&mut body, len)?;
    }
    let heads = leb128(&mut body)?;
    take(&mut body, heads.saturating_mul(32))?;
    let mut columns = Vec::new();
    for _ in 0..2 {
        let count = leb128(&mut body)?;
        for _ in 0..count {
            let spec = leb128(&mut body)?;
            let len = leb128(&mut body)?;
            columns.push((spec, len));
        }
    }
    Ok((columns, body))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use automerge::{transaction::Transactable, ActorId, Automerge, ROOT};

    use super::*;

    fn deflated_zeros(n: usize) -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0; n]).unwrap();
        enc.finish().unwrap()
    }

    fn leb(out: &mut Vec<u8>, mut n: usize) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    fn chunk(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut c = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, ty];
        leb(&mut c, body.len());
        c.extend_from_slice(body);
        c
    }

    fn within(bytes: &[u8], budget: usize) -> Result<(), InflateError> {
        check(bytes, &mut budget.clone(), budget)
    }

    #[test]
    fn a_compressed_change_that_inflates_past_the_budget_is_refused() {
        let bomb = chunk(2, &deflated_zeros(4 << 20));
        assert!(bomb.len() < 8 * 1024);
        assert_eq!(within(&bomb, 1 << 20), Err(InflateError::TooLarge { budget: 1 << 20 }));
        assert_eq!(within(&bomb, 8 << 20), Ok(()));
    }

    #[test]
    fn a_deflated_document_column_counts_against_the_budget() {
        // No actors, no heads, one change column (id 1, deflated), no op columns.
        let mut body = vec![0, 0, 1, 0x18];
        let column = deflated_zeros(2 << 20);
        leb(&mut body, column.len());
        body.push(0);
        body.extend(column);
        let doc = chunk(0, &body);
        assert!(matches!(within(&doc, 1 << 20), Err(InflateError::TooLarge { .. })));
        assert_eq!(within(&doc, 4 << 20), Ok(()));
    }

    #[test]
    fn real_documents_and_changes_pass_within_their_inflated_size() {
        let mut doc = Automerge::new().with_actor(ActorId::random());
        let mut tx = doc.transaction();
        for i in 0..2000 {
            tx.put(ROOT, format!("key {i}"), "the same long value, over and over again").unwrap();
        }
        tx.commit();
        let saved = doc.save();
        let raw = doc.save_nocompress();
        assert!(saved.len() < raw.len(), "the document is compressed");
        assert_eq!(within(&saved, raw.len()), Ok(()));
        let mut change = doc.get_changes(&[]).pop().unwrap();
        let compressed = change.bytes().into_owned();
        assert_eq!(compressed[8], 2, "a compressed change chunk");
        assert_eq!(within(&compressed, change.raw_bytes().len()), Ok(()));
        assert!(within(&compressed, 1024).is_err());
    }

    #[test]
    fn bundles_and_garbage_are_refused() {
        assert_eq!(within(&chunk(3, b"x"), 1 << 20), Err(InflateError::Bundle));
        assert!(matches!(within(b"not a chunk", 1 << 20), Err(InflateError::Malformed(_))));
        let mut truncated = chunk(1, &[1, 2, 3]);
        truncated.pop();
        assert!(matches!(within(&truncated, 1 << 20), Err(InflateError::Malformed(_))));
    }
}
