//! The Worker's secrets and variables, read per request (a deploy or `wrangler secret put`
//! replaces them without a code change). Parsing lives in core and `request`, natively tested.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `EDGEDESK_JWT_KEYS` | secret | `kid:base64url-secret,…`; the first signs, all verify |
//! | `EDGEDESK_SITE_KEYS` | var or secret | `site_key:workspace,…`, public widget keys |
//! | `EDGEDESK_WIDGET_TOKEN_TTL_SECONDS` | var | widget token lifetime (default 86400) |

use std::sync::atomic::{AtomicBool, Ordering};

use edgedesk_core::auth::widget::{self, SiteKeys};
use edgedesk_core::auth::Keyring;
use edgedesk_core::limits::{Limits, LimitsError};
use worker::Env;

use crate::request::{self, Refusal};

/// A misconfiguration is logged once per isolate, not once per request.
static KEYS_LOGGED: AtomicBool = AtomicBool::new(false);
static SITE_KEYS_LOGGED: AtomicBool = AtomicBool::new(false);

fn read(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

/// The operator's bounds (`edgedesk_core::limits`), each a variable or a secret of that name;
/// read by every object that enforces one, so both read them alike.
pub fn limits(env: &Env) -> Result<Limits, LimitsError> {
    Limits::from_vars(|name| {
        env.var(name).or_else(|_| env.secret(name)).ok().map(|v| v.to_string())
    })
}

fn log_once(flag: &AtomicBool, refusal: &Refusal) {
    if !flag.swap(true, Ordering::Relaxed) {
        // The refusal's message names the variable and the problem, never the value.
        worker::console_error!("configuration: {}", refusal.message);
    }
}

pub fn keyring(env: &Env) -> Result<Keyring, Refusal> {
    request::keyring(read(env, "EDGEDESK_JWT_KEYS").as_deref())
        .inspect_err(|r| log_once(&KEYS_LOGGED, r))
}

pub fn site_keys(env: &Env) -> Result<SiteKeys, Refusal> {
    let unavailable = |m: String| Refusal::new(503, "widget_not_configured", m);
    let keys = match read(env, "EDGEDESK_SITE_KEYS") {
        None => Err(unavailable(
            "widget sessions are off: set EDGEDESK_SITE_KEYS to `site_key:workspace[,…]`".into(),
        )),
        Some(v) => SiteKeys::parse(&v).map_err(|e| unavailable(e.to_string())),
    };
    keys.inspect_err(|r| log_once(&SITE_KEYS_LOGGED, r))
}

pub fn widget_ttl(env: &Env) -> Result<i64, Refusal> {
    widget::parse_ttl(read(env, "EDGEDESK_WIDGET_TOKEN_TTL_SECONDS").as_deref())
        .map_err(|m| Refusal::new(503, "widget_not_configured", m))
}

/// Seconds since the epoch by the platform clock (tokens count in seconds).
pub fn now_seconds() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}
