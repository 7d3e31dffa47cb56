//! Issue 5, acceptance 1, on the real Worker with real SDK clients: 200 conversations over
//! three teams; every filter and sort of the message center lists exactly the set and order
//! the test computes from what it did, the sidebar counts agree, and paging lists every
//! conversation exactly once while new conversations keep arriving between pages.
//!
//! The model knows only what the test did (claims, texts, agents' actions, and the order
//! conversations were created in), plus the documented rules: the workflow tags every
//! conversation a visitor wrote in with 待处理; keyword and VIP rules raise the priority;
//! routing picks the team (nobody is online, so nobody is assigned); unread counts visitor
//! messages after the assignee's read mark (anyone's if unassigned); a visitor waits while
//! the conversation is open and no agent has answered.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgedesk_client::{CaseField, ConversationId, InboxClient, State, Status};
use edgedesk_core::message::Role;
use edgedesk_e2e::inbox::{ids, percent, wait_inbox, VisitorClaims, INBOX_WAIT};
use edgedesk_e2e::*;
use futures_util::future::join_all;
use serde_json::{json, Value};

const N: usize = 200;
const CHANNELS: [&str; 3] = ["web", "app", "wechat"];
/// The agent the `assignee=me` filters ask as.
const ME: &str = "g1";
const FOLLOW_UP: &str = "回访";

/// What the test knows of one conversation.
#[derive(Debug, Clone)]
struct Conv {
    id: String,
    /// Creation order: the order of the visitors' messages, so of their receipt times.
    order: usize,
    channel: &'static str,
    team: &'static str,
    status: &'static str,
    rank: i64,
    tags: BTreeSet<String>,
    assignee: Option<&'static str>,
    unread: u32,
    /// Written before the time the test noted halfway through.
    early: bool,
}

impl Conv {
    fn waiting(&self) -> bool {
        self.status == "open"
    }
}

fn priority_name(rank: i64) -> &'static str {
    ["low", "normal", "high", "urgent"][rank as usize]
}

/// Conversation `i` as its visitor creates it.
fn created(i: usize) -> (Conv, VisitorClaims, String) {
    let channel = CHANNELS[i % 3];
    let vip = i.is_multiple_of(7);
    let refund = i.is_multiple_of(5);
    let text =
        if refund { format!("我要退款，订单 {i}") } else { format!("hello, question {i}") };
    let mut tags = BTreeSet::from(["待处理".to_owned()]);
    if refund {
        tags.insert("billing".into());
    }
    let team = if refund {
        "billing"
    } else if channel == "app" {
        "sales"
    } else {
        "general"
    };
    let conv = Conv {
        id: format!("list-{i:03}"),
        order: i,
        channel,
        team,
        status: "open",
        rank: if refund || vip { 2 } else { 1 },
        tags,
        assignee: None,
        unread: 1,
        early: i < N / 2,
    };
    let claims = VisitorClaims {
        name: Some(format!("Visitor {i}")),
        channel: Some(channel.into()),
        vip,
        locale: None,
    };
    (conv, claims, text)
}

/// What agents do to conversation `i` once all exist.
struct Actions {
    claim: Option<&'static str>,
    status: Option<State>,
    priority: Option<&'static str>,
    tag: bool,
    /// `g1` marks the visitor's message read.
    read: bool,
}

fn actions(i: usize) -> Actions {
    Actions {
        claim: match i % 8 {
            1 => Some("g1"),
            5 => Some("s1"),
            _ => None,
        },
        status: if i % 6 == 2 {
            Some(State::Pending)
        } else if i % 10 == 3 {
            Some(State::Resolved)
        } else {
            None
        },
        priority: if i % 9 == 4 {
            Some("urgent")
        } else if i % 11 == 6 {
            Some("low")
        } else {
            None
        },
        tag: i % 13 == 7,
        read: i % 4 == 3
            || (i % 8 == 1 && i.is_multiple_of(3))
            || (i % 8 == 5 && i.is_multiple_of(3)),
    }
}

impl Actions {
    fn needs_client(&self) -> bool {
        self.status.is_some() || self.priority.is_some() || self.tag || self.read
    }

