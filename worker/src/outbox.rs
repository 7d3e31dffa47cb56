//! The conversation's webhook outbox: deliveries queued in SQLite next to the documents and
//! posted from the Durable Object's alarm, so an endpoint that is slow or down never holds up
//! the conversation, and nothing queued is lost when the object is evicted or workerd dies.
//!
//! - [`Outbox::enqueue`] runs without an `await`, so a caller that also writes the document
//!   change behind the events gets both in one implicit storage transaction. It inserts each
//!   (event id, endpoint id) once: an event produced again (a re-delivered alarm, a replayed
//!   change) is ignored, even after it was delivered, for [`RETENTION_MS`].
//! - [`Outbox::deliver_due`] posts what is due, signed (`core::webhook`), with a timeout, and
//!   records each outcome: delivered, or retried later per `webhook::backoff`, or dead after
//!   the last attempt. A crash between a post and its record sends it again: delivery is at
//!   least once and receivers deduplicate on the event id.
//! - Bodies hold message text, so they are sealed at rest with the conversation's data key
//!   (bound to their event and endpoint) and dropped once the row is delivered or dead.
//!
//! Nothing here logs: outcomes are recorded as status codes and error classes, never bodies.

use edgedesk_core::at_rest::ChunkCipher;
use edgedesk_core::webhook::{self, Delivery};
use edgedesk_core::workflow::config::WebhookEndpoint;
use futures_util::future::join_all;
use futures_util::StreamExt;
use worker::{
    AbortSignal, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, SqlStorage,
    SqlStorageValue,
};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS webhook_outbox (
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    last_error TEXT,
    PRIMARY KEY (event_id, endpoint_id)
)";
const INDEX: &str =
    "CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (state, next_at)";

/// What sealed bodies are bound to (`ChunkCipher::seal_record`).
const PURPOSE: &str = "webhook";
/// How long delivered and dead rows are kept (without their bodies) so the same event is
/// not queued again.
pub const RETENTION_MS: i64 = 7 * 24 * 3_600_000;
/// How long one post may take, response included.
pub const TIMEOUT_MS: u32 = 10_000;
/// Posts in flight at once: the platform opens at most six outbound connections per
/// invocation and queues the rest, which would eat into their timeouts.
const CONCURRENCY: usize = 6;
/// Rows one [`Outbox::deliver_due`] call takes on; the rest stay due for the next alarm.
const BATCH: usize = 24;
/// Response bytes read (and dropped) before the connection is let go.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const DEAD: &str = "dead";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("webhook outbox storage: {0}")]
    Storage(String),
    #[error("webhook outbox: cannot seal a body: {0}")]
    Seal(String),
}

impl From<worker::Error> for OutboxError {
    fn from(e: worker::Error) -> Self {
        OutboxError::Storage(e.to_string())
    }
}

/// What one [`Outbox::deliver_due`] call did, for a log line of counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
}

