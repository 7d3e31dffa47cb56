//! The outbox on real SQLite: queued once, handed out in order and in batches, retried on the
//! webhook schedule, dead after the last attempt or at once when retrying cannot help, bodies
//! gone once finished, finished rows forgotten after the retention.

use super::*;
use crate::at_rest::DataKey;
use crate::sql::sqlite::Sqlite;

const T: i64 = 1_800_000_000_000;

fn cipher() -> ChunkCipher {
    ChunkCipher::new(&DataKey::generate().unwrap(), "ws/c1")
}

fn delivery(event: &str, endpoint: &str) -> Delivery {
    Delivery {
        endpoint_id: endpoint.into(),
        event_id: event.into(),
        event_type: "message.created".into(),
        body: format!(r#"{{"id":"{event}","text":"我要退款"}}"#),
    }
}

fn body_bytes(sql: &Sqlite, event: &str) -> usize {
    let rows = sql
        .exec("SELECT length(body) FROM webhook_outbox WHERE event_id = ?", vec![event.into()])
        .unwrap();
    usize::try_from(single_integer(&rows).unwrap()).unwrap()
}

#[test]
fn an_event_is_queued_once_per_endpoint_even_when_produced_again() {
    let (outbox, c) = (Outbox::new(Sqlite::memory()).unwrap(), cipher());
    let batch = [delivery("e1", "crm"), delivery("e1", "bi"), delivery("e2", "crm")];
    assert_eq!(outbox.enqueue(&batch, &c, T).unwrap(), 3);
    assert_eq!(outbox.enqueue(&batch, &c, T + 1).unwrap(), 0, "a replay adds nothing");
    let due = outbox.due(T, &c).unwrap();
    assert_eq!(due.len(), 3);
    assert_eq!(due[0].body.as_deref(), Some(r#"{"id":"e1","text":"我要退款"}"#));
    // Delivered, then produced again within the retention: still not queued again.
    outbox.record(&due[0], Ok(()), T + 2, 0).unwrap();
    assert_eq!(outbox.enqueue(&batch[..1], &c, T + 3).unwrap(), 0);
    assert_eq!(outbox.next_due().unwrap(), Some(T));
}

#[test]
fn failures_retry_on_the_webhook_schedule_until_the_last_attempt_then_die() {
    let (sql, c) = (Sqlite::memory(), cipher());
    let outbox = Outbox::new(sql).unwrap();
    outbox.enqueue(&[delivery("e1", "crm")], &c, T).unwrap();
    let mut now = T;
    for attempt in 1..webhook::MAX_ATTEMPTS {
        let due = outbox.due(now, &c).unwrap();
        assert_eq!(due.len(), 1, "attempt {attempt} is due at {now}");
        assert_eq!(due[0].attempts, attempt - 1);
        let settled = outbox.record(&due[0], Err(Failure::Status(503)), now, 0).unwrap();
        let wait = webhook::backoff(attempt, 0).unwrap();
        assert_eq!(settled, Settled::Retrying(now + wait));
        assert!(outbox.due(now + wait - 1, &c).unwrap().is_empty(), "not before its time");
        assert_eq!(outbox.next_due().unwrap(), Some(now + wait));
        now += wait;
    }
    let last = outbox.due(now, &c).unwrap();
    assert_eq!(outbox.record(&last[0], Err(Failure::Timeout), now, 0).unwrap(), Settled::Dead);
    assert_eq!(outbox.next_due().unwrap(), None);
    assert_eq!(outbox.counts().unwrap(), Counts { pending: 0, delivered: 0, dead: 1 });
}

#[test]
fn a_removed_endpoint_or_an_unopenable_body_dies_at_once_and_bodies_go_when_finished() {
    let (outbox, c) = (Outbox::new(Sqlite::memory()).unwrap(), cipher());
    let batch = [delivery("e1", "gone"), delivery("e2", "crm"), delivery("e3", "crm")];
    outbox.enqueue(&batch, &c, T).unwrap();
    let due = outbox.due(T, &c).unwrap();
    let gone = outbox.record(&due[0], Err(Failure::EndpointRemoved), T, 0).unwrap();
    assert_eq!(gone, Settled::Dead);
    assert_eq!(outbox.record(&due[1], Ok(()), T, 0).unwrap(), Settled::Delivered);
    outbox.record(&due[2], Err(Failure::Network), T, 0).unwrap();
    assert_eq!(body_bytes(&outbox.sql, "e1"), 0, "a dead row keeps no body");
    assert_eq!(body_bytes(&outbox.sql, "e2"), 0, "a delivered row keeps no body");
    assert!(body_bytes(&outbox.sql, "e3") > 0, "a retried row keeps its body");
    // Under another key nothing opens: handed out without a body, for the Worker to settle.
    let other = outbox.due(T + 10 * 60_000, &cipher()).unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].body, None);
    assert_eq!(outbox.record(&other[0], Err(Failure::Unsealable), T, 0).unwrap(), Settled::Dead);
}

#[test]
fn due_rows_come_oldest_first_in_batches_and_finished_ones_are_forgotten_after_retention() {
    let (outbox, c) = (Outbox::new(Sqlite::memory()).unwrap(), cipher());
    for i in 0..(BATCH + 5) {
        let at = T + i64::try_from(i).unwrap();
        outbox.enqueue(&[delivery(&format!("e{i:02}"), "crm")], &c, at).unwrap();
    }
    let late = T + 1_000;
    let first = outbox.due(late, &c).unwrap();
    assert_eq!(first.len(), BATCH);
    assert_eq!(first[0].event_id, "e00");
    for d in &first {
        outbox.record(d, Ok(()), late, 0).unwrap();
    }
    let rest = outbox.due(late, &c).unwrap();
    assert_eq!(rest.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>()[0], "e24");
    assert_eq!(rest.len(), 5);
    assert_eq!(outbox.counts().unwrap().delivered, i64::try_from(BATCH).unwrap());
    // After the retention the delivered rows are forgotten (and could be queued again).
    let _ = outbox.due(late + RETENTION_MS + 1, &c).unwrap();
    assert_eq!(outbox.counts().unwrap().delivered, 0);
    assert_eq!(outbox.counts().unwrap().pending, 5);
}

#[test]
fn the_schedule_spreads_retries_with_jitter_but_never_past_the_base_wait() {
    let base = webhook::backoff(3, 0).unwrap();
    for jitter in [1, 77, u32::MAX] {
        let Settled::Retrying(at) = settle(3, &Err(Failure::Network), T, jitter) else {
            panic!("a network failure is retried")
        };
        assert!(at <= T + base && at >= T + base - base / 5, "{at}");
    }
    assert_eq!(settle(webhook::MAX_ATTEMPTS, &Err(Failure::Network), T, 0), Settled::Dead);
}

#[test]
fn the_due_time_is_read_once_and_follows_queueing_and_settling_in_every_clone() {
    use crate::sql::sqlite::Logged;
    let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sql = std::rc::Rc::new(Logged { db: Sqlite::memory(), log: log.clone() });
    let (outbox, c) = (Outbox::new(sql).unwrap(), cipher());
    let alarm_side = outbox.clone();
    let reads = || log.borrow().iter().filter(|s| s.starts_with("SELECT MIN")).count();
    assert_eq!(outbox.next_due().unwrap(), None);
    assert_eq!(outbox.next_due().unwrap(), None);
    assert_eq!(reads(), 1, "asked after every message, read once");
    outbox.enqueue(&[delivery("e1", "crm")], &c, T).unwrap();
    assert_eq!(alarm_side.next_due().unwrap(), Some(T), "a clone sees the queued delivery");
    let due = alarm_side.due(T, &c).unwrap();
    let settled = alarm_side.record(&due[0], Err(Failure::Status(503)), T, 0).unwrap();
    let Settled::Retrying(at) = settled else { panic!("{settled:?}") };
    assert_eq!(outbox.next_due().unwrap(), Some(at), "the original sees the retry");
    alarm_side.record(&due[0], Ok(()), at, 0).unwrap();
    assert_eq!(outbox.next_due().unwrap(), None);
    assert_eq!(outbox.next_due().unwrap(), None);
    assert_eq!(reads(), 4, "read again only after a change");
}
