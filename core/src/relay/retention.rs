//! The relay's side of retention (PROTOCOL.md §16.4): archiving the live document by age and
//! shredding due segments from the alarm, the timers that wake it, and an admin's legal hold.

use super::workflow::relay_entry;
use super::{Output, Relay, RelayError};
use crate::internal_doc::AuditAction;
use crate::rollover::carried::LegalHold;
use crate::rollover::retention;
use crate::store::{ChunkStore, StoreError};
use crate::workflow::timers::{Timer, TimerKind};

/// Audit field of a shredded segment (value: `segment E: N messages`), of the live document
/// archived by age (same value) and of a legal hold set or lifted (value: the admin).
pub const SHRED_FIELD: &str = "retention.shredded";
pub const ARCHIVE_FIELD: &str = "retention.archived";
pub const HOLD_FIELD: &str = "retention.legal_hold";

impl<S: ChunkStore> Relay<S> {
    fn policy(&self) -> crate::workflow::config::retention::RetentionPolicy {
        self.workflow.as_ref().map(|w| w.config.retention).unwrap_or_default()
    }

    fn retention_days(&self) -> Option<u32> {
        self.policy().delete_sealed_after_days
    }

    /// The message count that seals the live document (0: never).
    pub(super) fn rollover_bound(&self) -> usize {
        retention::rollover_bound(
            self.limits.rollover_messages,
            self.policy().archive_after_messages,
        )
    }

    /// When the live document is due to be archived by age, if it will be: counted from its
    /// first message's receipt (one read of the document; none without an age bound).
    fn archive_due_at(&self) -> Option<i64> {
        let days = self.policy().archive_after_days?;
        if !self.keeps_archive {
            return None;
        }
        let first = self.doc.message_at(0).map(|m| self.doc.received_at(&m));
        retention::archive_due_at(first, Some(days), self.limits.retention_day_ms)
    }

    /// The timer that archives the live document by age, if one is set.
    pub(super) fn archive_timer(&self) -> Option<Timer> {
        let due_ms = self.archive_due_at()?;
        Some(Timer { kind: TimerKind::Archive, due_ms, cause: "live".into() })
    }

    /// Whether the live document is due to be archived at `now`; if so, audits the run (the
    /// caller persists, then seals with [`Relay::roll_over`]).
    pub(super) fn archive_if_due(&mut self, now: i64) -> Result<bool, RelayError<S::Error>> {
        if self.archive_due_at().is_none_or(|due| due > now) {
            return Ok(false);
        }
        let (epoch, messages) = (self.carry.epoch, self.doc.message_count());
        let value = format!("segment {epoch}: {messages} messages");
        self.internal.record(&[relay_entry(now, ARCHIVE_FIELD, AuditAction::Set, &value)], now)?;
        Ok(true)
    }

    /// The retention timer, if a segment will fall due.
    pub(super) fn retention_timer(&self) -> Option<Timer> {
        let held = self.carry.legal_hold.is_some();
        let day = self.limits.retention_day_ms;
        let due = retention::next_due(&self.segments, self.retention_days(), held, day)?;
        Some(Timer { kind: TimerKind::Retention, due_ms: due, cause: "sealed".into() })
    }

    /// Shreds every segment due at `now`, each audited; how many.
    pub(super) fn shred_due(&mut self, now: i64) -> Result<usize, RelayError<S::Error>> {
        let held = self.carry.legal_hold.is_some();
        let day = self.limits.retention_day_ms;
        let due = retention::due(&self.segments, self.retention_days(), held, day, now);
        if due.is_empty() {
            return Ok(0);
        }
        let Some(archive) = self.persister.store_mut().archive() else { return Ok(0) };
        let mut entries = Vec::new();
        for epoch in &due {
            archive.rows.shred(*epoch, now).map_err(StoreError::Archive)?;
            if let Some(s) = self.segments.iter_mut().find(|s| s.epoch == *epoch) {
                s.shredded_at = Some(now);
                entries.push(relay_entry(
                    now,
                    SHRED_FIELD,
                    AuditAction::Set,
                    &format!("segment {epoch}: {} messages", s.messages),
                ));
            }
        }
        self.history_cache = None;
        self.internal.record(&entries, now)?;
        Ok(due.len())
    }

    /// The newest sealing time among shredded segments: every message received up to it is
    /// gone (the inbox forgets them from search).
    pub(super) fn shredded_through(&self) -> Option<i64> {
        self.segments.iter().filter(|s| s.shredded_at.is_some()).map(|s| s.sealed_at).max()
    }

    /// Sets or lifts an admin's legal hold: while it is set, retention shreds nothing of the
    /// conversation. Audited; the internal document's agents see it.
    pub fn set_legal_hold(
        &mut self,
        hold: bool,
        admin: &str,
        now: i64,
    ) -> Result<Output, RelayError<S::Error>> {
        let result = match self.write_legal_hold(hold, admin, now) {
            Ok(()) => Ok(self.sync_all()),
            Err(e) => Err(e),
        };
        self.finish(result)
    }

    fn write_legal_hold(
        &mut self,
        hold: bool,
        admin: &str,
        now: i64,
    ) -> Result<(), RelayError<S::Error>> {
        if hold == self.carry.legal_hold.is_some() {
            return Ok(());
        }
        let mut carry = self.carry.clone();
        carry.legal_hold = hold.then(|| LegalHold { by: admin.to_owned(), at: now });
        let no_archive = || {
            StoreError::Archive(crate::rollover::archive::ArchiveError::Storage(
                "this store keeps no archive".into(),
            ))
        };
        let mut archive = self.persister.store_mut().archive().ok_or_else(no_archive)?;
        archive.put_carry(&carry).map_err(StoreError::Archive)?;
        self.carry = carry;
        let action = if hold { AuditAction::Set } else { AuditAction::Remove };
        self.internal.record(&[relay_entry(now, HOLD_FIELD, action, admin)], now)?;
        self.persist_both()?;
        Ok(())
    }

    /// Whether a legal hold is set, and by whom.
    pub fn legal_hold(&self) -> Option<&LegalHold> {
        self.carry.legal_hold.as_ref()
    }
}
