//! The values a conversation holds: who wrote what, where from, when.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, MessageId, ParticipantId};

/// Largest message body we accept, in bytes of UTF-8. Every replica holds every message,
/// on phones too, so one message must not be able to cost a device megabytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest display name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// What a participant is in a conversation. Carried in the message author so a reader need
/// not look anything up to render it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Visitor,
    Agent,
    Admin,
    /// The relay itself: auto-replies, system notices.
    Server,
}

impl Role {
    /// The support team: agents and admins.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Agent | Role::Admin)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::Agent => "agent",
            Role::Admin => "admin",
            Role::Server => "server",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "visitor" => Role::Visitor,
            "agent" => Role::Agent,
            "admin" => Role::Admin,
            "server" => Role::Server,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    AutoReply,
    System,
    Event,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::AutoReply => "auto_reply",
            MessageKind::System => "system",
            MessageKind::Event => "event",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => MessageKind::Text,
            "auto_reply" => MessageKind::AutoReply,
            "system" => MessageKind::System,
            "event" => MessageKind::Event,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    pub role: Role,
    pub id: ParticipantId,
    pub name: String,
}

/// One chat message as every replica stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Made by the writing client, so the same message sent twice is recognisably the same.
    pub id: MessageId,
    pub author: Author,
    pub device: DeviceId,
    pub kind: MessageKind,
    pub body: String,
    /// Milliseconds since the Unix epoch, by the writer's clock (informational: the order of
    /// a conversation is the document's list order, which every replica agrees on).
    pub sent_at: i64,
    /// A file sent with the message (its bytes are fetched through a link, PROTOCOL.md §2.10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<crate::attachment::AttachmentRef>,
}
