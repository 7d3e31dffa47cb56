//! Deterministic simulations of devices and the relay wired together in memory: the same
//! state machines the Worker and the SDK drive, with the network and storage made explicit.

use edgedesk_core::client::{ClientSession, Event};
use edgedesk_core::frame::{FrameType, MAX_FRAME_PAYLOAD};
use edgedesk_core::ids::MessageId;
use edgedesk_core::inbox::summary::Summary;
use edgedesk_core::limits::Limits;
use edgedesk_core::message::Role;
use edgedesk_core::relay::Relay;
use edgedesk_core::store::MemStore;
use edgedesk_core::workflow::profile::VisitorProfile;

mod support;
use support::sim::{device, go_online, info, pump, Device};

fn ids(s: &ClientSession<MemStore>) -> Vec<MessageId> {
    s.messages().into_iter().map(|m| m.id).collect()
}

#[test]
fn three_devices_converge_with_every_message_once_in_one_order() {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut devs = vec![
        device(1, Role::Visitor, "v1", "v1-phone"),
        device(2, Role::Visitor, "v1", "v1-laptop"),
        device(3, Role::Agent, "a1", "a1-desk"),
    ];
    for i in 0..3 {
        go_online(&mut relay, &mut devs, i);
    }
    for round in 0..5 {
        for (i, d) in devs.iter_mut().enumerate() {
            d.session.send_text(&format!("msg {round} from {i}"), 0).unwrap();
        }
        pump(&mut relay, &mut devs, Vec::new());
    }
    let expect = ids(&devs[0].session);
    assert_eq!(expect.len(), 15);
    let unique: std::collections::HashSet<_> = expect.iter().collect();
    assert_eq!(unique.len(), 15);
    for d in &devs {
        assert_eq!(ids(&d.session), expect);
        assert_eq!(d.session.doc().heads(), relay.doc().heads());
        assert!(d.session.pending().is_empty(), "every message has a receipt");
    }
    let received = devs[2].events.iter().filter(|e| matches!(e, Event::Message(_))).count();
    assert_eq!(received, 10, "the agent saw each visitor message exactly once");
}

#[test]
fn offline_writes_merge_with_online_history() {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut devs = vec![device(1, Role::Visitor, "v1", "a"), device(2, Role::Agent, "ag", "b")];
    go_online(&mut relay, &mut devs, 0);
    go_online(&mut relay, &mut devs, 1);
    for i in 0..100 {
        devs[1].session.send_text(&format!("history {i}"), 0).unwrap();
    }
    pump(&mut relay, &mut devs, Vec::new());
    devs[0].online = false;
    devs[0].session.disconnected();
    relay.disconnect(1);
    for i in 0..100 {
        devs[0].session.send_text(&format!("offline {i}"), 0).unwrap();
        devs[1].session.send_text(&format!("online {i}"), 0).unwrap();
        pump(&mut relay, &mut devs, Vec::new());
    }
    go_online(&mut relay, &mut devs, 0);
    assert_eq!(ids(&devs[0].session).len(), 300);
    assert_eq!(ids(&devs[0].session), ids(&devs[1].session));
    assert_eq!(relay.doc().message_count(), 300);
}

