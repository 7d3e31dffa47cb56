//! Webhook events: what the workflow tells an integrator's endpoints.

use serde::{Deserialize, Serialize};

/// One event, as the relay emits it and an endpoint receives it (JSON body).
///
/// `id` is derived from what caused the event wherever that is unique (a message id, a
/// breached SLA's message), so the same cause never yields two events with different ids:
/// receivers deduplicate on it, and the outbox stores each id once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub id: String,
    /// e.g. `message.created`, `conversation.status_changed`, `sla.breached`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Server time (ms since the epoch) the event happened.
    pub at: i64,
    pub workspace: String,
    pub conversation: String,
    pub data: serde_json::Value,
}
