//! What a token says, and whether that covers a request.
//!
//! | claim | required | meaning |
//! |---|---|---|
//! | `workspace` | yes | the workspace id; the token is good for that workspace only |
//! | `sub` | yes | the participant id: what the relay stamps as the author of this device's writes |
//! | `role` | yes | `visitor`, `agent` or `admin` (`server` is the relay's own and refused) |
//! | `conversation` | visitors | the one conversation a visitor may use; optional for agents and admins, where it narrows the token to that conversation |
//! | `exp` | yes | expiry, seconds since the epoch |
//! | `nbf`, `iat` | no | not-before and issued-at, seconds since the epoch |
//! | `name` | no | display name (at most 128 bytes); see [`Claims::display_name`] for the default |
//! | `locale` | no | the visitor's language tag (`zh-CN`), for auto-reply templates |
//! | `vip` | no | `true` for a VIP customer: the workspace's VIP priority applies |
//! | `attrs` | no | custom attributes (string values) for templates: `{attributes.plan}` |
//! | `sid` | no | the relay's own sign-in session (`core::accounts::session`) |
//!
//! Unknown claims (`iss`, `aud`, `jti`, …) are ignored, so operators may add their own.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::keys::Keyring;
use super::{jwt, shown, AuthError, CLOCK_SKEW_SECONDS};
use crate::ids::{ConversationId, ParticipantId, WorkspaceId};
use crate::message::{Role, MAX_NAME_BYTES};
use crate::workflow::profile::VisitorProfile;

/// A token's claims, as verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub workspace: WorkspaceId,
    pub sub: ParticipantId,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationId>,
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<i64>,
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vip: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    /// Where the visitor writes from (`web`, `app`, `wechat`…): the inbox filters and routes
    /// by it. `web` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The relay's own session (PROTOCOL.md §2.9) that minted this access token: checked at
    /// every connect, so a revoked session opens no new socket. Operators do not set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// What a request wants to do with a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Open a device's WebSocket: every role.
    Connect,
    /// Read the conversation's counters: agents and admins.
    Stats,
    /// Crypto-shred the conversation for good: admins only.
    Erase,
    /// Read or replace the workspace's configuration: admins only, with a token for the
    /// whole workspace ([`Claims::authorize_workspace`]).
    Configure,
    /// Work the workspace's inbox (list, search, claim, transfer, presence): agents and
    /// admins, with a token for the whole workspace.
    Inbox,
    /// List, add, change and disable agents' accounts: admins only, workspace-wide.
    ManageAgents,
    /// Upload an attachment to the conversation or get a link to one: every participant.
    Attachments,
    /// Page through the conversation's sealed history (PROTOCOL.md §16.3): every participant.
    History,
    /// Set or lift a legal hold on the conversation (PROTOCOL.md §16.4): admins only.
    LegalHold,
}

impl Access {
    fn allows(self, role: Role) -> bool {
        match self {
            Access::Connect | Access::Attachments | Access::History => {
                matches!(role, Role::Visitor | Role::Agent | Role::Admin)
            }
            Access::Stats | Access::Inbox => matches!(role, Role::Agent | Role::Admin),
            Access::Erase | Access::Configure | Access::ManageAgents | Access::LegalHold => {
                role == Role::Admin
            }
        }
    }

    fn action(self) -> &'static str {
        match self {
            Access::Connect => "connect",
            Access::Stats => "read conversation stats",
            Access::Erase => "erase the conversation",
            Access::Configure => "configure the workspace",
            Access::ManageAgents => "manage agents",
            Access::Attachments => "use attachments",
            Access::History => "read the conversation's history",
            Access::LegalHold => "set a legal hold",
            Access::Inbox => "use the inbox",
        }
    }
}

impl Claims {
    /// Decodes a verified payload and checks what JSON alone cannot: the role, the visitor's
    /// conversation, the name's length.
    pub fn parse(payload: &[u8]) -> Result<Claims, AuthError> {
        let claims: Claims = serde_json::from_slice(payload)
            .map_err(|e| AuthError::InvalidClaims(shown(&e.to_string(), 200)))?;
        claims.validate()?;
        Ok(claims)
    }