    /// The model after these actions.
    fn apply(&self, c: &mut Conv) {
        c.assignee = self.claim;
        if let Some(s) = self.status {
            c.status = s.as_str();
        }
        if let Some(p) = self.priority {
            c.rank =
                ["low", "normal", "high", "urgent"].iter().position(|x| *x == p).unwrap() as i64;
        }
        if self.tag {
            c.tags.insert(FOLLOW_UP.into());
        }
        // Only the reader's own mark counts once someone is assigned.
        if self.read && c.assignee.is_none_or(|a| a == ME) {
            c.unread = 0;
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn config() -> Value {
    json!({
        "keyword_rules": [ { "keywords": ["退款"], "add_tags": ["billing"], "priority": "high" } ],
        "priority": { "vip": "high" },
        "routing": {
            "teams": [
                { "id": "billing", "members": ["b1"] },
                { "id": "sales", "members": ["s1"] },
                { "id": "general", "members": ["g1"] },
            ],
            "rules": [
                { "when": { "keywords": ["退款"] }, "team": "billing" },
                { "when": { "channel": "app" }, "team": "sales" },
            ],
            "default_team": "general",
        },
    })
}

/// The model's order for `sort` (each ends with the conversation id, as the server's).
fn sorted<'a>(mut convs: Vec<&'a Conv>, sort: &str) -> Vec<&'a Conv> {
    // Receipt times rise with `order`; ids are zero-padded, so they do too.
    match sort {
        "priority" => convs.sort_by_key(|c| (-c.rank, !c.waiting(), c.order)),
        "waiting" => convs.sort_by_key(|c| (!c.waiting(), c.order)),
        "activity" => convs.sort_by_key(|c| std::cmp::Reverse(c.order)),
        other => panic!("no sort {other}"),
    }
    convs
}

type Filter = Box<dyn Fn(&Conv) -> bool>;

/// Each filter of the message center, as a query string and as the model reads it.
fn filters(mid: i64, quarter: i64) -> Vec<(String, Filter)> {
    let f = |q: &str, p: Filter| (q.to_owned(), p);
    vec![
        f("", Box::new(|_| true)),
        f("status=open", Box::new(|c| c.status == "open")),
        f("status=pending,resolved", Box::new(|c| matches!(c.status, "pending" | "resolved"))),
        f("status=snoozed", Box::new(|c| c.status == "snoozed")),
        f("tag=billing", Box::new(|c| c.tags.contains("billing"))),
        (format!("tag={}", percent(FOLLOW_UP)), Box::new(|c| c.tags.contains(FOLLOW_UP))),
        (format!("tag={}", percent("待处理")), Box::new(|c| c.tags.contains("待处理"))),
        f("assignee=me", Box::new(|c| c.assignee == Some(ME))),
        f("assignee=s1", Box::new(|c| c.assignee == Some("s1"))),
        f("assignee=unassigned", Box::new(|c| c.assignee.is_none())),
        f("team=billing", Box::new(|c| c.team == "billing")),
        f("team=sales", Box::new(|c| c.team == "sales")),
        f("team=general", Box::new(|c| c.team == "general")),
        f("priority=urgent", Box::new(|c| c.rank == 3)),
        f("priority=high,low", Box::new(|c| c.rank == 2 || c.rank == 0)),
        f("unread=true", Box::new(|c| c.unread > 0)),
        f("channel=app", Box::new(|c| c.channel == "app")),
        f("channel=wechat", Box::new(|c| c.channel == "wechat")),
        (format!("since={mid}"), Box::new(|c| !c.early)),
        (format!("until={mid}"), Box::new(|c| c.early)),
        (format!("since={quarter}&until={mid}"), Box::new(|c| c.early && c.order >= N / 4)),
        f(
            "team=general&status=open&unread=true",
            Box::new(|c| c.team == "general" && c.status == "open" && c.unread > 0),
        ),
        f(
            "channel=web&priority=high&assignee=unassigned",
            Box::new(|c| c.channel == "web" && c.rank == 2 && c.assignee.is_none()),
        ),
        f(
            "tag=billing&assignee=me&status=open",
            Box::new(|c| {
                c.tags.contains("billing") && c.assignee == Some(ME) && c.status == "open"
            }),
        ),
    ]
}

/// Every page of `query` sorted by `sort`, `limit` at a time, over HTTP as [`ME`]: the
/// summaries in the order listed. Checks each page's size and that only the last has no
/// cursor.
fn list_all(relay: &Relay, query: &str, sort: &str, limit: usize) -> Vec<Value> {
    let mut summaries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("sort={sort}&limit={limit}");
        if !query.is_empty() {
            q = format!("{query}&{q}");
        }
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = relay.inbox_get(ME, &format!("conversations?{q}"));
        assert_eq!(status, 200, "{q}: {page}");
        let items = page["items"].as_array().unwrap_or_else(|| panic!("{q}: {page}"));
        assert!(items.len() <= limit, "{q}: {} items", items.len());
        summaries.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), limit, "{q}: a short page before the last");
                cursor = Some(next.to_owned());
            }
            None => return summaries,
        }
    }
}

