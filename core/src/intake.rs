//! Which of a peer's changes Automerge may apply, decided before it applies them.
//!
//! Automerge 0.12 trusts the structure of the changes it applies. A change whose sequence
//! number skips ahead, or a later change of an actor the document has never seen, trips an
//! assertion or an `unwrap` deep inside `apply_changes`: a panic, which on Workers resets the
//! whole isolate and with it every conversation on it (found by the fuzz target
//! `fuzzing::validation`). Changes whose dependencies are missing would wait in Automerge's
//! own queue, out of reach of any check, and be applied later on behalf of whichever peer
//! happened to send the missing piece.
//!
//! So the relay takes a peer's changes in through its [`Intake`]: it hands Automerge only
//! changes whose dependencies are all present, each checked to be the next change of its
//! actor and to name only actors the document knows, and it keeps changes that wait for
//! dependencies itself, per peer and bounded, asking the peer for what is missing.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, Change, ChangeHash, ExpandedChange, ObjType, ReadDoc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("change {seq} of actor {actor} does not follow that actor's change {prev}")]
    OutOfSequence { actor: String, seq: u64, prev: u64 },
    #[error("a change refers to actor {0}, which the conversation does not know")]
    UnknownActor(String),
    #[error("a change's operation refers to {0}")]
    BadReference(String),
    #[error("change {seq} of actor {actor} starts at operation {start}; it must be {expected}")]
    BadStartOp { actor: String, seq: u64, start: u64, expected: u64 },
    #[error("changes do not read back as sent (inconsistent operation references)")]
    Inconsistent,
    #[error("a change with an author must be its actor's first change")]
    LateAuthor,
    #[error("{held} bytes of changes wait for missing dependencies; the limit is {max}")]
    TooManyWaiting { held: usize, max: usize },
    #[error("undecodable change: {0}")]
    Undecodable(String),
    #[error(
        "write refused: rule reserved-actor: a change under actor {0}, which only the relay \
         writes (its own or a schema's)"
    )]
    ReservedActor(String),
}

/// One peer's changes on their way into the document.
#[derive(Debug)]
pub struct Intake {
    /// Changes whose dependencies have not arrived yet.
    waiting: Vec<Change>,
    max_waiting_bytes: usize,
    /// The highest sequence number seen applied per actor: spares a history walk for the
    /// next change of the same device.
    applied: HashMap<ActorId, u64>,
}

impl Intake {
    pub fn new(max_waiting_bytes: usize) -> Self {
        Self { waiting: Vec::new(), max_waiting_bytes, applied: HashMap::new() }
    }

    /// Takes `incoming` and returns what Automerge may apply to `doc` now, each change after
    /// its dependencies. The rest waits for the next call.
    pub fn admit(
        &mut self,
        doc: &Automerge,
        incoming: Vec<Change>,
    ) -> Result<Vec<Change>, IntakeError> {
        let mut pool = std::mem::take(&mut self.waiting);
        let mut seen: HashSet<ChangeHash> = pool.iter().map(Change::hash).collect();
        pool.extend(incoming.into_iter().filter(|c| seen.insert(c.hash())));
        pool.retain(|c| !has(doc, &c.hash()));
        let mut ready: Vec<Change> = Vec::new();
        let mut by_hash: HashMap<ChangeHash, usize> = HashMap::new();
        let mut new_actors: HashSet<ActorId> = HashSet::new();
        let mut ops = Ops::new(doc);
        loop {
            let before = ready.len();
            let mut i = 0;
            while i < pool.len() {
                let deps_here =
                    pool[i].deps().iter().all(|d| by_hash.contains_key(d) || has(doc, d));
                if !deps_here {
                    i += 1;
                    continue;
                }
                let change = pool.remove(i);
                crate::chunk::change_actor_refs(change.raw_bytes())
                    .map_err(|e| IntakeError::BadReference(e.to_owned()))?;
                self.check(doc, &change, &ready, &by_hash, &new_actors)?;
                ops.check(&change)?;
                if change.seq() == 1 {
                    new_actors.insert(change.actor_id().clone());
                }
                by_hash.insert(change.hash(), ready.len());
                ready.push(change);
            }
            if ready.len() == before {
                break;
            }
        }
        let held: usize = pool.iter().map(|c| c.raw_bytes().len()).sum();
        if held > self.max_waiting_bytes {
            return Err(IntakeError::TooManyWaiting { held, max: self.max_waiting_bytes });
        }
        self.waiting = pool;
        for c in &ready {
            let seq = self.applied.entry(c.actor_id().clone()).or_default();
            *seq = (*seq).max(c.seq());
        }
        Ok(ready)
    }

