//! Who may do what: JWT HS256 bearer tokens, checked on every request before anything of a
//! conversation is touched.
//!
//! - [`keys`]: the keyring (`EDGEDESK_JWT_KEYS`): several keys at once, so keys rotate
//!   without refusing tokens signed a moment before the switch.
//! - [`jwt`]: compact JWS with HS256 only, signing and constant-time verification.
//! - [`claims`]: what a token says (workspace, subject, role, conversation scope, expiry) and
//!   whether that allows the request at hand.
//! - [`widget`]: anonymous visitor tokens minted for a workspace's public site key.
//!
//! Like the rest of core this reads no clock: callers pass `now` in seconds since the epoch.
//!
//! Why not the `jsonwebtoken` crate (11.x): it is well kept, but it checks `exp`/`nbf`
//! against a clock it reads itself (`SystemTime`, or `js_sys::Date` on wasm32), where core
//! takes the time as input; and it needs a crypto backend: `rust_crypto` brings RSA,
//! P-256/P-384 and Ed25519 code, rand 0.8, getrandom 0.2 and a second copy of hmac/sha2 into
//! the Worker's wasm, while `aws_lc_rs` is C code that does not target wasm32-unknown-unknown.
//! HS256 alone is HMAC-SHA256 over two base64url strings: with RustCrypto's `hmac`
//! (constant-time `verify_slice`) and `sha2` (already in the tree through automerge) the JWS
//! part is a few dozen lines, checked against RFC 7515's own test vector and against
//! tokens from Node's `crypto` (examples/mint-token.mjs, used by an end-to-end test).

pub mod claims;
pub mod jwt;
pub mod keys;
pub mod widget;

pub use claims::{authenticate, Access, Claims};
pub use keys::{Keyring, KeyringError};

/// Clock skew tolerated between the token's issuer and the relay, in seconds, on `exp` and
/// `nbf`: an operator's backend and Cloudflare's edge do not share a clock.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// Why a request's token does not let it through. [`AuthError::status`] is the HTTP status
/// (401: no usable token; 403: a valid token that does not cover this request) and
/// [`AuthError::code`] a stable machine-readable code; the `Display` text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no token: send `Authorization: Bearer <token>` (or `?access_token=<token>` where headers cannot be set)"
    )]
    MissingToken,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token algorithm {0:?} is not accepted; tokens must be signed with HS256")]
    UnsupportedAlgorithm(String),
    #[error("token key id {0}; the relay's keys are set in EDGEDESK_JWT_KEYS")]
    UnknownKey(String),
    #[error("token signature does not verify with the key its kid names")]
    BadSignature,
    #[error("token claims are invalid: {0}")]
    InvalidClaims(String),
    #[error("token expired at {exp} (now {now}); get a fresh token")]
    Expired { exp: i64, now: i64 },
    #[error("token is not valid before {nbf} (now {now})")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("the token is for workspace {token:?}, not {requested:?}")]
    WrongWorkspace { token: String, requested: String },
    #[error("the token is for conversation {token:?}, not {requested:?}")]
    WrongConversation { token: String, requested: String },
    #[error("role {role} may not {action}")]
    RoleNotAllowed { role: &'static str, action: &'static str },
    #[error(
        "the token is limited to conversation {conversation:?}; to {action}, use a token without a `conversation` claim"
    )]
    ConversationScoped { conversation: String, action: &'static str },
}

impl AuthError {
    /// 401 when the request carries no valid token, 403 when a valid token does not cover it.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::WrongWorkspace { .. }
            | AuthError::WrongConversation { .. }
            | AuthError::RoleNotAllowed { .. }
            | AuthError::ConversationScoped { .. } => 403,
            _ => 401,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::Malformed(_) => "malformed_token",
            AuthError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            AuthError::UnknownKey(_) => "unknown_key",
            AuthError::BadSignature => "bad_signature",
            AuthError::InvalidClaims(_) => "invalid_claims",
            AuthError::Expired { .. } => "token_expired",
            AuthError::NotYetValid { .. } => "token_not_yet_valid",
            AuthError::WrongWorkspace { .. } => "wrong_workspace",
            AuthError::WrongConversation { .. } => "wrong_conversation",
            AuthError::RoleNotAllowed { .. } => "role_not_allowed",
            AuthError::ConversationScoped { .. } => "conversation_scoped",
        }
    }
}

/// `s` cut to at most `max` characters, for echoing attacker-controlled text in an error.
pub(crate) fn shown(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_tokens_are_401_and_out_of_scope_tokens_403() {
        assert_eq!(AuthError::MissingToken.status(), 401);
        assert_eq!(AuthError::Expired { exp: 1, now: 2 }.status(), 401);
        assert_eq!(AuthError::BadSignature.code(), "bad_signature");
        let wrong = AuthError::WrongWorkspace { token: "a".into(), requested: "b".into() };
        assert_eq!((wrong.status(), wrong.code()), (403, "wrong_workspace"));
        let role = AuthError::RoleNotAllowed { role: "visitor", action: "read stats" };
        assert_eq!(role.to_string(), "role visitor may not read stats");
    }

    #[test]
    fn echoed_text_is_bounded() {
        assert_eq!(shown("abc", 5), "abc");
        assert_eq!(shown(&"x".repeat(100), 4), "xxxx…");
    }
}
