//! Parsing of the Worker's HTTP surface, kept free of platform types so it is unit tested
//! natively. Every refusal carries the HTTP status and a message a client developer can act on.

use edgedesk_core::auth::{Access, AuthError, Claims, Keyring};
use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId, WorkspaceId};
use edgedesk_core::message::Role;
use edgedesk_core::relay::PeerInfo;
use edgedesk_core::workflow::profile::VisitorProfile;
use serde::{Deserialize, Serialize};

pub use crate::forward_header::{forwarded_header, from_forwarded_header, FORWARDED_HEADER};
pub use crate::refusal::Refusal;

/// What a conversation request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationAction {
    /// `GET …/connect`: WebSocket upgrade.
    Connect,
    /// `GET …/stats`: message count, heads and storage sizes (no content).
    Stats,
    /// `POST …/erase`: crypto-shreds the conversation (admins only).
    Erase,
    /// `GET …/history`: a page of the sealed history (PROTOCOL.md §16.3).
    History,
    /// `PUT …/legal-hold`: sets or lifts a legal hold (admins only; PROTOCOL.md §16.4).
    LegalHold,
}

impl ConversationAction {
    pub fn access(self) -> Access {
        match self {
            ConversationAction::Connect => Access::Connect,
            ConversationAction::Stats => Access::Stats,
            ConversationAction::Erase => Access::Erase,
            ConversationAction::History => Access::History,
            ConversationAction::LegalHold => Access::LegalHold,
        }
    }

    /// The path the front Worker uses for this action on the Durable Object.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationAction::Connect => "connect",
            ConversationAction::Stats => "stats",
            ConversationAction::Erase => "erase",
            ConversationAction::History => "history",
            ConversationAction::LegalHold => "legal-hold",
        }
    }

    /// The one HTTP method the action accepts.
    pub fn method(self) -> &'static str {
        match self {
            ConversationAction::Connect
            | ConversationAction::Stats
            | ConversationAction::History => "GET",
            ConversationAction::Erase => "POST",
            ConversationAction::LegalHold => "PUT",
        }
    }
}

/// A routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    /// `POST /v1/widget/session`, or its CORS preflight (`OPTIONS`).
    WidgetSession {
        preflight: bool,
    },
    /// `GET /v1/widget/availability?site_key=…`, or its CORS preflight.
    WidgetAvailability {
        preflight: bool,
    },
    Conversation {
        workspace: WorkspaceId,
        conversation: ConversationId,
        action: ConversationAction,
    },
    /// `GET` (read) or `PUT` (replace) `/v1/workspaces/{ws}/config`: admins only.
    WorkspaceConfig {
        workspace: WorkspaceId,
        write: bool,
    },
    /// `/v1/workspaces/{ws}/inbox/…`: agents and admins.
    Inbox {
        workspace: WorkspaceId,
        action: crate::inbox::request::InboxAction,
    },
    /// `POST /v1/workspaces/{ws}/auth/{sign-in|refresh|sign-out}`: no token, the body is the
    /// credential (PROTOCOL.md §2.9).
    Auth {
        workspace: WorkspaceId,
        action: AuthAction,
    },
    /// `PUT …/conversations/{conv}/attachments/{id}?name=…` (upload) or
    /// `GET …/attachments/{id}/link` (a short-lived link), or a CORS preflight: participants.
    Attachment {
        workspace: WorkspaceId,
        conversation: ConversationId,
        id: String,
        op: AttachmentOp,
    },
    /// `GET /v1/files/{ws}/{conv}/{id}?exp=…&kid=…&sig=…`: an attachment through its link.
    File {
        workspace: WorkspaceId,
        conversation: ConversationId,
        id: String,
    },
    /// `GET /v1/workspaces/{ws}/agents` or `PUT …/agents/{id}`: admins only.
    Agents {
        workspace: WorkspaceId,
        agent: Option<ParticipantId>,
    },
}

/// What an attachment request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentOp {
    Upload,
    Link,
    Preflight,
}

