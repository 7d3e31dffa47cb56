//! Webhook endpoints: where events are posted, signed with each endpoint's secret.

use super::errors::{field, index, quoted, Errors};
use super::json::RawWebhook;

/// Event types an endpoint may subscribe to (PROTOCOL.md §9.6).
pub const KNOWN_EVENTS: [&str; 7] = [
    "message.created",
    "conversation.status_changed",
    "conversation.handoff",
    "sla.breached",
    "priority.raised",
    "reminder.due",
    "visitor.notification_due",
];
pub const MAX_WEBHOOKS: usize = 10;
pub const MIN_SECRET_BYTES: usize = 16;
pub const MAX_SECRET_BYTES: usize = 256;
pub const MAX_URL_BYTES: usize = 2048;
pub const MAX_ID_BYTES: usize = 64;
/// What `to_json(true)` shows instead of a secret. Sent back in a `PUT`, it keeps the secret
/// stored for the webhook with the same id, so a configuration read with `GET` can be edited
/// and sent back without knowing its secrets.
pub const REDACTED_SECRET: &str = "<redacted>";

/// Where events are posted, signed with `secret` (HMAC-SHA256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// Event types sent here; empty means all.
    pub events: Vec<String>,
}

impl WebhookEndpoint {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }

    pub(super) fn to_raw(&self, redact_secret: bool) -> RawWebhook {
        RawWebhook {
            id: self.id.clone(),
            url: self.url.clone(),
            secret: if redact_secret { REDACTED_SECRET.to_owned() } else { self.secret.clone() },
            events: self.events.clone(),
        }
    }
}

/// Checks the endpoints. `stored` gives the secret currently stored for an id, for secrets
/// sent back as [`REDACTED_SECRET`].
pub(super) fn from_raw(
    raw: &[RawWebhook],
    stored: &dyn Fn(&str) -> Option<String>,
    errors: &mut Errors,
) -> Vec<WebhookEndpoint> {
    if raw.len() > MAX_WEBHOOKS {
        errors.push("webhooks", format!("{} webhooks; the limit is {MAX_WEBHOOKS}", raw.len()));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, hook) in raw.iter().enumerate() {
        let path = index("webhooks", i);
        if !is_id(&hook.id) {
            errors.push(
                field(&path, "id"),
                format!(
                    "{} is not a webhook id: 1 to {MAX_ID_BYTES} characters of A-Z a-z 0-9 _ . -",
                    quoted(&hook.id)
                ),
            );
        } else if let Some(first) = raw[..i].iter().position(|h| h.id == hook.id) {
            errors.push(
                field(&path, "id"),
                format!(
                    "{} is already the id of webhooks[{first}]; ids must be unique",
                    quoted(&hook.id)
                ),
            );
        }
        if let Err(why) = check_url(&hook.url) {
            errors.push(field(&path, "url"), why);
        }
        let secret = secret(hook, stored, &field(&path, "secret"), errors);
        check_events(&hook.events, &field(&path, "events"), errors);
        if let Some(secret) = secret {
            out.push(WebhookEndpoint {
                id: hook.id.clone(),
                url: hook.url.clone(),
                secret,
                events: hook.events.clone(),
            });
        }
    }
    out
}

fn is_id(id: &str) -> bool {
    (1..=MAX_ID_BYTES).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `https`, or `http` to the local machine only (a receiver under test); no credentials in
/// the URL, since GET shows URLs unredacted.
fn check_url(s: &str) -> Result<(), String> {
    if s.len() > MAX_URL_BYTES {
        return Err(format!("the URL is {} bytes; the limit is {MAX_URL_BYTES}", s.len()));
    }
    let url = url::Url::parse(s).map_err(|e| format!("{} is not a URL: {e}", quoted(s)))?;
    let host = url.host_str().unwrap_or_default();
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match url.scheme() {
        "https" if !host.is_empty() => {}
        "http" if local => {}
        "http" => {
            return Err(format!(
            "{} is plain http; use https (http is allowed for localhost, 127.0.0.1 and [::1] only)",
            quoted(s)
        ))
        }
        _ => return Err(format!("{} must be an https URL", quoted(s))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL holds credentials; remove them: requests are signed with `secret`".into()
        );
    }
    Ok(())
}

fn secret(
    hook: &RawWebhook,
    stored: &dyn Fn(&str) -> Option<String>,
    path: &str,
    errors: &mut Errors,
) -> Option<String> {
    if hook.secret == REDACTED_SECRET {
        let kept = stored(&hook.id);
        if kept.is_none() {
            errors.push(
                path,
                format!(
                    "{REDACTED_SECRET:?} keeps the stored secret of webhook {}, but none is stored; send the secret",
                    quoted(&hook.id)
                ),
            );
        }
        return kept;
    }
    let n = hook.secret.len();
    if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&n) {
        // Never echo a secret, not even a wrong one.
        errors.push(
            path,
            format!("the secret is {n} bytes; use {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} (e.g. `openssl rand -hex 32`)"),
        );
        return None;
    }
    Some(hook.secret.clone())
}

