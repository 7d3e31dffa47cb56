//! `POST /v1/widget/session`: an anonymous visitor token for a public site key (core's
//! `auth::widget` decides; this reads the request and the configuration).

use edgedesk_core::auth::widget::{mint_visitor, MintError, SessionRequest, MAX_REQUEST_BYTES};
use edgedesk_core::auth::{authenticate, Keyring};
use worker::{Env, Request, Response};

use crate::config;
use crate::http;
use crate::request::{self, Refusal};

pub async fn session(mut req: Request, env: Env) -> worker::Result<Response> {
    Ok(match mint(&mut req, &env).await? {
        Ok(session) => http::json(&serde_json::to_value(session).unwrap_or_default()),
        Err(refusal) => http::refusal(&refusal),
    })
}

async fn mint(
    req: &mut Request,
    env: &Env,
) -> worker::Result<Result<edgedesk_core::auth::widget::WidgetSession, Refusal>> {
    let too_large = || {
        Refusal::new(
            413,
            "body_too_large",
            format!("the body is limited to {MAX_REQUEST_BYTES} bytes"),
        )
    };
    // Refuse a declared oversize body before reading it.
    let declared = req.headers().get("content-length")?.and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES) {
        return Ok(Err(too_large()));
    }
    let body = req.bytes().await?;
    if body.len() > MAX_REQUEST_BYTES {
        return Ok(Err(too_large()));
    }
    let (site_key, locale) = match SessionRequest::parse(&body) {
        Ok(r) => (r.site_key, r.locale),
        Err(m) => return Ok(Err(Refusal::new(400, "bad_request", m))),
    };
    let (keys, site_keys, ttl) =
        match (config::keyring(env), config::site_keys(env), config::widget_ttl(env)) {
            (Ok(k), Ok(s), Ok(t)) => (k, s, t),
            (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return Ok(Err(r)),
        };
    let Some(workspace) = site_keys.workspace(&site_key) else {
        return Ok(Err(Refusal::new(
            403,
            "unknown_site_key",
            "this site key is not configured (EDGEDESK_SITE_KEYS)",
        )));
    };
    let now = config::now_seconds();
    let presented = presented_claims(req, &keys, now)?;
    Ok(mint_visitor(&keys, workspace, presented.as_ref(), locale.as_deref(), now, ttl).map_err(
        |e| {
            match e {
                // A locale that is not a language tag: the caller's mistake, said as such.
                MintError::Claims(e) => Refusal::new(400, "bad_request", e.to_string()),
                e => {
                    worker::console_error!("widget session: {e}");
                    Refusal::new(500, "internal", "could not mint a token; retry later")
                }
            }
        },
    ))
}

/// The claims of a still-valid token the request carries, to renew it; an absent, invalid or
/// expired one just means a new visitor.
fn presented_claims(
    req: &Request,
    keys: &Keyring,
    now: i64,
) -> worker::Result<Option<edgedesk_core::auth::Claims>> {
    let authorization = req.headers().get("authorization")?;
    Ok(request::bearer_token(authorization.as_deref(), &[])
        .ok()
        .and_then(|token| authenticate(token, keys, now).ok()))
}
