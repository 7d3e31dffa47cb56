//! Issue 17, soak: a steady load on one relay for a while (CI: 20 s; the issue's size is 30
//! minutes), the conversations rolling over as they go. The Worker's wasm memory (/stats) and
//! this process's resident memory (the SDK clients live in it) are sampled; after a warm-up
//! neither may keep growing. Every message written is stored exactly once.
//!
//! ```sh
//! EDGEDESK_SOAK_SECONDS=1800 cargo test --release -p edgedesk-e2e --test soak -- --nocapture
//! ```

use std::time::{Duration, Instant};

use edgedesk_core::message::Role;
use edgedesk_e2e::*;

const CONVERSATIONS: usize = 4;

fn seconds() -> u64 {
    std::env::var("EDGEDESK_SOAK_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}

/// This process's resident memory, in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_under_a_steady_load() {
    let total = Duration::from_secs(seconds());
    let tmp = tempfile::tempdir().unwrap();
    let relay =
        Relay::start_with_vars(&tmp.path().join("state"), &[("EDGEDESK_ROLLOVER_MESSAGES", "50")]);
    let mut clients = Vec::new();
    for c in 0..CONVERSATIONS {
        let conv = conversation(&format!("soak-{c}"));
        let who = identity(Role::Visitor, &format!("v-soak-{c}"), &format!("phone-{c}"));
        clients.push((client(&relay, &conv, who, &tmp.path().join(format!("c{c}"))).await, conv));
    }
    let started = Instant::now();
    let (mut written, mut samples) = (vec![0usize; CONVERSATIONS], Vec::new());
    let mut next_sample = Duration::ZERO;
    while started.elapsed() < total {
        // ~20 messages per second in all, each conversation in turn.
        for (c, (client, _)) in clients.iter().enumerate() {
            client.send_text(&format!("soak {c} {} 持续负载", written[c])).await.unwrap();
            written[c] += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() >= next_sample {
            let wasm = relay
                .try_stats(clients[0].1.as_str())
                .ok()
                .and_then(|s| s["wasm_memory_bytes"].as_u64())
                .unwrap_or(0);
            samples.push((started.elapsed().as_secs(), wasm, rss()));
            next_sample += total / 10;
        }
    }
    for (client, conv) in &clients {
        settle_all(&relay, conv, &[client], Duration::from_secs(120)).await;
    }
    let end = (
        started.elapsed().as_secs(),
        relay.stats(clients[0].1.as_str())["wasm_memory_bytes"].as_u64().unwrap_or(0),
        rss(),
    );
    samples.push(end);
    println!(
        "soak: {} s, {} messages; (s, wasm bytes, client rss bytes): {samples:?}",
        total.as_secs(),
        written.iter().sum::<usize>()
    );
    for ((_, conv), n) in clients.iter().zip(&written) {
        let s = relay.stats(conv.as_str());
        assert_eq!(
            s["archived_messages"].as_u64().unwrap() + s["messages"].as_u64().unwrap(),
            *n as u64,
            "{conv}: {s}"
        );
    }
    // After the first third (warm-up: first rollovers, caches, the allocator's arenas),
    // neither memory may grow by more than 8 MB.
    let warm = &samples[samples.len() / 3];
    let (wasm_growth, rss_growth) = (end.1.saturating_sub(warm.1), end.2.saturating_sub(warm.2));
    assert!(
        wasm_growth <= 8 << 20,
        "the Worker's wasm memory grew {wasm_growth} B after warm-up: {samples:?}"
    );
    assert!(
        rss_growth <= 8 << 20,
        "the clients' process grew {rss_growth} B after warm-up: {samples:?}"
    );
    for (client, _) in clients {
        client.shutdown().await;
    }
}
