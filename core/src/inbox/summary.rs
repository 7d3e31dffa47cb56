//! A conversation as the inbox lists it: what a conversation object pushes to its
//! workspace's inbox after every change (PROTOCOL.md §15).
//!
//! Computed from the documents, never stored by the conversation as truth: the inbox row is a
//! cache the conversation can always rebuild. `version` orders pushes, so a late or repeated
//! push never overwrites a newer one.

use serde::{Deserialize, Serialize};

use crate::internal_doc::Priority;
use crate::workflow::status::State;

/// Longest preview of the last message, in characters.
pub const PREVIEW_CHARS: usize = 120;
/// Unread counts stop here: a badge shows "999+", and counting costs a scan back to the mark.
pub const MAX_UNREAD: u32 = 999;
/// The channel of a visitor whose token names none.
pub const DEFAULT_CHANNEL: &str = "web";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub conversation: String,
    pub version: u64,
    pub status: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<i64>,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub tags: Vec<String>,
    pub channel: String,
    pub language: Option<String>,
    pub visitor_name: Option<String>,
    pub vip: bool,
    /// Visitor messages after the assignee's read mark (after any agent's, if unassigned).
    pub unread: u32,
    /// Since when the visitor has been waiting for staff (ms), if it is.
    pub waiting_since: Option<i64>,
    pub last_message_at: Option<i64>,
    pub last_preview: Option<String>,
    pub created_at: i64,
    pub messages: u32,
}

/// The priority's position for sorting: low 0 … urgent 3.
pub fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}
