//! A device killed mid-conversation comes back from its files with nothing lost: messages
//! it wrote but never got acknowledged are still pending and are delivered on reconnection.
//! Drives core's session over the real `FileStore` against core's relay in memory.

use edgedesk_client::{
    ClientSession, DeviceId, FileStore, Identity, MessageId, ParticipantId, Role,
};
use edgedesk_core::relay::{Outgoing, PeerInfo, Relay};
use edgedesk_core::store::MemStore;

const PEER: u64 = 1;

fn me() -> Identity {
    Identity {
        role: Role::Visitor,
        participant: ParticipantId::new("v1").unwrap(),
        name: "Visitor".into(),
        device: DeviceId::new("v1-phone").unwrap(),
    }
}

fn connect(relay: &mut Relay<MemStore>, s: &mut ClientSession<FileStore>) {
    let me = s.identity().clone();
    let info = PeerInfo {
        role: me.role,
        participant: me.participant,
        device: me.device,
        fast: true,
        acks: true,
        name: None,
    };
    let mut queue = relay.connect(PEER, info).frames;
    for f in s.connected() {
        queue.extend(relay.receive(PEER, &f, 1000).unwrap().frames);
    }
    pump(relay, s, queue);
}

/// Moves frames both ways until neither side has anything to say.
fn pump(relay: &mut Relay<MemStore>, s: &mut ClientSession<FileStore>, mut queue: Vec<Outgoing>) {
    for f in s.poll_frames() {
        queue.extend(relay.receive(PEER, &f, 1000).unwrap().frames);
    }
    for _ in 0..1000 {
        if queue.is_empty() {
            return;
        }
        for out in std::mem::take(&mut queue) {
            for f in out.frames {
                s.handle_frame(&f).unwrap();
            }
            for f in s.poll_frames() {
                queue.extend(relay.receive(PEER, &f, 1000).unwrap().frames);
            }
        }
    }
    panic!("the network did not settle");
}

#[test]
fn unacknowledged_messages_survive_a_kill_and_are_delivered_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut s = ClientSession::open(FileStore::open(dir.path()).unwrap(), me()).unwrap();
    connect(&mut relay, &mut s);
    for i in 0..5 {
        s.send_text(&format!("online {i}"), i).unwrap();
        pump(&mut relay, &mut s, Vec::new());
    }
    assert!(s.pending().is_empty(), "online messages are acknowledged");

    s.disconnected();
    relay.disconnect(PEER);
    let offline: Vec<MessageId> =
        (0..5).map(|i| s.send_text(&format!("offline {i}"), 10 + i).unwrap().id).collect();
    // It reconnects and starts syncing, but dies before any answer from the relay arrives.
    let info = PeerInfo {
        role: Role::Visitor,
        participant: me().participant,
        device: me().device,
        fast: true,
        acks: true,
        name: None,
    };
    let _ = relay.connect(PEER, info);
    for f in s.connected() {
        let _ = relay.receive(PEER, &f, 1000).unwrap();
    }
    let heads = s.doc().heads();
    drop(s); // the kill: no shutdown, nothing flushed beyond what send_text made durable

    let mut s = ClientSession::open(FileStore::open(dir.path()).unwrap(), me()).unwrap();
    assert_eq!(s.messages().len(), 10);
    assert_eq!(s.doc().heads(), heads);
    assert_eq!(s.pending(), offline, "every unacknowledged message is still pending, in order");

    relay.disconnect(PEER);
    connect(&mut relay, &mut s);
    assert!(s.pending().is_empty());
    assert!(s.in_sync());
    assert_eq!(relay.doc().message_count(), 10);
    assert_eq!(relay.doc().heads(), s.doc().heads());
}
