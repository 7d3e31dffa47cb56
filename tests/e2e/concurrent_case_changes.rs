//! Issue 4, acceptance 5: two agents' devices change the case offline at the same time
//! (status, tags, priority, assignee); once both are back, every replica agrees and the audit
//! trail holds every change of both devices.

use std::time::Duration;

use edgedesk_client::{Client, State, Status};
use edgedesk_core::internal_doc::{AuditEntry, CaseField};
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_offline_case_changes_converge_and_are_all_audited() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    let conv = conversation("case-merge");
    let visitor =
        client(&relay, &conv, identity(Role::Visitor, "v1", "v1-phone"), &dir.path().join("v"))
            .await;
    let desk =
        client(&relay, &conv, identity(Role::Agent, "a1", "a1-desk"), &dir.path().join("d")).await;
    let phone =
        client(&relay, &conv, identity(Role::Agent, "a2", "a2-phone"), &dir.path().join("p")).await;
    visitor.send_text("my invoice is wrong").await.unwrap();
    converge(&relay, &conv, &[&visitor, &desk, &phone], 1).await;

    desk.set_online(false);
    phone.set_online(false);
    desk.set_status(Status { state: State::Pending, snoozed_until: None }).await.unwrap();
    desk.add_tag("需跟进").await.unwrap();
    desk.set_case(CaseField::Priority, Some("high")).await.unwrap();
    phone.set_status(Status { state: State::Resolved, snoozed_until: None }).await.unwrap();
    phone.add_tag("billing").await.unwrap();
    phone.set_case(CaseField::Assignee, Some("a2")).await.unwrap();
    desk.set_online(true);
    phone.set_online(true);

    // Every replica, and the relay, reach the same heads of both documents.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stats = relay.stats(conv.as_str());
        let internal_heads = |c: &Client| {
            c.with_view(|v| v.internal().map(|d| serde_json::json!(d.heads()))).unwrap_or_default()
        };
        let shared_done = [&visitor, &desk, &phone]
            .iter()
            .all(|c| serde_json::json!(c.heads()) == stats["heads"]);
        let internal_done =
            [&desk, &phone].iter().all(|c| internal_heads(c) == stats["internal_heads"]);
        if shared_done && internal_done {
            break;
        }
        let connected: Vec<bool> =
            [&visitor, &desk, &phone].iter().map(|c| c.is_connected()).collect();
        assert!(
            tokio::time::Instant::now() < deadline,
            "no convergence: {stats}; connected (visitor, desk, phone): {connected:?}\n{}",
            relay.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // One status won the concurrent write, the same one everywhere.
    let status = desk.with_view(|v| v.status());
    assert!(matches!(status.state, State::Pending | State::Resolved), "{status:?}");
    for c in [&visitor, &phone] {
        assert_eq!(c.with_view(|v| v.status()), status);
    }
    for c in [&desk, &phone] {
        let (tags, priority, assignee) = c.with_view(|v| {
            let d = v.internal().expect("agents hold the internal document");
            (d.tags(), d.case_field(CaseField::Priority), d.case_field(CaseField::Assignee))
        });
        // Both devices' tags, and the relay's default tag for the visitor's message (§13).
        assert_eq!(tags.into_iter().collect::<Vec<_>>(), ["billing", "待处理", "需跟进"]);
        assert_eq!(priority.as_deref(), Some("high"));
        assert_eq!(assignee.as_deref(), Some("a2"));
    }

    // The relay audited each device's changes with its identity.
    let audit = desk.with_view(|v| v.internal().map(|d| d.audit()).unwrap_or_default());
    let has = |device: &str, field: &str, value: &str| {
        audit.iter().any(|e: &AuditEntry| {
            e.device.as_str() == device && e.field == field && e.value.as_deref() == Some(value)
        })
    };
    assert!(has("a1-desk", "status.state", "pending"), "{audit:?}");
    assert!(has("a1-desk", "tags", "需跟进"), "{audit:?}");
    assert!(has("a1-desk", "priority", "high"), "{audit:?}");
    assert!(has("a2-phone", "status.state", "resolved"), "{audit:?}");
    assert!(has("a2-phone", "tags", "billing"), "{audit:?}");
    assert!(has("a2-phone", "assignee", "a2"), "{audit:?}");
    assert_eq!(phone.with_view(|v| v.internal().map(|d| d.audit())), Some(audit));
}
