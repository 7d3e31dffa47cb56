//! Target: real sync messages and changes, mutated, and hostile changes, fed to a [`Relay`]
//! over an in-memory store as a peer of any role.
//!
//! After every frame the relay takes, the properties of [`super::view`] are checked: a refusal
//! leaves the store byte-identical and the reopened document unchanged; an acceptance is
//! persisted as held, never removes or edits history, and adds only what the writer's role
//! may write. Errors end the connection the way the Durable Object ends it (reload from
//! storage when asked to, then the peer reconnects). At the end an honest device must still
//! sync, converge and get a new message acknowledged: the relay keeps serving.

use arbitrary::{Arbitrary, Unstructured};
use automerge::{transaction::Transactable, ActorId};

use crate::frame::{self, FrameType, Reassembler, MAX_SERVER_MESSAGE};
use crate::ids::MessageId;
use crate::message::{Author, Message, MessageKind, Role, MAX_BODY_BYTES};
use crate::relay::{PeerId, PeerInfo, Relay};
use crate::shared_doc::SharedDoc;
use crate::sync::PeerSync;
use crate::workflow::status::{State, Status};

use super::corpus::{corpus, info, Corpus, DEVICES, PARTICIPANTS};
use super::hostile::{self, Bomb, Carrier, Edit, Forge};
use super::mutate::{self, Mutation};
use super::store::SharedStore;
use super::view::{check_accepted, check_refused, Snapshot};

/// Measures heap use around one relay call, for the memory bound. The proptest driver counts
/// allocations with a global allocator; under libFuzzer, `-malloc_limit_mb` does the job.
pub trait Meter {
    /// Starts a measurement and returns the bytes in use now.
    fn start(&self) -> usize;
    /// The most bytes in use at any moment since [`Meter::start`].
    fn peak(&self) -> usize;
}

struct NoMeter;

impl Meter for NoMeter {
    fn start(&self) -> usize {
        0
    }
    fn peak(&self) -> usize {
        0
    }
}

/// Most memory one frame may cost the relay beyond its size times [`MEMORY_PER_BYTE`]: the
/// corpus documents are small, so anything near this is a blow-up. Automerge may inflate up
/// to the relay's budget, copying it a few times on the way.
const MEMORY_BASE: usize = (16 << 20) + 4 * crate::relay::MAX_INFLATED_BYTES;
const MEMORY_PER_BYTE: usize = 64;

#[derive(Debug)]
struct Script {
    /// Start from the recorded conversation, or from an empty one.
    from_history: bool,
    writer: Writer,
    steps: Vec<Step>,
}

impl Script {
    /// Steps until the input runs out (`arbitrary`'s own collections stop at random early).
    fn read(data: &[u8]) -> arbitrary::Result<Script> {
        let mut u = Unstructured::new(data);
        let (from_history, writer) = (u.arbitrary()?, u.arbitrary()?);
        let mut steps = Vec::new();
        while !u.is_empty() && steps.len() < MAX_STEPS {
            steps.push(u.arbitrary()?);
        }
        Ok(Script { from_history, writer, steps })
    }
}

const MAX_STEPS: usize = 12;

#[derive(Debug, Clone, Arbitrary)]
struct Writer {
    role: u8,
    who: u8,
    device: u8,
    fast: bool,
}

impl Writer {
    fn info(&self) -> PeerInfo {
        let role = [Role::Visitor, Role::Agent, Role::Admin][usize::from(self.role) % 3];
        let who = PARTICIPANTS[usize::from(self.who) % PARTICIPANTS.len()];
        info(role, who, DEVICES[usize::from(self.device) % DEVICES.len()], self.fast)
    }
}

