//! Issue 15, acceptance 4: every write is acknowledged, not only messages. A read mark, a
//! status change, a tag and a note each get an acknowledgement from the relay on workerd, on
//! the fast path (an Ack frame naming the change, PROTOCOL.md §6.2) and on the sync protocol
//! (the relay's heads); and a device that shuts down right after such a write has it on the
//! relay, 200 times in a row, found after the relay was killed and restarted.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use edgedesk_core::ack;
use edgedesk_core::automerge::{ChangeHash, ReadDoc};
use edgedesk_core::client::ClientSession;
use edgedesk_core::document::Channel;
use edgedesk_core::frame::{FrameType, Reassembler, MAX_SERVER_MESSAGE};
use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId};
use edgedesk_core::internal_doc::AuditAction;
use edgedesk_core::message::Role;
use edgedesk_core::store::MemStore;
use edgedesk_core::workflow::status::{State, Status};
use edgedesk_e2e::*;

const WAIT: Duration = Duration::from_secs(30);

/// The writes of this test, by name.
const KINDS: [&str; 4] = ["read mark", "status", "tag", "note"];

/// A conversation with one visitor message in it, so that there is something to mark read.
async fn conversation_with_a_message(
    relay: &Relay,
    name: &str,
    dir: &std::path::Path,
) -> ConversationId {
    let conv = conversation(name);
    let visitor = client(relay, &conv, identity(Role::Visitor, "v1", "v-phone"), dir).await;
    visitor.send_text("你好，我想退款").await.unwrap();
    visitor.wait_until(WAIT, |v| v.pending().is_empty()).await.unwrap();
    visitor.shutdown().await;
    conv
}

/// The agent's device driven frame by frame over a real socket: what the SDK does, with every
/// frame from the relay visible.
struct Device {
    ws: Ws,
    session: ClientSession<MemStore>,
    inbox: Reassembler,
    /// (document, hashes) of every Ack frame received.
    acks: Vec<(Channel, Vec<ChangeHash>)>,
}

impl Device {
    async fn connect(relay: &Relay, conv: &ConversationId, device: &str, caps: &str) -> Device {
        let me = identity(Role::Agent, "agent-1", device);
        let session =
            ClientSession::open_with_internal(MemStore::default(), MemStore::default(), me)
                .unwrap();
        Self::reconnect(relay, conv, session, caps).await
    }

    /// Opens a new socket for `session` (a replica that may hold offline writes).
    async fn reconnect(
        relay: &Relay,
        conv: &ConversationId,
        mut session: ClientSession<MemStore>,
        caps: &str,
    ) -> Device {
        let me = session.identity().clone();
        let token = relay.token(&me, conv);
        let query = format!("device={}&caps={caps}", me.device.as_str());
        let ws = connect_raw(relay, conv, Some(&token), &query).await.expect("handshake");
        let first = session.connected();
        let inbox = Reassembler::new(MAX_SERVER_MESSAGE);
        let mut d = Device { ws, session, inbox, acks: Vec::new() };
        d.send(first).await;
        d
    }

    async fn send(&mut self, frames: Vec<Vec<u8>>) {
        for f in frames {
            self.ws.send(WsMessage::Binary(f.into())).await.expect("send");
        }
    }

    /// Handles frames until `done` holds; panics after `WAIT`.
    async fn until(&mut self, what: &str, done: impl Fn(&Device) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            let Some(Ok(WsMessage::Binary(data))) = msg else {
                panic!("the relay ended the connection while waiting for {what}: {msg:?}")
            };
            if let Ok(Some((FrameType::Ack, payload))) = self.inbox.push(&data) {
                self.acks.push(ack::decode(&payload).expect("a readable ack"));
            }
            self.session.handle_frame(&data).expect("frame");
            let answer = self.session.poll_frames();
            self.send(answer).await;
        }
    }
}

