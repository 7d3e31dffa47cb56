//! The conversation's webhook outbox: deliveries queued in its SQLite next to the documents,
//! posted from the Durable Object's alarm, so an endpoint that is slow or down never holds up
//! the conversation and nothing queued is lost when the object is evicted or workerd dies.
//!
//! Everything but the posting lives here, under native tests on SQLite:
//! - [`Outbox::enqueue`] is synchronous, so a caller that also writes the document change
//!   behind the events gets both in one implicit storage transaction. It inserts each (event
//!   id, endpoint id) once: an event produced again (a re-delivered alarm, a replayed change)
//!   is ignored, even after it was delivered, for [`RETENTION_MS`].
//! - [`Outbox::due`] hands out what is due (at most [`BATCH`], oldest first), bodies opened;
//!   the Worker posts them and reports each outcome to [`Outbox::record`], which moves the
//!   row on: delivered, retried later per [`webhook::backoff`], or dead after the last attempt.
//!   A crash between a post and its record sends it again: delivery is at least once and
//!   receivers deduplicate on the event id.
//! - Bodies hold message text, so they are sealed at rest with the conversation's data key
//!   (bound to their event and endpoint) and dropped once the row is delivered or dead.
//!
//! Nothing here logs: outcomes are recorded as status codes and error classes, never bodies.

use crate::at_rest::ChunkCipher;
use crate::sql::{single_integer, Sql, SqlError, SqlValue};
use crate::webhook::{self, Delivery};

const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS webhook_outbox (
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    last_error TEXT,
    PRIMARY KEY (event_id, endpoint_id)
)",
    "CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (state, next_at)",
];

/// What sealed bodies are bound to (`ChunkCipher::seal_record`).
const PURPOSE: &str = "webhook";
/// How long delivered and dead rows are kept (without their bodies) so the same event is
/// not queued again.
pub const RETENTION_MS: i64 = 7 * 24 * 3_600_000;
/// Rows one [`Outbox::due`] call hands out; the rest stay due for the next alarm.
pub const BATCH: usize = 24;

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const DEAD: &str = "dead";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("webhook outbox: {0}")]
    Sql(#[from] SqlError),
    #[error("webhook outbox: cannot seal a body: {0}")]
    Seal(String),
    #[error("webhook outbox: malformed row ({0} columns)")]
    Malformed(usize),
}

/// Why an attempt failed, as recorded in `last_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The endpoint answered outside 2xx (redirects are not followed).
    Status(u16),
    Timeout,
    Network,
    /// The endpoint is no longer in the workspace configuration.
    EndpointRemoved,
    /// The stored body did not open with the conversation's key.
    Unsealable,
}

impl Failure {
    pub fn code(&self) -> String {
        match self {
            Failure::Status(s) => format!("http_{s}"),
            Failure::Timeout => "timeout".to_owned(),
            Failure::Network => "network".to_owned(),
            Failure::EndpointRemoved => "endpoint_removed".to_owned(),
            Failure::Unsealable => "unsealable".to_owned(),
        }
    }

    /// Retrying cannot help these.
    fn is_final(&self) -> bool {
        matches!(self, Failure::EndpointRemoved | Failure::Unsealable)
    }
}

/// A due delivery, body opened (or `None` if it no longer opens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub event_id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub body: Option<String>,
    pub attempts: u32,
}

/// What one [`Outbox::record`] made of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    /// Pending again, due at this time (ms).
    Retrying(i64),
    Dead,
}

/// The next state of a delivery after its `attempts`-th attempt ended at `now_ms` with
/// `outcome`; `jitter` spreads retries (any value; 0 for none).
pub fn settle(attempts: u32, outcome: &Result<(), Failure>, now_ms: i64, jitter: u32) -> Settled {
    match outcome {
        Ok(()) => Settled::Delivered,
        Err(failure) if failure.is_final() => Settled::Dead,
        Err(_) => match webhook::backoff(attempts, jitter) {
            Some(wait) => Settled::Retrying(now_ms.saturating_add(wait)),
            None => Settled::Dead,
        },
    }
}

/// Rows per state, for the stats endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
}

/// The outbox table, and the earliest pending delivery's due time once read: the
/// conversation asks for it after every accepted message, and only this object (and its
/// clones, which share the answer) changes the table.
#[derive(Clone)]
pub struct Outbox<Q> {
    sql: Q,
    next_due: std::rc::Rc<std::cell::Cell<Option<Option<i64>>>>,
}

impl<Q: Sql> Outbox<Q> {
    /// Opens the outbox, creating its table on first use.
    pub fn new(sql: Q) -> Result<Self, OutboxError> {
        for s in SCHEMA {
            sql.exec(s, vec![])?;
        }
        Ok(Self { sql, next_due: Default::default() })
    }

