//! The support workflow driven through the relay with simulated time: what a visitor's
//! message sets off, what due timers do, and that running anything twice changes nothing.

use std::sync::Arc;

use edgedesk_core::ids::{DeviceId, MessageId, ParticipantId};
use edgedesk_core::internal_doc::{CaseField, Priority};
use edgedesk_core::message::{Author, Message, MessageKind, Role};
use edgedesk_core::relay::{Output, Relay, WorkflowSetup};
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::store::MemStore;
use edgedesk_core::workflow::config::{FaqRule, KeywordRule, Matcher, WaitStep, WorkspaceConfig};
use edgedesk_core::workflow::profile::VisitorProfile;
use edgedesk_core::workflow::status::{State, Status};
use edgedesk_core::workflow::timers::TimerKind;

mod support;
use support::{offer, peer_info, raw_replica};

const T0: i64 = 1_790_000_000_000;

fn words(w: &[&str]) -> Matcher {
    Matcher::Keywords(w.iter().map(|s| s.to_string()).collect())
}

fn config() -> WorkspaceConfig {
    let mut c = WorkspaceConfig { default_language: "en".into(), ..Default::default() };
    let t = |text: &str| [("en".to_owned(), text.to_owned())].into();
    c.templates.by_name.insert("handoff".into(), t("An agent will be with you shortly."));
    c.templates.by_name.insert("faq_hours".into(), t("We are open 9 to 6."));
    c.templates.by_name.insert("welcome".into(), t("Welcome!"));
    c.auto_replies.welcome = Some("welcome".into());
    c.auto_replies.handoff = Some("handoff".into());
    c.auto_replies.human = Some(words(&["人工", "human"]));
    c.auto_replies.faq = vec![FaqRule {
        matcher: words(&["营业时间", "opening hours"]),
        template: "faq_hours".into(),
    }];
    c.keyword_rules = vec![KeywordRule {
        matcher: words(&["退款", "refund"]),
        add_tags: vec!["billing".into()],
        priority: Some(Priority::High),
    }];
    c.sla.first_response_ms = Some(60_000);
    c.sla.breach_priority = Some(Priority::Urgent);
    c.sla.breach_tag = Some("sla-breached".into());
    c
}

fn relay(cfg: WorkspaceConfig) -> Relay<MemStore> {
    let mut r = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    configure(&mut r, cfg);
    r
}

fn configure(r: &mut Relay<MemStore>, cfg: WorkspaceConfig) {
    r.configure(Some(WorkflowSetup {
        config: Arc::new(cfg),
        version: 1,
        visitor: VisitorProfile { name: Some("Li".into()), ..Default::default() },
        workspace: "ws".into(),
        conversation: "c1".into(),
    }));
}

/// The visitor's message, offered through the sync protocol; the relay's outputs, merged.
fn visitor_says(r: &mut Relay<MemStore>, id: &str, body: &str, now: i64) -> Output {
    says(r, (Role::Visitor, "v1", "Li", "phone"), id, body, now)
}

/// Agent a1's message, as [`visitor_says`].
fn agent_says(r: &mut Relay<MemStore>, id: &str, body: &str, now: i64) -> Output {
    says(r, (Role::Agent, "a1", "Ann", "desk"), id, body, now)
}

fn says(
    r: &mut Relay<MemStore>,
    (role, who, name, device): (Role, &str, &str, &str),
    id: &str,
    body: &str,
    now: i64,
) -> Output {
    let (mut raw, _) = raw_replica(r.doc());
    let m = Message {
        id: MessageId::new(id).unwrap(),
        author: Author { role, id: ParticipantId::new(who).unwrap(), name: name.into() },
        device: DeviceId::new(device).unwrap(),
        kind: MessageKind::Text,
        body: body.into(),
        sent_at: now,
        attachment: None,
    };
    raw.append(&m, now).unwrap();
    let connection = if role == Role::Visitor { 1 } else { 2 };
    offer(r, connection, peer_info(role, who, device), &mut raw, now).unwrap()
}

fn agent_sets_status(r: &mut Relay<MemStore>, status: Status, now: i64) -> Output {
    let (mut raw, _): (SharedDoc, _) = raw_replica(r.doc());
    status.write(&mut raw, now).unwrap();
    offer(r, 2, peer_info(Role::Agent, "a1", "desk"), &mut raw, now).unwrap()
}

