//! [`EncryptedStore`]: a [`ChunkStore`] that seals every chunk before a raw store keeps it.
//!
//! The raw store ([`SealedChunkStore`]) keeps rows of `(seq, kind, sealed bytes)` per
//! document. This wrapper assigns the sequence numbers (one more than the last row, never
//! reused within a document), seals each chunk for its place, and on load checks that the
//! rows are contiguous with the snapshot first before opening each one, so rows removed from
//! the middle, reordered, renumbered or copied in from elsewhere are refused with a typed
//! error. Rows cut off the end of the tail (a rollback of the storage itself) are the one
//! change this cannot see; only the platform's storage can rule that out.

use super::aead::OVERHEAD;
use super::chunk_cipher::{ChunkCipher, ChunkError, ChunkPlace};
use crate::store::{ChunkKind, ChunkStore, DocLabel};

/// One stored row of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedChunk {
    pub seq: u64,
    pub kind: ChunkKind,
    pub data: Vec<u8>,
}

/// A place that keeps sealed rows per document: SQLite in the Durable Object, memory in
/// tests. It stores what it is given; sequence numbers and sealing are the wrapper's.
pub trait SealedChunkStore {
    type Error: std::error::Error + Send + Sync + 'static;
    /// The document's rows in `seq` order.
    fn load(&mut self, doc: DocLabel) -> Result<Vec<SealedChunk>, Self::Error>;
    /// The highest `seq` the document has, if any row.
    fn last_seq(&mut self, doc: DocLabel) -> Result<Option<u64>, Self::Error>;
    /// Adds a row; durable when this returns.
    fn append(&mut self, doc: DocLabel, chunk: SealedChunk) -> Result<(), Self::Error>;
    /// Replaces every row of the document with `chunks`, atomically.
    fn replace_all(&mut self, doc: DocLabel, chunks: Vec<SealedChunk>) -> Result<(), Self::Error>;
    /// Where sealed segments go (PROTOCOL.md §16); `None` if this backend keeps none.
    fn archive_rows(&mut self) -> Option<&mut dyn crate::rollover::archive::ArchiveRows> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealedStoreError<E: std::error::Error + 'static> {
    #[error("storage backend: {0}")]
    Backend(#[source] E),
    #[error(transparent)]
    Chunk(#[from] ChunkError),
}

/// One document of one conversation, sealed into a raw store.
#[derive(Debug)]
pub struct EncryptedStore<R> {
    raw: R,
    cipher: ChunkCipher,
    doc: DocLabel,
    /// Learnt on load, or asked of the raw store before the first write.
    next_seq: Option<u64>,
}

impl<R: SealedChunkStore> EncryptedStore<R> {
    pub fn new(raw: R, cipher: ChunkCipher, doc: DocLabel) -> Self {
        Self { raw, cipher, doc, next_seq: None }
    }

    pub fn raw(&self) -> &R {
        &self.raw
    }

    /// The conversation's cipher, for records kept next to the documents (webhook outbox).
    pub fn cipher(&self) -> &ChunkCipher {
        &self.cipher
    }

    pub fn raw_mut(&mut self) -> &mut R {
        &mut self.raw
    }

    pub fn into_raw(self) -> R {
        self.raw
    }

    fn next_seq(&mut self) -> Result<u64, SealedStoreError<R::Error>> {
        match self.next_seq {
            Some(s) => Ok(s),
            None => {
                let last = self.raw.last_seq(self.doc).map_err(SealedStoreError::Backend)?;
                Ok(last.map_or(1, |s| s + 1))
            }
        }
    }

    fn place(&self, seq: u64, kind: ChunkKind, snapshot_rows: u64) -> ChunkPlace {
        ChunkPlace { doc: self.doc, seq, kind, snapshot_rows }
    }

    fn check_order(&self, rows: &[SealedChunk]) -> Result<u64, ChunkError> {
        let doc = self.doc;
        let mut snapshot_rows = 0;
        for (i, row) in rows.iter().enumerate() {
            if i > 0 && row.seq != rows[i - 1].seq + 1 {
                return Err(ChunkError::Gap { doc, previous: rows[i - 1].seq, found: row.seq });
            }
            if row.kind == ChunkKind::Snapshot {
                if i as u64 != snapshot_rows {
                    return Err(ChunkError::SnapshotAfterIncrement { doc, seq: row.seq });
                }
                snapshot_rows += 1;
            }
        }
        Ok(snapshot_rows)
    }
}

impl<R: SealedChunkStore> ChunkStore for EncryptedStore<R> {
    type Error = SealedStoreError<R::Error>;

    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, Self::Error> {
        let rows = self.raw.load(self.doc).map_err(SealedStoreError::Backend)?;
        let snapshot_rows = self.check_order(&rows)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let n = if row.kind == ChunkKind::Snapshot { snapshot_rows } else { 0 };
            let plain = self.cipher.open(self.place(row.seq, row.kind, n), &row.data)?;
            out.push((row.kind, plain));
        }
        if let Some(last) = rows.last() {
            self.next_seq = Some(last.seq + 1);
        }
        Ok(out)
    }

    fn append(&mut self, chunk: &[u8]) -> Result<(), Self::Error> {
        let seq = self.next_seq()?;
        let kind = ChunkKind::Increment;
        let data = self.cipher.seal(self.place(seq, kind, 0), chunk).map_err(ChunkError::from)?;
        self.raw
            .append(self.doc, SealedChunk { seq, kind, data })
            .map_err(SealedStoreError::Backend)?;
        self.next_seq = Some(seq + 1);
        Ok(())
    }

    fn replace_all(&mut self, snapshot: &[&[u8]]) -> Result<(), Self::Error> {
        let first = self.next_seq()?;
        let kind = ChunkKind::Snapshot;
        let n = snapshot.len() as u64;
        let mut rows = Vec::with_capacity(snapshot.len());
        for (seq, chunk) in (first..).zip(snapshot) {
            let data =
                self.cipher.seal(self.place(seq, kind, n), chunk).map_err(ChunkError::from)?;
            rows.push(SealedChunk { seq, kind, data });
        }
        self.raw.replace_all(self.doc, rows).map_err(SealedStoreError::Backend)?;
        self.next_seq = Some(first + n);
        Ok(())
    }

    fn chunk_overhead(&self) -> usize {
        OVERHEAD
    }

    fn archive(&mut self) -> Option<crate::rollover::archive::Archive<'_>> {
        let cipher = &self.cipher;
        self.raw.archive_rows().map(|rows| crate::rollover::archive::Archive { rows, cipher })
    }
}

