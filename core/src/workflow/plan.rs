//! What the rules decide: the relay's own writes and the events for webhooks. The rules only
//! describe; the relay applies a plan to the documents, audits it and persists it with the
//! change that caused it.

use std::collections::BTreeSet;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::config::WorkspaceConfig;
use super::profile::VisitorProfile;
use super::status::Status;
use super::timeline::Timeline;
use super::timers::Facts;
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::internal_doc::Priority;
use crate::message::{Author, Message, MessageKind, Role, MAX_BODY_BYTES};

/// The participant id and device the relay writes as.
pub const RELAY_PARTICIPANT: &str = "edgedesk";
pub const RELAY_DEVICE: &str = "relay";

/// Everything the rules read.
pub struct Ctx<'a> {
    pub cfg: &'a WorkspaceConfig,
    pub tl: &'a Timeline,
    pub facts: &'a Facts,
    pub priority: Option<Priority>,
    pub tags: &'a BTreeSet<String>,
    pub visitor: &'a VisitorProfile,
    pub now: i64,
}

/// An event for the webhook outbox, before the relay names the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: &'static str,
    /// Unique per cause (see [`super::event::WebhookEvent::id`]).
    pub id: String,
    pub data: Value,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Auto-replies, in order.
    pub replies: Vec<Message>,
    pub status: Option<Status>,
    pub add_tags: BTreeSet<String>,
    pub remove_tags: BTreeSet<String>,
    pub priority: Option<Priority>,
    /// The agent the conversation is assigned to (only ever set while nobody is).
    pub assign: Option<ParticipantId>,
    /// Audit markers: (field, value).
    pub marks: Vec<(String, String)>,
    pub events: Vec<Event>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        *self == Plan::default()
    }

    /// Raises the priority to `p` unless it is already at least that (none counts as normal).
    /// Returns whether it rose.
    pub fn raise(&mut self, ctx: &Ctx<'_>, p: Priority) -> bool {
        let current = self.priority.or(ctx.priority).unwrap_or(Priority::Normal);
        if p > current {
            self.priority = Some(p);
            true
        } else {
            false
        }
    }

    /// Adds a tag the conversation does not carry (and no earlier step removed).
    pub fn tag(&mut self, ctx: &Ctx<'_>, tag: &str) {
        self.remove_tags.remove(tag);
        if !ctx.tags.contains(tag) {
            self.add_tags.insert(tag.to_owned());
        }
    }

    pub fn untag(&mut self, ctx: &Ctx<'_>, tag: &str) {
        self.add_tags.remove(tag);
        if ctx.tags.contains(tag) {
            self.remove_tags.insert(tag.to_owned());
        }
    }

    pub fn mark(&mut self, field: &str, value: impl Into<String>) {
        self.marks.push((field.to_owned(), value.into()));
    }

    pub fn event(&mut self, kind: &'static str, id: impl Into<String>, data: Value) {
        self.events.push(Event { kind, id: id.into(), data });
    }

    /// Merges `other` into `self`, later decisions winning.
    pub fn extend(&mut self, other: Plan) {
        self.replies.extend(other.replies);
        if other.status.is_some() {
            self.status = other.status;
        }
        for t in other.add_tags {
            self.remove_tags.remove(&t);
            self.add_tags.insert(t);
        }
        for t in other.remove_tags {
            self.add_tags.remove(&t);
            self.remove_tags.insert(t);
        }
        if other.priority.is_some() {
            self.priority = other.priority;
        }
        if other.assign.is_some() {
            self.assign = other.assign;
        }
        self.marks.extend(other.marks);
        self.events.extend(other.events);
    }
}

/// The id of the relay's reply to message `cause`: derived, so replying twice to one message
/// is a duplicate id the relay skips, whatever happened in between.
pub fn reply_id(cause: &str) -> MessageId {
    let digest = Sha256::digest(cause.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    // 29 ASCII characters: always valid; the fallback only keeps this path panic-free.
    MessageId::new(format!("auto-{hex}")).unwrap_or_else(|_| MessageId::random())
}

/// A message written by the relay itself.
/// Template texts are bounded, but variables (a visitor's attributes) can lengthen them: the
/// body is cut, on a character boundary, to what any message may hold.
pub fn relay_message(cfg: &WorkspaceConfig, id: MessageId, mut body: String, now: i64) -> Message {
    if body.len() > MAX_BODY_BYTES {
        let mut end = MAX_BODY_BYTES;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
    }
    let name = if cfg.bot_name.is_empty() { RELAY_PARTICIPANT } else { cfg.bot_name.as_str() };
    Message {
        id,
        author: Author { role: Role::Server, id: relay_participant(), name: name.to_owned() },
        device: relay_device(),
        kind: MessageKind::AutoReply,
        body,
        sent_at: now,
        attachment: None,
    }
}

pub fn relay_participant() -> ParticipantId {
    ParticipantId::constant(RELAY_PARTICIPANT)
}

pub fn relay_device() -> DeviceId {
    DeviceId::constant(RELAY_DEVICE)
}

/// A message as webhook receivers see it.
pub fn message_json(m: &Message, accepted_at: i64) -> Value {
    serde_json::json!({
        "message": {
            "id": m.id, "kind": m.kind, "body": m.body, "sent_at": m.sent_at,
            "author": { "role": m.author.role, "id": m.author.id, "name": m.author.name },
        },
        "accepted_at": accepted_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_ids_are_derived_and_valid() {
        let a = reply_id("m-1");
        assert_eq!(a, reply_id("m-1"));
        assert_ne!(a, reply_id("m-2"));
        assert!(a.as_str().starts_with("auto-"));
        // Any message id (up to 64 bytes) yields a valid reply id.
        let long = "x".repeat(64);
        assert!(reply_id(&long).as_str().len() <= 64);
    }

    #[test]
    fn an_overlong_rendered_reply_is_cut_on_a_character_boundary() {
        let body = "退".repeat(MAX_BODY_BYTES); // 3 bytes each
        let m = relay_message(&WorkspaceConfig::default(), reply_id("m"), body, 0);
        assert!(m.body.len() <= MAX_BODY_BYTES && m.body.len() > MAX_BODY_BYTES - 3);
        assert!(m.body.chars().all(|c| c == '退'));
    }
}