#[derive(Debug, Arbitrary)]
enum Step {
    /// A frame an honest device sent while the corpus was recorded, mutated.
    Replay {
        frame: u16,
        mutations: Vec<Mutation>,
    },
    /// A frame carrying a device's next writes, mutated.
    Pending {
        frame: u16,
        mutations: Vec<Mutation>,
    },
    /// Recorded raw changes, mutated, in a changes frame or a sync message.
    Changes {
        picks: Vec<u16>,
        mutations: Vec<Mutation>,
        in_sync: bool,
    },
    /// A hostile edit made with raw Automerge.
    Hostile(Edit),
    /// A well-formed write of the writer's own: must be accepted.
    Honest {
        kind: u8,
        body: u16,
        read: bool,
        profile: Option<u8>,
        carrier: Carrier,
    },
    /// A real change with its structure tampered with.
    Forge(Forge),
    Bomb(Bomb),
    Raw(Vec<u8>),
    /// The peer goes away; another connects.
    Reconnect(Writer),
}

/// The script `data` stands for, to read what a failing input does.
pub fn validation_script(data: &[u8]) -> String {
    format!("{:#?}", Script::read(data))
}

/// Runs one script read from `data`. Panics when a property does not hold.
pub fn validation(data: &[u8]) {
    validation_metered(data, &NoMeter)
}

/// [`validation`], also holding every frame to a memory bound measured by `meter`.
pub fn validation_metered(data: &[u8], meter: &dyn Meter) {
    let Ok(script) = Script::read(data) else { return };
    let corpus = corpus();
    let start = if script.from_history { corpus.history.clone() } else { Default::default() };
    let store = SharedStore::new(start);
    // The internal document's store: these targets attack the shared document.
    let internal = SharedStore::new(Default::default());
    let relay = Relay::open(store.clone(), internal.clone()).expect("the corpus store opens");
    let writer = script.writer.info();
    let mut run = Run { relay, store, internal, peer: 0, writer, corpus, meter, now: 10_000 };
    run.reconnect(script.writer.info());
    for (i, step) in script.steps.iter().enumerate() {
        run.now += 1;
        run.step(i, step);
    }
    run.honest_device_still_served();
}

struct Run<'a> {
    relay: Relay<SharedStore>,
    store: SharedStore,
    internal: SharedStore,
    peer: PeerId,
    writer: PeerInfo,
    corpus: &'static Corpus,
    meter: &'a dyn Meter,
    now: i64,
}

