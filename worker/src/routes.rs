//! The Worker's front door: route, authenticate, authorize, then forward to the
//! conversation's Durable Object with the verified identity.
//!
//! Nothing reaches a Durable Object before its token verified and covers the request, so a
//! refused request costs no object wake-up and no storage read.

use edgedesk_core::auth::Access;
use edgedesk_core::ids::{ConversationId, WorkspaceId};
use wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::authorize::workspace_claims;
use crate::object_call::{CONVERSATION, WORKSPACE};
use crate::request::{self, ConversationAction, Forwarded, Refusal, Route, FORWARDED_HEADER};
use crate::workspace::request::{self as wr, ForwardedWorkspace, IF_MATCH_VERSION_HEADER};
use crate::{config, http, widget};

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    Ok(http::answer(route(req, env).await))
}

async fn route(req: Request, env: Env) -> Result<Response, Refusal> {
    let url = req.url()?;
    match request::route(req.method().as_ref(), url.path())? {
        Route::Health => Ok(http::json(&serde_json::json!({ "ok": true }))),
        Route::WidgetSession { preflight: true } => Ok(http::cors(http::no_content())),
        Route::WidgetSession { preflight: false } => {
            Ok(http::cors(widget::session(req, env).await?))
        }
        Route::WidgetAvailability { preflight: true } => Ok(http::cors(http::no_content())),
        Route::WidgetAvailability { preflight: false } => {
            Ok(http::cors(widget::availability(&req, &env).await?))
        }
        Route::Conversation { action: ConversationAction::History, .. }
            if req.method() == Method::Options =>
        {
            Ok(http::cors(http::no_content()))
        }
        Route::Conversation { workspace, conversation, action: ConversationAction::History } => {
            let answer = conversation_request(
                req,
                env,
                workspace,
                conversation,
                ConversationAction::History,
            )
            .await;
            Ok(http::cors(http::answer(answer)))
        }
        Route::Conversation { workspace, conversation, action } => {
            conversation_request(req, env, workspace, conversation, action).await
        }
        Route::WorkspaceConfig { workspace, write } => {
            workspace_config(req, env, workspace, write).await
        }
        Route::Inbox { workspace, action } => {
            crate::inbox::routes::forward(req, env, workspace, action).await
        }
        Route::Attachment { workspace, conversation, id, op } => {
            crate::attachments::attachment(req, env, workspace, conversation, id, op).await
        }
        Route::File { workspace, conversation, id } => {
            crate::attachments::file(req, env, workspace, conversation, id).await
        }
        Route::Auth { workspace, action } => {
            crate::account_routes::auth(req, env, workspace, action).await
        }
        Route::Agents { workspace, agent } => {
            crate::account_routes::agents(req, env, workspace, agent).await
        }
    }
}

/// `GET`/`PUT /v1/workspaces/{ws}/config`: an admin's token checked here, the body bounded
/// here, then handed to the workspace's object with the admin's identity.
async fn workspace_config(
    mut req: Request,
    env: Env,
    workspace: WorkspaceId,
    write: bool,
) -> Result<Response, Refusal> {
    let claims =
        workspace_claims(&req, &env, &workspace, Access::Configure, &[], "workspace config")?;
    let headers = Headers::new();
    let mut init = RequestInit::new();
    let path = if write {
        let if_match = wr::if_match(req.headers().get("if-match")?.as_deref())?;
        let declared = req.headers().get("content-length")?.and_then(|v| v.parse().ok());
        // A declared oversize body is refused before it is read.
        let body = match wr::config_body(declared, None) {
            Ok(_) => wr::config_body(None, Some(&req.bytes().await?)),
            Err(refusal) => Err(refusal),
        };
        let body = body?;
        if let Some(v) = if_match {
            headers.set(IF_MATCH_VERSION_HEADER, &v.to_string())?;
        }
        init.with_method(Method::Put).with_body(Some(JsValue::from_str(&body)));
        "config"
    } else {
        init.with_method(Method::Get);
        "config/admin"
    };
    let forwarded = ForwardedWorkspace { workspace: workspace.clone(), admin: Some(claims.sub) };
    headers.set(FORWARDED_HEADER, &forwarded.to_header())?;
    // A request built from scratch, as for conversations: no client header reaches the object.
    init.with_headers(headers);
    let inner = Request::new_with_init(&format!("https://workspace.internal/{path}"), &init)?;
    let stub =
        env.durable_object(WORKSPACE.binding)?.id_from_name(workspace.as_str())?.get_stub()?;
    Ok(stub.fetch_with_request(inner).await?)
}

async fn conversation_request(
    mut req: Request,
    env: Env,
    workspace: WorkspaceId,
    conversation: ConversationId,
    action: ConversationAction,
) -> Result<Response, Refusal> {
    let keys = config::keyring(&env)?;
    let url = req.url()?;
    let query: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let authorization = req.headers().get("authorization")?;
    let claims = match request::authorize(
        request::bearer_token(authorization.as_deref(), &query),
        &keys,
        config::now_seconds(),
        &workspace,
        &conversation,
        action.access(),
    ) {
        Ok(c) => c,
        // The code only: tokens and claims stay out of the logs.
        Err(e) => {
            worker::console_log!("refused {}: {}", action.as_str(), e.code());
            return Err(e.into());
        }
    };
    let headers = Headers::new();
    let inner_query = match action {
        ConversationAction::History => format!("?{}", request::history_query(&query)?),
        ConversationAction::LegalHold => {
            let body = http::bounded_body(&mut req, 1024).await?;
            format!("?{}", request::legal_hold_query(&body, &claims.sub)?)
        }
        _ => String::new(),
    };
    let peer = if action == ConversationAction::Connect {
        request::check_upgrade(req.headers().get("upgrade")?.as_deref())?;
        crate::account_routes::check_access(&env, &claims).await?;
        headers.set("upgrade", "websocket")?;
        Some(request::connecting_peer(&claims, &query)?)
    } else {
        None
    };
    let name = format!("{workspace}/{conversation}");
    let forwarded = Forwarded { workspace, conversation, peer };
    headers.set(FORWARDED_HEADER, &forwarded.to_header())?;
    // A request built from scratch: nothing the client sent reaches the object.
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let inner = Request::new_with_init(
        &format!("https://conversation.internal/{}{inner_query}", action.as_str()),
        &init,
    )?;
    let stub = env.durable_object(CONVERSATION.binding)?.id_from_name(&name)?.get_stub()?;
    Ok(stub.fetch_with_request(inner).await?)
}
