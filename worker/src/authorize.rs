//! A request's token checked for a whole workspace, as the front door and the inbox's routes
//! both need it before anything reaches a Durable Object.

use edgedesk_core::auth::claims::Claims;
use edgedesk_core::auth::Access;
use edgedesk_core::ids::WorkspaceId;
use worker::{Env, Request};

use crate::config;
use crate::request::{self, Refusal};

/// The verified claims of a request's token for the whole of `workspace` with `access`
/// (the token from the `Authorization` header, or `access_token` in `query`). A refusal is
/// logged by its code only, as `refused {what}: code`: tokens and claims stay out of logs.
pub(crate) fn workspace_claims(
    req: &Request,
    env: &Env,
    workspace: &WorkspaceId,
    access: Access,
    query: &[(String, String)],
    what: &str,
) -> Result<Claims, Refusal> {
    let keys = config::keyring(env)?;
    let authorization = req.headers().get("authorization")?;
    request::authorize_workspace(
        request::bearer_token(authorization.as_deref(), query),
        &keys,
        config::now_seconds(),
        workspace,
        access,
    )
    .map_err(|e| {
        worker::console_log!("refused {what}: {}", e.code());
        e.into()
    })
}