/// Why an attempt failed, as recorded in `last_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
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
    fn code(&self) -> String {
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

/// A due row, body still sealed.
struct Due {
    event_id: String,
    endpoint_id: String,
    event_type: String,
    body: Vec<u8>,
    attempts: u32,
}

#[derive(Clone)]
pub struct Outbox {
    sql: SqlStorage,
}

impl Outbox {
    /// Opens the outbox, creating its table on first use.
    pub fn new(sql: SqlStorage) -> Result<Self, OutboxError> {
        sql.exec(SCHEMA, None)?;
        sql.exec(INDEX, None)?;
        Ok(Self { sql })
    }

    /// Queues `deliveries`, due at `now_ms`; returns how many were new. Synchronous on
    /// purpose: see the module documentation.
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
            let cursor = self.sql.exec(
                "INSERT OR IGNORE INTO webhook_outbox
                    (event_id, endpoint_id, event_type, body, state, attempts, next_at)
                 VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING 1",
                vec![
                    d.event_id.as_str().into(),
                    d.endpoint_id.as_str().into(),
                    d.event_type.as_str().into(),
                    SqlStorageValue::Blob(sealed),
                    PENDING.into(),
                    now_ms.into(),
                ],
            )?;
            // A row comes back only when the insert was not ignored.
            added += cursor.raw().count();
        }
        Ok(added)
    }

    /// When the earliest pending delivery is due (ms), if any: the alarm must fire by then.
    pub fn next_due(&self) -> Result<Option<i64>, OutboxError> {
        let cursor = self.sql.exec(
            "SELECT MIN(next_at) FROM webhook_outbox WHERE state = ?",
            vec![PENDING.into()],
        )?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        match row?.as_slice() {
            [SqlStorageValue::Integer(at)] => Ok(Some(*at)),
            _ => Ok(None),
        }
    }

    /// Posts the deliveries due at `now_ms` (at most a batch; [`Self::next_due`] then says
    /// when to come back) to their endpoints in `endpoints`, and records the outcomes. Only
    /// the alarm calls this: it awaits the network.
    pub async fn deliver_due(
        &self,
        now_ms: i64,
        endpoints: &[WebhookEndpoint],
        cipher: &ChunkCipher,
    ) -> Result<Report, OutboxError> {
        self.prune(now_ms)?;
        let due = self.due(now_ms)?;
        let report = std::cell::RefCell::new(Report::default());
        for group in due.chunks(CONCURRENCY) {
            let posts = group.iter().map(|row| async {
                let outcome = attempt(row, endpoints, cipher).await;
                // Recorded as soon as this post ends: a slow endpoint in the same group must
                // not hold back another's acknowledged delivery (which a crash meanwhile
                // would otherwise send again). Retries count from when the attempt ended.
                let ended = i64::try_from(worker::Date::now().as_millis()).unwrap_or(now_ms);
                self.record(row, outcome, ended.max(now_ms), &mut report.borrow_mut())
            });
            for recorded in join_all(posts).await {
                recorded?;
            }
        }
        Ok(report.into_inner())
    }

    /// Rows per state (`pending`, `delivered`, `dead`), for the stats endpoint.
    pub fn counts(&self) -> Result<serde_json::Value, OutboxError> {
        let cursor =
            self.sql.exec("SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state", None)?;
        let mut out = serde_json::json!({ PENDING: 0, DELIVERED: 0, DEAD: 0 });
        for row in cursor.raw() {
            if let [SqlStorageValue::String(state), SqlStorageValue::Integer(n)] = row?.as_slice() {
                out[state.as_str()] = (*n).into();
            }
        }
        Ok(out)
    }

    fn due(&self, now_ms: i64) -> Result<Vec<Due>, OutboxError> {
        let cursor = self.sql.exec(
            "SELECT event_id, endpoint_id, event_type, body, attempts FROM webhook_outbox
             WHERE state = ? AND next_at <= ? ORDER BY next_at LIMIT ?",
            vec![PENDING.into(), now_ms.into(), (BATCH as i64).into()],
        )?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            match row?.as_slice() {
                [SqlStorageValue::String(event_id), SqlStorageValue::String(endpoint_id), SqlStorageValue::String(event_type), SqlStorageValue::Blob(body), SqlStorageValue::Integer(attempts)] => {
                    out.push(Due {
                        event_id: event_id.clone(),
                        endpoint_id: endpoint_id.clone(),
                        event_type: event_type.clone(),
                        body: body.clone(),
                        attempts: u32::try_from(*attempts).unwrap_or(u32::MAX),
                    })
                }
                other => {
                    return Err(OutboxError::Storage(format!(
                        "malformed outbox row ({} columns)",
                        other.len()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Writes one attempt's outcome. Finished rows lose their body; `next_at` then says
    /// when they finished (for pruning).
    fn record(
        &self,
        row: &Due,
        outcome: Result<(), Failure>,
        now_ms: i64,
        report: &mut Report,
    ) -> Result<(), OutboxError> {
        let attempts = row.attempts.saturating_add(1);
        let (state, next_at, error) = match outcome {
            Ok(()) => {
                report.delivered += 1;
                (DELIVERED, now_ms, None)
            }
            Err(failure) => {
                let retry = (!failure.is_final())
                    .then(|| webhook::backoff(attempts, random_u32()))
                    .flatten();
                match retry {
                    Some(wait) => {
                        report.retrying += 1;
                        (PENDING, now_ms.saturating_add(wait), Some(failure.code()))
                    }
                    None => {
                        report.dead += 1;
                        (DEAD, now_ms, Some(failure.code()))
                    }
                }
            }
        };
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
                error.map_or(SqlStorageValue::Null, SqlStorageValue::String),
                row.event_id.as_str().into(),
                row.endpoint_id.as_str().into(),
            ],
        )?;
        Ok(())
    }

    /// Forgets finished rows older than [`RETENTION_MS`].
    fn prune(&self, now_ms: i64) -> Result<(), OutboxError> {
        self.sql.exec(
            "DELETE FROM webhook_outbox WHERE state != ? AND next_at < ?",
            vec![PENDING.into(), now_ms.saturating_sub(RETENTION_MS).into()],
        )?;
        Ok(())
    }
}

/// Drops every queued delivery (the conversation is being erased).
pub fn erase(sql: &SqlStorage) -> Result<(), OutboxError> {
    sql.exec("DROP TABLE IF EXISTS webhook_outbox", None)?;
    Ok(())
}

/// One signed post of `row` to its endpoint.
async fn attempt(
    row: &Due,
    endpoints: &[WebhookEndpoint],
    cipher: &ChunkCipher,
) -> Result<(), Failure> {
    let endpoint =
        endpoints.iter().find(|e| e.id == row.endpoint_id).ok_or(Failure::EndpointRemoved)?;
    let id: [&[u8]; 2] = [row.event_id.as_bytes(), row.endpoint_id.as_bytes()];
    let body = cipher.open_record(PURPOSE, &id, &row.body).map_err(|_| Failure::Unsealable)?;
    let body = String::from_utf8(body).map_err(|_| Failure::Unsealable)?;
    // Signed at the moment of sending (not the alarm's start), as receivers check `t`.
    let t = i64::try_from(worker::Date::now().as_millis() / 1000).unwrap_or(i64::MAX);
    let signature = webhook::sign(endpoint.secret.as_bytes(), t, body.as_bytes());
    let request = build_request(endpoint, row, &signature, body).map_err(|_| Failure::Network)?;
    let signal =
        AbortSignal::from(worker::worker_sys::web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS));
    let mut response = match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(r) => r,
        Err(_) if signal.aborted() => return Err(Failure::Timeout),
        Err(_) => return Err(Failure::Network),
    };
    let status = response.status_code();
    drain(&mut response).await;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(Failure::Status(status))
    }
}

fn build_request(
    endpoint: &WebhookEndpoint,
    row: &Due,
    signature: &str,
    body: String,
) -> worker::Result<Request> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("user-agent", "edgedesk-webhooks/1")?;
    headers.set(webhook::EVENT_ID_HEADER, &row.event_id)?;
    headers.set(webhook::EVENT_TYPE_HEADER, &row.event_type)?;
    headers.set(webhook::SIGNATURE_HEADER, signature)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(body.into()));
    Request::new_with_init(&endpoint.url, &init)
}

/// Reads a little of the response body so its connection is released; the rest is dropped
/// unread (and the timeout still bounds the reading).
async fn drain(response: &mut worker::Response) {
    let Ok(mut stream) = response.stream() else { return };
    let mut read = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len();
        if read >= MAX_RESPONSE_BYTES {
            break;
        }
    }
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    // Without entropy the schedule is just not jittered.
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}
