//! Issue 17, forged writes: a visitor loops writing as someone else and reconnecting at once,
//! while honest devices write in its conversation and in another one. Nothing forged is
//! stored, every honest message is acknowledged exactly once, and the honest devices' append
//! latency with and without the attacker is printed, from six quiet and six attacked
//! stretches in turn (BENCHMARKS.md records the full size; no timing is asserted here).
//!
//! CI size: 40 appends per phase. Full size:
//!
//! ```sh
//! EDGEDESK_FORGED_APPENDS=300 cargo test --release -p edgedesk-e2e --test forged_writes -- --nocapture
//! ```
//!
//! With `EDGEDESK_PROFILE=out.cpuprofile` the Worker's CPU profile over the run is written
//! and its top functions printed; with `EDGEDESK_FORGED_NOISE=1` nobody attacks, and the
//! ratios printed are the measurement's noise floor.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgedesk_client::{Client, SdkEvent};
use edgedesk_core::client::Event;
use edgedesk_core::ids::{DeviceId, MessageId, ParticipantId};
use edgedesk_core::message::{Author, Message, MessageKind, Role};
use edgedesk_e2e::process_cpu::{relay_cpu, RelayCpu};
use edgedesk_e2e::raw_peer::RawPeer;
use edgedesk_e2e::*;

/// `EDGEDESK_FORGED_NOISE=1`: the attacker stays idle in the "attacked" stretches too, so the
/// printed ratios are the measurement's noise floor on this machine (an A/A run).
fn noise_only() -> bool {
    std::env::var("EDGEDESK_FORGED_NOISE").is_ok_and(|v| v == "1")
}

fn appends() -> usize {
    std::env::var("EDGEDESK_FORGED_APPENDS").ok().and_then(|v| v.parse().ok()).unwrap_or(40)
}

/// `n` appends, each timed from the send to its receipt; sorted.
async fn timed(client: &Client, n: usize, tag: &str) -> Vec<Duration> {
    let mut events = client.events();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let m = client.send_text(&format!("{tag} {i}")).await.unwrap();
        loop {
            match events.recv().await.unwrap() {
                SdkEvent::Core(Event::Delivered { id, .. }) if id == m.id => break,
                _ => {}
            }
        }
        lat.push(t.elapsed());
    }
    lat.sort();
    lat
}

