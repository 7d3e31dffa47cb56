//! Anonymous visitor tokens for the chat widget on a customer's site (`POST /v1/widget/session`).
//!
//! A site key is public (it sits in the site's HTML) and names one workspace
//! (`EDGEDESK_SITE_KEYS` = `site_key:workspace,…`). Anyone holding it may start an anonymous
//! conversation in that workspace, nothing more: the token minted is a visitor's, scoped to a
//! new random conversation under a new random subject. A visitor that comes back with its
//! still-valid token gets it renewed for the same subject and conversation, so its history
//! stays reachable; an expired one starts over. An operator that knows who the visitor is
//! mints the token in its own backend instead (README: Auth).

use serde::{Deserialize, Serialize};

use super::claims::Claims;
use super::keys::Keyring;
use super::{jwt, AuthError};
use crate::ids::{try_random_hex, ConversationId, ParticipantId, WorkspaceId};
use crate::message::Role;
use crate::workflow::profile::MAX_ATTRIBUTE_VALUE_BYTES;

/// How long a widget token lasts unless `EDGEDESK_WIDGET_TOKEN_TTL_SECONDS` says otherwise.
pub const DEFAULT_TTL_SECONDS: i64 = 86_400;
/// Bounds for `EDGEDESK_WIDGET_TOKEN_TTL_SECONDS`: a minute to 30 days.
pub const MIN_TTL_SECONDS: i64 = 60;
pub const MAX_TTL_SECONDS: i64 = 30 * 86_400;
/// Longest site key.
pub const MAX_SITE_KEY_LEN: usize = 128;
/// Largest request body accepted by the session endpoint.
pub const MAX_REQUEST_BYTES: usize = 4096;

/// Why `EDGEDESK_SITE_KEYS` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteKeysError {
    #[error("EDGEDESK_SITE_KEYS is empty; set it to `site_key:workspace[,…]`")]
    Empty,
    #[error("EDGEDESK_SITE_KEYS entry {index} is not `site_key:workspace`")]
    NotAPair { index: usize },
    #[error("EDGEDESK_SITE_KEYS entry {index}: {reason}")]
    Bad { index: usize, reason: String },
    #[error("EDGEDESK_SITE_KEYS lists site key {0:?} twice")]
    Duplicate(String),
}

/// Public site keys and the workspace each opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteKeys(Vec<(String, WorkspaceId)>);

impl SiteKeys {
    pub fn parse(s: &str) -> Result<SiteKeys, SiteKeysError> {
        let mut keys: Vec<(String, WorkspaceId)> = Vec::new();
        for (index, entry) in s.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let (key, ws) = entry.split_once(':').ok_or(SiteKeysError::NotAPair { index })?;
            let key = key.trim();
            if !valid_site_key(key) {
                return Err(SiteKeysError::Bad {
                    index,
                    reason: format!("a site key is 1-{MAX_SITE_KEY_LEN} of A-Z a-z 0-9 . _ -"),
                });
            }
            let ws = WorkspaceId::new(ws.trim())
                .map_err(|e| SiteKeysError::Bad { index, reason: e.to_string() })?;
            if keys.iter().any(|(k, _)| k == key) {
                return Err(SiteKeysError::Duplicate(key.to_owned()));
            }
            keys.push((key.to_owned(), ws));
        }
        if keys.is_empty() {
            return Err(SiteKeysError::Empty);
        }
        Ok(SiteKeys(keys))
    }

    /// The workspace `site_key` opens, if it is configured.
    pub fn workspace(&self, site_key: &str) -> Option<&WorkspaceId> {
        self.0.iter().find(|(k, _)| k == site_key).map(|(_, ws)| ws)
    }
}

fn valid_site_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_SITE_KEY_LEN
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Reads `EDGEDESK_WIDGET_TOKEN_TTL_SECONDS` (unset: the default).
pub fn parse_ttl(value: Option<&str>) -> Result<i64, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_TTL_SECONDS);
    };
    v.parse::<i64>().ok().filter(|t| (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(t)).ok_or_else(
        || {
            format!(
                "EDGEDESK_WIDGET_TOKEN_TTL_SECONDS must be a whole number of seconds from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS}"
            )
        },
    )
}

/// The session endpoint's request body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionRequest {
    pub site_key: String,
    /// The browser's language (`navigator.language`), so auto-replies speak it.
    #[serde(default)]
    pub locale: Option<String>,
    /// The page the chat is on, and the page that led there: for the agent's visitor panel.
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub referrer: Option<String>,
}

