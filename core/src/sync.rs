//! One sync session with one peer, plus what a received message changed.
//!
//! Two ways carry changes (see PROTOCOL.md):
//! - the Automerge sync protocol ([`FrameType::SyncShared`]), which finds what each side lacks
//!   with bloom filters: needed on (re)connection, but it walks the whole change graph on every
//!   message, a cost that grows with the conversation (~6 ms per message at 10k messages);
//! - once both sides are known to be in sync, new changes are pushed as they are
//!   ([`FrameType::ChangesShared`]), costing only their own application. A receiver missing a
//!   dependency falls back to the sync protocol, so the fast path never loses anything.
//!
//! The session state lives only for a connection: a reconnecting peer starts a fresh session
//! and the bloom-filter exchange finds what each side lacks (no persisted per-peer state to go
//! stale).

use automerge::{
    sync::{self, ChunkList, SyncDoc},
    Automerge, Change, ChangeHash, LoadOptions, ObjId, OnPartialLoad, Patch, PatchAction, PatchLog,
    ReadDoc, VerificationMode,
};

use crate::document::Document;
use crate::frame::FrameType;
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::inflate::{self, InflateError};
use crate::intake::{self, Intake, IntakeError};
use crate::internal_doc::{AuditEntry, InternalDoc};
use crate::message::Message;
use crate::shared_doc::SharedDoc;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("undecodable sync message: {0}")]
    Decode(#[from] automerge::sync::ReadMessageError),
    #[error("undecodable change in a changes frame: {0}")]
    BadChanges(String),
    #[error("sync message could not be applied: {0}")]
    Apply(#[from] automerge::AutomergeError),
    #[error(transparent)]
    Inflate(#[from] InflateError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// Applied, but the document does not hold the changes as sent: to be dropped.
    #[error("changes could not be applied faithfully: {0}")]
    Corrupt(IntakeError),
}

/// What a received sync message added, as the reader of a conversation cares about it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Observed {
    pub messages: Vec<Message>,
    pub delivered: Vec<(MessageId, i64)>,
    pub read: Vec<(ParticipantId, DeviceId, MessageId)>,
}

impl Observed {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.delivered.is_empty() && self.read.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct PeerSync {
    state: sync::State,
    /// Whether the peer accepts [`FrameType::ChangesShared`].
    fast_capable: bool,
    /// Set once a sync round showed the peer holds exactly our heads: what the peer holds (or
    /// will hold once it has read what we sent; the WebSocket is ordered). `None` while the
    /// sync protocol is in charge.
    peer_has: Option<Vec<ChangeHash>>,
    /// A sync message arrived and the protocol's answer has not been generated yet; the peer
    /// may be waiting for it to learn that we are in sync too.
    reply_due: bool,
    /// Checks on an untrusted peer's input (the relay's side); `None` for input from the
    /// relay itself.
    guard: Option<Guard>,
    /// A device's side: the relay acknowledges our changes frames ([`crate::ack`]), so the
    /// fast path counts a change as held only once its ack arrived.
    expects_acks: bool,
    /// A device's side: changes sent in changes frames whose ack has not arrived.
    unacked: Vec<ChangeHash>,
    /// The relay's side: changes of received changes frames that the document now holds,
    /// to acknowledge once they are persisted.
    to_ack: Vec<ChangeHash>,
    /// Bytes and messages exchanged, for benchmarks and diagnostics.
    pub sent_messages: u64,
    pub sent_bytes: u64,
    pub received_messages: u64,
    pub received_bytes: u64,
}

impl PeerSync {
    /// A session; `fast_capable` when the peer announced it accepts changes frames.
    pub fn new(fast_capable: bool) -> Self {
        Self { fast_capable, ..Self::default() }
    }

    /// A device's session with a relay that acknowledges its changes frames (it connected
    /// with `caps=acks`): [`Self::in_sync`] then waits for the acks.
    pub fn expecting_acks(mut self) -> Self {
        self.expects_acks = true;
        self
    }

    /// Checks the peer's input before Automerge sees it: compressed parts may inflate to at
    /// most `inflate_budget` bytes per message ([`crate::inflate`]), changes go through an
    /// [`Intake`] holding at most `max_waiting_bytes` of changes that wait for dependencies.
    pub fn guarded(mut self, inflate_budget: usize, max_waiting_bytes: usize) -> Self {
        self.guard = Some(Guard { inflate_budget, intake: Intake::new(max_waiting_bytes) });
        self
    }

    /// Applies a peer's frame (sync message or changes) and returns the patches it made
    /// ([`observe`] reads them; the relay also validates them). On error the document may
    /// hold part of the input; callers that must not keep partial input reload from storage.
    pub fn receive<D: Document>(
        &mut self,
        doc: &mut D,
        ty: FrameType,
        bytes: &[u8],
    ) -> Result<Vec<Patch>, SyncError> {
        self.received_messages += 1;
        self.received_bytes += bytes.len() as u64;
        // The relay's checks read patches made from the admitted changes themselves
        // ([`crate::op_patches`]): Automerge's own cost a walk of the message list each.
        let mut log = if self.guard.is_some() { PatchLog::inactive() } else { PatchLog::active() };
        let mut admitted: Option<Vec<Change>> = None;
        match ty {
            _ if ty == D::CHANNEL.changes_frame() => {
                if let Some(g) = &self.guard {
                    inflate::check(bytes, &mut g.inflate_budget.clone(), g.inflate_budget)?;
                }
                let changes = split_changes(bytes)?;
                let hashes: Vec<ChangeHash> = changes.iter().map(Change::hash).collect();
                let complete = match self.guard.as_mut() {
                    Some(g) => {
                        let before = doc.heads();
                        let ready = g.intake.admit(doc.automerge(), changes)?;
                        let applied: Vec<ChangeHash> = ready.iter().map(Change::hash).collect();
                        admitted = Some(ready.clone());
                        doc.automerge_mut().apply_changes_log_patches(ready, &mut log)?;
                        intake::verify(doc.automerge(), &before, &applied)
                            .map_err(SyncError::Corrupt)?;
                        let intake = &g.intake;
                        self.to_ack
                            .extend(hashes.iter().filter(|h| !intake.is_waiting_for(h)).copied());
                        !g.intake.is_waiting()
                    }
                    None => {
                        doc.automerge_mut().apply_changes_log_patches(changes, &mut log)?;
                        doc.automerge().get_missing_deps(&[]).is_empty()
                    }
                };
                if complete {
                    if let Some(has) = self.peer_has.as_mut() {
                        has.extend(hashes);
                    }
                } else {
                    // We lack what these changes build on (the applied part stays; the rest
                    // waits). A fresh sync session answers at once and lets the bloom-filter
                    // exchange find whatever is missing.
                    self.peer_has = None;
                    self.state = sync::State::new();
                    self.reply_due = true;
                }
            }
            _ => {
                let mut msg = sync::Message::decode(bytes)?;
                let before = doc.heads();
                let sent_before = self.state.last_sent_heads.clone();
                // What the peer believes we both hold (its `shared_heads`).
                let mut peer_shared = msg.have.first().map(|h| h.last_sync.clone());
                let mut applied = Vec::new();
                if let Some(g) = self.guard.as_mut() {
                    let mut left = g.inflate_budget;
                    let mut changes = Vec::new();
                    for part in msg.changes.iter() {
                        inflate::check(part, &mut left, g.inflate_budget)?;
                        changes.extend(changes_in(part)?);
                    }
                    // Automerge applies what the intake lets through, nothing else.
                    let ready = g.intake.admit(doc.automerge(), changes)?;
                    applied = ready.iter().map(Change::hash).collect();
                    msg.changes = ChunkList::from(
                        ready.iter().map(|c| c.raw_bytes().to_vec()).collect::<Vec<_>>(),
                    );
                    admitted = Some(ready);
                }
                doc.automerge_mut().receive_sync_message_log_patches(
                    &mut self.state,
                    msg,
                    &mut log,
                )?;
                intake::verify(doc.automerge(), &before, &applied).map_err(SyncError::Corrupt)?;
                // Automerge takes a message without changes whose heads equal ours as if we had
                // sent those heads, and then stays silent. But the peer may never have heard
                // them: changes frames and the intake (which drops changes we hold) bypass the
                // sync state, and the peer's `shared_heads` only moves on a message from us. So
                // it is left believing it is out of sync for good. Answering once more costs
                // one small message; the answer's heads equal the peer's, which ends the round.
                self.state.last_sent_heads = sent_before;
                self.reply_due = true;
                let mut ours = doc.heads();
                ours.sort();
                let theirs = self.state.their_heads.clone().map(|mut h| {
                    h.sort();
                    h
                });
                if let Some(h) = peer_shared.as_mut() {
                    h.sort();
                }
                // The peer holds our heads but has not heard us announce them while holding
                // them (it got the last change by a changes frame after our message named
                // it): our answer must say them again, or both sides stay silent (Automerge,
                // and the rule in `sync_message`, count those heads as already sent) and the
                // peer is left believing it is out of sync for good.
                if theirs.as_ref() == Some(&ours) && peer_shared.as_ref() != Some(&ours) {
                    self.state.last_sent_heads = Vec::new();
                }
                if theirs.as_ref() == Some(&ours) {
                    // The relay announces only persisted heads: it holds all we hold.
                    self.unacked.clear();
                }
                self.peer_has =
                    (self.fast_capable && theirs.as_ref() == Some(&ours)).then_some(ours);
            }
        }
        match admitted {
            Some(changes) => {
                crate::op_patches::patches_of(doc.automerge(), &changes).map_err(SyncError::Corrupt)
            }
            None => Ok(doc.automerge_mut().make_patches(&mut log)),
        }
    }

    /// Every frame the peer should get now, in order: the sync protocol's answer if one is
    /// due, then (once in sync) the changes the peer lacks.
    pub fn generate<D: Document>(&mut self, doc: &D) -> Vec<(FrameType, Vec<u8>)> {
        let mut out = Vec::new();
        if std::mem::take(&mut self.reply_due) || self.peer_has.is_none() {
            if let Some(msg) = self.sync_message(doc) {
                out.push((D::CHANNEL.sync_frame(), msg.encode()));
            }
        }
        if let Some(has) = self.peer_has.as_mut() {
            let changes = doc.automerge().get_changes(has);
            if !changes.is_empty() {
                let bytes: Vec<u8> =
                    changes.iter().flat_map(|c| c.raw_bytes().iter().copied()).collect();
                if self.expects_acks {
                    self.unacked.extend(changes.iter().map(|c| c.hash()));
                }
                *has = doc.heads();
                out.push((D::CHANNEL.changes_frame(), bytes));
            }
        }
        for (_, bytes) in &out {
            self.sent_messages += 1;
            self.sent_bytes += bytes.len() as u64;
        }
        out
    }

    /// The sync protocol's next message, if it says anything the peer has not heard.
    ///
    /// Automerge answers every received message while the two sides' heads differ, and while
    /// several devices write at once they nearly always differ (changes are in flight both
    /// ways): relay and devices then trade empty messages for as long as the writing lasts, up
    /// to 246 frames per message in `tests/sync_stream.rs`, each costing a bloom filter over
    /// recent changes. A message with no changes, no needs and the heads we last sent tells
    /// the peer nothing (what we hold reaches it with the changes already on their way), so
    /// it is not sent; Automerge's state records it as sent, which is what it would have been.
    /// A reset (the peer believes we hold changes we do not) always goes out.
    fn sync_message<D: Document>(&mut self, doc: &D) -> Option<sync::Message> {
        let heads = doc.heads();
        let st = &self.state;
        let told = st.have_responded && st.last_sent_heads == heads;
        if told && st.in_flight {
            // Automerge returns nothing here too, but only after building a bloom filter.
            return None;
        }
        let mut msg = doc.automerge().generate_sync_message(&mut self.state)?;
        // Automerge does not know the changes our intake holds: ask for what they build on.
        if let Some(g) = self.guard.as_ref().filter(|g| g.intake.is_waiting()) {
            msg.need.extend(g.intake.missing(doc.automerge()));
            msg.need.sort();
            msg.need.dedup();
        }
        let reset = msg.have.first().is_none_or(|h| h.last_sync.is_empty());
        let silent = msg.changes.is_empty() && msg.need.is_empty() && !reset;
        (!(told && silent)).then_some(msg)
    }

    /// Whether the peer is known to hold every change we hold: on the sync protocol, its
    /// last message announced our heads; on the fast path, everything we sent reached it
    /// (and, with acks, the relay acknowledged it: it is on the relay's disk).
    pub fn in_sync<D: Document>(&self, doc: &D) -> bool {
        let heads = doc.heads();
        match &self.peer_has {
            Some(has) => heads.iter().all(|h| has.contains(h)) && self.unacked.is_empty(),
            None => self.state.shared_heads == heads,
        }
    }

    /// A device's side: the relay acknowledged these changes of our changes frames.
    pub fn acknowledged(&mut self, hashes: &[ChangeHash]) {
        let acked: std::collections::HashSet<&ChangeHash> = hashes.iter().collect();
        self.unacked.retain(|h| !acked.contains(h));
    }

    /// The relay's side: changes of the peer's changes frames now in the document, not yet
    /// acknowledged. Take them only after persisting: the ack says they are on disk.
    pub fn take_acks(&mut self) -> Vec<ChangeHash> {
        std::mem::take(&mut self.to_ack)
    }

    /// Whether new changes currently go out as changes frames.
    pub fn fast_path(&self) -> bool {
        self.peer_has.is_some()
    }
}

/// What the relay checks of an untrusted peer's input before Automerge sees it.
#[derive(Debug)]
struct Guard {
    inflate_budget: usize,
    intake: Intake,
}

/// The changes in one part of a sync message: change chunks, or a whole document (Automerge
/// sends its document when the receiver lacks more than a third of it), read on its own.
fn changes_in(mut bytes: &[u8]) -> Result<Vec<Change>, IntakeError> {
    let bad = |e: &dyn std::fmt::Display| IntakeError::Undecodable(e.to_string());
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (ty, len) = inflate::chunk_header(bytes).map_err(|e| bad(&e))?;
        let (chunk, rest) = bytes.split_at(len);
        if ty == 0 {
            let options = LoadOptions::new()
                .on_partial_load(OnPartialLoad::Error)
                .verification_mode(VerificationMode::Check);
            let doc = Automerge::load_with_options(chunk, options).map_err(|e| bad(&e))?;
            out.extend(doc.get_changes(&[]));
        } else {
            crate::chunk::change_rows_within(chunk, crate::chunk::MAX_CHANGE_ROWS)
                .map_err(|e| bad(&e))?;
            out.push(Change::from_bytes(chunk.to_vec()).map_err(|e| bad(&e))?);
        }
        bytes = rest;
    }
    Ok(out)
}

/// Splits a changes frame into Automerge change chunks: each is the 4 magic bytes, a 4-byte
/// checksum, a type byte (1 = change, 2 = compressed change), a LEB128 body length, the body.
fn split_changes(mut bytes: &[u8]) -> Result<Vec<Change>, SyncError> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let bad = |m: &str| SyncError::BadChanges(m.to_owned());
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 || bytes[..4] != MAGIC {
            return Err(bad("a chunk does not start with the Automerge magic bytes"));
        }
        if bytes.len() < 10 {
            return Err(bad("truncated chunk header"));
        }
        if !matches!(bytes[8], 1 | 2) {
            return Err(bad("a chunk is not a change"));
        }
        let (mut len, mut shift, mut at) = (0u64, 0u32, 9usize);
        loop {
            let b = *bytes.get(at).ok_or_else(|| bad("truncated chunk length"))?;
            if shift > 56 {
                return Err(bad("chunk length overflows"));
            }
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end =
            usize::try_from(len).ok().and_then(|l| at.checked_add(l)).filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| bad("chunk longer than the frame"))?;
        crate::chunk::change_rows_within(&bytes[..end], crate::chunk::MAX_CHANGE_ROWS)
            .map_err(bad)?;
        out.push(
            Change::from_bytes(bytes[..end].to_vec())
                .map_err(|e| SyncError::BadChanges(e.to_string()))?,
        );
        bytes = &bytes[end..];
    }
    Ok(out)
}