/// A [`SealedChunkStore`] in memory, for tests and simulations.
#[derive(Debug, Clone, Default)]
pub struct MemSealedStore {
    pub rows: Vec<(DocLabel, SealedChunk)>,
}

#[derive(Debug, thiserror::Error)]
#[error("memory store: row {0} exists")]
pub struct MemSealedError(u64);

impl MemSealedStore {
    /// The rows of one document, in order.
    pub fn doc_rows(&self, doc: DocLabel) -> Vec<SealedChunk> {
        let mut rows: Vec<SealedChunk> =
            self.rows.iter().filter(|(d, _)| *d == doc).map(|(_, r)| r.clone()).collect();
        rows.sort_by_key(|r| r.seq);
        rows
    }
}

impl SealedChunkStore for MemSealedStore {
    type Error = MemSealedError;

    fn load(&mut self, doc: DocLabel) -> Result<Vec<SealedChunk>, MemSealedError> {
        Ok(self.doc_rows(doc))
    }

    fn last_seq(&mut self, doc: DocLabel) -> Result<Option<u64>, MemSealedError> {
        Ok(self.rows.iter().filter(|(d, _)| *d == doc).map(|(_, r)| r.seq).max())
    }

    fn append(&mut self, doc: DocLabel, chunk: SealedChunk) -> Result<(), MemSealedError> {
        if self.rows.iter().any(|(d, r)| *d == doc && r.seq == chunk.seq) {
            return Err(MemSealedError(chunk.seq));
        }
        self.rows.push((doc, chunk));
        Ok(())
    }

