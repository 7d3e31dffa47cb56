//! `POST /v1/widget/session`: an anonymous visitor token for a public site key (core's
//! `auth::widget` decides; this reads the request and the configuration).
//! `GET /v1/widget/availability`: whether the site key's workspace is within business hours
//! and has an agent online (core's `workflow::availability` decides).

use edgedesk_core::auth::widget::{
    mint_visitor, MintError, SessionRequest, SiteKeys, MAX_REQUEST_BYTES,
};
use edgedesk_core::auth::{authenticate, Keyring};
use edgedesk_core::ids::WorkspaceId;
use edgedesk_core::workflow::availability::Availability;
use worker::{Env, Request, Response};

use crate::config;
use crate::http;
use crate::inbox::request::AGENTS_ONLINE_PATH;
use crate::object_call::{Call, INBOX};
use crate::request::{self, Refusal};
use crate::workspace::client::fetch_config;

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
    let body = match http::bounded_body(req, MAX_REQUEST_BYTES).await {
        Ok(b) => b,
        Err(r) => return Ok(Err(r)),
    };
    let (site_key, visit) = match SessionRequest::parse(&body) {
        Ok(r) => (r.site_key.clone(), r.visit()),
        Err(m) => return Ok(Err(Refusal::new(400, "bad_request", m))),
    };
    let (keys, site_keys, ttl) =
        match (config::keyring(env), config::site_keys(env), config::widget_ttl(env)) {
            (Ok(k), Ok(s), Ok(t)) => (k, s, t),
            (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return Ok(Err(r)),
        };
    let workspace = match workspace_of(&site_keys, &site_key) {
        Ok(ws) => ws,
        Err(r) => return Ok(Err(r)),
    };
    let now = config::now_seconds();
    let presented = presented_claims(req, &keys, now)?;
    Ok(mint_visitor(&keys, workspace, presented.as_ref(), &visit, now, ttl).map_err(|e| {
        match e {
            // A locale that is not a language tag: the caller's mistake, said as such.
            MintError::Claims(e) => Refusal::new(400, "bad_request", e.to_string()),
            e => {
                worker::console_error!("widget session: {e}");
                Refusal::new(500, "internal", "could not mint a token; retry later")
            }
        }
    }))
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

/// The workspace a public site key opens (403 `unknown_site_key` for any other).
fn workspace_of<'k>(site_keys: &'k SiteKeys, site_key: &str) -> Result<&'k WorkspaceId, Refusal> {
    site_keys.workspace(site_key).ok_or_else(|| {
        Refusal::new(
            403,
            "unknown_site_key",
            "this site key is not configured (EDGEDESK_SITE_KEYS)",
        )
    })
}

pub async fn availability(req: &Request, env: &Env) -> worker::Result<Response> {
    Ok(match availability_of(req, env).await? {
        Ok(a) => http::json(&serde_json::to_value(a).unwrap_or_default()),
        Err(refusal) => http::refusal(&refusal),
    })
}

async fn availability_of(
    req: &Request,
    env: &Env,
) -> worker::Result<Result<Availability, Refusal>> {
    let url = req.url()?;
    let site_key = url.query_pairs().find(|(k, _)| k == "site_key").map(|(_, v)| v.into_owned());
    let Some(site_key) = site_key else {
        let m = "expected ?site_key=… (the widget's public site key)";
        return Ok(Err(Refusal::new(400, "bad_request", m)));
    };
    let workspace = match config::site_keys(env).and_then(|k| workspace_of(&k, &site_key).cloned())
    {
        Ok(ws) => ws,
        Err(r) => return Ok(Err(r)),
    };
    let unavailable = |what: &str, e: String| {
        worker::console_error!("widget availability: {what}: {e}");
        Err(Refusal::new(503, "unavailable", "availability is unknown right now; retry"))
    };
    let config = match fetch_config(env, workspace.as_str(), None).await {
        Ok(Some((_, config))) => config,
        Ok(None) => edgedesk_core::workflow::config::WorkspaceConfig::default(),
        Err(e) => return Ok(unavailable("configuration", e.to_string())),
    };
    let answer = Call {
        to: INBOX,
        name: workspace.as_str(),
        method: worker::Method::Get,
        path: AGENTS_ONLINE_PATH,
        forwarded: String::new(),
        headers: &[],
        body: None,
    }
    .send(env)
    .await;
    let agents_online = match answer {
        Ok(a) if a.status == 200 => a.json()["online"].as_bool().unwrap_or(false),
        Ok(a) => return Ok(unavailable("inbox", format!("status {}", a.status))),
        Err(e) => return Ok(unavailable("inbox", e.message)),
    };
    let now = worker::Date::now().as_millis() as i64;
    Ok(Ok(Availability::at(&config, agents_online, now)))
}