fn auto_replies(r: &Relay<MemStore>) -> Vec<Message> {
    r.doc().messages().into_iter().filter(|m| m.kind == MessageKind::AutoReply).collect()
}

fn event_types(out: &Output) -> Vec<String> {
    out.events.iter().map(|e| e.kind.clone()).collect()
}

#[test]
fn a_faq_question_gets_exactly_one_answer_by_the_relay() {
    let mut r = relay(config());
    let out = visitor_says(&mut r, "m1", "What are your opening hours?", T0);
    let replies = auto_replies(&r);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body, "We are open 9 to 6.");
    assert_eq!(replies[0].author.role, Role::Server);
    assert!(r.doc().delivered_at(&replies[0].id).is_some());
    let events = event_types(&out);
    assert_eq!(events.iter().filter(|e| *e == "message.created").count(), 2);
    // The inbox gets both messages, the visitor's and the relay's answer, in order.
    let accepted: Vec<&str> = out.accepted.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(accepted, ["m1", replies[0].id.as_str()]);
}

#[test]
fn a_message_matching_every_rule_still_gets_one_auto_reply() {
    let mut r = relay(config());
    // A human request, a FAQ keyword and a keyword rule at once.
    let _ = visitor_says(&mut r, "m1", "人工! 营业时间? 退款", T0);
    assert_eq!(auto_replies(&r).len(), 1);
    assert_eq!(auto_replies(&r)[0].body, "An agent will be with you shortly.");
    assert!(r.internal().tags().contains("billing"));
    assert_eq!(r.internal().case_field(CaseField::Priority).as_deref(), Some("high"));
    // After the handoff the bot stays quiet, FAQ or not.
    let _ = visitor_says(&mut r, "m2", "opening hours?", T0 + 1_000);
    assert_eq!(auto_replies(&r).len(), 1);
}

#[test]
fn an_unanswerable_question_is_handed_off_once() {
    let mut r = relay(config());
    let mut out = visitor_says(&mut r, "m1", "my parcel is wet", T0);
    out.merge(visitor_says(&mut r, "m2", "hello?", T0 + 1));
    assert_eq!(auto_replies(&r).len(), 1);
    let events = event_types(&out);
    assert_eq!(events.iter().filter(|e| *e == "conversation.handoff").count(), 1);
    let audit = r.internal().audit();
    assert!(audit.iter().any(|e| e.field == "handoff" && e.role == Role::Server));
}

#[test]
fn keyword_rules_tag_and_prioritise_in_chinese_and_english() {
    for body in ["我要退款", "I want a REFUND"] {
        let mut r = relay(config());
        let _ = visitor_says(&mut r, "m1", body, T0);
        let tags = r.internal().tags();
        assert!(tags.contains("billing"), "{body}: {tags:?}");
        assert!(tags.contains("待处理"), "the default to-handle tag: {tags:?}");
        assert_eq!(r.internal().case_field(CaseField::Priority).as_deref(), Some("high"));
    }
}

#[test]
fn the_first_response_sla_breaches_once_and_raises_priority() {
    let mut r = relay(config());
    let said = visitor_says(&mut r, "m1", "hello", T0);
    let timers = r.timers();
    assert_eq!(said.timers, timers, "the output carries the timers after the call");
    assert_eq!(timers[0].kind, TimerKind::FirstResponse);
    assert_eq!(timers[0].due_ms, T0 + 60_000);
    // Not yet due: nothing happens, nothing is produced.
    let early = r.fire_due(T0 + 59_999).unwrap();
    assert!(early.frames.is_empty() && early.events.is_empty() && early.accepted.is_empty());
    assert_eq!(early.timers, timers);
    let fired = r.fire_due(T0 + 60_000).unwrap();
    assert_eq!(r.internal().case_field(CaseField::Priority).as_deref(), Some("urgent"));
    assert!(r.internal().tags().contains("sla-breached"));
    let breach: Vec<_> = fired.events.iter().filter(|e| e.kind == "sla.breached").collect();
    assert_eq!(breach.len(), 1);
    assert_eq!(breach[0].data["message_id"], "m1");
    assert!(fired.timers.iter().all(|t| t.kind != TimerKind::FirstResponse));
    // A re-delivered alarm finds nothing to do.
    let audit_len = r.internal().audit().len();
    let again = r.fire_due(T0 + 61_000).unwrap();
    assert!(again.events.is_empty() && again.frames.is_empty());
    assert_eq!(r.internal().audit().len(), audit_len);
    assert!(r.timers().iter().all(|t| t.kind != TimerKind::FirstResponse));
}

