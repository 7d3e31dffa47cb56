//! Rollover end to end in memory: the relay seals, devices move over, nothing is lost or
//! doubled.

use std::collections::HashMap;

use crate::client::{ClientSession, Identity};
use crate::ids::{DeviceId, ParticipantId};
use crate::limits::Limits;
use crate::message::Role;
use crate::relay::{Output, PeerInfo, Relay};
use crate::store::MemStore;

use crate::workflow::config::retention::RetentionPolicy;
use crate::workflow::timers::TimerKind;

use super::history::{self, Archived};
use super::migrate;

struct World {
    relay: Relay<MemStore>,
    /// Sealed segments by epoch, as the owner would store them.
    segments: HashMap<u64, Vec<u8>>,
    now: i64,
    next_peer: u64,
}

struct Device {
    session: ClientSession<MemStore>,
    epoch: u64,
    me: Identity,
}

fn identity(role: Role, who: &str, device: &str) -> Identity {
    Identity {
        role,
        participant: ParticipantId::new(who).unwrap(),
        name: who.into(),
        device: DeviceId::new(device).unwrap(),
    }
}

impl World {
    fn new(rollover: usize) -> Self {
        let limits = Limits { rollover_messages: rollover, ..Limits::default() };
        let relay = Relay::open_with(MemStore::default(), MemStore::default(), limits).unwrap();
        Self { relay, segments: HashMap::new(), now: 1_000, next_peer: 1 }
    }

    fn commit(&mut self, out: &mut Output) -> bool {
        match out.sealed.take() {
            Some(sealed) => {
                self.segments.insert(sealed.epoch, sealed.snapshot);
                true
            }
            None => false,
        }
    }

    /// Runs one connection of `device` until nothing moves; returns whether it ended in a
    /// refusal or a rollover (the device's epoch is then behind).
    fn session(&mut self, device: &mut Device) -> bool {
        if self.relay.check_epoch(device.epoch).is_err() {
            return true;
        }
        let peer = self.next_peer;
        self.next_peer += 1;
        let me = &device.me;
        let info = PeerInfo {
            role: me.role,
            participant: me.participant.clone(),
            device: me.device.clone(),
            fast: true,
            acks: true,
            name: Some(me.name.clone()),
        };
        let mut out = self.relay.connect(peer, info);
        let mut to_relay = device.session.connected();
        let mut to_device: Vec<Vec<u8>> = out.frames_to(peer).into_iter().cloned().collect();
        loop {
            if to_relay.is_empty() && to_device.is_empty() {
                break;
            }
            for f in std::mem::take(&mut to_relay) {
                self.now += 1;
                let mut out = self.relay.receive(peer, &f, self.now).unwrap();
                to_device.extend(out.frames_to(peer).into_iter().cloned());
                if self.commit(&mut out) {
                    for f in to_device.drain(..) {
                        device.session.handle_frame(&f).unwrap();
                    }
                    device.session.disconnected();
                    return true;
                }
            }
            for f in std::mem::take(&mut to_device) {
                device.session.handle_frame(&f).unwrap();
            }
            to_relay = device.session.poll_frames();
        }
        let _ = self.commit(&mut out);
        self.relay.disconnect(peer);
        device.session.disconnected();
        false
    }

    /// Segment `epoch` read whole through the relay's history pages, as a device does.
    fn segment(&mut self, epoch: u64) -> Vec<Archived> {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let page = self.relay.history(before, Some(epoch), 4).unwrap();
            let mut part = page.messages;
            part.append(&mut out);
            out = part;
            match page.before {
                Some(c) => before = Some(c.parse().unwrap()),
                None => break,
            }
        }
        assert_eq!(
            out,
            history::read_segment(epoch, &self.segments[&epoch]).unwrap(),
            "paged = sealed"
        );
        out
    }

    /// What the SDKs do on close 4409: read their epoch's segment, move the unsent rest into
    /// a fresh replica of the live epoch.
    fn move_over(&mut self, device: &mut Device) {
        let sealed = self.segment(device.epoch);
        let unsent = migrate::unsent(device.session.pending_messages(), &sealed);
        let mut fresh = ClientSession::open(MemStore::default(), device.me.clone()).unwrap();
        fresh.carry_over(&unsent, self.now).unwrap();
        device.session = fresh;
        device.epoch = self.relay.epoch();
    }

    /// Connects until the device is in the live epoch and has nothing pending.
    fn deliver(&mut self, device: &mut Device) {
        for _ in 0..10 {
            if self.session(device) {
                self.move_over(device);
                continue;
            }
            if device.session.pending_messages().is_empty() {
                return;
            }
        }
        panic!("device never settled");
    }

    /// Every message of the conversation, archived then live, by id.
    fn all_ids(&mut self) -> Vec<String> {
        let mut epochs: Vec<u64> = self.segments.keys().copied().collect();
        epochs.sort();
        let mut ids: Vec<String> = epochs
            .into_iter()
            .flat_map(|e| self.segment(e))
            .map(|a| a.message.id.to_string())
            .collect();
        ids.extend(self.relay.doc().messages().into_iter().map(|m| m.id.to_string()));
        ids
    }
}

