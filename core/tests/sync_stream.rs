//! Devices on the plain sync protocol (PROTOCOL.md §6.1 only, as a third-party client written
//! from the document would be) writing into one conversation at once, over a network where
//! frames cross: each side only sees what the other sent one step earlier.
//!
//! Automerge answers every sync message whose sender's heads differ from its own, and while
//! several devices write, heads almost never agree: without care, relay and devices trade
//! empty messages for as long as the stream lasts, each costing the relay a bloom filter over
//! recent changes. On workerd that chatter took 46 empty messages per accepted one and
//! starved the writers (9 msg/s for 5 devices).

use std::collections::HashMap;

use edgedesk_core::automerge::ActorId;
use edgedesk_core::frame::{self, FrameType};
use edgedesk_core::ids::{DeviceId, MessageId, ParticipantId};
use edgedesk_core::message::{Author, Message, MessageKind, Role};
use edgedesk_core::relay::{PeerId, PeerInfo, Relay};
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::store::MemStore;
use edgedesk_core::sync::PeerSync;

struct Writer {
    peer: PeerId,
    info: PeerInfo,
    doc: SharedDoc,
    sync: PeerSync,
    /// The message written and not acknowledged yet.
    waiting: Option<MessageId>,
    written: u32,
    acked: u32,
    last_ack_step: usize,
    longest_wait: usize,
}

impl Writer {
    fn new(peer: PeerId, device: &str) -> Self {
        let info = PeerInfo {
            role: Role::Visitor,
            participant: ParticipantId::new("v1").unwrap(),
            device: DeviceId::new(device).unwrap(),
            fast: false,
            acks: false,
            name: None,
        };
        Self {
            peer,
            info,
            doc: SharedDoc::new(ActorId::random()).unwrap(),
            sync: PeerSync::new(false),
            waiting: None,
            written: 0,
            acked: 0,
            last_ack_step: 0,
            longest_wait: 0,
        }
    }

    fn write(&mut self, step: usize) {
        let id = MessageId::new(format!("{}-{}", self.info.device.as_str(), self.written)).unwrap();
        let msg = Message {
            id: id.clone(),
            author: Author {
                role: Role::Visitor,
                id: self.info.participant.clone(),
                name: "v1".into(),
            },
            device: self.info.device.clone(),
            kind: MessageKind::Text,
            body: format!("message {} 你好", self.written),
            sent_at: step as i64,
            attachment: None,
        };
        self.doc.append(&msg, step as i64).unwrap();
        self.written += 1;
        self.waiting = Some(id);
    }

    fn send(&mut self, to_relay: &mut Vec<(PeerId, Vec<u8>)>) {
        for (ty, payload) in self.sync.generate(&self.doc) {
            to_relay.extend(frame::encode(ty, &payload).into_iter().map(|f| (self.peer, f)));
        }
    }

    fn note_receipt(&mut self, step: usize) {
        if let Some(id) = &self.waiting {
            if self.doc.delivered_at(id).is_some() {
                self.waiting = None;
                self.acked += 1;
                self.last_ack_step = step;
            }
        }
        self.longest_wait = self.longest_wait.max(step - self.last_ack_step);
    }
}

/// Runs `writers` devices for `steps` steps of writing, then until the network is quiet.
/// Returns the writers, the relay, and the number of frames both ways.
fn stream(writers: usize, steps: usize) -> (Vec<Writer>, Relay<MemStore>, usize) {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut ws: Vec<Writer> =
        (0..writers).map(|i| Writer::new(i as PeerId + 1, &format!("d{i}"))).collect();
    let mut to_devices: Vec<(PeerId, Vec<u8>)> = Vec::new();
    let mut to_relay: Vec<(PeerId, Vec<u8>)> = Vec::new();
    for w in &ws {
        for o in relay.connect(w.peer, w.info.clone()).frames {
            to_devices.extend(o.frames.into_iter().map(|f| (o.to, f)));
        }
    }
    let mut frames = 0;
    let mut quiet_steps = 0;
    for step in 1.. {
        assert!(step < steps + 500, "the network did not settle");
        let (inbound, outbound) = (std::mem::take(&mut to_relay), std::mem::take(&mut to_devices));
        frames += inbound.len() + outbound.len();
        if step > steps && inbound.is_empty() && outbound.is_empty() {
            quiet_steps += 1;
            if quiet_steps > 2 {
                break;
            }
        }
        for (peer, f) in inbound {
            for o in relay.receive(peer, &f, step as i64 * 1000).unwrap().frames {
                to_devices.extend(o.frames.into_iter().map(|f| (o.to, f)));
            }
        }
        let mut by_peer: HashMap<PeerId, Vec<Vec<u8>>> = HashMap::new();
        for (peer, f) in outbound {
            by_peer.entry(peer).or_default().push(f);
        }
        for w in ws.iter_mut() {
            // Like a client written from §6.1: answer each frame, write the next message as
            // soon as the last one is acknowledged.
            for f in by_peer.remove(&w.peer).unwrap_or_default() {
                let ty = FrameType::from_byte(f[0]).unwrap();
                assert_eq!(ty, FrameType::SyncShared, "a plain sync client gets sync frames only");
                w.sync.receive(&mut w.doc, ty, &f[1..]).unwrap();
                w.note_receipt(step);
                if w.waiting.is_none() && step <= steps {
                    w.write(step);
                }
                w.send(&mut to_relay);
            }
            w.note_receipt(step);
            if w.waiting.is_none() && step <= steps {
                w.write(step);
            }
            w.send(&mut to_relay);
        }
    }
    (ws, relay, frames)
}

#[test]
fn five_plain_sync_writers_all_get_every_receipt_and_converge() {
    let (ws, relay, _) = stream(5, 120);
    for w in &ws {
        assert!(w.waiting.is_none(), "{} still waits for a receipt", w.info.device.as_str());
        assert_eq!(w.acked, w.written);
        assert_eq!(w.doc.heads(), relay.doc().heads(), "every device converges on the relay");
    }
    let total: u32 = ws.iter().map(|w| w.written).sum();
    assert_eq!(relay.doc().message_count(), total as usize);
    assert!(relay.doc().undelivered().is_empty());
}

#[test]
fn five_plain_sync_writers_each_keep_getting_receipts() {
    let (ws, _, _) = stream(5, 120);
    let slowest = ws.iter().map(|w| w.acked).min().unwrap();
    let fastest = ws.iter().map(|w| w.acked).max().unwrap();
    for w in &ws {
        // A receipt takes 2 steps at best (there and back); one more per message that crosses.
        assert!(w.longest_wait <= 6, "{} waited {} steps", w.info.device.as_str(), w.longest_wait);
    }
    assert!(slowest * 2 >= fastest, "receipts shared unfairly: {slowest} vs {fastest}");
}

#[test]
fn five_plain_sync_writers_cost_a_bounded_number_of_frames_per_message() {
    let (ws, _, frames) = stream(5, 120);
    let messages: u32 = ws.iter().map(|w| w.written).sum();
    // Each message must reach the relay and its receipt every device, and each device tells
    // the relay once what it now holds: about 2 frames per device per message. Empty answers
    // to empty messages would multiply that for as long as the writers keep writing.
    let per_message = frames as f64 / f64::from(messages);
    assert!(per_message <= 12.0, "{frames} frames for {messages} messages ({per_message:.1} each)");
}