    /// Whether changes wait for dependencies.
    pub fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether the change `hash` waits for dependencies (so is not in the document yet).
    pub fn is_waiting_for(&self, hash: &ChangeHash) -> bool {
        self.waiting.iter().any(|c| c.hash() == *hash)
    }

    /// Dependencies of waiting changes that neither `doc` nor the waiting changes hold: what
    /// to ask the peer for.
    pub fn missing(&self, doc: &Automerge) -> Vec<ChangeHash> {
        let held: HashSet<ChangeHash> = self.waiting.iter().map(Change::hash).collect();
        let mut missing: Vec<ChangeHash> = self
            .waiting
            .iter()
            .flat_map(|c| c.deps().iter().copied())
            .filter(|d| !held.contains(d) && !has(doc, d))
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// Checks what Automerge asserts about `c` when it applies it: it is its actor's next
    /// change (its previous one is an ancestor, so it is applied first in any order), and
    /// every actor it names is known by then.
    fn check(
        &self,
        doc: &Automerge,
        c: &Change,
        ready: &[Change],
        by_hash: &HashMap<ChangeHash, usize>,
        new_actors: &HashSet<ActorId>,
    ) -> Result<(), IntakeError> {
        let actor = c.actor_id();
        if crate::schema::is_reserved_actor(actor) {
            return Err(IntakeError::ReservedActor(actor.to_hex_string()));
        }
        if c.author().is_some() && c.seq() != 1 {
            return Err(IntakeError::LateAuthor);
        }
        let seq = c.seq();
        if seq > 1 && self.applied.get(actor).is_none_or(|&s| s + 1 != seq) {
            let prev = latest_ancestor_seq(doc, c, ready, by_hash);
            if prev != Some(seq - 1) {
                return Err(IntakeError::OutOfSequence {
                    actor: actor.to_hex_string(),
                    seq,
                    prev: prev.unwrap_or(0),
                });
            }
        }
        // Automerge numbers a change's operations right after everything its dependencies
        // hold; anything else would reuse or skip operation ids.
        let expected = c
            .deps()
            .iter()
            .map(|d| match by_hash.get(d) {
                Some(&i) => ready[i].max_op(),
                None => doc.get_change_meta_by_hash(d).map_or(0, |m| m.max_op),
            })
            .max()
            .unwrap_or(0)
            + 1;
        if c.start_op().get() != expected {
            return Err(IntakeError::BadStartOp {
                actor: actor.to_hex_string(),
                seq,
                start: c.start_op().get(),
                expected,
            });
        }
        for other in c.other_actor_ids() {
            if !new_actors.contains(other) && !knows(doc, other) {
                return Err(IntakeError::UnknownActor(other.to_hex_string()));
            }
        }
        Ok(())
    }
}

/// Checks that the changes just applied to `doc` on top of `before` read back exactly as
/// `applied`: Automerge re-encodes changes from its operation store, so a change whose
/// operation references it silently could not follow (say, a predecessor that does not exist)
/// reads back with another hash, and the document would not load again once saved.
pub fn verify(
    doc: &Automerge,
    before: &[ChangeHash],
    applied: &[ChangeHash],
) -> Result<(), IntakeError> {
    if applied.is_empty() {
        return Ok(());
    }
    let got: HashSet<ChangeHash> = doc.get_changes(before).iter().map(Change::hash).collect();
    if got != applied.iter().copied().collect() {
        return Err(IntakeError::Inconsistent);
    }
    Ok(())
}

/// The highest sequence number of `c`'s actor among `c`'s ancestors. Walks back from its
/// dependencies without going past changes of that actor (theirs are lower still), so for a
/// device's next change the walk ends at its previous one.
fn latest_ancestor_seq(
    doc: &Automerge,
    c: &Change,
    ready: &[Change],
    by_hash: &HashMap<ChangeHash, usize>,
) -> Option<u64> {
    let actor = c.actor_id();
    let mut best: Option<u64> = None;
    let mut seen: HashSet<ChangeHash> = HashSet::new();
    let mut stack: Vec<ChangeHash> = c.deps().to_vec();
    while let Some(h) = stack.pop() {
        if !seen.insert(h) {
            continue;
        }
        let (who, seq, deps) = match by_hash.get(&h) {
            Some(&i) => (ready[i].actor_id().clone(), ready[i].seq(), ready[i].deps().to_vec()),
            None => match doc.get_change_meta_by_hash(&h) {
                Some(m) => (m.actor.into_owned(), m.seq, m.deps),
                None => continue,
            },
        };
        if who == *actor {
            best = best.max(Some(seq));
        } else {
            stack.extend(deps);
        }
    }
    best
}

/// Where an operation sits: its object and what in it it addresses.
#[derive(Debug, Clone)]
struct Place {
    obj: ObjectId,
    key: Key,
    insert: bool,
    makes: Option<ObjType>,
}

impl Place {
    /// The map key or list element the operation (with id `id`) writes.
    fn target(&self, id: &OpId) -> Option<Key> {
        match (&self.key, self.insert) {
            (Key::Seq(_), true) => Some(Key::Seq(ElementId::Id(id.clone()))),
            (Key::Seq(ElementId::Head), false) => None,
            (key, _) => Some(key.clone()),
        }
    }
}

/// Finds the operations that incoming operations refer to: in the batch being admitted, or
/// in the document (through the change that holds them).
struct Ops<'a> {
    doc: &'a Automerge,
    batch: HashMap<(u64, ActorId), Place>,
    changes: HashMap<ChangeHash, Option<ExpandedChange>>,
}

