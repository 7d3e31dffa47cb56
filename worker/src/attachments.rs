//! The front door of attachments (PROTOCOL.md §2.10): uploads and links take a participant's
//! token for the conversation; a file is served to whoever holds a link the relay signed for
//! that conversation and file, until it expires. The bytes are sealed and kept by the
//! conversation's object ([`crate::conversation::attachments`]).

use edgedesk_core::attachment::{check_name, signed_url, MAX_ATTACHMENT_BYTES};
use edgedesk_core::auth::Access;
use edgedesk_core::ids::{ConversationId, WorkspaceId};
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::conversation::attachments::{CONTENT_TYPE_HEADER, UPLOADER_HEADER};
use crate::object_call::CONVERSATION;
use crate::request::{self, AttachmentOp, Forwarded, Refusal, FORWARDED_HEADER};
use crate::{config, http};

fn query(req: &Request) -> Result<Vec<(String, String)>, Refusal> {
    let url = req.url()?;
    Ok(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// `PUT …/attachments/{id}?name=…` and `GET …/attachments/{id}/link`, with CORS: the widget
/// runs on customers' sites.
pub async fn attachment(
    req: Request,
    env: Env,
    workspace: WorkspaceId,
    conversation: ConversationId,
    id: String,
    op: AttachmentOp,
) -> Result<Response, Refusal> {
    let answer = match op {
        AttachmentOp::Preflight => Ok(http::no_content()),
        AttachmentOp::Upload => upload(req, &env, workspace, conversation, &id).await,
        AttachmentOp::Link => link(&req, &env, &workspace, &conversation, &id).await,
    };
    Ok(http::cors(http::answer(answer)))
}

fn participant(
    req: &Request,
    env: &Env,
    workspace: &WorkspaceId,
    conversation: &ConversationId,
    query: &[(String, String)],
) -> Result<edgedesk_core::auth::Claims, Refusal> {
    let keys = config::keyring(env)?;
    let authorization = req.headers().get("authorization")?;
    request::authorize(
        request::bearer_token(authorization.as_deref(), query),
        &keys,
        config::now_seconds(),
        workspace,
        conversation,
        Access::Attachments,
    )
    .map_err(|e| {
        worker::console_log!("refused attachment request: {}", e.code());
        e.into()
    })
}

async fn upload(
    mut req: Request,
    env: &Env,
    workspace: WorkspaceId,
    conversation: ConversationId,
    id: &str,
) -> Result<Response, Refusal> {
    let query = query(&req)?;
    let claims = participant(&req, env, &workspace, &conversation, &query)?;
    crate::account_routes::check_access(env, &claims).await?;
    let name = query.iter().find(|(k, _)| k == "name").map(|(_, v)| v.as_str()).unwrap_or("");
    check_name(name).map_err(|e| Refusal::new(400, e.code(), e.to_string()))?;
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    // Parameters (`; charset=…`) are not part of the type the workspace allows.
    let content_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let max = usize::try_from(MAX_ATTACHMENT_BYTES).unwrap_or(usize::MAX);
    let body = http::bounded_body(&mut req, max).await?;
    let headers = Headers::new();
    let forwarded = Forwarded { workspace, conversation, peer: None };
    let object = forwarded.object_name();
    headers.set(FORWARDED_HEADER, &forwarded.to_header())?;
    headers.set(UPLOADER_HEADER, claims.sub.as_str())?;
    headers.set(CONTENT_TYPE_HEADER, &content_type)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Put)
        .with_headers(headers)
        .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    let inner =
        Request::new_with_init(&format!("https://{}/attachments/{id}", CONVERSATION.host), &init)?;
    let stub = env.durable_object(CONVERSATION.binding)?.id_from_name(&object)?.get_stub()?;
    http::fresh_json(stub.fetch_with_request(inner).await?).await
}

/// A link for `<img src>` and downloads: `{"url": "/v1/files/…", "expires_at": s}` (the
/// URL is relative to the relay).
async fn link(
    req: &Request,
    env: &Env,
    workspace: &WorkspaceId,
    conversation: &ConversationId,
    id: &str,
) -> Result<Response, Refusal> {
    let query = query(req)?;
    let claims = participant(req, env, workspace, conversation, &query)?;
    crate::account_routes::check_access(env, &claims).await?;
    let keys = config::keyring(env)?;
    let (signed, expires_at) = signed_url::sign(
        &keys,
        workspace.as_str(),
        conversation.as_str(),
        id,
        config::now_seconds(),
    )
    .map_err(|e| Refusal::new(503, "unavailable", e.to_string()))?;
    let url = format!("/v1/files/{workspace}/{conversation}/{id}?{signed}");
    Ok(http::json(&serde_json::json!({ "url": url, "expires_at": expires_at })))
}

/// `GET /v1/files/{ws}/{conv}/{id}?exp=…&kid=…&sig=…`.
pub async fn file(
    req: Request,
    env: Env,
    workspace: WorkspaceId,
    conversation: ConversationId,
    id: String,
) -> Result<Response, Refusal> {
    let keys = config::keyring(&env)?;
    let query = query(&req)?;
    signed_url::verify(
        &keys,
        workspace.as_str(),
        conversation.as_str(),
        &id,
        &query,
        config::now_seconds(),
    )
    .map_err(|e| Refusal::new(e.status(), e.code(), e.to_string()))?;
    let forwarded = Forwarded { workspace, conversation, peer: None };
    let object = forwarded.object_name();
    let headers = Headers::new();
    headers.set(FORWARDED_HEADER, &forwarded.to_header())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let inner =
        Request::new_with_init(&format!("https://{}/attachments/{id}", CONVERSATION.host), &init)?;
    let stub = env.durable_object(CONVERSATION.binding)?.id_from_name(&object)?.get_stub()?;
    Ok(stub.fetch_with_request(inner).await?)
}
