//! The storage model: a document kept as a snapshot plus a tail of increments.
//!
//! Every accepted change is written as an increment (`save_after(persisted heads)`), so a
//! write costs the size of the change, not of the document. When the increments outgrow the
//! snapshot they are folded into a fresh snapshot (`save()`, compressed columnar), split into
//! rows under the platform's 2 MB value limit, written in one atomic replace. Loading joins
//! every row and calls `load` once: calling `load_incremental` per row is quadratic.
//!
//! The same model backs the Durable Object (SQLite rows) and the SDK's on-disk replica (files);
//! each supplies a [`ChunkStore`].

use automerge::{ActorId, Automerge, ChangeHash};

use crate::document::Document;
use crate::shared_doc::DocError;

pub use crate::limits::MAX_ROW_BYTES;
/// Increments smaller than this in total are never compacted: a young conversation's
/// snapshot is tiny and folding it on every message would rewrite it on every message.
pub const MIN_COMPACTION_BYTES: usize = 64 * 1024;

/// Whether a stored chunk is part of the snapshot or an increment after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    Snapshot,
    Increment,
}

impl ChunkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkKind::Snapshot => "snapshot",
            ChunkKind::Increment => "increment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "snapshot" => Some(ChunkKind::Snapshot),
            "increment" => Some(ChunkKind::Increment),
            _ => None,
        }
    }
}

/// Which of a conversation's documents a store holds: both are kept side by side in the
/// conversation's storage, and encryption binds every chunk to its document.
pub use crate::document::Channel as DocLabel;