fn device(role: Role, who: &str, name: &str) -> Device {
    let me = identity(role, who, name);
    Device { session: ClientSession::open(MemStore::default(), me.clone()).unwrap(), epoch: 0, me }
}

#[test]
fn a_device_offline_across_two_rollovers_delivers_its_messages_exactly_once_in_order() {
    let mut w = World::new(10);
    let mut online = device(Role::Visitor, "v1", "phone");
    let mut offline = device(Role::Agent, "alice", "laptop");
    let mut written = Vec::new();
    for i in 0..7 {
        written.push(offline.session.send_text(&format!("offline {i}"), i).unwrap().id.to_string());
    }
    for i in 0..25 {
        online.session.send_text(&format!("online {i}"), i).unwrap();
        w.deliver(&mut online);
    }
    assert_eq!(w.relay.epoch(), 2, "25 messages, 10 per epoch");
    w.deliver(&mut offline);
    let ids = w.all_ids();
    assert_eq!(ids.len(), 32);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 32, "no message twice");
    let theirs: Vec<&String> = ids.iter().filter(|id| written.contains(id)).collect();
    assert_eq!(theirs, written.iter().collect::<Vec<_>>(), "in the order written");
    assert!(offline.session.pending_messages().is_empty(), "all acknowledged");
}

#[test]
fn a_message_stored_before_the_seal_whose_receipt_was_lost_is_not_written_again() {
    let mut w = World::new(10);
    let mut d = device(Role::Visitor, "v1", "phone");
    let lost = d.session.send_text("receipt lost", 0).unwrap();
    // The relay stores it, but the device's copy of the receipt is lost: its replica is
    // restored from before the connection.
    let before = d.session.doc().automerge().save();
    w.session(&mut d);
    d.session = ClientSession::open(
        MemStore {
            chunks: vec![(crate::store::ChunkKind::Snapshot, before)],
            ..Default::default()
        },
        d.me.clone(),
    )
    .unwrap();
    assert_eq!(d.session.pending_messages().len(), 1);
    let mut other = device(Role::Agent, "alice", "laptop");
    for i in 0..12 {
        other.session.send_text(&format!("reply {i}"), i).unwrap();
        w.deliver(&mut other);
    }
    assert_eq!(w.relay.epoch(), 1);
    w.deliver(&mut d);
    let ids = w.all_ids();
    assert_eq!(ids.iter().filter(|id| **id == lost.id.to_string()).count(), 1);
    assert_eq!(w.relay.doc().message_count(), 3, "nothing rewritten into the live epoch");
}

