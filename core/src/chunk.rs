//! Automerge's binary chunk layout, read just far enough for the relay's checks on a peer's
//! bytes before Automerge parses them itself ([`crate::inflate`], [`crate::intake`]).
//!
//! A chunk: 4 magic bytes, a 4-byte checksum, a type byte (0 document, 1 change, 2 compressed
//! change, 3 bundle), a LEB128 body length, the body. A change body: dependencies, actor,
//! sequence number, start op, time, message, other actors, op column metadata (spec and
//! length per column), the column data, extra bytes. A column spec is `id << 4 | deflate << 3
//! | type`; type 1 columns hold actor indices, run-length encoded.

pub const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const ACTOR_COLUMN: u64 = 1;

/// (type, body, what follows) of the first chunk in `bytes`.
pub fn split(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), &'static str> {
    if bytes.len() < 9 || bytes[..4] != MAGIC {
        return Err("a chunk does not start with the magic bytes");
    }
    let ty = bytes[8];
    let mut rest = &bytes[9..];
    let len = leb128(&mut rest)?;
    let len = usize::try_from(len).ok().filter(|&l| l <= rest.len());
    let len = len.ok_or("chunk longer than its container")?;
    Ok((ty, &rest[..len], &rest[len..]))
}

/// Reads an unsigned LEB128 number (at most 64 bits) off the front of `bytes`.
pub fn leb128(bytes: &mut &[u8]) -> Result<u64, &'static str> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Ok(value);
        }
    }
    Err("bad LEB128 number")
}

/// Reads a signed LEB128 number (at most 64 bits) off the front of `bytes`.
fn sleb128(bytes: &mut &[u8]) -> Result<i64, &'static str> {
    let mut value = 0i64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= i64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            if i < 9 && b & 0x40 != 0 {
                value |= -1i64 << (7 * (i + 1));
            }
            return Ok(value);
        }
    }
    Err("bad LEB128 number")
}

/// Takes `len` bytes off the front of `bytes`.
pub fn take<'a>(bytes: &mut &'a [u8], len: u64) -> Result<&'a [u8], &'static str> {
    let len = usize::try_from(len).ok().filter(|&l| l <= bytes.len());
    let len = len.ok_or("field longer than the chunk")?;
    let (head, rest) = bytes.split_at(len);
    *bytes = rest;
    Ok(head)
}

/// A change chunk's operation columns, read past its header.
struct ChangeColumns<'a> {
    /// How many actors the change names (its own and the others it lists).
    actors: u64,
    /// Each column's spec and data length, in order.
    columns: Vec<(u64, u64)>,
    /// The column data, one after another.
    data: &'a [u8],
}

fn change_columns(mut body: &[u8]) -> Result<ChangeColumns<'_>, &'static str> {
    let deps = leb128(&mut body)?;
    take(&mut body, deps.saturating_mul(32))?;
    let actor = leb128(&mut body)?;
    take(&mut body, actor)?;
    leb128(&mut body)?; // sequence number
    leb128(&mut body)?; // start op
    sleb128(&mut body)?; // time
    let message = leb128(&mut body)?;
    take(&mut body, message)?;
    let others = leb128(&mut body)?;
    for _ in 0..others {
        let len = leb128(&mut body)?;
        take(&mut body, len)?;
    }
    let count = leb128(&mut body)?;
    let mut columns = Vec::new();
    for _ in 0..count.min(body.len() as u64) {
        let spec = leb128(&mut body)?;
        let len = leb128(&mut body)?;
        columns.push((spec, len));
    }
    Ok(ChangeColumns { actors: others + 1, columns, data: body })
}

/// Checks that every actor index in a change chunk's operation columns names one of the
/// change's actors. Automerge does not check it and panics on one that does not (`decode`,
/// `apply_changes`).
pub fn change_actor_refs(chunk: &[u8]) -> Result<(), &'static str> {
    let (_, body, _) = split(chunk)?;
    let ChangeColumns { actors, columns, mut data } = change_columns(body)?;
    for (spec, len) in columns {
        let mut column = take(&mut data, len)?;
        if spec & 0b111 == ACTOR_COLUMN {
            check_rle_below(&mut column, actors)?;
        }
    }
    Ok(())
}

/// Most rows (operations) any column of one change chunk may expand to. Run-length encoding
/// lets a few bytes claim millions of rows, and Automerge materialises them while it parses
/// the change, before failing on the rest (found by `fuzzing::validation`: a 589-byte frame
/// cost 227 MB). An honest change here is one message or a few field writes, tens of
/// operations; a change that fits in a client message holds far fewer than this.
pub const MAX_CHANGE_ROWS: u64 = 100_000;

