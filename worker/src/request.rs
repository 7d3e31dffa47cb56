//! Parsing of the Worker's HTTP surface, kept free of platform types so it is unit tested
//! natively. Every refusal carries the HTTP status and a message a client developer can act on.

use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId};
use edgedesk_core::message::{Role, MAX_NAME_BYTES};
use edgedesk_core::relay::PeerInfo;

/// A refused request: HTTP status, a stable machine-readable code, and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self.code, "message": self.message }).to_string()
    }
}

/// What a conversation request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationAction {
    /// `GET /v1/conversations/{id}/connect`: WebSocket upgrade.
    Connect,
    /// `GET /v1/conversations/{id}/stats`: message count, heads and storage sizes (no content).
    Stats,
}

/// A routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    Conversation { id: ConversationId, action: ConversationAction },
}

/// Maps method and path to a route.
pub fn route(method: &str, path: &str) -> Result<Route, Refusal> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let route = match segments.as_slice() {
        ["health"] => Route::Health,
        ["v1", "conversations", id, action] => {
            let action = match *action {
                "connect" => ConversationAction::Connect,
                "stats" => ConversationAction::Stats,
                _ => return Err(not_found(path)),
            };
            let id = ConversationId::new(*id)
                .map_err(|e| Refusal::new(400, "bad_conversation_id", e.to_string()))?;
            Route::Conversation { id, action }
        }
        _ => return Err(not_found(path)),
    };
    if method != "GET" {
        return Err(Refusal::new(405, "method_not_allowed", format!("{path} accepts GET only")));
    }
    Ok(route)
}

fn not_found(path: &str) -> Refusal {
    let shown: String = path.chars().take(100).collect();
    Refusal::new(
        404,
        "not_found",
        format!("no route {shown}; see PROTOCOL.md (e.g. GET /v1/conversations/{{id}}/connect)"),
    )
}

/// Checks the headers of a WebSocket upgrade request.
pub fn check_upgrade(upgrade_header: Option<&str>) -> Result<(), Refusal> {
    match upgrade_header {
        Some(v) if v.eq_ignore_ascii_case("websocket") => Ok(()),
        _ => Err(Refusal::new(
            426,
            "upgrade_required",
            "this endpoint speaks WebSocket only: send `Upgrade: websocket`",
        )),
    }
}

/// Reads the connecting device's identity from the query string.
///
/// Until token auth lands (issue 3) the identity is asserted by the client; the parameters
/// are still validated so nothing malformed reaches a document.
pub fn peer_from_query(pairs: &[(String, String)]) -> Result<(PeerInfo, String), Refusal> {
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let bad = |m: String| Refusal::new(400, "bad_identity", m);
    let role = match get("role") {
        Some(r) => Role::parse(r)
            .filter(|r| *r != Role::Server)
            .ok_or_else(|| bad(format!("role {r:?} is not one of visitor, agent, admin")))?,
        None => return Err(bad("query parameter `role` is required".into())),
    };
    let participant = ParticipantId::new(
        get("participant")
            .ok_or_else(|| bad("query parameter `participant` is required".into()))?,
    )
    .map_err(|e| bad(e.to_string()))?;
    let device = DeviceId::new(
        get("device").ok_or_else(|| bad("query parameter `device` is required".into()))?,
    )
    .map_err(|e| bad(e.to_string()))?;
    let name = get("name").unwrap_or(participant.as_str()).to_owned();
    if name.len() > MAX_NAME_BYTES {
        return Err(bad(format!("name is {} bytes; the limit is {MAX_NAME_BYTES}", name.len())));
    }
    // Capabilities the client announces, comma separated; unknown ones are ignored so clients
    // can offer newer ones to older relays.
    let fast = get("caps").is_some_and(|caps| caps.split(',').any(|c| c == "changes"));
    Ok((PeerInfo { role, participant, device, fast }, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn routes_connect_stats_and_health() {
        assert_eq!(route("GET", "/health"), Ok(Route::Health));
        let r = route("GET", "/v1/conversations/c-1/connect").unwrap();
        assert!(matches!(r, Route::Conversation { action: ConversationAction::Connect, .. }));
        let r = route("GET", "/v1/conversations/c-1/stats").unwrap();
        assert!(matches!(r, Route::Conversation { action: ConversationAction::Stats, .. }));
    }

    #[test]
    fn unknown_routes_bad_ids_and_methods_are_refused_with_status() {
        assert_eq!(route("GET", "/v1/nothing").unwrap_err().status, 404);
        assert_eq!(route("GET", "/v1/conversations/c/delete").unwrap_err().status, 404);
        assert_eq!(route("GET", "/v1/conversations/a%20b/connect").unwrap_err().status, 400);
        assert_eq!(route("POST", "/v1/conversations/c/connect").unwrap_err().status, 405);
    }

    #[test]
    fn non_websocket_requests_get_426() {
        assert_eq!(check_upgrade(None).unwrap_err().status, 426);
        assert_eq!(check_upgrade(Some("h2c")).unwrap_err().status, 426);
        assert!(check_upgrade(Some("WebSocket")).is_ok());
    }

    #[test]
    fn identity_is_validated() {
        let (p, name) =
            peer_from_query(&q(&[("role", "agent"), ("participant", "a1"), ("device", "d1")]))
                .unwrap();
        assert_eq!(p.role, Role::Agent);
        assert_eq!(name, "a1");
        assert!(!p.fast);
        let (p, _) = peer_from_query(&q(&[
            ("role", "visitor"),
            ("participant", "v"),
            ("device", "d"),
            ("caps", "future,changes"),
        ]))
        .unwrap();
        assert!(p.fast);
        let e = peer_from_query(&q(&[("role", "server"), ("participant", "a"), ("device", "d")]));
        assert_eq!(e.unwrap_err().code, "bad_identity");
        let e =
            peer_from_query(&q(&[("role", "visitor"), ("participant", "a/b"), ("device", "d")]));
        assert!(e.unwrap_err().message.contains("'/'"));
        assert!(peer_from_query(&q(&[("role", "visitor"), ("participant", "a")])).is_err());
    }
}
