//! Where a conversation's replicas live in IndexedDB across epochs (PROTOCOL.md §16): epoch
//! 0's shared replica keeps its original name, epoch `n`'s is `…|e{n}`, and a pointer replica
//! `…|epoch` holds the current epoch as 8 little-endian bytes.

use edgedesk_core::store::ChunkKind;

/// The IndexedDB name of the shared replica of `epoch`; `base` is epoch 0's.
pub(super) fn replica_name(base: &str, epoch: u64) -> String {
    match epoch {
        0 => base.to_owned(),
        n => format!("{base}|e{n}"),
    }
}

/// The current epoch from the pointer replica's rows (0 when there are none).
pub(super) fn epoch_of(rows: &[(u64, ChunkKind, Vec<u8>)]) -> u64 {
    rows.last()
        .and_then(|(_, _, b)| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_le_bytes)
}

/// The pointer replica's name, from epoch 0's shared replica name.
pub(super) fn pointer_name(base: &str) -> String {
    format!("{base}|epoch")
}
