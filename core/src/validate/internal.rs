//! What an agent's changes may do to the internal document. Visitors never get this far:
//! the relay refuses any internal-document frame from them before applying it.

use std::collections::HashSet;

use automerge::{Patch, PatchAction, ReadDoc, Value, ROOT};

use super::map_write;
use super::new_messages::NewMessages;
use super::Violation;
use crate::ids::MessageId;
use crate::internal_doc::{check_tag, CaseField, InternalDoc, MAX_TAGS};
use crate::message::Role;
use crate::peer::PeerInfo;

/// Checks `patches` (from applying `writer`'s input to `doc`); returns the new notes' ids.
/// `known_notes` holds the ids of the notes the document had before.
pub fn check_internal(
    doc: &InternalDoc,
    patches: &[Patch],
    writer: &PeerInfo,
    known_notes: &HashSet<String>,
    max_body: usize,
) -> Result<Vec<MessageId>, Violation> {
    if !matches!(writer.role, Role::Agent | Role::Admin) {
        return Err(Violation::RoleNotAllowed {
            role: writer.role.as_str(),
            what: "the internal document",
        });
    }
    let mut notes = NewMessages::default();
    for p in patches {
        let obj = &p.obj;
        if obj == doc.notes_obj() {
            notes.on_list(p)?;
        } else if notes.owns(obj) {
            notes.on_field(p)?;
        } else if obj == doc.tags_obj() {
            if let PatchAction::DeleteMap { .. } = &p.action {
                continue;
            }
            let Some((key, values)) = map_write(doc.automerge(), p) else {
                return Err(Violation::FieldBounds("tags is a map of tag -> true".into()));
            };
            check_tag(&key).map_err(|e| Violation::FieldBounds(e.to_string()))?;
            if values.iter().any(|v| v.as_bool() != Some(true)) {
                return Err(Violation::FieldBounds(format!("tag {key:?} must map to true")));
            }
        } else if obj == doc.case_obj() {
            if let PatchAction::DeleteMap { key } = &p.action {
                if CaseField::parse(key).is_some() {
                    continue;
                }
            }
            let Some((key, values)) = map_write(doc.automerge(), p) else {
                return Err(Violation::FieldBounds("case fields are only set or cleared".into()));
            };
            let field = CaseField::parse(&key).ok_or_else(|| {
                Violation::FieldBounds(format!(
                    "case has no field {key:?} (assignee, team, priority)"
                ))
            })?;
            for value in &values {
                let text = match value {
                    Value::Scalar(s) => s.as_str().map(str::to_owned),
                    Value::Object(_) => None,
                };
                let text =
                    text.ok_or_else(|| Violation::FieldBounds(format!("case.{key} is a string")))?;
                field.check(&text).map_err(Violation::FieldBounds)?;
            }
        } else if obj == doc.audit_obj() {
            return Err(Violation::ServerOnly("audit"));
        } else if *obj == ROOT {
            return Err(Violation::ServerOnly("the document root"));
        } else {
            // An existing note, its author map, or an audit entry.
            return Err(Violation::EditedHistory);
        }
    }
    let tags = doc.automerge().length(doc.tags_obj());
    if tags > MAX_TAGS {
        return Err(Violation::FieldBounds(format!(
            "a conversation carries at most {MAX_TAGS} tags"
        )));
    }
    let notes = notes.finish(|obj| doc.note_in(obj), writer, known_notes, max_body)?;
    Ok(notes.into_iter().map(|n| n.id).collect())
}
