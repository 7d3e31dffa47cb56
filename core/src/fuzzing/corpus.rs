//! Real traffic of honest devices, recorded once per process: what the mutations start from.
//!
//! Four devices (two of one visitor, an agent, an admin) hold a conversation through a real
//! [`Relay`]: offline writes, replies, read marks, profile and status writes, a late device
//! merging its offline message. Each device is what the SDK's `ClientSession` drives (a
//! [`SharedDoc`] and a [`PeerSync`] per connection) with a fixed actor, fixed ids and a fixed
//! clock, so the corpus is the same in every run and a failing input replays exactly.

use std::io::Write;
use std::sync::OnceLock;

use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, ObjId, ScalarValue,
};

use crate::frame::{self, FrameType, Reassembler, MAX_SERVER_MESSAGE};
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::message::{Author, Message, MessageKind, Role};
use crate::relay::{Outgoing, PeerId, PeerInfo, Relay};
use crate::shared_doc::SharedDoc;
use crate::store::MemStore;
use crate::sync::PeerSync;

/// Participants and devices the targets draw identities from; `mallory` never wrote.
pub(super) const PARTICIPANTS: [&str; 4] = ["v1", "a1", "ad1", "mallory"];
pub(super) const DEVICES: [&str; 5] = ["v1-phone", "v1-laptop", "a1-desk", "ad1-laptop", "m-dev"];

pub(super) struct Corpus {
    /// The relay's storage once the conversation is over.
    pub history: MemStore,
    /// Every frame an honest device sent the relay, in order.
    pub frames: Vec<Vec<u8>>,
    /// The devices' next writes (a message, a read mark, a profile or status value) as raw
    /// changes, made after `history` and not sent.
    pub pending_changes: Vec<Vec<u8>>,
    /// The frames each device would send to carry them.
    pub pending_frames: Vec<Vec<u8>>,
    /// Every change in `history`, raw.
    pub history_changes: Vec<Vec<u8>>,
    /// Ids of the messages in `history`.
    pub message_ids: Vec<String>,
    /// Deflate streams of 1, 8 and 64 MiB of zeros (a few KiB each): bomb material.
    pub bombs: Vec<Vec<u8>>,
}

pub(super) fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(build)
}

pub(super) fn info(role: Role, who: &str, device: &str, fast: bool) -> PeerInfo {
    PeerInfo {
        role,
        participant: ParticipantId::new(who).expect("corpus participant"),
        device: DeviceId::new(device).expect("corpus device"),
        fast,
        acks: fast,
        name: None,
    }
}

struct Device {
    peer: PeerId,
    info: PeerInfo,
    doc: SharedDoc,
    sync: PeerSync,
    inbox: Reassembler,
}

impl Device {
    fn new(peer: PeerId, info: PeerInfo) -> Self {
        let mut actor = [0u8; 16];
        actor[..8].copy_from_slice(b"fuzzdev.");
        actor[15] = peer as u8;
        let fast = info.fast;
        Self {
            peer,
            info,
            doc: SharedDoc::new(ActorId::from(actor)).expect("schema"),
            sync: PeerSync::new(fast),
            inbox: Reassembler::new(MAX_SERVER_MESSAGE),
        }
    }

    fn say(&mut self, n: u32, kind: MessageKind, body: &str, now: i64) {
        let msg = Message {
            id: MessageId::new(format!("{}-{n}", self.info.participant)).expect("id"),
            author: Author {
                role: self.info.role,
                id: self.info.participant.clone(),
                name: format!("{} name", self.info.participant),
            },
            device: self.info.device.clone(),
            kind,
            body: body.to_owned(),
            sent_at: now,
            attachment: None,
        };
        self.doc.append(&msg, now).expect("honest append");
    }

    fn read_up_to_last(&mut self, now: i64) {
        if let Some(last) = self.doc.messages().last().map(|m| m.id.clone()) {
            let (who, dev) = (self.info.participant.clone(), self.info.device.clone());
            self.doc.mark_read(&who, &dev, &last, now).expect("honest read mark");
        }
    }

    fn put(&mut self, obj: ObjId, key: &str, value: ScalarValue, now: i64) {
        let mut tx = self.doc.automerge_mut().transaction();
        tx.put(&obj, key, value).expect("honest put");
        tx.commit_with(CommitOptions::default().with_time(now));
    }

    fn outgoing(&mut self) -> Vec<Vec<u8>> {
        let out = self.sync.generate(&self.doc);
        out.into_iter().flat_map(|(ty, p)| frame::encode(ty, &p)).collect()
    }

    fn take(&mut self, f: &[u8]) {
        let whole = self.inbox.push(f).expect("relay frame");
        if let Some((ty @ (FrameType::SyncShared | FrameType::ChangesShared), payload)) = whole {
            self.sync.receive(&mut self.doc, ty, &payload).expect("relay sync");
        }
    }
}