#[test]
fn the_inbox_summary_and_read_state_carry_across_the_seal() {
    let mut w = World::new(10);
    let mut v = device(Role::Visitor, "v1", "phone");
    let mut a = device(Role::Agent, "alice", "laptop");
    a.session.send_text("您好，请问有什么可以帮您？", 0).unwrap();
    w.deliver(&mut a);
    // Synced before writing, so its first message lands after the agent's (a message
    // written into an empty replica is concurrent with the agent's and may precede it).
    w.deliver(&mut v);
    for i in 0..12 {
        v.session.send_text(&format!("问题 {i}"), i).unwrap();
        w.deliver(&mut v);
    }
    assert_eq!(w.relay.epoch(), 1);
    let visitor = crate::workflow::profile::VisitorProfile::default();
    let s = w.relay.summary("c", &visitor);
    assert_eq!(s.messages, 13);
    assert_eq!(s.unread, 12, "nine sealed after the agent's reply plus three live");
    assert_eq!(s.last_preview.as_deref(), Some("问题 11"));
    assert!(s.waiting_since.is_some(), "the visitor still waits");
    assert_eq!(w.relay.stats().archived_messages, 10);
    // The agent answers in the new epoch: nothing is unread any more, nobody waits.
    a.session = ClientSession::open(MemStore::default(), a.me.clone()).unwrap();
    a.epoch = w.relay.epoch();
    w.deliver(&mut a);
    a.session.send_text("马上处理", 100).unwrap();
    w.deliver(&mut a);
    let s = w.relay.summary("c", &visitor);
    assert_eq!((s.unread, s.waiting_since, s.messages), (0, None, 14));
}

#[test]
fn a_rollover_cut_short_before_the_live_document_was_replaced_is_finished_on_open() {
    let mut w = World::new(10);
    let mut v = device(Role::Visitor, "v1", "phone");
    for i in 0..10 {
        v.session.send_text(&format!("m{i}"), i).unwrap();
        w.deliver(&mut v);
    }
    assert_eq!(w.relay.epoch(), 1);
    let blank = || MemStore::default();
    let (mut shared, internal) =
        std::mem::replace(&mut w.relay, Relay::open(blank(), blank()).unwrap()).into_stores();
    // The crash: segment and carry are stored, the live document's rows are still the
    // sealed document's.
    shared.chunks = vec![(crate::store::ChunkKind::Snapshot, w.segments[&0].clone())];
    let relay = Relay::open(shared, internal).unwrap();
    assert_eq!(relay.epoch(), 1);
    assert_eq!(relay.doc().message_count(), 0, "the sealed messages are not live again");
    assert_eq!(relay.stats().archived_messages, 10);
}

fn with_retention(w: &mut World, days: u32) {
    let policy = RetentionPolicy { delete_sealed_after_days: Some(days), ..Default::default() };
    with_policy(w, policy);
}

fn with_policy(w: &mut World, policy: RetentionPolicy) {
    let config =
        crate::workflow::config::WorkspaceConfig { retention: policy, ..Default::default() };
    w.relay.configure(Some(crate::relay::WorkflowSetup {
        config: std::sync::Arc::new(config),
        version: 1,
        visitor: Default::default(),
        workspace: "ws".into(),
        conversation: "c".into(),
    }));
}

#[test]
fn retention_shreds_sealed_segments_after_the_period_and_a_legal_hold_keeps_them() {
    let limits = Limits { rollover_messages: 10, retention_day_ms: 1_000, ..Limits::default() };
    let relay = Relay::open_with(MemStore::default(), MemStore::default(), limits).unwrap();
    let mut w = World { relay, segments: HashMap::new(), now: 1_000, next_peer: 1 };
    with_retention(&mut w, 2);
    let mut v = device(Role::Visitor, "v1", "phone");
    for i in 0..10 {
        v.session.send_text(&format!("m{i}"), i).unwrap();
        w.deliver(&mut v);
    }
    assert_eq!(w.relay.epoch(), 1);
    let retention = w
        .relay
        .timers()
        .into_iter()
        .find(|t| t.kind == crate::workflow::timers::TimerKind::Retention);
    let sealed_at = retention.expect("a retention timer").due_ms - 2_000;
    assert!((w.now - 10..=w.now).contains(&sealed_at), "due two 'days' after the seal");

    // Held: nothing is shredded, and no timer waits for it.
    let _held = w.relay.set_legal_hold(true, "admin-1", sealed_at + 10).unwrap();
    let out = w.relay.fire_due(sealed_at + 5_000).unwrap();
    assert!(out.timers.iter().all(|t| t.kind != crate::workflow::timers::TimerKind::Retention));
    assert_eq!(w.relay.history(None, Some(0), 500).unwrap().messages.len(), 10);

    // Lifted: the next alarm shreds segment 0, audited; paging it says it expired.
    let _lifted = w.relay.set_legal_hold(false, "admin-1", sealed_at + 20).unwrap();
    let _fired = w.relay.fire_due(sealed_at + 5_000).unwrap();
    assert!(matches!(
        w.relay.history(None, Some(0), 500),
        Err(crate::relay::HistoryError::Shredded { epoch: 0 })
    ));
    assert_eq!(w.relay.stats().shredded_segments, 1);
    let audit: Vec<_> =
        w.relay.internal().audit().into_iter().map(|e| (e.field, e.value)).collect();
    assert!(
        audit.contains(&("retention.shredded".into(), Some("segment 0: 10 messages".into()))),
        "{audit:?}"
    );
    assert!(audit.iter().any(|(f, _)| f == "retention.legal_hold"));
    let visitor = crate::workflow::profile::VisitorProfile::default();
    assert_eq!(w.relay.summary("c", &visitor).shredded_through, Some(sealed_at));
    // Reopened from storage, it still knows.
    let (shared, internal) = std::mem::replace(
        &mut w.relay,
        Relay::open(MemStore::default(), MemStore::default()).unwrap(),
    )
    .into_stores();
    let reopened = Relay::open(shared, internal).unwrap();
    assert_eq!(reopened.stats().shredded_segments, 1);
    assert!(reopened.legal_hold().is_none());
}