/// Checks that no column of a change chunk (type 1, uncompressed) expands to more than
/// `max_rows` rows, before Automerge parses it. Other chunk types pass through (compressed
/// changes are bounded by `inflate`, then parsed by Automerge).
pub fn change_rows_within(chunk: &[u8], max_rows: u64) -> Result<(), &'static str> {
    let (ty, body, _) = split(chunk)?;
    if ty != 1 {
        return Ok(());
    }
    let ChangeColumns { columns, data: mut body, .. } = change_columns(body)?;
    for (spec, len) in columns {
        let Ok(mut data) = take(&mut body, len) else { break };
        let rows = match spec & 0b111 {
            4 => boolean_rows(&mut data, max_rows),
            7 => Ok(0),
            kind => rle_rows(&mut data, kind, max_rows),
        };
        // A column that does not decode is refused here too: Automerge would refuse it, but
        // only after allocating what its lengths claim (a string "of 200 MB" in 500 bytes).
        if rows.map_err(|_| "a change column does not decode")? > max_rows {
            return Err("a change column expands past the row limit");
        }
    }
    Ok(())
}

/// Rows of a run-length encoded column (`kind` 3: signed deltas, 5: strings, else unsigned),
/// stopping once past `max`.
fn rle_rows(data: &mut &[u8], kind: u64, max: u64) -> Result<u64, &'static str> {
    let mut rows = 0u64;
    let skip = |data: &mut &[u8]| -> Result<(), &'static str> {
        match kind {
            3 => sleb128(data).map(drop),
            5 => {
                let len = leb128(data)?;
                take(data, len).map(drop)
            }
            _ => leb128(data).map(drop),
        }
    };
    while !data.is_empty() && rows <= max {
        let count = sleb128(data)?;
        match count {
            0 => rows = rows.saturating_add(leb128(data)?),
            n if n > 0 => {
                rows = rows.saturating_add(n.unsigned_abs());
                skip(data)?;
            }
            n => {
                rows = rows.saturating_add(n.unsigned_abs());
                for _ in 0..n.unsigned_abs().min(data.len() as u64) {
                    skip(data)?;
                }
            }
        }
    }
    Ok(rows)
}

/// Rows of a boolean column: alternating run lengths of false and true.
fn boolean_rows(data: &mut &[u8], max: u64) -> Result<u64, &'static str> {
    let mut rows = 0u64;
    while !data.is_empty() && rows <= max {
        rows = rows.saturating_add(leb128(data)?);
    }
    Ok(rows)
}

/// Checks that every value of a run-length encoded column of unsigned numbers is below
/// `limit`. Runs: a positive count then one value repeated, a negative count then that many
/// values, or zero then a count of nulls.
fn check_rle_below(data: &mut &[u8], limit: u64) -> Result<(), &'static str> {
    while !data.is_empty() {
        let count = sleb128(data)?;
        let values = match count {
            0 => {
                leb128(data)?;
                0
            }
            n if n > 0 => 1,
            n => n.unsigned_abs(),
        };
        for _ in 0..values {
            if leb128(data)? >= limit {
                return Err("an actor the change does not list");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::{transaction::Transactable, ActorId, Automerge, ROOT};

    use super::*;

    #[test]
    fn real_changes_name_only_their_actors() {
        let mut a = Automerge::new().with_actor(ActorId::from([1; 4]));
        let mut tx = a.transaction();
        let list = tx.put_object(ROOT, "l", automerge::ObjType::List).unwrap();
        tx.insert(&list, 0, 1).unwrap();
        tx.commit();
        let mut b = a.fork().with_actor(ActorId::from([2; 4]));
        let mut tx = b.transaction();
        tx.put(&list, 0, 2).unwrap();
        tx.insert(&list, 1, 3).unwrap();
        tx.commit();
        for c in b.get_changes(&[]) {
            assert_eq!(change_actor_refs(c.raw_bytes()), Ok(()));
        }
    }

    #[test]
    fn a_run_claiming_millions_of_rows_is_refused_and_real_changes_pass() {
        let mut doc = Automerge::new().with_actor(ActorId::random());
        let mut tx = doc.transaction();
        for i in 0..50 {
            tx.put(ROOT, format!("k{i}"), i).unwrap();
        }
        tx.commit();
        let change = doc.get_changes(&[]).into_iter().next().unwrap();
        assert_eq!(change_rows_within(change.raw_bytes(), MAX_CHANGE_ROWS), Ok(()));
        assert!(change_rows_within(change.raw_bytes(), 10).is_err());
        // One run of 2^40 nulls in an unsigned column.
        let mut col = &[0x00u8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20][..];
        assert!(rle_rows(&mut col, 2, MAX_CHANGE_ROWS).unwrap() > MAX_CHANGE_ROWS);
    }

    #[test]
    fn signed_leb128_reads_negative_counts() {
        let mut bytes: &[u8] = &[0x7e, 0x80, 0x7f];
        assert_eq!(sleb128(&mut bytes), Ok(-2));
        assert_eq!(sleb128(&mut bytes), Ok(-128));
        assert!(bytes.is_empty());
    }
}
