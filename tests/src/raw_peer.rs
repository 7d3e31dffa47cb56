//! A peer driven by hand over a real WebSocket: plain Automerge sync of the documents it holds,
//! no SDK, every received byte kept. Attack tests change its replicas with raw Automerge
//! operations; byte-level tests search what it received.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use edgedesk_core::automerge::ActorId;
use edgedesk_core::document::{Channel, Document};
use edgedesk_core::frame::{self, FrameType, Reassembler, MAX_SERVER_MESSAGE};
use edgedesk_core::internal_doc::InternalDoc;
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::sync::PeerSync;

use edgedesk_core::ids::ConversationId;
use edgedesk_core::message::Role;

use crate::{connect_raw, identity, Relay, Ws};

pub struct RawPeer {
    ws: Ws,
    pub shared: SharedDoc,
    shared_sync: PeerSync,
    /// The internal document: synced only if the peer holds one (set it before exchanging).
    pub internal: Option<InternalDoc>,
    internal_sync: PeerSync,
    inbox: Reassembler,
    /// Every binary WebSocket message received, as received.
    pub received: Vec<Vec<u8>>,
}

impl RawPeer {
    /// Connects as `who` (device `<who>-raw`) with a valid token of `role`.
    pub async fn connect(relay: &Relay, conv: &ConversationId, role: Role, who: &str) -> RawPeer {
        let token = relay.token(&identity(role, who, "raw"), conv);
        let query = format!("device={who}-raw");
        let ws = connect_raw(relay, conv, Some(&token), &query).await.expect("handshake");
        RawPeer {
            ws,
            shared: SharedDoc::new(ActorId::random()).expect("doc"),
            shared_sync: PeerSync::new(false),
            internal: None,
            internal_sync: PeerSync::new(false),
            inbox: Reassembler::new(MAX_SERVER_MESSAGE),
            received: Vec::new(),
        }
    }

    /// Starts holding an internal document (what an agent's replica does, or what an attacker
    /// pretends to).
    pub fn hold_internal(&mut self) -> &mut InternalDoc {
        self.internal.insert(InternalDoc::new(ActorId::random()).expect("doc"))
    }

    /// Sends one WebSocket binary message as is (to test the relay's bounds).
    pub async fn send_raw(&mut self, frame: Vec<u8>) -> bool {
        self.ws.send(WsMessage::Binary(frame.into())).await.is_ok()
    }

    async fn send_pending(&mut self) {
        let mut out = self.shared_sync.generate(&self.shared);
        if let Some(doc) = &self.internal {
            out.extend(self.internal_sync.generate(doc));
        }
        for (ty, payload) in out {
            for f in frame::encode(ty, &payload) {
                if self.ws.send(WsMessage::Binary(f.into())).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Runs the sync protocol until the relay has been quiet for `quiet`; returns its close
    /// (code, reason) if it closed the socket.
    pub async fn exchange_for(&mut self, quiet: Duration) -> Option<(u16, String)> {
        self.send_pending().await;
        while let Ok(Some(msg)) = tokio::time::timeout(quiet, self.ws.next()).await {
            match msg {
                Ok(WsMessage::Binary(b)) => {
                    self.received.push(b.to_vec());
                    let Some((ty, payload)) = self.inbox.push(&b).expect("frame") else {
                        continue;
                    };
                    match Channel::of(ty) {
                        Some(Channel::Shared) => {
                            self.shared_sync
                                .receive(&mut self.shared, ty, &payload)
                                .expect("apply");
                        }
                        Some(Channel::Internal) => {
                            if let Some(doc) = self.internal.as_mut() {
                                self.internal_sync.receive(doc, ty, &payload).expect("apply");
                            }
                        }
                        None => {}
                    }
                    self.send_pending().await;
                }
                Ok(WsMessage::Close(Some(c))) => {
                    return Some((u16::from(c.code), c.reason.to_string()))
                }
                Ok(WsMessage::Close(None)) => return Some((1005, String::new())),
                Ok(_) => {}
                Err(e) => panic!("socket error: {e}"),
            }
        }
        None
    }

    pub async fn exchange(&mut self) -> Option<(u16, String)> {
        self.exchange_for(Duration::from_millis(500)).await
    }

    /// Whether what this peer received contains `needle`, looked for three ways: in every
    /// frame as received, in the payloads joined (a needle split across fragments), and in
    /// every change its replicas hold, decoded (sync messages may carry compressed chunks, in
    /// which plain text does not appear as such).
    pub fn received_contains(&self, needle: &[u8]) -> bool {
        let found = |h: &[u8]| h.windows(needle.len()).any(|w| w == needle);
        let joined: Vec<u8> = self.received.iter().flat_map(|f| f[1..].iter().copied()).collect();
        self.received.iter().any(|f| found(f)) || found(&joined) || found(self.decoded().as_bytes())
    }

    /// Every change of this peer's replicas, decoded to text (operations and values).
    pub fn decoded(&self) -> String {
        let mut docs = vec![self.shared.automerge()];
        docs.extend(self.internal.as_ref().map(|d| d.automerge()));
        docs.iter()
            .flat_map(|d| d.get_changes(&[]))
            .map(|c| format!("{:?}\n", c.decode()))
            .collect()
    }

    /// Heads of a document this peer holds, as hex.
    pub fn heads_of<D: Document>(doc: &D) -> Vec<String> {
        doc.heads().iter().map(|h| h.to_string()).collect()
    }
}

/// Whether a frame's type byte (fragment flag removed) is one of the internal document's.
pub fn is_internal_frame(f: &[u8]) -> bool {
    let ty = f.first().map(|b| b & !frame::MORE);
    ty == Some(FrameType::SyncInternal as u8) || ty == Some(FrameType::ChangesInternal as u8)
}
