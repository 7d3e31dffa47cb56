//! What a conversation object sends its workspace's inbox, and what the inbox answers.
//!
//! Pushes are at least once: the conversation keeps what it sent until the inbox
//! acknowledges it, and sends it again after a failure or a restart. The inbox makes them
//! idempotent: a summary applies only if its version is newer than the stored one, and a
//! message is indexed once per id.

use serde::{Deserialize, Serialize};

use super::summary::Summary;
use crate::message::Role;

/// Most messages carried by one push; a longer backlog (an offline device's burst) goes in
/// several pushes.
pub const MAX_PUSH_MESSAGES: usize = 200;

/// A message for the inbox's search index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedMessage {
    /// The conversation's own sequence number for this entry (acknowledged by `through`).
    pub seq: i64,
    pub id: String,
    pub at: i64,
    pub role: Role,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    pub summary: Summary,
    #[serde(default)]
    pub messages: Vec<IndexedMessage>,
}

/// The inbox's answer: the summary version it now holds and the last message entry indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    pub version: u64,
    pub through: i64,
}

/// The inbox's order to a conversation object: set (or clear) its assignee and team, on
/// behalf of routing (`by` absent) or of an agent's claim or transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignOrder {
    /// The agent to assign; with `clear_assignee` false and this absent, unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default)]
    pub clear_assignee: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<(Role, String)>,
    #[serde(default)]
    pub only_if_unassigned: bool,
}

impl AssignOrder {
    /// The relay's [`crate::relay::Assignment`], ids checked.
    pub fn assignment(&self) -> Result<crate::relay::Assignment, crate::ids::IdError> {
        use crate::ids::{ParticipantId, TeamId};
        let assignee = match (&self.assignee, self.clear_assignee) {
            (Some(a), _) => Some(Some(ParticipantId::new(a.as_str())?)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let team = self.team.as_deref().map(TeamId::new).transpose()?.map(Some);
        let by = match &self.by {
            Some((role, who)) => Some((*role, ParticipantId::new(who.as_str())?)),
            None => None,
        };
        Ok(crate::relay::Assignment {
            assignee,
            team,
            by,
            only_if_unassigned: self.only_if_unassigned,
        })
    }
}
