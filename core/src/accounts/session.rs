//! Sessions of the console: a refresh token kept by the browser, and the short-lived access
//! tokens it buys.
//!
//! A refresh token is `{session}.{secret}`: the session id (public, also the access token's
//! `sid` claim) and 32 random bytes. The relay stores only the secret's SHA-256 (the secret is
//! random, so a plain hash suffices: there is nothing to guess). Every refresh replaces the
//! secret; the one before it is remembered, and presenting it again means a copy of the token
//! is in other hands, so the whole session is revoked (OAuth 2.0 Security BCP, refresh token
//! rotation). Browser tabs sharing one session take turns (the console holds a Web Lock
//! while it refreshes) and adopt what another tab stored.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::account::Account;
use crate::auth::jwt::{self, SignError};
use crate::auth::{Claims, Keyring};
use crate::ids::{try_random_hex, WorkspaceId};

/// How long an access token lasts: what a revoked session can still do on a socket that was
/// open before (a new socket is refused at once, see the module docs of `accounts`).
pub const ACCESS_TTL_SECONDS: i64 = 10 * 60;
/// How long a session lasts without signing in again, however often it refreshes.
pub const SESSION_TTL_SECONDS: i64 = 30 * 86_400;
/// Largest body of a refresh or sign-out request.
pub const MAX_REFRESH_BODY_BYTES: usize = 512;

/// Why a refresh token or a session id is refused: 401 `invalid_session` for all, so a
/// caller learns nothing about other sessions; the text says which for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("that is not a refresh token; sign in again")]
    Malformed,
    #[error("the session is unknown or was signed out; sign in again")]
    Unknown,
    #[error("the session expired; sign in again")]
    Expired,
    #[error(
        "the session was revoked (signed out, the account changed or was disabled); sign in again"
    )]
    Revoked,
    #[error(
        "this refresh token was already used, so the session was revoked for safety; sign in again"
    )]
    Reused,
    #[error("the platform's random source failed; try again")]
    Random,
}

impl SessionError {
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Random => "unavailable",
            _ => "invalid_session",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            SessionError::Random => 503,
            _ => 401,
        }
    }
}

/// A refresh token, as the browser holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub session: String,
    secret: String,
}

impl RefreshToken {
    /// A token for a new session.
    pub fn new() -> Result<RefreshToken, SessionError> {
        let session = try_random_hex::<12>().map_err(|_| SessionError::Random)?;
        RefreshToken::for_session(session)
    }

    /// The next token of `session` (rotation).
    pub fn for_session(session: String) -> Result<RefreshToken, SessionError> {
        let secret = try_random_hex::<32>().map_err(|_| SessionError::Random)?;
        Ok(RefreshToken { session, secret })
    }

    pub fn parse(s: &str) -> Result<RefreshToken, SessionError> {
        let (session, secret) = s.trim().split_once('.').ok_or(SessionError::Malformed)?;
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(session, 24) || !hex(secret, 64) {
            return Err(SessionError::Malformed);
        }
        Ok(RefreshToken {
            session: session.to_ascii_lowercase(),
            secret: secret.to_ascii_lowercase(),
        })
    }

    pub fn secret_hash(&self) -> String {
        hex::encode(Sha256::digest(self.secret.as_bytes()))
    }

    /// The string the browser keeps. Never logged.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.session, self.secret)
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub agent: crate::ids::ParticipantId,
    pub secret_hash: String,
    /// The secret before the last rotation: presenting it again revokes the session.
    pub previous_hash: Option<String>,
    pub expires_at: i64,
    pub revoked: bool,
}

impl Session {
    /// A new session for `agent`, signed in at `now`.
    pub fn start(agent: &Account, token: &RefreshToken, now: i64) -> Session {
        Session {
            id: token.session.clone(),
            agent: agent.id.clone(),
            secret_hash: token.secret_hash(),
            previous_hash: None,
            expires_at: now + SESSION_TTL_SECONDS,
            revoked: false,
        }
    }

    /// Whether the session still lets its access tokens open sockets.
    pub fn check_live(&self, now: i64) -> Result<(), SessionError> {
        if self.revoked {
            return Err(SessionError::Revoked);
        }
        if now >= self.expires_at {
            return Err(SessionError::Expired);
        }
        Ok(())
    }

    /// The decision on a refresh with `presented`: the session rotated to `next`, or why not.
    /// A [`SessionError::Reused`] must be stored as a revocation.
    pub fn refresh(
        &self,
        presented: &RefreshToken,
        next: &RefreshToken,
        now: i64,
    ) -> Result<Session, SessionError> {
        self.check_live(now)?;
        let hash = presented.secret_hash();
        if self.previous_hash.as_deref() == Some(hash.as_str()) {
            return Err(SessionError::Reused);
        }
        if hash != self.secret_hash {
            return Err(SessionError::Unknown);
        }
        Ok(Session { secret_hash: next.secret_hash(), previous_hash: Some(hash), ..self.clone() })
    }
}

/// The answer to a sign-in or a refresh (PROTOCOL.md §2.9).
#[derive(Debug, Clone, Serialize)]
pub struct Tokens {
    pub access_token: String,
    /// The access token's `exp`.
    pub expires_at: i64,
    pub refresh_token: String,
    /// When the session ends however often it refreshes.
    pub session_expires_at: i64,
    pub agent: Account,
}