    /// The checks of [`Claims::parse`], also run on claims about to be signed.
    pub fn validate(&self) -> Result<(), AuthError> {
        let invalid = |m: String| Err(AuthError::InvalidClaims(m));
        if self.role == Role::Server {
            return invalid("role server is the relay's own; use visitor, agent or admin".into());
        }
        if self.role == Role::Visitor && self.conversation.is_none() {
            return invalid("a visitor token must name its conversation".into());
        }
        if let Some(name) = &self.name {
            if name.len() > MAX_NAME_BYTES {
                return invalid(format!(
                    "name is {} bytes; the limit is {MAX_NAME_BYTES}",
                    name.len()
                ));
            }
        }
        self.profile().check().map_err(AuthError::InvalidClaims)
    }

    /// What the workflow may know of this participant (it is used for visitors).
    pub fn profile(&self) -> VisitorProfile {
        VisitorProfile {
            name: self.name.clone(),
            locale: self.locale.clone(),
            vip: self.vip,
            attributes: self.attrs.clone(),
            channel: self.channel.clone(),
            id: Some(self.sub.to_string()),
        }
    }

    /// `exp` and `nbf` against `now` (seconds), with [`CLOCK_SKEW_SECONDS`] of tolerance.
    pub fn check_time(&self, now: i64) -> Result<(), AuthError> {
        if expired(self.exp, now) {
            return Err(AuthError::Expired { exp: self.exp, now });
        }
        if let Some(nbf) = self.nbf {
            if now.saturating_add(CLOCK_SKEW_SECONDS) < nbf {
                return Err(AuthError::NotYetValid { nbf, now });
            }
        }
        Ok(())
    }

