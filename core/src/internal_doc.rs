//! The agents' internal document: what support staff know about a conversation and the
//! visitor must never see.
//!
//! Layout (root map, see PROTOCOL.md §8.7):
//! - `tags`: map `tag -> true`. A set: two agents adding tags concurrently both win, and a
//!   removal deletes only the key it saw.
//! - `case`: map of scalars `assignee` (participant id), `team` (id), `priority`.
//! - `notes`: list of internal notes, laid out exactly like messages (`message_map`).
//! - `audit`: list of audit entries, written only by the relay after it accepted an agent's
//!   change of status, assignment, team, priority or tags.
//!
//! Kept apart from the shared document rather than as a sub-map of it because Automerge
//! syncs whole documents: a visitor's replica must not even hold the bytes.

use std::collections::BTreeSet;

use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, Automerge, ChangeHash, ObjId, ReadDoc, ScalarValue,
};
use serde::{Deserialize, Serialize};

use crate::document::{check_schema, delegate_document, root_object, Channel};
use crate::ids::{DeviceId, ParticipantId, TeamId};
use crate::message::{Message, Role};
use crate::message_map;
use crate::schema::{self, internal_keys as keys, INTERNAL_SCHEMA_VERSION};
use crate::shared_doc::DocError;

/// Longest tag, in bytes of UTF-8.
pub const MAX_TAG_BYTES: usize = 64;
/// Most tags one conversation may carry.
pub const MAX_TAGS: usize = 64;

/// A field of the `case` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseField {
    Assignee,
    Team,
    Priority,
}

