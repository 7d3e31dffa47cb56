//! The relay refuses writes a peer's role does not allow, stores nothing of them, and keeps
//! serving. Each attack is made with raw Automerge operations (not the typed API a
//! well-behaved client uses), then offered to the relay through the real sync protocol.

use edgedesk_core::automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, Automerge, ObjType, ReadDoc, ROOT,
};
use edgedesk_core::client::{ClientSession, Identity};
use edgedesk_core::message::Role;
use edgedesk_core::relay::{PeerInfo, Relay, RelayError};
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::store::{MemStore, MemStoreError};

mod support;
use support::{identity, peer_info as info, raw_replica};

/// A relay holding one message by visitor `v1` (device `v1-phone`), written by the SDK.
fn relay_with_history() -> Relay<MemStore> {
    let me = Identity { name: "V".into(), ..identity(Role::Visitor, "v1", "v1-phone") };
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let mut client = ClientSession::open(MemStore::default(), me).unwrap();
    client.send_text("my order is late", 1).unwrap();
    let p = info(Role::Visitor, "v1", "v1-phone");
    let mut to_client = relay.connect(1, p).frames;
    let mut to_relay = client.connected();
    for _ in 0..10 {
        for f in std::mem::take(&mut to_relay) {
            to_client.extend(relay.receive(1, &f, 5).unwrap().frames);
        }
        for o in std::mem::take(&mut to_client) {
            for f in o.frames {
                client.handle_frame(&f).unwrap();
            }
        }
        to_relay = client.poll_frames();
    }
    relay.disconnect(1);
    assert_eq!(relay.doc().message_count(), 1);
    relay
}

/// Syncs a raw replica of the relay's document, changed by `attack`, into the relay as
/// `writer`. Returns the relay's error, if any (as the relay returns it, unboxed).
#[allow(clippy::result_large_err)]
fn offer(
    relay: &mut Relay<MemStore>,
    writer: PeerInfo,
    attack: impl FnOnce(&mut Automerge, &SharedDoc),
) -> Result<(), RelayError<MemStoreError>> {
    let (mut raw, view) = raw_replica(relay.doc());
    attack(raw.automerge_mut(), &view);
    support::offer(relay, 9, writer, &mut raw, 7).map(drop)
}

/// Runs `attack` as `writer` and checks it is refused under `rule` with close code 1008, and
/// that a relay reopened from storage (what the Worker does next) holds exactly what it held.
fn refused(writer: PeerInfo, rule: &str, attack: impl FnOnce(&mut Automerge, &SharedDoc)) {
    let mut relay = relay_with_history();
    let before = relay.doc().heads();
    let err = offer(&mut relay, writer, attack).expect_err("the relay accepted it");
    assert!(err.to_string().contains(rule), "{err} should name {rule}");
    assert_eq!(err.close_code(), 1008);
    assert!(err.must_reload());
    let (store, internal) = relay.into_stores();
    let reopened = Relay::open(store, internal).unwrap();
    assert_eq!(reopened.doc().heads(), before, "something of the attack was stored");
}

/// Appends a message map with the given fields, the way a hostile client could.
fn append_raw(
    doc: &mut Automerge,
    view: &SharedDoc,
    fields: &[(&str, &str)],
    author: &[(&str, &str)],
) {
    let mut tx = doc.transaction();
    let end = tx.length(view.messages_obj());
    let m = tx.insert_object(view.messages_obj(), end, ObjType::Map).unwrap();
    for (k, v) in fields {
        tx.put(&m, *k, *v).unwrap();
    }
    tx.put(&m, "sent_at", 1i64).unwrap();
    let a = tx.put_object(&m, "author", ObjType::Map).unwrap();
    for (k, v) in author {
        tx.put(&a, *k, *v).unwrap();
    }
    tx.commit_with(CommitOptions::default().with_time(1));
}

fn visitor(who: &str) -> PeerInfo {
    info(Role::Visitor, who, &format!("{who}-dev"))
}

#[test]
fn a_well_formed_message_of_the_writer_itself_is_accepted() {
    let mut relay = relay_with_history();
    offer(&mut relay, visitor("v2"), |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-ok"), ("device", "v2-dev"), ("kind", "text"), ("body", "hi")],
            &[("role", "visitor"), ("id", "v2"), ("name", "V2")],
        )
    })
    .unwrap();
    assert_eq!(relay.doc().message_count(), 2);
}

