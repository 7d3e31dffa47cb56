//! The relay's contract with its owner (issue 15, acceptance 1): every entry point returns one
//! [`Output`] holding everything the call produced, and nothing is left behind in the relay
//! to be pulled later. Each test asserts a call's whole output, then drops the relay, opens
//! it again from storage and checks that what the output said happened is there.

use std::sync::Arc;

use edgedesk_core::automerge::ReadDoc;
use edgedesk_core::frame::FrameType;
use edgedesk_core::ids::{ParticipantId, TeamId};
use edgedesk_core::internal_doc::CaseField;
use edgedesk_core::message::{MessageKind, Role};
use edgedesk_core::relay::{Assignment, Output, Relay, WorkflowSetup};
use edgedesk_core::store::MemStore;
use edgedesk_core::workflow::config::{FaqRule, Matcher, WorkspaceConfig};
use edgedesk_core::workflow::timers::TimerKind;

mod support;
use support::sim::{device, info, Device, NOW};

fn config() -> Arc<WorkspaceConfig> {
    let mut c = WorkspaceConfig { default_language: "zh".into(), ..Default::default() };
    let t = |text: &str| [("zh".to_owned(), text.to_owned())].into();
    c.templates.by_name.insert("welcome".into(), t("您好，欢迎咨询"));
    c.templates.by_name.insert("hours".into(), t("营业时间 9:00-18:00"));
    c.auto_replies.welcome = Some("welcome".into());
    c.auto_replies.faq = vec![FaqRule {
        matcher: Matcher::Keywords(vec!["营业时间".into()]),
        template: "hours".into(),
    }];
    c.sla.first_response_ms = Some(60_000);
    c.sla.breach_tag = Some("sla-breached".into());
    Arc::new(c)
}

fn configure(relay: &mut Relay<MemStore>) {
    relay.configure(Some(WorkflowSetup {
        config: config(),
        version: 1,
        visitor: Default::default(),
        workspace: "ws".into(),
        conversation: "c1".into(),
    }));
}

fn relay() -> Relay<MemStore> {
    let mut relay = Relay::open(MemStore::default(), MemStore::default()).unwrap();
    configure(&mut relay);
    relay
}

/// Drops `relay` and opens a new one from its storage, as the Durable Object does after a
/// crash or an eviction.
fn reopened(relay: Relay<MemStore>) -> Relay<MemStore> {
    let (shared, internal) = relay.into_stores();
    let mut relay = Relay::open(shared, internal).unwrap();
    configure(&mut relay);
    relay
}

fn types(out: &Output, peer: u64) -> Vec<u8> {
    out.frames_to(peer).into_iter().map(|f| f[0]).collect()
}

fn kinds(out: &Output) -> Vec<&str> {
    out.events.iter().map(|e| e.kind.as_str()).collect()
}

/// Connects a fast-path visitor device (peer 1) and brings it in sync; returns it.
fn visitor_in_sync(relay: &mut Relay<MemStore>) -> Device {
    let mut d = device(1, Role::Visitor, "v1", "v1-phone");
    connect(relay, &mut d);
    d
}

/// Connects `d` as peer 1 and runs the network until both sides are quiet.
fn connect(relay: &mut Relay<MemStore>, d: &mut Device) {
    let mut to_device = relay.connect(1, info(d)).frames;
    let mut to_relay = d.session.connected();
    while !to_device.is_empty() || !to_relay.is_empty() {
        for f in std::mem::take(&mut to_relay) {
            to_device.extend(relay.receive(1, &f, NOW).unwrap().frames);
        }
        for o in std::mem::take(&mut to_device) {
            for f in o.frames {
                d.session.handle_frame(&f).unwrap();
            }
        }
        to_relay = d.session.poll_frames();
    }
}

#[test]
fn connect_outputs_the_opening_sync_message_and_the_timers_and_nothing_else() {
    let mut relay = relay();
    let d = device(1, Role::Visitor, "v1", "v1-phone");
    let out = relay.connect(1, info(&d));
    assert_eq!(out.frames.len(), 1);
    assert_eq!(types(&out, 1), [FrameType::SyncShared as u8]);
    assert!(out.events.is_empty() && out.accepted.is_empty() && out.timers.is_empty());
    // An agent is offered the internal document too.
    let agent = device(2, Role::Agent, "a1", "a1-desk");
    let out = relay.connect(2, info(&agent));
    assert_eq!(types(&out, 2), [FrameType::SyncShared as u8, FrameType::SyncInternal as u8]);
}