impl Tokens {
    /// Mints the access token of `session` for `account` and pairs it with `refresh`.
    pub fn issue(
        keys: &Keyring,
        workspace: &WorkspaceId,
        account: &Account,
        session: &Session,
        refresh: &RefreshToken,
        now: i64,
    ) -> Result<Tokens, SignError> {
        let claims = access_claims(workspace, account, &session.id, now);
        Ok(Tokens {
            access_token: mint_access(keys, &claims)?,
            expires_at: claims.exp,
            refresh_token: refresh.expose(),
            session_expires_at: session.expires_at,
            agent: account.clone(),
        })
    }
}

/// The access token's claims: the account's identity and role for the whole workspace, the
/// session id, [`ACCESS_TTL_SECONDS`] long.
pub fn access_claims(
    workspace: &WorkspaceId,
    account: &Account,
    session: &str,
    now: i64,
) -> Claims {
    Claims {
        workspace: workspace.clone(),
        sub: account.id.clone(),
        role: account.role,
        conversation: None,
        exp: now + ACCESS_TTL_SECONDS,
        iat: Some(now),
        nbf: None,
        name: Some(account.name.clone()),
        locale: None,
        vip: false,
        attrs: Default::default(),
        channel: None,
        sid: Some(session.to_string()),
    }
}

/// Signs an access token with the relay's signing key.
pub fn mint_access(keys: &Keyring, claims: &Claims) -> Result<String, SignError> {
    jwt::sign(keys.signing(), claims)
}

/// The body of `POST …/auth/refresh` and `…/auth/sign-out`: `{"refresh_token": "…"}`.
pub fn parse_refresh_body(body: &[u8]) -> Result<RefreshToken, SessionError> {
    #[derive(Deserialize)]
    struct Body {
        refresh_token: String,
    }
    if body.len() > MAX_REFRESH_BODY_BYTES {
        return Err(SessionError::Malformed);
    }
    let b: Body = serde_json::from_slice(body).map_err(|_| SessionError::Malformed)?;
    RefreshToken::parse(&b.refresh_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::Key;
    use crate::ids::ParticipantId;
    use crate::message::Role;

    fn ada() -> Account {
        Account {
            id: ParticipantId::new("agent-ada").unwrap(),
            email: "ada@shop.example".into(),
            name: "Ada".into(),
            role: Role::Agent,
            disabled: false,
            has_password: true,
        }
    }

    #[test]
    fn a_refresh_token_round_trips_and_rejects_anything_else() {
        let t = RefreshToken::new().unwrap();
        assert_eq!(RefreshToken::parse(&t.expose()).unwrap(), t);
        for bad in ["", "abc", "x.y", &format!("{}.", t.session), &t.expose().replace('.', "")] {
            assert_eq!(RefreshToken::parse(bad), Err(SessionError::Malformed), "{bad}");
        }
        assert_ne!(RefreshToken::new().unwrap(), t);
        assert_eq!(
            parse_refresh_body(format!(r#"{{"refresh_token":"{}"}}"#, t.expose()).as_bytes()),
            Ok(t)
        );
        assert_eq!(parse_refresh_body(b"{}"), Err(SessionError::Malformed));
    }

    #[test]
    fn a_refresh_rotates_the_secret_and_a_reused_one_revokes() {
        let first = RefreshToken::new().unwrap();
        let session = Session::start(&ada(), &first, 1000);
        let second = RefreshToken::for_session(first.session.clone()).unwrap();
        let rotated = session.refresh(&first, &second, 1001).unwrap();
        assert_eq!(rotated.secret_hash, second.secret_hash());
        // The old token again: someone else holds a copy.
        let third = RefreshToken::for_session(first.session.clone()).unwrap();
        assert_eq!(rotated.refresh(&first, &third, 1002), Err(SessionError::Reused));
        // A token never issued for the session.
        assert_eq!(rotated.refresh(&third, &third, 1002), Err(SessionError::Unknown));
        assert!(rotated.refresh(&second, &third, 1002).is_ok());
    }

    #[test]
    fn a_session_ends_when_revoked_or_after_thirty_days() {
        let t = RefreshToken::new().unwrap();
        let s = Session::start(&ada(), &t, 0);
        assert!(s.check_live(SESSION_TTL_SECONDS - 1).is_ok());
        assert_eq!(s.check_live(SESSION_TTL_SECONDS), Err(SessionError::Expired));
        let revoked = Session { revoked: true, ..s };
        assert_eq!(revoked.refresh(&t, &t, 1), Err(SessionError::Revoked));
        assert_eq!(SessionError::Reused.status(), 401);
    }

    #[test]
    fn the_access_token_is_a_short_workspace_wide_token_naming_its_session() {
        let keys = Keyring::new(vec![Key::new("k1", vec![7u8; 32]).unwrap()]).unwrap();
        let ws = WorkspaceId::new("shop").unwrap();
        let claims = access_claims(&ws, &ada(), "0123456789abcdef01234567", 1000);
        let token = mint_access(&keys, &claims).unwrap();
        let back = crate::auth::authenticate(&token, &keys, 1000).unwrap();
        assert_eq!(back, claims);
        assert_eq!((back.exp, back.sid.as_deref()), (1600, Some("0123456789abcdef01234567")));
        assert!(back.authorize_workspace(&ws, crate::auth::Access::Inbox).is_ok());
        assert_eq!(back.display_name(), "Ada");
    }
}
