//! The Worker's front door: validate, then forward to the conversation's Durable Object.

use worker::{Env, Request, Response};

use crate::http;
use crate::request::{self, ConversationAction, Refusal, Route};

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let url = req.url()?;
    let route = match request::route(req.method().as_ref(), url.path()) {
        Ok(r) => r,
        Err(refusal) => return Ok(http::refusal(&refusal)),
    };
    if route == Route::Health {
        return Ok(http::json(&serde_json::json!({ "ok": true })));
    }
    let (Some(name), Some(action)) = (route.object_name(), route.action()) else {
        return Ok(http::refusal(&Refusal::new(404, "not_found", "no such route")));
    };
    match action {
        ConversationAction::Connect => {
            if let Err(refusal) = request::check_upgrade(req.headers().get("upgrade")?.as_deref()) {
                return Ok(http::refusal(&refusal));
            }
        }
        ConversationAction::Stats => {}
        // AUTH: erasure destroys a conversation for good: admin role only, and only within
        // the token's workspace. Put the auth helper's admin check here when merging.
        ConversationAction::Erase => {}
    }
    let stub = env.durable_object("CONVERSATION")?.id_from_name(&name)?.get_stub()?;
    stub.fetch_with_request(req).await
}
