//! Acceptance 2: two visitor devices and one agent device chat live through the real Worker.

use edgedesk_client::SdkEvent;
use edgedesk_core::client::Event;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_visitor_devices_and_an_agent_converge_with_each_message_once_in_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    let conv = conversation("live");
    let phone =
        client(&relay, &conv, identity(Role::Visitor, "v1", "v1-phone"), &dir.path().join("phone"))
            .await;
    let laptop = client(
        &relay,
        &conv,
        identity(Role::Visitor, "v1", "v1-laptop"),
        &dir.path().join("laptop"),
    )
    .await;
    let agent = client(
        &relay,
        &conv,
        identity(Role::Agent, "agent-1", "a1-desk"),
        &dir.path().join("agent"),
    )
    .await;
    let mut agent_events = agent.events();
    let all = [&phone, &laptop, &agent];
    converge(&relay, &conv, &all, 0).await;

    for round in 0..10 {
        for (i, c) in all.iter().enumerate() {
            c.send_text(&format!("round {round} from device {i}")).await.unwrap();
        }
    }
    converge(&relay, &conv, &all, 30).await;
    let messages = assert_identical(&all);
    let stats = relay.stats(conv.as_str());
    assert_eq!(stats["messages"], 30);
    // The isolate's wasm memory is reported (whole 64 KiB pages), for soaks to watch.
    let memory = stats["wasm_memory_bytes"].as_u64().expect("wasm_memory_bytes in /stats");
    assert!(memory >= 65_536 && memory.is_multiple_of(65_536), "{memory}");

    // Each device's messages keep their own order within the shared order.
    for device in ["v1-phone", "v1-laptop", "a1-desk"] {
        let rounds: Vec<&str> = messages
            .iter()
            .filter(|m| m.device.as_str() == device)
            .map(|m| m.body.split(' ').nth(1).unwrap())
            .collect();
        let expected: Vec<String> = (0..10).map(|r| r.to_string()).collect();
        assert_eq!(rounds, expected, "{device}");
    }
    // Every message carries the relay's delivery receipt on every replica.
    for c in all {
        assert!(messages.iter().all(|m| c.delivered_at(&m.id).is_some()));
    }
    // The agent heard each visitor message exactly once as a live event.
    let mut heard = std::collections::HashMap::new();
    while let Ok(ev) = agent_events.try_recv() {
        if let SdkEvent::Core(Event::Message(m)) = ev {
            *heard.entry(m.id).or_insert(0) += 1;
        }
    }
    assert_eq!(heard.len(), 20, "agent events: {heard:?}");
    assert!(heard.values().all(|&n| n == 1));
}
