//! A device's side of a conversation as a sans-IO state machine: the client SDK's logic.
//!
//! The device keeps a full replica in a [`ChunkStore`]. A message written here is durable in
//! that store before [`ClientSession::send_text`] returns, online or not; on (re)connection the
//! sync protocol delivers exactly what the relay lacks, so a message is delivered once no
//! matter how often the device restarts or reconnects. A message counts as acknowledged when
//! the relay's delivery receipt for it arrives, which the relay writes only after persisting.

use automerge::ActorId;
use serde::{Deserialize, Serialize};

use crate::document::Channel;
use crate::frame::{self, FrameError, FrameType, Reassembler, MAX_SERVER_MESSAGE};
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::internal_doc::{AuditEntry, CaseField, InternalDoc};
use crate::message::{Author, Message, MessageKind, Role};
use crate::relay::sees_internal;
use crate::shared_doc::{DocError, SharedDoc};
use crate::store::{ChunkStore, Persister, StoreError};
use crate::sync::{observe, observe_internal, Observed, PeerSync, SyncError};
use crate::workflow::csat::Rating;
use crate::workflow::status::Status;

/// Who this device is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub role: Role,
    pub participant: ParticipantId,
    pub name: String,
    pub device: DeviceId,
}

/// A notice frame from the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: u16,
    pub message: String,
    /// With a `rollover` notice: the live document's epoch (PROTOCOL.md §16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

