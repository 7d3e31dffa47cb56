//! `cargo run --release -p edgedesk-e2e --bin bench [messages]`: the relay's figures for a
//! 10k-message conversation, each next to a baseline measured in this same process (the same
//! core state machines wired together in memory, no network, no workerd), so figures from
//! different machines compare as ratios.

use std::time::{Duration, Instant};

use edgedesk_client::SdkEvent;
use edgedesk_core::client::{ClientSession, Event};
use edgedesk_core::limits::Limits;
use edgedesk_core::message::Role;
use edgedesk_core::relay::{Outgoing, PeerInfo, Relay as CoreRelay};
use edgedesk_core::store::{MemStore, Persister};
use edgedesk_core::workflow::profile::VisitorProfile;
use edgedesk_e2e::*;

const PROBE: usize = 1000;

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The in-memory baseline: one device and the relay state machine, wired directly.
struct Sim {
    relay: CoreRelay<MemStore>,
    device: ClientSession<MemStore>,
}

impl Sim {
    fn new() -> Sim {
        let me = identity(Role::Visitor, "visitor-1", "d-bench");
        let mut device = ClientSession::open(MemStore::default(), me.clone()).expect("open");
        // The baseline feeds the relay at a fixed clock: no rate limit, or it would trip.
        // Whole documents, like the relay below (`EDGEDESK_BENCH_ROLLOVER`).
        let limits = Limits {
            max_messages_per_second: u32::MAX / 4,
            rollover_messages: 0,
            ..Limits::default()
        };
        let mut relay =
            CoreRelay::open_with(MemStore::default(), MemStore::default(), limits).expect("open");
        let info = PeerInfo {
            role: me.role,
            participant: me.participant,
            device: me.device,
            fast: true,
            acks: true,
            name: None,
        };
        let mut sim_relay_out = relay.connect(1, info).frames;
        for f in device.connected() {
            sim_relay_out.extend(relay.receive(1, &f, 0).expect("receive").frames);
        }
        let mut sim = Sim { relay, device };
        sim.pump(sim_relay_out);
        sim
    }

