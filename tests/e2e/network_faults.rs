//! Issue 17, network faults: devices reach the relay only through a loopback proxy that
//! delays every chunk, refuses some connections and cuts others after a random number of
//! bytes (mid-frame, mid-HTTP-request). Three devices write while the conversation rolls over
//! every 40 messages; every message is stored exactly once and every device converges.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgedesk_client::Client;
use edgedesk_core::message::Role;
use edgedesk_e2e::fault_proxy::{FaultProxy, Faults};
use edgedesk_e2e::*;

/// Ids of the whole conversation as `client` shows it (sealed pages, then live).
async fn ids_of(client: &Client) -> Vec<String> {
    whole_conversation(client, 500).await.into_iter().map(|m| m.id.to_string()).collect()
}

const DEVICES: usize = 3;
const PER_DEVICE: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_holds_through_delays_refused_and_cut_connections() {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(7, |d| d.as_nanos() as u64);
    let tmp = tempfile::tempdir().unwrap();
    let relay =
        Relay::start_with_vars(&tmp.path().join("state"), &[("EDGEDESK_ROLLOVER_MESSAGES", "40")]);
    let faults = Faults {
        refuse_per_mille: 150,
        cut_per_mille: 300,
        cut_within: 6_000,
        max_delay: Duration::from_millis(30),
    };
    let proxy = FaultProxy::start(relay.port, faults, seed).await;
    println!("network faults: seed {seed}, {faults:?}");
    let conv = conversation("bad-network");
    let mut clients = Vec::new();
    for d in 0..DEVICES {
        let who = if d == 0 {
            identity(Role::Visitor, "v-net", "v-phone")
        } else {
            identity(Role::Agent, &format!("agent-{d}"), &format!("desk-{d}"))
        };
        let token = relay.token(&who, &conv);
        let dir = tmp.path().join(format!("d{d}"));
        clients.push(client_with(&proxy.base_url(), &token, &conv, who, &dir, true).await);
    }
    let mut written: Vec<Vec<String>> = vec![Vec::new(); DEVICES];
    for i in 0..PER_DEVICE {
        for (d, c) in clients.iter().enumerate() {
            written[d].push(c.send_text(&format!("d{d} m{i} 网络")).await.unwrap().id.to_string());
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let refs: Vec<&Client> = clients.iter().collect();
    settle_all(&relay, &conv, &refs, Duration::from_secs(180)).await;
    println!("network faults: {}", proxy.report());
    let cut = proxy.counts.cut.load(std::sync::atomic::Ordering::Relaxed);
    let refused = proxy.counts.refused.load(std::sync::atomic::Ordering::Relaxed);
    assert!(cut > 0 && refused > 0, "the proxy did no harm: {}", proxy.report());

    let reference = ids_of(&clients[0]).await;
    let unique: HashSet<&String> = reference.iter().collect();
    assert_eq!(unique.len(), reference.len(), "a message is stored twice");
    assert_eq!(reference.len(), DEVICES * PER_DEVICE, "every message is stored once");
    for (d, ids) in written.iter().enumerate() {
        let order: Vec<&String> = reference.iter().filter(|id| ids.contains(id)).collect();
        assert_eq!(order, ids.iter().collect::<Vec<_>>(), "device {d}'s messages out of order");
    }
    for (d, c) in clients.iter().enumerate().skip(1) {
        assert_eq!(ids_of(c).await, reference, "device {d} shows another conversation");
    }
    let stats = relay.stats(conv.as_str());
    assert_eq!(
        stats["archived_messages"].as_u64().unwrap() + stats["messages"].as_u64().unwrap(),
        (DEVICES * PER_DEVICE) as u64
    );
}