/// What a `…/auth/…` request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAction {
    SignIn,
    Refresh,
    SignOut,
}

impl AuthAction {
    /// The `Workspace` object's internal path.
    pub fn path(self) -> &'static str {
        match self {
            AuthAction::SignIn => "auth/sign-in",
            AuthAction::Refresh => "auth/refresh",
            AuthAction::SignOut => "auth/sign-out",
        }
    }
}

/// Maps method and path to a route.
pub fn route(method: &str, path: &str) -> Result<Route, Refusal> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (route, methods): (Route, &[&str]) = match segments.as_slice() {
        ["health"] => (Route::Health, &["GET"]),
        ["v1", "widget", "session"] => {
            (Route::WidgetSession { preflight: method == "OPTIONS" }, &["POST", "OPTIONS"])
        }
        ["v1", "widget", "availability"] => {
            (Route::WidgetAvailability { preflight: method == "OPTIONS" }, &["GET", "OPTIONS"])
        }
        ["v1", "workspaces", ws, "conversations", conv, action] => {
            let action = match *action {
                "connect" => ConversationAction::Connect,
                "stats" => ConversationAction::Stats,
                "erase" => ConversationAction::Erase,
                "history" => ConversationAction::History,
                "legal-hold" => ConversationAction::LegalHold,
                _ => return Err(not_found(path)),
            };
            let workspace = WorkspaceId::new(*ws)
                .map_err(|e| Refusal::new(400, "bad_workspace_id", e.to_string()))?;
            let conversation = ConversationId::new(*conv)
                .map_err(|e| Refusal::new(400, "bad_conversation_id", e.to_string()))?;
            let methods: &[&str] = match (action, action.method()) {
                // Read from the widget on customers' sites: a CORS preflight comes first.
                (ConversationAction::History, _) => &["GET", "OPTIONS"],
                (_, "POST") => &["POST"],
                (_, "PUT") => &["PUT"],
                _ => &["GET"],
            };
            (Route::Conversation { workspace, conversation, action }, methods)
        }
        ["v1", "workspaces", ws, "config"] => {
            let workspace = WorkspaceId::new(*ws)
                .map_err(|e| Refusal::new(400, "bad_workspace_id", e.to_string()))?;
            (Route::WorkspaceConfig { workspace, write: method == "PUT" }, &["GET", "PUT"])
        }
        ["v1", "workspaces", ws, "conversations", conv, "attachments", id, rest @ ..] => {
            let (op, methods): (AttachmentOp, &[&str]) = match (rest, method) {
                (_, "OPTIONS") => (AttachmentOp::Preflight, &["OPTIONS"]),
                ([], _) => (AttachmentOp::Upload, &["PUT", "OPTIONS"]),
                (["link"], _) => (AttachmentOp::Link, &["GET", "OPTIONS"]),
                _ => return Err(not_found(path)),
            };
            let conversation = ConversationId::new(*conv)
                .map_err(|e| Refusal::new(400, "bad_conversation_id", e.to_string()))?;
            edgedesk_core::attachment::check_id(id)
                .map_err(|e| Refusal::new(400, e.code(), e.to_string()))?;
            let workspace = workspace_id(ws)?;
            (Route::Attachment { workspace, conversation, id: (*id).to_owned(), op }, methods)
        }
        ["v1", "files", ws, conv, id] => {
            let conversation = ConversationId::new(*conv)
                .map_err(|e| Refusal::new(400, "bad_conversation_id", e.to_string()))?;
            edgedesk_core::attachment::check_id(id)
                .map_err(|e| Refusal::new(400, e.code(), e.to_string()))?;
            let workspace = workspace_id(ws)?;
            (Route::File { workspace, conversation, id: (*id).to_owned() }, &["GET"])
        }
        ["v1", "workspaces", ws, "auth", action] => {
            let action = match *action {
                "sign-in" => AuthAction::SignIn,
                "refresh" => AuthAction::Refresh,
                "sign-out" => AuthAction::SignOut,
                _ => return Err(not_found(path)),
            };
            (Route::Auth { workspace: workspace_id(ws)?, action }, &["POST"])
        }
        ["v1", "workspaces", ws, "agents"] => {
            (Route::Agents { workspace: workspace_id(ws)?, agent: None }, &["GET"])
        }
        ["v1", "workspaces", ws, "agents", id] => {
            let agent = ParticipantId::new(*id)
                .map_err(|e| Refusal::new(400, "bad_participant_id", e.to_string()))?;
            (Route::Agents { workspace: workspace_id(ws)?, agent: Some(agent) }, &["PUT"])
        }
        ["v1", "workspaces", ws, "inbox", rest @ ..] => {
            let Some((action, one)) = crate::inbox::request::InboxAction::parse(rest)? else {
                return Err(not_found(path));
            };
            let workspace = WorkspaceId::new(*ws)
                .map_err(|e| Refusal::new(400, "bad_workspace_id", e.to_string()))?;
            let methods: &[&str] = if one == "POST" { &["POST"] } else { &["GET"] };
            (Route::Inbox { workspace, action }, methods)
        }
        _ => return Err(not_found(path)),
    };
    if !methods.contains(&method) {
        return Err(Refusal::new(
            405,
            "method_not_allowed",
            format!("{path} accepts {} only", methods.join(", ")),
        ));
    }
    Ok(route)
}

