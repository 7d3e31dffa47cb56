//! Issue 3, acceptance 3 (and the internal-document cases of 2): on the real Worker, agents'
//! tags, assignee, priority and internal notes reach every agent device, while a visitor's
//! socket receives not one byte of them; a visitor writing into the internal document is
//! refused and nothing of it is stored.

use std::time::Duration;

use edgedesk_core::internal_doc::{AuditAction, CaseField, InternalDoc};
use edgedesk_core::message::Role;
use edgedesk_core::shared_doc::DocError;
use edgedesk_e2e::raw_peer::{is_internal_frame, RawPeer};
use edgedesk_e2e::*;

const SECRET_TAG: &str = "tag-secret-7f3a";
const SECRET_NOTE: &str = "note-secret-reseller-91c2";
const SECRET_TEAM: &str = "team-secret-b2b";
const WAIT: Duration = Duration::from_secs(60);
/// The tag the relay's workflow sets on a visitor message, configured or not (PROTOCOL.md §13).
const TO_HANDLE: &str = "待处理";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_internal_data_on_every_device_and_a_visitor_socket_receives_none_of_it() {
    let state = tempfile::tempdir().unwrap();
    let relay = Relay::start(state.path());
    let conv = conversation("internal");
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();

    // A visitor's raw socket, connected before the agents work, keeping every byte it gets.
    let mut spy = RawPeer::connect(&relay, &conv, Role::Visitor, "v-spy").await;
    assert_eq!(spy.exchange().await, None);

    let visitor =
        client(&relay, &conv, identity(Role::Visitor, "v1", "v1-phone"), dirs[0].path()).await;
    let desk = client(&relay, &conv, identity(Role::Agent, "a1", "a1-desk"), dirs[1].path()).await;
    let phone =
        client(&relay, &conv, identity(Role::Agent, "a1", "a1-phone"), dirs[2].path()).await;
    let other = client(&relay, &conv, identity(Role::Agent, "a2", "a2-desk"), dirs[3].path()).await;

    visitor.send_text("hello, my parcel is missing").await.unwrap();
    desk.add_tag(SECRET_TAG).await.unwrap();
    desk.set_case(CaseField::Assignee, Some("a1")).await.unwrap();
    desk.set_case(CaseField::Priority, Some("urgent")).await.unwrap();
    desk.add_note(SECRET_NOTE).await.unwrap();
    other.set_case(CaseField::Team, Some(SECRET_TEAM)).await.unwrap();
    other.add_tag("退款").await.unwrap();

    // Every agent device converges on the same internal document as the relay: the agents'
    // five writes, and the relay's default tag for the visitor's message.
    for agent in [&desk, &phone, &other] {
        agent
            .wait_until(WAIT, |v| {
                v.internal().is_some_and(|d| {
                    d.tags().len() == 3 && d.notes().len() == 1 && d.audit().len() == 6
                })
            })
            .await
            .unwrap_or_else(|e| panic!("{e}\nrelay log:\n{}", relay.log_tail()));
    }
    let relay_internal = relay.stats(conv.as_str())["internal_heads"].clone();
    for agent in [&desk, &phone, &other] {
        agent
            .wait_until(WAIT, |v| {
                let heads = v.internal().map(RawPeer::heads_of).unwrap_or_default();
                serde_json::json!(heads) == relay_internal
            })
            .await
            .expect("agent internal heads equal the relay's");
        agent.with_view(|v| {
            let d = v.internal().unwrap();
            assert_eq!(d.tags().into_iter().collect::<Vec<_>>(), [SECRET_TAG, TO_HANDLE, "退款"]);
            assert_eq!(d.case_field(CaseField::Assignee).as_deref(), Some("a1"));
            assert_eq!(d.case_field(CaseField::Priority).as_deref(), Some("urgent"));
            assert_eq!(d.case_field(CaseField::Team).as_deref(), Some(SECRET_TEAM));
            assert_eq!(d.notes()[0].body, SECRET_NOTE);
            let audit = d.audit();
            for field in ["tags", "assignee", "priority", "team"] {
                let set = audit.iter().any(|e| {
                    e.field == field && matches!(e.action, AuditAction::Add | AuditAction::Set)
                });
                assert!(set, "{field} not audited: {audit:?}");
            }
            let by_relay: Vec<_> = audit.iter().filter(|e| e.role != Role::Agent).collect();
            assert!(
                by_relay.len() == 1
                    && by_relay[0].role == Role::Server
                    && by_relay[0].value.as_deref() == Some(TO_HANDLE),
                "besides the agents' writes only the relay's tag: {by_relay:?}"
            );
        });
    }

    // An agent message after the internal work, so the spy's socket demonstrably stayed live.
    desk.send_text("we are on it").await.unwrap();
    visitor.wait_until(WAIT, |v| v.message_count() == 2).await.unwrap();
    assert_eq!(spy.exchange_for(Duration::from_secs(2)).await, None);
    assert!(spy.received_contains(b"we are on it"), "the spy saw the shared conversation");

    // Byte level: no internal frame type, none of the internal content.
    assert!(!spy.received.iter().any(|f| is_internal_frame(f)), "internal frame sent to a visitor");
    for secret in [SECRET_TAG, SECRET_NOTE, SECRET_TEAM, "退款", "urgent", TO_HANDLE, "已回复"]
    {
        assert!(!spy.received_contains(secret.as_bytes()), "{secret:?} reached a visitor socket");
    }
    // Control: an agent's raw socket, searched the same way, does receive them.
    let mut agent_spy = RawPeer::connect(&relay, &conv, Role::Agent, "a9").await;
    agent_spy.hold_internal();
    assert_eq!(agent_spy.exchange_for(Duration::from_secs(2)).await, None);
    assert!(agent_spy.received.iter().any(|f| is_internal_frame(f)));
    assert!(agent_spy.received_contains(SECRET_NOTE.as_bytes()));
    assert!(agent_spy.internal.as_ref().unwrap().tags().contains(SECRET_TAG));
    // The visitor's SDK replica holds no internal document at all.
    assert!(visitor.with_view(|v| v.internal().is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_writing_into_the_internal_document_is_refused_and_nothing_is_stored() {
    let state = tempfile::tempdir().unwrap();
    let relay = Relay::start(state.path());
    let conv = conversation("internal-attack");
    let dir = tempfile::tempdir().unwrap();
    let agent = client(&relay, &conv, identity(Role::Agent, "a1", "a1-desk"), dir.path()).await;
    agent.add_tag("genuine").await.unwrap();
    agent
        .wait_until(WAIT, |v| v.internal().is_some_and(|d| d.audit().len() == 1) && v.in_sync())
        .await
        .unwrap();
    let before = relay.stats(conv.as_str())["internal_heads"].clone();

    type Attack = fn(&mut InternalDoc) -> Result<(), DocError>;
    let attacks: [(&str, Attack); 3] = [
        ("tags", |d| d.add_tag("free-refund", 1).map(drop)),
        ("assignee", |d| d.set_case(CaseField::Assignee, Some("v-evil"), 1)),
        ("priority", |d| d.set_case(CaseField::Priority, Some("urgent"), 1)),
    ];
    // One attacker per attack: a refused participant waits before its next socket.
    for (i, (what, attack)) in attacks.into_iter().enumerate() {
        let mut evil = RawPeer::connect(&relay, &conv, Role::Visitor, &format!("v-evil-{i}")).await;
        attack(evil.hold_internal()).unwrap();
        let closed = evil.exchange().await;
        let (code, reason) = closed.unwrap_or_else(|| panic!("{what}: the relay did not close"));
        assert_eq!(code, 1008, "{what}: {reason}");
        assert!(reason.contains("role-not-allowed"), "{what}: {reason}");
        assert!(!evil.received.iter().any(|f| is_internal_frame(f)));
    }

    // Nothing stored, nothing relayed: the agent's replica and the relay are as they were.
    assert_eq!(relay.stats(conv.as_str())["internal_heads"], before);
    agent.add_note("still working").await.unwrap();
    agent
        .wait_until(WAIT, |v| {
            v.in_sync()
                && v.internal().is_some_and(|d| {
                    d.tags().into_iter().collect::<Vec<_>>() == ["genuine"]
                        && d.case_field(CaseField::Assignee).is_none()
                        && d.notes().len() == 1
                })
        })
        .await
        .expect("the agent keeps working, untouched by the attacks");
}