impl<'a> Ops<'a> {
    fn new(doc: &'a Automerge) -> Self {
        Self { doc, batch: HashMap::new(), changes: HashMap::new() }
    }

    fn place(&mut self, id: &OpId) -> Option<Place> {
        if let Some(p) = self.batch.get(&(id.0, id.1.clone())) {
            return Some(p.clone());
        }
        let exid = self.doc.import_obj(&format!("{}@{}", id.0, id.1)).ok()?;
        let hash = self.doc.hash_for_opid(&exid)?;
        let doc = self.doc;
        let change = self
            .changes
            .entry(hash)
            .or_insert_with(|| doc.get_change_by_hash(&hash).map(|c| c.decode()))
            .as_ref()?;
        if change.actor_id != id.1 {
            return None;
        }
        let op = change
            .operations
            .get(usize::try_from(id.0.checked_sub(change.start_op.get())?).ok()?)?;
        let makes = match op.action {
            OpType::Make(ty) => Some(ty),
            _ => None,
        };
        Some(Place { obj: op.obj.clone(), key: op.key.clone(), insert: op.insert, makes })
    }

    /// The type of object `obj`.
    fn object(&mut self, obj: &ObjectId) -> Option<ObjType> {
        match obj {
            ObjectId::Root => Some(ObjType::Map),
            ObjectId::Id(id) => self.place(id)?.makes,
        }
    }

