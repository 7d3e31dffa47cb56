//! Input that used to crash or poison the relay through Automerge, found by the fuzz target
//! (`fuzzing::validation`): each is now refused before Automerge sees it, stores nothing, and
//! the relay keeps serving. Automerge verifies no checksum, so a peer can send any change
//! structure it likes; these are built by re-encoding a real change with one field altered.

use std::io::Write;

use edgedesk_core::automerge::{legacy::OpId, ActorId, Change, ExpandedChange};
use edgedesk_core::frame::{self, FrameType};
use edgedesk_core::ids::{DeviceId, MessageId, ParticipantId};
use edgedesk_core::message::{Author, Message, MessageKind, Role};
use edgedesk_core::relay::{PeerInfo, Relay, RelayError};
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::store::{MemStore, MemStoreError};
use edgedesk_core::sync::PeerSync;

fn visitor() -> PeerInfo {
    PeerInfo {
        role: Role::Visitor,
        participant: ParticipantId::new("v1").unwrap(),
        device: DeviceId::new("v1-phone").unwrap(),
        fast: true,
        acks: false,
        name: None,
    }
}

fn message(id: &str, body: usize) -> Message {
    Message {
        id: MessageId::new(id).unwrap(),
        author: Author {
            role: Role::Visitor,
            id: ParticipantId::new("v1").unwrap(),
            name: "V".into(),
        },
        device: DeviceId::new("v1-phone").unwrap(),
        kind: MessageKind::Text,
        body: "b".repeat(body),
        sent_at: 1,
        attachment: None,
    }
}

/// A replica of the relay's document that appended `n` messages: their changes, in order.
fn device_changes(relay: &Relay<MemStore>, n: usize) -> Vec<Change> {
    device_changes_of(relay, n, 5)
}

fn device_changes_of(relay: &Relay<MemStore>, n: usize, body: usize) -> Vec<Change> {
    let bytes = relay.doc().automerge().save();
    let am = edgedesk_core::automerge::Automerge::load(&bytes).unwrap();
    let mut doc = SharedDoc::from_automerge(am.with_actor(ActorId::from([7; 16]))).unwrap();
    for i in 0..n {
        doc.append(&message(&format!("m-{i}"), body), 1).unwrap();
    }
    doc.automerge().get_changes(&relay.doc().heads())
}

fn forged(c: &Change, edit: impl FnOnce(&mut ExpandedChange)) -> Change {
    let mut e = c.decode();
    edit(&mut e);
    e.hash = None;
    Change::from(e)
}

/// Sends `payload` as a changes frame from a visitor; returns the relay's verdict.
#[allow(clippy::result_large_err)]
fn send_changes(
    relay: &mut Relay<MemStore>,
    payload: &[u8],
) -> Result<(), RelayError<MemStoreError>> {
    let _ = relay.connect(1, visitor());
    let mut result = Ok(());
    for f in frame::encode(FrameType::ChangesShared, payload) {
        result = relay.receive(1, &f, 5).map(drop);
        if result.is_err() {
            break;
        }
    }
    relay.disconnect(1);
    result
}

/// The relay refuses `payload` with `code`, stores nothing, and still takes a good message.
fn refused_without_harm(payload: &[u8], code: u16) {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let err = send_changes(&mut relay, payload).expect_err("accepted");
    assert_eq!(err.close_code(), code, "{err}");
    let mut relay = if err.must_reload() {
        let (store, internal) = relay.into_stores();
        Relay::open(store, internal).unwrap()
    } else {
        relay
    };
    let good = device_changes(&relay, 1).remove(0);
    send_changes(&mut relay, good.raw_bytes()).expect("a good change after the attack");
    assert_eq!(relay.doc().message_count(), 1);
}

#[test]
fn a_deflate_bomb_is_refused_with_1009_before_it_inflates() {
    // 64 MiB of zeros in about 64 KiB: Automerge would inflate all of it while parsing.
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let body = enc.finish().unwrap();
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut n = body.len();
    while n >= 0x80 {
        chunk.push(n as u8 | 0x80);
        n >>= 7;
    }
    chunk.push(n as u8);
    chunk.extend(body);
    refused_without_harm(&chunk, 1009);
}