impl std::fmt::Display for DocLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place that keeps a document's chunks in order. Implementations: SQLite rows in the
/// Durable Object, files in the SDK, memory in tests.
pub trait ChunkStore {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Every chunk, in the order written.
    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, Self::Error>;
    /// Adds one increment after the existing chunks; durable when this returns.
    fn append(&mut self, chunk: &[u8]) -> Result<(), Self::Error>;
    /// Replaces everything with `snapshot` (its rows in order), atomically: a crash leaves
    /// either the old chunks or the new ones.
    fn replace_all(&mut self, snapshot: &[&[u8]]) -> Result<(), Self::Error>;
    /// Bytes the store adds to every chunk it keeps (an encrypting store's nonce and tag), so
    /// [`StoreStats`] count what is really stored.
    fn chunk_overhead(&self) -> usize {
        0
    }
    /// The sealed segments kept beside the document (PROTOCOL.md §16), for a relay's store;
    /// `None` for a store that keeps one document only (a device's replica): the relay then
    /// never rolls the document over.
    fn archive(&mut self) -> Option<crate::rollover::archive::Archive<'_>> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError<E: std::error::Error + 'static> {
    #[error("storage backend: {0}")]
    Backend(#[source] E),
    #[error("stored document is unreadable: {0}")]
    Corrupt(#[source] automerge::AutomergeError),
    #[error(transparent)]
    Doc(#[from] DocError),
    #[error(transparent)]
    Archive(crate::rollover::archive::ArchiveError),
}

/// Size accounting of what is stored, for compaction and for the stats endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub snapshot_bytes: usize,
    pub snapshot_rows: usize,
    pub increment_bytes: usize,
    pub increment_rows: usize,
}

impl StoreStats {
    pub fn total_bytes(&self) -> usize {
        self.snapshot_bytes + self.increment_bytes
    }
}

/// What one [`Persister::persist`] call wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persisted {
    Nothing,
    Increment { bytes: usize },
    Compacted { bytes: usize, rows: usize },
}

/// Tracks which of a document's changes are durable in a [`ChunkStore`].
#[derive(Debug)]
pub struct Persister<S> {
    store: S,
    persisted_heads: Vec<ChangeHash>,
    stats: StoreStats,
}

impl<S: ChunkStore> Persister<S> {
    /// Loads the stored document, or a fresh schema-only replica when the store is empty.
    pub fn open<D: Document>(
        mut store: S,
        actor: ActorId,
    ) -> Result<(D, Self), StoreError<S::Error>> {
        let chunks = store.load().map_err(StoreError::Backend)?;
        let overhead = store.chunk_overhead();
        let mut stats = StoreStats::default();
        let mut joined = Vec::with_capacity(chunks.iter().map(|(_, c)| c.len()).sum());
        for (kind, chunk) in &chunks {
            match kind {
                ChunkKind::Snapshot => {
                    stats.snapshot_bytes += chunk.len() + overhead;
                    stats.snapshot_rows += 1;
                }
                ChunkKind::Increment => {
                    stats.increment_bytes += chunk.len() + overhead;
                    stats.increment_rows += 1;
                }
            }
            joined.extend_from_slice(chunk);
        }
        drop(chunks);
        let doc = if joined.is_empty() {
            D::new(actor)?
        } else {
            let doc = Automerge::load(&joined).map_err(StoreError::Corrupt)?.with_actor(actor);
            D::from_automerge(doc)?
        };
        let persisted_heads = if joined.is_empty() { Vec::new() } else { doc.heads() };
        Ok((doc, Self { store, persisted_heads, stats }))
    }

    /// Makes every change of `doc` durable: an increment, or a compaction when the increments
    /// have outgrown the snapshot. Returns only once the store says it is durable.
    pub fn persist<D: Document>(&mut self, doc: &D) -> Result<Persisted, StoreError<S::Error>> {
        let heads = doc.heads();
        if heads == self.persisted_heads {
            return Ok(Persisted::Nothing);
        }
        let increment = doc.automerge().save_after(&self.persisted_heads);
        if increment.is_empty() {
            self.persisted_heads = heads;
            return Ok(Persisted::Nothing);
        }
        let grown = self.stats.increment_bytes + increment.len() + self.store.chunk_overhead();
        if grown > MIN_COMPACTION_BYTES.max(self.stats.snapshot_bytes) {
            return self.compact(doc);
        }
        self.store.append(&increment).map_err(StoreError::Backend)?;
        self.stats.increment_bytes = grown;
        self.stats.increment_rows += 1;
        self.persisted_heads = heads;
        Ok(Persisted::Increment { bytes: increment.len() + self.store.chunk_overhead() })
    }

    /// Folds everything into a fresh snapshot.
    pub fn compact<D: Document>(&mut self, doc: &D) -> Result<Persisted, StoreError<S::Error>> {
        let snapshot = doc.automerge().save();
        let rows: Vec<&[u8]> = snapshot.chunks(MAX_ROW_BYTES).collect();
        self.store.replace_all(&rows).map_err(StoreError::Backend)?;
        let bytes = snapshot.len() + rows.len() * self.store.chunk_overhead();
        self.stats = StoreStats {
            snapshot_bytes: bytes,
            snapshot_rows: rows.len(),
            increment_bytes: 0,
            increment_rows: 0,
        };
        self.persisted_heads = doc.heads();
        Ok(Persisted::Compacted { bytes, rows: rows.len() })
    }

    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    pub fn persisted_heads(&self) -> &[ChangeHash] {
        &self.persisted_heads
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn into_store(self) -> S {
        self.store
    }
}

/// A [`ChunkStore`] in memory, for tests, benchmarks and simulations.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    pub chunks: Vec<(ChunkKind, Vec<u8>)>,
    /// When set, every write fails: lets tests prove nothing is acknowledged unpersisted.
    pub fail_writes: bool,
    /// Sealed segments, for a relay whose conversations roll over.
    pub archive: crate::rollover::archive::MemArchive,
}

#[derive(Debug, thiserror::Error)]
#[error("memory store refused the write (fail_writes is set)")]
pub struct MemStoreError;

impl ChunkStore for MemStore {
    type Error = MemStoreError;

    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, MemStoreError> {
        Ok(self.chunks.clone())
    }

    fn append(&mut self, chunk: &[u8]) -> Result<(), MemStoreError> {
        if self.fail_writes {
            return Err(MemStoreError);
        }
        self.chunks.push((ChunkKind::Increment, chunk.to_vec()));
        Ok(())
    }

    fn replace_all(&mut self, snapshot: &[&[u8]]) -> Result<(), MemStoreError> {
        if self.fail_writes {
            return Err(MemStoreError);
        }
        self.chunks = snapshot.iter().map(|c| (ChunkKind::Snapshot, c.to_vec())).collect();
        Ok(())
    }

    fn archive(&mut self) -> Option<crate::rollover::archive::Archive<'_>> {
        Some(self.archive.archive())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DeviceId, MessageId, ParticipantId};
    use crate::message::{Author, Message, MessageKind, Role};
    use crate::shared_doc::SharedDoc;

    fn message(i: usize) -> Message {
        Message {
            id: MessageId::new(format!("m{i:05}")).unwrap(),
            author: Author {
                role: Role::Visitor,
                id: ParticipantId::new("v1").unwrap(),
                name: "Visitor".into(),
            },
            device: DeviceId::new("d1").unwrap(),
            kind: MessageKind::Text,
            body: format!("message number {i}"),
            sent_at: 1_700_000_000_000 + i as i64,
            attachment: None,
        }
    }

    #[test]
    fn increments_reload_to_the_same_document() {
        let (mut doc, mut p) =
            Persister::open::<SharedDoc>(MemStore::default(), ActorId::random()).unwrap();
        for i in 0..20 {
            doc.append(&message(i), i as i64).unwrap();
            assert!(matches!(p.persist(&doc).unwrap(), Persisted::Increment { .. }));
        }
        assert_eq!(p.persist(&doc).unwrap(), Persisted::Nothing);
        let (loaded, p2) = Persister::open::<SharedDoc>(p.into_store(), ActorId::random()).unwrap();
        assert_eq!(loaded.heads(), doc.heads());
        assert_eq!(loaded.messages(), doc.messages());
        assert_eq!(p2.stats().increment_rows, 20);
    }

    #[test]
    fn increments_are_compacted_once_they_outgrow_the_snapshot() {
        let (mut doc, mut p) =
            Persister::open::<SharedDoc>(MemStore::default(), ActorId::random()).unwrap();
        let mut compactions = 0;
        for i in 0..2000 {
            doc.append(&message(i), i as i64).unwrap();
            if let Persisted::Compacted { .. } = p.persist(&doc).unwrap() {
                compactions += 1;
            }
            let s = p.stats();
            assert!(s.increment_bytes <= MIN_COMPACTION_BYTES.max(s.snapshot_bytes));
        }
        assert!(compactions >= 1, "2000 messages never compacted");
        let stats = p.stats();
        let (loaded, _) = Persister::open::<SharedDoc>(p.into_store(), ActorId::random()).unwrap();
        assert_eq!(loaded.message_count(), 2000);
        assert_eq!(loaded.heads(), doc.heads());
        assert!(stats.total_bytes() < 2000 * 400, "{stats:?}");
    }

    #[test]
    fn snapshot_larger_than_a_row_is_split_and_rejoined() {
        let (mut doc, mut p) =
            Persister::open::<SharedDoc>(MemStore::default(), ActorId::random()).unwrap();
        // Incompressible bodies, so the snapshot really exceeds one row.
        let mut seed = 0x9e3779b97f4a7c15u64;
        for i in 0..300 {
            let mut m = message(i);
            m.body = (0..10_000)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    char::from(b'a' + (seed % 26) as u8)
                })
                .collect();
            doc.append(&m, 0).unwrap();
        }
        let Persisted::Compacted { rows, .. } = p.compact(&doc).unwrap() else { panic!() };
        assert!(rows >= 2, "expected a multi-row snapshot, got {rows}");
        assert!(p.store().chunks.iter().all(|(_, c)| c.len() <= MAX_ROW_BYTES));
        let (loaded, _) = Persister::open::<SharedDoc>(p.into_store(), ActorId::random()).unwrap();
        assert_eq!(loaded.messages(), doc.messages());
    }

    #[test]
    fn a_failed_write_leaves_the_changes_pending() {
        let (mut doc, mut p) =
            Persister::open::<SharedDoc>(MemStore::default(), ActorId::random()).unwrap();
        doc.append(&message(0), 0).unwrap();
        p.store_mut().fail_writes = true;
        assert!(matches!(p.persist(&doc), Err(StoreError::Backend(_))));
        p.store_mut().fail_writes = false;
        assert!(matches!(p.persist(&doc).unwrap(), Persisted::Increment { .. }));
        let (loaded, _) = Persister::open::<SharedDoc>(p.into_store(), ActorId::random()).unwrap();
        assert_eq!(loaded.message_count(), 1);
    }
}
