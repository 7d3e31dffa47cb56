//! The agents' internal document: synced to every agent device, audited by the relay, never a
//! byte of it to visitors, and written only under its rules. Devices and relay are wired
//! together in memory; attacks are made with raw Automerge operations.

use edgedesk_core::automerge::{
    transaction::{CommitOptions, Transactable},
    Automerge, ObjType, ReadDoc,
};
use edgedesk_core::client::Event;
use edgedesk_core::frame::{self, FrameType};
use edgedesk_core::internal_doc::{AuditAction, CaseField, InternalDoc};
use edgedesk_core::message::Role;
use edgedesk_core::relay::{PeerInfo, Relay, RelayError};
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::store::{MemStore, MemStoreError};

mod support;
use support::sim::{self, device_with_internal as device, go_online, info, pump, Device};
use support::{peer_info, raw_replica};

const NOW: i64 = sim::NOW;

fn connect_all(relay: &mut Relay<MemStore>, devices: &mut [Device]) {
    for i in 0..devices.len() {
        go_online(relay, devices, i);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Two devices of agent `a1`, one of agent `a2`, one visitor; the agents work the case.
fn worked_case() -> (Relay<MemStore>, Vec<Device>) {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut devices = vec![
        device(1, Role::Agent, "a1", "a1-desk"),
        device(2, Role::Agent, "a1", "a1-phone"),
        device(3, Role::Agent, "a2", "a2-desk"),
        device(4, Role::Visitor, "v1", "v1-phone"),
    ];
    connect_all(&mut relay, &mut devices);
    devices[3].session.send_text("where is my refund", NOW).unwrap();
    let s = &mut devices[0].session;
    s.add_tag("refund-secret-tag", NOW).unwrap();
    s.set_case(CaseField::Assignee, Some("a1"), NOW).unwrap();
    s.set_case(CaseField::Priority, Some("urgent"), NOW).unwrap();
    s.add_note("customer-is-a-reseller-note", NOW).unwrap();
    devices[2].session.add_tag("退款", NOW).unwrap();
    pump(&mut relay, &mut devices, Vec::new());
    (relay, devices)
}

#[test]
fn every_agent_device_sees_tags_assignment_and_notes_and_the_relay_audits_the_changes() {
    let (relay, devices) = worked_case();
    for d in &devices[..3] {
        let doc = d.session.internal().expect("agents hold the internal document");
        let tags: Vec<String> = doc.tags().into_iter().collect();
        assert_eq!(tags, ["refund-secret-tag", "退款"], "on {}", d.session.identity().device);
        assert_eq!(doc.case_field(CaseField::Assignee).as_deref(), Some("a1"));
        assert_eq!(doc.case_field(CaseField::Priority).as_deref(), Some("urgent"));
        assert_eq!(doc.notes().len(), 1);
        assert_eq!(doc.heads(), relay.internal().heads());
    }
    // The other devices were told.
    assert!(devices[1]
        .events
        .iter()
        .any(|e| matches!(e, Event::Note(n) if n.body.contains("reseller"))));
    assert!(devices[2].events.contains(&Event::CaseChanged));
    // The relay recorded each accepted change once, with the writer's identity and its time.
    let audit = relay.internal().audit();
    let summary: Vec<(String, String, AuditAction, Option<String>)> = audit
        .iter()
        .map(|e| (e.actor.to_string(), e.field.clone(), e.action, e.value.clone()))
        .collect();
    for expected in [
        ("a1", "tags", AuditAction::Add, Some("refund-secret-tag")),
        ("a1", "assignee", AuditAction::Set, Some("a1")),
        ("a1", "priority", AuditAction::Set, Some("urgent")),
        ("a2", "tags", AuditAction::Add, Some("退款")),
    ] {
        let e = (
            expected.0.to_owned(),
            expected.1.to_owned(),
            expected.2,
            expected.3.map(str::to_owned),
        );
        assert_eq!(summary.iter().filter(|s| **s == e).count(), 1, "{e:?} in {summary:?}");
    }
    assert_eq!(audit.len(), 4, "notes are not audited: {summary:?}");
    assert!(audit.iter().all(|e| e.at == NOW && e.role == Role::Agent));
    // Agents see the audit trail too.
    assert_eq!(devices[2].session.internal().unwrap().audit(), audit);
}

#[test]
fn a_visitor_receives_no_internal_frame_and_no_byte_of_internal_content() {
    let (_relay, devices) = worked_case();
    let visitor = &devices[3];
    assert!(!visitor.received.is_empty());
    let internal_types = [FrameType::SyncInternal as u8, FrameType::ChangesInternal as u8];
    for f in &visitor.received {
        assert!(!internal_types.contains(&(f[0] & !frame::MORE)), "internal frame to a visitor");
        for secret in ["refund-secret-tag", "customer-is-a-reseller-note", "退款", "urgent"] {
            assert!(!contains(f, secret.as_bytes()), "{secret:?} reached the visitor");
        }
    }
    assert!(visitor.session.internal().is_none());
    // Control: the same search finds the secrets in what an agent device received.
    let agent: Vec<u8> = devices[2].received.concat();
    assert!(contains(&agent, b"customer-is-a-reseller-note"));
    // And the visitor still converged on the shared document.
    assert_eq!(visitor.session.messages().len(), 1);
}

#[test]
fn an_agent_changing_the_status_is_audited() {
    let (mut relay, mut devices) = worked_case();
    let before = relay.internal().audit().len();
    // A status write by an agent through raw automerge on a replica of the shared document.
    let err = offer_shared_status(&mut relay, info(&devices[0]));
    assert!(err.is_ok(), "{err:?}");
    let audit = relay.internal().audit();
    assert_eq!(audit.len(), before + 1);
    let last = audit.last().unwrap();
    assert_eq!((last.field.as_str(), last.value.as_deref()), ("status.state", Some("resolved")));
    pump(&mut relay, &mut devices, Vec::new());
}

/// Sets `status.state = resolved` on a raw replica of the shared document and syncs it in.
#[allow(clippy::result_large_err)]
fn offer_shared_status(
    relay: &mut Relay<MemStore>,
    writer: PeerInfo,
) -> Result<(), RelayError<MemStoreError>> {
    let (mut raw, _) = raw_replica::<SharedDoc>(relay.doc());
    let status = raw.status_obj().clone();
    let mut tx = raw.automerge_mut().transaction();
    tx.put(&status, "state", "resolved").unwrap();
    tx.commit_with(CommitOptions::default().with_time(0));
    support::offer(relay, 90, writer, &mut raw, NOW).map(drop)
}

/// Offers a raw replica of the relay's internal document, changed by `attack`, as `writer`.
#[allow(clippy::result_large_err)]
fn offer_internal(
    relay: &mut Relay<MemStore>,
    writer: PeerInfo,
    attack: impl FnOnce(&mut Automerge, &InternalDoc),
) -> Result<(), RelayError<MemStoreError>> {
    let (mut raw, view) = raw_replica(relay.internal());
    attack(raw.automerge_mut(), &view);
    support::offer(relay, 91, writer, &mut raw, NOW).map(drop)
}

/// Runs `attack` as `writer`; it must be refused under `rule` with 1008, and a relay reopened
/// from storage must hold exactly the internal document it held before.
fn refused(writer: PeerInfo, rule: &str, attack: impl FnOnce(&mut Automerge, &InternalDoc)) {
    let (mut relay, _devices) = worked_case();
    let before = relay.internal().heads();
    let err = offer_internal(&mut relay, writer, attack).expect_err("the relay accepted it");
    assert!(err.to_string().contains(rule), "{err} should name {rule}");
    assert_eq!(err.close_code(), 1008);
    let (store, internal) = relay.into_stores();
    let reopened = Relay::open(store, internal).unwrap();
    assert_eq!(reopened.internal().heads(), before, "something of the attack was stored");
}

fn put_tag(doc: &mut Automerge, view: &InternalDoc, tag: &str) {
    let mut tx = doc.transaction();
    tx.put(view.tags_obj(), tag, true).unwrap();
    tx.commit_with(CommitOptions::default().with_time(0));
}

#[test]
fn a_visitor_writing_tags_into_the_internal_document_is_refused() {
    refused(peer_info(Role::Visitor, "v1", "v1-phone"), "role-not-allowed", |doc, view| {
        put_tag(doc, view, "free-refund")
    });
}

#[test]
fn a_visitor_assigning_the_conversation_is_refused() {
    refused(peer_info(Role::Visitor, "v1", "v1-phone"), "role-not-allowed", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.case_obj(), "assignee", "v1").unwrap();
        tx.commit_with(CommitOptions::default().with_time(0));
    });
}