    /// Checks every reference `c`'s operations make: the object exists and is addressed the
    /// way its type is (keys in maps, elements in lists and text); an element is an element
    /// of that object; a predecessor is an earlier operation on the same key or element.
    /// Automerge checks none of it: a missing object panics, anything else is mis-filed and
    /// the document no longer reads back or loads as it was.
    fn check(&mut self, c: &Change) -> Result<(), IntakeError> {
        let expanded = c.decode();
        let start = expanded.start_op.get();
        let bad = |what: &str| IntakeError::BadReference(what.to_owned());
        for (i, op) in expanded.operations.iter().enumerate() {
            let id = OpId(start + i as u64, expanded.actor_id.clone());
            let ty = self.object(&op.obj).ok_or_else(|| bad("an object that does not exist"))?;
            let sequence = matches!(ty, ObjType::List | ObjType::Text);
            match &op.key {
                Key::Map(_) if sequence => return Err(bad("a list or text by key")),
                Key::Map(_) if op.insert => return Err(bad("an insertion by key")),
                Key::Seq(_) if !sequence => return Err(bad("a map by position")),
                Key::Seq(ElementId::Id(e)) => {
                    let elem =
                        self.place(e).ok_or_else(|| bad("an element that does not exist"))?;
                    if !elem.insert || elem.obj != op.obj {
                        return Err(bad("an element of another object"));
                    }
                }
                _ => {}
            }
            let makes = match op.action {
                OpType::Make(ty) => Some(ty),
                _ => None,
            };
            let place =
                Place { obj: op.obj.clone(), key: op.key.clone(), insert: op.insert, makes };
            let target = place.target(&id).ok_or_else(|| bad("the head of a list"))?;
            // Automerge keeps no trace of a deletion or increment of nothing; the change
            // would not read back.
            if matches!(op.action, OpType::Delete | OpType::Increment(_)) && op.pred.is_empty() {
                return Err(bad("nothing, deleting or incrementing it"));
            }
            for pred in op.pred.iter() {
                let p = self.place(pred).ok_or_else(|| bad("a predecessor that does not exist"))?;
                if pred.0 >= id.0 || p.obj != op.obj || p.target(pred) != Some(target.clone()) {
                    return Err(bad("a predecessor elsewhere"));
                }
            }
            self.batch.insert((id.0, id.1.clone()), place);
        }
        Ok(())
    }
}

fn has(doc: &Automerge, h: &ChangeHash) -> bool {
    doc.get_missing_deps(std::slice::from_ref(h)).is_empty()
}

/// Whether `doc` has changes by `actor` (Automerge resolves object ids only for those).
fn knows(doc: &Automerge, actor: &ActorId) -> bool {
    doc.import_obj(&format!("1@{actor}")).is_ok()
}

#[cfg(test)]
mod tests {
    use automerge::{transaction::Transactable, ExpandedChange, ROOT};

    use super::*;

    fn doc_with(actor: u8, n: usize) -> Automerge {
        let mut doc = Automerge::new().with_actor(ActorId::from([actor; 4]));
        for i in 0..n {
            let mut tx = doc.transaction();
            tx.put(ROOT, "k", i as i64).unwrap();
            tx.commit();
        }
        doc
    }

    /// `c` re-encoded after `edit` (Automerge verifies no checksum, so peers can send this).
    /// The first change of a second device (actor 2) that forked `relay`.
    fn device_change(relay: &Automerge) -> Change {
        let mut device = relay.fork().with_actor(ActorId::from([2; 4]));
        let mut tx = device.transaction();
        tx.put(ROOT, "d", 1).unwrap();
        tx.commit();
        device.get_changes(&relay.get_heads()).remove(0)
    }

    fn forged(c: &Change, edit: impl FnOnce(&mut ExpandedChange)) -> Change {
        let mut e = c.decode();
        edit(&mut e);
        Change::from(e)
    }