fn check_events(events: &[String], path: &str, errors: &mut Errors) {
    for (i, e) in events.iter().enumerate() {
        if !KNOWN_EVENTS.contains(&e.as_str()) {
            errors.push(
                index(path, i),
                format!("unknown event {}; known events: {}", quoted(e), KNOWN_EVENTS.join(", ")),
            );
        } else if events[..i].contains(e) {
            errors.push(index(path, i), format!("{} is listed twice", quoted(e)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(id: &str, url: &str, secret: &str, events: &[&str]) -> RawWebhook {
        RawWebhook {
            id: id.into(),
            url: url.into(),
            secret: secret.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    const SECRET: &str = "0123456789abcdef";

    fn check(raw: &[RawWebhook]) -> Result<Vec<WebhookEndpoint>, Vec<(String, String)>> {
        let mut errors = Errors::default();
        let out = from_raw(
            raw,
            &|id| (id == "crm").then(|| "stored-secret-1234".to_owned()),
            &mut errors,
        );
        errors.into_result(out).map_err(|e| e.0.into_iter().map(|e| (e.path, e.message)).collect())
    }

    #[test]
    fn an_endpoint_wants_its_events_or_all_when_none_are_listed() {
        let hooks = check(&[
            hook("crm", "https://example.com/hook", SECRET, &["sla.breached"]),
            hook("all", "http://127.0.0.1:9000/", SECRET, &[]),
        ])
        .unwrap();
        assert!(hooks[0].wants("sla.breached") && !hooks[0].wants("message.created"));
        assert!(hooks[1].wants("message.created"));
        for local in ["http://localhost:8080/h", "http://[::1]:9/h", "http://127.0.0.1/"] {
            assert!(check_url(local).is_ok(), "{local}");
        }
        assert!(check_url("http://10.0.0.1/").is_err());
        assert!(check_url("not a url").unwrap_err().contains("is not a URL"));
    }

    #[test]
    fn urls_secrets_events_and_ids_are_checked_without_echoing_secrets() {
        let e = check(&[
            hook("a", "http://example.com/hook", "short-secret", &["sla.breach"]),
            hook("a", "ftp://example.com", SECRET, &["sla.breached", "sla.breached"]),
            hook("b c", "https://user:pw@example.com/", SECRET, &[]),
        ])
        .unwrap_err();
        let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "webhooks[0].url",
                "webhooks[0].secret",
                "webhooks[0].events[0]",
                "webhooks[1].id",
                "webhooks[1].url",
                "webhooks[1].events[1]",
                "webhooks[2].id",
                "webhooks[2].url",
            ]
        );
        assert!(e[0].1.contains("use https"), "{}", e[0].1);
        assert_eq!(e[1].1, "the secret is 12 bytes; use 16 to 256 (e.g. `openssl rand -hex 32`)");
        assert!(e[2].1.contains("unknown event \"sla.breach\"; known events: message.created"));
        assert!(e[3].1.contains("already the id of webhooks[0]"));
        assert!(e.iter().all(|(_, m)| !m.contains("short-secret")));
    }

    #[test]
    fn a_redacted_secret_keeps_the_stored_one_for_the_same_id() {
        let hooks = check(&[hook("crm", "https://example.com/", REDACTED_SECRET, &[])]).unwrap();
        assert_eq!(hooks[0].secret, "stored-secret-1234");
        assert_eq!(hooks[0].to_raw(true).secret, REDACTED_SECRET);
        let e = check(&[hook("new", "https://example.com/", REDACTED_SECRET, &[])]).unwrap_err();
        assert_eq!(e[0].0, "webhooks[0].secret");
        assert!(e[0].1.contains("none is stored"), "{}", e[0].1);
    }
}