/// What a received message changed in the internal document.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ObservedInternal {
    pub notes: Vec<Message>,
    /// Tags or case fields changed (read the document for the new values).
    pub case_changed: bool,
    pub audit: Vec<AuditEntry>,
}

/// Reads the notes, case changes and audit entries that `patches` added to `doc`.
pub fn observe_internal(doc: &InternalDoc, patches: &[automerge::Patch]) -> ObservedInternal {
    let mut out = ObservedInternal::default();
    let (mut notes, mut audit): (Vec<ObjId>, Vec<ObjId>) = (Vec::new(), Vec::new());
    for p in patches {
        match &p.action {
            PatchAction::Insert { values, .. } if &p.obj == doc.notes_obj() => {
                notes.extend(values.iter().map(|(_, id, _)| id.clone()));
            }
            PatchAction::Insert { values, .. } if &p.obj == doc.audit_obj() => {
                audit.extend(values.iter().map(|(_, id, _)| id.clone()));
            }
            _ if &p.obj == doc.tags_obj() || &p.obj == doc.case_obj() => out.case_changed = true,
            _ => {}
        }
    }
    out.notes = notes.iter().filter_map(|obj| doc.note_in(obj)).collect();
    out.audit = audit.iter().filter_map(|obj| doc.audit_in(obj)).collect();
    out
}

