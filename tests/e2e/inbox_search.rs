//! Issue 5, acceptance 2, on the real Worker: search finds two-character Chinese words
//! (退款, 发票) and "refund" in the right conversations, highlights the match, and ranks the
//! exact phrase first; a query with nothing searchable is a clear 400.

use edgedesk_e2e::inbox::{listed, percent, wait_inbox, VisitorClaims};
use edgedesk_e2e::*;
use serde_json::Value;

fn hits(relay: &Relay, q: &str) -> Vec<Value> {
    let path = format!("search?q={}", percent(q));
    let (status, body) = relay.inbox_get("ann", &path);
    assert_eq!(status, 200, "{q}: {body}");
    body["hits"].as_array().cloned().unwrap_or_default()
}

fn conversations(h: &[Value]) -> Vec<String> {
    let mut c: Vec<String> =
        h.iter().map(|h| h["conversation"].as_str().unwrap_or("").to_owned()).collect();
    c.sort();
    c.dedup();
    c
}

/// The highlighted parts of a hit.
fn marked(h: &Value) -> Vec<String> {
    h["highlight"]
        .as_array()
        .map(|segs| {
            segs.iter()
                .filter(|s| s["hit"] == true)
                .map(|s| s["text"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One conversation per `(label, text)`, its visitor (named `visitor_name(i)`) writing the
/// text; the conversations' ids by label.
async fn write_each<'a>(
    relay: &Relay,
    dir: &std::path::Path,
    texts: &[(&'a str, &str)],
    visitor_name: impl Fn(usize) -> String,
) -> std::collections::BTreeMap<&'a str, String> {
    let mut ids = std::collections::BTreeMap::new();
    for (i, (label, text)) in texts.iter().enumerate() {
        let conv = conversation(label);
        let claims = VisitorClaims { name: Some(visitor_name(i)), ..Default::default() };
        relay.visitor_writes(&conv, &claims, text, &dir.join(label)).await.shutdown().await;
        ids.insert(*label, conv.to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_two_character_chinese_words_and_english_with_highlights_exact_phrase_first() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    let texts = [
        ("refund-zh", "你好，我想申请退款，订单号 1234"),
        ("invoice", "请帮我开一张发票"),
        ("refund-en", "I would like a Refund for my order"),
        ("scattered", "my order arrived late, what is your refund policy for late order"),
        ("phrase", "please check my order refund status"),
        ("other", "退货和款式的问题"),
    ];
    let ids = write_each(&relay, dir.path(), &texts, |i| format!("王小明{i}")).await;
    let id = |n: &str| ids[n].clone();

    let refund_zh = hits(&relay, "退款");
    assert_eq!(
        conversations(&refund_zh),
        [id("refund-zh")],
        "退 and 款 apart (退货和款式) is no match"
    );
    assert_eq!(marked(&refund_zh[0]), ["退款"]);
    let invoice = hits(&relay, "发票");
    assert_eq!(conversations(&invoice), [id("invoice")]);
    assert_eq!(marked(&invoice[0]), ["发票"]);

    let refund = hits(&relay, "refund");
    let mut expected = vec![id("refund-en"), id("scattered"), id("phrase")];
    expected.sort();
    assert_eq!(conversations(&refund), expected);
    let en = refund.iter().find(|h| h["conversation"] == id("refund-en").as_str()).unwrap();
    assert_eq!(marked(en), ["Refund"], "case-insensitive, the original text highlighted");

    // Both words in every hit; the exact phrase ranks first.
    let ranked = hits(&relay, "order refund");
    let order: Vec<&str> = ranked.iter().map(|h| h["conversation"].as_str().unwrap()).collect();
    assert_eq!(order.first().copied(), Some(id("phrase").as_str()), "{ranked:?}");
    assert_eq!(ranked[0]["exact"], true);
    assert_eq!(conversations(&ranked), expected);

    // Visitor names are searched too.
    let named = hits(&relay, "王小明3");
    assert!(named.iter().any(|h| h["field"] == "visitor_name"), "{named:?}");

    let (status, body) = relay.inbox_get("ann", "search?q=%20%21%21");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "bad_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_conversation_leaves_the_inbox_list_counts_search_and_agents_screens() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    let desk = relay.inbox("ann", "ann-desk").await;
    let (gone, kept) = (conversation("erased"), conversation("kept"));
    for (conv, text) in [(&gone, "我要退款 secretword"), (&kept, "我要退款 otherword")] {
        let claims = VisitorClaims { name: Some(format!("Visitor {conv}")), ..Default::default() };
        let dir = dir.path().join(conv.as_str());
        relay.visitor_writes(conv, &claims, text, &dir).await.shutdown().await;
    }
    relay.wait_list("ann", "limit=10", 2).await;
    wait_inbox(&desk, "both on ann's screen", |s| s.summaries().len() == 2).await;
    assert_eq!(conversations(&hits(&relay, "退款")), [gone.to_string(), kept.to_string()]);

    let path = format!("/v1/workspaces/{}/conversations/{gone}/erase", workspace());
    let (status, body) =
        http_request(relay.port, "POST", &path, Some(&relay.admin_token()), None).unwrap();
    assert_eq!(status, 200, "{body}");

    // Gone from the list, the counts, the search index and the agent's screen, at once.
    let (_, page) = relay.inbox_get("ann", "conversations?limit=10");
    assert_eq!(listed(&page), [kept.to_string()], "{page}");
    let (_, counts) = relay.inbox_get("ann", "counts");
    assert_eq!(counts["total"], 1, "{counts}");
    assert_eq!(conversations(&hits(&relay, "退款")), [kept.to_string()]);
    assert!(hits(&relay, "secretword").is_empty());
    assert!(hits(&relay, &format!("Visitor {gone}")).is_empty());
    wait_inbox(&desk, "the erased conversation off ann's screen", |s| {
        s.summary(gone.as_str()).is_none() && s.summary(kept.as_str()).is_some()
    })
    .await;

    // Erasing again is harmless, and the erased conversation never comes back.
    let (status, body) =
        http_request(relay.port, "POST", &path, Some(&relay.admin_token()), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, counts) = relay.inbox_get("ann", "counts");
    assert_eq!(counts["total"], 1, "{counts}");
    desk.shutdown().await;
}

/// Issue 15, acceptance 6: a one-character query (好, 客, 货) finds exactly the conversations
/// holding that character, and narrows a longer query (`客服 好`) instead of emptying it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chinese_character_finds_exactly_the_conversations_containing_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    let texts = [
        ("hello", "你好，在吗？"),
        ("service", "客服什么时候上班"),
        ("both", "客服态度很好"),
        ("goods", "货到了吗？我要退款，还要发票"),
        ("decoy", "你们在吗？请回复 about my refund"),
        ("decoy-zh", "服务态度很差，到了也不回"),
    ];
    let ids = write_each(&relay, dir.path(), &texts, |i| format!("Visitor {i}")).await;
    let of = |names: &[&str]| {
        let mut v: Vec<String> = names.iter().map(|n| ids[n].clone()).collect();
        v.sort();
        v
    };
    for (q, expect) in [
        ("好", of(&["hello", "both"])),
        ("客", of(&["service", "both"])),
        ("货", of(&["goods"])),
        ("客服 好", of(&["both"])),
        ("退款", of(&["goods"])),
        ("发票", of(&["goods"])),
        ("refund", of(&["decoy"])),
    ] {
        let found = hits(&relay, q);
        assert_eq!(conversations(&found), expect, "{q}: {found:?}");
        for h in &found {
            let marks = marked(h).concat();
            for part in q.split_whitespace() {
                assert!(marks.to_lowercase().contains(part), "{q}: {part} not marked in {h}");
            }
        }
    }
}
