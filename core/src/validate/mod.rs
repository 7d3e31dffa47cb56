//! Write validation: what a peer's changes may do to the conversation's documents, by role.
//!
//! The relay applies an incoming sync message to its in-memory document, then checks every
//! patch the application produced against the writer's identity *before* anything is
//! persisted or relayed. A violation rejects the whole message; the relay then drops its
//! memory and reloads the last persisted state, so nothing of the message survives.
//!
//! Rules (PROTOCOL.md §8.6):
//! - a message is appended only as a new map with exactly the documented fields, authored by
//!   the writer itself (participant, role, device), with a fresh id and a kind its role may use;
//! - a read mark is written only under the writer's own participant, as
//!   `participant/device` = a message id, and never moves back;
//! - `profile` holds short scalars, written by visitors and agents; `status` only by agents;
//! - nobody deletes or edits history, writes `delivered` (the relay's receipts) or the root;
//! - the internal document is written by agents and admins only: tags, case fields with valid
//!   values, and notes under the same rules as messages; `audit` is the relay's alone.

use std::collections::HashSet;

use automerge::{
    Automerge, ChangeHash, Patch, PatchAction, Prop, ReadDoc, ScalarValue, Value, ROOT,
};

use crate::ids::{DeviceId, MessageId};
use crate::message::{Message, Role};
use crate::peer::PeerInfo;
use crate::shared_doc::SharedDoc;
use crate::workflow::status;

mod internal;
mod new_messages;

pub use internal::check_internal;
use new_messages::NewMessages;

/// Longest `profile`/`status` key, and longest string value there, in bytes.
pub const MAX_FIELD_KEY_BYTES: usize = 64;
pub const MAX_FIELD_VALUE_BYTES: usize = 1024;

