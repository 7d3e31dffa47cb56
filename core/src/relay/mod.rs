//! The conversation relay as a sans-IO state machine: the Durable Object's whole logic.
//!
//! Inputs are frames from peers and the time; outputs are frames for peers. Every change a
//! peer sends is applied, stamped with a delivery receipt and made durable through the
//! [`ChunkStore`] *before* any frame is produced, so a peer that sees the relay's answer knows
//! its change survives a crash.
//!
//! A conversation has two documents: the shared one, synced with everyone, and the internal
//! one, synced only with agents and admins. A visitor's connection has no internal sync
//! session at all, so no code path can put internal bytes on a visitor's socket. After any error that may have left partial input in memory
//! ([`RelayError::must_reload`]), the owner drops the relay and opens it again from storage.

use std::collections::{BTreeMap, HashSet};

use automerge::ActorId;
use serde::Serialize;

use crate::audit;
use crate::document::Channel;
use crate::frame::{self, FrameError, FrameType, Reassembler, MAX_CLIENT_MESSAGE};

use crate::inbox::summary::Summary;
use crate::inbox::tail::Tail;
use crate::inflate::InflateError;
use crate::intake::IntakeError;
use crate::internal_doc::InternalDoc;
use crate::limits::{Limits, RateLimiter};
use crate::message::Role;
use crate::rollover::{Carry, Sealed};
use crate::shared_doc::{DocError, SharedDoc};
use crate::store::{ChunkStore, Persister, StoreError, StoreStats};
use crate::sync::{PeerSync, SyncError};
use crate::validate::{self, Violation};
use crate::workflow::event::WebhookEvent;
use crate::workflow::profile::VisitorProfile;
use crate::workflow::timeline::Timeline;

mod assign;
mod output;
pub mod penalty;
mod retention;
mod rollover;
mod workflow;

pub use crate::peer::PeerInfo;
pub use assign::{AssignError, Assignment};
pub use output::Output;
pub use rollover::HistoryError;
pub use workflow::WorkflowSetup;

/// Most bytes the compressed parts of one client message may inflate to (see
/// [`crate::inflate`]): twice the message limit, so what one message costs the relay's memory
/// stays bounded whatever the compression ratio. Honest documents compress 2-4x, and an
/// honest upload that large would be a device's offline backlog of many thousands of messages.
pub const MAX_INFLATED_BYTES: usize = 2 * MAX_CLIENT_MESSAGE;
/// Largest ephemeral (typing/presence) payload relayed.
pub const MAX_EPHEMERAL_BYTES: usize = 4 * 1024;

/// A connection's identity within its Durable Object.
pub type PeerId = u64;

/// Frames for one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: PeerId,
    pub frames: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("{0:?} frames are not accepted from clients")]
    NotAccepted(FrameType),
    #[error("ephemeral payload must be a JSON object of at most {MAX_EPHEMERAL_BYTES} bytes")]
    BadEphemeral,
    #[error("write refused: {0}")]
    Rejected(#[from] Violation),
    #[error(
        "rate limit: more than {per_second} WebSocket messages per second (bursts of {burst})"
    )]
    RateLimited { per_second: u32, burst: u32 },
    #[error(transparent)]
    Store(#[from] StoreError<E>),
    #[error(transparent)]
    Doc(#[from] DocError),
}

impl<E: std::error::Error + 'static> RelayError<E> {
    /// The WebSocket close code this error ends the connection with (see PROTOCOL.md).
    pub fn close_code(&self) -> u16 {
        match self {
            RelayError::Frame(FrameError::FrameTooLarge { .. })
            | RelayError::Frame(FrameError::MessageTooLarge { .. })
            | RelayError::Sync(SyncError::Inflate(InflateError::TooLarge { .. }))
            | RelayError::Sync(SyncError::Intake(IntakeError::TooManyWaiting { .. })) => 1009,
            RelayError::Sync(SyncError::Intake(IntakeError::ReservedActor(_))) => 1008,
            RelayError::Frame(_) | RelayError::NotAccepted(_) => 1002,
            RelayError::Sync(_) | RelayError::BadEphemeral => 1007,
            RelayError::Rejected(Violation::BodyTooLarge { .. }) => 1009,
            RelayError::Rejected(_) | RelayError::RateLimited { .. } => 1008,
            RelayError::Store(_) | RelayError::Doc(_) => 1011,
        }
    }

    /// Whether the in-memory document may hold input that was not persisted.
    pub fn must_reload(&self) -> bool {
        matches!(
            self,
            RelayError::Sync(SyncError::Apply(_) | SyncError::Corrupt(_))
                | RelayError::Rejected(_)
                | RelayError::Store(_)
                | RelayError::Doc(_)
        )
    }

    /// Whether the peer broke a write rule (PROTOCOL.md §8.6): its participant waits before
    /// its next socket ([`penalty`]).
    pub fn is_violation(&self) -> bool {
        matches!(self, RelayError::Rejected(_))
    }

    /// A close reason: the error's text cut to the WebSocket limit of 123 bytes.
    pub fn close_reason(&self) -> String {
        close_reason(&self.to_string())
    }
}

