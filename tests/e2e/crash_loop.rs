//! Issue 17, the crash loop: workerd SIGKILLed again and again at random moments while five
//! devices stream messages into one conversation and two more come online with an offline
//! backlog, the conversation rolling over every 50 messages meanwhile. Every message a device
//! saw acknowledged is stored; every message written is stored exactly once, in the order its
//! device wrote it; every device converges.
//!
//! CI runs 5 kills and 40 messages per writer. The issue's full size:
//!
//! ```sh
//! EDGEDESK_CRASH_KILLS=20 EDGEDESK_CRASH_MESSAGES=200 \
//!   cargo test --release -p edgedesk-e2e --test crash_loop -- --nocapture
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgedesk_client::Client;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

/// Ids of the whole conversation as `client` shows it (sealed pages, then live).
async fn ids_of(client: &Client) -> Vec<String> {
    whole_conversation(client, 500).await.into_iter().map(|m| m.id.to_string()).collect()
}

const WRITERS: usize = 5;
const OFFLINE_WRITERS: usize = 2;
const BACKLOG: usize = 20;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64: the kill times are random, and the seed printed, so a failure can be rerun.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Ids each device holds a receipt for, by device.
fn acknowledged(clients: &[Arc<Client>]) -> HashSet<String> {
    clients
        .iter()
        .flat_map(|c| {
            c.with_view(|v| {
                v.messages()
                    .into_iter()
                    .filter(|m| v.delivered_at(&m.id).is_some())
                    .map(|m| m.id.to_string())
                    .collect::<Vec<_>>()
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_again_and_again_during_a_stream_loses_and_doubles_nothing() {
    let kills = size("EDGEDESK_CRASH_KILLS", 5);
    let per_writer = size("EDGEDESK_CRASH_MESSAGES", 40);
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
    println!("crash loop: {kills} kills, {WRITERS} writers x {per_writer}, seed {seed}");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let mut relay =
        Relay::start_with_vars(&tmp.path().join("state"), &[("EDGEDESK_ROLLOVER_MESSAGES", "50")]);
    let conv = conversation("crash-loop");

    let mut clients: Vec<Arc<Client>> = Vec::new();
    for w in 0..WRITERS + OFFLINE_WRITERS {
        let who = if w == 0 {
            identity(Role::Visitor, "v-crash", "v-phone")
        } else {
            identity(Role::Agent, &format!("agent-{w}"), &format!("desk-{w}"))
        };
        let token = relay.token(&who, &conv);
        let dir = tmp.path().join(format!("w{w}"));
        let online = w < WRITERS;
        clients
            .push(Arc::new(client_with(&relay.base_url(), &token, &conv, who, &dir, online).await));
    }
    // The offline writers' backlog, written before anything else.
    let mut written: HashMap<usize, Vec<String>> = HashMap::new();
    for (w, c) in clients.iter().enumerate().skip(WRITERS) {
        for i in 0..BACKLOG {
            let id = c.send_text(&format!("backlog w{w} m{i}")).await.unwrap().id.to_string();
            written.entry(w).or_default().push(id);
        }
    }

    let mut streams = Vec::new();
    for (w, c) in clients.iter().take(WRITERS).enumerate() {
        let c = c.clone();
        let jitter = 5 + (seed >> w) % 20;
        streams.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..per_writer {
                ids.push(
                    c.send_text(&format!("stream w{w} m{i} 消息")).await.unwrap().id.to_string(),
                );
                tokio::time::sleep(Duration::from_millis(jitter + (i as u64 * 7) % 25)).await;
            }
            (w, ids)
        }));
    }

    let mut acked_before_kills = HashSet::new();
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(200 + rng.below(800))).await;
        if k == kills / 2 {
            for c in clients.iter().skip(WRITERS) {
                c.set_online(true);
            }
        }
        acked_before_kills.extend(acknowledged(&clients));
        relay.kill();
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        relay.restart();
    }
    for c in clients.iter().skip(WRITERS) {
        c.set_online(true);
    }
    for s in streams {
        let (w, ids) = s.await.unwrap();
        written.insert(w, ids);
    }
    let refs: Vec<&Client> = clients.iter().map(|c| c.as_ref()).collect();
    settle_all(&relay, &conv, &refs, Duration::from_secs(180)).await;

    let stats = relay.stats(conv.as_str());
    let all_written: usize = written.values().map(Vec::len).sum();
    println!("crash loop: {all_written} messages, relay {stats}");
    let reference = ids_of(&clients[0]).await;
    let unique: HashSet<&String> = reference.iter().collect();
    assert_eq!(unique.len(), reference.len(), "a message is stored twice");
    assert_eq!(reference.len(), all_written, "every written message is stored once");
    assert_eq!(
        stats["archived_messages"].as_u64().unwrap() + stats["messages"].as_u64().unwrap(),
        all_written as u64
    );
    for id in &acked_before_kills {
        assert!(unique.contains(id), "acknowledged before a kill, then lost: {id}");
    }
    for (w, ids) in &written {
        let order: Vec<&String> = reference.iter().filter(|id| ids.contains(id)).collect();
        assert_eq!(order, ids.iter().collect::<Vec<_>>(), "writer {w}'s messages out of order");
    }
    for (i, c) in clients.iter().enumerate().skip(1) {
        assert_eq!(ids_of(c).await, reference, "device {i} shows another conversation");
    }
}
