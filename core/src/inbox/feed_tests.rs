//! The feed on real SQLite: versions, acknowledgement, re-sending, unreadable rows.

use super::*;
use crate::at_rest::DataKey;
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::inbox::push::PushAck;
use crate::message::{Author, MessageKind, Role};
use crate::sql::sqlite::Sqlite;

fn cipher() -> ChunkCipher {
    ChunkCipher::new(&DataKey::generate().unwrap(), "ws/c1")
}

fn summary(unread: u32) -> Summary {
    Summary {
        unread,
        waiting_since: Some(1),
        last_message_at: Some(1),
        last_preview: Some("你好".into()),
        created_at: 1,
        messages: unread,
        ..Summary::blank("c1")
    }
}

fn message(id: &str, body: &str) -> Message {
    Message {
        id: MessageId::new(id).unwrap(),
        author: Author {
            role: Role::Visitor,
            id: ParticipantId::new("v1").unwrap(),
            name: "V".into(),
        },
        device: DeviceId::new("phone").unwrap(),
        kind: MessageKind::Text,
        body: body.into(),
        sent_at: 1,
        attachment: None,
    }
}

#[test]
fn a_changed_summary_gets_the_next_version_and_an_unchanged_one_none() {
    let (feed, c) = (InboxFeed::new(Sqlite::memory()).unwrap(), cipher());
    let first = feed.record(&c, None, summary(1), &[], |_| 5).unwrap().unwrap();
    assert_eq!(first.version, 1);
    let state = FeedState { summary: first, acked: 0 };
    assert_eq!(feed.record(&c, Some(&state), summary(1), &[], |_| 5).unwrap(), None);
    let second = feed.record(&c, Some(&state), summary(2), &[], |_| 5).unwrap().unwrap();
    assert_eq!(second.version, 2);
    // What the conversation reads back when it opens again.
    assert_eq!(feed.state(&c).unwrap(), Some(FeedState { summary: second, acked: 0 }));
}