/// The rule a change set broke. The text is sent to the writer before it is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("rule forged-author: a new message's {field} is not the writer's own")]
    ForgedAuthor { field: &'static str },
    #[error("rule malformed-message: {0}")]
    MalformedMessage(String),
    #[error("rule duplicate-id: message id {0} is already in the conversation")]
    DuplicateId(String),
    #[error("rule kind-not-allowed: {} may not write {kind} messages", with_article(role))]
    KindNotAllowed { role: &'static str, kind: &'static str },
    #[error("rule immutable-history: messages are never edited or deleted")]
    EditedHistory,
    #[error("rule immutable-history: a read mark is never deleted (move it forward instead)")]
    DeletedReadMark,
    #[error("rule own-read-marks: read mark {0:?} belongs to another participant")]
    ForeignReadMark(String),
    #[error("rule forward-read-marks: read mark {key:?} would move back from {from} to {to}")]
    BackwardReadMark { key: String, from: String, to: String },
    #[error("rule server-only: {0} is written by the relay only")]
    ServerOnly(&'static str),
    #[error("rule role-not-allowed: {} may not write {what}", with_article(role))]
    RoleNotAllowed { role: &'static str, what: &'static str },
    #[error("rule field-bounds: {0}")]
    FieldBounds(String),
    #[error("rule body-size: a message body is {len} bytes; the limit is {max}")]
    BodyTooLarge { len: usize, max: usize },
}

/// "a visitor", "an agent", "an admin": a role as a close reason names it.
fn with_article(role: &str) -> String {
    let article = if role.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {role}")
}

/// Checks `patches` (produced by applying one peer's input to `doc`, whose heads were
/// `before`) against `writer`'s role. `known_ids` holds the ids of the messages the document
/// had before; `max_body` bounds a new message's body. Returns the messages the input appended.
pub fn check(
    doc: &SharedDoc,
    before: &[ChangeHash],
    patches: &[Patch],
    writer: &PeerInfo,
    known_ids: &HashSet<String>,
    max_body: usize,
) -> Result<Vec<Message>, Violation> {
    let mut messages = NewMessages::default();
    for p in patches {
        let obj = &p.obj;
        if obj == doc.messages_obj() {
            messages.on_list(p)?;
        } else if messages.owns(obj) {
            messages.on_field(p)?;
        } else if obj == doc.read_obj() {
            match &p.action {
                PatchAction::PutMap { key, value, .. } => {
                    let own = format!("{}/", writer.participant);
                    if !key.starts_with(&own) {
                        return Err(Violation::ForeignReadMark(key.clone()));
                    }
                    // `participant/device`, naming a message: both ids are bounded, so a read
                    // mark cannot carry megabytes (found by `fuzzing::validation`).
                    let device_ok = DeviceId::new(&key[own.len()..]).is_ok();
                    let names_a_message =
                        value.0.as_str().is_some_and(|v| MessageId::new(v).is_ok());
                    if !device_ok || !names_a_message {
                        return Err(Violation::FieldBounds(
                            "a read mark is `participant/device` = a message id".into(),
                        ));
                    }
                    forward(doc, before, key, value.0.as_str().unwrap_or(""), known_ids)?;
                }
                _ => return Err(Violation::DeletedReadMark),
            }
        } else if obj == doc.delivered_obj() {
            return Err(Violation::ServerOnly("delivered"));
        } else if obj == doc.profile_obj() {
            let roles = [Role::Visitor, Role::Agent, Role::Admin];
            scalar_field(doc.automerge(), p, writer, &roles, "profile")?;
        } else if obj == doc.status_obj() {
            scalar_field(doc.automerge(), p, writer, &[Role::Agent, Role::Admin], "status")?;
        } else if *obj == ROOT {
            return Err(Violation::ServerOnly("the document root"));
        } else {
            // An existing message or its author map.
            return Err(Violation::EditedHistory);
        }
    }
    messages.finish(|obj| doc.message_in(obj), writer, known_ids, max_body)
}

/// A device's read mark only moves forward (PROTOCOL.md §8.4): the message it now names may
/// not stand before the one it named. Only marks between messages the conversation already had
/// are compared (a mark may name a message arriving in the same frame, which stands last);
/// both are found walking back from the newest message, where marks live, so an honest mark
/// costs a few reads whatever the conversation's length.
fn forward(
    doc: &SharedDoc,
    before: &[ChangeHash],
    key: &str,
    to: &str,
    known_ids: &HashSet<String>,
) -> Result<(), Violation> {
    let old = doc.automerge().get_all_at(doc.read_obj(), key, before).unwrap_or_default();
    let from: Vec<String> = old
        .into_iter()
        .filter_map(|(v, _)| v.as_str().map(str::to_owned))
        .filter(|from| from != to && known_ids.contains(from))
        .collect();
    if from.is_empty() || !known_ids.contains(to) {
        return Ok(());
    }
    let mut wanted: Vec<&str> = from.iter().map(String::as_str).collect();
    wanted.push(to);
    let at = doc.positions_from_end(&wanted);
    let Some(&to_at) = at.get(to) else { return Ok(()) };
    match from.iter().find(|f| at.get(f.as_str()).is_some_and(|&f_at| f_at > to_at)) {
        Some(f) => Err(Violation::BackwardReadMark {
            key: key.to_owned(),
            from: f.clone(),
            to: to.to_owned(),
        }),
        None => Ok(()),
    }
}

fn scalar_field(
    am: &Automerge,
    p: &Patch,
    writer: &PeerInfo,
    roles: &[Role],
    what: &'static str,
) -> Result<(), Violation> {
    if !roles.contains(&writer.role) {
        return Err(Violation::RoleNotAllowed { role: writer.role.as_str(), what });
    }
    let Some((key, values)) = map_write(am, p) else {
        return Err(Violation::FieldBounds(format!("{what} fields are only set, never deleted")));
    };
    if key.len() > MAX_FIELD_KEY_BYTES {
        return Err(Violation::FieldBounds(format!(
            "{what} key longer than {MAX_FIELD_KEY_BYTES} bytes"
        )));
    }
    for value in &values {
        match value {
            Value::Scalar(s) if scalar_bytes(s) <= MAX_FIELD_VALUE_BYTES => {}
            Value::Scalar(_) => {
                return Err(Violation::FieldBounds(format!(
                    "{what} values are at most {MAX_FIELD_VALUE_BYTES} bytes"
                )))
            }
            Value::Object(_) => {
                return Err(Violation::FieldBounds(format!("{what} values are scalars")))
            }
        }
        if what == "status" {
            if let Value::Scalar(v) = value {
                status::check_field(&key, v).map_err(Violation::FieldBounds)?;
            }
        }
    }
    Ok(())
}

/// A map key a patch wrote, with every value now stored at it. A write that lost a
/// concurrent conflict shows only as `Conflict` (Automerge keeps the winner visible), yet its
/// value is stored and synced like any other: so each value at the key is returned, to be
/// checked. `None` for anything but a put or a conflict on a map key.
pub(crate) fn map_write(am: &Automerge, p: &Patch) -> Option<(String, Vec<Value<'static>>)> {
    let key = match &p.action {
        PatchAction::PutMap { key, .. } => key.clone(),
        PatchAction::Conflict { prop: Prop::Map(key) } => key.clone(),
        _ => return None,
    };
    let values = am.get_all(&p.obj, key.as_str()).ok()?;
    Some((key, values.into_iter().map(|(v, _)| v.to_owned()).collect()))
}

/// How many bytes a scalar carries beyond its fixed size: strings, byte strings and values
/// of types from later Automerge versions all count (found by `fuzzing::validation`: a bytes
/// value used to slip past the string bound).
fn scalar_bytes(s: &ScalarValue) -> usize {
    match s {
        ScalarValue::Str(s) => s.len(),
        ScalarValue::Bytes(b) | ScalarValue::Unknown { bytes: b, .. } => b.len(),
        _ => 0,
    }
}