/// Moves frames between `devices` and the relay until nobody has anything to say.
fn pump(relay: &mut Relay<MemStore>, devices: &mut [Device], sent: &mut Vec<Vec<u8>>, now: i64) {
    let mut queue: Vec<Outgoing> = Vec::new();
    for _ in 0..100 {
        let mut quiet = true;
        for d in devices.iter_mut() {
            for f in d.outgoing() {
                quiet = false;
                queue.extend(
                    relay.receive(d.peer, &f, now).expect("the relay refused honest input").frames,
                );
                sent.push(f);
            }
        }
        for o in std::mem::take(&mut queue) {
            let Some(d) = devices.iter_mut().find(|d| d.peer == o.to) else { continue };
            for f in o.frames {
                quiet = false;
                d.take(&f);
            }
        }
        if quiet {
            return;
        }
    }
    panic!("honest devices did not settle");
}

fn connect(relay: &mut Relay<MemStore>, d: &mut Device) {
    for o in relay.connect(d.peer, d.info.clone()).frames {
        o.frames.iter().for_each(|f| d.take(f));
    }
}

fn build() -> Corpus {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).expect("empty relay");
    let mut sent = Vec::new();
    let mut phone = Device::new(1, info(Role::Visitor, "v1", "v1-phone", true));
    let mut agent = Device::new(2, info(Role::Agent, "a1", "a1-desk", false));
    let mut admin = Device::new(3, info(Role::Admin, "ad1", "ad1-laptop", true));
    let mut laptop = Device::new(4, info(Role::Visitor, "v1", "v1-laptop", false));

    // The visitor writes offline, then connects.
    phone.say(1, MessageKind::Text, "my order #1234 has not arrived", 1_000);
    phone.say(2, MessageKind::Text, "订单还没到", 1_001);
    connect(&mut relay, &mut phone);
    pump(&mut relay, std::slice::from_mut(&mut phone), &mut sent, 2_000);
    // The agent joins, reads, replies; the visitor reads and fills in its profile.
    connect(&mut relay, &mut agent);
    let mut online = vec![phone, agent];
    pump(&mut relay, &mut online, &mut sent, 2_100);
    online[1].read_up_to_last(2_200);
    online[1].say(1, MessageKind::Text, "Sorry! Checking now.", 2_201);
    pump(&mut relay, &mut online, &mut sent, 2_300);
    online[0].read_up_to_last(2_400);
    let profile = online[0].doc.profile_obj().clone();
    online[0].put(profile.clone(), "name", "Ada".into(), 2_401);
    online[0].put(profile, "plan", ScalarValue::Int(3), 2_402);
    let status = online[1].doc.status_obj().clone();
    online[1].put(status, "state", "open".into(), 2_403);
    pump(&mut relay, &mut online, &mut sent, 2_500);
    // An admin leaves an event; a second device of the visitor merges its offline message.
    admin.say(1, MessageKind::Event, "assigned to a1", 2_600);
    connect(&mut relay, &mut admin);
    online.push(admin);
    pump(&mut relay, &mut online, &mut sent, 2_700);
    laptop.say(3, MessageKind::Text, "written offline on the laptop", 2_050);
    connect(&mut relay, &mut laptop);
    online.push(laptop);
    pump(&mut relay, &mut online, &mut sent, 2_800);

    let message_ids = relay.doc().messages().iter().map(|m| m.id.to_string()).collect();
    let history_changes =
        relay.doc().automerge().get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()).collect();
    let base = relay.doc().heads();
    // Each device's next writes, left unsent.
    let (mut pending_changes, mut pending_frames) = (Vec::new(), Vec::new());
    for (i, d) in online.iter_mut().enumerate() {
        d.say(100 + i as u32, MessageKind::Text, "one more thing", 3_000 + i as i64);
        d.read_up_to_last(3_100);
        match d.info.role {
            Role::Visitor => {
                let obj = d.doc.profile_obj().clone();
                d.put(obj, "note", format!("from {}", d.info.device).into(), 3_200);
            }
            _ => {
                let obj = d.doc.status_obj().clone();
                d.put(obj, "state", "pending".into(), 3_200);
            }
        }
        let changes = d.doc.automerge().get_changes(&base);
        pending_changes.extend(changes.iter().map(|c| c.raw_bytes().to_vec()));
        pending_frames.extend(d.outgoing());
    }
    let bombs = [1usize, 8, 64].iter().map(|&mib| deflated_zeros(mib << 20)).collect();
    Corpus {
        history: relay.into_stores().0,
        frames: sent,
        pending_changes,
        pending_frames,
        history_changes,
        message_ids,
        bombs,
    }
}

/// `n` zero bytes, deflated (about a thousandth of `n`).
fn deflated_zeros(n: usize) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len());
        enc.write_all(&zeros[..k]).expect("deflate into memory");
        left -= k;
    }
    enc.finish().expect("deflate into memory")
}