#[test]
fn a_visitors_question_outputs_receipt_ack_auto_reply_events_and_the_sla_timer_in_one_value() {
    let mut relay = relay();
    let mut d = visitor_in_sync(&mut relay);
    let sent = d.session.send_text("请问营业时间？", NOW).unwrap();
    let frames = d.session.poll_frames();
    assert_eq!(frames.len(), 1, "one changes frame");
    let out = relay.receive(1, &frames[0], NOW).unwrap();

    // Accepted, in order: the question, then the relay's answer.
    assert_eq!(out.accepted.len(), 2);
    assert_eq!(out.accepted[0], sent);
    let reply = &out.accepted[1];
    assert_eq!((reply.kind, reply.body.as_str()), (MessageKind::AutoReply, "营业时间 9:00-18:00"));
    // One webhook event per message, named by it.
    assert_eq!(kinds(&out), ["message.created", "message.created"]);
    assert_eq!(out.events[0].id, format!("message.created:{}", sent.id));
    assert_eq!(out.events[1].id, format!("message.created:{}", reply.id));
    // The first-response clock runs from the question.
    assert_eq!(out.timers.len(), 1);
    assert_eq!(
        (out.timers[0].kind, out.timers[0].due_ms),
        (TimerKind::FirstResponse, NOW + 60_000)
    );
    // Frames for the sender only (nobody else is connected): the receipt and the reply as
    // changes, then the ack of its frame.
    assert!(out.frames.iter().all(|o| o.to == 1));
    assert_eq!(types(&out, 1), [FrameType::ChangesShared as u8, FrameType::Ack as u8]);

    // Nothing was left behind: a call that produces nothing outputs nothing.
    let quiet = relay.connect(3, info(&device(3, Role::Visitor, "v1", "v1-tablet")));
    assert!(quiet.events.is_empty() && quiet.accepted.is_empty());

    // Everything the output said happened survives the relay being dropped.
    let again = reopened(relay);
    for m in &out.accepted {
        assert!(again.doc().messages().contains(m), "{} lost", m.id);
        assert!(again.doc().delivered_at(&m.id).is_some(), "{} lost its receipt", m.id);
    }
    assert_eq!(again.timers(), out.timers);
    let (_, acked) = edgedesk_core::ack::decode(&out.frames_to(1)[1][1..]).unwrap();
    let held = again.doc().automerge().get_missing_deps(&acked);
    assert!(held.is_empty(), "the ack named changes the store does not hold");
}

#[test]
fn a_due_timer_outputs_its_events_and_the_remaining_timers_and_stays_fired_after_a_restart() {
    let mut relay = relay();
    let mut d = visitor_in_sync(&mut relay);
    d.session.send_text("在吗", NOW).unwrap();
    for f in d.session.poll_frames() {
        let _ = relay.receive(1, &f, NOW).unwrap();
    }
    let early = relay.fire_due(NOW + 59_999).unwrap();
    assert_eq!(early.frames.len() + early.events.len() + early.accepted.len(), 0);
    assert_eq!(early.timers, relay.timers());

    let out = relay.fire_due(NOW + 60_000).unwrap();
    assert_eq!(kinds(&out), ["sla.breached"]);
    assert!(out.accepted.is_empty(), "a breach writes no message");
    assert!(out.timers.iter().all(|t| t.kind != TimerKind::FirstResponse));
    // The breach tag lives in the internal document and the only peer is a visitor.
    assert!(out.frames.is_empty(), "{:?}", out.frames);

    let mut again = reopened(relay);
    assert!(again.internal().tags().contains("sla-breached"));
    assert_eq!(again.timers(), out.timers);
    let rerun = again.fire_due(NOW + 60_000).unwrap();
    assert!(rerun.events.is_empty(), "a re-delivered alarm raised the breach twice");
}

#[test]
fn a_visitor_joining_outputs_the_welcome_message_once() {
    let mut relay = relay();
    let out = relay.visitor_joined(NOW).unwrap();
    assert_eq!(out.accepted.len(), 1);
    assert_eq!(out.accepted[0].body, "您好，欢迎咨询");
    assert_eq!(kinds(&out), ["message.created"]);
    assert!(out.frames.is_empty(), "nobody is connected yet");
    assert!(out.timers.is_empty(), "a welcome starts no clock");
    let mut again = reopened(relay);
    assert!(again.doc().messages().contains(&out.accepted[0]));
    assert_eq!(again.visitor_joined(NOW + 1).unwrap(), Output::default());
}

#[test]
fn an_assignment_outputs_the_agents_frames_and_survives_a_restart() {
    let mut relay = relay();
    let _ = visitor_in_sync(&mut relay);
    let agent = device(2, Role::Agent, "a1", "a1-desk");
    let _ = relay.connect(2, info(&agent));
    let order = Assignment {
        assignee: Some(Some(ParticipantId::new("a1").unwrap())),
        team: Some(Some(TeamId::new("billing").unwrap())),
        by: None,
        only_if_unassigned: true,
    };
    let out = relay.assign(&order, NOW).unwrap().unwrap();
    assert!(out.events.is_empty() && out.accepted.is_empty());
    assert_eq!(types(&out, 2), [FrameType::SyncInternal as u8], "the agent's internal sync");
    assert!(out.frames_to(1).is_empty(), "nothing internal for the visitor");
    let again = reopened(relay);
    assert_eq!(again.internal().case_field(CaseField::Assignee).as_deref(), Some("a1"));
    assert_eq!(again.internal().case_field(CaseField::Team).as_deref(), Some("billing"));
}

#[test]
fn a_call_that_fails_outputs_nothing_and_leaves_nothing_for_the_next_call() {
    let mut relay = relay();
    let mut d = visitor_in_sync(&mut relay);
    let heads = relay.doc().heads();
    // The disk refuses the write after the workflow answered the question (reply, events).
    let (mut shared, internal) = relay.into_stores();
    shared.fail_writes = true;
    let mut relay = Relay::open(shared, internal).unwrap();
    configure(&mut relay);
    d.session.disconnected();
    connect(&mut relay, &mut d);
    d.session.send_text("请问营业时间？", NOW).unwrap();
    let f = d.session.poll_frames();
    let err = relay.receive(1, &f[0], NOW).unwrap_err();
    assert_eq!(err.close_code(), 1011, "{err}");
    // The same relay, not reloaded: the failed call's webhook events and messages are gone,
    // not waiting for the next call to hand them over as if they had been stored.
    let next = relay.connect(5, info(&device(5, Role::Visitor, "v1", "v1-tablet")));
    assert!(next.events.is_empty(), "events of a write that failed: {:?}", next.events);
    assert!(next.accepted.is_empty(), "messages of a write that failed");
    let (mut shared, internal) = relay.into_stores();
    shared.fail_writes = false;
    assert_eq!(Relay::open(shared, internal).unwrap().doc().heads(), heads);
}
