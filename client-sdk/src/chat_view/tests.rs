use automerge::ActorId;
use edgedesk_core::client::{ClientSession, Identity};
use edgedesk_core::ids::{DeviceId, MessageId, ParticipantId};
use edgedesk_core::message::{Author, Message, MessageKind, Role};
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::store::ChunkKind;
use serde_json::json;

use super::*;
use crate::journal_store::JournalStore;

fn msg(id: &str, role: Role, who: &str, kind: MessageKind) -> Message {
    Message {
        id: MessageId::new(id).unwrap(),
        author: Author { role, id: ParticipantId::new(who).unwrap(), name: who.into() },
        device: DeviceId::new("d1").unwrap(),
        kind,
        body: format!("body of {id}"),
        sent_at: 1,
        attachment: None,
    }
}

/// A visitor's replica of a conversation: v1 wrote m1 and m3, the bot m2, agent a1 m4;
/// the relay acknowledged m1..m3; a1 read up to m1 on one device and m3 on another, a2 up to m1.
fn visitor_session() -> ClientSession<JournalStore> {
    let mut doc = SharedDoc::new(ActorId::random()).unwrap();
    let script = [
        msg("m1", Role::Visitor, "v1", MessageKind::Text),
        msg("m2", Role::Server, "server", MessageKind::AutoReply),
        msg("m3", Role::Visitor, "v1", MessageKind::Text),
        msg("m4", Role::Agent, "a1", MessageKind::Text),
    ];
    for m in &script {
        doc.append(m, 1).unwrap();
    }
    let ids: Vec<MessageId> = script.iter().take(3).map(|m| m.id.clone()).collect();
    doc.stamp_delivered(&ids, 50).unwrap();
    let read = |doc: &mut SharedDoc, who: &str, dev: &str, m: &str| {
        let (p, d) = (ParticipantId::new(who).unwrap(), DeviceId::new(dev).unwrap());
        doc.mark_read(&p, &d, &MessageId::new(m).unwrap(), 2).unwrap();
    };
    read(&mut doc, "a1", "phone", "m1");
    read(&mut doc, "a1", "desk", "m3");
    read(&mut doc, "a2", "desk", "m1");
    read(&mut doc, "v1", "d1", "m4");
    let me = Identity {
        role: Role::Visitor,
        participant: ParticipantId::new("v1").unwrap(),
        name: "v1".into(),
        device: DeviceId::new("d1").unwrap(),
    };
    let rows = vec![(1, ChunkKind::Snapshot, doc.automerge().save())];
    ClientSession::open(JournalStore::new(rows), me).unwrap()
}

#[test]
fn ticks_follow_receipts_and_other_participants_furthest_read_marks() {
    let views = messages(&visitor_session());
    let got: Vec<(&str, bool, Option<i64>, Vec<String>)> =
        views.iter().map(|v| (v.id.as_str(), v.own, v.delivered_at, v.read_by.clone())).collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            ("m1", true, Some(50), s(&["a1", "a2"])),
            ("m2", false, Some(50), s(&["a1"])),
            // a1's desk mark is the furthest of its devices; the visitor's own mark never counts.
            ("m3", true, Some(50), s(&["a1"])),
            ("m4", false, None, s(&[])),
        ]
    );
    assert_eq!(views[1].kind, "auto_reply");
    assert_eq!(views[1].author.role, "server");
}

#[test]
fn a_view_serialises_with_the_camel_case_fields_the_typescript_declarations_promise() {
    let v = serde_json::to_value(&messages(&visitor_session())[0]).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["author", "body", "deliveredAt", "device", "id", "kind", "own", "readBy", "sentAt"]
    );
    let status = serde_json::to_value(status(&visitor_session())).unwrap();
    assert_eq!(status, json!({"state": "open", "snoozedUntil": null}));
}

#[test]
fn typing_is_read_from_a_relayed_ephemeral_and_other_payloads_are_not_typing() {
    let e = json!({"from": {"role": "agent", "id": "a1", "device": "d"}, "data": {"typing": true}});
    assert_eq!(
        typing(&e),
        Some(TypingView { participant: "a1".into(), role: "agent".into(), typing: true })
    );
    assert_eq!(typing(&json!({"from": {"role": "agent", "id": "a1"}, "data": {"x": 1}})), None);
    assert_eq!(typing(&json!({"data": {"typing": true}})), None);
}

#[test]
fn visitors_have_no_case_panel() {
    assert_eq!(internal(visitor_session().internal(), "v1"), None);
}