#[test]
fn fired_timers_stay_fired_after_a_restart() {
    let mut r = relay(config());
    let _ = visitor_says(&mut r, "m1", "hello", T0);
    let _ = r.fire_due(T0 + 60_000).unwrap();
    let (shared, internal) = r.into_stores();
    let mut reopened = Relay::open(shared, internal).unwrap();
    configure(&mut reopened, config());
    assert!(reopened.timers().is_empty());
    let out = reopened.fire_due(T0 + 120_000).unwrap();
    assert!(out.events.is_empty() && out.frames.is_empty() && out.timers.is_empty());
}

#[test]
fn waiting_raises_priority_step_by_step() {
    let mut c = config();
    c.sla = Default::default();
    c.priority.waiting = vec![
        WaitStep { after_ms: 1_000, priority: Priority::High },
        WaitStep { after_ms: 5_000, priority: Priority::Urgent },
    ];
    let mut r = relay(c);
    let _ = visitor_says(&mut r, "m1", "hello", T0);
    let _ = r.fire_due(T0 + 1_000).unwrap();
    assert_eq!(r.internal().case_field(CaseField::Priority).as_deref(), Some("high"));
    let _ = r.fire_due(T0 + 5_000).unwrap();
    assert_eq!(r.internal().case_field(CaseField::Priority).as_deref(), Some("urgent"));
}

#[test]
fn a_snoozed_conversation_wakes_up_and_a_visitor_message_reopens_a_resolved_one() {
    let mut r = relay(config());
    let _ = visitor_says(&mut r, "m1", "hello", T0);
    let until = T0 + 30_000;
    let _ = agent_sets_status(
        &mut r,
        Status { state: State::Snoozed, snoozed_until: Some(until) },
        T0 + 1,
    );
    assert_eq!(Status::read(r.doc()).state, State::Snoozed);
    // While snoozed the SLA clock is paused: the only timer is the wake-up.
    assert_eq!(r.timers().iter().map(|t| t.kind).collect::<Vec<_>>(), vec![TimerKind::SnoozeWake]);
    let _ = r.fire_due(until).unwrap();
    assert_eq!(Status::read(r.doc()).state, State::Open);
    let _ = agent_sets_status(
        &mut r,
        Status { state: State::Resolved, snoozed_until: None },
        until + 1,
    );
    let _ = visitor_says(&mut r, "m2", "one more thing", until + 2);
    assert_eq!(Status::read(r.doc()).state, State::Open);
    let audit = r.internal().audit();
    let state_changes: Vec<_> = audit
        .iter()
        .filter(|e| e.field == "status.state")
        .map(|e| (e.role, e.value.clone()))
        .collect();
    assert_eq!(
        state_changes,
        vec![
            (Role::Agent, Some("snoozed".into())),
            (Role::Server, Some("open".into())),
            (Role::Agent, Some("resolved".into())),
            (Role::Server, Some("open".into())),
        ]
    );
}

#[test]
fn the_welcome_message_is_written_once() {
    let mut r = relay(config());
    let _ = r.visitor_joined(T0).unwrap();
    let _ = r.visitor_joined(T0 + 1).unwrap();
    let replies = auto_replies(&r);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body, "Welcome!");
}

/// Always closed, with an off-hours reply that may repeat after an hour of quiet.
fn closed_config() -> WorkspaceConfig {
    WorkspaceConfig::parse(
        r#"{"default_language": "en",
            "business_hours": {"time_zone": "Asia/Shanghai", "weekly": {}},
            "auto_replies": {"off_hours": "closed", "off_hours_quiet_seconds": 3600},
            "templates": {"closed": {"en": "We are closed now."}}}"#,
    )
    .unwrap()
}

