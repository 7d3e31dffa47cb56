//! The patches a batch of admitted changes makes, read from the changes' own operations.
//!
//! The relay checks every peer write against the writer's role from patches
//! ([`crate::validate`], [`crate::audit`]). Automerge's patch log gives each patch a path, and
//! the path of a field of a new message (a map inside the `messages` list) costs a walk of the
//! whole list plus a map entry per message: 30 % of the relay's CPU per message at 10k
//! messages in a V8 profile (issue 14), growing with the conversation. The checks read only
//! each patch's object and action, so the relay derives those from the operations its intake
//! already admitted, at a cost proportional to the change.
//!
//! The patches are operation by operation, not the net effect of the batch: every write shows,
//! including one that lost a conflict and one that a later operation of the same batch undid.
//! The checks are therefore at least as strict as on Automerge's patches. Paths are empty, and
//! indexes in sequences are 0: nothing here reads them.

use std::borrow::Cow;
use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, Automerge, Change, ObjId, Patch, PatchAction, Prop, SequenceTree, Value};

use crate::intake::IntakeError;

/// The patches `changes` made to `doc`, which has applied them.
pub fn patches_of(doc: &Automerge, changes: &[Change]) -> Result<Vec<Patch>, IntakeError> {
    let mut ids = Ids { doc, actors: HashMap::new() };
    let mut patches = Vec::new();
    for change in changes {
        let expanded = change.decode();
        let start = expanded.start_op.get();
        for (i, op) in expanded.operations.iter().enumerate() {
            let own = ids.object(start + i as u64, &expanded.actor_id)?;
            let obj = match &op.obj {
                ObjectId::Root => ObjId::Root,
                ObjectId::Id(id) => ids.object(id.0, &id.1)?,
            };
            let value = |v: Value<'static>| (v, own.clone());
            let action = match (&op.action, &op.key) {
                (OpType::Make(t), key) => written(key, op.insert, value(Value::Object(*t))),
                (OpType::Put(v), key) => {
                    written(key, op.insert, value(Value::Scalar(Cow::Owned(v.clone()))))
                }
                (OpType::Delete, Key::Map(k)) => PatchAction::DeleteMap { key: k.to_string() },
                (OpType::Delete, Key::Seq(_)) => PatchAction::DeleteSeq { index: 0, length: 1 },
                (OpType::Increment(n), key) => {
                    PatchAction::Increment { prop: prop(key), value: *n }
                }
                (OpType::MarkBegin(_) | OpType::MarkEnd(_), _) => {
                    PatchAction::Mark { marks: Vec::new() }
                }
            };
            patches.push(Patch { obj, path: Vec::new(), action });
        }
    }
    Ok(patches)
}

/// A value written at `key`: put into a map, inserted into a sequence, or set in one.
fn written(key: &Key, insert: bool, value: (Value<'static>, ObjId)) -> PatchAction {
    match key {
        Key::Map(k) => PatchAction::PutMap { key: k.to_string(), value, conflict: false },
        Key::Seq(_) if insert => {
            let mut values = SequenceTree::new();
            values.push((value.0, value.1, false));
            PatchAction::Insert { index: 0, values }
        }
        Key::Seq(_) => PatchAction::PutSeq { index: 0, value, conflict: false },
    }
}

fn prop(key: &Key) -> Prop {
    match key {
        Key::Map(k) => Prop::Map(k.to_string()),
        Key::Seq(_) => Prop::Seq(0),
    }
}

/// Object ids as the document names them: an actor's index is looked up once per batch.
struct Ids<'a> {
    doc: &'a Automerge,
    actors: HashMap<ActorId, ObjId>,
}

