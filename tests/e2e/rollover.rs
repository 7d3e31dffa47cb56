//! Issue 17, conversations without an end: the live document rolls over into sealed
//! segments (PROTOCOL.md §16) on the real Worker, and SDK devices move with it.
//!
//! CI size: segments of 100 messages; a device offline across two rollovers delivers 200
//! offline messages exactly once, and history pages return every sealed message once, in
//! order, from every device.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use edgedesk_core::ids::ConversationId;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const SEGMENT: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_offline_across_two_rollovers_delivers_its_messages_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let segment = SEGMENT.to_string();
    let relay = Relay::start_with_vars(&state, &[("EDGEDESK_ROLLOVER_MESSAGES", &segment)]);
    let conv = conversation("endless");
    let visitor = identity(Role::Visitor, "v-endless", "phone");
    let token = relay.token(&visitor, &conv);
    let away =
        client_with(&relay.base_url(), &token, &conv, visitor, &tmp.path().join("away"), false)
            .await;
    let mut offline = Vec::new();
    for i in 0..200 {
        offline.push(away.send_text(&format!("offline {i}")).await.unwrap().id.to_string());
    }

    let agent =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "desk"), &tmp.path().join("a"))
            .await;
    let mut online = Vec::new();
    for i in 0..250 {
        online.push(agent.send_text(&format!("online {i} 归档")).await.unwrap().id.to_string());
        if i % 25 == 24 {
            settle_all(&relay, &conv, &[&agent], Duration::from_secs(90)).await;
        }
    }
    settle_all(&relay, &conv, &[&agent], Duration::from_secs(90)).await;
    let before_return = relay.stats(conv.as_str());
    assert!(before_return["epoch"].as_u64().unwrap() >= 2, "two rollovers: {before_return}");
    assert_eq!(away.epoch(), 0, "the offline device has seen none of them");

    away.set_online(true);
    settle_all(&relay, &conv, &[&away], Duration::from_secs(90)).await;
    settle_all(&relay, &conv, &[&agent], Duration::from_secs(90)).await;
    assert!(away.epoch() >= 2, "the device moved to the live epoch");

    for (who, device) in [("visitor", &away), ("agent", &agent)] {
        for limit in [37, 500] {
            let all = whole_conversation(device, limit).await;
            let ids: Vec<String> = all.iter().map(|m| m.id.to_string()).collect();
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "{who}: a message appears twice");
            assert_eq!(ids.len(), 450, "{who}: every message, once");
            let theirs: Vec<&String> = ids.iter().filter(|id| offline.contains(id)).collect();
            assert_eq!(theirs, offline.iter().collect::<Vec<_>>(), "{who}: offline ones in order");
            let ours: Vec<&String> = ids.iter().filter(|id| online.contains(id)).collect();
            assert_eq!(ours, online.iter().collect::<Vec<_>>(), "{who}: online ones in order");
        }
    }
    let stats = relay.stats(conv.as_str());
    let live = stats["messages"].as_u64().unwrap();
    assert_eq!(stats["archived_messages"].as_u64().unwrap() + live, 450, "{stats}");
    assert!(live < SEGMENT as u64, "the live document stays bounded: {stats}");
    // Sealed segments are encrypted like everything else at rest.
    assert!(files_containing(&state, "online 3 归档".as_bytes()).is_empty());
    assert!(files_containing(&state, b"offline 17").is_empty());
    away.shutdown().await;
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_a_sealed_epoch_is_refused_with_the_live_epoch_and_history_checks_its_query() {
    let tmp = tempfile::tempdir().unwrap();
    let relay =
        Relay::start_with_vars(&tmp.path().join("state"), &[("EDGEDESK_ROLLOVER_MESSAGES", "10")]);
    let conv = conversation("sealed-epoch");
    let agent =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "desk"), &tmp.path().join("a"))
            .await;
    for i in 0..12 {
        agent.send_text(&format!("m {i}")).await.unwrap();
    }
    settle_all(&relay, &conv, &[&agent], Duration::from_secs(90)).await;
    assert_eq!(agent.epoch(), 1);

    // A PROTOCOL-level client naming epoch 0 gets the notice and close 4409.
    let token = relay.token_as(Role::Visitor, "v-raw", &conv);
    let mut ws = connect_raw(&relay, &conv, Some(&token), "device=raw&epoch=0").await.unwrap();
    let (mut notice, mut close) = (None, None);
    while let Some(Ok(m)) = ws.next().await {
        match m {
            WsMessage::Binary(b) => notice = Some(b.to_vec()),
            WsMessage::Close(c) => {
                close = c.map(|c| u16::from(c.code));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(close, Some(4409));
    let notice: serde_json::Value = serde_json::from_slice(&notice.unwrap()[1..]).unwrap();
    assert_eq!((notice["type"].as_str(), notice["epoch"].as_u64()), (Some("rollover"), Some(1)));
    let wrong = connect_raw(&relay, &conv, Some(&token), "device=raw&epoch=x").await;
    assert_eq!(handshake_refusal(wrong).1, "bad_epoch");

    let history_path = format!("/v1/workspaces/{}/conversations/{conv}/history", workspace());
    let history = |q: &str| {
        http_request(relay.port, "GET", &format!("{history_path}?{q}"), Some(&token), None).unwrap()
    };
    let (status, body) = history("epoch=0&limit=4");
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["epoch"], 1);
    assert_eq!(page["messages"].as_array().unwrap().len(), 4);
    // A segment seals whole frames: at least the bound, more when the last frame brought more.
    let sealed = relay.stats(conv.as_str())["archived_messages"].as_u64().unwrap();
    assert!(sealed >= 10);
    assert_eq!(page["messages"][3]["body"], format!("m {}", sealed - 1));
    assert!(page["messages"][3]["delivered"].as_i64().is_some());
    assert_eq!(page["before"], format!("0.{}", sealed - 4));
    let (status, body) = history("before=x");
    assert_eq!((status, body.contains("EPOCH.INDEX")), (400, true), "{body}");
    let (status, body) = history("epoch=1");
    assert_eq!((status, body.contains("no_such_segment")), (404, true), "{body}");
    let (status, _) = history("limit=501");
    assert_eq!(status, 400);
    agent.shutdown().await;
}

/// Inbox search hits for `q`, as agent ann: the conversations they are in.
fn found_in(relay: &Relay, q: &str) -> Vec<String> {
    let (status, body) =
        relay.inbox_get("ann", &format!("search?q={}", edgedesk_e2e::inbox::percent(q)));
    assert_eq!(status, 200, "{q}: {body}");
    let mut c: Vec<String> = body["hits"]
        .as_array()
        .map(|h| h.iter().filter_map(|h| h["conversation"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    c.sort();
    c.dedup();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_sealed_words_until_retention_shreds_them_and_a_legal_hold_keeps_them() {
    let tmp = tempfile::tempdir().unwrap();
    // A retention "day" of one second, so the period passes within the test.
    let relay = Relay::start_with_vars(
        &tmp.path().join("state"),
        &[("EDGEDESK_ROLLOVER_MESSAGES", "10"), ("EDGEDESK_RETENTION_DAY_MS", "1000")],
    );
    relay.configure(&serde_json::json!({ "retention": { "delete_sealed_after_days": 3 } }));
    let mut convs = Vec::new();
    for (name, word) in [("expires", "档案甲zqx"), ("held", "档案乙zqy")] {
        let conv = conversation(name);
        let agent = client(
            &relay,
            &conv,
            identity(Role::Agent, "agent-1", &format!("desk-{name}")),
            &tmp.path().join(name),
        )
        .await;
        agent.send_text(&format!("the word {word} is only in the first segment")).await.unwrap();
        for i in 0..11 {
            agent.send_text(&format!("filler {i}")).await.unwrap();
        }
        settle_all(&relay, &conv, &[&agent], Duration::from_secs(90)).await;
        assert!(agent.epoch() >= 1);
        agent.shutdown().await;
        convs.push((conv, word));
    }
    let (expires, held) = (&convs[0], &convs[1]);
    let hold_path = format!("/v1/workspaces/{}/conversations/{}/legal-hold", workspace(), held.0);
    let admin = relay.admin_token();
    let (status, body) =
        http_request(relay.port, "PUT", &hold_path, Some(&admin), Some(r#"{"hold":true}"#))
            .unwrap();
    assert_eq!((status, body.as_str()), (200, r#"{"legal_hold":true}"#));
    let agent_token = relay.token_as(Role::Agent, "agent-1", &held.0);
    let (status, _) =
        http_request(relay.port, "PUT", &hold_path, Some(&agent_token), Some(r#"{"hold":false}"#))
            .unwrap();
    assert_eq!(status, 403, "only admins set or lift a legal hold");
    let (status, body) =
        http_request(relay.port, "PUT", &hold_path, Some(&admin), Some(r#"{"hold":1}"#)).unwrap();
    assert_eq!((status, body.contains("bad_legal_hold")), (400, true), "{body}");

    // Both sealed words are found while their segments exist.
    for (conv, word) in [expires, held] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !found_in(&relay, word).contains(&conv.to_string()) {
            assert!(Instant::now() < deadline, "{word} never found in {conv}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // After three "days" the unheld segment is shredded by the conversation's alarm.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = relay.stats(expires.0.as_str());
        if stats["shredded_segments"].as_u64() == Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "never shredded: {stats}\n{}", relay.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let token = relay.token_as(Role::Visitor, "v-reader", &expires.0);
    let page = |conv: &ConversationId, token: &str| {
        let path = format!("/v1/workspaces/{}/conversations/{conv}/history?epoch=0", workspace());
        http_request(relay.port, "GET", &path, Some(token), None).unwrap()
    };
    let (status, body) = page(&expires.0, &token);
    assert_eq!((status, body.contains("\"expired\"")), (410, true), "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while found_in(&relay, expires.1).contains(&expires.0.to_string()) {
        assert!(Instant::now() < deadline, "the shredded word is still found");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The held conversation keeps everything.
    let held_stats = relay.stats(held.0.as_str());
    assert_eq!(
        (held_stats["shredded_segments"].as_u64(), held_stats["legal_hold"].as_bool()),
        (Some(0), Some(true))
    );
    let (status, body) = page(&held.0, &relay.token_as(Role::Visitor, "v-reader", &held.0));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(held.1));
    assert!(found_in(&relay, held.1).contains(&held.0.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_document_older_than_archive_after_days_is_sealed_by_the_alarm_and_devices_move() {
    let tmp = tempfile::tempdir().unwrap();
    // A retention "day" of one second; no message bound reached (1,000 by default).
    let relay =
        Relay::start_with_vars(&tmp.path().join("state"), &[("EDGEDESK_RETENTION_DAY_MS", "1000")]);
    relay.configure(&serde_json::json!({ "retention": { "archive_after_days": 2 } }));
    let conv = conversation("aged");
    let agent =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "desk"), &tmp.path().join("a"))
            .await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(agent.send_text(&format!("old news {i} 旧闻")).await.unwrap().id.to_string());
    }
    settle_all(&relay, &conv, &[&agent], Duration::from_secs(30)).await;
    assert_eq!(relay.stats(conv.as_str())["epoch"].as_u64(), Some(0));

    // Two "days" after the first message the alarm seals the live document; the connected
    // device is moved to epoch 1 and writes on there.
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.epoch() < 1 {
        assert!(Instant::now() < deadline, "never archived: {}", relay.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = relay.stats(conv.as_str());
    assert_eq!(
        (stats["archived_messages"].as_u64(), stats["messages"].as_u64()),
        (Some(3), Some(0)),
        "{stats}"
    );
    sent.push(agent.send_text("fresh news").await.unwrap().id.to_string());
    settle_all(&relay, &conv, &[&agent], Duration::from_secs(30)).await;
    let all: Vec<String> =
        whole_conversation(&agent, 100).await.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(all, sent, "every message once, in order, the old ones from segment 0");
    agent.shutdown().await;
}