    /// Queues `deliveries`, due at `now_ms`; returns how many were new.
    pub fn enqueue(
        &self,
        deliveries: &[Delivery],
        cipher: &ChunkCipher,
        now_ms: i64,
    ) -> Result<usize, OutboxError> {
        let mut added = 0;
        for d in deliveries {
            let id: [&[u8]; 2] = [d.event_id.as_bytes(), d.endpoint_id.as_bytes()];
            let sealed = cipher
                .seal_record(PURPOSE, &id, d.body.as_bytes())
                .map_err(|e| OutboxError::Seal(e.to_string()))?;
            let rows = self.sql.exec(
                "INSERT OR IGNORE INTO webhook_outbox
                    (event_id, endpoint_id, event_type, body, state, attempts, next_at)
                 VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING 1",
                vec![
                    d.event_id.as_str().into(),
                    d.endpoint_id.as_str().into(),
                    d.event_type.as_str().into(),
                    sealed.into(),
                    PENDING.into(),
                    now_ms.into(),
                ],
            )?;
            // A row comes back only when the insert was not ignored.
            added += rows.len();
            self.next_due.set(None);
        }
        Ok(added)
    }

    /// When the earliest pending delivery is due (ms), if any: the alarm must fire by then.
    pub fn next_due(&self) -> Result<Option<i64>, OutboxError> {
        if let Some(known) = self.next_due.get() {
            return Ok(known);
        }
        let rows = self.sql.exec(
            "SELECT MIN(next_at) FROM webhook_outbox WHERE state = ?",
            vec![PENDING.into()],
        )?;
        let due = single_integer(&rows);
        self.next_due.set(Some(due));
        Ok(due)
    }

    /// The deliveries due at `now_ms`, oldest first, at most [`BATCH`]; forgets finished rows
    /// older than [`RETENTION_MS`] first.
    pub fn due(&self, now_ms: i64, cipher: &ChunkCipher) -> Result<Vec<Due>, OutboxError> {
        self.sql.exec(
            "DELETE FROM webhook_outbox WHERE state != ? AND next_at < ?",
            vec![PENDING.into(), now_ms.saturating_sub(RETENTION_MS).into()],
        )?;
        let rows = self.sql.exec(
            "SELECT event_id, endpoint_id, event_type, body, attempts FROM webhook_outbox
             WHERE state = ? AND next_at <= ? ORDER BY next_at LIMIT ?",
            vec![PENDING.into(), now_ms.into(), i64::try_from(BATCH).unwrap_or(24).into()],
        )?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [SqlValue::Text(event_id), SqlValue::Text(endpoint_id), SqlValue::Text(event_type), SqlValue::Blob(sealed), SqlValue::Integer(attempts)] =>
                {
                    let id: [&[u8]; 2] = [event_id.as_bytes(), endpoint_id.as_bytes()];
                    let body = cipher
                        .open_record(PURPOSE, &id, sealed)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok());
                    Ok(Due {
                        event_id: event_id.clone(),
                        endpoint_id: endpoint_id.clone(),
                        event_type: event_type.clone(),
                        body,
                        attempts: u32::try_from(*attempts).unwrap_or(u32::MAX),
                    })
                }
                other => Err(OutboxError::Malformed(other.len())),
            })
            .collect()
    }

    /// Records how an attempt at `row` ended (at `now_ms`). Finished rows lose their body;
    /// their `next_at` then says when they finished (for pruning).
    pub fn record(
        &self,
        row: &Due,
        outcome: Result<(), Failure>,
        now_ms: i64,
        jitter: u32,
    ) -> Result<Settled, OutboxError> {
        let attempts = row.attempts.saturating_add(1);
        let settled = settle(attempts, &outcome, now_ms, jitter);
        let (state, next_at) = match settled {
            Settled::Delivered => (DELIVERED, now_ms),
            Settled::Retrying(at) => (PENDING, at),
            Settled::Dead => (DEAD, now_ms),
        };
        let error = outcome.err().map_or(SqlValue::Null, |f| SqlValue::Text(f.code()));
        self.next_due.set(None);
        let body = if state == PENDING { "body" } else { "x''" };
        self.sql.exec(
            &format!(
                "UPDATE webhook_outbox SET state = ?, attempts = ?, next_at = ?, last_error = ?,
                 body = {body} WHERE event_id = ? AND endpoint_id = ?"
            ),
            vec![
                state.into(),
                i64::from(attempts).into(),
                next_at.into(),
                error,
                row.event_id.as_str().into(),
                row.endpoint_id.as_str().into(),
            ],
        )?;
        Ok(settled)
    }

    /// Rows per state.
    pub fn counts(&self) -> Result<Counts, OutboxError> {
        let rows =
            self.sql.exec("SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state", vec![])?;
        let mut out = Counts::default();
        for row in rows {
            if let [SqlValue::Text(state), SqlValue::Integer(n)] = row.as_slice() {
                match state.as_str() {
                    PENDING => out.pending = *n,
                    DELIVERED => out.delivered = *n,
                    DEAD => out.dead = *n,
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// Drops every queued delivery (the conversation is being erased).
    pub fn erase(&self) -> Result<(), OutboxError> {
        self.sql.exec("DROP TABLE IF EXISTS webhook_outbox", vec![])?;
        self.next_due.set(Some(None));
        Ok(())
    }
}

#[cfg(test)]
#[path = "webhook_outbox_tests.rs"]
mod tests;
