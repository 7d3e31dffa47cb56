//! Every write a device makes is acknowledged once the relay holds it on disk, not only
//! messages (PROTOCOL.md §6.2): read marks, status, tags and notes too, on the fast path (an
//! ack frame) and on the sync protocol (the relay's heads). `in_sync()` turns true only then.

use edgedesk_core::ack;
use edgedesk_core::automerge::{Automerge, ChangeHash, ReadDoc};
use edgedesk_core::document::Channel;
use edgedesk_core::frame::FrameType;
use edgedesk_core::internal_doc::CaseField;
use edgedesk_core::message::Role;
use edgedesk_core::relay::{Outgoing, Relay};
use edgedesk_core::store::MemStore;
use edgedesk_core::workflow::status::{State, Status};

mod support;
use support::sim::{device, device_with_internal, go_online, info, pump, Device, NOW};

/// One write a device can make, as a test names it.
type Write = (&'static str, fn(&mut Device));

fn writes() -> Vec<Write> {
    vec![
        ("read mark", |d| {
            let last = d.session.messages().last().unwrap().id.clone();
            assert!(d.session.mark_read(&last, NOW).unwrap());
        }),
        ("status", |d| {
            let pending = Status { state: State::Pending, snoozed_until: None };
            d.session.set_status(pending, NOW).unwrap();
        }),
        ("tag", |d| assert!(d.session.add_tag("vip", NOW).unwrap())),
        ("note", |d| {
            d.session.add_note("客户要求退款", NOW).unwrap();
        }),
        ("priority", |d| d.session.set_case(CaseField::Priority, Some("high"), NOW).unwrap()),
    ]
}

/// A relay with one message in it and an agent's device (odd peer: the fast path) online
/// and in sync.
fn agent_in_sync(peer: u64) -> (Relay<MemStore>, Vec<Device>) {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut devs = vec![
        device(10, Role::Visitor, "v1", "v1-phone"),
        device_with_internal(peer, Role::Agent, "a1", "a1-desk"),
    ];
    go_online(&mut relay, &mut devs, 0);
    devs[0].session.send_text("你好", NOW).unwrap();
    pump(&mut relay, &mut devs, Vec::new());
    go_online(&mut relay, &mut devs, 1);
    assert!(devs[1].session.in_sync());
    (relay, devs)
}

fn acks_in(out: &[Outgoing], to: u64) -> Vec<(Channel, usize)> {
    out.iter()
        .filter(|o| o.to == to)
        .flat_map(|o| &o.frames)
        .filter(|f| f[0] == FrameType::Ack as u8)
        .map(|f| {
            let (channel, hashes) = ack::decode(&f[1..]).unwrap();
            (channel, hashes.len())
        })
        .collect()
}

#[test]
fn each_fast_path_write_is_in_sync_only_after_its_ack_and_the_ack_follows_the_disk() {
    for (what, write) in writes() {
        let (mut relay, mut devs) = agent_in_sync(1);
        write(&mut devs[1]);
        let frames = devs[1].session.poll_frames();
        let changes: Vec<u8> = frames.iter().map(|f| f[0]).collect();
        assert!(
            changes
                .iter()
                .all(|t| *t == FrameType::ChangesShared as u8
                    || *t == FrameType::ChangesInternal as u8),
            "{what}: went out as {changes:?}, not on the fast path"
        );
        assert!(!devs[1].session.in_sync(), "{what}: in sync before the relay said so");
        let mut out = Vec::new();
        for f in &frames {
            out.extend(relay.receive(1, f, NOW).unwrap().frames);
        }
        let acks = acks_in(&out, 1);
        assert_eq!(acks.len(), 1, "{what}: one ack for one frame, got {acks:?}");
        assert_eq!(acks[0].1, 1, "{what}: the ack names the one change sent");
        assert!(acks_in(&out, 10).is_empty(), "{what}: the visitor is sent no ack");
        // What the ack says is on disk is there for a relay that starts over from storage.
        let device_heads =
            (devs[1].session.doc().heads(), devs[1].session.internal().map(|i| i.heads()));
        pump(&mut relay, &mut devs, out);
        assert!(devs[1].session.in_sync(), "{what}: not in sync after the ack");
        let (store, internal) = relay.into_stores();
        let reopened = Relay::open(store, internal).unwrap();
        let holds = |doc: &Automerge, heads: &[ChangeHash]| doc.get_missing_deps(heads).is_empty();
        assert!(holds(reopened.doc().automerge(), &device_heads.0), "{what}: shared lost");
        let internal = device_heads.1.unwrap();
        assert!(holds(reopened.internal().automerge(), &internal), "{what}: internal lost");
    }
}

#[test]
fn a_write_sent_on_the_sync_protocol_is_acknowledged_by_the_relays_heads() {
    for (what, write) in writes() {
        let (mut relay, mut devs) = agent_in_sync(1);
        relay.disconnect(1);
        devs[1].online = false;
        devs[1].session.disconnected();
        // Written offline: it goes out in the first sync round after reconnecting.
        write(&mut devs[1]);
        assert!(!devs[1].session.in_sync(), "{what}");
        go_online(&mut relay, &mut devs, 1);
        assert!(devs[1].session.in_sync(), "{what}: not in sync after the sync round");
        assert_eq!(devs[1].session.doc().heads(), relay.doc().heads(), "{what}");
    }
}

#[test]
fn a_relay_that_does_not_persist_sends_no_ack() {
    let (relay, mut devs) = agent_in_sync(1);
    let (mut store, internal) = relay.into_stores();
    store.fail_writes = true;
    let mut relay = Relay::open(store, internal).unwrap();
    let mut out = relay.connect(1, info(&devs[1])).frames;
    devs[1].session.disconnected();
    for f in devs[1].session.connected() {
        out.extend(relay.receive(1, &f, NOW).unwrap().frames);
    }
    pump(&mut relay, &mut devs, out);
    assert!(devs[1].session.in_sync());
    let last = devs[1].session.messages().last().unwrap().id.clone();
    devs[1].session.mark_read(&last, NOW).unwrap();
    let mut refused = false;
    for f in devs[1].session.poll_frames() {
        match relay.receive(1, &f, NOW) {
            Ok(out) => assert!(acks_in(&out.frames, 1).is_empty(), "an ack for a failed write"),
            Err(e) => refused = e.close_code() == 1011,
        }
    }
    assert!(refused, "the relay must fail the write it could not persist");
    assert!(!devs[1].session.in_sync(), "the device must not believe the write is held");
}

#[test]
fn a_device_that_did_not_ask_for_acks_gets_none() {
    let (mut relay, mut devs) = agent_in_sync(1);
    relay.disconnect(1);
    let mut quiet = info(&devs[1]);
    quiet.acks = false;
    devs[1].session.disconnected();
    let mut out = relay.connect(1, quiet).frames;
    for f in devs[1].session.connected() {
        out.extend(relay.receive(1, &f, NOW).unwrap().frames);
    }
    pump(&mut relay, &mut devs, out);
    devs[1].session.add_tag("vip", NOW).unwrap();
    for f in devs[1].session.poll_frames() {
        let out = relay.receive(1, &f, NOW).unwrap();
        assert!(acks_in(&out.frames, 1).is_empty(), "an ack frame the device did not opt into");
    }
    assert!(relay.internal().tags().contains("vip"));
}

/// A device reconnecting with offline messages gets their receipts as a changes frame right
/// after a sync message that already names the receipts' heads. It then holds the relay's
/// heads without having heard them announced while holding them; the relay must say them
/// once more, or both sides stay silent and the device never counts itself in sync. Actor ids
/// are random, and whether the receipts come that way depends on their order, so the case is
/// run many times.
#[test]
fn a_device_reconnecting_with_offline_messages_always_ends_in_sync() {
    let mut stuck = 0;
    for _ in 0..200 {
        let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
        let mut devs = vec![device(1, Role::Visitor, "v1", "v1-phone")];
        go_online(&mut relay, &mut devs, 0);
        devs[0].session.send_text("online", NOW).unwrap();
        pump(&mut relay, &mut devs, Vec::new());
        relay.disconnect(1);
        devs[0].online = false;
        devs[0].session.disconnected();
        for i in 0..5 {
            devs[0].session.send_text(&format!("offline {i}"), NOW).unwrap();
        }
        go_online(&mut relay, &mut devs, 0);
        assert!(devs[0].session.pending().is_empty());
        assert_eq!(devs[0].session.doc().heads(), relay.doc().heads());
        stuck += usize::from(!devs[0].session.in_sync());
    }
    assert_eq!(stuck, 0, "devices holding the relay's heads but not in sync, of 200");
}
