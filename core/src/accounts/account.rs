//! An agent's account as an admin manages it (`PUT /v1/workspaces/{ws}/agents/{id}`).
//!
//! The account's id is the participant id its tokens carry as `sub`, so the messages, notes,
//! assignments and audit entries of an agent signed in with a password and of the same agent
//! signed in through the operator's backend are one person's. Teams, skills and the agent's
//! own limit of open conversations are set here too but stored in the routing configuration
//! (PROTOCOL.md §9.10), the one place routing reads them from ([`super::routing`]).

use serde::{Deserialize, Serialize};

use super::password::{self, PasswordError};
use super::routing::RoutingUpdate;
use crate::ids::ParticipantId;
use crate::message::{Role, MAX_NAME_BYTES};

/// RFC 5321's limit on a forward path.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Largest body of an account update.
pub const MAX_UPDATE_BYTES: usize = 2048;

/// One agent or admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: ParticipantId,
    /// Lowercase, unique in the workspace: what the agent signs in with.
    pub email: String,
    pub name: String,
    /// `agent` or `admin`.
    pub role: Role,
    /// A disabled account cannot sign in; disabling one revokes its sessions and closes its
    /// sockets.
    pub disabled: bool,
    /// Whether a password is set (accounts signed in only by the operator's backend have none).
    pub has_password: bool,
}

/// Why an account update is refused (HTTP 422 unless said otherwise).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the body is not an account: {0}")]
    Json(String),
    #[error("the body is {0} bytes; an account update is at most {MAX_UPDATE_BYTES}")]
    TooLarge(usize),
    #[error(
        "email {0:?} is not an address like name@example.com (at most {MAX_EMAIL_BYTES} bytes)"
    )]
    Email(String),
    #[error("name must be 1 to {MAX_NAME_BYTES} bytes of visible text")]
    Name,
    #[error("role must be agent or admin")]
    Role,
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("email {0:?} already belongs to agent {1}")]
    EmailTaken(String, String),
    #[error("an admin cannot disable or demote their own account; ask another admin")]
    SelfLockout,
    #[error("no team with id {0:?} in the workspace's routing configuration (teams: {1}); add it under routing.teams first")]
    UnknownTeam(String, String),
    #[error("{0}")]
    Routing(String),
}