fn workspace_id(ws: &str) -> Result<WorkspaceId, Refusal> {
    WorkspaceId::new(ws).map_err(|e| Refusal::new(400, "bad_workspace_id", e.to_string()))
}

fn not_found(path: &str) -> Refusal {
    let shown: String = path.chars().take(100).collect();
    Refusal::new(
        404,
        "not_found",
        format!(
            "no route {shown}; see PROTOCOL.md (e.g. GET /v1/workspaces/{{ws}}/conversations/{{id}}/connect)"
        ),
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

/// The request's bearer token: the `Authorization: Bearer …` header, else the
/// `access_token` query parameter (browsers cannot set headers on a WebSocket).
pub fn bearer_token<'a>(
    authorization: Option<&'a str>,
    query: &'a [(String, String)],
) -> Result<&'a str, AuthError> {
    if let Some(value) = authorization {
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed(
                "the Authorization header must be `Bearer <token>`".into(),
            ));
        }
        return match token.trim() {
            "" => Err(AuthError::MissingToken),
            t => Ok(t),
        };
    }
    match query.iter().find(|(k, _)| k == "access_token").map(|(_, v)| v.as_str()) {
        Some(t) if !t.is_empty() => Ok(t),
        _ => Err(AuthError::MissingToken),
    }
}

/// The verified claims of the request's token, if they cover `access` to the conversation.
pub fn authorize(
    token: Result<&str, AuthError>,
    keys: &Keyring,
    now: i64,
    workspace: &WorkspaceId,
    conversation: &ConversationId,
    access: Access,
) -> Result<Claims, AuthError> {
    let claims = edgedesk_core::auth::authenticate(token?, keys, now)?;
    claims.authorize(workspace, conversation, access)?;
    Ok(claims)
}

/// The verified claims of the request's token, if they cover `access` to the whole
/// workspace (a token narrowed to one conversation does not).
pub fn authorize_workspace(
    token: Result<&str, AuthError>,
    keys: &Keyring,
    now: i64,
    workspace: &WorkspaceId,
    access: Access,
) -> Result<Claims, AuthError> {
    let claims = edgedesk_core::auth::authenticate(token?, keys, now)?;
    claims.authorize_workspace(workspace, access)?;
    Ok(claims)
}

/// The connecting device named by the query parameter `device` (required).
pub fn device_param(query: &[(String, String)]) -> Result<DeviceId, Refusal> {
    let bad = |m: String| Refusal::new(400, "bad_device", m);
    let named = query.iter().find(|(k, _)| k == "device").map(|(_, v)| v.as_str());
    DeviceId::new(named.ok_or_else(|| bad("query parameter `device` is required".into()))?)
        .map_err(|e| bad(e.to_string()))
}