fn p(sorted: &[Duration], q: f64) -> f64 {
    percentile(sorted, q).as_secs_f64() * 1e3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_looping_forged_writes_stores_nothing_and_honest_writes_go_through() {
    let n = appends();
    let tmp = tempfile::tempdir().unwrap();
    // One live document for the whole run: a rollover moves every device once, and that
    // reconnection would land in one stretch's p99 (the endless bench measures rollover).
    let relay = Arc::new(Relay::start_with_vars(
        &tmp.path().join("state"),
        &[("EDGEDESK_ROLLOVER_MESSAGES", "0")],
    ));
    let (own, other) = (conversation("forged-own"), conversation("forged-other"));
    let honest_own =
        client(&relay, &own, identity(Role::Agent, "agent-1", "desk-own"), &tmp.path().join("a"))
            .await;
    let honest_other = client(
        &relay,
        &other,
        identity(Role::Agent, "agent-1", "desk-other"),
        &tmp.path().join("b"),
    )
    .await;

    // The attacker: a visitor of `own` writing as another visitor, reconnecting at once after
    // every close (refusal 1008; while it waits, its requests are held until the wait ends and
    // a third at once is refused with 1013, PROTOCOL.md §8.6). It attacks only while
    // `attacking` is set.
    let (stop, attacking) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (attempts, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let attacker = {
        let (relay, own, stop, attacking) =
            (relay.clone(), own.clone(), stop.clone(), attacking.clone());
        let (attempts, refused) = (attempts.clone(), refused.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                if !attacking.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let mut peer = RawPeer::connect(&relay, &own, Role::Visitor, "mallory").await;
                let forged = Message {
                    id: MessageId::random(),
                    author: Author {
                        role: Role::Visitor,
                        id: ParticipantId::new("someone-else").unwrap(),
                        name: "Someone else".into(),
                    },
                    device: DeviceId::new("mallory-raw").unwrap(),
                    kind: MessageKind::Text,
                    body: format!("forged {i}: refund approved"),
                    sent_at: i,
                    attachment: None,
                };
                peer.shared.append(&forged, i).unwrap();
                attempts.fetch_add(1, Ordering::Relaxed);
                if let Some((code, _)) = peer.exchange_for(Duration::from_millis(300)).await {
                    if code == 1008 || code == 1013 {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 1;
            }
        })
    };

    // Quiet and attacked stretches alternate, so a drift of the machine or of the documents'
    // size over the run falls on both alike.
    let rounds = 6;
    let per_round = n.div_ceil(rounds);
    let (mut quiet_own, mut quiet_other) = (Vec::new(), Vec::new());
    let (mut attacked_own, mut attacked_other) = (Vec::new(), Vec::new());
    let (mut quiet_cpu, mut attacked_cpu) = (RelayCpu::default(), RelayCpu::default());
    let (mut quiet_time, mut attacked_time) = (Duration::ZERO, Duration::ZERO);
    // EDGEDESK_PROFILE=out.cpuprofile: where the Worker spends the run's time.
    let profile = edgedesk_e2e::cpu_profile::CpuProfile::from_env(&relay);
    let attempts_before = attempts.load(Ordering::Relaxed);
    for round in 0..rounds {
        // Which stretch comes first alternates too: the second of a pair ran measurably
        // cheaper even with nobody attacking (EDGEDESK_FORGED_NOISE).
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for attack in order {
            attacking.store(attack && !noise_only(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let tag = format!("{} {round}", if attack { "during" } else { "before" });
            let (cpu0, t0) = (relay_cpu(&relay), Instant::now());
            let own_lat = timed(&honest_own, per_round, &tag).await;
            let other_lat = timed(&honest_other, per_round, &tag).await;
            let (cpu, time) = (relay_cpu(&relay) - cpu0, t0.elapsed());
            let (o, t, c, d) = if attack {
                (&mut attacked_own, &mut attacked_other, &mut attacked_cpu, &mut attacked_time)
            } else {
                (&mut quiet_own, &mut quiet_other, &mut quiet_cpu, &mut quiet_time)
            };
            o.extend(own_lat);
            t.extend(other_lat);
            *c = *c + cpu;
            *d += time;
        }
    }
    attacking.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    attacker.await.unwrap();
    let attacked_attempts = attempts.load(Ordering::Relaxed) - attempts_before;
    if let Some(profile) = profile {
        profile.finish();
    }
    for v in [&mut quiet_own, &mut quiet_other, &mut attacked_own, &mut attacked_other] {
        v.sort();
    }
    let n = per_round * rounds;

    println!(
        "forged writes: {} attempts, {} refused (1008 or 1013); honest appends (send -> receipt), {n} quiet and {n} attacked, interleaved:",
        attempts.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    for (what, quiet, attacked) in [
        ("its own conversation", &quiet_own, &attacked_own),
        ("another conversation", &quiet_other, &attacked_other),
    ] {
        println!(
            "  {what}: p50 {:.1} -> {:.1} ms, p99 {:.1} -> {:.1} ms (x{:.2})",
            p(quiet, 0.5),
            p(attacked, 0.5),
            p(quiet, 0.99),
            p(attacked, 0.99),
            p(attacked, 0.99) / p(quiet, 0.99)
        );
    }
    // Where the attack's CPU goes: the same honest appends in both phases, so the difference
    // per second is the attacker's (the Worker's workerd is what a deployment runs; wrangler's
    // proxy and node, and this process with the attacker's client, share the machine's cores).
    let (qt, at) = (quiet_time.as_secs_f64(), attacked_time.as_secs_f64());
    println!(
        "  CPU per second, quiet -> attacked ({rounds} rounds each; {attacked_attempts} attempts in {at:.1} s attacked, {:.2} per second):",
        attacked_attempts as f64 / at
    );
    for (what, q, a) in [
        ("the Worker's workerd", quiet_cpu.worker, attacked_cpu.worker),
        ("wrangler's proxy workerd", quiet_cpu.proxy, attacked_cpu.proxy),
        ("wrangler (node)", quiet_cpu.wrangler, attacked_cpu.wrangler),
        ("this process (clients, attacker)", quiet_cpu.this_process, attacked_cpu.this_process),
    ] {
        println!(
            "    {what}: {:.0} -> {:.0} ms/s; the attack's extra per attempt: {:.2} ms",
            q * 1e3 / qt,
            a * 1e3 / at,
            (a / at - q / qt) * at * 1e3 / attacked_attempts.max(1) as f64
        );
    }
    if noise_only() {
        println!("  (EDGEDESK_FORGED_NOISE=1: no attack; the ratios above are the noise floor)");
    } else {
        assert!(refused.load(Ordering::Relaxed) > 0, "the attacker was never refused");
    }
    for (conv, c) in [(&own, &honest_own), (&other, &honest_other)] {
        let stats = relay.stats(conv.as_str());
        assert_eq!(stats["messages"].as_u64(), Some(2 * n as u64), "{conv}: {stats}");
        let ids: std::collections::HashSet<_> = c.messages().into_iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), 2 * n, "each honest message once");
        assert!(c.messages().iter().all(|m| !m.body.contains("forged")));
    }
    honest_own.shutdown().await;
    honest_other.shutdown().await;
}