#[test]
fn a_change_that_skips_sequence_numbers_is_refused_instead_of_crashing_the_relay() {
    let relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let first = device_changes(&relay, 1).remove(0);
    refused_without_harm(forged(&first, |e| e.seq = 3).raw_bytes(), 1007);
}

#[test]
fn a_change_writing_into_an_object_the_conversation_lacks_is_refused() {
    let relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let first = device_changes(&relay, 1).remove(0);
    let stray = forged(&first, |e| {
        e.operations[0].obj =
            edgedesk_core::automerge::legacy::ObjectId::Id(OpId(40, ActorId::from([7; 16])));
    });
    refused_without_harm(stray.raw_bytes(), 1007);
}

#[test]
fn a_change_that_would_not_read_back_is_refused_before_it_is_stored() {
    // A deletion of nothing: Automerge keeps no trace of it, so the stored change would not
    // match its hash and the document would no longer load.
    let relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let first = device_changes(&relay, 1).remove(0);
    let ghost = forged(&first, |e| {
        e.operations[1].action = edgedesk_core::automerge::legacy::OpType::Delete;
        e.operations[1].pred = Vec::new().into();
    });
    refused_without_harm(ghost.raw_bytes(), 1007);
}

#[test]
fn changes_waiting_for_missing_dependencies_are_bounded_per_peer() {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    // Each change depends on the one before; sending all but the first leaves them waiting.
    let changes = device_changes_of(&relay, 1000, 4096);
    let _ = relay.connect(1, visitor());
    let mut verdict = Ok(());
    // 8 MiB may wait per peer: send the orphans three times over under different hashes.
    for round in 0..3u8 {
        let renamed: Vec<u8> = changes[1..]
            .iter()
            .flat_map(|c| forged(c, |e| e.time = i64::from(round)).raw_bytes().to_vec())
            .collect();
        for f in frame::encode(FrameType::ChangesShared, &renamed) {
            verdict = relay.receive(1, &f, 5).map(drop);
            if verdict.is_err() {
                break;
            }
        }
        if verdict.is_err() {
            break;
        }
    }
    let err = verdict.expect_err("unbounded waiting changes");
    assert_eq!(err.close_code(), 1009, "{err}");
    assert!(err.to_string().contains("wait for missing dependencies"), "{err}");
}

#[test]
fn a_device_whose_changes_arrive_before_their_dependencies_still_converges() {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let changes = device_changes(&relay, 3);
    // The second and third changes arrive first (as after a lost frame), then the device
    // runs the sync protocol: the relay asks for what they build on.
    let _ = relay.connect(1, visitor());
    let later: Vec<u8> = changes[1..].iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    let mut to_device = Vec::new();
    for f in frame::encode(FrameType::ChangesShared, &later) {
        to_device.extend(relay.receive(1, &f, 5).unwrap().frames);
    }
    assert_eq!(relay.doc().message_count(), 0, "nothing applies without its dependency");
    let bytes = relay.doc().automerge().save();
    let mut device = SharedDoc::from_automerge(
        edgedesk_core::automerge::Automerge::load(&bytes).unwrap().with_actor(ActorId::random()),
    )
    .unwrap();
    device.automerge_mut().apply_changes(changes.clone()).unwrap();
    let mut sync = PeerSync::new(true);
    for _ in 0..10 {
        for o in std::mem::take(&mut to_device) {
            for f in o.frames {
                sync.receive(&mut device, FrameType::from_byte(f[0] & 0x7f).unwrap(), &f[1..])
                    .unwrap();
            }
        }
        for (ty, payload) in sync.generate(&device) {
            for f in frame::encode(ty, &payload) {
                to_device.extend(relay.receive(1, &f, 5).unwrap().frames);
            }
        }
    }
    assert_eq!(relay.doc().message_count(), 3);
    assert_eq!(relay.doc().heads(), device.heads());
}