/// The keyring from the `EDGEDESK_JWT_KEYS` secret. Missing or unusable: 503, since no
/// request can be served until the operator sets it (the message never holds the value).
pub fn keyring(value: Option<&str>) -> Result<Keyring, Refusal> {
    let unavailable = |m: String| Refusal::new(503, "auth_not_configured", m);
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Err(unavailable(
            "the relay has no token keys: set the EDGEDESK_JWT_KEYS secret (see README: Auth)"
                .into(),
        )),
        Some(v) => Keyring::parse(v).map_err(|e| unavailable(e.to_string())),
    }
}

/// What the front Worker tells the conversation's Durable Object about a request it let
/// through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    pub workspace: WorkspaceId,
    pub conversation: ConversationId,
    /// The connecting device, on `connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<ForwardedPeer>,
}

/// A connecting device, identified by its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedPeer {
    /// Role and participant from the token; device and capabilities from the query.
    pub info: PeerInfo,
    /// Display name: the token's `name`, else its subject.
    pub name: String,
    /// The token's `exp` (seconds): the socket is closed at its first frame after that.
    pub expires_at: i64,
    /// A visitor's claims for the workflow (locale, VIP, attributes); none for staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<VisitorProfile>,
    /// The epoch of the device's replica (`epoch`, PROTOCOL.md §16.2); 0 when not named.
    #[serde(default)]
    pub epoch: u64,
}

impl Forwarded {
    /// The conversation's Durable Object name, `{workspace}/{conversation}`: also what its
    /// stored data is bound to by encryption at rest.
    pub fn object_name(&self) -> String {
        format!("{}/{}", self.workspace, self.conversation)
    }

    pub fn to_header(&self) -> String {
        forwarded_header(self)
    }

    pub fn from_header(value: Option<&str>) -> Result<Forwarded, Refusal> {
        from_forwarded_header(value, "a conversation")
    }
}

/// The connecting device from the verified claims and the query string: `device` (required)
/// and `caps` (optional). Role, participant and name come from the token only; query
/// parameters that used to carry them are ignored.
pub fn connecting_peer(
    claims: &Claims,
    query: &[(String, String)],
) -> Result<ForwardedPeer, Refusal> {
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let device = device_param(query)?;
    // Capabilities the client announces, comma separated; unknown ones are ignored so clients
    // can offer newer ones to older relays.
    let cap = |want: &str| get("caps").is_some_and(|caps| caps.split(',').any(|c| c == want));
    let (fast, acks) = (cap("changes"), cap("acks"));
    let epoch = match get("epoch") {
        None => 0,
        Some(e) => e.parse::<u64>().map_err(|_| {
            Refusal::new(
                400,
                "bad_epoch",
                format!(
                    "query parameter `epoch` must be the epoch of your replica, a whole number \
                     (got {:?})",
                    e.chars().take(24).collect::<String>()
                ),
            )
        })?,
    };
    Ok(ForwardedPeer {
        info: PeerInfo {
            role: claims.role,
            participant: claims.sub.clone(),
            device,
            fast,
            acks,
            name: Some(claims.display_name()),
        },
        name: claims.display_name(),
        expires_at: claims.exp,
        profile: (claims.role == Role::Visitor).then(|| claims.profile()),
        epoch,
    })
}

/// The body of `PUT …/legal-hold`, `{"hold": true|false}`, as the inner query for the
/// conversation's object with the admin who asked (`by`, the token's subject).
pub fn legal_hold_query(body: &[u8], admin: &ParticipantId) -> Result<String, Refusal> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        hold: bool,
    }
    let parsed: Body = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(400, "bad_legal_hold", format!("expected {{\"hold\": true|false}}: {e}"))
    })?;
    Ok(format!("hold={}&by={}", parsed.hold, admin))
}

