//! The shared conversation document (visitor + agents) as a typed API over Automerge.
//!
//! Layout (root map, see PROTOCOL.md):
//! - `messages`: list of maps `{id, author: {role, id, name}, device, kind, body, sent_at}`
//! - `delivered`: map `message id -> server time (ms)`, written only by the relay
//! - `read`: map `"participant/device" -> message id`. One flat key per device rather than a
//!   nested map per participant: two devices of one participant would otherwise create the
//!   participant's map concurrently and one device's mark would hide the other's.
//! - `status`, `profile`: visitor-visible status and profile (filled by later features)

use std::collections::HashMap;

use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, Automerge, ChangeHash, ObjId, ReadDoc,
};

use crate::document::{check_schema, delegate_document, root_object, Channel};
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::message::Message;
use crate::message_map;
use crate::schema::{self, keys, SHARED_SCHEMA_VERSION};

pub use crate::doc_error::DocError;

delegate_document!(SharedDoc, Channel::Shared);

/// The shared document with the ids of its root objects resolved once.
#[derive(Debug)]
pub struct SharedDoc {
    doc: Automerge,
    messages: ObjId,
    delivered: ObjId,
    read: ObjId,
    status: ObjId,
    profile: ObjId,
}

impl SharedDoc {
    /// A fresh replica: just the schema, ready to merge with any other replica.
    pub fn new(actor: ActorId) -> Result<Self, DocError> {
        Self::from_automerge(schema::new_shared(actor)?)
    }

    /// Wraps a loaded document after checking it has the schema we understand.
    pub fn from_automerge(doc: Automerge) -> Result<Self, DocError> {
        check_schema(&doc, "shared", SHARED_SCHEMA_VERSION)?;
        let obj = |key| root_object(&doc, key);
        Ok(Self {
            messages: obj(keys::MESSAGES)?,
            delivered: obj(keys::DELIVERED)?,
            read: obj(keys::READ)?,
            status: obj(keys::STATUS)?,
            profile: obj(keys::PROFILE)?,
            doc,
        })
    }

    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// Mutable access for the sync protocol. Callers must not restructure the root.
    pub fn automerge_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    pub fn messages_obj(&self) -> &ObjId {
        &self.messages
    }

    pub fn delivered_obj(&self) -> &ObjId {
        &self.delivered
    }

    pub fn read_obj(&self) -> &ObjId {
        &self.read
    }

    pub fn status_obj(&self) -> &ObjId {
        &self.status
    }

    pub fn profile_obj(&self) -> &ObjId {
        &self.profile
    }

    /// Ids of all messages, for duplicate checks.
    pub fn message_ids(&self) -> std::collections::HashSet<String> {
        self.ids_in_order().map(|(_, id)| id).collect()
    }

    /// The positions of the messages with the given ids, found walking back from the newest
    /// message until all are found: a few reads for recent messages, the whole list only for
    /// ids that are old or absent.
    pub fn positions_from_end(&self, ids: &[&str]) -> HashMap<String, usize> {
        let mut found = HashMap::new();
        let mut i = self.message_count();
        while i > 0 && found.len() < ids.len() {
            i -= 1;
            let Ok(Some((_, obj))) = self.doc.get(&self.messages, i) else { continue };
            let Ok(Some((v, _))) = self.doc.get(&obj, "id") else { continue };
            if let Some(id) = v.as_str().filter(|id| ids.contains(id)) {
                found.entry(id.to_owned()).or_insert(i);
            }
        }
        found
    }

    /// (position, id) of every message that has a string id, in conversation order.
    fn ids_in_order(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        self.doc.list_range(&self.messages, ..).filter_map(|item| {
            let (v, _) = self.doc.get(item.id(), "id").ok().flatten()?;
            Some((item.index, v.as_str()?.to_owned()))
        })
    }

    /// Appends `msg` at the end of the conversation as one change.
    ///
    /// The id is not checked against earlier messages here (that scan would make every append
    /// O(n)); callers mint fresh random 96-bit ids. Refusing a duplicate id sent by a hostile
    /// client belongs to the relay's write validation.
    pub fn append(&mut self, msg: &Message, now_ms: i64) -> Result<(), DocError> {
        let mut tx = self.doc.transaction();
        message_map::insert(&mut tx, &self.messages, msg)?;
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(())
    }

    pub fn message_count(&self) -> usize {
        self.doc.length(&self.messages)
    }

    /// Every well-formed message, in conversation order. A malformed entry (possible only
    /// from a third-party client the relay did not validate) is skipped, not fatal.
    pub fn messages(&self) -> Vec<Message> {
        message_map::read_all(&self.doc, &self.messages)
    }

    /// The message stored in the map object `obj`, if it is well formed.
    pub fn message_in(&self, obj: &ObjId) -> Option<Message> {
        message_map::read(&self.doc, obj)
    }

    /// The message at `index` in conversation order, if it exists and is well formed (one
    /// lookup, not a scan).
    pub fn message_at(&self, index: usize) -> Option<Message> {
        let (_, obj) = self.doc.get(&self.messages, index).ok().flatten()?;
        self.message_in(&obj)
    }

