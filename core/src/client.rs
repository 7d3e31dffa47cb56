//! A device's side of a conversation as a sans-IO state machine: the client SDK's logic.
//!
//! The device keeps a full replica in a [`ChunkStore`]. A message written here is durable in
//! that store before [`ClientSession::send_text`] returns, online or not; on (re)connection the
//! sync protocol delivers exactly what the relay lacks, so a message is delivered once no
//! matter how often the device restarts or reconnects. A message counts as acknowledged when
//! the relay's delivery receipt for it arrives, which the relay writes only after persisting.

use automerge::ActorId;
use serde::{Deserialize, Serialize};

use crate::frame::{self, FrameError, FrameType, Reassembler, MAX_SERVER_MESSAGE};
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::message::{Author, Message, MessageKind, Role};
use crate::shared_doc::{DocError, SharedDoc};
use crate::store::{ChunkStore, Persister, StoreError};
use crate::sync::{observe, Observed, PeerSync, SyncError};

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
}

struct Link {
    sync: PeerSync,
    inbox: Reassembler,
}

pub struct ClientSession<S> {
    me: Identity,
    doc: SharedDoc,
    persister: Persister<S>,
    link: Option<Link>,
}

impl<S: ChunkStore> ClientSession<S> {
    /// Opens the device's replica. A fresh actor per open: reusing one across restarts could
    /// mint two different changes with the same sequence number if the store lost a write.
    pub fn open(store: S, me: Identity) -> Result<Self, StoreError<S::Error>> {
        let (doc, persister) = Persister::open(store, ActorId::random())?;
        Ok(Self { me, doc, persister, link: None })
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
        let msg = Message {
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
        };
        self.doc.append(&msg, now_ms)?;
        self.persister.persist(&self.doc)?;
        Ok(msg)
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

    /// A connection to the relay is open: start a fresh sync session.
    pub fn connected(&mut self) -> Vec<Vec<u8>> {
        // Our relay speaks the changes fast path (the SDK asks for it with `caps=changes`).
        self.link =
            Some(Link { sync: PeerSync::new(true), inbox: Reassembler::new(MAX_SERVER_MESSAGE) });
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
        self.link.as_ref().is_some_and(|l| l.sync.in_sync(&self.doc))
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
        link.sync
            .generate(&self.doc)
            .into_iter()
            .flat_map(|(ty, payload)| frame::encode(ty, &payload))
            .collect()
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
        match ty {
            FrameType::SyncShared | FrameType::ChangesShared => {
                let patches = link.sync.receive(&mut self.doc, ty, &payload)?;
                let observed = observe(&self.doc, &patches);
                self.persister.persist(&self.doc)?;
                Ok(events(observed))
            }
            FrameType::Ephemeral => Ok(serde_json::from_slice(&payload)
                .map(|v| vec![Event::Ephemeral(v)])
                .unwrap_or_default()),
            FrameType::Notice => Ok(serde_json::from_slice::<Notice>(&payload)
                .map(|n| vec![Event::Notice(n)])
                .unwrap_or_default()),
            FrameType::SyncInternal => Err(ClientError::Unexpected(ty)),
        }
    }

    pub fn into_store(self) -> S {
        self.persister.into_store()
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
