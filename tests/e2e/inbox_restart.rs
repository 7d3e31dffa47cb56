//! Issue 5, acceptance 6: the inbox's summaries and an agent's live socket survive a workerd
//! restart, with no summary lost.
//!
//! Visitors write and go away; workerd's process group is killed right after the last
//! message is acknowledged, when that conversation's push to the inbox is typically still in
//! flight (the test passes either way; what it proves is the end state). Nothing touches the
//! conversations after the restart: whatever the inbox had not acknowledged is pushed again
//! by the conversations' own alarms, and the agent's device reconnects by itself.

use edgedesk_core::ids::ParticipantId;
use edgedesk_e2e::inbox::{listed, wait_inbox, VisitorClaims};
use edgedesk_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_and_the_agents_live_socket_survive_a_workerd_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(&dir.path().join("state"));
    let desk = relay.inbox("ann", "ann-desk").await;
    let claims = VisitorClaims { channel: Some("web".into()), ..Default::default() };
    let mut convs = Vec::new();
    for i in 0..5 {
        let conv = conversation(&format!("restart-{i}"));
        let v = relay
            .visitor_writes(
                &conv,
                &claims,
                &format!("question {i}"),
                &dir.path().join(format!("v{i}")),
            )
            .await;
        v.shutdown().await;
        convs.push(conv);
    }
    relay.kill();
    relay.restart();

    // Each conversation pushes what the inbox had not acknowledged (the last one's push
    // died with workerd in most runs), from its own alarm.
    for c in &convs {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let inbox = relay.stats(c.as_str())["workflow"]["inbox"].clone();
            if inbox["acked"] == inbox["version"] && inbox["queued_messages"] == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{c}: not acknowledged: {inbox}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    // So every conversation's last summary is in the inbox: none lost.
    let page = relay.wait_list("ann", "sort=activity&limit=100", 5).await;
    let expected: Vec<String> = convs.iter().rev().map(|c| c.to_string()).collect();
    assert_eq!(listed(&page), expected, "newest first");
    for item in page["items"].as_array().unwrap() {
        assert_eq!(item["messages"], 1, "{item}");
        assert_eq!(item["unread"], 1, "{item}");
    }
    // The agent's device came back by itself and gets live changes again.
    let ann = ParticipantId::new("ann").unwrap();
    wait_inbox(&desk, "the reconnection's hello", |s| {
        s.is_connected() && s.presence_of(&ann) == edgedesk_client::Presence::Online
    })
    .await;
    let again =
        relay.visitor_writes(&convs[0], &claims, "still there?", &dir.path().join("v0")).await;
    wait_inbox(&desk, "the new message's summary", |s| {
        s.summary(convs[0].as_str()).is_some_and(|x| x.messages == 2)
    })
    .await;
    again.shutdown().await;
    desk.shutdown().await;
}
