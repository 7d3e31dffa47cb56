//! Issue 17, the reconnect storm: many SDK clients over many conversations, workerd SIGKILLed
//! while every device also writes offline, then restarted. Every client reconnects by itself
//! (backoff with jitter: the spread of reconnect times is printed), every message written is
//! present exactly once in every replica and in the relay, and no client is left stuck.
//!
//! CI runs a reduced size (10 conversations x 4 devices). The issue's full size:
//!
//! ```sh
//! EDGEDESK_STORM_CONVERSATIONS=100 EDGEDESK_STORM_DEVICES=10 \
//!   cargo test --release -p edgedesk-e2e --test reconnect_storm -- --nocapture
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use edgedesk_client::{Client, SdkEvent};
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

/// Messages each device writes while the relay is up, then while it is down.
const BEFORE: usize = 3;
const WHILE_DOWN: usize = 2;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_relay_is_reconnected_by_every_client_and_every_message_is_there_once() {
    let conversations = size("EDGEDESK_STORM_CONVERSATIONS", 10);
    let devices = size("EDGEDESK_STORM_DEVICES", 4);
    let tmp = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(&tmp.path().join("state"));

    // Half the devices of each conversation are the visitor's, half agents'.
    let mut clients: Vec<Vec<Client>> = Vec::new();
    let convs: Vec<_> = (0..conversations).map(|c| conversation(&format!("storm-{c}"))).collect();
    for (c, conv) in convs.iter().enumerate() {
        let mut of_conv = Vec::new();
        for d in 0..devices {
            let who = if d % 2 == 0 {
                identity(Role::Visitor, &format!("v-{c}"), &format!("v{c}-d{d}"))
            } else {
                identity(Role::Agent, &format!("agent-{d}"), &format!("a{d}-c{c}"))
            };
            of_conv.push(client(&relay, conv, who, &tmp.path().join(format!("c{c}-d{d}"))).await);
        }
        clients.push(of_conv);
    }
    let body = |c: usize, d: usize, i: usize| format!("c{c} d{d} m{i} 消息");
    for i in 0..BEFORE {
        for (c, of_conv) in clients.iter().enumerate() {
            for (d, client) in of_conv.iter().enumerate() {
                client.send_text(&body(c, d, i)).await.unwrap();
            }
        }
    }
    for (c, of_conv) in clients.iter().enumerate() {
        let refs: Vec<&Client> = of_conv.iter().collect();
        converge(&relay, &convs[c], &refs, devices * BEFORE).await;
    }

    // Every client's reconnections from here on, by when they happened.
    let reconnected: Arc<Mutex<HashMap<(usize, usize), Instant>>> = Arc::default();
    for (c, of_conv) in clients.iter().enumerate() {
        for (d, client) in of_conv.iter().enumerate() {
            let mut events = client.events();
            let seen = reconnected.clone();
            tokio::spawn(async move {
                while let Ok(e) = events.recv().await {
                    if matches!(e, SdkEvent::Connected) {
                        seen.lock().unwrap().entry((c, d)).or_insert_with(Instant::now);
                    }
                }
            });
        }
    }

    relay.kill();
    for i in BEFORE..BEFORE + WHILE_DOWN {
        for (c, of_conv) in clients.iter().enumerate() {
            for (d, client) in of_conv.iter().enumerate() {
                client.send_text(&body(c, d, i)).await.unwrap();
            }
        }
    }
    let restarting = Instant::now();
    relay.restart();
    let up = restarting.elapsed();

    let total = devices * (BEFORE + WHILE_DOWN);
    for (c, of_conv) in clients.iter().enumerate() {
        let refs: Vec<&Client> = of_conv.iter().collect();
        converge(&relay, &convs[c], &refs, total).await;
        let messages = assert_identical(&refs);
        let mut bodies: Vec<String> = messages.into_iter().map(|m| m.body).collect();
        bodies.sort();
        let mut expected: Vec<String> = (0..devices)
            .flat_map(|d| (0..BEFORE + WHILE_DOWN).map(move |i| body(c, d, i)))
            .collect();
        expected.sort();
        assert_eq!(bodies, expected, "conversation {c}: every message exactly once");
    }

    // No client stuck: every one reconnected, spread out by its backoff's jitter.
    let times = reconnected.lock().unwrap().clone();
    assert_eq!(times.len(), conversations * devices, "clients that never reconnected");
    let mut after: Vec<u128> =
        times.values().map(|t| t.saturating_duration_since(restarting).as_millis()).collect();
    after.sort_unstable();
    println!(
        "reconnect storm: {} clients over {conversations} conversations; workerd up again after {} ms; \
         reconnected after restart began: first {} ms, median {} ms, last {} ms; {} messages each conversation",
        after.len(),
        up.as_millis(),
        after[0],
        after[after.len() / 2],
        after[after.len() - 1],
        total
    );
    for of_conv in clients {
        for client in of_conv {
            client.shutdown().await;
        }
    }
}