#[test]
fn posting_as_another_visitor_is_refused() {
    refused(visitor("mallory"), "forged-author", |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-x"), ("device", "mallory-dev"), ("kind", "text"), ("body", "hi")],
            &[("role", "visitor"), ("id", "v1"), ("name", "V")],
        )
    });
}

#[test]
fn a_message_under_a_name_other_than_the_tokens_is_refused() {
    let named = PeerInfo { name: Some("王小明".into()), ..visitor("v2") };
    refused(named.clone(), "forged-author", |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-x"), ("device", "v2-dev"), ("kind", "text"), ("body", "退款已批准")],
            &[("role", "visitor"), ("id", "v2"), ("name", "官方客服 Official Support")],
        )
    });
    let mut relay = relay_with_history();
    let err = offer(&mut relay, named.clone(), |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-x"), ("device", "v2-dev"), ("kind", "text"), ("body", "hi")],
            &[("role", "visitor"), ("id", "v2"), ("name", "官方客服 Official Support")],
        )
    })
    .unwrap_err();
    assert!(err.to_string().contains("author.name"), "{err}");
    // The same message under the token's own name is accepted.
    let mut relay = relay_with_history();
    offer(&mut relay, named, |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-ok"), ("device", "v2-dev"), ("kind", "text"), ("body", "hi")],
            &[("role", "visitor"), ("id", "v2"), ("name", "王小明")],
        )
    })
    .unwrap();
    assert_eq!(relay.doc().message_count(), 2);
}

#[test]
fn posting_as_an_agent_is_refused() {
    refused(visitor("mallory"), "forged-author", |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-x"), ("device", "mallory-dev"), ("kind", "text"), ("body", "refund ok")],
            &[("role", "agent"), ("id", "mallory"), ("name", "Support")],
        )
    });
}

#[test]
fn a_visitor_writing_a_system_message_is_refused() {
    refused(visitor("mallory"), "kind-not-allowed", |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-x"), ("device", "mallory-dev"), ("kind", "system"), ("body", "x")],
            &[("role", "visitor"), ("id", "mallory"), ("name", "M")],
        )
    });
}