/// Cuts `text` to at most 123 bytes on a character boundary (the WebSocket reason limit).
pub fn close_reason(text: &str) -> String {
    let mut end = text.len().min(123);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A JSON notice frame (type [`FrameType::Notice`]), sent before closing on an error.
pub fn notice_frame(kind: &str, code: u16, message: &str) -> Vec<u8> {
    let body = serde_json::json!({ "type": kind, "code": code, "message": message });
    let mut f = vec![FrameType::Notice as u8];
    f.extend_from_slice(body.to_string().as_bytes());
    f
}

#[derive(Debug)]
struct Peer {
    info: PeerInfo,
    sync: PeerSync,
    /// The internal document's sync session: `Some` for agents and admins only.
    internal: Option<PeerSync>,
    inbox: Reassembler,
    rate: RateLimiter,
}

impl Peer {
    fn new(info: PeerInfo, limits: &Limits) -> Self {
        // Everything a client sends goes through the guard: bounded inflation, and changes
        // admitted only once their dependencies are here (core/src/intake.rs).
        let guarded =
            || PeerSync::new(info.fast).guarded(MAX_INFLATED_BYTES, limits.max_message_bytes);
        let sync = guarded();
        let internal = sees_internal(info.role).then(guarded);
        let inbox = Reassembler::with_limits(limits.max_frame_bytes, limits.max_message_bytes);
        let rate = RateLimiter::new(limits.max_messages_per_second);
        Self { info, sync, internal, inbox, rate }
    }
}

/// Whether a role reads and writes the internal document.
pub fn sees_internal(role: Role) -> bool {
    matches!(role, Role::Agent | Role::Admin)
}

/// Counters and sizes, for the stats endpoint and benchmarks.
#[derive(Debug, Clone, Serialize)]
pub struct RelayStats {
    pub messages: usize,
    pub heads: Vec<String>,
    pub peers: usize,
    pub store: StoreStats,
    /// Heads of the internal document (hashes only, no content).
    pub internal_heads: Vec<String>,
    pub internal_store: StoreStats,
    /// The live document's epoch, and the messages sealed before it (PROTOCOL.md §16).
    pub epoch: u64,
    pub archived_messages: u64,
    /// Sealed segments retention has shredded; whether a legal hold keeps everything.
    pub shredded_segments: usize,
    pub legal_hold: bool,
}

/// One conversation: both documents, the connected peers' sync sessions, the workflow.
///
/// # Driving it
///
/// The owner (the Worker's Durable Object, a test, a simulation) feeds it inputs and commits
/// what comes back:
///
/// 1. [`Relay::open`] it from storage, and [`Relay::configure`] the workflow if there is one.
///    Open it again after any error whose [`RelayError::must_reload`] holds: the memory may
///    then hold input that was never persisted.
/// 2. Call [`Relay::connect`] when a socket opens, [`Relay::receive`] for each frame it sends
///    and [`Relay::disconnect`] when it closes; [`Relay::fire_due`] when the earliest timer is
///    due; [`Relay::visitor_joined`] and [`Relay::assign`] as they happen.
/// 3. Each of those returns one [`Output`]. The relay has already written both documents to
///    its [`ChunkStore`]. Then, in this order:
///    - write the output's `events` (the webhook outbox), `timers` and `accepted` messages (the
///      inbox feed) in the same storage transaction as the documents, before any other input
///      is handled;
///    - wait until storage confirms that the transaction is durable;
///    - only then send the output's `frames`: they may acknowledge it (a receipt, an ack, the
///      relay's heads), and a peer that sees an acknowledgement relies on the write
///      surviving a crash.
///
///    After an error, commit nothing of the call and close the peer with
///    [`RelayError::close_code`]; other peers are unaffected.
///
/// ```
/// use edgedesk_core::client::{ClientSession, Identity};
/// use edgedesk_core::ids::{DeviceId, ParticipantId};
/// use edgedesk_core::message::Role;
/// use edgedesk_core::relay::{PeerInfo, Relay};
/// use edgedesk_core::store::MemStore;
///
/// let mut relay = Relay::open(MemStore::default(), MemStore::default())?;
/// let me = Identity {
///     role: Role::Visitor,
///     participant: ParticipantId::new("v1")?,
///     name: "Visitor v1".into(),
///     device: DeviceId::new("phone")?,
/// };
/// let info = PeerInfo {
///     role: me.role,
///     participant: me.participant.clone(),
///     device: me.device.clone(),
///     fast: true,
///     acks: true,
///     name: Some(me.name.clone()),
/// };
/// let mut phone = ClientSession::open(MemStore::default(), me)?;
/// let sent = phone.send_text("你好", 1)?;
///
/// let (mut to_phone, mut to_relay) = (relay.connect(7, info).frames, phone.connected());
/// let (mut inbox, mut outbox) = (Vec::new(), Vec::new());
/// while !to_phone.is_empty() || !to_relay.is_empty() {
///     for frame in std::mem::take(&mut to_relay) {
///         let out = relay.receive(7, &frame, 1_000)?;
///         // Commit with the documents: here, keep them (no workflow: no events, no timers).
///         inbox.extend(out.accepted);
///         outbox.extend(out.events);
///         assert!(out.timers.is_empty());
///         // Storage confirmed: the frames may go.
///         to_phone.extend(out.frames);
///     }
///     for o in std::mem::take(&mut to_phone) {
///         for f in o.frames {
///             phone.handle_frame(&f)?;
///         }
///     }
///     to_relay = phone.poll_frames();
/// }
/// assert_eq!(inbox, [sent.clone()]);
/// assert!(outbox.is_empty());
/// assert!(phone.doc().delivered_at(&sent.id).is_some(), "acknowledged");
/// assert!(phone.in_sync());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Relay<S> {
    doc: SharedDoc,
    persister: Persister<S>,
    internal: InternalDoc,
    internal_persister: Persister<S>,
    peers: BTreeMap<PeerId, Peer>,
    /// Every message id in the document, so a duplicate is refused without a scan.
    message_ids: HashSet<String>,
    /// Every internal note id, likewise.
    note_ids: HashSet<String>,
    limits: Limits,
    /// The conversation as the workflow rules see it, kept up to date with every message.
    /// Built when a workflow is configured (it costs a scan of the conversation), so a
    /// conversation without one opens as fast as before.
    timeline: Option<Timeline>,
    /// The workspace's rules; without them the relay only relays.
    workflow: Option<WorkflowSetup>,
    /// Webhook events of the current call, handed over in its [`Output`].
    events: Vec<WebhookEvent>,
    /// Messages accepted (or written by the relay) in the current call, handed over in its
    /// [`Output`] for the workspace's inbox.
    accepted: Vec<crate::message::Message>,
    /// The newest messages as the inbox summary needs them, extended after each change.
    tail: Tail,
    /// What the live document inherits from sealed segments (its epoch among it).
    carry: Carry,
    /// A segment sealed in the current call, handed over in its [`Output`].
    sealed: Option<Sealed>,
    /// The messages of the segment read last, for paging through it page by page.
    history_cache: Option<(u64, Vec<crate::rollover::history::Archived>)>,
    /// Every sealed segment's bookkeeping (retention reads it), oldest first.
    segments: Vec<crate::rollover::archive::SegmentInfo>,
    /// Whether the store keeps sealed segments (a device's replica does not): only then is
    /// there anything to archive into.
    keeps_archive: bool,
}