impl AccountError {
    pub fn status(&self) -> u16 {
        match self {
            AccountError::TooLarge(_) => 413,
            AccountError::EmailTaken(..) => 409,
            AccountError::SelfLockout => 403,
            _ => 422,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AccountError::Json(_) => "invalid_account",
            AccountError::TooLarge(_) => "body_too_large",
            AccountError::Email(_) => "invalid_email",
            AccountError::Name => "invalid_name",
            AccountError::Role => "invalid_role",
            AccountError::Password(_) => "weak_password",
            AccountError::EmailTaken(..) => "email_taken",
            AccountError::SelfLockout => "self_lockout",
            AccountError::UnknownTeam(..) => "unknown_team",
            AccountError::Routing(_) => "invalid_routing",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateJson {
    email: String,
    name: String,
    role: Role,
    #[serde(default)]
    disabled: bool,
    /// Absent: keep the current password (or none, for a new account).
    #[serde(default)]
    password: Option<String>,
    /// Absent: keep the agent's teams, skills, limit (see [`RoutingUpdate`]).
    #[serde(default)]
    teams: Option<Vec<String>>,
    #[serde(default)]
    skills: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::routing::present")]
    max_open: Option<Option<u64>>,
}

/// A checked update: the account as it will be stored and, if one was sent, the new
/// password (hashed by the caller, which owns the salt's randomness and the time it takes).
#[derive(Debug)]
pub struct AccountUpdate {
    pub id: ParticipantId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub password: Option<String>,
    pub routing: RoutingUpdate,
}

impl AccountUpdate {
    pub fn parse(id: ParticipantId, body: &[u8]) -> Result<AccountUpdate, AccountError> {
        if body.len() > MAX_UPDATE_BYTES {
            return Err(AccountError::TooLarge(body.len()));
        }
        let json: UpdateJson =
            serde_json::from_slice(body).map_err(|e| AccountError::Json(e.to_string()))?;
        let email = normalize_email(&json.email)?;
        let name = json.name.trim().to_string();
        if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
            return Err(AccountError::Name);
        }
        if !json.role.is_staff() {
            return Err(AccountError::Role);
        }
        if let Some(p) = &json.password {
            password::check_policy(p)?;
        }
        Ok(AccountUpdate {
            id,
            email,
            name,
            role: json.role,
            disabled: json.disabled,
            password: json.password,
            routing: RoutingUpdate {
                teams: json.teams,
                skills: json.skills,
                max_open: json.max_open,
            },
        })
    }

    /// The checks that need the stored accounts: an email belongs to one account, and an
    /// admin does not lock themselves out (disable or demote their own account).
    pub fn check(
        &self,
        by: &ParticipantId,
        email_owner: Option<&ParticipantId>,
    ) -> Result<(), AccountError> {
        if let Some(owner) = email_owner.filter(|o| **o != self.id) {
            return Err(AccountError::EmailTaken(self.email.clone(), owner.to_string()));
        }
        if *by == self.id && (self.disabled || self.role != Role::Admin) {
            return Err(AccountError::SelfLockout);
        }
        Ok(())
    }

    /// Whether this update ends the account's sessions: disabled, demoted or promoted (the
    /// role is in every access token), or a new password.
    pub fn ends_sessions(&self, before: Option<&Account>) -> bool {
        self.disabled
            || self.password.is_some()
            || before.is_some_and(|b| b.role != self.role || b.name != self.name)
    }
}

/// Trimmed and lowercased; one `@` with text on both sides and a dot in the domain.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim().to_lowercase();
    let bad = || AccountError::Email(crate::auth::shown(raw, 80));
    if email.len() > MAX_EMAIL_BYTES || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || domain.ends_with('.') {
        return Err(bad());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ParticipantId {
        ParticipantId::new(s).unwrap()
    }

    fn update(body: &str) -> Result<AccountUpdate, AccountError> {
        AccountUpdate::parse(id("agent-ada"), body.as_bytes())
    }

    #[test]
    fn an_update_is_normalized_and_its_password_checked() {
        let u = update(
            r#"{"email":" Ada@Shop.Example ","name":" Ada ","role":"agent","password":"correct horse battery"}"#,
        )
        .unwrap();
        assert_eq!(
            (u.email.as_str(), u.name.as_str(), u.role),
            ("ada@shop.example", "Ada", Role::Agent)
        );
        assert!(!u.disabled);
        let weak = update(r#"{"email":"a@b.cn","name":"A","role":"agent","password":"short"}"#);
        assert_eq!(weak.unwrap_err().code(), "weak_password");
    }

    #[test]
    fn routing_fields_left_out_are_kept_and_a_null_limit_means_the_teams() {
        let base = r#""email":"a@b.cn","name":"A","role":"agent""#;
        let r = |extra: &str| update(&format!("{{{base}{extra}}}")).unwrap().routing;
        assert!(r("").is_empty());
        let set = r(r#","teams":["sales"],"skills":["退款"],"max_open":3"#);
        assert_eq!(set.teams, Some(vec!["sales".to_owned()]));
        assert_eq!(set.skills, Some(vec!["退款".to_owned()]));
        assert_eq!(set.max_open, Some(Some(3)));
        assert_eq!(r(r#","max_open":null"#).max_open, Some(None));
    }

    #[test]
    fn bad_fields_are_refused_with_what_to_fix() {
        let cases = [
            (r#"{"email":"ada","name":"A","role":"agent"}"#, "invalid_email"),
            (r#"{"email":"a@b","name":"A","role":"agent"}"#, "invalid_email"),
            (r#"{"email":"a b@c.cn","name":"A","role":"agent"}"#, "invalid_email"),
            (r#"{"email":"a@b.cn","name":"  ","role":"agent"}"#, "invalid_name"),
            (r#"{"email":"a@b.cn","name":"A","role":"visitor"}"#, "invalid_role"),
            (r#"{"email":"a@b.cn","name":"A","role":"server"}"#, "invalid_role"),
            (r#"{"email":"a@b.cn","name":"A","role":"agent","team":"sales"}"#, "invalid_account"),
            (r#"{"email":"a@b.cn","name":"A","role":"agent","max_open":"3"}"#, "invalid_account"),
            ("[]", "invalid_account"),
        ];
        for (body, code) in cases {
            assert_eq!(update(body).unwrap_err().code(), code, "{body}");
        }
        let big = format!(r#"{{"email":"a@b.cn","name":"{}","role":"agent"}}"#, "x".repeat(3000));
        assert_eq!(update(&big).unwrap_err().status(), 413);
    }

    #[test]
    fn an_email_belongs_to_one_account_and_admins_keep_their_own_access() {
        let u = update(r#"{"email":"a@b.cn","name":"A","role":"agent"}"#).unwrap();
        let err = u.check(&id("admin-1"), Some(&id("agent-bo"))).unwrap_err();
        assert_eq!((err.status(), err.code()), (409, "email_taken"));
        assert!(u.check(&id("admin-1"), Some(&id("agent-ada"))).is_ok());
        // Demoting or disabling oneself would leave the workspace without this admin.
        assert_eq!(u.check(&id("agent-ada"), None).unwrap_err().code(), "self_lockout");
        let me = AccountUpdate::parse(
            id("admin-1"),
            br#"{"email":"root@b.cn","name":"Root","role":"admin","disabled":true}"#,
        )
        .unwrap();
        assert_eq!(me.check(&id("admin-1"), None).unwrap_err().code(), "self_lockout");
    }

    #[test]
    fn disabling_a_new_password_or_a_new_role_ends_sessions() {
        let before = Account {
            id: id("agent-ada"),
            email: "a@b.cn".into(),
            name: "A".into(),
            role: Role::Agent,
            disabled: false,
            has_password: true,
        };
        let same = update(r#"{"email":"a@b.cn","name":"A","role":"agent"}"#).unwrap();
        assert!(!same.ends_sessions(Some(&before)));
        let email_only = update(r#"{"email":"new@b.cn","name":"A","role":"agent"}"#).unwrap();
        assert!(!email_only.ends_sessions(Some(&before)));
        for body in [
            r#"{"email":"a@b.cn","name":"A","role":"agent","disabled":true}"#,
            r#"{"email":"a@b.cn","name":"A","role":"admin"}"#,
            r#"{"email":"a@b.cn","name":"Ada","role":"agent"}"#,
            r#"{"email":"a@b.cn","name":"A","role":"agent","password":"a new long password"}"#,
        ] {
            assert!(update(body).unwrap().ends_sessions(Some(&before)), "{body}");
        }
    }
}