impl Ids<'_> {
    fn object(&mut self, counter: u64, actor: &ActorId) -> Result<ObjId, IntakeError> {
        if !self.actors.contains_key(actor) {
            let named = self
                .doc
                .import_obj(&format!("1@{actor}"))
                .map_err(|_| IntakeError::UnknownActor(actor.to_hex_string()))?;
            self.actors.insert(actor.clone(), named);
        }
        match self.actors.get(actor) {
            Some(ObjId::Id(_, actor, index)) => Ok(ObjId::Id(counter, actor.clone(), *index)),
            _ => Err(IntakeError::UnknownActor(actor.to_hex_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::{ActorId, PatchLog, ReadDoc};

    use super::*;
    use crate::audit;
    use crate::ids::{DeviceId, MessageId, ParticipantId};
    use crate::message::{Author, Message, MessageKind, Role};
    use crate::relay::PeerInfo;
    use crate::shared_doc::SharedDoc;
    use crate::validate;
    use crate::workflow::status::{State, Status};

    fn agent() -> PeerInfo {
        PeerInfo {
            role: Role::Agent,
            participant: ParticipantId::new("ann").unwrap(),
            device: DeviceId::new("desk").unwrap(),
            fast: true,
            acks: false,
            name: None,
        }
    }

    fn message(id: &str, writer: &PeerInfo) -> Message {
        Message {
            id: MessageId::new(id).unwrap(),
            author: Author {
                role: writer.role,
                id: writer.participant.clone(),
                name: "Ann".into(),
            },
            device: writer.device.clone(),
            kind: MessageKind::Text,
            body: format!("你好 {id}"),
            sent_at: 5,
            attachment: None,
        }
    }

    /// The relay's copy and a device's, the device ahead by what `write` did.
    fn relay_and_device(write: impl FnOnce(&mut SharedDoc)) -> (SharedDoc, Vec<Change>) {
        let mut relay = SharedDoc::new(ActorId::random()).unwrap();
        let writer = agent();
        for i in 0..30 {
            relay.append(&message(&format!("old{i}"), &writer), i).unwrap();
        }
        let mut device = SharedDoc::from_automerge(relay.automerge().fork()).unwrap();
        let before = device.heads();
        write(&mut device);
        let changes = device.automerge().get_changes(&before);
        (relay, changes)
    }

    /// Checks the same changes once with Automerge's patches and once with these.
    fn both_ways(
        write: impl FnOnce(&mut SharedDoc),
    ) -> [(Result<Vec<Message>, validate::Violation>, usize); 2] {
        let writer = agent();
        let (relay, changes) = relay_and_device(write);
        let known = relay.message_ids();
        let mut with_log = SharedDoc::from_automerge(relay.automerge().fork()).unwrap();
        let mut log = PatchLog::active();
        with_log.automerge_mut().apply_changes_log_patches(changes.clone(), &mut log).unwrap();
        let theirs = with_log.automerge_mut().make_patches(&mut log);
        let mut with_ops = SharedDoc::from_automerge(relay.automerge().fork()).unwrap();
        with_ops.automerge_mut().apply_changes(changes.clone()).unwrap();
        let ours = patches_of(with_ops.automerge(), &changes).unwrap();
        let before = relay.heads();
        let judge = |doc: &SharedDoc, patches: &[Patch]| {
            let verdict = validate::check(doc, &before, patches, &writer, &known, 4096);
            (verdict, audit::from_shared(doc, patches, &writer, 9).len())
        };
        [judge(&with_log, &theirs), judge(&with_ops, &ours)]
    }

    #[test]
    fn honest_writes_are_judged_alike_from_operations_and_from_automerges_patches() {
        let [theirs, ours] = both_ways(|d| {
            d.append(&message("new1", &agent()), 10).unwrap();
            d.append(&message("new2", &agent()), 11).unwrap();
            let (ann, desk) = (agent().participant, agent().device);
            d.mark_read(&ann, &desk, &MessageId::new("new2").unwrap(), 12).unwrap();
            Status { state: State::Pending, snoozed_until: None }.write(d, 13).unwrap();
        });
        let accepted = ours.0.as_ref().unwrap();
        assert_eq!(accepted.len(), 2);
        assert_eq!(ours.0, theirs.0);
        assert_eq!(ours.1, theirs.1, "the same audit entries (the status change)");
        assert_eq!(ours.1, 1);
    }

    #[test]
    fn an_edit_of_history_is_refused_from_operations_as_from_automerges_patches() {
        let [theirs, ours] = both_ways(|d| {
            let (_, first) = d.automerge().get(d.messages_obj(), 0).unwrap().unwrap();
            let mut tx = d.automerge_mut().transaction();
            automerge::transaction::Transactable::put(&mut tx, &first, "body", "changed").unwrap();
            tx.commit();
        });
        assert_eq!(ours.0, Err(validate::Violation::EditedHistory));
        assert_eq!(theirs.0, ours.0);
    }

    #[test]
    fn a_write_by_an_actor_the_document_never_saw_is_an_error_not_a_panic() {
        let doc = Automerge::new();
        let mut other = Automerge::new();
        other.set_actor(ActorId::random());
        let mut tx = other.transaction();
        automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "k", 1).unwrap();
        tx.commit();
        let changes: Vec<Change> = other.get_changes(&[]);
        assert!(matches!(patches_of(&doc, &changes), Err(IntakeError::UnknownActor(_))));
    }
}
