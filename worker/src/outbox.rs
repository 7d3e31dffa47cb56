//! The webhook outbox's posting: what core's [`edgedesk_core::webhook_outbox`] hands out as
//! due is signed and posted from the alarm, with a timeout, a few at a time, and each outcome
//! is given back to core to record (delivered, retried later, or dead). Everything else about
//! the outbox (what is queued, when it is due, the retry schedule) is core's, under native
//! tests.

use edgedesk_core::at_rest::ChunkCipher;
use edgedesk_core::webhook;
use edgedesk_core::webhook_outbox::{self, Due, Failure, OutboxError, Settled};
use edgedesk_core::workflow::config::WebhookEndpoint;
use futures_util::future::join_all;
use futures_util::StreamExt;
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use crate::do_sql::DoSql;

/// The conversation's outbox, in its SQLite.
pub type Outbox = webhook_outbox::Outbox<DoSql>;

/// How long one post may take, response included.
pub const TIMEOUT_MS: u32 = 10_000;
/// Posts in flight at once: the platform opens at most six outbound connections per
/// invocation and queues the rest, which would eat into their timeouts.
const CONCURRENCY: usize = 6;
/// Response bytes read (and dropped) before the connection is let go.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What one [`deliver_due`] call did, for a log line of counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
}

/// Posts the deliveries due at `now_ms` (at most a batch; `next_due` then says when to come
/// back) to their endpoints in `endpoints`, and records the outcomes. Only the alarm calls
/// this: it awaits the network.
pub async fn deliver_due(
    outbox: &Outbox,
    now_ms: i64,
    endpoints: &[WebhookEndpoint],
    cipher: &ChunkCipher,
) -> Result<Report, OutboxError> {
    let due = outbox.due(now_ms, cipher)?;
    let report = std::cell::RefCell::new(Report::default());
    for group in due.chunks(CONCURRENCY) {
        let posts = group.iter().map(|row| async {
            let outcome = attempt(row, endpoints).await;
            // Recorded as soon as this post ends: a slow endpoint in the same group must not
            // hold back another's acknowledged delivery (which a crash meanwhile would
            // otherwise send again). Retries count from when the attempt ended.
            let ended = i64::try_from(worker::Date::now().as_millis()).unwrap_or(now_ms);
            let settled = outbox.record(row, outcome, ended.max(now_ms), random_u32())?;
            let mut r = report.borrow_mut();
            match settled {
                Settled::Delivered => r.delivered += 1,
                Settled::Retrying(_) => r.retrying += 1,
                Settled::Dead => r.dead += 1,
            }
            Ok::<(), OutboxError>(())
        });
        for recorded in join_all(posts).await {
            recorded?;
        }
    }
    Ok(report.into_inner())
}

/// One signed post of `row` to its endpoint.
async fn attempt(row: &Due, endpoints: &[WebhookEndpoint]) -> Result<(), Failure> {
    let endpoint =
        endpoints.iter().find(|e| e.id == row.endpoint_id).ok_or(Failure::EndpointRemoved)?;
    let body = row.body.clone().ok_or(Failure::Unsealable)?;
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