#[test]
fn the_off_hours_reply_is_sent_once_in_a_live_chat_and_again_after_a_resolve_or_an_hour_of_quiet() {
    const MIN: i64 = 60_000;
    let mut r = relay(closed_config());
    let closed = |r: &Relay<MemStore>| auto_replies(r).len();
    let _ = visitor_says(&mut r, "m1", "hello?", T0);
    assert_eq!(closed(&r), 1, "the first visitor message outside business hours is answered");
    // An agent answers after hours: the chat is live, and the visitor is not told again that
    // nobody is there, however many times the agent replies.
    for i in 0..3 {
        let at = T0 + (2 * i + 1) * MIN;
        let _ = agent_says(&mut r, &format!("a{i}"), "I am here", at);
        let _ = visitor_says(&mut r, &format!("v{i}"), "thanks", at + MIN);
    }
    assert_eq!(closed(&r), 1, "a live chat hears the off-hours reply once");
    // An hour without an agent message or an off-hours reply: the next message is told again.
    let quiet = T0 + 6 * MIN + 60 * MIN;
    let _ = visitor_says(&mut r, "late", "anyone?", quiet);
    assert_eq!(closed(&r), 2);
    let _ = visitor_says(&mut r, "late2", "anyone at all?", quiet + MIN);
    assert_eq!(closed(&r), 2, "told a minute ago");
    // Resolved: a visitor coming back starts over, whenever that is.
    let _ = agent_says(&mut r, "bye", "Solved, goodbye", quiet + 2 * MIN);
    let _ = agent_sets_status(
        &mut r,
        Status { state: State::Resolved, snoozed_until: None },
        quiet + 3 * MIN,
    );
    let _ = visitor_says(&mut r, "again", "one more question", quiet + 4 * MIN);
    assert_eq!(closed(&r), 3);
    assert!(auto_replies(&r).iter().all(|m| m.body == "We are closed now."));
}

#[test]
fn the_empty_configuration_reopens_and_tags_but_never_answers_by_itself() {
    // What a conversation of a workspace never configured runs (version 0).
    let empty = WorkspaceConfig::parse("{}").unwrap();
    let mut r = relay(empty);
    let _ = r.visitor_joined(T0).unwrap();
    let _ = visitor_says(&mut r, "m1", "人工 退款 hello", T0);
    assert!(auto_replies(&r).is_empty(), "no welcome, no auto-reply");
    assert!(r.timers().is_empty());
    assert_eq!(r.internal().tags().into_iter().collect::<Vec<_>>(), ["待处理"]);
    let _ = agent_says(&mut r, "a1", "Hi", T0 + 1_000);
    assert_eq!(r.internal().tags().into_iter().collect::<Vec<_>>(), ["已回复"]);
    let _ = agent_sets_status(
        &mut r,
        Status { state: State::Resolved, snoozed_until: None },
        T0 + 2_000,
    );
    let _ = visitor_says(&mut r, "m2", "one more thing", T0 + 3_000);
    assert_eq!(Status::read(r.doc()).state, State::Open, "a visitor message reopens");
}