impl CaseField {
    pub const ALL: [CaseField; 3] = [CaseField::Assignee, CaseField::Team, CaseField::Priority];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseField::Assignee => "assignee",
            CaseField::Team => "team",
            CaseField::Priority => "priority",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Checks a value for this field; the error says what is expected.
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            CaseField::Assignee => ParticipantId::new(value).map(drop).map_err(|e| e.to_string()),
            CaseField::Team => TeamId::new(value).map(drop).map_err(|e| e.to_string()),
            CaseField::Priority => Priority::parse(value).map(drop).ok_or_else(|| {
                format!("priority {value:?} is not one of low, normal, high, urgent")
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Checks a tag: 1 to [`MAX_TAG_BYTES`] bytes, no control characters, no surrounding space.
/// Any script is fine (tags like `退款` are the norm for Chinese support teams).
pub fn check_tag(tag: &str) -> Result<(), DocError> {
    let bad = |why: &str| DocError::BadTag(format!("tag {tag:?}: {why}"));
    if tag.is_empty() || tag.len() > MAX_TAG_BYTES {
        return Err(bad(&format!("must be 1 to {MAX_TAG_BYTES} bytes")));
    }
    if tag.chars().any(char::is_control) || tag.trim() != tag {
        return Err(bad("no control characters or surrounding whitespace"));
    }
    Ok(())
}

/// One accepted change of case data, as the relay recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Server time (ms) the relay accepted the change.
    pub at: i64,
    pub role: Role,
    pub actor: ParticipantId,
    pub device: DeviceId,
    /// `tags`, `assignee`, `team`, `priority`, or `status.<key>` for the shared status map.
    pub field: String,
    pub action: AuditAction,
    /// The value set, added or removed; absent for `clear`.
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Set,
    Clear,
    Add,
    Remove,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Set => "set",
            AuditAction::Clear => "clear",
            AuditAction::Add => "add",
            AuditAction::Remove => "remove",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AuditAction::Set, AuditAction::Clear, AuditAction::Add, AuditAction::Remove]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

#[derive(Debug)]
pub struct InternalDoc {
    doc: Automerge,
    tags: ObjId,
    case: ObjId,
    notes: ObjId,
    audit: ObjId,
}

delegate_document!(InternalDoc, Channel::Internal);

impl InternalDoc {
    pub fn new(actor: ActorId) -> Result<Self, DocError> {
        Self::from_automerge(schema::new_internal(actor)?)
    }

    pub fn from_automerge(doc: Automerge) -> Result<Self, DocError> {
        check_schema(&doc, "internal", INTERNAL_SCHEMA_VERSION)?;
        let obj = |key| root_object(&doc, key);
        Ok(Self {
            tags: obj(keys::TAGS)?,
            case: obj(keys::CASE)?,
            notes: obj(keys::NOTES)?,
            audit: obj(keys::AUDIT)?,
            doc,
        })
    }

    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    pub fn automerge_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    pub fn tags_obj(&self) -> &ObjId {
        &self.tags
    }

    pub fn case_obj(&self) -> &ObjId {
        &self.case
    }

    pub fn notes_obj(&self) -> &ObjId {
        &self.notes
    }

    pub fn audit_obj(&self) -> &ObjId {
        &self.audit
    }

    /// The conversation's tags, sorted.
    pub fn tags(&self) -> BTreeSet<String> {
        self.doc.map_range(&self.tags, ..).map(|item| item.key.into_owned()).collect()
    }

    /// Adds `tag`; returns whether it was new.
    pub fn add_tag(&mut self, tag: &str, now_ms: i64) -> Result<bool, DocError> {
        check_tag(tag)?;
        if self.doc.get(&self.tags, tag)?.is_some() {
            return Ok(false);
        }
        if self.doc.length(&self.tags) >= MAX_TAGS {
            return Err(DocError::BadTag(format!(
                "a conversation carries at most {MAX_TAGS} tags"
            )));
        }
        let mut tx = self.doc.transaction();
        tx.put(&self.tags, tag, true)?;
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(true)
    }

    /// Removes `tag`; returns whether it was there.
    pub fn remove_tag(&mut self, tag: &str, now_ms: i64) -> Result<bool, DocError> {
        if self.doc.get(&self.tags, tag)?.is_none() {
            return Ok(false);
        }
        let mut tx = self.doc.transaction();
        tx.delete(&self.tags, tag)?;
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(true)
    }

    pub fn case_field(&self, field: CaseField) -> Option<String> {
        let (v, _) = self.doc.get(&self.case, field.as_str()).ok().flatten()?;
        v.as_str().map(str::to_owned)
    }

    /// Sets (`Some`) or clears (`None`) a case field, e.g. assigns the conversation.
    pub fn set_case(
        &mut self,
        field: CaseField,
        value: Option<&str>,
        now_ms: i64,
    ) -> Result<(), DocError> {
        if let Some(v) = value {
            field.check(v).map_err(DocError::BadCaseValue)?;
        }
        let mut tx = self.doc.transaction();
        match value {
            Some(v) => tx.put(&self.case, field.as_str(), v)?,
            None => tx.delete(&self.case, field.as_str())?,
        }
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(())
    }

    pub fn notes(&self) -> Vec<Message> {
        message_map::read_all(&self.doc, &self.notes)
    }

    pub fn note_in(&self, obj: &ObjId) -> Option<Message> {
        message_map::read(&self.doc, obj)
    }

    pub fn add_note(&mut self, note: &Message, now_ms: i64) -> Result<(), DocError> {
        let mut tx = self.doc.transaction();
        message_map::insert(&mut tx, &self.notes, note)?;
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(())
    }

    /// Appends audit entries as one change (the relay's).
    pub fn record(&mut self, entries: &[AuditEntry], now_ms: i64) -> Result<(), DocError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.doc.transaction();
        for e in entries {
            let end = tx.length(&self.audit);
            let m = tx.insert_object(&self.audit, end, automerge::ObjType::Map)?;
            tx.put(&m, "at", e.at)?;
            tx.put(&m, "role", e.role.as_str())?;
            tx.put(&m, "actor", e.actor.as_str())?;
            tx.put(&m, "device", e.device.as_str())?;
            tx.put(&m, "field", e.field.as_str())?;
            tx.put(&m, "action", e.action.as_str())?;
            if let Some(v) = &e.value {
                tx.put(&m, "value", v.as_str())?;
            }
        }
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(())
    }

    /// The audit trail, oldest first.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.doc.list_range(&self.audit, ..).filter_map(|item| self.audit_in(&item.id())).collect()
    }

