//! One Automerge sync session with one peer, plus what a received message changed.
//!
//! The session state lives only for a connection: a reconnecting peer starts a fresh session
//! and the bloom-filter exchange finds what each side lacks (one extra round trip, no
//! persisted per-peer state to go stale).

use automerge::{
    sync::{self, SyncDoc},
    ObjId, PatchAction, PatchLog,
};

use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::message::Message;
use crate::shared_doc::SharedDoc;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("undecodable sync message: {0}")]
    Decode(#[from] automerge::sync::ReadMessageError),
    #[error("sync message could not be applied: {0}")]
    Apply(#[from] automerge::AutomergeError),
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
    /// Bytes and messages exchanged, for benchmarks and diagnostics.
    pub sent_messages: u64,
    pub sent_bytes: u64,
    pub received_messages: u64,
    pub received_bytes: u64,
}

impl PeerSync {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a peer's sync message and reports what it added. On error the document may
    /// hold part of the message; callers that must not keep partial input reload from storage.
    pub fn receive(&mut self, doc: &mut SharedDoc, bytes: &[u8]) -> Result<Observed, SyncError> {
        let msg = sync::Message::decode(bytes)?;
        self.received_messages += 1;
        self.received_bytes += bytes.len() as u64;
        let mut log = PatchLog::active();
        doc.automerge_mut().receive_sync_message_log_patches(&mut self.state, msg, &mut log)?;
        let patches = doc.automerge_mut().make_patches(&mut log);
        Ok(observe(doc, &patches))
    }

    /// The next message for the peer, if it needs one.
    pub fn generate(&mut self, doc: &SharedDoc) -> Option<Vec<u8>> {
        let bytes = doc.automerge().generate_sync_message(&mut self.state)?.encode();
        self.sent_messages += 1;
        self.sent_bytes += bytes.len() as u64;
        Some(bytes)
    }

    /// Whether the peer is known to have every change we have.
    pub fn in_sync(&self, doc: &SharedDoc) -> bool {
        self.state.shared_heads == doc.heads()
    }
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
        }
    }

    /// Runs the protocol between two replicas until neither has anything to say.
    fn converge(a: &mut SharedDoc, b: &mut SharedDoc) -> (Observed, Observed, usize) {
        let (mut sa, mut sb) = (PeerSync::new(), PeerSync::new());
        let (mut seen_a, mut seen_b) = (Observed::default(), Observed::default());
        let mut rounds = 0;
        loop {
            let mut quiet = true;
            if let Some(m) = sa.generate(a) {
                let o = sb.receive(b, &m).unwrap();
                seen_b.messages.extend(o.messages);
                quiet = false;
            }
            if let Some(m) = sb.generate(b) {
                let o = sa.receive(a, &m).unwrap();
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
        let mut sa = PeerSync::new();
        let mut sb = PeerSync::new();
        let mut seen = Observed::default();
        for _ in 0..5 {
            if let Some(m) = sa.generate(&a) {
                sb.receive(&mut b, &m).unwrap();
            }
            if let Some(m) = sb.generate(&b) {
                let o = sa.receive(&mut a, &m).unwrap();
                seen.delivered.extend(o.delivered);
                seen.read.extend(o.read);
            }
        }
        assert_eq!(seen.delivered, vec![(id.clone(), 77)]);
        assert_eq!(seen.read, vec![(who, DeviceId::new("phone").unwrap(), id)]);
    }

    #[test]
    fn garbage_is_a_decode_error_and_changes_nothing() {
        let mut a = SharedDoc::new(ActorId::random()).unwrap();
        let before = a.heads();
        let err = PeerSync::new().receive(&mut a, b"\x42garbage").unwrap_err();
        assert!(matches!(err, SyncError::Decode(_)), "{err}");
        assert_eq!(a.heads(), before);
    }
}
