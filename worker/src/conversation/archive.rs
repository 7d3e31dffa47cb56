//! The conversation's sealed history over HTTP (PROTOCOL.md §16.3) and an admin's legal hold
//! (§16.4): thin handlers around the relay's calls.

use worker::Response;

use super::{commit, opened, Conversation};
use crate::http;
use crate::request::Refusal;

impl Conversation {
    /// A page of the sealed history; the query was checked by the front Worker.
    pub(super) fn history(&self, name: &str, url: &worker::Url) -> Result<Response, Refusal> {
        use edgedesk_core::relay::HistoryError;
        let get =
            |k: &str| url.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned());
        let before = get("before").and_then(|b| b.parse().ok());
        let only = get("epoch").and_then(|e| e.parse().ok());
        let limit = get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
        let page = opened(self.with_relay(Some(name), |r| r.history(before, only, limit)))?;
        match page {
            Ok(page) => match serde_json::to_value(&page) {
                Ok(v) => Ok(http::json(&v)),
                Err(e) => Err(Refusal::new(500, "internal", format!("history page: {e}"))),
            },
            Err(e @ HistoryError::NoSuchSegment { .. }) => {
                Err(Refusal::new(404, "no_such_segment", e.to_string()))
            }
            Err(e @ HistoryError::Shredded { .. }) => {
                Err(Refusal::new(410, "expired", e.to_string()))
            }
            Err(e) => {
                worker::console_error!("history unreadable: {e}");
                Err(Refusal::new(503, "unavailable", "the history is unreadable right now; retry"))
            }
        }
    }

    /// Sets or lifts a legal hold (the front Worker checked the admin and the body).
    pub(super) async fn legal_hold(
        &self,
        name: &str,
        url: &worker::Url,
    ) -> Result<Response, Refusal> {
        let get =
            |k: &str| url.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned());
        let hold = get("hold").as_deref() == Some("true");
        let by = get("by").unwrap_or_default();
        let now = worker::Date::now().as_millis() as i64;
        let done =
            opened(self.with_live(
                Some(name),
                |live| match live.relay.set_legal_hold(hold, &by, now) {
                    Ok(out) => Ok(commit::commit(live, out, now)),
                    Err(e) => Err(e.to_string()),
                },
            ))?;
        match done {
            Ok((frames, next)) => {
                self.deliver(frames, &self.sockets()).await;
                self.arm(next).await;
                Ok(http::json(&serde_json::json!({ "legal_hold": hold })))
            }
            Err(e) => {
                worker::console_error!("legal hold not stored: {e}");
                self.reload();
                Err(Refusal::new(503, "unavailable", "the legal hold is not stored; retry"))
            }
        }
    }
}