impl Run<'_> {
    /// A new connection as `writer`; returns the relay's opening frames.
    fn reconnect(&mut self, writer: PeerInfo) -> Vec<Vec<u8>> {
        self.relay.disconnect(self.peer);
        self.peer += 1;
        self.writer = writer.clone();
        self.relay.connect(self.peer, writer).frames_to(self.peer).into_iter().cloned().collect()
    }

    /// Sends one frame as the writer and checks what the relay did with it. Returns the
    /// relay's frames for the writer, or `None` when it refused (and the peer reconnected).
    fn send(&mut self, f: &[u8]) -> Option<Vec<Vec<u8>>> {
        let before = Snapshot::take(&self.store, self.relay.doc());
        let base = self.meter.start();
        let result = self.relay.receive(self.peer, f, self.now);
        let used = self.meter.peak().saturating_sub(base);
        let bound = MEMORY_BASE + MEMORY_PER_BYTE * f.len();
        assert!(used <= bound, "a {}-byte frame cost {used} bytes (bound {bound})", f.len());
        match result {
            Ok(out) => {
                check_accepted(&before, &self.store, self.relay.doc(), &self.writer, self.now);
                Some(out.frames_to(self.peer).into_iter().cloned().collect())
            }
            Err(e) => {
                check_refused(&before, &self.store, self.relay.doc(), &e);
                // What the Durable Object does: reload if told to, close, and the device
                // reconnects.
                if e.must_reload() {
                    self.relay = Relay::open(self.store.clone(), self.internal.clone())
                        .expect("storage reopens");
                }
                self.reconnect(self.writer.clone());
                None
            }
        }
    }

    fn send_all(&mut self, frames: Vec<Vec<u8>>) -> bool {
        frames.iter().take(64).all(|f| self.send(f).is_some())
    }

    fn step(&mut self, i: usize, step: &Step) {
        let c = self.corpus;
        let pick = |list: &[Vec<u8>], n: u16| list.get(usize::from(n) % list.len().max(1)).cloned();
        match step {
            Step::Replay { frame, mutations } => {
                let others = self.others();
                if let Some(f) = pick(&c.frames, *frame) {
                    self.send(&mutate::apply(f, mutations, &others));
                }
            }
            Step::Pending { frame, mutations } => {
                let others = self.others();
                if let Some(f) = pick(&c.pending_frames, *frame) {
                    self.send(&mutate::apply(f, mutations, &others));
                }
            }
            Step::Changes { picks, mutations, in_sync } => {
                let chunks: Vec<Vec<u8>> =
                    picks.iter().take(8).filter_map(|&p| pick(&c.pending_changes, p)).collect();
                let others = self.others();
                let frames = if *in_sync {
                    let chunks = chunks.into_iter().map(|ch| mutate::apply(ch, mutations, &others));
                    let m = hostile::sync_message(
                        Vec::new(),
                        chunks.collect(),
                        automerge::sync::MessageVersion::V1,
                    );
                    frame::encode(FrameType::SyncShared, &m)
                } else {
                    let payload = mutate::apply(chunks.concat(), mutations, &others);
                    frame::encode(FrameType::ChangesShared, &payload)
                };
                self.send_all(frames);
            }
            Step::Hostile(edit) => {
                let since = self.relay.doc().heads();
                let doc = hostile::apply(self.relay.doc(), &self.writer, edit, &i.to_string());
                self.deliver(doc, &since, edit.carrier);
            }
            Step::Honest { kind, body, read, profile, carrier } => {
                self.honest(i, *kind, *body, *read, *profile, *carrier)
            }
            Step::Forge(f) => {
                if let Some(change) = hostile::forge(self.relay.doc().automerge(), f) {
                    let (ty, payload) = if f.in_sync {
                        let m = hostile::sync_message(
                            Vec::new(),
                            vec![change],
                            automerge::sync::MessageVersion::V1,
                        );
                        (FrameType::SyncShared, m)
                    } else {
                        (FrameType::ChangesShared, change)
                    };
                    self.send_all(frame::encode(ty, &payload));
                }
            }
            Step::Bomb(b) => {
                self.send_all(hostile::bomb_frames(b));
            }
            Step::Raw(bytes) => {
                self.send(bytes);
            }
            Step::Reconnect(w) => {
                self.reconnect(w.info());
            }
        }
    }

    fn others(&self) -> Vec<&'static [u8]> {
        let c = self.corpus;
        c.frames
            .iter()
            .chain(&c.pending_frames)
            .chain(&c.pending_changes)
            .map(Vec::as_slice)
            .collect()
    }

    /// Carries `doc`'s changes since `since` to the relay. Returns whether all were accepted.
    fn deliver(
        &mut self,
        doc: automerge::Automerge,
        since: &[automerge::ChangeHash],
        carrier: Carrier,
    ) -> bool {
        match carrier {
            Carrier::Protocol => match SharedDoc::from_automerge(doc) {
                Ok(mut doc) => self.protocol(&mut doc),
                // The edit broke the writer's own root: it can still push raw changes.
                Err(_) => true,
            },
            _ => {
                let frames = hostile::frames(&doc, since, carrier);
                self.send_all(frames)
            }
        }
    }

    /// Runs the sync protocol between `doc` and the relay on a fresh connection until both
    /// are quiet. Returns whether the relay accepted everything.
    fn protocol(&mut self, doc: &mut SharedDoc) -> bool {
        let mut sync = PeerSync::new(self.writer.fast);
        let mut inbox = Reassembler::new(MAX_SERVER_MESSAGE);
        let mut inbound = self.reconnect(self.writer.clone());
        for _ in 0..10 {
            for f in std::mem::take(&mut inbound) {
                let whole = inbox.push(&f).expect("the relay sent a bad frame");
                if let Some((ty @ (FrameType::SyncShared | FrameType::ChangesShared), p)) = whole {
                    sync.receive(doc, ty, &p).expect("the relay sent an unusable frame");
                }
            }
            let out: Vec<Vec<u8>> =
                sync.generate(doc).into_iter().flat_map(|(ty, p)| frame::encode(ty, &p)).collect();
            if out.is_empty() {
                return true;
            }
            for f in out {
                match self.send(&f) {
                    Some(answer) => inbound.extend(answer),
                    None => return false,
                }
            }
        }
        true
    }

    /// The writer writes what it may: a message of an allowed kind, its own read mark, a
    /// profile or status value. The relay must accept it.
    fn honest(
        &mut self,
        i: usize,
        kind: u8,
        body: u16,
        read: bool,
        profile: Option<u8>,
        carrier: Carrier,
    ) {
        let w = self.writer.clone();
        let kind = match (w.role, kind % 3) {
            (Role::Visitor, _) | (_, 0) => MessageKind::Text,
            (_, 1) => MessageKind::System,
            _ => MessageKind::Event,
        };
        let since = self.relay.doc().heads();
        let mut am = self.relay.doc().automerge().fork();
        am.set_actor(ActorId::from(*b"fuzz.honest.wrtr"));
        let Ok(mut doc) = SharedDoc::from_automerge(am) else { return };
        let msg = Message {
            id: MessageId::new(format!("fz-ok-{i}")).expect("id"),
            author: Author { role: w.role, id: w.participant.clone(), name: "Honest".into() },
            device: w.device.clone(),
            kind,
            body: "b".repeat(usize::from(body) % (MAX_BODY_BYTES + 1)),
            sent_at: self.now,
            attachment: None,
        };
        doc.append(&msg, self.now).expect("an honest append");
        if read {
            doc.mark_read(&w.participant, &w.device, &msg.id, self.now).expect("own message");
        }
        if let Some(p) = profile {
            if w.role == Role::Visitor || p % 2 == 0 {
                let obj = doc.profile_obj().clone();
                let mut tx = doc.automerge_mut().transaction();
                tx.put(&obj, format!("field{}", p % 8), format!("value {p}")).expect("put");
                tx.commit_with(
                    automerge::transaction::CommitOptions::default().with_time(self.now),
                );
            } else {
                // Status holds only the lifecycle fields (crate::workflow::status).
                let state = State::ALL[usize::from(p / 2) % State::ALL.len()];
                let until = (state == State::Snoozed).then_some(self.now + i64::from(p));
                Status { state, snoozed_until: until }.write(&mut doc, self.now).expect("status");
            }
        }
        let carrier = if matches!(carrier, Carrier::Protocol) { Carrier::Changes } else { carrier };
        // On a connection of its own: earlier steps may have left a fragment half sent.
        self.reconnect(w.clone());
        let accepted = self.deliver(doc.automerge().clone(), &since, carrier);
        assert!(accepted, "an honest write of {w:?} was refused");
        assert!(self.relay.doc().delivered_at(&msg.id).is_some(), "honest write not stored");
    }

    /// A fresh honest device syncs everything, converges with the relay and gets a message of
    /// its own acknowledged.
    fn honest_device_still_served(&mut self) {
        let me = info(Role::Agent, "obs", "obs-desk", true);
        self.reconnect(me.clone());
        let mut doc = SharedDoc::new(ActorId::from(*b"fuzz.observer.01")).expect("schema");
        assert!(self.protocol(&mut doc), "the relay refused an honest device's sync");
        assert_eq!(doc.heads(), self.relay.doc().heads(), "an honest device did not converge");
        assert_eq!(doc.messages(), self.relay.doc().messages());
        let msg = Message {
            id: MessageId::new("fz-observer").expect("id"),
            author: Author { role: me.role, id: me.participant.clone(), name: "Obs".into() },
            device: me.device.clone(),
            kind: MessageKind::Text,
            body: "still there?".into(),
            sent_at: self.now,
            attachment: None,
        };
        doc.append(&msg, self.now).expect("append");
        self.now += 1;
        assert!(self.protocol(&mut doc), "the relay refused an honest device's message");
        assert!(self.relay.doc().delivered_at(&msg.id).is_some(), "not acknowledged");
    }
}