#[test]
fn a_live_document_older_than_archive_after_days_is_sealed_by_the_alarm_and_audited() {
    let limits = Limits { rollover_messages: 1_000, retention_day_ms: 1_000, ..Limits::default() };
    let relay = Relay::open_with(MemStore::default(), MemStore::default(), limits).unwrap();
    let mut w = World { relay, segments: HashMap::new(), now: 1_000, next_peer: 1 };
    with_policy(&mut w, RetentionPolicy { archive_after_days: Some(3), ..Default::default() });
    assert!(w.relay.timers().iter().all(|t| t.kind != TimerKind::Archive), "nothing live yet");
    let mut v = device(Role::Visitor, "v1", "phone");
    for i in 0..4 {
        v.session.send_text(&format!("m{i}"), i).unwrap();
        w.deliver(&mut v);
    }
    let first_received = w.relay.doc().received_at(&w.relay.doc().messages()[0]);
    let due = w.relay.timers().into_iter().find(|t| t.kind == TimerKind::Archive);
    assert_eq!(due.map(|t| t.due_ms), Some(first_received + 3_000), "three 'days' after it");

    let early = w.relay.fire_due(first_received + 2_999).unwrap();
    assert!(early.sealed.is_none() && w.relay.epoch() == 0, "not due yet");
    let mut out = w.relay.fire_due(first_received + 3_000).unwrap();
    assert!(w.commit(&mut out), "sealed by the alarm");
    assert_eq!(w.relay.epoch(), 1);
    assert_eq!(w.relay.doc().message_count(), 0);
    assert!(w.relay.timers().iter().all(|t| t.kind != TimerKind::Archive), "until a new message");
    let audit: Vec<_> =
        w.relay.internal().audit().into_iter().map(|e| (e.field, e.value)).collect();
    assert!(
        audit.contains(&("retention.archived".into(), Some("segment 0: 4 messages".into()))),
        "{audit:?}"
    );
    // The device moves over and writes on; every message once, the old ones in segment 0.
    v.session.send_text("after", 10).unwrap();
    w.deliver(&mut v);
    assert_eq!(w.segment(0).len(), 4);
    assert_eq!(w.relay.doc().message_count(), 1);
    let again = w.relay.fire_due(first_received + 3_001).unwrap();
    assert!(again.sealed.is_none(), "the new epoch's first message starts a new wait");
}

#[test]
fn a_workspaces_archive_after_messages_seals_before_the_relays_bound() {
    let mut w = World::new(1_000);
    with_policy(&mut w, RetentionPolicy { archive_after_messages: Some(10), ..Default::default() });
    let mut v = device(Role::Visitor, "v1", "phone");
    for i in 0..25 {
        v.session.send_text(&format!("m{i}"), i).unwrap();
        w.deliver(&mut v);
    }
    assert_eq!(w.relay.epoch(), 2, "sealed at 10 and 20");
    assert_eq!(w.segment(0).len() + w.segment(1).len() + w.relay.doc().message_count(), 25);
}