/// Makes one write of `kind` and returns the document it went to and its change's hash.
fn write(s: &mut ClientSession<MemStore>, kind: &str, i: usize) -> (Channel, ChangeHash) {
    let now = now_s() * 1000;
    match kind {
        "read mark" => {
            let last = s.messages().last().expect("a message").id.clone();
            assert!(s.mark_read(&last, now).unwrap(), "the mark moves");
        }
        "status" => {
            let state = if i.is_multiple_of(2) { State::Pending } else { State::Open };
            s.set_status(Status { state, snoozed_until: None }, now).unwrap();
        }
        "tag" => assert!(s.add_tag(&format!("t{i}"), now).unwrap()),
        "note" => drop(s.add_note(&format!("note {i} 客户要求退款"), now).unwrap()),
        _ => unreachable!(),
    }
    match kind {
        "tag" | "note" => (Channel::Internal, s.internal().unwrap().heads()[0]),
        _ => (Channel::Shared, s.doc().heads()[0]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_write_is_acknowledged_on_the_fast_path_and_on_the_sync_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation_with_a_message(&relay, "acks", &tmp.path().join("v")).await;

    // The fast path: in sync, each write goes out as a changes frame and comes back acked.
    let mut d = Device::connect(&relay, &conv, "a-fast", "changes,acks").await;
    d.until("the first sync", |d| d.session.in_sync() && d.session.messages().len() == 1).await;
    for (i, kind) in KINDS.into_iter().enumerate() {
        let (channel, hash) = write(&mut d.session, kind, i);
        let frames = d.session.poll_frames();
        let changes = channel.changes_frame() as u8;
        assert!(frames.iter().all(|f| f[0] == changes), "{kind}: not sent on the fast path");
        assert!(!d.session.in_sync(), "{kind}: in sync before the relay acknowledged it");
        d.send(frames).await;
        let acked = |d: &Device| d.acks.iter().any(|(c, h)| *c == channel && h.contains(&hash));
        d.until(&format!("the ack of the {kind}"), acked).await;
        d.until(&format!("in sync after the {kind}"), |d| d.session.in_sync()).await;
    }

    // The sync protocol: written offline, sent in the first sync round of a new connection,
    // acknowledged by heads the relay announces only after persisting. No Ack frames here.
    drop(d);
    for (i, kind) in KINDS.into_iter().enumerate() {
        let mut d = Device::connect(&relay, &conv, &format!("a-sync-{i}"), "").await;
        d.until("the first sync", |d| d.session.in_sync() && d.session.messages().len() == 1).await;
        d.session.disconnected();
        drop(d.ws);
        let (channel, hash) = write(&mut d.session, kind, i + 10);
        let mut d = Device::reconnect(&relay, &conv, d.session, "").await;
        d.until(&format!("in sync after the {kind}"), |d| d.session.in_sync()).await;
        assert!(d.acks.is_empty(), "{kind}: an Ack frame without caps=acks");
        // In sync on the sync protocol means the relay announced our heads; they are its
        // persisted heads, and they hold the write.
        let stats = relay.stats(conv.as_str());
        let (relay_heads, ours) = match channel {
            Channel::Shared => (&stats["heads"], d.session.doc().heads()),
            Channel::Internal => (&stats["internal_heads"], d.session.internal().unwrap().heads()),
        };
        let mut relay_heads: Vec<String> = serde_json::from_value(relay_heads.clone()).unwrap();
        let mut ours: Vec<String> = ours.iter().map(ChangeHash::to_string).collect();
        relay_heads.sort();
        ours.sort();
        assert_eq!(relay_heads, ours, "{kind}: the relay's heads are not the device's");
        let doc_holds = match channel {
            Channel::Shared => d.session.doc().automerge().get_change_by_hash(&hash).is_some(),
            Channel::Internal => {
                d.session.internal().unwrap().automerge().get_change_by_hash(&hash).is_some()
            }
        };
        assert!(doc_holds, "{kind}: the write is in the replica whose heads the relay has");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_shuts_down_right_after_a_write_has_it_on_the_relay_200_times_in_a_row() {
    let tmp = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation_with_a_message(&relay, "shutdowns", &tmp.path().join("v")).await;
    const ROUNDS: usize = 200;
    for i in 0..ROUNDS {
        // A new device each round, never opened again: only the relay can hold its write.
        let me = identity(Role::Agent, "agent-1", &format!("w-{i}"));
        let dir = tmp.path().join(format!("w-{i}"));
        let writer = client(&relay, &conv, me, &dir).await;
        writer.wait_until(WAIT, |v| v.in_sync() && v.message_count() == 1).await.unwrap();
        // Even rounds write while connected (the fast path); odd rounds write offline and
        // shut down as the socket reopens (the first sync round carries the write).
        let on_sync_path = i % 2 == 1;
        if on_sync_path {
            writer.set_online(false);
        }
        match KINDS[(i / 2) % KINDS.len()] {
            "read mark" => {
                let last = writer.messages().last().unwrap().id.clone();
                assert!(writer.mark_read(&last).await.unwrap());
            }
            "status" => {
                // Rounds 8k+2 and 8k+3 write the status: each sets a value other than the last.
                let state = if i % 2 == 0 { State::Pending } else { State::Open };
                writer.set_status(Status { state, snoozed_until: None }).await.unwrap();
            }
            "tag" => assert!(writer.add_tag(&format!("t{i}")).await.unwrap()),
            "note" => drop(writer.add_note(&format!("note {i} 退款")).await.unwrap()),
            _ => unreachable!(),
        }
        if on_sync_path {
            writer.set_online(true);
        }
        writer.shutdown().await;
    }
    relay.restart();
    let observer = client(
        &relay,
        &conv,
        identity(Role::Agent, "agent-2", "observer"),
        &tmp.path().join("observer"),
    )
    .await;
    observer.wait_until(WAIT, |v| v.in_sync() && v.message_count() == 1).await.unwrap();
    let agent = ParticipantId::new("agent-1").unwrap();
    let (marks, tags, notes, audit) = observer.with_view(|v| {
        let s = v.session();
        let internal = s.internal().expect("an agent holds the internal document");
        (s.doc().read_marks(), internal.tags(), internal.notes(), internal.audit())
    });
    let mut missing = Vec::new();
    for i in 0..ROUNDS {
        let device = DeviceId::new(format!("w-{i}")).unwrap();
        let found = match KINDS[(i / 2) % KINDS.len()] {
            "read mark" => marks.iter().any(|(p, d, _)| *p == agent && *d == device),
            "status" => audit.iter().any(|e| {
                e.device == device && e.field == "status.state" && e.action == AuditAction::Set
            }),
            "tag" => tags.contains(&format!("t{i}")),
            "note" => notes.iter().any(|n| n.body == format!("note {i} 退款")),
            _ => unreachable!(),
        };
        if !found {
            missing.push(format!("round {i} ({})", KINDS[(i / 2) % KINDS.len()]));
        }
    }
    assert!(missing.is_empty(), "writes the relay does not hold after a restart: {missing:?}");
}
