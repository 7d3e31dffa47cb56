//! Issue 5, acceptance 3, 4 and 5, on the real Worker with real SDK clients: conversations
//! written while no agent is online are pushed and assigned when one comes online; round
//! robin, least busy and a VIP rule route new conversations as configured; a transfer keeps
//! history and audit; reading on one device clears the unread badge on the other.

use std::collections::BTreeMap;

use edgedesk_client::{ConversationId, Presence, Target};
use edgedesk_core::ids::{ParticipantId, TeamId};
use edgedesk_core::internal_doc::CaseField;
use edgedesk_core::message::Role;
use edgedesk_e2e::inbox::{wait_inbox, VisitorClaims};
use edgedesk_e2e::*;
use serde_json::json;

fn web() -> VisitorClaims {
    VisitorClaims { channel: Some("web".into()), ..Default::default() }
}

fn assigned_to(
    s: &edgedesk_core::inbox::session::InboxSession,
    agent: &str,
    of: &[ConversationId],
) -> usize {
    of.iter()
        .filter(|c| {
            s.summary(c.as_str()).and_then(|x| x.assignee.clone()).as_deref() == Some(agent)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_written_while_nobody_was_online_reach_both_devices_of_the_agent_who_comes_online(
) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    relay.configure(&json!({ "routing": {
        "teams": [
            { "id": "billing", "members": ["ann"], "max_open": 3 },
            { "id": "general", "members": ["bob"] },
        ],
        "rules": [ { "when": { "keywords": ["退款", "refund"] }, "team": "billing" } ],
        "default_team": "general",
    }}));
    let mut convs = Vec::new();
    let mut visitors = Vec::new();
    for i in 0..5 {
        let conv = conversation(&format!("offline-{i}"));
        visitors.push(
            relay
                .visitor_writes(&conv, &web(), "我要退款 please", &dir.path().join(format!("v{i}")))
                .await,
        );
        convs.push(conv);
    }
    // Nobody online: all five wait in the billing team's queue.
    relay.wait_list("bob", "team=billing&assignee=unassigned", 5).await;

    let desk = relay.inbox("ann", "ann-desk").await;
    let phone = relay.inbox("ann", "ann-phone").await;
    for (device, name) in [(&desk, "desk"), (&phone, "phone")] {
        wait_inbox(device, &format!("all five on ann's {name}, three assigned to her"), |s| {
            convs.iter().all(|c| s.summary(c.as_str()).is_some())
                && assigned_to(s, "ann", &convs) == 3
        })
        .await;
    }
    // Within her maximum: the other two still wait for the team.
    let (_, page) = relay.inbox_get("ann", "conversations?assignee=me");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3));
    let (_, page) = relay.inbox_get("ann", "conversations?team=billing&assignee=unassigned");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(phone.presence().get(&ParticipantId::new("ann").unwrap()), Some(&Presence::Online));
    for v in visitors {
        v.shutdown().await;
    }
    desk.shutdown().await;
    phone.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_least_busy_and_a_vip_rule_route_new_conversations_and_a_transfer_keeps_the_history(
) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    relay.configure(&json!({ "routing": {
            "teams": [
                { "id": "support", "members": ["a1", "a2", "a3"], "strategy": "round_robin", "max_open": 20 },
                { "id": "sales", "members": ["b1", "b2"], "strategy": "least_busy", "max_open": 20 },
                { "id": "vip", "members": ["v1"] },
            ],
            "rules": [
                { "when": { "vip": true }, "team": "vip" },
                { "when": { "channel": "app" }, "team": "sales" },
            ],
            "default_team": "support",
        }}),
    );
    let mut agents = Vec::new();
    for a in ["a1", "a2", "a3", "b1", "v1"] {
        agents.push(relay.inbox(a, &format!("{a}-desk")).await);
    }
    // 30 web conversations, one after another: round robin in member order.
    let mut support = Vec::new();
    for i in 0..30 {
        let conv = conversation(&format!("rr-{i}"));
        relay
            .visitor_writes(&conv, &web(), "hello", &dir.path().join(format!("rr{i}")))
            .await
            .shutdown()
            .await;
        support.push(conv);
    }
    wait_inbox(&agents[0], "30 support conversations assigned", |s| {
        support.iter().all(|c| s.summary(c.as_str()).is_some_and(|x| x.assignee.is_some()))
    })
    .await;
    let members = ["a1", "a2", "a3"];
    let got: Vec<String> =
        support.iter().map(|c| agents[0].summary(c).unwrap().assignee.unwrap()).collect();
    let expected: Vec<String> = (0..30).map(|i| members[i % 3].to_owned()).collect();
    assert_eq!(got, expected, "round robin in member order");

    // Least busy: b1 takes three while b2 is offline; then b2 comes online and the next
    // seven go to whoever has fewer open (ties to b1, the first member).
    let app = VisitorClaims { channel: Some("app".into()), ..Default::default() };
    let mut sales = Vec::new();
    for i in 0..10 {
        if i == 3 {
            agents.push(relay.inbox("b2", "b2-desk").await);
        }
        let conv = conversation(&format!("lb-{i}"));
        relay
            .visitor_writes(&conv, &app, "price?", &dir.path().join(format!("lb{i}")))
            .await
            .shutdown()
            .await;
        wait_inbox(&agents[0], "the sales conversation assigned", |s| {
            s.summary(conv.as_str()).is_some_and(|x| x.assignee.is_some())
        })
        .await;
        sales.push(conv);
    }
    let mut open: BTreeMap<&str, u32> = BTreeMap::new();
    let mut expected = Vec::new();
    for i in 0..10 {
        let pick = if i < 3 {
            "b1"
        } else {
            let (b1, b2) =
                (open.get("b1").copied().unwrap_or(0), open.get("b2").copied().unwrap_or(0));
            if b2 < b1 {
                "b2"
            } else {
                "b1"
            }
        };
        *open.entry(pick).or_default() += 1;
        expected.push(pick.to_owned());
    }
    let got: Vec<String> =
        sales.iter().map(|c| agents[0].summary(c).unwrap().assignee.unwrap()).collect();
    assert_eq!(got, expected, "least busy");
    assert!(sales.iter().all(|c| agents[0].summary(c).unwrap().team.as_deref() == Some("sales")));

    // A VIP on the web goes to the VIP team, not to support.
    let vip = VisitorClaims { channel: Some("web".into()), vip: true, ..Default::default() };
    let conv = conversation("vip");
    let visitor = relay.visitor_writes(&conv, &vip, "my order", &dir.path().join("vip")).await;
    wait_inbox(&agents[0], "the VIP conversation assigned", |s| {
        s.summary(conv.as_str()).is_some_and(|x| x.assignee.as_deref() == Some("v1"))
    })
    .await;
    assert_eq!(agents[0].summary(&conv).unwrap().team.as_deref(), Some("vip"));

    // v1 transfers it to the sales team: routed there, history and audit intact.
    visitor.send_text("second message").await.unwrap();
    let moved =
        agents[4].transfer(&conv, Target::Team(TeamId::new("sales").unwrap())).await.unwrap();
    assert_eq!(moved.team.as_deref(), Some("sales"));
    let to = moved.assignee.clone().expect("routed to a sales agent");
    assert!(to == "b1" || to == "b2", "{to}");
    let agent =
        client(&relay, &conv, identity(Role::Agent, &to, "desk"), &dir.path().join("agent")).await;
    converge(&relay, &conv, &[&agent, &visitor], 2).await;
    let bodies: Vec<String> = agent.messages().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["my order", "second message"]);
    agent.with_view(|v| {
        let doc = v.internal().unwrap();
        assert_eq!(doc.case_field(CaseField::Team).as_deref(), Some("sales"));
        let audit = doc.audit();
        let by_v1: Vec<_> = audit
            .iter()
            .filter(|e| e.actor.as_str() == "v1")
            .map(|e| (e.field.as_str(), e.value.clone()))
            .collect();
        assert_eq!(by_v1, [("team", Some("sales".to_owned())), ("assignee", None)], "{audit:?}");
        assert!(audit
            .iter()
            .any(|e| e.field == "assignee" && e.value.as_deref() == Some(to.as_str())));
    });
    for a in agents {
        a.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_on_the_phone_clears_the_unread_badge_on_the_desktop() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("state"));
    let desk = relay.inbox("ann", "ann-desk").await;
    let conv = conversation("unread");
    let visitor = relay.visitor_writes(&conv, &web(), "hello?", &dir.path().join("v")).await;
    let (status, claimed) = relay.inbox_post("ann", &format!("conversations/{conv}/claim"), "");
    assert_eq!(status, 200, "{claimed}");
    visitor.send_text("anyone there?").await.unwrap();
    let ann = ParticipantId::new("ann").unwrap();
    wait_inbox(&desk, "two unread on the desktop", |s| s.unread_total(&ann) == 2).await;
    let phone =
        client(&relay, &conv, identity(Role::Agent, "ann", "ann-phone"), &dir.path().join("p"))
            .await;
    converge(&relay, &conv, &[&phone, &visitor], 2).await;
    let last = phone.messages().last().unwrap().id.clone();
    phone.mark_read(&last).await.unwrap();
    wait_inbox(&desk, "the desktop badge cleared", |s| s.unread_total(&ann) == 0).await;
    let (_, page) = relay.inbox_get("ann", "conversations?unread=true");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
    phone.shutdown().await;
    visitor.shutdown().await;
    desk.shutdown().await;
}
