//! Issue 3, acceptance 2 (the part that needs no tokens): a malicious client built on raw
//! Automerge, over a real WebSocket to the real Worker, tries writes its role does not allow.
//! Each is refused with 1008 naming the rule; other devices see nothing; storage is unchanged.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use edgedesk_core::automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, Automerge, ObjType, ReadDoc,
};
use edgedesk_core::frame::{self, FrameType, Reassembler, MAX_SERVER_MESSAGE};
use edgedesk_core::ids::ConversationId;
use edgedesk_core::message::Role;
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::sync::PeerSync;
use edgedesk_e2e::*;

/// A replica driven by hand: plain sync protocol, no SDK.
struct RawPeer {
    ws: Ws,
    doc: SharedDoc,
    sync: PeerSync,
    inbox: Reassembler,
}

impl RawPeer {
    async fn connect(relay: &Relay, conv: &ConversationId, role: Role, who: &str) -> RawPeer {
        let token = relay.token(&identity(role, who, "raw"), conv);
        let query = format!("device={who}-raw");
        let ws = connect_raw(relay, conv, Some(&token), &query).await.expect("handshake");
        let doc = SharedDoc::new(ActorId::random()).unwrap();
        RawPeer { ws, doc, sync: PeerSync::new(false), inbox: Reassembler::new(MAX_SERVER_MESSAGE) }
    }

    async fn send_pending(&mut self) {
        for (ty, payload) in self.sync.generate(&self.doc) {
            for f in frame::encode(ty, &payload) {
                self.ws.send(WsMessage::Binary(f.into())).await.expect("send");
            }
        }
    }

    /// Runs the sync protocol until the relay is quiet; returns its close (code, reason) if it
    /// closed the socket.
    async fn exchange(&mut self) -> Option<(u16, String)> {
        self.send_pending().await;
        while let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(500), self.ws.next()).await
        {
            match msg {
                Ok(WsMessage::Binary(b)) => {
                    if let Some((FrameType::SyncShared, payload)) =
                        self.inbox.push(&b).expect("frame")
                    {
                        self.sync
                            .receive(&mut self.doc, FrameType::SyncShared, &payload)
                            .expect("apply");
                        self.send_pending().await;
                    }
                }
                Ok(WsMessage::Close(Some(c))) => {
                    return Some((u16::from(c.code), c.reason.to_string()))
                }
                Ok(_) => {}
                Err(e) => panic!("socket error: {e}"),
            }
        }
        None
    }
}