/// The query of `GET …/history` (PROTOCOL.md §16.3), checked and written out again for the
/// conversation's object: `before` (a cursor), `epoch` (one segment only), `limit` (1 to
/// 500, default 100). Unknown parameters are ignored.
pub fn history_query(query: &[(String, String)]) -> Result<String, Refusal> {
    use edgedesk_core::rollover::history::{Cursor, MAX_PAGE};
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let bad = |m: String| Refusal::new(400, "bad_history_query", m);
    let mut out = Vec::new();
    if let Some(b) = get("before") {
        let cursor: Cursor = b
            .parse()
            .map_err(|e: edgedesk_core::rollover::history::BadCursor| bad(e.to_string()))?;
        out.push(format!("before={cursor}"));
    }
    if let Some(e) = get("epoch") {
        let epoch: u64 = e.parse().map_err(|_| {
            bad(format!(
                "`epoch` must be a segment's epoch, a whole number (got {:?})",
                e.chars().take(24).collect::<String>()
            ))
        })?;
        out.push(format!("epoch={epoch}"));
    }
    let limit = match get("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| bad(format!("`limit` must be from 1 to {MAX_PAGE}")))?,
    };
    out.push(format!("limit={limit}"));
    Ok(out.join("&"))
}

#[cfg(test)]
mod tests {
    use edgedesk_core::auth::jwt;
    use edgedesk_core::auth::keys::Key;
    use edgedesk_core::ids::ParticipantId;
    use edgedesk_core::message::Role;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn ws(s: &str) -> WorkspaceId {
        WorkspaceId::new(s).unwrap()
    }

    fn conv(s: &str) -> ConversationId {
        ConversationId::new(s).unwrap()
    }

    fn agent() -> Claims {
        Claims {
            workspace: ws("acme"),
            sub: ParticipantId::new("agent-1").unwrap(),
            role: Role::Agent,
            conversation: None,
            exp: NOW + 60,
            iat: None,
            nbf: None,
            name: Some("Ada".into()),
            locale: None,
            vip: false,
            attrs: Default::default(),
            channel: None,
            sid: None,
        }
    }

    #[test]
    fn routes_workspace_scoped_conversations_the_widget_and_health() {
        assert_eq!(route("GET", "/health"), Ok(Route::Health));
        let r = route("GET", "/v1/workspaces/acme/conversations/c-1/connect").unwrap();
        assert_eq!(
            r,
            Route::Conversation {
                workspace: ws("acme"),
                conversation: conv("c-1"),
                action: ConversationAction::Connect
            }
        );
        let r = route("GET", "/v1/workspaces/acme/conversations/c-1/stats").unwrap();
        assert!(matches!(r, Route::Conversation { action: ConversationAction::Stats, .. }));
        assert_eq!(
            route("POST", "/v1/widget/session"),
            Ok(Route::WidgetSession { preflight: false })
        );
        assert_eq!(
            route("OPTIONS", "/v1/widget/session"),
            Ok(Route::WidgetSession { preflight: true })
        );
        assert_eq!(
            route("GET", "/v1/widget/availability"),
            Ok(Route::WidgetAvailability { preflight: false })
        );
        assert_eq!(
            route("OPTIONS", "/v1/widget/availability"),
            Ok(Route::WidgetAvailability { preflight: true })
        );
        assert_eq!(
            route("PUT", "/v1/workspaces/acme/config"),
            Ok(Route::WorkspaceConfig { workspace: ws("acme"), write: true })
        );
        assert_eq!(
            route("GET", "/v1/workspaces/acme/config"),
            Ok(Route::WorkspaceConfig { workspace: ws("acme"), write: false })
        );
    }

