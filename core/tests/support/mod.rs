//! Helpers shared by core's integration tests: identities, and a raw replica synced into a
//! relay over the plain sync protocol (how the attack tests offer hand-made changes).
#![allow(dead_code)] // each test crate uses a part

use edgedesk_core::automerge::{ActorId, Automerge};
use edgedesk_core::client::Identity;
use edgedesk_core::document::Document;
use edgedesk_core::frame;
use edgedesk_core::ids::{DeviceId, ParticipantId};
use edgedesk_core::message::Role;
use edgedesk_core::relay::{Output, PeerId, PeerInfo, Relay, RelayError};
use edgedesk_core::store::{MemStore, MemStoreError};
use edgedesk_core::sync::PeerSync;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

pub mod sim;

pub fn identity(role: Role, who: &str, device: &str) -> Identity {
    Identity {
        role,
        participant: ParticipantId::new(who).unwrap(),
        name: who.to_owned(),
        device: DeviceId::new(device).unwrap(),
    }
}

/// A connection's identity as the relay holds it (no fast path, author name not checked: the
/// write-validation tests name theirs where it matters).
pub fn peer_info(role: Role, who: &str, device: &str) -> PeerInfo {
    PeerInfo {
        role,
        participant: ParticipantId::new(who).unwrap(),
        device: DeviceId::new(device).unwrap(),
        fast: false,
        acks: false,
        name: None,
    }
}

/// A writable copy of `doc` under a fresh actor, and an untouched view of the same state
/// (to look object ids up in while the copy is being changed).
pub fn raw_replica<D: Document>(doc: &D) -> (D, D) {
    let bytes = doc.automerge().save();
    let raw = Automerge::load(&bytes).unwrap().with_actor(ActorId::random());
    (D::from_automerge(raw).unwrap(), D::from_automerge(Automerge::load(&bytes).unwrap()).unwrap())
}

/// Connects `writer` as `peer` and runs the sync protocol of `raw`'s document with the relay
/// until it settles, ignoring frames of the other document; disconnects afterwards. Returns
/// the relay's outputs merged (frames, webhook events, accepted messages, timers after the
/// last call), or its error (as the relay returns it, unboxed).
#[allow(clippy::result_large_err)]
pub fn offer<D: Document>(
    relay: &mut Relay<MemStore>,
    peer: PeerId,
    writer: PeerInfo,
    raw: &mut D,
    now_ms: i64,
) -> Result<Output, RelayError<MemStoreError>> {
    let ty = D::CHANNEL.sync_frame();
    let mut sync = PeerSync::new(false);
    let mut all = relay.connect(peer, writer);
    let mut to_raw = std::mem::take(&mut all.frames);
    let result = (|| {
        for _ in 0..10 {
            for o in std::mem::take(&mut to_raw) {
                for f in o.frames.iter().filter(|f| f[0] == ty as u8) {
                    sync.receive(raw, ty, &f[1..]).unwrap();
                }
            }
            // A peer offered nothing (a visitor, for the internal document) opens itself.
            for (ty, payload) in sync.generate(raw) {
                for f in frame::encode(ty, &payload) {
                    let mut out = relay.receive(peer, &f, now_ms)?;
                    to_raw.extend(std::mem::take(&mut out.frames));
                    all.merge(out);
                }
            }
        }
        Ok(all)
    })();
    relay.disconnect(peer);
    result
}

/// Proptest settings of the fuzz drivers: `default_cases` unless `PROPTEST_CASES` says
/// otherwise; a failing input is saved next to the test file and replayed first next time.
pub fn proptest_config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok());
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::with_cases(cases.unwrap_or(default_cases))
    }
}
