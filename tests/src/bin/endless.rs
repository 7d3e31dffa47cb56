//! `cargo run --release -p edgedesk-e2e --bin endless -- [messages] [rollover]`: a
//! conversation without an end through the real relay (issue 17 acceptance 1, issue 14
//! acceptance 2). Defaults: 100,000 messages, segments of 1,000 (the product's default).
//!
//! Writes the conversation in rounds of one segment (a device writes them offline, comes
//! online, the relay seals, the device moves), then measures appends (send → the relay's
//! receipt) with the live part half full, next to appends in a fresh conversation of ~1,000
//! messages that has not rolled over yet; reports the Worker's wasm memory (it never shrinks:
//! the peak of the whole run), the state directory per message, and paging the whole history.

use std::time::{Duration, Instant};

use edgedesk_client::{Client, SdkEvent};
use edgedesk_core::client::Event;
use edgedesk_core::ids::ConversationId;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

const PROBE: usize = 50;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Writes `count` messages offline, then delivers them.
async fn bulk(relay: &Relay, conv: &ConversationId, client: &Client, from: usize, count: usize) {
    client.set_online(false);
    for i in from..from + count {
        client.send_text(&format!("第 {i} 条消息: question about order #{i}")).await.expect("send");
    }
    client.set_online(true);
    settle_all(relay, conv, &[client], Duration::from_secs(900)).await;
}

/// `PROBE` appends, each timed from the send to its receipt.
async fn probe(client: &Client) -> Vec<Duration> {
    let mut events = client.events();
    let mut lat = Vec::with_capacity(PROBE);
    for i in 0..PROBE {
        let t = Instant::now();
        let m = client.send_text(&format!("probe {i}")).await.expect("send");
        loop {
            match events.recv().await.expect("events") {
                SdkEvent::Core(Event::Delivered { id, .. }) if id == m.id => break,
                _ => {}
            }
        }
        lat.push(t.elapsed());
    }
    lat.sort();
    lat
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(100_000);
    let segment = args.get(1).copied().unwrap_or(1_000);
    println!("endless: {n} messages, EDGEDESK_ROLLOVER_MESSAGES={segment}, probes of {PROBE}\n");
    let tmp = tempfile::tempdir().expect("tempdir");
    let seg = segment.to_string();
    let relay =
        Relay::start_with_vars(&tmp.path().join("state"), &[("EDGEDESK_ROLLOVER_MESSAGES", &seg)]);
    let open = |name: &str, device: &str| {
        let conv = conversation(name);
        let me = identity(Role::Visitor, "visitor-1", device);
        let token = relay.token(&me, &conv);
        let dir = tmp.path().join(device);
        let base = relay.base_url();
        async move { (client_with(&base, &token, &conv, me, &dir, false).await, conv) }
    };

    // Reference: a conversation just short of its first rollover.
    let (small, small_conv) = open("almost-full", "d-small").await;
    let prefill = segment - PROBE - 1;
    bulk(&relay, &small_conv, &small, 0, prefill).await;
    let at_1k = probe(&small).await;
    assert_eq!(relay.stats(small_conv.as_str())["epoch"], 0, "the reference never rolled over");
    small.shutdown().await;

    // The endless one: whole segments, then half of one, then the probe.
    let (big, conv) = open("endless", "d-big").await;
    let t = Instant::now();
    let mut written = 0;
    let mut round_times = Vec::new();
    while written < n {
        let count = segment.min(n - written);
        let r = Instant::now();
        bulk(&relay, &conv, &big, written, count).await;
        round_times.push(r.elapsed());
        written += count;
        if written % (segment * 10) == 0 {
            let s = relay.stats(conv.as_str());
            println!(
                "  {written} written: epoch {}, {} live, wasm memory {:.1} MB, {:.1} s",
                s["epoch"],
                s["messages"],
                s["wasm_memory_bytes"].as_f64().unwrap_or(0.0) / 1e6,
                t.elapsed().as_secs_f64()
            );
        }
    }
    bulk(&relay, &conv, &big, written, segment / 2).await;
    written += segment / 2;
    let fill = t.elapsed();
    let at_n = probe(&big).await;
    written += PROBE;
    let stats = relay.stats(conv.as_str());
    let memory = stats["wasm_memory_bytes"].as_f64().unwrap_or(0.0) / 1e6;
    let total =
        stats["archived_messages"].as_u64().unwrap_or(0) + stats["messages"].as_u64().unwrap_or(0);
    assert_eq!(total as usize, written, "{stats}");
    let state_bytes: u64 = all_files(&relay.state_dir)
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();

    // Paging back through everything sealed.
    let t = Instant::now();
    let mut before: Option<String> = None;
    let (mut paged, mut pages) = (0, 0);
    loop {
        let page = big.history(before.as_deref(), 500).await.expect("history page");
        paged += page.messages.len();
        pages += 1;
        match page.before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let paging = t.elapsed();
    assert_eq!(paged as u64, stats["archived_messages"].as_u64().unwrap_or(0));

    round_times.sort();
    let (p50_1k, p50_n) = (ms(percentile(&at_1k, 0.5)), ms(percentile(&at_n, 0.5)));
    println!("\n| figure | value |");
    println!("|---|---|");
    println!(
        "| append at ~1k ({prefill}..{} live, no rollover yet), p50 / p99 | {p50_1k:.2} / {:.2} ms |",
        prefill + PROBE,
        ms(percentile(&at_1k, 0.99))
    );
    println!(
        "| append at {written} ({} sealed, live part {}..{}), p50 / p99 | {p50_n:.2} / {:.2} ms |",
        stats["archived_messages"],
        stats["messages"].as_u64().unwrap_or(0) as usize - PROBE,
        stats["messages"],
        ms(percentile(&at_n, 0.99))
    );
    println!("| ratio, p50 at {written} / p50 at ~1k | ×{:.2} |", p50_n / p50_1k);
    println!("| Worker wasm memory after the run (the isolate's peak) | {memory:.1} MB |");
    println!(
        "| writing it: {} segments of {segment}, written offline then delivered; median round | {:.0} ms ({:.0} s in all) |",
        round_times.len(),
        ms(percentile(&round_times, 0.5)),
        fill.as_secs_f64()
    );
    println!("| whole state directory per message | {} B |", state_bytes / written as u64);
    println!(
        "| paging all {paged} sealed messages back, {pages} pages of 500 | {:.1} s ({:.0} ms per page) |",
        paging.as_secs_f64(),
        ms(paging) / pages as f64
    );
    big.shutdown().await;
}
