//! Issue 14, acceptance 7: with five devices streaming into one conversation, each waiting
//! for its receipt before sending the next message, every device's receipts keep arriving.
//!
//! Judged by counts, not by the clock: the relay's receipt times order every message, and
//! while all five still stream, each run of [`WINDOW`] consecutive receipts must hold at least
//! one of every device's. A relay that served one device's frames while another's waited (as
//! issue 14 saw: a writer's receipts came only after the others stopped) fails it.

use std::time::Duration;

use edgedesk_client::{Client, SdkEvent};
use edgedesk_core::client::Event;
use edgedesk_core::ids::DeviceId;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

/// Messages each device sends, one at a time.
const PER_DEVICE: usize = 40;
/// Receipts in which every streaming device must appear: five rounds of five.
const WINDOW: usize = 25;

async fn stream(client: Client, label: String) -> Client {
    let mut events = client.events();
    for i in 0..PER_DEVICE {
        let sent = client.send_text(&format!("{label} {i}")).await.expect("send");
        let acked = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                match events.recv().await {
                    Ok(SdkEvent::Core(Event::Delivered { id, .. })) if id == sent.id => return,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("{label}: events ended: {e}"),
                }
            }
        })
        .await;
        assert!(acked.is_ok(), "{label}: message {i} got no receipt within 60 s");
    }
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_devices_streaming_into_one_conversation_all_keep_getting_receipts() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("fairness");
    let writers = [
        (Role::Visitor, "v1", "phone"),
        (Role::Visitor, "v1", "laptop"),
        (Role::Visitor, "v1", "tablet"),
        (Role::Agent, "agent-1", "a1-desk"),
        (Role::Agent, "agent-2", "a2-desk"),
    ];
    let mut clients = Vec::new();
    for (i, (role, who, device)) in writers.iter().enumerate() {
        let dir = tmp.path().join(format!("w{i}"));
        clients.push(client(&relay, &conv, identity(*role, who, device), &dir).await);
    }
    // Everyone connected and in sync before the race starts.
    let refs: Vec<&Client> = clients.iter().collect();
    converge(&relay, &conv, &refs, 0).await;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(stream(c, format!("writer{i}"))))
        .collect();
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("a writer failed"));
    }
    let refs: Vec<&Client> = clients.iter().collect();
    converge(&relay, &conv, &refs, writers.len() * PER_DEVICE).await;

    // Every message by the relay's receipt time (ties keep the conversation's order).
    let reader = &clients[0];
    let mut receipts: Vec<(i64, usize, DeviceId)> = reader
        .messages()
        .into_iter()
        .enumerate()
        .map(|(i, m)| (reader.delivered_at(&m.id).expect("a receipt"), i, m.device))
        .collect();
    receipts.sort();
    let devices: Vec<DeviceId> =
        writers.iter().map(|(_, _, device)| DeviceId::new(*device).expect("device")).collect();
    // Up to the first device's last message, all five were streaming.
    let first_done = devices
        .iter()
        .map(|d| receipts.iter().rposition(|(_, _, by)| by == d).expect("device's messages"))
        .min()
        .expect("devices");
    let streaming = &receipts[..=first_done];
    assert!(streaming.len() >= WINDOW, "too short a race to judge: {}", streaming.len());
    for (start, window) in streaming.windows(WINDOW).enumerate() {
        for d in &devices {
            assert!(
                window.iter().any(|(_, _, by)| by == d),
                "device {d} had no receipt among receipts {start}..{} while all five streamed; \
                 order: {:?}",
                start + WINDOW,
                streaming.iter().map(|(_, _, by)| by.as_str()).collect::<Vec<_>>()
            );
        }
    }
    for c in clients {
        c.shutdown().await;
    }
}
