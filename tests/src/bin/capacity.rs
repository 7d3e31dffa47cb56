//! `cargo run --release -p edgedesk-e2e --bin capacity -- [conversations] [agents] [msg/s] [seconds]`:
//! what a busy workspace costs (issue 17 acceptance 4), measured on the real relay.
//!
//! Defaults: 500 conversations, 100 agents, 40 messages/s, 20 s per phase. Every conversation
//! gets a first message; then 20 visitor devices write at the given aggregate rate, twice:
//! with no agent connected, then with `agents` inbox sockets open. The Worker's workerd CPU
//! over each phase (from /proc) gives the cost per message and, from the difference, per agent
//! socket per message; one agent's inbox times how long a message takes to show in its list.
//! Under `wrangler dev` every object shares one workerd thread, so the sum is what is measured;
//! the model printed at the end says how that extrapolates (and that it is an extrapolation).
//!
//! `EDGEDESK_INBOX_WINDOW_MS` is passed to the Worker when set: `0` measures the fan-out
//! without coalescing (one frame per summary per agent), the baseline of the default 100 ms.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgedesk_client::{Client, InboxSdkEvent, SdkEvent};
use edgedesk_core::client::Event;
use edgedesk_core::inbox::session::InboxEvent;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

const WRITERS: usize = 20;

