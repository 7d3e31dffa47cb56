//! Where sealed segments and the [`Carry`] are kept: beside the live document, in the same
//! store, so a rollover writes them before it replaces the live document's rows.
//!
//! Order matters more than atomicity here (Durable Object SQL has no multi-statement
//! transaction the Worker can hold): the segment is written first (rewriting a segment left
//! by an interrupted rollover is harmless), then the carry naming the sealed document's heads,
//! then the live document's rows. A crash between the last two leaves the sealed document as
//! the live one with a carry that says it was sealed: [`super::super::relay::Relay`] sees the
//! heads match on open and finishes the rollover. No order loses a sealed message.

use std::collections::BTreeMap;

use super::segment::{self, SealedSegment, SegmentError};
use super::Carry;
use crate::at_rest::{ChunkCipher, DataKey};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive storage: {0}")]
    Storage(String),
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error("the conversation's carry record does not open: {0}")]
    Carry(String),
}

/// A segment's bookkeeping, readable without its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub epoch: u64,
    pub messages: u64,
    pub sealed_at: i64,
    /// When retention shredded it (its key and rows are gone).
    pub shredded_at: Option<i64>,
}

/// Sealed rows as a backend keeps them: SQLite in the Durable Object, memory in tests.
pub trait ArchiveRows {
    /// Stores segment `info.epoch`, replacing whatever an interrupted rollover left of it.
    fn put_segment(
        &mut self,
        info: SegmentInfo,
        segment: &SealedSegment,
    ) -> Result<(), ArchiveError>;
    /// Segment `epoch`'s rows and wrapped key; `None` if it never existed or was shredded.
    fn segment(&mut self, epoch: u64) -> Result<Option<SealedSegment>, ArchiveError>;
    fn segments(&mut self) -> Result<Vec<SegmentInfo>, ArchiveError>;
    /// Crypto-shreds segment `epoch`: deletes its wrapped key and its rows, keeps its
    /// bookkeeping with `shredded_at`.
    fn shred(&mut self, epoch: u64, at: i64) -> Result<(), ArchiveError>;
    fn put_carry(&mut self, sealed: &[u8]) -> Result<(), ArchiveError>;
    fn carry(&mut self) -> Result<Option<Vec<u8>>, ArchiveError>;
}

/// The archive of one conversation: sealing and opening over its rows.
pub struct Archive<'a> {
    pub rows: &'a mut dyn ArchiveRows,
    pub cipher: &'a ChunkCipher,
}

const CARRY_RECORD: &str = "carry";

impl Archive<'_> {
    pub fn put_segment(
        &mut self,
        epoch: u64,
        snapshot: &[u8],
        messages: u64,
        sealed_at: i64,
    ) -> Result<(), ArchiveError> {
        let sealed = segment::seal(self.cipher, epoch, snapshot)
            .map_err(|e| ArchiveError::Storage(e.to_string()))?;
        let info = SegmentInfo { epoch, messages, sealed_at, shredded_at: None };
        self.rows.put_segment(info, &sealed)
    }

    /// The sealed document of segment `epoch`, if it exists.
    pub fn segment(&mut self, epoch: u64) -> Result<Option<Vec<u8>>, ArchiveError> {
        match self.rows.segment(epoch)? {
            Some(s) => Ok(Some(segment::open(self.cipher, epoch, &s)?)),
            None => Ok(None),
        }
    }

    pub fn put_carry(&mut self, carry: &Carry) -> Result<(), ArchiveError> {
        let json = serde_json::to_vec(carry).map_err(|e| ArchiveError::Carry(e.to_string()))?;
        let sealed = self
            .cipher
            .seal_record(CARRY_RECORD, &[], &json)
            .map_err(|e| ArchiveError::Storage(e.to_string()))?;
        self.rows.put_carry(&sealed)
    }

    /// The stored carry; the default (epoch 0) for a conversation that never rolled over.
    pub fn carry(&mut self) -> Result<Carry, ArchiveError> {
        let Some(sealed) = self.rows.carry()? else { return Ok(Carry::default()) };
        let json = self
            .cipher
            .open_record(CARRY_RECORD, &[], &sealed)
            .map_err(|e| ArchiveError::Carry(e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| ArchiveError::Carry(e.to_string()))
    }
}

/// [`ArchiveRows`] in memory.
#[derive(Debug, Clone, Default)]
pub struct MemRows {
    pub segments: BTreeMap<u64, (SegmentInfo, SealedSegment)>,
    pub carry: Option<Vec<u8>>,
}

impl ArchiveRows for MemRows {
    fn put_segment(
        &mut self,
        info: SegmentInfo,
        segment: &SealedSegment,
    ) -> Result<(), ArchiveError> {
        self.segments.insert(info.epoch, (info, segment.clone()));
        Ok(())
    }

    fn segment(&mut self, epoch: u64) -> Result<Option<SealedSegment>, ArchiveError> {
        let kept = self.segments.get(&epoch).filter(|(i, _)| i.shredded_at.is_none());
        Ok(kept.map(|(_, s)| s.clone()))
    }

    fn segments(&mut self) -> Result<Vec<SegmentInfo>, ArchiveError> {
        Ok(self.segments.values().map(|(i, _)| *i).collect())
    }

    fn shred(&mut self, epoch: u64, at: i64) -> Result<(), ArchiveError> {
        if let Some((info, segment)) = self.segments.get_mut(&epoch) {
            info.shredded_at = Some(at);
            *segment = SealedSegment { wrapped_key: Vec::new(), rows: Vec::new() };
        }
        Ok(())
    }

    fn put_carry(&mut self, sealed: &[u8]) -> Result<(), ArchiveError> {
        self.carry = Some(sealed.to_vec());
        Ok(())
    }

    fn carry(&mut self) -> Result<Option<Vec<u8>>, ArchiveError> {
        Ok(self.carry.clone())
    }
}

/// An archive in memory with a fixed test key: for tests and simulations.
#[derive(Debug, Clone)]
pub struct MemArchive {
    pub rows: MemRows,
    pub cipher: ChunkCipher,
}

impl Default for MemArchive {
    fn default() -> Self {
        let cipher = ChunkCipher::new(&DataKey::from_bytes([0x5a; 32]), "memory");
        Self { rows: MemRows::default(), cipher }
    }
}

impl MemArchive {
    pub fn archive(&mut self) -> Archive<'_> {
        Archive { rows: &mut self.rows, cipher: &self.cipher }
    }
}
