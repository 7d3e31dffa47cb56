//! The relay's side of rollover (PROTOCOL.md §16): sealing the live document, finishing a
//! rollover a crash cut short, refusing replicas of another epoch, and paging the sealed
//! history.

use automerge::ActorId;

use super::Relay;
use crate::inbox::tail::Tail;
use crate::rollover::archive::{ArchiveError, SegmentInfo};
use crate::rollover::history::{self, Archived, Cursor, Page};
use crate::rollover::Sealed;
use crate::shared_doc::{DocError, SharedDoc};
use crate::store::{ChunkStore, StoreError};

/// Why a page of history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("segment {epoch} does not exist: the conversation's live epoch is {live}")]
    NoSuchSegment { epoch: u64, live: u64 },
    #[error("segment {epoch} has expired: retention deleted it")]
    Shredded { epoch: u64 },
    #[error("this relay's storage keeps no history")]
    NoArchive,
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("a sealed segment is unreadable: {0}")]
    Doc(#[from] DocError),
}

impl<S: ChunkStore> Relay<S> {
    /// A rollover that stored its segment and carry but not the new live document (a crash
    /// between the writes, [`crate::rollover::archive`]) is finished: the stored document is
    /// the sealed one, so the new epoch starts from it again.
    pub(super) fn finish_interrupted_rollover(
        &mut self,
        now_ms: i64,
    ) -> Result<(), StoreError<S::Error>> {
        let heads: Vec<String> = self.doc.heads().iter().map(|h| h.to_string()).collect();
        if self.carry.epoch == 0 || heads.is_empty() || heads != self.carry.sealed_heads {
            return Ok(());
        }
        let next = self.next_epoch_doc(now_ms)?;
        self.persister.compact(&next)?;
        self.doc = next;
        self.message_ids.clear();
        Ok(())
    }

    /// The next epoch's live document: the schema, then the state carried over.
    fn next_epoch_doc(&self, now_ms: i64) -> Result<SharedDoc, DocError> {
        let mut next = SharedDoc::new(ActorId::from(crate::schema::RELAY_ACTOR))?;
        crate::rollover::carry::copy_state(&self.doc, &mut next, now_ms)?;
        Ok(next)
    }

    /// Whether a device whose replica is of epoch `theirs` may connect: `Err` with the notice
    /// frame and close reason (code [`crate::rollover::CLOSE_EPOCH_MOVED`]) when its replica
    /// is of another epoch than the live document. A device that names none holds epoch 0.
    pub fn check_epoch(&self, theirs: u64) -> Result<(), (Vec<u8>, String)> {
        let live = self.carry.epoch;
        if theirs == live {
            return Ok(());
        }
        Err((crate::rollover::notice(live, theirs), crate::rollover::reason(live, theirs)))
    }

    /// A page of the sealed history (PROTOCOL.md §16.3): at most `limit` messages before
    /// `before`, within segment `only` if given.
    pub fn history(
        &mut self,
        before: Option<Cursor>,
        only: Option<u64>,
        limit: usize,
    ) -> Result<Page, HistoryError> {
        let live = self.carry.epoch;
        let cache = &mut self.history_cache;
        let store = self.persister.store_mut();
        history::page(live, before, only, limit, |epoch| -> Result<Vec<Archived>, HistoryError> {
            if let Some((e, messages)) = cache.as_ref() {
                if *e == epoch {
                    return Ok(messages.clone());
                }
            }
            let mut archive = store.archive().ok_or(HistoryError::NoArchive)?;
            let bytes = archive.segment(epoch)?.ok_or(HistoryError::Shredded { epoch })?;
            let messages = history::read_segment(epoch, &bytes)?;
            *cache = Some((epoch, messages.clone()));
            Ok(messages)
        })
        .map_err(|e| match e {
            history::HistoryError::NoSuchSegment { epoch, live } => {
                HistoryError::NoSuchSegment { epoch, live }
            }
            history::HistoryError::Load(e) => e,
        })
    }

    /// The live document's epoch (0 until the first rollover).
    pub fn epoch(&self) -> u64 {
        self.carry.epoch
    }

    /// Seals the live document as a segment and starts the next epoch, once it holds
    /// [`crate::limits::Limits::rollover_messages`] (or the workspace's lower
    /// `archive_after_messages`). Called after a frame's writes are persisted and its
    /// answers computed: they belong to the sealed epoch. Every peer's sync session belonged
    /// to it too, so they are dropped; the owner closes their sockets with
    /// [`crate::rollover::CLOSE_EPOCH_MOVED`] after sending the answers.
    pub(super) fn maybe_roll_over(&mut self, now_ms: i64) -> Result<(), StoreError<S::Error>> {
        let limit = self.rollover_bound();
        if limit == 0 || self.doc.message_count() < limit {
            return Ok(());
        }
        self.roll_over(now_ms)
    }

    /// Seals the live document now (a store without an archive never rolls over).
    pub(super) fn roll_over(&mut self, now_ms: i64) -> Result<(), StoreError<S::Error>> {
        if self.persister.store_mut().archive().is_none() {
            return Ok(());
        }
        self.tail.update(&self.doc);
        let carry = self.carry.next(&self.doc, &self.internal, &self.tail, self.timeline.as_ref());
        let next = self.next_epoch_doc(now_ms)?;
        let epoch = self.carry.epoch;
        let snapshot = self.doc.automerge().save();
        let messages = u64::try_from(self.doc.message_count()).unwrap_or(u64::MAX);
        // Segment, carry, live document: in this order, so no crash loses a sealed message
        // (crate::rollover::archive).
        let no_archive = || StoreError::Archive(ArchiveError::Storage("no archive".into()));
        let mut archive = self.persister.store_mut().archive().ok_or_else(no_archive)?;
        archive.put_segment(epoch, &snapshot, messages, now_ms).map_err(StoreError::Archive)?;
        self.segments.retain(|s| s.epoch != epoch);
        self.segments.push(SegmentInfo { epoch, messages, sealed_at: now_ms, shredded_at: None });
        archive.put_carry(&carry).map_err(StoreError::Archive)?;
        self.persister.compact(&next)?;
        let sealed = Sealed { epoch, snapshot, messages, carry: carry.clone() };
        self.doc = next;
        self.message_ids.clear();
        self.tail = Tail::new();
        if let Some(tl) = self.timeline.as_mut() {
            *tl = tl.compacted();
        }
        self.carry = carry;
        self.peers.clear();
        self.sealed = Some(sealed);
        Ok(())
    }
}