    /// Index of each message id, for ordering read marks.
    fn positions(&self) -> HashMap<String, usize> {
        self.ids_in_order().map(|(pos, id)| (id, pos)).collect()
    }

    /// Records the relay's delivery receipt for each id not yet stamped; one change for all.
    /// Returns the ids newly stamped.
    pub fn stamp_delivered(
        &mut self,
        ids: &[MessageId],
        at_ms: i64,
    ) -> Result<Vec<MessageId>, DocError> {
        let fresh: Vec<MessageId> =
            ids.iter().filter(|id| self.delivered_at(id).is_none()).cloned().collect();
        if fresh.is_empty() {
            return Ok(fresh);
        }
        let mut tx = self.doc.transaction();
        for id in &fresh {
            tx.put(&self.delivered, id.as_str(), at_ms)?;
        }
        tx.commit_with(CommitOptions::default().with_time(at_ms));
        Ok(fresh)
    }

    /// When `m` was received: the relay's receipt time, which every device agrees on; the
    /// writer's clock while there is none.
    pub fn received_at(&self, m: &Message) -> i64 {
        self.delivered_at(&m.id).unwrap_or(m.sent_at)
    }

    /// Every delivery receipt, by message id, read in one pass (for a whole-conversation scan:
    /// one [`SharedDoc::delivered_at`] per message costs a lookup each).
    pub fn delivered_times(&self) -> HashMap<String, i64> {
        self.doc
            .map_range(&self.delivered, ..)
            .filter_map(|e| Some((e.key.to_string(), automerge::Value::from(e.value).as_i64()?)))
            .collect()
    }

    pub fn delivered_at(&self, id: &MessageId) -> Option<i64> {
        self.doc.get(&self.delivered, id.as_str()).ok().flatten().and_then(|(v, _)| v.as_i64())
    }

    /// Ids of messages that have no delivery receipt yet, in conversation order.
    pub fn undelivered(&self) -> Vec<MessageId> {
        self.ids_in_order()
            .filter_map(|(_, id)| MessageId::new(id).ok())
            .filter(|id| self.delivered_at(id).is_none())
            .collect()
    }

    /// Moves `device`'s read mark of `participant` to `msg`, never backwards.
    /// Returns whether the mark moved.
    pub fn mark_read(
        &mut self,
        participant: &ParticipantId,
        device: &DeviceId,
        msg: &MessageId,
        now_ms: i64,
    ) -> Result<bool, DocError> {
        let positions = self.positions();
        let new_pos =
            *positions.get(msg.as_str()).ok_or_else(|| DocError::UnknownMessage(msg.clone()))?;
        let key = read_key(participant, device);
        let current = self
            .doc
            .get(&self.read, key.as_str())?
            .and_then(|(v, _)| v.as_str().and_then(|s| positions.get(s).copied()));
        if current.is_some_and(|cur| cur >= new_pos) {
            return Ok(false);
        }
        let mut tx = self.doc.transaction();
        tx.put(&self.read, key.as_str(), msg.as_str())?;
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(true)
    }

    /// Every device's mark of `participant`.
    pub fn device_read_marks(&self, participant: &ParticipantId) -> Vec<(DeviceId, MessageId)> {
        let prefix = format!("{participant}/");
        self.doc
            .map_range(&self.read, prefix.clone()..)
            .take_while(|item| item.key.starts_with(&prefix))
            .filter_map(|item| {
                let device = DeviceId::new(&item.key[prefix.len()..]).ok()?;
                let (v, _) = self.doc.get(&self.read, item.key.as_ref()).ok().flatten()?;
                Some((device, MessageId::new(v.as_str()?).ok()?))
            })
            .collect()
    }

    /// Every device's mark, of every participant: (participant, device, message).
    pub fn read_marks(&self) -> Vec<(ParticipantId, DeviceId, MessageId)> {
        self.doc
            .map_range(&self.read, ..)
            .filter_map(|item| {
                let (participant, device) = item.key.split_once('/')?;
                let (v, _) = self.doc.get(&self.read, item.key.as_ref()).ok().flatten()?;
                Some((
                    ParticipantId::new(participant).ok()?,
                    DeviceId::new(device).ok()?,
                    MessageId::new(v.as_str()?).ok()?,
                ))
            })
            .collect()
    }

    /// The participant's effective read mark: the latest message any of its devices has
    /// read. A max over per-device marks, so merging devices' marks never moves it back.
    pub fn read_mark(&self, participant: &ParticipantId) -> Option<MessageId> {
        let positions = self.positions();
        self.device_read_marks(participant)
            .into_iter()
            .filter_map(|(_, m)| positions.get(m.as_str()).map(|&p| (p, m)))
            .max_by_key(|(p, _)| *p)
            .map(|(_, m)| m)
    }

    /// When `participant` last read: the relay's receipt time of the latest message any of
    /// its devices marked read. Cheap (no scan of the conversation), for the workflow's timers.
    pub fn read_time(&self, participant: &ParticipantId) -> Option<i64> {
        self.device_read_marks(participant).iter().filter_map(|(_, m)| self.delivered_at(m)).max()
    }