    #[test]
    fn routes_sign_in_and_the_admins_agent_pages() {
        assert_eq!(
            route("POST", "/v1/workspaces/acme/auth/sign-in"),
            Ok(Route::Auth { workspace: ws("acme"), action: AuthAction::SignIn })
        );
        assert_eq!(
            route("POST", "/v1/workspaces/acme/auth/sign-out"),
            Ok(Route::Auth { workspace: ws("acme"), action: AuthAction::SignOut })
        );
        assert_eq!(route("GET", "/v1/workspaces/acme/auth/refresh").unwrap_err().status, 405);
        assert_eq!(route("POST", "/v1/workspaces/acme/auth/nope").unwrap_err().status, 404);
        assert_eq!(
            route("GET", "/v1/workspaces/acme/agents"),
            Ok(Route::Agents { workspace: ws("acme"), agent: None })
        );
        assert_eq!(
            route("PUT", "/v1/workspaces/acme/agents/agent-ada"),
            Ok(Route::Agents {
                workspace: ws("acme"),
                agent: Some(ParticipantId::new("agent-ada").unwrap())
            })
        );
        assert_eq!(route("PUT", "/v1/workspaces/acme/agents/a%2Fb").unwrap_err().status, 400);
        assert_eq!(route("PUT", "/v1/workspaces/acme/agents").unwrap_err().status, 405);
    }

    #[test]
    fn routes_attachment_uploads_links_and_files() {
        let id = "0123456789abcdef01234567";
        let base = format!("/v1/workspaces/acme/conversations/c-1/attachments/{id}");
        let attachment = |op| Route::Attachment {
            workspace: ws("acme"),
            conversation: conv("c-1"),
            id: id.into(),
            op,
        };
        assert_eq!(route("PUT", &base), Ok(attachment(AttachmentOp::Upload)));
        assert_eq!(route("OPTIONS", &base), Ok(attachment(AttachmentOp::Preflight)));
        assert_eq!(route("GET", &format!("{base}/link")), Ok(attachment(AttachmentOp::Link)));
        assert_eq!(route("GET", &base).unwrap_err().status, 405);
        assert_eq!(
            route("PUT", "/v1/workspaces/acme/conversations/c-1/attachments/XYZ")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            route("GET", &format!("/v1/files/acme/c-1/{id}")),
            Ok(Route::File { workspace: ws("acme"), conversation: conv("c-1"), id: id.into() })
        );
        assert_eq!(route("PUT", &format!("/v1/files/acme/c-1/{id}")).unwrap_err().status, 405);
    }

    #[test]
    fn unknown_routes_bad_ids_and_methods_are_refused_with_status() {
        assert_eq!(route("GET", "/v1/nothing").unwrap_err().status, 404);
        assert_eq!(route("GET", "/v1/conversations/c/connect").unwrap_err().status, 404);
        assert_eq!(
            route("GET", "/v1/workspaces/w/conversations/c/delete").unwrap_err().status,
            404
        );
        let e = route("GET", "/v1/workspaces/a%20b/conversations/c/connect").unwrap_err();
        assert_eq!((e.status, e.code), (400, "bad_workspace_id"));
        let e = route("GET", "/v1/workspaces/w/conversations/a%20b/connect").unwrap_err();
        assert_eq!((e.status, e.code), (400, "bad_conversation_id"));
        assert_eq!(
            route("POST", "/v1/workspaces/w/conversations/c/connect").unwrap_err().status,
            405
        );
        assert_eq!(route("GET", "/v1/widget/session").unwrap_err().status, 405);
        assert_eq!(route("POST", "/v1/workspaces/w/config").unwrap_err().status, 405);
        let e = route("PUT", "/v1/workspaces/a%20b/config").unwrap_err();
        assert_eq!((e.status, e.code), (400, "bad_workspace_id"));
    }

    #[test]
    fn non_websocket_requests_get_426() {
        assert_eq!(check_upgrade(None).unwrap_err().status, 426);
        assert_eq!(check_upgrade(Some("h2c")).unwrap_err().status, 426);
        assert!(check_upgrade(Some("WebSocket")).is_ok());
    }

