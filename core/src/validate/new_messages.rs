//! New entries of an append-only list of messages (the conversation's messages, the agents'
//! notes): only whole new maps with exactly the documented fields, authored by the writer.

use std::collections::HashSet;

use automerge::{ObjId, ObjType, Patch, PatchAction, Value};

use super::Violation;
use crate::message::{Message, MessageKind, Role, MAX_BODY_BYTES, MAX_NAME_BYTES};
use crate::message_map::{AUTHOR_KEYS, MESSAGE_KEYS};
use crate::peer::PeerInfo;

/// Collects the maps one input appended to a list, and the objects created inside them.
#[derive(Default)]
pub(super) struct NewMessages {
    /// Maps created by this input: new messages and their author maps.
    fresh: HashSet<ObjId>,
    /// The new messages, in patch order.
    maps: Vec<ObjId>,
}

impl NewMessages {
    /// A patch on the list itself: only insertions of maps are allowed.
    pub fn on_list(&mut self, p: &Patch) -> Result<(), Violation> {
        let PatchAction::Insert { values, .. } = &p.action else {
            return Err(Violation::EditedHistory);
        };
        for (value, id, _) in values.iter() {
            if !matches!(value, Value::Object(ObjType::Map)) {
                return Err(Violation::MalformedMessage("a message must be a map".into()));
            }
            self.fresh.insert(id.clone());
            self.maps.push(id.clone());
        }
        Ok(())
    }

    /// Whether `obj` was created by this input inside a new message.
    pub fn owns(&self, obj: &ObjId) -> bool {
        self.fresh.contains(obj)
    }

    /// A patch inside a new message or its author map: only documented scalar fields set.
    pub fn on_field(&mut self, p: &Patch) -> Result<(), Violation> {
        let PatchAction::PutMap { key, value, .. } = &p.action else {
            return Err(Violation::MalformedMessage(
                "a new message's fields are only set, never deleted or spliced".into(),
            ));
        };
        let is_message = self.maps.contains(&p.obj);
        let allowed: &[&str] = if is_message { &MESSAGE_KEYS } else { &AUTHOR_KEYS };
        if !allowed.contains(&key.as_str()) {
            return Err(Violation::MalformedMessage(format!("unknown field {key:?}")));
        }
        match &value.0 {
            Value::Object(ObjType::Map) if is_message && key == "author" => {
                self.fresh.insert(value.1.clone());
                Ok(())
            }
            Value::Object(_) => Err(Violation::MalformedMessage(format!(
                "field {key:?} must be a scalar (a string, not a text object)"
            ))),
            Value::Scalar(_) => Ok(()),
        }
    }

    /// Checks each finished new message (read back with `read`) against the writer and
    /// returns them. `known` holds the ids the list had before; bodies are bounded by
    /// `max_body` (never above [`MAX_BODY_BYTES`]).
    pub fn finish(
        self,
        read: impl Fn(&ObjId) -> Option<Message>,
        writer: &PeerInfo,
        known: &HashSet<String>,
        max_body: usize,
    ) -> Result<Vec<Message>, Violation> {
        let mut out: Vec<Message> = Vec::with_capacity(self.maps.len());
        for obj in &self.maps {
            let m = read(obj).ok_or_else(|| {
                Violation::MalformedMessage(
                    "a new message lacks a field or has one of the wrong type (see PROTOCOL.md \
                     §8.2)"
                        .into(),
                )
            })?;
            if m.author.id != writer.participant {
                return Err(Violation::ForgedAuthor { field: "author.id" });
            }
            if m.author.role != writer.role {
                return Err(Violation::ForgedAuthor { field: "author.role" });
            }
            if m.device != writer.device {
                return Err(Violation::ForgedAuthor { field: "device" });
            }
            if writer.name.as_ref().is_some_and(|name| *name != m.author.name) {
                return Err(Violation::ForgedAuthor { field: "author.name" });
            }
            let allowed = match writer.role {
                Role::Visitor => m.kind == MessageKind::Text,
                Role::Agent | Role::Admin => m.kind != MessageKind::AutoReply,
                Role::Server => true,
            };
            if !allowed {
                return Err(Violation::KindNotAllowed {
                    role: writer.role.as_str(),
                    kind: m.kind.as_str(),
                });
            }
            if m.author.name.len() > MAX_NAME_BYTES {
                return Err(Violation::FieldBounds(format!(
                    "author name is {} bytes; the limit is {MAX_NAME_BYTES}",
                    m.author.name.len()
                )));
            }
            let max = max_body.min(MAX_BODY_BYTES);
            if m.body.len() > max {
                return Err(Violation::BodyTooLarge { len: m.body.len(), max });
            }
            if let Some(a) = &m.attachment {
                a.check().map_err(|e| Violation::FieldBounds(format!("attachment: {e}")))?;
            }
            if known.contains(m.id.as_str()) || out.iter().any(|o| o.id == m.id) {
                return Err(Violation::DuplicateId(m.id.to_string()));
            }
            out.push(m);
        }
        Ok(out)
    }
}