impl<S: ChunkStore> Relay<S> {
    /// Rebuilds the conversation from storage (or starts an empty one): the shared document
    /// from `store`, the internal one from `internal_store`.
    pub fn open(store: S, internal_store: S) -> Result<Self, StoreError<S::Error>> {
        Self::open_with(store, internal_store, Limits::default())
    }

    /// [`Self::open`] with an operator's bounds.
    pub fn open_with(
        store: S,
        internal_store: S,
        limits: Limits,
    ) -> Result<Self, StoreError<S::Error>> {
        let (doc, persister) =
            Persister::open::<SharedDoc>(store, ActorId::from(crate::schema::RELAY_ACTOR))?;
        let (internal, internal_persister) = Persister::open::<InternalDoc>(
            internal_store,
            ActorId::from(crate::schema::RELAY_ACTOR),
        )?;
        let message_ids = doc.message_ids();
        let note_ids = internal.notes().into_iter().map(|n| n.id.to_string()).collect();
        let mut persister = persister;
        let keeps_archive = persister.store_mut().archive().is_some();
        let (carry, segments) = match persister.store_mut().archive() {
            Some(mut archive) => (
                archive.carry().map_err(StoreError::Archive)?,
                archive.rows.segments().map_err(StoreError::Archive)?,
            ),
            None => (Carry::default(), Vec::new()),
        };
        let mut relay = Self {
            doc,
            persister,
            internal,
            internal_persister,
            peers: BTreeMap::new(),
            message_ids,
            note_ids,
            limits,
            timeline: None,
            workflow: None,
            events: Vec::new(),
            accepted: Vec::new(),
            tail: Tail::new(),
            carry,
            sealed: None,
            history_cache: None,
            segments,
            keeps_archive,
        };
        relay.finish_interrupted_rollover(0)?;
        Ok(relay)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn doc(&self) -> &SharedDoc {
        &self.doc
    }

    pub fn internal(&self) -> &InternalDoc {
        &self.internal
    }

    pub fn stats(&self) -> RelayStats {
        RelayStats {
            messages: self.doc.message_count(),
            heads: self.doc.heads().iter().map(|h| h.to_string()).collect(),
            peers: self.peers.len(),
            store: self.persister.stats(),
            internal_heads: self.internal.heads().iter().map(|h| h.to_string()).collect(),
            internal_store: self.internal_persister.stats(),
            epoch: self.carry.epoch,
            archived_messages: self.carry.archived,
            shredded_segments: self.segments.iter().filter(|s| s.shredded_at.is_some()).count(),
            legal_hold: self.carry.legal_hold.is_some(),
        }
    }

    /// Registers a new connection; the output holds the relay's opening sync message for it.
    pub fn connect(&mut self, peer: PeerId, info: PeerInfo) -> Output {
        self.peers.insert(peer, Peer::new(info, &self.limits));
        let frames = self.sync_to(peer).into_iter().collect();
        self.output(frames)
    }

    /// Registers a connection the relay does not know, e.g. one that outlived the relay's
    /// memory through hibernation. A fresh sync session costs one extra round trip.
    pub fn ensure_peer(&mut self, peer: PeerId, info: PeerInfo) {
        self.peers.entry(peer).or_insert_with(|| Peer::new(info, &self.limits));
    }

    pub fn disconnect(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
    }

    pub fn is_connected(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer)
    }

