//! The front door of accounts (PROTOCOL.md §2.9): sign-in, refresh and sign-out carry their
//! credential in the body, bounded here; the agents pages take an admin's token. All go on to
//! the workspace's object, which holds the accounts. [`check_access`] is what every staff
//! socket passes before it opens.

use edgedesk_core::auth::{Access, Claims};
use edgedesk_core::ids::{ParticipantId, WorkspaceId};
use wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::authorize::workspace_claims;
use crate::object_call::{Call, WORKSPACE};
use crate::request::{AuthAction, Refusal, FORWARDED_HEADER};
use crate::workspace::request::ForwardedWorkspace;

/// Largest body of any of these requests (an account update is the largest).
const MAX_BODY_BYTES: usize = edgedesk_core::accounts::account::MAX_UPDATE_BYTES;

async fn bounded_body(req: &mut Request) -> Result<String, Refusal> {
    let bytes = crate::http::bounded_body(req, MAX_BODY_BYTES).await?;
    String::from_utf8(bytes)
        .map_err(|_| Refusal::new(400, "invalid_request", "the body is not UTF-8 JSON"))
}

/// The workspace object's answer, as it is (status, `Retry-After`, error headers).
async fn to_workspace(
    env: &Env,
    forwarded: ForwardedWorkspace,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Response, Refusal> {
    let headers = Headers::new();
    headers.set(FORWARDED_HEADER, &forwarded.to_header())?;
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(body) = body {
        init.with_body(Some(JsValue::from_str(&body)));
    }
    // A request built from scratch: nothing the client sent but the bounded body goes on.
    let inner = Request::new_with_init(&format!("https://{}/{path}", WORKSPACE.host), &init)?;
    let stub = env
        .durable_object(WORKSPACE.binding)?
        .id_from_name(forwarded.workspace.as_str())?
        .get_stub()?;
    Ok(stub.fetch_with_request(inner).await?)
}

/// `POST /v1/workspaces/{ws}/auth/{action}`.
pub async fn auth(
    mut req: Request,
    env: Env,
    workspace: WorkspaceId,
    action: AuthAction,
) -> Result<Response, Refusal> {
    let body = bounded_body(&mut req).await?;
    let forwarded = ForwardedWorkspace { workspace, admin: None };
    to_workspace(&env, forwarded, Method::Post, action.path(), Some(body)).await
}

/// `GET /v1/workspaces/{ws}/agents` (every staff member: the directory; admins: the
/// accounts) and `PUT …/agents/{id}` (admins).
pub async fn agents(
    mut req: Request,
    env: Env,
    workspace: WorkspaceId,
    agent: Option<ParticipantId>,
) -> Result<Response, Refusal> {
    let access = if agent.is_none() { Access::Inbox } else { Access::ManageAgents };
    let claims = workspace_claims(&req, &env, &workspace, access, &[], "agents request")?;
    check_access(&env, &claims).await?;
    // Only an admin is forwarded as one: the object shows others the directory alone.
    let admin = (claims.role == edgedesk_core::message::Role::Admin).then_some(claims.sub);
    let forwarded = ForwardedWorkspace { workspace, admin };
    match agent {
        None => to_workspace(&env, forwarded, Method::Get, "agents", None).await,
        Some(id) => {
            let body = bounded_body(&mut req).await?;
            let path = format!("agents/{id}");
            to_workspace(&env, forwarded, Method::Put, &path, Some(body)).await
        }
    }
}

/// Before a staff member's socket opens (inbox or conversation) or an admin changes
/// accounts: their account, if the workspace has one for them, is not disabled, and the
/// relay's session their token came from, if any, is live.
pub async fn check_access(env: &Env, claims: &Claims) -> Result<(), Refusal> {
    if !claims.role.is_staff() {
        return Ok(());
    }
    let mut path = format!("access?agent={}", claims.sub);
    if let Some(sid) = &claims.sid {
        // A session id is hex (the relay mints it); anything else names no session.
        if !sid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refusal::new(
                401,
                "invalid_session",
                "the token's session is unknown; sign in again",
            ));
        }
        path.push_str("&sid=");
        path.push_str(sid);
    }
    let forwarded = ForwardedWorkspace { workspace: claims.workspace.clone(), admin: None };
    let answer = Call {
        to: WORKSPACE,
        name: claims.workspace.as_str(),
        method: Method::Get,
        path: &path,
        forwarded: forwarded.to_header(),
        headers: &[],
        body: None,
    }
    .send(env)
    .await
    .map_err(|e| Refusal::new(503, "unavailable", e.to_string()))?;
    if answer.status == 204 {
        return Ok(());
    }
    let json = answer.json();
    let code = match json["error"].as_str() {
        Some("account_disabled") => "account_disabled",
        Some("invalid_session") => "invalid_session",
        _ => "unavailable",
    };
    worker::console_log!("refused staff access: {code}");
    let message = json["message"].as_str().unwrap_or("the account could not be checked; retry");
    Err(Refusal::new(answer.status, code, message))
}