#[test]
fn an_agent_replying_to_an_unassigned_conversation_takes_it_unless_the_workspace_turned_that_off() {
    let assignee = |r: &Relay<MemStore>| r.internal().case_field(CaseField::Assignee);
    let mut r = relay(WorkspaceConfig::parse("{}").unwrap());
    let _ = visitor_says(&mut r, "m1", "hello", T0);
    assert_eq!(assignee(&r), None, "a visitor message assigns nobody");
    let _ = agent_says(&mut r, "a1", "Hi, I can help", T0 + 1_000);
    assert_eq!(assignee(&r).as_deref(), Some("a1"));
    let audit = r.internal().audit();
    assert!(audit.iter().any(|e| e.role == Role::Server
        && e.field == "assignee"
        && e.value.as_deref() == Some("a1")));
    // Assigned: another agent's reply does not take it away.
    let _ = says(&mut r, (Role::Agent, "a2", "Bo", "desk2"), "b1", "me too", T0 + 2_000);
    assert_eq!(assignee(&r).as_deref(), Some("a1"));

    let off = WorkspaceConfig::parse(r#"{"routing": {"assign_on_reply": false}}"#).unwrap();
    assert_eq!(off.to_json(false)["routing"]["assign_on_reply"], false, "kept when written back");
    let mut r = relay(off);
    let _ = visitor_says(&mut r, "m1", "hello", T0);
    let _ = agent_says(&mut r, "a1", "Hi", T0 + 1_000);
    assert_eq!(assignee(&r), None);
}

#[test]
fn without_a_configuration_the_relay_only_relays() {
    let mut r = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let out = visitor_says(&mut r, "m1", "人工 退款", T0);
    assert!(auto_replies(&r).is_empty());
    assert!(r.internal().tags().is_empty());
    assert!(r.timers().is_empty());
    assert!(out.events.is_empty() && out.timers.is_empty());
    // The message still goes to the inbox.
    assert_eq!(out.accepted.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m1"]);
}

#[test]
fn a_status_outside_the_lifecycle_is_refused() {
    use edgedesk_core::automerge::transaction::Transactable;
    let mut r = relay(config());
    for (key, value) in [("state", "closed"), ("colour", "red")] {
        let (mut raw, _): (SharedDoc, _) = raw_replica(r.doc());
        let status = raw.status_obj().clone();
        let mut tx = raw.automerge_mut().transaction();
        tx.put(&status, key, value).unwrap();
        tx.commit();
        let err = offer(&mut r, 2, peer_info(Role::Agent, "a1", "desk"), &mut raw, T0).unwrap_err();
        assert!(err.to_string().contains("rule field-bounds"), "{err}");
        assert_eq!(err.close_code(), 1008);
        // The relay reloads after a refusal, as the Durable Object does.
        let (shared, internal) = r.into_stores();
        r = Relay::open(shared, internal).unwrap();
        assert_eq!(Status::read(r.doc()).state, State::Open);
    }
}

/// Two agents' replicas set the same fields concurrently (neither saw the other's write).
#[test]
fn concurrent_case_writes_are_all_accepted_and_all_audited() {
    use edgedesk_core::internal_doc::InternalDoc;
    let mut r = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let _ = visitor_says(&mut r, "m1", "hello", T0);
    let (mut desk, _): (SharedDoc, _) = raw_replica(r.doc());
    let (mut phone, _): (SharedDoc, _) = raw_replica(r.doc());
    let (mut desk_i, _): (InternalDoc, _) = raw_replica(r.internal());
    let (mut phone_i, _): (InternalDoc, _) = raw_replica(r.internal());
    Status { state: State::Pending, snoozed_until: None }.write(&mut desk, T0).unwrap();
    Status { state: State::Resolved, snoozed_until: None }.write(&mut phone, T0).unwrap();
    desk_i.set_case(CaseField::Assignee, Some("a1"), T0).unwrap();
    phone_i.set_case(CaseField::Assignee, Some("a2"), T0).unwrap();
    desk_i.add_tag("vip", T0).unwrap();
    phone_i.add_tag("vip", T0).unwrap();
    for (who, dev, shared, internal) in
        [("a1", "desk", &mut desk, &mut desk_i), ("a2", "phone", &mut phone, &mut phone_i)]
    {
        let _ = offer(&mut r, 7, peer_info(Role::Agent, who, dev), shared, T0 + 1).unwrap();
        let _ = offer(&mut r, 7, peer_info(Role::Agent, who, dev), internal, T0 + 1).unwrap();
    }
    let audit = r.internal().audit();
    let has = |dev: &str, field: &str, value: &str| {
        audit.iter().any(|e| {
            e.device.as_str() == dev && e.field == field && e.value.as_deref() == Some(value)
        })
    };
    for (dev, field, value) in [
        ("desk", "status.state", "pending"),
        ("phone", "status.state", "resolved"),
        ("desk", "assignee", "a1"),
        ("phone", "assignee", "a2"),
        ("desk", "tags", "vip"),
        ("phone", "tags", "vip"),
    ] {
        assert!(has(dev, field, value), "{dev} {field}={value} missing from {audit:?}");
    }
}

/// A write that loses a conflict is stored and synced all the same, so it is checked too.
#[test]
fn a_losing_concurrent_write_is_still_validated() {
    use edgedesk_core::automerge::transaction::Transactable;
    let mut r = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    let (mut honest, _): (SharedDoc, _) = raw_replica(r.doc());
    let (mut hostile, _): (SharedDoc, _) = raw_replica(r.doc());
    Status { state: State::Pending, snoozed_until: None }.write(&mut honest, T0).unwrap();
    let _ = offer(&mut r, 1, peer_info(Role::Agent, "a1", "desk"), &mut honest, T0).unwrap();
    let status = hostile.status_obj().clone();
    let mut tx = hostile.automerge_mut().transaction();
    tx.put(&status, "state", "x".repeat(5000)).unwrap();
    tx.commit();
    let err =
        offer(&mut r, 2, peer_info(Role::Agent, "a2", "phone"), &mut hostile, T0).unwrap_err();
    assert!(err.to_string().contains("rule field-bounds"), "{err}");
}
