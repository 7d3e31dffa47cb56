//! The [`Carry`] record: its own module so the inbox summary can read it without depending
//! on how a rollover builds it.

use serde::{Deserialize, Serialize};

use crate::inbox::tail::LastMessage;
use crate::workflow::timeline::Timeline;

/// What the live document's epoch inherits from the sealed ones, kept by the relay beside it
/// (encrypted like everything at rest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Carry {
    /// The live document's epoch: 0 until the first rollover.
    pub epoch: u64,
    /// Messages in the sealed segments.
    pub archived: u64,
    /// When the conversation's first message was received.
    pub created_at: Option<i64>,
    /// The newest sealed message, and the newest one a person wrote (previews).
    pub last: Option<LastMessage>,
    pub last_said: Option<LastMessage>,
    pub visitor_name: Option<String>,
    /// Since when the visitor had been waiting for staff at the seal.
    pub unanswered_since: Option<i64>,
    /// Unread visitor messages at the seal: for any staff member, and for the assignee then.
    pub unread_any_staff: u32,
    pub unread_assignee: Option<(String, u32)>,
    /// The workflow's view of the sealed messages, reduced to what its rules still ask
    /// ([`Timeline::compacted`]).
    pub timeline: Option<Timeline>,
    /// Heads of the document sealed last: if the live document still has them on open, the
    /// rollover stopped before replacing it ([`archive`]) and is finished then.
    #[serde(default)]
    pub sealed_heads: Vec<String>,
    /// An admin's legal hold: retention shreds nothing of this conversation while it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<LegalHold>,
}

/// Who set a legal hold, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub by: String,
    pub at: i64,
}
