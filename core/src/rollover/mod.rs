//! Conversations without an end (PROTOCOL.md §16): the live document holds a bounded recent
//! part; older parts are sealed into immutable archive segments.
//!
//! An Automerge document never forgets its history, so a conversation kept in one document
//! grows past the isolate's memory (a 100k-message document needs ~230 MiB to load). When the
//! live document reaches [`crate::limits::Limits::rollover_messages`], the relay seals it
//! whole as segment `epoch` (its compressed save, under a key of its own: [`segment`]) and
//! starts epoch `epoch + 1` with a fresh document that carries over what is not history
//! (status, profile and rating, read marks: [`carry`]). Devices learn the new epoch when
//! they connect with an older one (close 4409) and move their unacknowledged messages over
//! themselves: a device's writes in epoch `e` can only ever have been stored in segment `e`,
//! which never changes again, so the device checks its pending ids against that segment's
//! history ([`history`]) and rewrites the rest into the new epoch, exactly once.
//!
//! What the inbox summary and the workflow need from before the seal (how many messages, since
//! when the visitor waits, the last preview, unread counts) travels in a [`Carry`] the relay
//! keeps beside the live document.

pub mod archive;
pub mod carried;
pub mod carry;
pub mod history;
pub mod migrate;
pub mod retention;
pub mod segment;
#[cfg(test)]
mod tests;

pub use carried::Carry;

use crate::inbox::summary;
use crate::inbox::tail::Tail;
use crate::internal_doc::{CaseField, InternalDoc};
use crate::shared_doc::SharedDoc;
use crate::workflow::timeline::Timeline;

/// Close code sent to a device whose replica is of another epoch than the live document.
pub const CLOSE_EPOCH_MOVED: u16 = 4409;
/// The Notice `type` that comes with [`CLOSE_EPOCH_MOVED`].
pub const NOTICE_ROLLOVER: &str = "rollover";

/// The Notice sent before [`CLOSE_EPOCH_MOVED`]: the error notice's fields plus the live
/// epoch, which the device connects with after moving its writes over.
pub fn notice(live_epoch: u64, yours: u64) -> Vec<u8> {
    let body = serde_json::json!({
        "type": NOTICE_ROLLOVER,
        "code": CLOSE_EPOCH_MOVED,
        "message": reason(live_epoch, yours),
        "epoch": live_epoch,
    });
    let mut f = vec![crate::frame::FrameType::Notice as u8];
    f.extend_from_slice(body.to_string().as_bytes());
    f
}

/// The close reason that goes with [`notice`].
pub fn reason(live_epoch: u64, yours: u64) -> String {
    format!("conversation is at epoch {live_epoch}, your replica at {yours}: move pending writes over (PROTOCOL.md 16.2)")
}

/// A segment the relay sealed in a call, for the owner to store with the call's other
/// writes (same transaction as the new live document).
#[derive(Debug, Clone, PartialEq)]
pub struct Sealed {
    /// The sealed segment's epoch; the live document is now `epoch + 1`.
    pub epoch: u64,
    /// The sealed document (`save()`, compressed).
    pub snapshot: Vec<u8>,
    /// Messages in it.
    pub messages: u64,
    /// What the new live document carries over, to store beside it.
    pub carry: Carry,
}

impl Carry {
    /// What the epoch after this one carries, sealing `doc` (the live document of this epoch,
    /// which `tail` is up to date with). `timeline` is the workflow's, if it keeps one; it is
    /// scanned otherwise, so a workflow configured later still sees the sealed wait.
    pub fn next(
        &self,
        doc: &SharedDoc,
        internal: &InternalDoc,
        tail: &Tail,
        timeline: Option<&Timeline>,
    ) -> Carry {
        let assignee = internal.case_field(CaseField::Assignee);
        let timeline = match timeline {
            Some(tl) => tl.compacted(),
            None => Timeline::resume(self.timeline.clone(), doc, internal).compacted(),
        };
        Carry {
            epoch: self.epoch + 1,
            archived: self.archived + u64::try_from(doc.message_count()).unwrap_or(u64::MAX),
            created_at: self.created_at.or(tail.created_at()),
            last: tail.last().cloned().or_else(|| self.last.clone()),
            last_said: tail.last_said().cloned().or_else(|| self.last_said.clone()),
            visitor_name: tail
                .visitor_name()
                .map(str::to_owned)
                .or_else(|| self.visitor_name.clone()),
            unanswered_since: summary::unanswered_since(tail, self),
            unread_any_staff: summary::unread(doc, tail, self, None),
            unread_assignee: assignee.map(|a| {
                let n = summary::unread(doc, tail, self, Some(&a));
                (a, n)
            }),
            timeline: Some(timeline),
            sealed_heads: doc.heads().iter().map(|h| h.to_string()).collect(),
            legal_hold: self.legal_hold.clone(),
        }
    }
}
