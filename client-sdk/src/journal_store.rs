//! A replica store for backends that can only write asynchronously (IndexedDB).
//!
//! Core's [`ChunkStore`] is synchronous: the session persists inside the call that changed the
//! document. A browser cannot write IndexedDB that way, so this store records each write and
//! hands them to the backend in batches; the SDK resolves a `sendText` promise only once the
//! batch holding its change has committed, which keeps the durability promise of the native
//! SDK. A batch is coalesced: increments written before a compaction are already in the
//! snapshot and are never written at all.
//!
//! Rows are keyed by the backend (IndexedDB's key generator, which only grows), and a
//! compaction deletes exactly the rows this store loaded or wrote. Another tab writing the
//! same replica therefore never loses a row to us: its rows stay, and the next load joins
//! them (Automerge ignores changes it already holds).

use std::convert::Infallible;

use edgedesk_core::store::{ChunkKind, ChunkStore};

/// One row of the backend: its key, what it holds, its bytes.
pub type Row = (u64, ChunkKind, Vec<u8>);

/// What the backend must do, in one atomic transaction: delete `delete`, then add `add` in
/// order (each row gets a new key, in the order given).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flush {
    pub delete: Vec<u64>,
    pub add: Vec<(ChunkKind, Vec<u8>)>,
    /// The last write this flush covers: [`JournalStore::committed`] takes it back.
    pub upto: u64,
}

#[derive(Debug)]
enum Write {
    Append(Vec<u8>),
    Replace(Vec<Vec<u8>>),
}

#[derive(Debug, Default)]
pub struct JournalStore {
    /// The rows read at open, until the session has loaded them.
    loaded: Option<Vec<(ChunkKind, Vec<u8>)>>,
    /// Keys of the rows we read or wrote that still hold part of the document.
    known: Vec<u64>,
    /// Writes not yet handed to the backend, in order.
    queued: Vec<Write>,
    /// The sequence number of the latest write; 0 before any.
    written: u64,
    /// Every write up to this one is committed.
    durable: u64,
    /// A flush is with the backend: its deletes must not be planned twice.
    in_flight: bool,
}

impl JournalStore {
    /// A store over rows read from the backend (in key order).
    pub fn new(rows: Vec<Row>) -> Self {
        let known = rows.iter().map(|(k, _, _)| *k).collect();
        let loaded = rows.into_iter().map(|(_, kind, bytes)| (kind, bytes)).collect();
        Self { loaded: Some(loaded), known, ..Self::default() }
    }

    /// The sequence number of the latest write: durable once [`Self::durable`] reaches it.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn durable(&self) -> u64 {
        self.durable
    }

    /// The next batch for the backend, if there is one and none is in flight.
    pub fn take_flush(&mut self) -> Option<Flush> {
        if self.in_flight || self.queued.is_empty() {
            return None;
        }
        let upto = self.written;
        let last_replace = self.queued.iter().rposition(|w| matches!(w, Write::Replace(_)));
        let mut flush = Flush { upto, ..Flush::default() };
        let writes = std::mem::take(&mut self.queued);
        let start = last_replace.unwrap_or(0);
        for write in writes.into_iter().skip(start) {
            match write {
                Write::Replace(rows) => {
                    flush.delete = self.known.clone();
                    flush.add = rows.into_iter().map(|r| (ChunkKind::Snapshot, r)).collect();
                }
                Write::Append(chunk) => flush.add.push((ChunkKind::Increment, chunk)),
            }
        }
        self.in_flight = true;
        Some(flush)
    }

    /// The backend committed `flush`, giving its added rows these keys (in order).
    pub fn committed(&mut self, flush: &Flush, keys: Vec<u64>) {
        self.known.retain(|k| !flush.delete.contains(k));
        self.known.extend(keys);
        self.durable = self.durable.max(flush.upto);
        self.in_flight = false;
    }

    /// The backend failed `flush`: its writes go back to the front of the queue (nothing of
    /// a failed transaction is kept), to be tried with the next flush.
    pub fn failed(&mut self, flush: Flush) {
        let mut again: Vec<Write> = Vec::new();
        let snapshot: Vec<Vec<u8>> = flush
            .add
            .iter()
            .filter(|(k, _)| *k == ChunkKind::Snapshot)
            .map(|(_, b)| b.clone())
            .collect();
        if !snapshot.is_empty() {
            again.push(Write::Replace(snapshot));
        }
        for (kind, bytes) in flush.add {
            if kind == ChunkKind::Increment {
                again.push(Write::Append(bytes));
            }
        }
        again.append(&mut self.queued);
        self.queued = again;
        self.in_flight = false;
    }

    fn record(&mut self, write: Write) {
        self.written += 1;
        self.queued.push(write);
    }
}

impl ChunkStore for JournalStore {
    type Error = Infallible;

    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, Infallible> {
        Ok(self.loaded.take().unwrap_or_default())
    }

    fn append(&mut self, chunk: &[u8]) -> Result<(), Infallible> {
        self.record(Write::Append(chunk.to_vec()));
        Ok(())
    }

    fn replace_all(&mut self, snapshot: &[&[u8]]) -> Result<(), Infallible> {
        self.record(Write::Replace(snapshot.iter().map(|r| r.to_vec()).collect()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