    fn replace_all(
        &mut self,
        doc: DocLabel,
        chunks: Vec<SealedChunk>,
    ) -> Result<(), MemSealedError> {
        self.rows.retain(|(d, _)| *d != doc);
        self.rows.extend(chunks.into_iter().map(|c| (doc, c)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::at_rest::data_key::{erase, open_data_key, DataKey, KeyError, KeyRecord};
    use crate::at_rest::master_keys::{MasterKey, MasterKeys};
    use crate::ids::{DeviceId, MessageId, ParticipantId};
    use crate::message::{Author, Message, MessageKind, Role};
    use crate::shared_doc::SharedDoc;
    use crate::store::{Persisted, Persister, StoreError, MIN_COMPACTION_BYTES};

    const SECRET: &str = "the-secret-text-of-message";

    fn message(i: usize, body: &str) -> Message {
        Message {
            id: MessageId::new(format!("m{i:05}")).unwrap(),
            author: Author {
                role: Role::Visitor,
                id: ParticipantId::new("v1").unwrap(),
                name: "Visitor".into(),
            },
            device: DeviceId::new("d1").unwrap(),
            kind: MessageKind::Text,
            body: body.into(),
            sent_at: i as i64,
            attachment: None,
        }
    }

    fn store(raw: MemSealedStore, key: &DataKey, doc: DocLabel) -> EncryptedStore<MemSealedStore> {
        EncryptedStore::new(raw, ChunkCipher::new(key, "ws/conv"), doc)
    }

    fn open(
        raw: MemSealedStore,
        key: &DataKey,
    ) -> Result<(SharedDoc, Persister<EncryptedStore<MemSealedStore>>), String> {
        Persister::open::<SharedDoc>(store(raw, key, DocLabel::Shared), ActorId::random())
            .map_err(|e| e.to_string())
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    /// A conversation with `n` messages persisted as increments, then compacted, then two more.
    fn written(key: &DataKey, n: usize) -> (SharedDoc, MemSealedStore) {
        let (mut doc, mut p) = open(MemSealedStore::default(), key).unwrap();
        for i in 0..n {
            doc.append(&message(i, &format!("{SECRET} {i}")), 0).unwrap();
            p.persist(&doc).unwrap();
        }
        p.compact(&doc).unwrap();
        for i in n..n + 2 {
            doc.append(&message(i, &format!("{SECRET} {i}")), 0).unwrap();
            assert!(matches!(p.persist(&doc).unwrap(), Persisted::Increment { .. }));
        }
        (doc, p.into_store().into_raw())
    }

    #[test]
    fn documents_round_trip_through_increments_and_compaction_with_nothing_in_clear() {
        let key = DataKey::generate().unwrap();
        let (doc, raw) = written(&key, 20);
        let rows = raw.doc_rows(DocLabel::Shared);
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [21, 22, 23]);
        assert!(rows.iter().all(|r| !contains(&r.data, SECRET)), "a row holds plaintext");
        let (loaded, p) = open(raw, &key).unwrap();
        assert_eq!(loaded.messages(), doc.messages());
        assert_eq!(loaded.heads(), doc.heads());
        let stats = p.stats();
        let stored: usize = rows.iter().map(|r| r.data.len()).sum();
        assert_eq!(stats.total_bytes(), stored, "stats count the sealed bytes");
    }

    #[test]
    fn the_plaintext_would_be_found_by_the_same_search() {
        // Control for the test above: unsealed, the same bytes do contain the text.
        let key = DataKey::generate().unwrap();
        let (_, raw) = written(&key, 3);
        let mut s = store(raw, &key, DocLabel::Shared);
        let plain = s.load().unwrap();
        assert!(plain.iter().any(|(_, c)| contains(c, SECRET)));
    }

    #[test]
    fn swapped_renumbered_removed_or_foreign_rows_are_refused_with_a_typed_error() {
        let key = DataKey::generate().unwrap();
        let (_, raw) = written(&key, 5);
        let load = |raw: MemSealedStore| store(raw, &key, DocLabel::Shared).load().map(|_| ());
        let rows = raw.doc_rows(DocLabel::Shared);
        assert_eq!(rows.len(), 3);

        // Two rows' contents swapped.
        let mut swapped = raw.clone();
        let (a, b) = (rows[1].data.clone(), rows[2].data.clone());
        swapped.rows[1].1.data = b;
        swapped.rows[2].1.data = a;
        assert!(matches!(
            load(swapped),
            Err(SealedStoreError::Chunk(ChunkError::Unauthentic { seq: 7, .. }))
        ));

        // A row renumbered to the end after removing one.
        let mut moved = raw.clone();
        moved.rows.remove(1);
        moved.rows[1].1.seq = 7;
        assert!(matches!(
            load(moved),
            Err(SealedStoreError::Chunk(ChunkError::Unauthentic { .. }))
        ));

        // A row removed from the middle.
        let mut gap = raw.clone();
        gap.rows.remove(1);
        assert!(matches!(
            load(gap),
            Err(SealedStoreError::Chunk(ChunkError::Gap { previous: 6, found: 8, .. }))
        ));

        // A kind changed.
        let mut kind = raw.clone();
        kind.rows[2].1.kind = ChunkKind::Snapshot;
        assert!(matches!(
            load(kind),
            Err(SealedStoreError::Chunk(ChunkError::SnapshotAfterIncrement { .. }))
        ));

        // One byte flipped.
        let mut flipped = raw.clone();
        flipped.rows[0].1.data[30] ^= 1;
        assert!(matches!(
            load(flipped),
            Err(SealedStoreError::Chunk(ChunkError::Unauthentic { seq: 6, .. }))
        ));

        // The shared document's rows presented as the internal document's.
        let mut other_doc = raw.clone();
        for (d, _) in &mut other_doc.rows {
            *d = DocLabel::Internal;
        }
        assert!(store(other_doc, &key, DocLabel::Internal).load().is_err());

        // Another conversation's key.
        let e = store(raw.clone(), &DataKey::generate().unwrap(), DocLabel::Shared).load();
        assert!(matches!(e, Err(SealedStoreError::Chunk(ChunkError::Unauthentic { .. }))));

        // Through the Persister the failure is a backend error, not a silent empty document.
        let e = Persister::open::<SharedDoc>(
            store(raw, &DataKey::generate().unwrap(), DocLabel::Shared),
            ActorId::random(),
        );
        assert!(matches!(e, Err(StoreError::Backend(SealedStoreError::Chunk(_)))));
    }

    #[test]
    fn both_documents_live_side_by_side_and_sequence_numbers_are_never_reused() {
        let key = DataKey::generate().unwrap();
        let mut raw = MemSealedStore::default();
        for doc in [DocLabel::Shared, DocLabel::Internal] {
            let mut s = store(raw, &key, doc);
            s.append(doc.as_str().as_bytes()).unwrap();
            s.append(b"second").unwrap();
            raw = s.into_raw();
        }
        let mut s = store(raw, &key, DocLabel::Internal);
        // A fresh wrapper asks the raw store where to continue.
        s.replace_all(&[b"snap-a", b"snap-b"]).unwrap();
        s.append(b"after").unwrap();
        let rows = s.raw().doc_rows(DocLabel::Internal);
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4, 5]);
        let got = s.load().unwrap();
        assert_eq!(got[0], (ChunkKind::Snapshot, b"snap-a".to_vec()));
        assert_eq!(got[2], (ChunkKind::Increment, b"after".to_vec()));
        let mut shared = store(s.into_raw(), &key, DocLabel::Shared);
        assert_eq!(shared.load().unwrap()[0].1, b"shared");
    }

    #[test]
    fn a_long_conversation_still_compacts_and_reloads() {
        let key = DataKey::generate().unwrap();
        let (mut doc, mut p) = open(MemSealedStore::default(), &key).unwrap();
        let mut compactions = 0;
        for i in 0..600 {
            doc.append(&message(i, &format!("{SECRET} {i}")), 0).unwrap();
            if let Persisted::Compacted { .. } = p.persist(&doc).unwrap() {
                compactions += 1;
            }
        }
        assert!(compactions >= 1 && p.stats().total_bytes() > MIN_COMPACTION_BYTES / 2);
        let (loaded, _) = open(p.into_store().into_raw(), &key).unwrap();
        assert_eq!(loaded.message_count(), 600);
    }

    #[test]
    fn after_rotation_history_reads_and_after_shredding_it_does_not() {
        let old = MasterKeys::from_keys(vec![MasterKey::new("old", [1; 32]).unwrap()]).unwrap();
        let opened = open_data_key(None, &old, Some("ws/conv")).unwrap();
        let record = opened.to_store.unwrap();
        let (doc, raw) = written(&opened.key, 4);

        let rotated = MasterKeys::from_keys(vec![
            MasterKey::new("new", [2; 32]).unwrap(),
            MasterKey::new("old", [1; 32]).unwrap(),
        ])
        .unwrap();
        let reopened = open_data_key(Some(&record), &rotated, Some("ws/conv")).unwrap();
        let rewrapped = reopened.to_store.unwrap();
        let (loaded, _) = open(raw.clone(), &reopened.key).unwrap();
        assert_eq!(loaded.messages(), doc.messages());

        let new_only =
            MasterKeys::from_keys(vec![MasterKey::new("new", [2; 32]).unwrap()]).unwrap();
        let key = open_data_key(Some(&rewrapped), &new_only, None).unwrap().key;
        assert_eq!(open(raw.clone(), &key).unwrap().0.messages(), doc.messages());

        // Shredding: the record becomes a tombstone; no key opens, and a fresh data key (what
        // a new conversation under the name would get) does not read the old rows.
        let tomb = erase(Some(&rewrapped), "ws/conv", 42);
        assert!(matches!(tomb, KeyRecord::Erased { .. }));
        let e = open_data_key(Some(&tomb), &rotated, Some("ws/conv")).unwrap_err();
        assert_eq!(e, KeyError::Erased { at_ms: 42 });
        assert!(open(raw, &DataKey::generate().unwrap()).is_err());
    }
}