fn arg(i: usize, default: usize) -> usize {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// CPU seconds used so far by the Worker's workerd (wrangler's proxy left out).
fn worker_cpu(relay: &Relay) -> f64 {
    process_cpu::relay_cpu(relay).worker
}

/// The `q` quantile of `v` in milliseconds.
fn pct(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    percentile(v, q).as_secs_f64() * 1e3
}

struct Phase {
    cpu_per_message_ms: f64,
    receipt_p50: f64,
    receipt_p99: f64,
    listed_p50: f64,
    listed_p99: f64,
    sent: usize,
}

async fn load(
    relay: &Relay,
    writers: &[Arc<Client>],
    rate: usize,
    seconds: u64,
    watcher: Option<&edgedesk_client::InboxClient>,
    tag: &str,
) -> Phase {
    let mut listed_at: HashMap<String, Instant> = HashMap::new();
    let mut inbox = watcher.map(|w| w.events());
    // Each writer's receipts, as they arrive.
    let receipts_at: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Default::default();
    let mut listeners = Vec::new();
    for w in writers {
        let (mut events, seen) = (w.events(), receipts_at.clone());
        listeners.push(tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                if let SdkEvent::Core(Event::Delivered { id, .. }) = e {
                    seen.lock().unwrap().insert(id.to_string(), Instant::now());
                }
            }
        }));
    }
    let cpu0 = worker_cpu(relay);
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let mut sent = Vec::new();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let w = &writers[i % writers.len()];
        let body = format!("{tag} {i} 忙碌的工作区");
        let t = Instant::now();
        let m = w.send_text(&body).await.unwrap();
        sent.push((w.clone(), m.id, body, t));
        i += 1;
        let due = started + gap * i as u32;
        while Instant::now() < due {
            if let Some(events) = inbox.as_mut() {
                while let Ok(e) = events.try_recv() {
                    if let InboxSdkEvent::Inbox(InboxEvent::Summary(s)) = e {
                        if let Some(p) = &s.last_preview {
                            listed_at.entry(p.clone()).or_insert_with(Instant::now);
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while sent.iter().any(|(w, id, _, _)| w.delivered_at(id).is_none()) {
        assert!(Instant::now() < deadline, "a message was never acknowledged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu = worker_cpu(relay) - cpu0;
    for l in listeners {
        l.abort();
    }
    let seen = receipts_at.lock().unwrap().clone();
    let mut receipts: Vec<Duration> = sent
        .iter()
        .filter_map(|(_, id, _, t)| seen.get(id.as_str()).map(|at| at.duration_since(*t)))
        .collect();
    // The listing latency: from the send to the first summary whose preview shows the message.
    let mut listed: Vec<Duration> = sent
        .iter()
        .filter_map(|(_, _, body, t)| listed_at.get(body).map(|at| at.duration_since(*t)))
        .collect();
    Phase {
        cpu_per_message_ms: cpu * 1e3 / sent.len().max(1) as f64,
        receipt_p50: pct(&mut receipts.clone(), 0.5),
        receipt_p99: pct(&mut receipts, 0.99),
        listed_p50: pct(&mut listed.clone(), 0.5),
        listed_p99: pct(&mut listed, 0.99),
        sent: sent.len(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (conversations, agents, rate, seconds) = (arg(1, 500), arg(2, 100), arg(3, 40), arg(4, 20));
    println!("capacity: {conversations} conversations, {agents} agents, {rate} msg/s, {seconds} s per phase\n");
    let tmp = tempfile::tempdir().expect("tempdir");
    let window = std::env::var("EDGEDESK_INBOX_WINDOW_MS").ok();
    let vars: Vec<(&str, &str)> =
        window.iter().map(|w| ("EDGEDESK_INBOX_WINDOW_MS", w.as_str())).collect();
    println!("inbox window: {} ms", window.as_deref().unwrap_or("100 (default)"));
    let relay = Relay::start_with_vars(&tmp.path().join("state"), &vars);

    // Every conversation gets a first message (10 at a time).
    let t = Instant::now();
    let cpu0 = worker_cpu(&relay);
    let mut writers: Vec<Arc<Client>> = Vec::new();
    for chunk in (0..conversations).collect::<Vec<_>>().chunks(10) {
        let mut opened = Vec::new();
        for &c in chunk {
            let conv = conversation(&format!("busy-{c}"));
            let who = identity(Role::Visitor, &format!("v-{c}"), &format!("phone-{c}"));
            let client = client(&relay, &conv, who, &tmp.path().join(format!("c{c}"))).await;
            client.send_text(&format!("first message of {c}")).await.unwrap();
            opened.push((c, conv, client));
        }
        for (c, conv, client) in opened {
            settle_all(&relay, &conv, &[&client], Duration::from_secs(120)).await;
            if c < WRITERS {
                writers.push(Arc::new(client));
            } else {
                client.shutdown().await;
            }
        }
    }
    let create = t.elapsed();
    let create_cpu = worker_cpu(&relay) - cpu0;
    println!(
        "created {conversations} conversations in {:.1} s ({:.1} ms CPU each, connect + first message + inbox push)",
        create.as_secs_f64(),
        create_cpu * 1e3 / conversations as f64
    );

    let quiet = load(&relay, &writers, rate, seconds as u64, None, "quiet").await;
    let t = Instant::now();
    let mut inboxes = Vec::new();
    for a in 0..agents {
        inboxes.push(relay.inbox(&format!("agent-{a}"), &format!("desk-{a}")).await);
    }
    println!("{agents} agents' inbox sockets open in {:.1} s", t.elapsed().as_secs_f64());
    // EDGEDESK_PROFILE=out.cpuprofile: where the Worker spends the busy phase's time (the
    // inbox's share: `Inbox::` frames).
    let profile = cpu_profile::CpuProfile::from_env(&relay);
    let busy = load(&relay, &writers, rate, seconds as u64, inboxes.first(), "busy").await;
    if let Some(profile) = profile {
        profile.finish();
    }
    let health = http_get(relay.port, "/health").map(|(s, _)| s).unwrap_or(0);

    println!("\n| phase | messages | Worker CPU per message | receipt p50 / p99 | listed at an agent p50 / p99 |");
    println!("|---|---|---|---|---|");
    for (name, p) in
        [("no agent connected", &quiet), (&*format!("{agents} agents connected"), &busy)]
    {
        println!(
            "| {name} | {} | {:.2} ms | {:.0} / {:.0} ms | {} |",
            p.sent,
            p.cpu_per_message_ms,
            p.receipt_p50,
            p.receipt_p99,
            if p.listed_p50 > 0.0 {
                format!("{:.0} / {:.0} ms", p.listed_p50, p.listed_p99)
            } else {
                "—".into()
            }
        );
    }
    let per_agent =
        (busy.cpu_per_message_ms - quiet.cpu_per_message_ms).max(0.0) / agents.max(1) as f64;
    println!("\nper agent socket per message (difference / agents): {per_agent:.4} ms CPU; /health after: {health}");
    // The model: the workspace's Inbox object is one thread; conversations spread over many.
    // Upper bound for the inbox's own cost per message: the whole quiet cost (it includes the
    // conversation's work, which a deployment runs elsewhere).
    let mut sizes = vec![(5_000usize, 200usize, 100usize)];
    if !sizes.contains(&(conversations, agents, rate)) {
        sizes.push((conversations, agents, rate));
    }
    for (convs, ags, msgs) in sizes {
        let per_second_ms = msgs as f64 * (quiet.cpu_per_message_ms + ags as f64 * per_agent);
        println!(
            "model: {convs} conversations, {ags} agents, {msgs} msg/s -> at most {per_second_ms:.0} ms of CPU per second in one thread (1,000 available), {} ",
            if per_second_ms < 1000.0 { "fits" } else { "does not fit" }
        );
    }
    for w in writers {
        if let Ok(w) = Arc::try_unwrap(w) {
            w.shutdown().await;
        }
    }
}
