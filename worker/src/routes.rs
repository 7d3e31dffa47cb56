//! The Worker's front door: validate, then forward to the conversation's Durable Object.

use worker::{Env, Request, Response};

use crate::http;
use crate::request::{self, ConversationAction, Route};

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let url = req.url()?;
    let route = match request::route(req.method().as_ref(), url.path()) {
        Ok(r) => r,
        Err(refusal) => return Ok(http::refusal(&refusal)),
    };
    match route {
        Route::Health => Ok(http::json(&serde_json::json!({ "ok": true }))),
        Route::Conversation { id, action } => {
            if action == ConversationAction::Connect {
                if let Err(refusal) =
                    request::check_upgrade(req.headers().get("upgrade")?.as_deref())
                {
                    return Ok(http::refusal(&refusal));
                }
            }
            let stub = env.durable_object("CONVERSATION")?.id_from_name(id.as_str())?.get_stub()?;
            stub.fetch_with_request(req).await
        }
    }
}