    fn pump(&mut self, mut queue: Vec<Outgoing>) {
        loop {
            let mut moved = false;
            for out in std::mem::take(&mut queue) {
                for f in out.frames {
                    self.device.handle_frame(&f).expect("device frame");
                    moved = true;
                }
            }
            for f in self.device.poll_frames() {
                queue.extend(self.relay.receive(1, &f, 0).expect("relay frame").frames);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// One message, and the inbox summary the Worker computes after every accepted change.
    fn send(&mut self, i: usize) {
        self.device.send_text(&body(i), 0).expect("send");
        self.pump(Vec::new());
        self.relay.summary("bench", &VisitorProfile::default());
    }
}

fn body(i: usize) -> String {
    format!("Hello, I have a question about order #{i}. 你好，请问退款什么时候到账？")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    println!("edgedesk bench: {n}-message conversation, probe of {PROBE} appends\n");

    // ---- Baseline: the same state machines in memory -------------------------------------
    let mut sim = Sim::new();
    for i in 0..n {
        sim.send(i);
    }
    let mut base = Vec::with_capacity(PROBE);

    for i in 0..PROBE {
        let t = Instant::now();
        sim.send(n + i);
        base.push(t.elapsed());
    }
    let after = sim.relay.stats().store;
    base.sort();
    let (store, _internal) = sim.relay.into_stores();
    let mut loads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let (doc, _) = Persister::open::<edgedesk_core::shared_doc::SharedDoc>(
            store.clone(),
            edgedesk_core::automerge::ActorId::random(),
        )
        .expect("load");
        loads.push(t.elapsed());
        assert_eq!(doc.message_count(), n + PROBE);
    }
    loads.sort();
    println!("baseline (in-process core, no I/O):");
    println!(
        "  append at {n}: p50 {} p99 {}",
        ms(percentile(&base, 0.5)),
        ms(percentile(&base, 0.99))
    );
    println!(
        "  load from storage ({} B, {} rows): median {}",
        after.total_bytes(),
        after.snapshot_rows + after.increment_rows,
        ms(loads[2])
    );

    println!(
        "  stored per message before compaction (mean increment, one per message): {} B",
        after.increment_bytes / after.increment_rows.max(1)
    );

    // ---- Through the relay: real Worker on workerd, real SDK client ------------------------
    let tmp = tempfile::tempdir().expect("tempdir");
    // Whole documents, like the baseline, so the ratios compare like with like (issue 17's
    // rollover bounds the live document: `cargo run --release -p edgedesk-e2e --bin endless`
    // measures that). EDGEDESK_BENCH_ROLLOVER=1000 runs the relay side with the product's
    // default instead.
    let rollover = std::env::var("EDGEDESK_BENCH_ROLLOVER").unwrap_or_else(|_| "0".into());
    let mut relay = Relay::start_with_vars(
        &tmp.path().join("state"),
        &[("EDGEDESK_ROLLOVER_MESSAGES", &rollover)],
    );
    println!(
        "
(relay: EDGEDESK_ROLLOVER_MESSAGES={rollover})"
    );
    let conv = conversation("bench");
    let me = identity(Role::Visitor, "visitor-1", "d-bench");
    let token = relay.token(&me, &conv);
    let writer =
        client_with(&relay.base_url(), &token, &conv, me, &tmp.path().join("w"), false).await;
    let t = Instant::now();
    for i in 0..n {
        writer.send_text(&body(i)).await.expect("send");
    }
    let offline_write = t.elapsed();
    let t = Instant::now();
    writer.set_online(true);
    settle_all(&relay, &conv, &[&writer], Duration::from_secs(900)).await;
    println!("\nthrough the relay (wrangler dev / workerd, loopback WebSocket):");
    println!(
        "  prefill: {n} messages written offline in {} ({} each, fsync per message), synced in {}",
        ms(offline_write),
        ms(offline_write / n as u32),
        ms(t.elapsed())
    );

    let mut events = writer.events();

    // EDGEDESK_PROFILE=out.cpuprofile: a V8 CPU profile of the Worker over the probe.
    let profiler = cpu_profile::CpuProfile::from_env(&relay);
    let mut lat = Vec::with_capacity(PROBE);
    for i in 0..PROBE {
        let t = Instant::now();
        let m = writer.send_text(&body(n + i)).await.expect("send");
        loop {
            match events.recv().await.expect("events") {
                SdkEvent::Core(Event::Delivered { id, .. }) if id == m.id => break,
                _ => {}
            }
        }
        lat.push(t.elapsed());
    }
    if let Some(profile) = profiler {
        profile.finish();
    }
    lat.sort();
    let stats = relay.stats(conv.as_str());
    let total = stats["store"]["snapshot_bytes"].as_u64().unwrap_or(0)
        + stats["store"]["increment_bytes"].as_u64().unwrap_or(0);
    let msgs = stats["messages"].as_u64().unwrap_or(1).max(1);
    let archived = stats["archived_messages"].as_u64().unwrap_or(0);
    let state_bytes: u64 = all_files(&relay.state_dir)
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "  epoch {} ({archived} messages sealed, {} live); whole state directory {} B = {} B per message",
        stats["epoch"],
        stats["messages"],
        state_bytes,
        state_bytes / (archived + msgs)
    );
    let p50 = percentile(&lat, 0.5);
    println!(
        "  append at {n} (send -> relay's receipt back): p50 {} p99 {}  (x{:.1} / x{:.1} baseline)",
        ms(p50),
        ms(percentile(&lat, 0.99)),
        p50.as_secs_f64() / percentile(&base, 0.5).as_secs_f64(),
        percentile(&lat, 0.99).as_secs_f64() / percentile(&base, 0.99).as_secs_f64()
    );
    println!(
        "  stored per message before compaction (mean increment, one per message): {} B",
        stats["store"]["increment_bytes"].as_u64().unwrap_or(0)
            / stats["store"]["increment_rows"].as_u64().unwrap_or(1).max(1)
    );
    println!("  live document stored per message now: {} B ({} B snapshot in {} rows + {} B in {} increments, {msgs} live messages)",
        total / msgs, stats["store"]["snapshot_bytes"], stats["store"]["snapshot_rows"],
        stats["store"]["increment_bytes"], stats["store"]["increment_rows"]);
    let snapshot = sim_snapshot_per_message(n + PROBE);
    println!("  stored per message after compaction (snapshot only): {snapshot} B");

    writer.set_online(false);
    relay.restart();
    let t = Instant::now();
    let cold = relay.stats(conv.as_str());
    let cold_load = t.elapsed();
    let t = Instant::now();
    relay.stats(conv.as_str());
    let warm = t.elapsed();
    assert_eq!(cold["messages"], stats["messages"]);
    println!("  load from storage after a workerd restart (first request, includes object start): {}  (warm request: {}; x{:.1} baseline load)",
        ms(cold_load), ms(warm), cold_load.as_secs_f64() / loads[2].as_secs_f64());

    // ---- Offline merge: 1,000 messages per side -------------------------------------------
    let conv = conversation("merge");
    let a =
        client(&relay, &conv, identity(Role::Visitor, "visitor-1", "dev-a"), &tmp.path().join("a"))
            .await;
    let b = client(&relay, &conv, identity(Role::Agent, "agent-1", "dev-b"), &tmp.path().join("b"))
        .await;
    converge(&relay, &conv, &[&a, &b], 0).await;
    a.set_online(false);
    for i in 0..1000 {
        a.send_text(&format!("offline {i}")).await.expect("send");
        b.send_text(&format!("online {i}")).await.expect("send");
    }
    settle_all(&relay, &conv, &[&b], Duration::from_secs(900)).await;
    let t = Instant::now();
    a.set_online(true);
    settle_all(&relay, &conv, &[&a], Duration::from_secs(900)).await;
    let merge = t.elapsed();
    let merged = relay.stats(conv.as_str());
    assert_eq!(
        merged["archived_messages"].as_u64().unwrap_or(0)
            + merged["messages"].as_u64().unwrap_or(0),
        2000,
        "{merged}"
    );
    let (sent, sent_bytes, received, received_bytes) = a.link_counters().unwrap_or_default();
    println!("\noffline merge, 1,000 messages per side (A reconnects after writing 1,000 offline while B wrote 1,000):");
    println!("  time to converge: {}", ms(merge));
    println!(
        "  sync messages: {sent} sent + {received} received ({} round trips)",
        sent.max(received)
    );
    println!(
        "  bytes: {sent_bytes} sent, {received_bytes} received ({} per merged message)",
        (sent_bytes + received_bytes) / 2000
    );
    a.shutdown().await;
    b.shutdown().await;
    // EDGEDESK_BENCH_KEEP_STATE=1 keeps the state directory, to look into what is on disk.
    if std::env::var_os("EDGEDESK_BENCH_KEEP_STATE").is_some() {
        relay.kill();
        println!("\nstate kept in {}", tmp.keep().join("state").display());
    }
}

/// Snapshot size per message of an equivalent conversation, built in memory.
fn sim_snapshot_per_message(n: usize) -> usize {
    let mut sim = Sim::new();
    for i in 0..n {
        sim.send(i);
    }
    sim.relay.doc().automerge().save().len() / n
}