    /// Whether these claims cover `access` to `conversation` in `workspace`. Checked in this
    /// order: workspace, role, conversation scope.
    pub fn authorize(
        &self,
        workspace: &WorkspaceId,
        conversation: &ConversationId,
        access: Access,
    ) -> Result<(), AuthError> {
        self.authorize_role(workspace, access)?;
        match &self.conversation {
            Some(scope) if scope != conversation => Err(AuthError::WrongConversation {
                token: scope.to_string(),
                requested: conversation.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether these claims cover `access` to `workspace` as a whole: workspace, role, and
    /// a token not narrowed to one conversation.
    pub fn authorize_workspace(
        &self,
        workspace: &WorkspaceId,
        access: Access,
    ) -> Result<(), AuthError> {
        self.authorize_role(workspace, access)?;
        match &self.conversation {
            Some(scope) => Err(AuthError::ConversationScoped {
                conversation: scope.to_string(),
                action: access.action(),
            }),
            None => Ok(()),
        }
    }

    fn authorize_role(&self, workspace: &WorkspaceId, access: Access) -> Result<(), AuthError> {
        if &self.workspace != workspace {
            return Err(AuthError::WrongWorkspace {
                token: self.workspace.to_string(),
                requested: workspace.to_string(),
            });
        }
        if !access.allows(self.role) {
            return Err(AuthError::RoleNotAllowed {
                role: self.role.as_str(),
                action: access.action(),
            });
        }
        Ok(())
    }

    /// The name this participant's messages carry as `author.name` (PROTOCOL.md §8.6, rule
    /// `forged-author`): the `name` claim; without one, for a visitor `Visitor ` and the
    /// first four characters of the subject after a `v-` prefix (what the widget has always
    /// shown for an anonymous visitor), for anyone else the subject.
    pub fn display_name(&self) -> String {
        match (&self.name, self.role) {
            (Some(name), _) => name.clone(),
            (None, Role::Visitor) => default_visitor_name(&self.sub),
            (None, _) => self.sub.to_string(),
        }
    }

    /// The claims of a token read without checking its signature: what a client may learn
    /// from its own token (its name, say). Never a basis for trusting anyone.
    pub fn unverified(token: &str) -> Result<Claims, AuthError> {
        let parsed = jwt::parse(token)?;
        Claims::parse(parsed.payload())
    }
}

/// An anonymous visitor's name: `Visitor ` and four characters of the subject (after `v-`).
pub fn default_visitor_name(sub: &ParticipantId) -> String {
    let id = sub.as_str();
    let short: String = id.strip_prefix("v-").unwrap_or(id).chars().take(4).collect();
    format!("Visitor {short}")
}

/// Whether a token expiring at `exp` is expired at `now` (both seconds), with
/// [`CLOCK_SKEW_SECONDS`] of tolerance. Also what closes a socket whose token ran out.
pub fn expired(exp: i64, now: i64) -> bool {
    now >= exp.saturating_add(CLOCK_SKEW_SECONDS)
}

/// Verifies `token` with `keys` and checks its claims and validity period at `now` (seconds).
/// Scope (workspace, conversation, role) is the caller's next step: [`Claims::authorize`].
pub fn authenticate(token: &str, keys: &Keyring, now: i64) -> Result<Claims, AuthError> {
    let payload = jwt::verify(token, keys)?;
    let claims = Claims::parse(&payload)?;
    claims.check_time(now)?;
    Ok(claims)
}

/// RFC 7519 NumericDate: a JSON number of seconds, possibly fractional (truncated here).
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        .ok_or_else(|| serde::de::Error::custom("a date must be a number of seconds"))
}

fn opt_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    numeric_date(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt::sign;
    use crate::auth::keys::Key;

    const NOW: i64 = 1_700_000_000;

    fn ws(s: &str) -> WorkspaceId {
        WorkspaceId::new(s).unwrap()
    }

    fn conv(s: &str) -> ConversationId {
        ConversationId::new(s).unwrap()
    }

    fn visitor() -> Claims {
        Claims {
            workspace: ws("acme"),
            sub: ParticipantId::new("v-1").unwrap(),
            role: Role::Visitor,
            conversation: Some(conv("c-1")),
            exp: NOW + 3600,
            iat: Some(NOW),
            nbf: None,
            name: None,
            locale: None,
            vip: false,
            attrs: Default::default(),
            channel: None,
            sid: None,
        }
    }

    #[test]
    fn workflow_claims_are_read_and_bounded() {
        let json = br#"{"workspace":"acme","sub":"v-1","role":"visitor","conversation":"c-1",
            "exp":1,"locale":"zh-CN","vip":true,"attrs":{"plan":"gold"}}"#;
        let c = Claims::parse(json).unwrap();
        let p = c.profile();
        assert_eq!((p.locale.as_deref(), p.vip), (Some("zh-CN"), true));
        assert_eq!(p.attributes["plan"], "gold");
        let bad = br#"{"workspace":"acme","sub":"v-1","role":"visitor","conversation":"c-1",
            "exp":1,"locale":"zh CN"}"#;
        let e = Claims::parse(bad).unwrap_err().to_string();
        assert!(e.contains("locale"), "{e}");
    }

    fn ring() -> Keyring {
        Keyring::new(vec![Key::random("k1").unwrap(), Key::random("k0").unwrap()]).unwrap()
    }

    #[test]
    fn a_signed_token_authenticates_to_its_claims() {
        let ring = ring();
        let token = sign(ring.signing(), &visitor()).unwrap();
        assert_eq!(authenticate(&token, &ring, NOW), Ok(visitor()));
    }

    #[test]
    fn any_configured_key_verifies_so_keys_can_rotate() {
        let ring = ring();
        let old = &ring.keys()[1];
        let token = sign(old, &visitor()).unwrap();
        assert_eq!(authenticate(&token, &ring, NOW).unwrap().sub.as_str(), "v-1");
    }

    #[test]
    fn expiry_and_not_before_allow_clock_skew_and_no_more() {
        let ring = ring();
        let mut c = visitor();
        c.exp = NOW - CLOCK_SKEW_SECONDS;
        let e = authenticate(&sign(ring.signing(), &c).unwrap(), &ring, NOW).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "token_expired"));
        c.exp = NOW - CLOCK_SKEW_SECONDS + 1;
        assert!(c.check_time(NOW).is_ok());
        c.nbf = Some(NOW + CLOCK_SKEW_SECONDS + 1);
        assert_eq!(c.check_time(NOW).unwrap_err().code(), "token_not_yet_valid");
        c.nbf = Some(NOW + CLOCK_SKEW_SECONDS);
        assert!(c.check_time(NOW).is_ok());
        assert!(expired(NOW, NOW + CLOCK_SKEW_SECONDS));
        assert!(!expired(NOW, NOW + CLOCK_SKEW_SECONDS - 1));
    }

    #[test]
    fn claims_that_cannot_be_honoured_are_invalid() {
        let cases: [(&str, &str); 7] = [
            (r#"{"sub":"a","role":"agent","exp":1}"#, "workspace"),
            (r#"{"workspace":"w","sub":"a","role":"agent"}"#, "exp"),
            (r#"{"workspace":"w","sub":"a/b","role":"agent","exp":1}"#, "'/'"),
            (r#"{"workspace":"w","sub":"a","role":"server","exp":1}"#, "server"),
            (r#"{"workspace":"w","sub":"a","role":"owner","exp":1}"#, "owner"),
            (r#"{"workspace":"w","sub":"a","role":"visitor","exp":1}"#, "conversation"),
            (r#"{"workspace":"w","sub":"a","role":"agent","exp":"soon"}"#, "number"),
        ];
        for (json, mention) in cases {
            let e = Claims::parse(json.as_bytes()).unwrap_err();
            assert_eq!(e.code(), "invalid_claims", "{json}");
            assert!(e.to_string().contains(mention), "{e} should mention {mention}");
        }
        let long = format!(
            r#"{{"workspace":"w","sub":"a","role":"agent","exp":1,"name":"{}"}}"#,
            "x".repeat(MAX_NAME_BYTES + 1)
        );
        assert!(Claims::parse(long.as_bytes()).unwrap_err().to_string().contains("name"));
    }

    #[test]
    fn fractional_dates_and_unknown_claims_are_accepted() {
        let c = Claims::parse(
            br#"{"workspace":"w","sub":"a","role":"admin","exp":1700000000.5,"iss":"crm","aud":["x"]}"#,
        )
        .unwrap();
        assert_eq!(c.exp, 1_700_000_000);
        assert_eq!(c.display_name(), "a");
    }

    #[test]
    fn a_visitor_without_a_name_claim_is_named_from_its_subject_as_the_widget_shows_it() {
        let visitor = |sub: &str, name: Option<&str>| {
            let mut c = Claims::parse(
                br#"{"workspace":"w","sub":"x","role":"visitor","conversation":"c","exp":1}"#,
            )
            .unwrap();
            c.sub = ParticipantId::new(sub).unwrap();
            c.name = name.map(str::to_owned);
            c.display_name()
        };
        assert_eq!(visitor("v-3f9a0c1d2e3f", None), "Visitor 3f9a");
        assert_eq!(visitor("shopper-7", None), "Visitor shop");
        assert_eq!(visitor("v-3f9a0c1d2e3f", Some("王小明")), "王小明");
    }

    #[test]
    fn scope_refusals_are_403_with_the_reason() {
        let v = visitor();
        assert!(v.authorize(&ws("acme"), &conv("c-1"), Access::Connect).is_ok());
        let e = v.authorize(&ws("other"), &conv("c-1"), Access::Connect).unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "wrong_workspace"));
        let e = v.authorize(&ws("acme"), &conv("c-2"), Access::Connect).unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "wrong_conversation"));
        let e = v.authorize(&ws("acme"), &conv("c-1"), Access::Stats).unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "role_not_allowed"));

        let mut agent = Claims { role: Role::Agent, conversation: None, ..visitor() };
        assert!(agent.authorize(&ws("acme"), &conv("any"), Access::Stats).is_ok());
        agent.conversation = Some(conv("c-9"));
        let e = agent.authorize(&ws("acme"), &conv("c-1"), Access::Connect).unwrap_err();
        assert_eq!(e.code(), "wrong_conversation");
    }

    #[test]
    fn only_a_workspace_wide_admin_token_configures_the_workspace() {
        let admin = Claims { role: Role::Admin, conversation: None, ..visitor() };
        assert!(admin.authorize_workspace(&ws("acme"), Access::Configure).is_ok());
        let e = admin.authorize_workspace(&ws("other"), Access::Configure).unwrap_err();
        assert_eq!(e.code(), "wrong_workspace");
        for role in [Role::Agent, Role::Visitor] {
            let e = Claims { role, ..admin.clone() }
                .authorize_workspace(&ws("acme"), Access::Configure)
                .unwrap_err();
            assert_eq!((e.status(), e.code()), (403, "role_not_allowed"));
            assert_eq!(
                e.to_string(),
                format!("role {} may not configure the workspace", role.as_str())
            );
        }
        let narrowed = Claims { conversation: Some(conv("c-1")), ..admin };
        let e = narrowed.authorize_workspace(&ws("acme"), Access::Configure).unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "conversation_scoped"));
    }
}
