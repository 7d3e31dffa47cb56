//! Which accepted changes go into the audit trail: an agent's changes of the shared `status`,
//! and of the internal document's tags and case fields (assignee, team, priority). The relay
//! derives the entries from the patches it already validated, so what is recorded is exactly
//! what was accepted, stamped with the writer's authenticated identity and the server's time.

use automerge::{Patch, PatchAction, Value};

use crate::internal_doc::{scalar_text, AuditAction, AuditEntry, CaseField, InternalDoc};
use crate::message::Role;
use crate::relay::PeerInfo;
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

fn is_staff(writer: &PeerInfo) -> bool {
    matches!(writer.role, Role::Agent | Role::Admin)
}

/// Entries for an agent's accepted changes of the shared document's `status` map.
pub fn from_shared(
    doc: &SharedDoc,
    patches: &[Patch],
    writer: &PeerInfo,
    now_ms: i64,
) -> Vec<AuditEntry> {
    if !is_staff(writer) {
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
                _ => {}
            }
        }
    }
    out
}
