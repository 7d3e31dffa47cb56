//! Issue 3, acceptance 5: each configurable bound (frame size, message body size, messages per
//! second per socket, sockets per conversation), when exceeded on the real Worker, closes the
//! offending socket with the documented code and reason, while honest devices keep chatting.

use std::time::Duration;

use edgedesk_core::ids::{DeviceId, MessageId, ParticipantId};
use edgedesk_core::message::{Author, Message, MessageKind, Role};
use edgedesk_e2e::raw_peer::RawPeer;
use edgedesk_e2e::*;

const VARS: [(&str, &str); 4] = [
    ("EDGEDESK_MAX_FRAME_BYTES", "4096"),
    ("EDGEDESK_MAX_BODY_BYTES", "100"),
    ("EDGEDESK_MAX_MESSAGES_PER_SECOND", "20"),
    ("EDGEDESK_MAX_SOCKETS_PER_CONVERSATION", "4"),
];

fn ephemeral(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x03];
    f.extend_from_slice(payload);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bound_closes_only_the_offender_with_its_code_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start_with_vars(&tmp.path().join("state"), &VARS);
    let conv = conversation("bounds");
    let visitor =
        client(&relay, &conv, identity(Role::Visitor, "v1", "v1-phone"), &tmp.path().join("v"))
            .await;
    let agent =
        client(&relay, &conv, identity(Role::Agent, "a1", "a1-desk"), &tmp.path().join("a")).await;
    let mut sent = 0;
    let mut chat = |n: usize| {
        sent += n;
        sent
    };
    visitor.send_text("hello").await.unwrap();
    agent.send_text("hi, how can I help?").await.unwrap();
    converge(&relay, &conv, &[&visitor, &agent], chat(2)).await;

    // Frame size: one WebSocket message over 4,096 bytes.
    let mut raw = RawPeer::connect(&relay, &conv, Role::Visitor, "big-frame").await;
    assert_eq!(raw.exchange().await, None);
    raw.send_raw(ephemeral(&vec![b' '; 5000])).await;
    let (code, reason) = raw.exchange().await.expect("closed");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("5001 bytes exceeds the 4096-byte frame limit"), "{reason}");

    // Body size: a well-formed message of the writer itself, with a 150-byte body.
    let mut raw = RawPeer::connect(&relay, &conv, Role::Visitor, "long-body").await;
    assert_eq!(raw.exchange().await, None);
    let long = Message {
        id: MessageId::random(),
        author: Author {
            role: Role::Visitor,
            id: ParticipantId::new("long-body").unwrap(),
            name: "long-body".into(),
        },
        device: DeviceId::new("long-body-raw").unwrap(),
        kind: MessageKind::Text,
        body: "x".repeat(150),
        sent_at: 0,
        attachment: None,
    };
    raw.shared.append(&long, 0).unwrap();
    let (code, reason) = raw.exchange().await.expect("closed");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("rule body-size") && reason.contains("limit is 100"), "{reason}");

    // Rate: 60 small frames at once from one socket (bursts of 40 allowed).
    let mut raw = RawPeer::connect(&relay, &conv, Role::Visitor, "flood").await;
    assert_eq!(raw.exchange().await, None);
    for _ in 0..60 {
        if !raw.send_raw(ephemeral(b"{}")).await {
            break;
        }
    }
    let (code, reason) = raw.exchange_for(Duration::from_secs(2)).await.expect("closed");
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("rate limit: more than 20"), "{reason}");

    // Sockets: two honest devices + two raw ones fill the 4 places; the next is turned away.
    let mut second = RawPeer::connect(&relay, &conv, Role::Agent, "watcher-1").await;
    let mut third = RawPeer::connect(&relay, &conv, Role::Agent, "watcher-2").await;
    assert_eq!(second.exchange().await, None);
    assert_eq!(third.exchange().await, None);
    let mut extra = RawPeer::connect(&relay, &conv, Role::Agent, "one-too-many").await;
    let (code, reason) = extra.exchange().await.expect("closed");
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("conversation has 4 sockets, the limit is 4"), "{reason}");
    drop((second, third));

    // Nothing of the offenders was stored, and the honest devices kept working throughout.
    visitor.send_text("still there?").await.unwrap();
    agent.send_text("yes").await.unwrap();
    converge(&relay, &conv, &[&visitor, &agent], chat(2)).await;
    // (Concurrent sends from two devices: the shared order is the CRDT's, so compare as sets.)
    let mut bodies: Vec<String> =
        assert_identical(&[&visitor, &agent]).into_iter().map(|m| m.body).collect();
    bodies.sort();
    assert_eq!(bodies, ["hello", "hi, how can I help?", "still there?", "yes"]);
}