    #[test]
    fn the_token_comes_from_the_bearer_header_or_the_access_token_parameter() {
        let none = q(&[]);
        assert_eq!(bearer_token(Some("Bearer abc"), &none), Ok("abc"));
        assert_eq!(bearer_token(Some("bearer  abc "), &none), Ok("abc"));
        let query = q(&[("access_token", "from-query")]);
        assert_eq!(bearer_token(None, &query), Ok("from-query"));
        assert_eq!(bearer_token(Some("Bearer h"), &query), Ok("h"), "the header wins");
        assert_eq!(bearer_token(None, &none), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(Some("Bearer "), &none), Err(AuthError::MissingToken));
        assert_eq!(
            bearer_token(Some("Basic dXNlcg=="), &none).unwrap_err().code(),
            "malformed_token"
        );
    }

    #[test]
    fn authorize_turns_tokens_into_claims_or_the_right_refusal() {
        let keys = Keyring::new(vec![Key::random("k").unwrap()]).unwrap();
        let token = jwt::sign(keys.signing(), &agent()).unwrap();
        let go = |t: Result<&str, AuthError>, w: &str| {
            authorize(t, &keys, NOW, &ws(w), &conv("c-1"), Access::Stats)
        };
        assert_eq!(go(Ok(&token), "acme"), Ok(agent()));
        let r: Refusal = go(Ok(&token), "other").unwrap_err().into();
        assert_eq!((r.status, r.code), (403, "wrong_workspace"));
        let r: Refusal = go(Err(AuthError::MissingToken), "acme").unwrap_err().into();
        assert_eq!((r.status, r.code), (401, "missing_token"));
        assert!(r.to_json().contains("\"error\":\"missing_token\""));
    }

    #[test]
    fn missing_or_bad_keys_are_503_without_the_value() {
        assert_eq!(keyring(None).unwrap_err().status, 503);
        assert_eq!(keyring(Some("  ")).unwrap_err().code, "auth_not_configured");
        let r = keyring(Some("k:c2VjcmV0")).unwrap_err();
        assert!(!r.message.contains("c2VjcmV0"), "{}", r.message);
        let k = Key::random("k").unwrap();
        assert!(keyring(Some(&k.to_entry())).is_ok());
    }

    #[test]
    fn identity_comes_from_the_token_and_the_device_from_the_query() {
        let query = q(&[
            ("role", "admin"),
            ("participant", "someone-else"),
            ("name", "Mallory"),
            ("device", "d-1"),
            ("caps", "future,changes"),
        ]);
        let p = connecting_peer(&agent(), &query).unwrap();
        assert_eq!(p.info.role, Role::Agent);
        assert_eq!(p.info.participant.as_str(), "agent-1");
        assert_eq!(p.info.device.as_str(), "d-1");
        assert!(p.info.fast);
        assert!(!p.info.acks, "acks only when asked for");
        let with_acks = q(&[("device", "d-1"), ("caps", "changes,acks")]);
        assert!(connecting_peer(&agent(), &with_acks).unwrap().info.acks);
        assert_eq!(p.name, "Ada");
        assert_eq!(p.expires_at, NOW + 60);
        let e = connecting_peer(&agent(), &q(&[])).unwrap_err();
        assert_eq!((e.status, e.code), (400, "bad_device"));
        assert!(connecting_peer(&agent(), &q(&[("device", "a/b")]))
            .unwrap_err()
            .message
            .contains("'/'"));
    }

    #[test]
    fn the_forwarded_identity_round_trips_as_ascii_and_is_required() {
        let unicode = Claims { name: Some("张三 Zoë".into()), ..agent() };
        let f = Forwarded {
            workspace: ws("acme"),
            conversation: conv("c-1"),
            peer: Some(connecting_peer(&unicode, &q(&[("device", "d")])).unwrap()),
        };
        assert!(f.to_header().bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(Forwarded::from_header(Some(&f.to_header())), Ok(f));
        assert_eq!(Forwarded::from_header(None).unwrap_err().status, 400);
        assert_eq!(Forwarded::from_header(Some("{}")).unwrap_err().code, "bad_forward");
    }
}
