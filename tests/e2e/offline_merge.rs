//! Acceptance 3: a device writes 100 messages offline while another writes 100 online.

use edgedesk_core::message::Role;
use edgedesk_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_writes_merge_with_online_writes_and_earlier_history() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    let conv = conversation("offline");
    let a =
        client(&relay, &conv, identity(Role::Visitor, "v1", "dev-a"), &dir.path().join("a")).await;
    let b = client(&relay, &conv, identity(Role::Agent, "agent-1", "dev-b"), &dir.path().join("b"))
        .await;

    for i in 0..50 {
        a.send_text(&format!("history a {i}")).await.unwrap();
        b.send_text(&format!("history b {i}")).await.unwrap();
    }
    converge(&relay, &conv, &[&a, &b], 100).await;

    a.set_online(false);
    for i in 0..100 {
        a.send_text(&format!("offline {i}")).await.unwrap();
        b.send_text(&format!("online {i}")).await.unwrap();
    }
    assert!(!a.is_connected());
    assert_eq!(a.pending().len(), 100, "offline messages wait for the relay");
    // B's messages reach the relay while A is away.
    b.wait_until(std::time::Duration::from_secs(60), |v| v.pending().is_empty()).await.unwrap();
    assert_eq!(relay.stats(conv.as_str())["messages"], 200);

    a.set_online(true);
    converge(&relay, &conv, &[&a, &b], 300).await;
    let messages = assert_identical(&[&a, &b]);
    for prefix in ["history a", "history b", "offline", "online"] {
        let n = messages.iter().filter(|m| m.body.starts_with(&format!("{prefix} "))).count();
        assert_eq!(n, if prefix.starts_with("history") { 50 } else { 100 }, "{prefix}");
    }
    assert_eq!(relay.stats(conv.as_str())["messages"], 300);
}