    pub fn audit_in(&self, obj: &ObjId) -> Option<AuditEntry> {
        let s = |k: &str| -> Option<String> {
            self.doc.get(obj, k).ok().flatten().and_then(|(v, _)| v.as_str().map(str::to_owned))
        };
        Some(AuditEntry {
            at: self.doc.get(obj, "at").ok().flatten()?.0.as_i64()?,
            role: Role::parse(&s("role")?)?,
            actor: ParticipantId::new(s("actor")?).ok()?,
            device: DeviceId::new(s("device")?).ok()?,
            field: s("field")?,
            action: AuditAction::parse(&s("action")?)?,
            value: s("value"),
        })
    }
}

/// A scalar as audit text: strings as they are, other scalars in their JSON-ish form.
pub(crate) fn scalar_text(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Str(s) => s.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MessageId;
    use crate::message::{Author, MessageKind};

    fn fresh() -> InternalDoc {
        InternalDoc::new(ActorId::random()).unwrap()
    }

    #[test]
    fn tags_added_concurrently_on_two_replicas_all_survive_the_merge() {
        let mut a = fresh();
        let mut b = fresh();
        a.add_tag("退款", 1).unwrap();
        b.add_tag("vip", 1).unwrap();
        b.add_tag("退款", 1).unwrap();
        a.automerge_mut().merge(b.automerge_mut()).unwrap();
        assert_eq!(a.tags().into_iter().collect::<Vec<_>>(), ["vip", "退款"]);
        assert!(a.remove_tag("vip", 2).unwrap());
        assert!(!a.remove_tag("vip", 3).unwrap());
        assert_eq!(a.tags().len(), 1);
    }

    #[test]
    fn bad_tags_and_case_values_are_refused_with_a_reason() {
        let mut d = fresh();
        assert!(matches!(d.add_tag("", 1), Err(DocError::BadTag(_))));
        assert!(matches!(d.add_tag(" padded", 1), Err(DocError::BadTag(_))));
        assert!(matches!(d.add_tag(&"x".repeat(MAX_TAG_BYTES + 1), 1), Err(DocError::BadTag(_))));
        let err = d.set_case(CaseField::Priority, Some("asap"), 1).unwrap_err();
        assert!(err.to_string().contains("low, normal, high, urgent"), "{err}");
        assert!(d.set_case(CaseField::Assignee, Some("a/b"), 1).is_err());
        assert_eq!(d.heads().len(), 1, "nothing was written");
    }

    #[test]
    fn case_fields_notes_and_audit_read_back() {
        let mut d = fresh();
        d.set_case(CaseField::Assignee, Some("agent-7"), 1).unwrap();
        d.set_case(CaseField::Priority, Some("urgent"), 1).unwrap();
        assert_eq!(d.case_field(CaseField::Assignee).as_deref(), Some("agent-7"));
        d.set_case(CaseField::Assignee, None, 2).unwrap();
        assert_eq!(d.case_field(CaseField::Assignee), None);
        let note = Message {
            id: MessageId::new("n1").unwrap(),
            author: Author {
                role: Role::Agent,
                id: ParticipantId::new("agent-7").unwrap(),
                name: "Li".into(),
            },
            device: DeviceId::new("desk").unwrap(),
            kind: MessageKind::Text,
            body: "customer is a reseller".into(),
            sent_at: 5,
            attachment: None,
        };
        d.add_note(&note, 5).unwrap();
        assert_eq!(d.notes(), vec![note]);
        let entry = AuditEntry {
            at: 9,
            role: Role::Agent,
            actor: ParticipantId::new("agent-7").unwrap(),
            device: DeviceId::new("desk").unwrap(),
            field: "priority".into(),
            action: AuditAction::Set,
            value: Some("urgent".into()),
        };
        d.record(std::slice::from_ref(&entry), 9).unwrap();
        assert_eq!(d.audit(), vec![entry]);
    }
}