/// The sidebar's counts as the model has them, for [`ME`].
fn model_counts(convs: &[Conv]) -> Value {
    let mut status: BTreeMap<&str, u64> =
        ["open", "pending", "snoozed", "resolved"].iter().map(|s| (*s, 0)).collect();
    let mut priority: BTreeMap<&str, u64> =
        ["low", "normal", "high", "urgent"].iter().map(|s| (*s, 0)).collect();
    let (mut team, mut channel, mut tag) =
        (BTreeMap::<&str, u64>::new(), BTreeMap::<&str, u64>::new(), BTreeMap::<&str, u64>::new());
    for c in convs {
        *status.get_mut(c.status).unwrap() += 1;
        *priority.get_mut(priority_name(c.rank)).unwrap() += 1;
        *team.entry(c.team).or_default() += 1;
        *channel.entry(c.channel).or_default() += 1;
        for t in &c.tags {
            *tag.entry(t.as_str()).or_default() += 1;
        }
    }
    json!({
        "total": convs.len(),
        "status": status,
        "priority": priority,
        "team": team,
        "channel": channel,
        "tag": tag,
        "mine": convs.iter().filter(|c| c.assignee == Some(ME)).count(),
        "unassigned": convs.iter().filter(|c| c.assignee.is_none()).count(),
        "unread": convs.iter().filter(|c| c.unread > 0).count(),
    })
}