#[test]
fn what_the_inbox_did_not_acknowledge_is_pushed_again_and_what_it_did_is_not() {
    let (feed, c) = (InboxFeed::new(Sqlite::memory()).unwrap(), cipher());
    let msgs = [message("m1", "我要退款"), message("m2", "refund please")];
    let s = feed.record(&c, None, summary(2), &msgs, |_| 7).unwrap().unwrap();
    let mut state = FeedState { summary: s, acked: 0 };
    let push = feed.pending(&c, Some(&state)).unwrap().expect("owed");
    assert_eq!(push.summary.version, 1);
    let texts: Vec<_> = push.messages.iter().map(|m| (m.seq, m.text.as_str(), m.at)).collect();
    assert_eq!(texts, [(1, "我要退款", 7), (2, "refund please", 7)]);
    // The push was lost: the same is owed again.
    assert_eq!(feed.pending(&c, Some(&state)).unwrap(), Some(push.clone()));
    // The inbox acknowledged the summary and the first message only.
    feed.ack(PushAck { version: 1, through: 1 }).unwrap();
    state.acked = 1;
    let rest = feed.pending(&c, Some(&state)).unwrap().expect("one message owed");
    assert_eq!(rest.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [2]);
    feed.ack(PushAck { version: 1, through: 2 }).unwrap();
    assert_eq!(feed.pending(&c, Some(&state)).unwrap(), None, "nothing owed");
    assert_eq!(feed.counts().unwrap(), (1, 1, 0));
    // A later message is owed on its own.
    feed.record(&c, Some(&state), summary(2), &[message("m3", "x")], |_| 8).unwrap();
    let next = feed.pending(&c, Some(&state)).unwrap().unwrap();
    assert_eq!(next.messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m3"]);
}

#[test]
fn the_alarm_pushes_again_while_the_inbox_is_owed_anything() {
    let acked = FeedState { summary: Summary { version: 3, ..summary(1) }, acked: 3 };
    let behind = FeedState { acked: 2, ..acked.clone() };
    assert_eq!(next_push(false, None, 100), None);
    assert_eq!(next_push(false, Some(&acked), 100), None);
    assert_eq!(next_push(true, Some(&acked), 100), Some(100 + PUSH_RETRY_MS));
    assert_eq!(next_push(false, Some(&behind), 100), Some(100 + PUSH_RETRY_MS));
}

#[test]
fn a_queued_message_that_no_longer_opens_is_dropped_instead_of_blocking_the_feed() {
    let feed = InboxFeed::new(Sqlite::memory()).unwrap();
    let s = feed.record(&cipher(), None, summary(1), &[message("m1", "x")], |_| 1).unwrap();
    // Another key: neither the summary nor the message opens.
    let other = cipher();
    assert!(feed.state(&other).is_err(), "a summary under another key is an error, not None");
    let state = FeedState { summary: s.unwrap(), acked: 1 };
    assert_eq!(feed.pending(&other, Some(&state)).unwrap(), None);
    assert_eq!(feed.counts().unwrap().2, 0, "the unreadable row is gone");
}

/// A database several feed objects (a conversation object's lives) and the test share.
type Shared = std::rc::Rc<crate::sql::sqlite::Logged>;

/// One accepted message through record, push and acknowledgement, as the conversation runs it.
fn one_message(feed: &InboxFeed<Shared>, c: &ChunkCipher, state: &mut FeedState, n: u32) {
    let id = format!("m{n}");
    let next = feed.record(c, Some(state), summary(n), &[message(&id, "在吗")], |_| 1).unwrap();
    state.summary = next.expect("a new unread count is a new summary");
    let push = feed.pending(c, Some(state)).unwrap().expect("owed");
    assert_eq!(push.messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let through = push.messages.last().map(|m| m.seq).unwrap();
    feed.ack(PushAck { version: state.summary.version, through }).unwrap();
    state.acked = state.summary.version;
    assert_eq!(feed.pending(c, Some(state)).unwrap(), None);
}

#[test]
fn a_message_costs_the_same_few_writes_and_no_read_however_many_came_before() {
    let db = std::rc::Rc::new(crate::sql::sqlite::Logged::memory());
    let (feed, c) = (InboxFeed::new(db.clone()).unwrap(), cipher());
    let first = feed.record(&c, None, summary(0), &[], |_| 1).unwrap().unwrap();
    let mut state = FeedState { summary: first, acked: 0 };
    for n in 1..=3 {
        one_message(&feed, &c, &mut state, n);
    }
    db.take();
    one_message(&feed, &c, &mut state, 4);
    let early = db.take();
    for n in 5..=300 {
        one_message(&feed, &c, &mut state, n);
    }
    db.take();
    one_message(&feed, &c, &mut state, 301);
    let late = db.take();
    assert_eq!(early, late, "the statements of message 4 and of message 301");
    assert_eq!(late.len(), 4, "queue the message, store the summary, record the ack: {late:?}");
    assert!(late.iter().all(|s| !s.starts_with("SELECT")), "no read on the way: {late:?}");
}

#[test]
fn a_next_life_pushes_what_the_previous_one_queued_and_numbers_on_after_it() {
    let db = std::rc::Rc::new(crate::sql::sqlite::Logged::memory());
    let c = cipher();
    let before = InboxFeed::new(db.clone()).unwrap();
    let msgs = [message("m1", "一"), message("m2", "二")];
    let s = before.record(&c, None, summary(2), &msgs, |_| 1).unwrap().unwrap();
    drop(before);
    let after = InboxFeed::new(db).unwrap();
    let state = after.state(&c).unwrap().expect("the summary was stored");
    assert_eq!(state, FeedState { summary: s, acked: 0 });
    let push = after.pending(&c, Some(&state)).unwrap().expect("owed");
    assert_eq!(push.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    after.record(&c, Some(&state), summary(3), &[message("m3", "三")], |_| 2).unwrap();
    let push = after.pending(&c, Some(&state)).unwrap().expect("owed");
    assert_eq!(push.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn a_queue_longer_than_one_push_goes_out_in_order_over_several() {
    let (feed, c) = (InboxFeed::new(Sqlite::memory()).unwrap(), cipher());
    let s = feed.record(&c, None, summary(0), &[], |_| 1).unwrap().unwrap();
    let mut state = FeedState { summary: s, acked: 0 };
    // Read once while empty, so the queue is mirrored, then overflow it.
    assert!(feed.pending(&c, Some(&state)).unwrap().is_some());
    let total = MAX_PUSH_MESSAGES + 5;
    for n in 0..total {
        let m = message(&format!("m{n}"), "x");
        if let Some(s) = feed.record(&c, Some(&state), summary(1), &[m], |_| 1).unwrap() {
            state.summary = s;
        }
    }
    let mut seen = Vec::new();
    while let Some(push) = feed.pending(&c, Some(&state)).unwrap() {
        assert!(push.messages.len() <= MAX_PUSH_MESSAGES);
        let through = push.messages.last().map_or(0, |m| m.seq);
        seen.extend(push.messages.into_iter().map(|m| m.seq));
        feed.ack(PushAck { version: state.summary.version, through }).unwrap();
        state.acked = state.summary.version;
    }
    assert_eq!(seen, (1..=i64::try_from(total).unwrap()).collect::<Vec<_>>());
}