fn commit(
    doc: &mut Automerge,
    f: impl FnOnce(&mut edgedesk_core::automerge::transaction::Transaction<'_>),
) {
    let mut tx = doc.transaction();
    f(&mut tx);
    tx.commit_with(CommitOptions::default().with_time(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_automerge_attacks_are_refused_unseen_and_unstored() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("attack");
    let visitor =
        client(&relay, &conv, identity(Role::Visitor, "v1", "v1-phone"), &tmp.path().join("v"))
            .await;
    let agent =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "a-desk"), &tmp.path().join("a"))
            .await;
    visitor.send_text("where is my refund?").await.unwrap();
    converge(&relay, &conv, &[&visitor, &agent], 1).await;
    let stored = relay.stats(conv.as_str());

    type Attack = Box<dyn FnOnce(&mut SharedDoc)>;
    let attacks: Vec<(Role, &str, Attack)> = vec![
        (
            Role::Visitor,
            "forged-author",
            Box::new(|d: &mut SharedDoc| {
                let list = d.messages_obj().clone();
                commit(d.automerge_mut(), |tx| {
                    let m = tx.insert_object(&list, 1, ObjType::Map).unwrap();
                    for (k, v) in [
                        ("id", "forged-1"),
                        ("device", "mallory-raw"),
                        ("kind", "text"),
                        ("body", "refund approved"),
                    ] {
                        tx.put(&m, k, v).unwrap();
                    }
                    tx.put(&m, "sent_at", 1i64).unwrap();
                    let a = tx.put_object(&m, "author", ObjType::Map).unwrap();
                    for (k, v) in [("role", "agent"), ("id", "agent-1"), ("name", "Support")] {
                        tx.put(&a, k, v).unwrap();
                    }
                })
            }),
        ),
        (
            // Its own id, role and device (attack 1's attacker is mallory-1), under a name
            // that is not its token's.
            Role::Visitor,
            "forged-author: a new message's author.name",
            Box::new(|d: &mut SharedDoc| {
                let list = d.messages_obj().clone();
                commit(d.automerge_mut(), |tx| {
                    let m = tx.insert_object(&list, 1, ObjType::Map).unwrap();
                    for (k, v) in [
                        ("id", "forged-2"),
                        ("device", "mallory-1-raw"),
                        ("kind", "text"),
                        ("body", "退款已批准 refund approved"),
                    ] {
                        tx.put(&m, k, v).unwrap();
                    }
                    tx.put(&m, "sent_at", 1i64).unwrap();
                    let a = tx.put_object(&m, "author", ObjType::Map).unwrap();
                    let author = [
                        ("role", "visitor"),
                        ("id", "mallory-1"),
                        ("name", "官方客服 Official Support"),
                    ];
                    for (k, v) in author {
                        tx.put(&a, k, v).unwrap();
                    }
                })
            }),
        ),
        (
            Role::Visitor,
            "immutable-history",
            Box::new(|d: &mut SharedDoc| {
                let list = d.messages_obj().clone();
                commit(d.automerge_mut(), |tx| tx.delete(&list, 0).unwrap())
            }),
        ),
        (
            Role::Agent,
            "immutable-history",
            Box::new(|d: &mut SharedDoc| {
                let (_, first) = d.automerge().get(d.messages_obj(), 0).unwrap().unwrap();
                commit(d.automerge_mut(), |tx| tx.put(&first, "body", "nothing to see").unwrap())
            }),
        ),
        (
            Role::Visitor,
            "server-only",
            Box::new(|d: &mut SharedDoc| {
                let delivered = d.delivered_obj().clone();
                commit(d.automerge_mut(), |tx| tx.put(&delivered, "forged-1", 1i64).unwrap())
            }),
        ),
        (
            Role::Visitor,
            "reserved-actor",
            Box::new(|d: &mut SharedDoc| {
                // A profile field (a visitor's to write), as if the relay had written it.
                let profile = d.profile_obj().clone();
                let doc = d.automerge_mut();
                doc.set_actor(ActorId::from(*b"edgedesk.relay01"));
                commit(doc, |tx| tx.put(&profile, "email", "mallory@example.com").unwrap())
            }),
        ),
        (
            Role::Visitor,
            "role-not-allowed",
            Box::new(|d: &mut SharedDoc| {
                let status = d.status_obj().clone();
                commit(d.automerge_mut(), |tx| tx.put(&status, "assignee", "mallory").unwrap())
            }),
        ),
    ];
    // One attacker per attack: a participant whose write was refused waits before its next
    // socket (checked below).
    for (i, (role, rule, attack)) in attacks.into_iter().enumerate() {
        let mut raw = RawPeer::connect(&relay, &conv, role, &format!("mallory-{i}")).await;
        assert_eq!(raw.exchange().await, None, "an honest sync is not refused");
        assert_eq!(raw.doc.message_count(), 1);
        attack(&mut raw.doc);
        let (code, reason) = raw.exchange().await.expect("the relay closes the attacker");
        assert_eq!(code, 1008, "{rule}: {reason}");
        assert!(reason.contains(rule), "{reason:?} should name {rule}");
        assert_eq!(
            relay.stats(conv.as_str())["heads"],
            stored["heads"],
            "{rule}: stored history changed"
        );
    }

    // The honest devices saw none of it and keep chatting.
    let m = agent.send_text("your refund is on its way").await.unwrap();
    converge(&relay, &conv, &[&visitor, &agent], 2).await;
    let messages = assert_identical(&[&visitor, &agent]);
    assert_eq!(messages[1].id, m.id);
    assert!(messages
        .iter()
        .all(|m| m.author.id.as_str() != "mallory" && m.body != "refund approved"));
    assert!(visitor
        .messages()
        .iter()
        .all(|m| m.body == "where is my refund?" || m.body == "your refund is on its way"));

    // A read mark only moves forward (§8.4): forward is accepted, back is refused.
    let mut raw = RawPeer::connect(&relay, &conv, Role::Visitor, "mallory").await;
    assert_eq!(raw.exchange().await, None);
    let read = raw.doc.read_obj().clone();
    let (first, last) = (messages[0].id.to_string(), messages[1].id.to_string());
    commit(raw.doc.automerge_mut(), |tx| tx.put(&read, "mallory/mallory-raw", last).unwrap());
    assert_eq!(raw.exchange().await, None, "a forward mark is accepted");
    let stored = relay.stats(conv.as_str());
    commit(raw.doc.automerge_mut(), |tx| tx.put(&read, "mallory/mallory-raw", first).unwrap());
    let (code, reason) = raw.exchange().await.expect("the relay closes the device");
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("forward-read-marks"), "{reason:?}");
    assert_eq!(
        relay.stats(conv.as_str())["heads"],
        stored["heads"],
        "the backward mark was stored"
    );

    // Refused once, mallory waits a second before its next socket (PROTOCOL.md §8.6): a
    // reconnect within the wait is held unanswered until the wait is over, then opens, so a
    // loop of forged writes makes one attempt per wait instead of one per round trip. Two of
    // its requests are held at once; a third is closed at once with 1013 naming the wait.
    // Another participant connects at once meanwhile.
    let asked = std::time::Instant::now();
    let timed = |who: &'static str| {
        let (relay, conv) = (&relay, &conv);
        async move {
            let mut peer = RawPeer::connect(relay, conv, Role::Visitor, who).await;
            let opened_after = asked.elapsed();
            (peer.exchange().await, opened_after)
        }
    };
    let (a, b, c, honest) =
        tokio::join!(timed("mallory"), timed("mallory"), timed("mallory"), timed("v2"));
    let (closed, held): (Vec<_>, Vec<_>) =
        [a, b, c].into_iter().partition(|(end, _)| end.is_some());
    assert_eq!(closed.len(), 1, "one of three requests refused at once: {closed:?} {held:?}");
    let (code, reason) = closed[0].0.clone().unwrap();
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("wait 1 s"), "{reason:?}");
    for (_, opened_after) in &held {
        assert!(
            *opened_after >= Duration::from_millis(500),
            "a held request opens when the wait ends, not at once ({opened_after:?})"
        );
    }
    assert_eq!(honest.0, None, "another participant syncs meanwhile");
    assert!(honest.1 < held[0].1, "and is not held ({:?} vs {:?})", honest.1, held[0].1);
}