/// Polls the counts until they equal the model's: the barrier after which every change the
/// test made has reached the inbox. Panics with both, and the conversations whose summaries
/// differ from the model, if they never do.
async fn wait_counts(relay: &Relay, model: &[Conv], what: &str) {
    let expected = &model_counts(model);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, counts) = relay.inbox_get(ME, "counts");
        if status != 200 {
            // Give wrangler a moment to write the Worker's report of it to the log.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        assert_eq!(status, 200, "{counts}\n{}", relay.log_lines("inbox"));
        if &counts == expected {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{what}: the counts never matched\n got: {counts}\nwant: {expected}\n{}",
                differences(relay, model).join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each conversation whose listed summary differs from the model, with both.
fn differences(relay: &Relay, model: &[Conv]) -> Vec<String> {
    let mut out = Vec::new();
    let listed: BTreeMap<String, Value> = list_all(relay, "", "activity", 100)
        .into_iter()
        .map(|s| (s["conversation"].as_str().unwrap_or_default().to_owned(), s))
        .collect();
    for c in model {
        let Some(s) = listed.get(&c.id) else {
            out.push(format!("{}: not listed", c.id));
            continue;
        };
        let tags: BTreeSet<String> = s["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
        let mine = (
            c.status,
            priority_name(c.rank),
            c.assignee,
            c.team,
            c.channel,
            c.unread,
            c.waiting(),
            &c.tags,
        );
        let theirs = (
            s["status"].as_str().unwrap_or(""),
            s["priority"].as_str().unwrap_or(""),
            s["assignee"].as_str(),
            s["team"].as_str().unwrap_or(""),
            s["channel"].as_str().unwrap_or(""),
            s["unread"].as_u64().unwrap_or(u64::MAX) as u32,
            !s["waiting_since"].is_null(),
            &tags,
        );
        if mine != theirs {
            let feed = relay.stats(&c.id)["workflow"]["inbox"].clone();
            out.push(format!(
                "{}: model {mine:?}, inbox {theirs:?} (version {}, conversation's feed {feed})",
                c.id, s["version"]
            ));
        }
    }
    out
}

/// Agent `g1` opens conversation `c` on a device and does `a`'s status, priority, tag and
/// read mark, then waits until the relay holds all of it.
async fn act(relay: &Relay, id: String, a: Actions, dir: std::path::PathBuf) {
    let conv = ConversationId::new(&id).unwrap();
    let agent = client(relay, &conv, identity(Role::Agent, ME, "g1-desk"), &dir).await;
    let synced = agent.wait_until(INBOX_WAIT, |v| v.message_count() == 1 && v.in_sync()).await;
    assert!(synced.is_ok(), "{id}: the agent never saw the visitor's message");
    if let Some(state) = a.status {
        agent.set_status(Status { state, snoozed_until: None }).await.unwrap();
    }
    if let Some(p) = a.priority {
        agent.set_case(CaseField::Priority, Some(p)).await.unwrap();
    }
    if a.tag {
        agent.add_tag(FOLLOW_UP).await.unwrap();
    }
    if a.read {
        let last = agent.messages().last().unwrap().id.clone();
        agent.mark_read(&last).await.unwrap();
    }
    // The relay holds both documents as this device does: only then may the device go (a
    // changes frame written just before the close can be lost on the way, and would only
    // reach the relay at the device's next connection).
    let deadline = Instant::now() + INBOX_WAIT;
    loop {
        let stats = relay.stats(&id);
        let (heads, internal) = agent.with_view(|v| {
            let internal: Option<Vec<String>> =
                v.internal().map(|i| i.heads().iter().map(|h| h.to_string()).collect());
            (v.heads(), internal.unwrap_or_default())
        });
        if stats["heads"] == json!(heads) && stats["internal_heads"] == json!(internal) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{id}: the relay never got the agent's changes: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_and_sort_lists_exactly_the_expected_conversations_and_paging_survives_arrivals(
) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    relay.configure(&config());

    // 200 visitors write one after another, so their receipt times follow creation order.
    let started = Instant::now();
    let mut model = Vec::with_capacity(N);
    let (mut mid, mut quarter) = (0, 0);
    for i in 0..N {
        if i == N / 4 || i == N / 2 {
            // Strictly between the previous message's receipt and the next one's.
            tokio::time::sleep(Duration::from_millis(20)).await;
            *(if i == N / 4 { &mut quarter } else { &mut mid }) = now_ms();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (conv, claims, text) = created(i);
        let id = ConversationId::new(&conv.id).unwrap();
        let v = relay.visitor_writes(&id, &claims, &text, &dir.path().join(&conv.id)).await;
        v.shutdown().await;
        model.push(conv);
    }
    eprintln!("{N} conversations created in {:?}", started.elapsed());
    // Routed to their teams (nobody is online, so nobody is assigned yet).
    wait_counts(&relay, &model, "after the visitors wrote").await;

    // Agents claim some over HTTP and work on others from their devices.
    let started = Instant::now();
    for c in model.iter_mut() {
        let a = actions(c.order);
        if let Some(who) = a.claim {
            let (status, body) =
                relay.inbox_post(who, &format!("conversations/{}/claim", c.id), "");
            assert_eq!(status, 200, "{who} claiming {}: {body}", c.id);
            assert_eq!(body["assignee"], who, "{body}");
        }
    }
    let busy: Vec<(String, usize)> = model
        .iter()
        .filter(|c| actions(c.order).needs_client())
        .map(|c| (c.id.clone(), c.order))
        .collect();
    for chunk in busy.chunks(4) {
        join_all(chunk.iter().map(|(id, order)| {
            act(&relay, id.clone(), actions(*order), dir.path().join(format!("agent-{id}")))
        }))
        .await;
    }
    for c in model.iter_mut() {
        actions(c.order).apply(c);
    }
    eprintln!("{} claims and {} agents' sessions in {:?}", N / 4, busy.len(), started.elapsed());
    wait_counts(&relay, &model, "after the agents' changes").await;

    // Every filter, every sort, with pages of several sizes.
    let started = Instant::now();
    let mut listings = 0;
    for (n, (query, keep)) in filters(mid, quarter).iter().enumerate() {
        let matching: Vec<&Conv> = model.iter().filter(|c| keep(c)).collect();
        for (s, sort) in ["priority", "waiting", "activity"].into_iter().enumerate() {
            let limit = [7, 25, 100][(n + s) % 3];
            let expected: Vec<&str> =
                sorted(matching.clone(), sort).iter().map(|c| c.id.as_str()).collect();
            let listed = ids(&list_all(&relay, query, sort, limit));
            assert_eq!(listed, expected, "`{query}` sorted by {sort}, {limit} a page");
            listings += 1;
        }
    }
    let empty: Vec<_> = filters(mid, quarter)
        .iter()
        .filter(|(_, keep)| !model.iter().any(keep))
        .map(|(q, _)| q.clone())
        .collect();
    assert_eq!(empty, ["status=snoozed"], "every other filter matches something");
    eprintln!("{listings} listings checked in {:?}", started.elapsed());

    // Paging over the inbox socket while new conversations arrive between pages: each page
    // is exactly the next `limit` conversations after the cursor in the order as it then
    // stands, so no conversation is skipped or listed twice.
    let viewer = relay.inbox("q1", "q1-desk").await;
    let mut arrivals = 0;
    for sort in ["priority", "waiting", "activity"] {
        let mut listed: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut page_no = 0;
        loop {
            if page_no < 8 {
                let conv = arrive(&relay, &viewer, &mut model, arrivals, &dir).await;
                arrivals += 1;
                assert!(!listed.contains(&conv), "{conv} is new");
            }
            let everything = sorted(model.iter().collect(), sort);
            let after = match listed.last() {
                None => 0,
                Some(last) => everything.iter().position(|c| &c.id == last).unwrap() + 1,
            };
            let expected: Vec<&str> =
                everything[after..].iter().take(12).map(|c| c.id.as_str()).collect();
            let page = viewer
                .query(json!({ "sort": sort, "limit": 12, "cursor": cursor }))
                .await
                .expect("a page over the socket");
            let got: Vec<&str> = page.items.iter().map(|s| s.conversation.as_str()).collect();
            assert_eq!(got, expected, "{sort}, page {page_no}");
            listed.extend(got.iter().map(|s| s.to_string()));
            page_no += 1;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let unique: HashSet<&String> = listed.iter().collect();
        assert_eq!(unique.len(), listed.len(), "{sort}: a conversation was listed twice");
        for c in model.iter().filter(|c| c.order < N) {
            assert!(unique.contains(&c.id), "{sort}: {} was skipped", c.id);
        }
    }
    viewer.shutdown().await;
}

/// A new visitor writes (web, plain question: team general, normal priority, waiting since
/// now); returns its id once the viewer's socket has its routed summary, and adds it to the
/// model.
async fn arrive(
    relay: &Relay,
    viewer: &InboxClient,
    model: &mut Vec<Conv>,
    k: usize,
    dir: &tempfile::TempDir,
) -> String {
    let id = format!("new-{k:02}");
    let conv = ConversationId::new(&id).unwrap();
    let claims = VisitorClaims { channel: Some("web".into()), ..Default::default() };
    let v = relay.visitor_writes(&conv, &claims, "hi, a new question", &dir.path().join(&id)).await;
    v.shutdown().await;
    wait_inbox(viewer, &format!("{id} routed to general"), |s| {
        s.summary(&id).is_some_and(|x| x.team.as_deref() == Some("general"))
    })
    .await;
    model.push(Conv {
        id: id.clone(),
        order: N + k,
        channel: "web",
        team: "general",
        status: "open",
        rank: 1,
        tags: BTreeSet::from(["待处理".to_owned()]),
        assignee: None,
        unread: 1,
        early: false,
    });
    id
}