#[test]
fn an_agent_writing_the_audit_trail_is_refused() {
    refused(peer_info(Role::Agent, "a2", "a2-desk"), "server-only", |doc, view| {
        let mut tx = doc.transaction();
        let m = tx.insert_object(view.audit_obj(), 0, ObjType::Map).unwrap();
        tx.put(&m, "field", "tags").unwrap();
        tx.commit_with(CommitOptions::default().with_time(0));
    });
}

#[test]
fn an_agent_editing_anothers_note_is_refused() {
    refused(peer_info(Role::Agent, "a2", "a2-desk"), "immutable-history", |doc, view| {
        let note = doc.list_range(view.notes_obj(), ..).next().unwrap().id();
        let mut tx = doc.transaction();
        tx.put(&note, "body", "rewritten").unwrap();
        tx.commit_with(CommitOptions::default().with_time(0));
    });
}

#[test]
fn an_agent_deleting_a_note_is_refused() {
    refused(peer_info(Role::Agent, "a1", "a1-desk"), "immutable-history", |doc, view| {
        let mut tx = doc.transaction();
        tx.delete(view.notes_obj(), 0).unwrap();
        tx.commit_with(CommitOptions::default().with_time(0));
    });
}

#[test]
fn an_agent_writing_a_note_as_another_agent_is_refused() {
    refused(peer_info(Role::Agent, "a2", "a2-desk"), "forged-author", |doc, view| {
        let mut tx = doc.transaction();
        let end = tx.length(view.notes_obj());
        let m = tx.insert_object(view.notes_obj(), end, ObjType::Map).unwrap();
        for (k, v) in [("id", "n-forged"), ("device", "a2-desk"), ("kind", "text"), ("body", "x")] {
            tx.put(&m, k, v).unwrap();
        }
        tx.put(&m, "sent_at", 1).unwrap();
        let a = tx.put_object(&m, "author", ObjType::Map).unwrap();
        for (k, v) in [("role", "agent"), ("id", "a1"), ("name", "A1")] {
            tx.put(&a, k, v).unwrap();
        }
        tx.commit_with(CommitOptions::default().with_time(0));
    });
}

