//! The front door of the inbox: an agent's or admin's token for the whole workspace checked
//! here, then the request rebuilt from scratch for the workspace's `Inbox` object with the
//! verified identity, the query string and (for claim and transfer) the bounded body.

use edgedesk_core::auth::Access;
use edgedesk_core::ids::WorkspaceId;
use wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::authorize::workspace_claims;
use crate::inbox::request::{ForwardedAgent, InboxAction, MAX_INBOX_BODY_BYTES};
use crate::object_call::INBOX;
use crate::request::{self, Refusal, FORWARDED_HEADER};

pub async fn forward(
    mut req: Request,
    env: Env,
    workspace: WorkspaceId,
    action: InboxAction,
) -> Result<Response, Refusal> {
    let url = req.url()?;
    let query: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let claims = workspace_claims(&req, &env, &workspace, Access::Inbox, &query, "inbox request")?;
    let headers = Headers::new();
    let mut init = RequestInit::new();
    let mut device = None;
    match &action {
        InboxAction::Connect => {
            request::check_upgrade(req.headers().get("upgrade")?.as_deref())?;
            crate::account_routes::check_access(&env, &claims).await?;
            headers.set("upgrade", "websocket")?;
            device = Some(request::device_param(&query)?);
            init.with_method(Method::Get);
        }
        InboxAction::Claim(_) | InboxAction::Transfer(_) => {
            let body = req.bytes().await?;
            if body.len() > MAX_INBOX_BODY_BYTES {
                return Err(Refusal::new(
                    413,
                    "body_too_large",
                    format!(
                        "the body is {} bytes; the limit is {MAX_INBOX_BODY_BYTES}",
                        body.len()
                    ),
                ));
            }
            let text = String::from_utf8_lossy(&body).into_owned();
            init.with_method(Method::Post).with_body(Some(JsValue::from_str(&text)));
        }
        _ => {
            init.with_method(Method::Get);
        }
    }
    let forwarded = ForwardedAgent {
        workspace: workspace.clone(),
        agent: claims.sub.clone(),
        role: claims.role,
        device,
        expires_at: claims.exp,
    };
    headers.set(FORWARDED_HEADER, &forwarded.to_header())?;
    init.with_headers(headers);
    // Only the query string travels on; the token in it (`access_token`) is dropped.
    let kept: Vec<(String, String)> =
        query.into_iter().filter(|(k, _)| k != "access_token").collect();
    let mut inner_url =
        worker::Url::parse(&format!("https://inbox.internal/{}", action.object_path()))
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
    if !kept.is_empty() {
        inner_url.query_pairs_mut().extend_pairs(kept);
    }
    let inner = Request::new_with_init(inner_url.as_str(), &init)?;
    let stub = env.durable_object(INBOX.binding)?.id_from_name(workspace.as_str())?.get_stub()?;
    Ok(stub.fetch_with_request(inner).await?)
}