/// What the widget tells about the visit: the language for replies, and the page and
/// referrer, kept as the visitor's attributes `page_url` and `referrer` (cut to
/// [`MAX_ATTRIBUTE_VALUE_BYTES`], control characters dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visit {
    pub locale: Option<String>,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
}

impl SessionRequest {
    pub fn visit(&self) -> Visit {
        Visit {
            locale: self.locale.clone(),
            page_url: self.page_url.clone(),
            referrer: self.referrer.clone(),
        }
    }
}

/// `v` without control characters, at most [`MAX_ATTRIBUTE_VALUE_BYTES`] bytes (cut at a
/// character boundary); `None` if nothing is left.
fn attribute_value(v: &str) -> Option<String> {
    let mut out = String::new();
    for c in v.trim().chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_ATTRIBUTE_VALUE_BYTES {
            break;
        }
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

impl SessionRequest {
    pub fn parse(body: &[u8]) -> Result<SessionRequest, String> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(format!(
                "the body is {} bytes; the limit is {MAX_REQUEST_BYTES}",
                body.len()
            ));
        }
        serde_json::from_slice(body).map_err(|_| {
            r#"expected a JSON body {"site_key": "...", "locale": "zh-CN" (optional)}"#.to_owned()
        })
    }
}

/// What the session endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetSession {
    pub token: String,
    pub workspace: WorkspaceId,
    pub conversation: ConversationId,
    pub subject: ParticipantId,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("no random number source")]
    Random,
    #[error(transparent)]
    Sign(#[from] jwt::SignError),
    #[error(transparent)]
    Claims(#[from] AuthError),
}

/// Mints a visitor token for `workspace`, valid `ttl` seconds from `now`, signed with the
/// keyring's first key. `presented` is the already verified token the request carried, if
/// any: a visitor token of the same workspace is renewed (same subject, conversation and
/// name); anything else is ignored and a new anonymous visitor is made.
pub fn mint_visitor(
    keys: &Keyring,
    workspace: &WorkspaceId,
    presented: Option<&Claims>,
    visit: &Visit,
    now: i64,
    ttl: i64,
) -> Result<WidgetSession, MintError> {
    let locale = visit.locale.as_deref();
    let attrs = [("page_url", &visit.page_url), ("referrer", &visit.referrer)]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), attribute_value(v.as_deref()?)?)))
        .collect();
    let renewable = presented.filter(|c| c.role == Role::Visitor && &c.workspace == workspace);
    let (sub, conversation, name) = match renewable {
        Some(Claims { sub, conversation: Some(conv), name, .. }) => {
            (sub.clone(), conv.clone(), name.clone())
        }
        _ => (random_id("v-", ParticipantId::new)?, random_id("c-", ConversationId::new)?, None),
    };
    let claims = Claims {
        workspace: workspace.clone(),
        sub,
        role: Role::Visitor,
        conversation: Some(conversation.clone()),
        exp: now.saturating_add(ttl),
        iat: Some(now),
        nbf: None,
        name,
        locale: locale.map(str::to_owned).or_else(|| renewable.and_then(|c| c.locale.clone())),
        vip: false,
        attrs,
        channel: None,
        sid: None,
    };
    claims.validate()?;
    let token = jwt::sign(keys.signing(), &claims)?;
    Ok(WidgetSession {
        token,
        workspace: claims.workspace,
        conversation,
        subject: claims.sub,
        expires_at: claims.exp,
    })
}