#[test]
fn editing_someone_elses_message_is_refused() {
    refused(info(Role::Agent, "agent-1", "a-desk"), "immutable-history", |doc, view| {
        let (_, m) = doc.get(view.messages_obj(), 0).unwrap().unwrap();
        let mut tx = doc.transaction();
        tx.put(&m, "body", "I never complained").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn deleting_a_message_is_refused() {
    refused(visitor("v1"), "immutable-history", |doc, view| {
        let mut tx = doc.transaction();
        tx.delete(view.messages_obj(), 0).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn a_change_under_the_relays_or_a_schemas_actor_is_refused_before_it_is_applied() {
    for actor in [*b"edgedesk.relay01", *b"edgedesk.schema1", *b"edgedesk.intrnl1"] {
        let mut relay = relay_with_history();
        let before = relay.doc().heads();
        let err = offer(&mut relay, visitor("v1"), |doc, view| {
            // A profile field, which a visitor may write under its own actor.
            doc.set_actor(ActorId::from(actor));
            let mut tx = doc.transaction();
            tx.put(view.profile_obj(), "email", "v1@example.com").unwrap();
            tx.commit_with(CommitOptions::default().with_time(1));
        })
        .expect_err("the relay accepted it");
        assert!(err.to_string().contains("rule reserved-actor"), "{err}");
        assert_eq!(err.close_code(), 1008);
        assert_eq!(relay.doc().heads(), before, "applied in memory");
        let (store, internal) = relay.into_stores();
        assert_eq!(Relay::open(store, internal).unwrap().doc().heads(), before, "stored");
    }
}

#[test]
fn forging_a_delivery_receipt_is_refused() {
    refused(visitor("v1"), "server-only", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.delivered_obj(), "m-unsent", 1i64).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn a_visitor_setting_the_conversation_status_is_refused() {
    refused(visitor("v1"), "role-not-allowed", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.status_obj(), "assignee", "v1").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn writing_another_participants_read_mark_is_refused() {
    refused(visitor("mallory"), "own-read-marks", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.read_obj(), "agent-1/a-desk", "m-x").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn rewriting_the_root_is_refused() {
    refused(info(Role::Agent, "agent-1", "a-desk"), "server-only", |doc, _| {
        let mut tx = doc.transaction();
        tx.put_object(ROOT, "messages", ObjType::List).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn a_duplicate_message_id_is_refused() {
    let mut relay = relay_with_history();
    let existing = relay.doc().messages()[0].id.to_string();
    let before = relay.doc().heads();
    let err = offer(&mut relay, visitor("v1"), |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", existing.as_str()), ("device", "v1-dev"), ("kind", "text"), ("body", "again")],
            &[("role", "visitor"), ("id", "v1"), ("name", "V")],
        )
    })
    .unwrap_err();
    assert!(err.to_string().contains("duplicate-id"), "{err}");
    let (store, internal) = relay.into_stores();
    assert_eq!(Relay::open(store, internal).unwrap().doc().heads(), before);
}

#[test]
fn a_text_object_body_is_refused_as_malformed() {
    refused(visitor("v2"), "malformed-message", |doc, view| {
        let mut tx = doc.transaction();
        let end = tx.length(view.messages_obj());
        let m = tx.insert_object(view.messages_obj(), end, ObjType::Map).unwrap();
        tx.put(&m, "id", "m-text").unwrap();
        let body = tx.put_object(&m, "body", ObjType::Text).unwrap();
        tx.splice_text(&body, 0, 0, "hi").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn a_profile_value_of_bytes_over_the_bound_is_refused() {
    refused(visitor("v1"), "field-bounds", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.profile_obj(), "avatar", vec![0u8; 64 * 1024]).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

#[test]
fn an_author_name_over_the_limit_is_refused() {
    let long = "n".repeat(4096);
    refused(visitor("v2"), "field-bounds", |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-long"), ("device", "v2-dev"), ("kind", "text"), ("body", "hi")],
            &[("role", "visitor"), ("id", "v2"), ("name", long.as_str())],
        )
    });
}

#[test]
fn a_read_mark_that_names_no_message_id_is_refused() {
    let junk = "x".repeat(100_000);
    refused(visitor("v1"), "field-bounds", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.read_obj(), "v1/v1-dev", junk.as_str()).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
    refused(visitor("v1"), "field-bounds", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.read_obj(), "v1/not a device", "m-1").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
}

/// A relay holding three messages by `v2`, and `v2-dev`'s read mark on `m-3`.
fn relay_with_a_read_mark() -> Relay<MemStore> {
    let mut relay = relay_with_history();
    offer(&mut relay, visitor("v2"), |doc, view| {
        for id in ["m-1", "m-2", "m-3"] {
            append_raw(
                doc,
                view,
                &[("id", id), ("device", "v2-dev"), ("kind", "text"), ("body", "hi")],
                &[("role", "visitor"), ("id", "v2"), ("name", "V2")],
            );
        }
        let mut tx = doc.transaction();
        tx.put(view.read_obj(), "v2/v2-dev", "m-3").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    })
    .unwrap();
    relay
}

#[allow(clippy::result_large_err)]
fn mark(relay: &mut Relay<MemStore>, on: &str) -> Result<(), RelayError<MemStoreError>> {
    offer(relay, visitor("v2"), |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.read_obj(), "v2/v2-dev", on).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    })
}

#[test]
fn a_read_mark_moving_back_is_refused_and_nothing_of_it_is_kept() {
    let mut relay = relay_with_a_read_mark();
    let before = relay.doc().heads();
    let err = mark(&mut relay, "m-1").expect_err("a backward mark was accepted");
    assert!(err.to_string().contains("rule forward-read-marks"), "{err}");
    assert!(err.to_string().contains("m-3") && err.to_string().contains("m-1"), "{err}");
    assert_eq!(err.close_code(), 1008);
    assert!(err.must_reload());
    let (store, internal) = relay.into_stores();
    let reopened = Relay::open(store, internal).unwrap();
    assert_eq!(reopened.doc().heads(), before);
    let marks = reopened.doc().device_read_marks(&"v2".parse().unwrap());
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].1.as_str(), "m-3");
}

#[test]
fn a_read_mark_moving_forward_or_staying_or_naming_a_new_message_is_accepted() {
    let mut relay = relay_with_a_read_mark();
    mark(&mut relay, "m-3").unwrap();
    // A mark on the message the same frame appends (it stands last).
    offer(&mut relay, visitor("v2"), |doc, view| {
        append_raw(
            doc,
            view,
            &[("id", "m-4"), ("device", "v2-dev"), ("kind", "text"), ("body", "hi")],
            &[("role", "visitor"), ("id", "v2"), ("name", "V2")],
        );
        let mut tx = doc.transaction();
        tx.put(view.read_obj(), "v2/v2-dev", "m-4").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    })
    .unwrap();
    // Another device of the same participant starts its own mark anywhere.
    offer(&mut relay, visitor("v2"), |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.read_obj(), "v2/v2-tablet", "m-1").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    })
    .unwrap();
    let marks = relay.doc().device_read_marks(&"v2".parse().unwrap());
    let on: Vec<(&str, &str)> = marks.iter().map(|(d, m)| (d.as_str(), m.as_str())).collect();
    assert!(on.contains(&("v2-dev", "m-4")) && on.contains(&("v2-tablet", "m-1")), "{on:?}");
}

#[test]
fn close_reasons_name_the_role_with_its_article_and_the_read_mark_rule_exactly() {
    refused(
        info(Role::Agent, "agent-1", "a-desk"),
        "rule kind-not-allowed: an agent may not write auto_reply messages",
        |doc, view| {
            append_raw(
                doc,
                view,
                &[("id", "m-x"), ("device", "a-desk"), ("kind", "auto_reply"), ("body", "x")],
                &[("role", "agent"), ("id", "agent-1"), ("name", "A")],
            )
        },
    );
    refused(visitor("v1"), "rule role-not-allowed: a visitor may not write status", |doc, view| {
        let mut tx = doc.transaction();
        tx.put(view.status_obj(), "state", "resolved").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    });
    let mut relay = relay_with_a_read_mark();
    let err = offer(&mut relay, visitor("v2"), |doc, view| {
        let mut tx = doc.transaction();
        tx.delete(view.read_obj(), "v2/v2-dev").unwrap();
        tx.commit_with(CommitOptions::default().with_time(1));
    })
    .expect_err("a deleted read mark was accepted");
    assert!(
        err.to_string().contains("rule immutable-history: a read mark is never deleted"),
        "{err}"
    );
}

/// A visitor's message with an attachment, its fields set as given (`size` as an integer).
fn append_with_attachment(
    doc: &mut Automerge,
    view: &SharedDoc,
    fields: &[(&str, &str)],
    size: Option<i64>,
) {
    append_raw(
        doc,
        view,
        &[("id", "m-file"), ("device", "v2-dev"), ("kind", "text"), ("body", "")],
        &[("role", "visitor"), ("id", "v2"), ("name", "V2")],
    );
    let mut tx = doc.transaction();
    let list = view.messages_obj().clone();
    let end = tx.length(&list);
    let (_, m) = tx.get(&list, end - 1).unwrap().unwrap();
    for (k, v) in fields {
        tx.put(&m, *k, *v).unwrap();
    }
    if let Some(size) = size {
        tx.put(&m, "attachment_size", size).unwrap();
    }
    tx.commit_with(CommitOptions::default().with_time(1));
}

const FILE: [(&str, &str); 3] = [
    ("attachment_id", "0123456789abcdef01234567"),
    ("attachment_name", "截图.png"),
    ("attachment_type", "image/png"),
];

#[test]
fn a_message_with_a_well_formed_attachment_is_accepted() {
    let mut relay = relay_with_history();
    offer(&mut relay, visitor("v2"), |doc, view| {
        append_with_attachment(doc, view, &FILE, Some(2048))
    })
    .unwrap();
    let messages = relay.doc().messages();
    let file = messages[1].attachment.as_ref().expect("the attachment reads back");
    assert_eq!((file.name.as_str(), file.size), ("截图.png", 2048));
}

#[test]
fn an_attachment_missing_a_field_or_out_of_bounds_is_refused() {
    refused(visitor("v2"), "malformed-message", |doc, view| {
        append_with_attachment(doc, view, &FILE, None)
    });
    refused(visitor("v2"), "field-bounds", |doc, view| {
        let html = [FILE[0], FILE[1], ("attachment_type", "text/html; charset=utf-8")];
        append_with_attachment(doc, view, &html, Some(10))
    });
    refused(visitor("v2"), "field-bounds", |doc, view| {
        let sneaky = [FILE[0], ("attachment_name", "../../etc/passwd"), FILE[2]];
        append_with_attachment(doc, view, &sneaky, Some(10))
    });
    refused(visitor("v2"), "malformed-message", |doc, view| {
        append_with_attachment(doc, view, &FILE, Some(-1))
    });
}