#[test]
fn an_invalid_priority_or_unknown_case_field_is_refused() {
    refused(peer_info(Role::Agent, "a2", "a2-desk"), "field-bounds", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.case_obj(), "priority", "asap").unwrap();
        tx.commit_with(CommitOptions::default().with_time(0));
    });
    refused(peer_info(Role::Agent, "a2", "a2-desk"), "field-bounds", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.case_obj(), "refund_approved", "yes").unwrap();
        tx.commit_with(CommitOptions::default().with_time(0));
    });
}

#[test]
fn an_agent_tagging_with_raw_automerge_is_accepted_and_audited() {
    let (mut relay, _devices) = worked_case();
    let writer = peer_info(Role::Agent, "a2", "a2-desk");
    offer_internal(&mut relay, writer, |doc, view| put_tag(doc, view, "vip")).unwrap();
    assert!(relay.internal().tags().contains("vip"));
    let last = relay.internal().audit().pop().unwrap();
    assert_eq!((last.field.as_str(), last.value.as_deref()), ("tags", Some("vip")));
}

#[test]
fn a_transfer_asked_through_the_inbox_reaches_every_agent_replica_and_is_audited_under_the_asker() {
    use edgedesk_core::ids::{ParticipantId, TeamId};
    use edgedesk_core::relay::{AssignError, Assignment};
    let (mut relay, mut devices) = worked_case();
    let a2 = ParticipantId::new("a2").unwrap();
    // A claim does not take a conversation someone already holds.
    let claim = Assignment {
        assignee: Some(Some(a2.clone())),
        by: Some((Role::Agent, a2.clone())),
        only_if_unassigned: true,
        ..Default::default()
    };
    assert_eq!(relay.assign(&claim, NOW).unwrap(), Err(AssignError::Taken("a1".into())));
    let transfer = Assignment {
        assignee: Some(Some(a2.clone())),
        team: Some(Some(TeamId::new("billing").unwrap())),
        by: Some((Role::Agent, ParticipantId::new("a1").unwrap())),
        only_if_unassigned: false,
    };
    let out = relay.assign(&transfer, NOW + 1).unwrap().unwrap();
    assert!(out.accepted.is_empty() && out.events.is_empty(), "no workflow: frames only");
    pump(&mut relay, &mut devices, out.frames);
    for d in &devices[..3] {
        let doc = d.session.internal().unwrap();
        assert_eq!(doc.case_field(CaseField::Assignee).as_deref(), Some("a2"));
        assert_eq!(doc.case_field(CaseField::Team).as_deref(), Some("billing"));
        assert_eq!(doc.notes().len(), 1, "history intact");
    }
    let audit = relay.internal().audit();
    let moved: Vec<_> = audit
        .iter()
        .filter(|e| e.at == NOW + 1)
        .map(|e| (e.field.as_str(), e.actor.as_str(), e.device.as_str()))
        .collect();
    assert_eq!(moved, [("team", "a1", "inbox"), ("assignee", "a1", "inbox")]);
    assert_eq!(devices[3].session.messages().len(), 1, "the visitor's history is untouched");
    // A visitor cannot move a conversation, and repeating a transfer changes nothing.
    let by_visitor = Assignment { by: Some((Role::Visitor, a2)), ..transfer.clone() };
    assert_eq!(relay.assign(&by_visitor, NOW).unwrap(), Err(AssignError::NotStaff("visitor")));
    let again = relay.assign(&transfer, NOW + 2).unwrap().unwrap();
    assert_eq!(again, Default::default(), "an assignment that changes nothing produces nothing");
}