/// Reads the messages, receipts and read marks that `patches` added to `doc`.
pub fn observe(doc: &SharedDoc, patches: &[automerge::Patch]) -> Observed {
    let mut out = Observed::default();
    let mut new_objs: Vec<ObjId> = Vec::new();
    for p in patches {
        match &p.action {
            PatchAction::Insert { values, .. } if &p.obj == doc.messages_obj() => {
                new_objs.extend(values.iter().map(|(_, id, _)| id.clone()));
            }
            PatchAction::PutMap { key, value, .. } if &p.obj == doc.delivered_obj() => {
                if let (Ok(id), Some(at)) = (MessageId::new(key.as_str()), value.0.as_i64()) {
                    out.delivered.push((id, at));
                }
            }
            PatchAction::PutMap { key, value, .. } if &p.obj == doc.read_obj() => {
                let parsed = key.split_once('/').and_then(|(who, dev)| {
                    Some((
                        ParticipantId::new(who).ok()?,
                        DeviceId::new(dev).ok()?,
                        MessageId::new(value.0.as_str()?).ok()?,
                    ))
                });
                out.read.extend(parsed);
            }
            _ => {}
        }
    }
    // A message's fields arrive as patches after its insertion; read the finished map.
    out.messages = new_objs.iter().filter_map(|obj| doc.message_in(obj)).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Author, MessageKind, Role};
    use automerge::ActorId;

    fn msg(i: u32, who: &str) -> Message {
        Message {
            id: MessageId::new(format!("{who}-{i}")).unwrap(),
            author: Author {
                role: Role::Visitor,
                id: ParticipantId::new(who).unwrap(),
                name: who.into(),
            },
            device: DeviceId::new("d").unwrap(),
            kind: MessageKind::Text,
            body: format!("hello {i}"),
            sent_at: i as i64,
            attachment: None,
        }
    }

    /// Runs the protocol between two replicas until neither has anything to say.
    fn converge(a: &mut SharedDoc, b: &mut SharedDoc) -> (Observed, Observed, usize) {
        let (mut sa, mut sb) = (PeerSync::new(true), PeerSync::new(true));
        let (mut seen_a, mut seen_b) = (Observed::default(), Observed::default());
        let mut rounds = 0;
        loop {
            let mut quiet = true;
            for (ty, m) in sa.generate(a) {
                let patches = sb.receive(b, ty, &m).unwrap();
                let o = observe(b, &patches);
                seen_b.messages.extend(o.messages);
                quiet = false;
            }
            for (ty, m) in sb.generate(b) {
                let patches = sa.receive(a, ty, &m).unwrap();
                let o = observe(a, &patches);
                seen_a.messages.extend(o.messages);
                quiet = false;
            }
            if quiet {
                return (seen_a, seen_b, rounds);
            }
            rounds += 1;
            assert!(rounds < 20, "sync did not settle");
        }
    }

    #[test]
    fn two_offline_replicas_converge_and_report_each_new_message_once() {
        let mut a = SharedDoc::new(ActorId::random()).unwrap();
        let mut b = SharedDoc::new(ActorId::random()).unwrap();
        for i in 0..10 {
            a.append(&msg(i, "a"), 0).unwrap();
            b.append(&msg(i, "b"), 0).unwrap();
        }
        let (seen_a, seen_b, _) = converge(&mut a, &mut b);
        assert_eq!(a.heads(), b.heads());
        assert_eq!(a.messages(), b.messages());
        assert_eq!(a.message_count(), 20);
        assert_eq!(seen_a.messages.len(), 10);
        assert!(seen_a.messages.iter().all(|m| m.author.id.as_str() == "b"));
        assert_eq!(seen_b.messages.len(), 10);
    }

    #[test]
    fn receipts_and_read_marks_are_observed() {
        let mut a = SharedDoc::new(ActorId::random()).unwrap();
        let mut b = SharedDoc::new(ActorId::random()).unwrap();
        a.append(&msg(1, "a"), 0).unwrap();
        converge(&mut a, &mut b);
        let id = MessageId::new("a-1").unwrap();
        b.stamp_delivered(std::slice::from_ref(&id), 77).unwrap();
        let who = ParticipantId::new("agent").unwrap();
        b.mark_read(&who, &DeviceId::new("phone").unwrap(), &id, 0).unwrap();
        let mut sa = PeerSync::new(false);
        let mut sb = PeerSync::new(false);
        let mut seen = Observed::default();
        for _ in 0..5 {
            for (ty, m) in sa.generate(&a) {
                sb.receive(&mut b, ty, &m).unwrap();
            }
            for (ty, m) in sb.generate(&b) {
                let patches = sa.receive(&mut a, ty, &m).unwrap();
                let o = observe(&a, &patches);
                seen.delivered.extend(o.delivered);
                seen.read.extend(o.read);
            }
        }
        assert_eq!(seen.delivered, vec![(id.clone(), 77)]);
        assert_eq!(seen.read, vec![(who, DeviceId::new("phone").unwrap(), id)]);
    }

    #[test]
    fn once_in_sync_new_changes_travel_as_changes_frames() {
        let mut a = SharedDoc::new(ActorId::random()).unwrap();
        let mut b = SharedDoc::new(ActorId::random()).unwrap();
        a.append(&msg(0, "a"), 0).unwrap();
        let (mut sa, mut sb) = (PeerSync::new(true), PeerSync::new(true));
        for _ in 0..10 {
            for (ty, m) in sa.generate(&a) {
                sb.receive(&mut b, ty, &m).unwrap();
            }
            for (ty, m) in sb.generate(&b) {
                sa.receive(&mut a, ty, &m).unwrap();
            }
        }
        assert!(sa.fast_path() && sb.fast_path());
        assert!(sa.in_sync(&a) && sb.in_sync(&b));
        a.append(&msg(1, "a"), 0).unwrap();
        assert!(!sa.in_sync(&a));
        let out = sa.generate(&a);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, FrameType::ChangesShared);
        let patches = sb.receive(&mut b, out[0].0, &out[0].1).unwrap();
        let seen = observe(&b, &patches);
        assert_eq!(seen.messages.len(), 1);
        assert_eq!(a.heads(), b.heads());
        assert!(sb.generate(&b).is_empty(), "nothing to answer to a changes frame");
        assert!(sa.in_sync(&a));
    }

    #[test]
    fn a_changes_frame_with_missing_dependencies_falls_back_to_the_sync_protocol() {
        let mut a = SharedDoc::new(ActorId::random()).unwrap();
        let mut b = SharedDoc::new(ActorId::random()).unwrap();
        let (mut sa, mut sb) = (PeerSync::new(true), PeerSync::new(true));
        let exchange =
            |a: &mut SharedDoc, b: &mut SharedDoc, sa: &mut PeerSync, sb: &mut PeerSync| {
                for _ in 0..10 {
                    for (ty, m) in sa.generate(a) {
                        sb.receive(b, ty, &m).unwrap();
                    }
                    for (ty, m) in sb.generate(b) {
                        sa.receive(a, ty, &m).unwrap();
                    }
                }
            };
        exchange(&mut a, &mut b, &mut sa, &mut sb);
        assert!(sa.fast_path());
        // A change whose predecessor the receiver never got (a lost frame).
        a.append(&msg(1, "a"), 0).unwrap();
        let lost = sa.generate(&a);
        assert_eq!(lost[0].0, FrameType::ChangesShared);
        a.append(&msg(2, "a"), 0).unwrap();
        let next = sa.generate(&a);
        let patches = sb.receive(&mut b, next[0].0, &next[0].1).unwrap();
        let seen = observe(&b, &patches);
        assert!(seen.messages.is_empty(), "cannot apply without its dependency");
        assert!(!sb.fast_path());
        exchange(&mut a, &mut b, &mut sa, &mut sb);
        assert_eq!(a.heads(), b.heads());
        assert_eq!(b.message_count(), 2);
    }

    #[test]
    fn garbage_is_a_decode_error_and_changes_nothing() {
        let mut a = SharedDoc::new(ActorId::random()).unwrap();
        let before = a.heads();
        let err =
            PeerSync::new(true).receive(&mut a, FrameType::SyncShared, b"\x42garbage").unwrap_err();
        assert!(matches!(err, SyncError::Decode(_)), "{err}");
        let err = PeerSync::new(true)
            .receive(&mut a, FrameType::ChangesShared, b"\x85\x6f\x4a\x83garbage")
            .unwrap_err();
        assert!(matches!(err, SyncError::BadChanges(_)), "{err}");
        assert_eq!(a.heads(), before);
    }
}