    /// Handles one wire frame from `from`. On error the peer is to be closed with
    /// [`RelayError::close_code`] and nothing of the call is to be committed; other peers are
    /// unaffected.
    pub fn receive(
        &mut self,
        from: PeerId,
        frame: &[u8],
        now_ms: i64,
    ) -> Result<Output, RelayError<S::Error>> {
        let result = self.receive_frame(from, frame, now_ms);
        self.finish(result)
    }

    /// Turns a call's frames into its [`Output`], with everything else it produced; after an
    /// error, drops what it produced (none of it was persisted).
    fn finish<E>(&mut self, result: Result<Vec<Outgoing>, E>) -> Result<Output, E> {
        match result {
            Ok(frames) => Ok(self.output(frames)),
            Err(e) => {
                self.events.clear();
                self.accepted.clear();
                self.sealed = None;
                Err(e)
            }
        }
    }

    fn output(&mut self, frames: Vec<Outgoing>) -> Output {
        Output {
            frames,
            events: std::mem::take(&mut self.events),
            accepted: std::mem::take(&mut self.accepted),
            timers: self.timers(),
            sealed: self.sealed.take(),
        }
    }

    fn receive_frame(
        &mut self,
        from: PeerId,
        frame: &[u8],
        now_ms: i64,
    ) -> Result<Vec<Outgoing>, RelayError<S::Error>> {
        let Some(peer) = self.peers.get_mut(&from) else {
            return Ok(Vec::new());
        };
        if !peer.rate.allow(now_ms) {
            let per_second = self.limits.max_messages_per_second;
            return Err(RelayError::RateLimited { per_second, burst: per_second * 2 });
        }
        let Some((ty, payload)) = peer.inbox.push(frame)? else {
            return Ok(Vec::new());
        };
        match Channel::of(ty) {
            Some(Channel::Shared) => self.receive_shared(from, ty, &payload, now_ms),
            Some(Channel::Internal) => self.receive_internal(from, ty, &payload, now_ms),
            None if ty == FrameType::Ephemeral => self.relay_ephemeral(from, &payload),
            None => Err(RelayError::NotAccepted(ty)),
        }
    }