    #[test]
    fn a_device_s_consecutive_changes_are_admitted_in_order() {
        let relay = doc_with(1, 1);
        let mut device = relay.fork().with_actor(ActorId::from([2; 4]));
        for i in 0..3 {
            let mut tx = device.transaction();
            tx.put(ROOT, "d", i).unwrap();
            tx.commit();
        }
        let changes = device.get_changes(&relay.get_heads());
        let mut intake = Intake::new(1 << 20);
        let ready = intake.admit(&relay, changes.into_iter().rev().collect()).unwrap();
        assert_eq!(ready.iter().map(Change::seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(!intake.is_waiting());
    }

    #[test]
    fn a_change_that_skips_sequence_numbers_is_refused_instead_of_crashing_automerge() {
        let relay = doc_with(1, 1);
        let mut device = relay.fork().with_actor(ActorId::from([2; 4]));
        device.transaction().put(ROOT, "d", 1).unwrap();
        let mut tx = device.transaction();
        tx.put(ROOT, "d", 1).unwrap();
        tx.commit();
        let first = device.get_changes(&relay.get_heads()).remove(0);
        // Seq 5 with the relay's heads as dependencies: Automerge would assert on it.
        let skip = forged(&first, |e| e.seq = 5);
        let err = Intake::new(1 << 20).admit(&relay, vec![skip]).unwrap_err();
        assert!(matches!(err, IntakeError::OutOfSequence { seq: 5, .. }), "{err}");
    }

    #[test]
    fn a_later_change_of_an_actor_the_document_never_saw_is_refused() {
        let relay = doc_with(1, 1);
        let first = device_change(&relay);
        let second = forged(&first, |e| e.seq = 2);
        let err = Intake::new(1 << 20).admit(&relay, vec![second]).unwrap_err();
        assert!(matches!(err, IntakeError::OutOfSequence { seq: 2, prev: 0, .. }), "{err}");
    }

    #[test]
    fn changes_waiting_for_a_dependency_are_held_then_admitted_when_it_arrives() {
        let relay = doc_with(1, 1);
        let mut device = relay.fork().with_actor(ActorId::from([2; 4]));
        for i in 0..2 {
            let mut tx = device.transaction();
            tx.put(ROOT, "d", i).unwrap();
            tx.commit();
        }
        let mut changes = device.get_changes(&relay.get_heads());
        let second = changes.pop().unwrap();
        let mut intake = Intake::new(1 << 20);
        assert!(intake.admit(&relay, vec![second.clone()]).unwrap().is_empty());
        assert!(intake.is_waiting());
        assert_eq!(intake.missing(&relay), vec![changes[0].hash()]);
        let ready = intake.admit(&relay, changes).unwrap();
        assert_eq!(ready.len(), 2);
        assert_eq!(ready[1].hash(), second.hash());
        assert!(intake.missing(&relay).is_empty());
    }

    #[test]
    fn waiting_changes_are_bounded() {
        let relay = doc_with(1, 1);
        let mut device = relay.fork().with_actor(ActorId::from([2; 4]));
        for i in 0..2 {
            let mut tx = device.transaction();
            tx.put(ROOT, "d", "x".repeat(200 + i)).unwrap();
            tx.commit();
        }
        let orphan = device.get_changes(&relay.get_heads()).pop().unwrap();
        let err = Intake::new(64).admit(&relay, vec![orphan]).unwrap_err();
        assert!(matches!(err, IntakeError::TooManyWaiting { max: 64, .. }), "{err}");
    }

    #[test]
    fn a_change_naming_an_unknown_actor_is_refused() {
        let relay = doc_with(1, 1);
        let first = device_change(&relay);
        let stranger = forged(&first, |e| {
            e.operations.iter_mut().for_each(|op| {
                op.pred = vec![automerge::legacy::OpId::new(1, &ActorId::from([9; 4]))].into();
            })
        });
        let err = Intake::new(1 << 20).admit(&relay, vec![stranger]);
        assert!(matches!(err, Err(IntakeError::UnknownActor(_))), "{err:?}");
    }

    #[test]
    fn a_change_numbering_its_operations_out_of_place_is_refused() {
        let relay = doc_with(1, 3);
        let first = device_change(&relay);
        let low = forged(&first, |e| e.start_op = std::num::NonZeroU64::new(1).unwrap());
        let err = Intake::new(1 << 20).admit(&relay, vec![low]).unwrap_err();
        assert!(matches!(err, IntakeError::BadStartOp { start: 1, expected: 4, .. }), "{err}");
    }

    #[test]
    fn a_change_automerge_cannot_hold_as_sent_is_refused_and_detected_after_applying() {
        // A predecessor that does not exist: Automerge would apply it, then re-encode the
        // change differently, and a saved document holding it would not load.
        let mut relay = doc_with(1, 1);
        let first = device_change(&relay);
        let ghost = forged(&first, |e| {
            e.operations[0].pred = vec![OpId(1, ActorId::from([2; 4]))].into();
        });
        let err = Intake::new(1 << 20).admit(&relay, vec![ghost.clone()]).unwrap_err();
        assert!(matches!(err, IntakeError::BadReference(_)), "{err}");
        let before = relay.get_heads();
        let applied = vec![ghost.hash()];
        relay.apply_changes(vec![ghost]).unwrap();
        assert_eq!(verify(&relay, &before, &applied), Err(IntakeError::Inconsistent));
    }
}