/// A tiny deterministic generator, so a failing interleaving can be replayed by its seed.
struct Lcg(u64);

impl Lcg {
    fn coin(&mut self) -> bool {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33).is_multiple_of(2)
    }
}

/// An agent's device changes the status as soon as it first looks in sync, while the
/// relay's last frames may still be on their way; the two directions are interleaved at
/// random. The relay's answer to the status (the audit, in the internal document) crosses
/// the device's frames, so the device sends the relay changes it already holds: the relay
/// must still answer, or the device never learns it is in sync (seen on workerd: a device
/// whose replica equalled the relay's reported "not in sync" for good).
#[test]
fn an_agents_device_ends_in_sync_after_changing_the_status_whatever_the_interleaving() {
    use edgedesk_core::workflow::status::{State, Status};
    use std::collections::VecDeque;
    let mut stuck = Vec::new();
    for seed in 0..200u64 {
        let mut rng = Lcg(seed);
        let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
        relay.configure(Some(edgedesk_core::relay::WorkflowSetup {
            config: std::sync::Arc::new(Default::default()),
            version: 1,
            visitor: Default::default(),
            workspace: "ws".into(),
            conversation: "c1".into(),
        }));
        let mut visitor = vec![device(4, Role::Visitor, "v1", "v1-phone")];
        connect_all(&mut relay, &mut visitor);
        visitor[0].session.send_text("hello", NOW).unwrap();
        pump(&mut relay, &mut visitor, Vec::new());
        relay.disconnect(4);

        // Odd peers take the fast path (changes frames), even ones the sync protocol only.
        let mut d = device(1 + seed % 2, Role::Agent, "a1", "a1-desk");
        let (mut to_device, mut to_relay) = (VecDeque::new(), VecDeque::new());
        for o in relay.connect(d.peer, info(&d)).frames {
            to_device.extend(o.frames);
        }
        to_relay.extend(d.session.connected());
        let mut changed = false;
        loop {
            if !changed && d.session.in_sync() && d.session.messages().len() == 1 {
                let pending = Status { state: State::Pending, snoozed_until: None };
                d.session.set_status(pending, NOW).unwrap();
                changed = true;
            }
            to_relay.extend(d.session.poll_frames());
            let deliver_to_device = match (to_device.is_empty(), to_relay.is_empty()) {
                (true, true) => break,
                (false, true) => true,
                (true, false) => false,
                _ => rng.coin(),
            };
            if deliver_to_device {
                let f = to_device.pop_front().unwrap();
                d.events.extend(d.session.handle_frame(&f).unwrap());
            } else {
                let f = to_relay.pop_front().unwrap();
                for o in relay.receive(d.peer, &f, NOW).unwrap().frames {
                    to_device.extend(o.frames);
                }
            }
        }
        assert!(changed, "seed {seed}: the device never got in sync in the first place");
        assert_eq!(d.session.doc().heads(), relay.doc().heads(), "seed {seed}");
        if !d.session.in_sync() {
            stuck.push(seed);
        }
    }
    assert!(stuck.is_empty(), "devices left believing they are out of sync, by seed: {stuck:?}");
}