#[test]
fn a_restarted_relay_keeps_every_acknowledged_message() {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut devs = vec![device(1, Role::Visitor, "v1", "a")];
    go_online(&mut relay, &mut devs, 0);
    for i in 0..50 {
        devs[0].session.send_text(&format!("m{i}"), 0).unwrap();
        pump(&mut relay, &mut devs, Vec::new());
    }
    let acked: Vec<MessageId> = devs[0]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Delivered { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(acked.len(), 50);
    let (store, internal) = relay.into_stores();
    let relay = Relay::open(store, internal).unwrap();
    let stored: Vec<MessageId> = relay.doc().messages().into_iter().map(|m| m.id).collect();
    assert!(acked.iter().all(|id| stored.contains(id)));
    assert!(relay.doc().undelivered().is_empty());
}

#[test]
fn a_relay_that_cannot_persist_acknowledges_nothing() {
    let store = MemStore { fail_writes: true, ..MemStore::default() };
    let mut relay = Relay::open(store, MemStore::default()).unwrap();
    let mut dev = device(1, Role::Visitor, "v1", "a");
    dev.session.send_text("will not be stored", 0).unwrap();
    let mut to_device = relay.connect(1, info(&dev)).frames;
    let mut to_relay = dev.session.connected();
    let mut refused = None;
    for _ in 0..10 {
        for f in std::mem::take(&mut to_relay) {
            match relay.receive(1, &f, 0) {
                Ok(out) => to_device.extend(out.frames),
                Err(e) => refused = Some(e),
            }
        }
        if refused.is_some() {
            break;
        }
        for out in std::mem::take(&mut to_device) {
            for f in out.frames {
                dev.session.handle_frame(&f).unwrap();
            }
        }
        to_relay = dev.session.poll_frames();
    }
    let err = refused.expect("the relay must fail when its store refuses the write");
    assert!(err.must_reload());
    assert_eq!(err.close_code(), 1011);
    assert_eq!(dev.session.pending().len(), 1, "no receipt reached the device");
    // A fresh relay from the same store has nothing of it.
    let (mut store, internal) = relay.into_stores();
    store.fail_writes = false;
    assert_eq!(Relay::open(store, internal).unwrap().doc().message_count(), 0);
}

#[test]
fn garbage_and_oversized_frames_close_only_their_peer_and_change_nothing() {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut devs = vec![device(1, Role::Visitor, "v1", "a"), device(2, Role::Agent, "ag", "b")];
    go_online(&mut relay, &mut devs, 0);
    go_online(&mut relay, &mut devs, 1);
    devs[0].session.send_text("before", 0).unwrap();
    pump(&mut relay, &mut devs, Vec::new());
    let heads = relay.doc().heads();
    let stats = relay.stats().store;

    let err = relay.receive(1, &[0x7f, 1, 2, 3], 0).unwrap_err();
    assert_eq!(err.close_code(), 1002);
    let err = relay.receive(1, &[FrameType::SyncShared as u8, 0x42, 0xff, 0xff], 0).unwrap_err();
    assert_eq!(err.close_code(), 1007);
    let big = vec![FrameType::SyncShared as u8; MAX_FRAME_PAYLOAD + 2];
    let err = relay.receive(1, &big, 0).unwrap_err();
    assert_eq!(err.close_code(), 1009);
    assert!(err.close_reason().len() <= 123);
    relay.disconnect(1);
    devs[0].online = false;

    assert_eq!(relay.doc().heads(), heads);
    assert_eq!(relay.stats().store, stats);
    devs[1].session.send_text("still served", 0).unwrap();
    pump(&mut relay, &mut devs, Vec::new());
    assert_eq!(relay.doc().message_count(), 2);
    assert!(devs[1].session.pending().is_empty());
}

#[test]
fn ephemeral_frames_reach_others_stamped_with_the_sender() {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut devs = vec![device(1, Role::Visitor, "v1", "a"), device(2, Role::Agent, "ag", "b")];
    go_online(&mut relay, &mut devs, 0);
    go_online(&mut relay, &mut devs, 1);
    let frames =
        devs[0].session.ephemeral_frames(&serde_json::json!({"typing": true, "from": "forged"}));
    let out = relay.receive(1, &frames[0], 0).unwrap();
    assert_eq!(out.frames.len(), 1);
    assert_eq!(out.frames[0].to, 2);
    let events = devs[1].session.handle_frame(&out.frames[0].frames[0]).unwrap();
    let Event::Ephemeral(v) = &events[0] else { panic!("{events:?}") };
    assert_eq!(v["from"]["id"], "v1");
    assert_eq!(v["data"]["typing"], true);
    assert_eq!(
        relay.receive(1, &[FrameType::Ephemeral as u8, b'[', b']'], 0).unwrap_err().close_code(),
        1007
    );
}

#[test]
fn the_relays_inbox_summary_reads_a_constant_number_of_messages_per_accepted_message() {
    // The Worker asks for the summary after every accepted change; what that costs must not
    // grow with the conversation (issue 14: it re-read up to 2,000 messages each time).
    // The simulation's clock stands still: no rate limit, or 640 messages would trip it.
    let limits = Limits { max_messages_per_second: u32::MAX / 4, ..Limits::default() };
    let mut relay = Relay::open_with(MemStore::default(), MemStore::default(), limits).unwrap();
    let mut devs =
        vec![device(1, Role::Visitor, "v1", "phone"), device(2, Role::Agent, "a1", "desk")];
    go_online(&mut relay, &mut devs, 0);
    go_online(&mut relay, &mut devs, 1);
    let visitor = VisitorProfile::default();
    let per_message =
        |relay: &mut Relay<MemStore>, devs: &mut Vec<Device>, from: usize, n: usize| {
            let mut reads = Vec::new();
            for i in 0..n {
                devs[from].session.send_text(&format!("message {i}"), 0).unwrap();
                pump(relay, devs, Vec::new());
                let before = relay.summary_reads();
                relay.summary("c", &visitor);
                reads.push(relay.summary_reads() - before);
            }
            reads
        };
    let first = per_message(&mut relay, &mut devs, 0, 1);
    assert_eq!(first, vec![1], "the first summary reads the one message there is");
    let early = per_message(&mut relay, &mut devs, 0, 20);
    per_message(&mut relay, &mut devs, 1, 600);
    let late = per_message(&mut relay, &mut devs, 0, 20);
    assert_eq!(early, vec![2; 20], "one id check and the new message");
    assert_eq!(late, early, "the same after 600 more messages");
    assert_eq!(
        relay.summary("c", &visitor),
        Summary::of("c", relay.doc(), relay.internal(), &visitor)
    );
}