/// Something the application shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message from another device (own sends are returned by `send_text`).
    Message(Message),
    /// The relay durably accepted a message.
    Delivered {
        id: MessageId,
        at: i64,
    },
    /// A device moved its read mark.
    Read {
        participant: ParticipantId,
        device: DeviceId,
        message: MessageId,
    },
    /// Typing, presence: whatever a peer sent as ephemeral JSON, with the relay's sender stamp.
    Ephemeral(serde_json::Value),
    Notice(Notice),
    /// Agents only: an internal note from another device.
    Note(Message),
    /// Agents only: tags or a case field (assignee, team, priority) changed.
    CaseChanged,
    /// Agents only: the relay recorded an audit entry.
    Audit(AuditEntry),
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Store(#[from] StoreError<E>),
    #[error(transparent)]
    Doc(#[from] DocError),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("the relay sent a {0:?} frame this client does not accept")]
    Unexpected(FrameType),
    #[error("only agents and admins hold the internal document")]
    NoInternalDoc,
    #[error("the relay sent an unreadable ack: {0}")]
    Ack(#[from] crate::ack::AckError),
    #[error("attachment: {0}")]
    Attachment(#[from] crate::attachment::AttachmentError),
}

struct Link {
    sync: PeerSync,
    internal: Option<PeerSync>,
    inbox: Reassembler,
}

/// An agent's replica of the internal document.
struct Internal<S> {
    doc: InternalDoc,
    persister: Persister<S>,
}

pub struct ClientSession<S> {
    me: Identity,
    doc: SharedDoc,
    persister: Persister<S>,
    internal: Option<Internal<S>>,
    link: Option<Link>,
}

impl<S: ChunkStore> ClientSession<S> {
    /// Opens the device's replica. A fresh actor per open: reusing one across restarts could
    /// mint two different changes with the same sequence number if the store lost a write.
    pub fn open(store: S, me: Identity) -> Result<Self, StoreError<S::Error>> {
        let (doc, persister) = Persister::open::<SharedDoc>(store, ActorId::random())?;
        Ok(Self { me, doc, persister, internal: None, link: None })
    }

    /// Opens an agent's (or admin's) replicas of both documents. For a visitor identity the
    /// internal store is ignored: visitors never hold the internal document.
    pub fn open_with_internal(
        store: S,
        internal_store: S,
        me: Identity,
    ) -> Result<Self, StoreError<S::Error>> {
        let mut session = Self::open(store, me)?;
        if sees_internal(session.me.role) {
            let (doc, persister) =
                Persister::open::<InternalDoc>(internal_store, ActorId::random())?;
            session.internal = Some(Internal { doc, persister });
        }
        Ok(session)
    }

    /// The internal document, for agents and admins opened with [`Self::open_with_internal`].
    pub fn internal(&self) -> Option<&InternalDoc> {
        self.internal.as_ref().map(|i| &i.doc)
    }

    /// Runs an edit of the internal document and makes it durable.
    fn edit_internal<T>(
        &mut self,
        f: impl FnOnce(&mut InternalDoc) -> Result<T, DocError>,
    ) -> Result<T, ClientError<S::Error>> {
        let internal = self.internal.as_mut().ok_or(ClientError::NoInternalDoc)?;
        let out = f(&mut internal.doc)?;
        internal.persister.persist(&internal.doc)?;
        Ok(out)
    }

    /// Adds a tag (agents only); returns whether it was new.
    pub fn add_tag(&mut self, tag: &str, now_ms: i64) -> Result<bool, ClientError<S::Error>> {
        self.edit_internal(|d| d.add_tag(tag, now_ms))
    }

    /// Removes a tag (agents only); returns whether it was there.
    pub fn remove_tag(&mut self, tag: &str, now_ms: i64) -> Result<bool, ClientError<S::Error>> {
        self.edit_internal(|d| d.remove_tag(tag, now_ms))
    }

    /// Sets or clears the assignee, team or priority (agents only).
    pub fn set_case(
        &mut self,
        field: CaseField,
        value: Option<&str>,
        now_ms: i64,
    ) -> Result<(), ClientError<S::Error>> {
        self.edit_internal(|d| d.set_case(field, value, now_ms))
    }

    /// Writes an internal note, which visitors never see (agents only).
    pub fn add_note(&mut self, body: &str, now_ms: i64) -> Result<Message, ClientError<S::Error>> {
        let note = self.new_message(body, now_ms);
        self.edit_internal(|d| d.add_note(&note, now_ms))?;
        Ok(note)
    }

    fn new_message(&self, body: &str, now_ms: i64) -> Message {
        Message {
            id: MessageId::random(),
            author: Author {
                role: self.me.role,
                id: self.me.participant.clone(),
                name: self.me.name.clone(),
            },
            device: self.me.device.clone(),
            kind: MessageKind::Text,
            body: body.to_owned(),
            sent_at: now_ms,
            attachment: None,
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.me
    }

    pub fn doc(&self) -> &SharedDoc {
        &self.doc
    }

    pub fn messages(&self) -> Vec<Message> {
        self.doc.messages()
    }

    /// Writes a text message into the local replica, durably, and returns it.
    pub fn send_text(&mut self, body: &str, now_ms: i64) -> Result<Message, ClientError<S::Error>> {
        let msg = self.new_message(body, now_ms);
        self.doc.append(&msg, now_ms)?;
        self.persister.persist(&self.doc)?;
        Ok(msg)
    }

    /// Writes message `id` carrying `attachment` (uploaded first: PROTOCOL.md §2.10), with
    /// `caption` as its body (may be empty). The id is the caller's so an upload outbox can
    /// tell, after a restart, whether it already wrote the message ([`Self::has_message`]).
    pub fn send_attachment(
        &mut self,
        id: MessageId,
        caption: &str,
        attachment: crate::attachment::AttachmentRef,
        now_ms: i64,
    ) -> Result<Message, ClientError<S::Error>> {
        attachment.check()?;
        let msg = Message { id, attachment: Some(attachment), ..self.new_message(caption, now_ms) };
        self.doc.append(&msg, now_ms)?;
        self.persister.persist(&self.doc)?;
        Ok(msg)
    }

    /// Whether the replica holds message `id`.
    pub fn has_message(&self, id: &MessageId) -> bool {
        self.doc.messages().iter().any(|m| m.id == *id)
    }

    /// Moves this device's read mark to `msg` (never backwards), durably.
    pub fn mark_read(
        &mut self,
        msg: &MessageId,
        now_ms: i64,
    ) -> Result<bool, ClientError<S::Error>> {
        let moved = self.doc.mark_read(&self.me.participant, &self.me.device, msg, now_ms)?;
        if moved {
            self.persister.persist(&self.doc)?;
        }
        Ok(moved)
    }

    /// Sets the conversation's status (agents and admins; the relay refuses it from a
    /// visitor), durably. `snoozed_until` (ms) says when a snoozed conversation wakes up.
    pub fn set_status(&mut self, status: Status, now_ms: i64) -> Result<(), ClientError<S::Error>> {
        status.write(&mut self.doc, now_ms)?;
        self.persister.persist(&self.doc)?;
        Ok(())
    }

    /// Records the visitor's satisfaction rating, durably (the relay checks it as a
    /// `profile` write: visitors and agents may).
    pub fn rate(&mut self, rating: &Rating, now_ms: i64) -> Result<(), ClientError<S::Error>> {
        rating.write(&mut self.doc, now_ms)?;
        self.persister.persist(&self.doc)?;
        Ok(())
    }

    /// The conversation's status, as this replica knows it.
    pub fn status(&self) -> Status {
        Status::read(&self.doc)
    }

    /// Own messages the relay has not acknowledged yet.
    pub fn pending(&self) -> Vec<MessageId> {
        let mine: std::collections::HashSet<MessageId> = self
            .doc
            .messages()
            .into_iter()
            .filter(|m| m.device == self.me.device)
            .map(|m| m.id)
            .collect();
        self.doc.undelivered().into_iter().filter(|id| mine.contains(id)).collect()
    }

    /// Own messages the relay has not acknowledged yet, in conversation order, whole: what a
    /// device moves into the next epoch after a rollover ([`crate::rollover::migrate`]).
    pub fn pending_messages(&self) -> Vec<Message> {
        let unacked: std::collections::HashSet<MessageId> =
            self.doc.undelivered().into_iter().collect();
        self.doc
            .messages()
            .into_iter()
            .filter(|m| m.device == self.me.device && unacked.contains(&m.id))
            .collect()
    }

    /// Writes `messages` (this device's, from a sealed epoch's replica) into this replica
    /// unchanged: same ids, times and bodies, each as its own change, durably. Ids the replica
    /// already holds are skipped, so a move interrupted by a crash can be run again. Returns
    /// how many were written.
    pub fn carry_over(
        &mut self,
        messages: &[Message],
        now_ms: i64,
    ) -> Result<usize, ClientError<S::Error>> {
        let held = self.doc.message_ids();
        let mut written = 0;
        for m in messages.iter().filter(|m| !held.contains(m.id.as_str())) {
            if m.device != self.me.device || m.author.id != self.me.participant {
                continue;
            }
            self.doc.append(m, now_ms)?;
            written += 1;
        }
        if written > 0 {
            self.persister.persist(&self.doc)?;
        }
        Ok(written)
    }

    /// Replaces the shared document's replica with the one in `store` (a device's replica of a
    /// new epoch, PROTOCOL.md §16.2); the internal document stays. The connection is dropped:
    /// the next one syncs the new replica.
    pub fn replace_shared(&mut self, store: S) -> Result<(), StoreError<S::Error>> {
        let (doc, persister) = Persister::open::<SharedDoc>(store, ActorId::random())?;
        self.doc = doc;
        self.persister = persister;
        self.link = None;
        Ok(())
    }

    /// A connection to the relay is open: start a fresh sync session.
    pub fn connected(&mut self) -> Vec<Vec<u8>> {
        // Our relay speaks the changes fast path and acknowledges changes frames (the SDK asks
        // for both with `caps=changes,acks`).
        let session = || PeerSync::new(true).expecting_acks();
        self.link = Some(Link {
            sync: session(),
            internal: self.internal.as_ref().map(|_| session()),
            inbox: Reassembler::new(MAX_SERVER_MESSAGE),
        });
        self.poll_frames()
    }

    pub fn disconnected(&mut self) {
        self.link = None;
    }

    pub fn is_connected(&self) -> bool {
        self.link.is_some()
    }

    /// Whether the relay is known to hold everything this replica holds and vice versa.
    pub fn in_sync(&self) -> bool {
        self.link.as_ref().is_some_and(|l| {
            l.sync.in_sync(&self.doc)
                && match (&l.internal, &self.internal) {
                    (Some(sync), Some(i)) => sync.in_sync(&i.doc),
                    _ => true,
                }
        })
    }

    /// Sync counters of the current connection: (sent msgs, sent bytes, received msgs, received bytes).
    pub fn link_counters(&self) -> Option<(u64, u64, u64, u64)> {
        self.link.as_ref().map(|l| {
            (
                l.sync.sent_messages,
                l.sync.sent_bytes,
                l.sync.received_messages,
                l.sync.received_bytes,
            )
        })
    }

    /// Frames to send now (after a local change or a received frame), if connected.
    pub fn poll_frames(&mut self) -> Vec<Vec<u8>> {
        let Some(link) = self.link.as_mut() else { return Vec::new() };
        let mut out = link.sync.generate(&self.doc);
        if let (Some(sync), Some(i)) = (link.internal.as_mut(), self.internal.as_ref()) {
            out.extend(sync.generate(&i.doc));
        }
        out.into_iter().flat_map(|(ty, payload)| frame::encode(ty, &payload)).collect()
    }

    /// Sends an ephemeral JSON object (typing, presence) if connected.
    pub fn ephemeral_frames(&self, data: &serde_json::Value) -> Vec<Vec<u8>> {
        if self.link.is_none() {
            return Vec::new();
        }
        frame::encode(FrameType::Ephemeral, data.to_string().as_bytes())
    }

    /// Handles one frame from the relay: applies and persists what it carries, and returns
    /// what changed. Call [`Self::poll_frames`] afterwards for the answer.
    pub fn handle_frame(&mut self, data: &[u8]) -> Result<Vec<Event>, ClientError<S::Error>> {
        let Some(link) = self.link.as_mut() else { return Ok(Vec::new()) };
        let Some((ty, payload)) = link.inbox.push(data)? else { return Ok(Vec::new()) };
        match (Channel::of(ty), ty) {
            (Some(Channel::Shared), _) => {
                let patches = link.sync.receive(&mut self.doc, ty, &payload)?;
                let observed = observe(&self.doc, &patches);
                self.persister.persist(&self.doc)?;
                Ok(events(observed))
            }
            (Some(Channel::Internal), _) => {
                let (Some(sync), Some(i)) = (link.internal.as_mut(), self.internal.as_mut()) else {
                    // An agent session opened without an internal replica (e.g. a
                    // notifications-only client) lets the relay's offer go unanswered; for a
                    // visitor such a frame would mean a relay bug, worth surfacing.
                    if sees_internal(self.me.role) {
                        return Ok(Vec::new());
                    }
                    return Err(ClientError::Unexpected(ty));
                };
                let patches = sync.receive(&mut i.doc, ty, &payload)?;
                let o = observe_internal(&i.doc, &patches);
                i.persister.persist(&i.doc)?;
                let mut out: Vec<Event> = o.notes.into_iter().map(Event::Note).collect();
                if o.case_changed {
                    out.push(Event::CaseChanged);
                }
                out.extend(o.audit.into_iter().map(Event::Audit));
                Ok(out)
            }
            (None, FrameType::Ack) => {
                let (channel, hashes) = crate::ack::decode(&payload)?;
                match channel {
                    Channel::Shared => link.sync.acknowledged(&hashes),
                    Channel::Internal => {
                        if let Some(sync) = link.internal.as_mut() {
                            sync.acknowledged(&hashes);
                        }
                    }
                }
                Ok(Vec::new())
            }
            (None, FrameType::Ephemeral) => Ok(serde_json::from_slice(&payload)
                .map(|v| vec![Event::Ephemeral(v)])
                .unwrap_or_default()),
            (None, FrameType::Notice) => Ok(serde_json::from_slice::<Notice>(&payload)
                .map(|n| vec![Event::Notice(n)])
                .unwrap_or_default()),
            (None, _) => Err(ClientError::Unexpected(ty)),
        }
    }

    /// The stores of both replicas, for a shell whose store writes asynchronously and must
    /// be told when to carry out what the session recorded (the browser SDK's IndexedDB).
    pub fn stores_mut(&mut self) -> (&mut S, Option<&mut S>) {
        let internal = self.internal.as_mut().map(|i| i.persister.store_mut());
        (self.persister.store_mut(), internal)
    }

    pub fn into_store(self) -> S {
        self.persister.into_store()
    }

    /// The stores of both replicas (the internal one only for agents).
    pub fn into_stores(self) -> (S, Option<S>) {
        (self.persister.into_store(), self.internal.map(|i| i.persister.into_store()))
    }
}

fn events(o: Observed) -> Vec<Event> {
    let mut out: Vec<Event> = o.messages.into_iter().map(Event::Message).collect();
    out.extend(o.delivered.into_iter().map(|(id, at)| Event::Delivered { id, at }));
    out.extend(o.read.into_iter().map(|(participant, device, message)| Event::Read {
        participant,
        device,
        message,
    }));
    out
}