fn random_id<T, E>(prefix: &str, make: impl Fn(String) -> Result<T, E>) -> Result<T, MintError> {
    let hex = try_random_hex::<12>().map_err(|_| MintError::Random)?;
    make(format!("{prefix}{hex}")).map_err(|_| MintError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::claims::authenticate;
    use crate::auth::keys::Key;

    const NOW: i64 = 1_700_000_000;

    fn ring() -> Keyring {
        Keyring::new(vec![Key::random("new").unwrap(), Key::random("old").unwrap()]).unwrap()
    }

    #[test]
    fn site_keys_map_to_workspaces() {
        let keys = SiteKeys::parse("pk_live_1:acme, demo-site:demo").unwrap();
        assert_eq!(keys.workspace("demo-site").unwrap().as_str(), "demo");
        assert!(keys.workspace("pk_live_2").is_none());
        assert_eq!(SiteKeys::parse(""), Err(SiteKeysError::Empty));
        assert_eq!(SiteKeys::parse("a"), Err(SiteKeysError::NotAPair { index: 0 }));
        assert!(matches!(SiteKeys::parse("a:b/c"), Err(SiteKeysError::Bad { index: 0, .. })));
        assert!(matches!(SiteKeys::parse("a:x,a:y"), Err(SiteKeysError::Duplicate(_))));
    }

    #[test]
    fn ttl_defaults_and_is_bounded() {
        assert_eq!(parse_ttl(None), Ok(DEFAULT_TTL_SECONDS));
        assert_eq!(parse_ttl(Some(" 3600 ")), Ok(3600));
        assert!(parse_ttl(Some("5")).is_err());
        assert!(parse_ttl(Some("one day")).is_err());
    }

    #[test]
    fn request_bodies_are_bounded_and_parsed() {
        assert_eq!(SessionRequest::parse(br#"{"site_key":"k"}"#).unwrap().site_key, "k");
        assert!(SessionRequest::parse(b"site_key=k").is_err());
        let big = format!(r#"{{"site_key":"{}"}}"#, "k".repeat(MAX_REQUEST_BYTES));
        assert!(SessionRequest::parse(big.as_bytes()).unwrap_err().contains("limit"));
    }

    #[test]
    fn a_fresh_session_is_an_anonymous_visitor_in_a_new_conversation() {
        let ring = ring();
        let acme = WorkspaceId::new("acme").unwrap();
        let s = mint_visitor(&ring, &acme, None, &Visit::default(), NOW, 600).unwrap();
        assert!(s.subject.as_str().starts_with("v-"));
        assert_eq!(s.expires_at, NOW + 600);
        let claims = authenticate(&s.token, &ring, NOW).unwrap();
        assert_eq!(claims.role, Role::Visitor);
        assert_eq!(claims.conversation.as_ref(), Some(&s.conversation));
        assert_eq!(claims.workspace, acme);
        let other = mint_visitor(&ring, &acme, None, &Visit::default(), NOW, 600).unwrap();
        assert_ne!(other.subject, s.subject);
        assert_ne!(other.conversation, s.conversation);
    }

    #[test]
    fn a_valid_visitor_token_of_the_workspace_is_renewed_for_the_same_identity() {
        let ring = ring();
        let acme = WorkspaceId::new("acme").unwrap();
        let first = mint_visitor(&ring, &acme, None, &Visit::default(), NOW, 600).unwrap();
        let presented = authenticate(&first.token, &ring, NOW + 500).unwrap();
        let renewed =
            mint_visitor(&ring, &acme, Some(&presented), &Visit::default(), NOW + 500, 600)
                .unwrap();
        assert_eq!(
            (&renewed.subject, &renewed.conversation),
            (&first.subject, &first.conversation)
        );
        assert_eq!(renewed.expires_at, NOW + 1100);
        // Another workspace's token, or an agent's, is not carried over.
        let other = WorkspaceId::new("other").unwrap();
        let fresh =
            mint_visitor(&ring, &other, Some(&presented), &Visit::default(), NOW, 600).unwrap();
        assert_ne!(fresh.subject, first.subject);
        let agent = Claims { role: Role::Agent, ..presented };
        let fresh = mint_visitor(&ring, &acme, Some(&agent), &Visit::default(), NOW, 600).unwrap();
        assert_ne!(fresh.subject, first.subject);
    }

    #[test]
    fn the_page_and_referrer_become_bounded_attributes() {
        let ring = Keyring::new(vec![Key::new("k1", vec![9u8; 32]).unwrap()]).unwrap();
        let acme = WorkspaceId::new("acme").unwrap();
        let visit = Visit {
            locale: Some("zh-CN".into()),
            page_url: Some(format!("https://shop.example/p?q={}", "x".repeat(400))),
            referrer: Some("https://search.example/?q=退款\n".into()),
        };
        let s = mint_visitor(&ring, &acme, None, &visit, NOW, 600).unwrap();
        let claims = authenticate(&s.token, &ring, NOW).unwrap();
        assert_eq!(claims.attrs["page_url"].len(), MAX_ATTRIBUTE_VALUE_BYTES);
        assert_eq!(claims.attrs["referrer"], "https://search.example/?q=退款");
        assert_eq!(claims.locale.as_deref(), Some("zh-CN"));
        let none = mint_visitor(&ring, &acme, None, &Visit::default(), NOW, 600).unwrap();
        assert!(authenticate(&none.token, &ring, NOW).unwrap().attrs.is_empty());
    }
}