    /// Merges another replica into this one (used by tests and offline tooling; devices
    /// normally converge through the sync protocol).
    pub fn merge(&mut self, other: &mut SharedDoc) -> Result<(), DocError> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }
}

/// The `read` map key of one device of one participant. Ids cannot contain `/`.
pub fn read_key(participant: &ParticipantId, device: &DeviceId) -> String {
    format!("{participant}/{device}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::message::{Author, MessageKind, Role, MAX_BODY_BYTES, MAX_NAME_BYTES};

    /// A visitor's text message, for tests across the crate.
    pub(crate) fn msg(id: &str, who: &str, body: &str) -> Message {
        Message {
            id: MessageId::new(id).unwrap(),
            author: Author {
                role: Role::Visitor,
                id: ParticipantId::new(who).unwrap(),
                name: who.to_owned(),
            },
            device: DeviceId::new("d1").unwrap(),
            kind: MessageKind::Text,
            body: body.to_owned(),
            sent_at: 1_700_000_000_000,
            attachment: None,
        }
    }

    fn fresh() -> SharedDoc {
        SharedDoc::new(ActorId::random()).unwrap()
    }

    #[test]
    fn appended_messages_read_back_in_order() {
        let mut d = fresh();
        d.append(&msg("m1", "v1", "你好"), 1).unwrap();
        d.append(&msg("m2", "v1", "hello"), 2).unwrap();
        let got = d.messages();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], msg("m1", "v1", "你好"));
        assert_eq!(got[1].body, "hello");
    }

    #[test]
    fn oversized_body_and_name_are_refused() {
        let mut d = fresh();
        d.append(&msg("m1", "v1", "a"), 1).unwrap();
        let mut long_name = msg("m3", "v1", "b");
        long_name.author.name = "n".repeat(MAX_NAME_BYTES + 1);
        assert!(matches!(d.append(&long_name, 2), Err(DocError::NameTooLong { .. })));
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        assert!(matches!(d.append(&msg("m2", "v1", &big), 3), Err(DocError::BodyTooLarge { .. })));
        assert_eq!(d.message_count(), 1);
    }

    #[test]
    fn concurrently_created_replicas_merge_without_losing_messages() {
        let mut a = fresh();
        let mut b = fresh();
        a.append(&msg("a1", "v1", "from a"), 1).unwrap();
        b.append(&msg("b1", "v2", "from b"), 1).unwrap();
        a.merge(&mut b).unwrap();
        b.merge(&mut a).unwrap();
        let ids = |d: &SharedDoc| d.messages().into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(&a).len(), 2);
        assert_eq!(ids(&a), ids(&b));
    }

    #[test]
    fn read_marks_of_two_devices_merge_to_the_maximum() {
        let agent = ParticipantId::new("agent-1").unwrap();
        let (phone, desk) = (DeviceId::new("phone").unwrap(), DeviceId::new("desk").unwrap());
        let mut a = fresh();
        for i in 0..5 {
            a.append(&msg(&format!("m{i}"), "v1", "x"), i).unwrap();
        }
        let mut b = SharedDoc::from_automerge(a.automerge().fork()).unwrap();
        b.automerge_mut().set_actor(ActorId::random());
        assert!(a.mark_read(&agent, &phone, &MessageId::new("m3").unwrap(), 10).unwrap());
        assert!(b.mark_read(&agent, &desk, &MessageId::new("m1").unwrap(), 10).unwrap());
        a.merge(&mut b).unwrap();
        b.merge(&mut a).unwrap();
        for d in [&a, &b] {
            assert_eq!(d.read_mark(&agent), Some(MessageId::new("m3").unwrap()));
            assert_eq!(d.device_read_marks(&agent).len(), 2);
            let mut all = d.read_marks();
            all.sort_by(|x, y| x.1.as_str().cmp(y.1.as_str()));
            let m = |id: &str| MessageId::new(id).unwrap();
            assert_eq!(
                all,
                vec![
                    (agent.clone(), desk.clone(), m("m1")),
                    (agent.clone(), phone.clone(), m("m3"))
                ]
            );
        }
        // A device never moves its own mark backwards.
        assert!(!a.mark_read(&agent, &phone, &MessageId::new("m2").unwrap(), 11).unwrap());
        assert_eq!(a.read_mark(&agent), Some(MessageId::new("m3").unwrap()));
    }

    #[test]
    fn delivery_receipts_are_stamped_once() {
        let mut d = fresh();
        d.append(&msg("m1", "v1", "a"), 1).unwrap();
        assert_eq!(d.undelivered().len(), 1);
        let ids = d.undelivered();
        assert_eq!(d.stamp_delivered(&ids, 50).unwrap().len(), 1);
        assert_eq!(d.stamp_delivered(&ids, 60).unwrap().len(), 0);
        assert_eq!(d.delivered_at(&ids[0]), Some(50));
        assert!(d.undelivered().is_empty());
    }
}
