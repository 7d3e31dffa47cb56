//! Which accepted changes go into the audit trail: an agent's changes of the shared `status`,
//! and of the internal document's tags and case fields (assignee, team, priority). The relay
//! derives the entries from the patches it already validated, so what is recorded is exactly
//! what was accepted, stamped with the writer's authenticated identity and the server's time.

use automerge::{Automerge, ObjId, Patch, PatchAction, Prop, ReadDoc, Value};

use crate::internal_doc::{scalar_text, AuditAction, AuditEntry, CaseField, InternalDoc};
use crate::peer::PeerInfo;
use crate::shared_doc::SharedDoc;

fn entry(
    writer: &PeerInfo,
    now_ms: i64,
    field: String,
    action: AuditAction,
    value: Option<String>,
) -> AuditEntry {
    AuditEntry {
        at: now_ms,
        role: writer.role,
        actor: writer.participant.clone(),
        device: writer.device.clone(),
        field,
        action,
        value,
    }
}

fn text(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Scalar(s) => Some(scalar_text(s)),
        Value::Object(_) => None,
    }
}

/// The texts of a write that lost a concurrent conflict at `key`: every value stored there
/// but the visible winner. Automerge reports such a write only as `Conflict`, yet it was a
/// change somebody made, and the trail must hold it (issue 4: two agents setting the status
/// offline at once are both recorded). With more than two concurrent values, earlier losers
/// are listed again: an entry too many rather than a change missing.
fn losing_values(am: &Automerge, obj: &ObjId, key: &str) -> Vec<Option<String>> {
    let winner = am.get(obj, key).ok().flatten().map(|(_, id)| id);
    am.get_all(obj, key)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, id)| Some(id) != winner.as_ref())
        .map(|(v, _)| text(&v))
        .collect()
}

/// Entries for an agent's accepted changes of the shared document's `status` map.
pub fn from_shared(
    doc: &SharedDoc,
    patches: &[Patch],
    writer: &PeerInfo,
    now_ms: i64,
) -> Vec<AuditEntry> {
    if !writer.role.is_staff() {
        return Vec::new();
    }
    patches
        .iter()
        .filter(|p| &p.obj == doc.status_obj())
        .filter_map(|p| match &p.action {
            PatchAction::PutMap { key, value, .. } => Some(entry(
                writer,
                now_ms,
                format!("status.{key}"),
                AuditAction::Set,
                text(&value.0),
            )),
            PatchAction::DeleteMap { key } => {
                Some(entry(writer, now_ms, format!("status.{key}"), AuditAction::Clear, None))
            }
            _ => None,
        })
        .chain(patches.iter().filter(|p| &p.obj == doc.status_obj()).flat_map(|p| {
            let PatchAction::Conflict { prop: Prop::Map(key) } = &p.action else {
                return Vec::new();
            };
            losing_values(doc.automerge(), &p.obj, key)
                .into_iter()
                .map(|v| entry(writer, now_ms, format!("status.{key}"), AuditAction::Set, v))
                .collect()
        }))
        .collect()
}

/// Entries for an agent's accepted changes of tags and case fields.
pub fn from_internal(
    doc: &InternalDoc,
    patches: &[Patch],
    writer: &PeerInfo,
    now_ms: i64,
) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    for p in patches {
        if &p.obj == doc.tags_obj() {
            match &p.action {
                PatchAction::PutMap { key, .. } => out.push(entry(
                    writer,
                    now_ms,
                    "tags".into(),
                    AuditAction::Add,
                    Some(key.clone()),
                )),
                PatchAction::DeleteMap { key } => out.push(entry(
                    writer,
                    now_ms,
                    "tags".into(),
                    AuditAction::Remove,
                    Some(key.clone()),
                )),
                // The same tag added concurrently elsewhere: this writer added it too.
                PatchAction::Conflict { prop: Prop::Map(key) } => out.push(entry(
                    writer,
                    now_ms,
                    "tags".into(),
                    AuditAction::Add,
                    Some(key.clone()),
                )),
                _ => {}
            }
        } else if &p.obj == doc.case_obj() {
            match &p.action {
                PatchAction::PutMap { key, value, .. } if CaseField::parse(key).is_some() => {
                    out.push(entry(writer, now_ms, key.clone(), AuditAction::Set, text(&value.0)))
                }
                PatchAction::DeleteMap { key } if CaseField::parse(key).is_some() => {
                    out.push(entry(writer, now_ms, key.clone(), AuditAction::Clear, None))
                }
                PatchAction::Conflict { prop: Prop::Map(key) }
                    if CaseField::parse(key).is_some() =>
                {
                    for v in losing_values(doc.automerge(), &p.obj, key) {
                        out.push(entry(writer, now_ms, key.clone(), AuditAction::Set, v));
                    }
                }
                _ => {}
            }
        }
    }
    out
}
