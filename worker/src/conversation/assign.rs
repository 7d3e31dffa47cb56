//! An assignment ordered by the workspace's inbox (routing, claim, transfer), applied as the
//! relay's audited change.

use edgedesk_core::inbox::push::AssignOrder;
use edgedesk_core::relay::AssignError;
use worker::{Request, Response};

use super::{opened, Conversation};
use crate::http;
use crate::request::Refusal;

/// Largest assignment order accepted from the inbox.
const MAX_ORDER_BYTES: usize = 1024;

impl Conversation {
    /// `POST assign` from the inbox: applies the order as the relay's audited change and
    /// answers with the summary it leads to.
    pub(crate) async fn assign(&self, name: &str, mut req: Request) -> Result<Response, Refusal> {
        let bytes = req.bytes().await?;
        let order = (bytes.len() <= MAX_ORDER_BYTES)
            .then(|| serde_json::from_slice::<AssignOrder>(&bytes).ok())
            .flatten();
        let Some(assignment) = order.and_then(|o| o.assignment().ok()) else {
            return Err(Refusal::new(400, "bad_order", "malformed assignment order"));
        };
        let now = worker::Date::now().as_millis() as i64;
        let done = self.with_live(Some(name), |live| {
            let out = match live.relay.assign(&assignment, now) {
                Ok(Ok(out)) => Ok(Ok(super::commit::commit(live, out, now))),
                Ok(Err(refused)) => Ok(Err(refused)),
                Err(e) => Err(e),
            };
            let summary = live.feed_state.as_ref().map(|s| s.summary.clone());
            (out, summary)
        });
        let (out, summary) = opened(done)?;
        match out {
            Ok(Ok((frames, next))) => {
                self.deliver(frames, &self.sockets()).await;
                self.arm(next).await;
                self.push_inbox().await;
                Ok(http::json(&serde_json::json!({ "summary": summary })))
            }
            Ok(Err(e @ AssignError::Taken(_))) => Err(Refusal::new(409, "taken", e.to_string())),
            Ok(Err(e)) => Err(Refusal::new(403, "not_allowed", e.to_string())),
            Err(e) => {
                worker::console_error!("assignment not applied: {e}");
                self.reload();
                Err(Refusal::new(503, "unavailable", "retry the assignment"))
            }
        }
    }
}