    fn receive_shared(
        &mut self,
        from: PeerId,
        ty: FrameType,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Vec<Outgoing>, RelayError<S::Error>> {
        let Some(peer) = self.peers.get_mut(&from) else {
            return Ok(Vec::new());
        };
        let before = self.doc.heads();
        let patches = peer.sync.receive(&mut self.doc, ty, payload)?;
        // Checked before anything is persisted or relayed; a violation leaves the input in
        // memory only, and `must_reload` makes the owner drop it.
        let max_body = self.limits.max_body_bytes;
        let known = &self.message_ids;
        let fresh = validate::check(&self.doc, &before, &patches, &peer.info, known, max_body)?;
        let audit = audit::from_shared(&self.doc, &patches, &peer.info, now_ms);
        let ids: Vec<_> = fresh.iter().map(|m| m.id.clone()).collect();
        self.doc.stamp_delivered(&ids, now_ms)?;
        self.internal.record(&audit, now_ms)?;
        self.message_ids.extend(ids.into_iter().map(String::from));
        self.accepted.extend(fresh.iter().cloned());
        // The workflow's answer (auto-reply, tags, reopening) is part of the same write.
        self.after_accept(&fresh, &audit, now_ms)?;
        // Durable before anything leaves: the answer below is the sender's acknowledgement.
        // In the Durable Object both writes land in one implicit transaction (no await
        // between them), so a status change is never stored without its audit entry.
        self.persist_both()?;
        let mut out = self.sync_all();
        self.acknowledge(from, Channel::Shared, &mut out);
        self.maybe_roll_over(now_ms)?;
        Ok(out)
    }

    fn receive_internal(
        &mut self,
        from: PeerId,
        ty: FrameType,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Vec<Outgoing>, RelayError<S::Error>> {
        let Some(peer) = self.peers.get_mut(&from) else {
            return Ok(Vec::new());
        };
        // Refused before anything is applied: a visitor's bytes never reach the document.
        let Some(sync) = peer.internal.as_mut() else {
            return Err(RelayError::Rejected(Violation::RoleNotAllowed {
                role: peer.info.role.as_str(),
                what: "the internal document",
            }));
        };
        let patches = sync.receive(&mut self.internal, ty, payload)?;
        let max_body = self.limits.max_body_bytes;
        let notes = validate::check_internal(
            &self.internal,
            &patches,
            &peer.info,
            &self.note_ids,
            max_body,
        )?;
        let audit = audit::from_internal(&self.internal, &patches, &peer.info, now_ms);
        self.internal.record(&audit, now_ms)?;
        self.after_accept(&[], &audit, now_ms)?;
        // The workflow may have written either document in answer.
        self.persist_both()?;
        self.note_ids.extend(notes.into_iter().map(String::from));
        let mut out = self.sync_all();
        self.acknowledge(from, Channel::Internal, &mut out);
        Ok(out)
    }

    /// Appends the ack of what `from` sent in changes frames to its frames, for a peer that
    /// asked for acks. Called after persisting only: the ack says the changes are on disk.
    fn acknowledge(&mut self, from: PeerId, channel: Channel, out: &mut Vec<Outgoing>) {
        let Some(peer) = self.peers.get_mut(&from) else { return };
        let sync = match channel {
            Channel::Shared => Some(&mut peer.sync),
            Channel::Internal => peer.internal.as_mut(),
        };
        let Some(hashes) = sync.map(PeerSync::take_acks).filter(|h| !h.is_empty()) else {
            return;
        };
        if !peer.info.acks {
            return;
        }
        let frames = frame::encode(FrameType::Ack, &crate::ack::encode(channel, &hashes));
        match out.iter_mut().find(|o| o.to == from) {
            Some(o) => o.frames.extend(frames),
            None => out.push(Outgoing { to: from, frames }),
        }
    }

    fn persist_both(&mut self) -> Result<(), StoreError<S::Error>> {
        self.persister.persist(&self.doc)?;
        self.internal_persister.persist(&self.internal)?;
        Ok(())
    }

    fn sync_all(&mut self) -> Vec<Outgoing> {
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        peers.into_iter().filter_map(|p| self.sync_to(p)).collect()
    }

    fn relay_ephemeral(
        &mut self,
        from: PeerId,
        payload: &[u8],
    ) -> Result<Vec<Outgoing>, RelayError<S::Error>> {
        if payload.len() > MAX_EPHEMERAL_BYTES {
            return Err(RelayError::BadEphemeral);
        }
        let data: serde_json::Value =
            serde_json::from_slice(payload).map_err(|_| RelayError::BadEphemeral)?;
        if !data.is_object() {
            return Err(RelayError::BadEphemeral);
        }
        let Some(sender) = self.peers.get(&from) else { return Ok(Vec::new()) };
        // The relay names the sender, so a peer cannot speak for someone else.
        let stamped = serde_json::json!({
            "from": { "role": sender.info.role, "id": sender.info.participant, "device": sender.info.device },
            "data": data,
        });
        let frames = frame::encode(FrameType::Ephemeral, stamped.to_string().as_bytes());
        Ok(self
            .peers
            .keys()
            .filter(|&&p| p != from)
            .map(|&to| Outgoing { to, frames: frames.clone() })
            .collect())
    }

    fn sync_to(&mut self, peer: PeerId) -> Option<Outgoing> {
        let p = self.peers.get_mut(&peer)?;
        let mut out = p.sync.generate(&self.doc);
        if let Some(internal) = p.internal.as_mut() {
            out.extend(internal.generate(&self.internal));
        }
        let frames: Vec<Vec<u8>> =
            out.into_iter().flat_map(|(ty, payload)| frame::encode(ty, &payload)).collect();
        (!frames.is_empty()).then_some(Outgoing { to: peer, frames })
    }

    /// The conversation as its workspace's inbox lists it. Costs reads of the messages
    /// appended since the last call, not of the conversation's history (the first call after
    /// opening reads the newest [`crate::inbox::tail::MAX_SCAN`]).
    pub fn summary(&mut self, conversation: &str, visitor: &VisitorProfile) -> Summary {
        self.tail.update(&self.doc);
        let (doc, internal, tail, carry) = (&self.doc, &self.internal, &self.tail, &self.carry);
        let mut summary = Summary::with_carry(conversation, doc, internal, visitor, tail, carry);
        summary.shredded_through = self.shredded_through();
        summary
    }

    /// Messages the summary has read from the document since the relay opened.
    pub fn summary_reads(&self) -> u64 {
        self.tail.reads()
    }

    /// The stores of the shared and the internal document.
    pub fn into_stores(self) -> (S, S) {
        (self.persister.into_store(), self.internal_persister.into_store())
    }
}
