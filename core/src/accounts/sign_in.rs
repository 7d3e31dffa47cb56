//! The decision on one password sign-in: the order of the checks is the security property.
//!
//! 1. The workspace-wide window ([`RateWindow`]) before any hashing: a flood costs no CPU.
//! 2. An unknown email still spends one hash ([`password::burn`]) and gets the same answer as
//!    a wrong password, so answers and timing do not reveal who has an account.
//! 3. A locked account is refused without looking at the password.
//! 4. A wrong password counts towards the lock.
//! 5. Only the right password learns that the account is disabled.

use serde::Deserialize;

use super::account::{normalize_email, Account};
use super::lockout::{Attempts, RateWindow};
use super::password::{self, MAX_PASSWORD_BYTES};

/// Largest body of a sign-in request.
pub const MAX_SIGN_IN_BYTES: usize = 1024;

/// `POST …/auth/sign-in`: `{"email": "…", "password": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

/// Why a sign-in is refused. `status` and `code` are the HTTP answer (PROTOCOL.md §2.9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefusal {
    #[error("the body must be JSON {{\"email\": …, \"password\": …}} of at most {MAX_SIGN_IN_BYTES} bytes")]
    BadRequest,
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("too many wrong passwords: the account is locked; try again in {retry_after} s or ask an admin")]
    Locked { retry_after: i64 },
    #[error("too many sign-in attempts in this workspace; try again in {retry_after} s")]
    RateLimited { retry_after: i64 },
    #[error("this account is disabled; ask an admin")]
    Disabled,
}

impl SignInRefusal {
    pub fn status(&self) -> u16 {
        match self {
            SignInRefusal::BadRequest => 400,
            SignInRefusal::WrongCredentials => 401,
            SignInRefusal::Locked { .. } | SignInRefusal::RateLimited { .. } => 429,
            SignInRefusal::Disabled => 403,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            SignInRefusal::BadRequest => "invalid_request",
            SignInRefusal::WrongCredentials => "wrong_credentials",
            SignInRefusal::Locked { .. } => "account_locked",
            SignInRefusal::RateLimited { .. } => "rate_limited",
            SignInRefusal::Disabled => "account_disabled",
        }
    }

    /// The `Retry-After` header, in seconds.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            SignInRefusal::Locked { retry_after } | SignInRefusal::RateLimited { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

impl SignInRequest {
    pub fn parse(body: &[u8]) -> Result<SignInRequest, SignInRefusal> {
        #[derive(Deserialize)]
        struct Body {
            email: String,
            password: String,
        }
        if body.len() > MAX_SIGN_IN_BYTES {
            return Err(SignInRefusal::BadRequest);
        }
        let b: Body = serde_json::from_slice(body).map_err(|_| SignInRefusal::BadRequest)?;
        if b.password.len() > MAX_PASSWORD_BYTES {
            return Err(SignInRefusal::BadRequest);
        }
        // An address that cannot be an account's is simply a wrong one.
        let email = normalize_email(&b.email).unwrap_or_default();
        Ok(SignInRequest { email, password: b.password })
    }
}

/// The stored account a sign-in names, with its password hash and attempts.
pub struct Candidate<'a> {
    pub account: &'a Account,
    pub password_hash: Option<&'a str>,
    pub attempts: Attempts,
}

/// Decides a sign-in at `now`. Returns the decision and, for a known account, its attempts to
/// store (whatever the decision).
pub fn decide(
    request: &SignInRequest,
    candidate: Option<Candidate<'_>>,
    window: &mut RateWindow,
    now: i64,
) -> (Result<(), SignInRefusal>, Option<Attempts>) {
    if let Err(retry_after) = window.admit(now) {
        return (Err(SignInRefusal::RateLimited { retry_after }), None);
    }
    let Some(c) = candidate else {
        password::burn(&request.password);
        return (Err(SignInRefusal::WrongCredentials), None);
    };
    if let Some(until) = c.attempts.locked(now) {
        return (Err(SignInRefusal::Locked { retry_after: until - now }), Some(c.attempts));
    }
    let right = match c.password_hash {
        Some(phc) => password::verify(&request.password, phc),
        None => {
            password::burn(&request.password);
            false
        }
    };
    if !right {
        let attempts = c.attempts.failed(now);
        let refusal = match attempts.locked(now) {
            Some(until) => SignInRefusal::Locked { retry_after: until - now },
            None => SignInRefusal::WrongCredentials,
        };
        return (Err(refusal), Some(attempts));
    }
    if c.account.disabled {
        return (Err(SignInRefusal::Disabled), Some(Attempts::default()));
    }
    (Ok(()), Some(Attempts::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::lockout::LOCK_SECONDS;
    use crate::ids::ParticipantId;
    use crate::message::Role;

    fn ada(disabled: bool) -> Account {
        Account {
            id: ParticipantId::new("agent-ada").unwrap(),
            email: "ada@shop.example".into(),
            name: "Ada".into(),
            role: Role::Agent,
            disabled,
            has_password: true,
        }
    }

    fn req(password: &str) -> SignInRequest {
        SignInRequest::parse(
            format!(r#"{{"email":"Ada@Shop.example","password":"{password}"}}"#).as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
        let phc = password::hash("correct horse battery").unwrap();
        let account = ada(false);
        let mut window = RateWindow::default();
        let mut attempts = Attempts::default();
        let mut codes = vec![];
        for _ in 0..5 {
            let c = Candidate { account: &account, password_hash: Some(&phc), attempts };
            let (answer, next) = decide(&req("wrong password!"), Some(c), &mut window, 1000);
            codes.push(answer.unwrap_err().code());
            attempts = next.unwrap();
        }
        assert_eq!(
            codes,
            ["wrong_credentials"; 4].iter().copied().chain(["account_locked"]).collect::<Vec<_>>()
        );
        let c = Candidate { account: &account, password_hash: Some(&phc), attempts };
        let (answer, _) = decide(&req("correct horse battery"), Some(c), &mut window, 1001);
        assert_eq!(answer, Err(SignInRefusal::Locked { retry_after: LOCK_SECONDS - 1 }));
        // After the lock the right password works and clears the count.
        let c = Candidate { account: &account, password_hash: Some(&phc), attempts };
        let (answer, next) =
            decide(&req("correct horse battery"), Some(c), &mut window, 1000 + LOCK_SECONDS);
        assert_eq!((answer, next), (Ok(()), Some(Attempts::default())));
    }

    #[test]
    fn unknown_emails_and_disabled_accounts_reveal_nothing_to_a_wrong_password() {
        let phc = password::hash("correct horse battery").unwrap();
        let mut window = RateWindow::default();
        let (answer, stored) = decide(&req("whatever123"), None, &mut window, 5);
        assert_eq!((answer, stored), (Err(SignInRefusal::WrongCredentials), None));
        let off = ada(true);
        let c =
            Candidate { account: &off, password_hash: Some(&phc), attempts: Attempts::default() };
        assert_eq!(
            decide(&req("wrong password!"), Some(c), &mut window, 5).0,
            Err(SignInRefusal::WrongCredentials)
        );
        let c =
            Candidate { account: &off, password_hash: Some(&phc), attempts: Attempts::default() };
        assert_eq!(
            decide(&req("correct horse battery"), Some(c), &mut window, 5).0,
            Err(SignInRefusal::Disabled)
        );
        // An account without a password (signed in by the operator's backend) takes none.
        let no_pw = ada(false);
        let c = Candidate { account: &no_pw, password_hash: None, attempts: Attempts::default() };
        assert_eq!(
            decide(&req(""), Some(c), &mut window, 5).0,
            Err(SignInRefusal::WrongCredentials)
        );
    }

    #[test]
    fn a_flood_is_refused_before_any_hashing() {
        let mut window = RateWindow::default();
        for _ in 0..crate::accounts::lockout::SIGN_INS_PER_MINUTE {
            window.admit(10).unwrap();
        }
        let (answer, stored) = decide(&req("x"), None, &mut window, 20);
        assert_eq!(answer, Err(SignInRefusal::RateLimited { retry_after: 50 }));
        assert_eq!((answer.unwrap_err().status(), stored), (429, None));
        assert_eq!(SignInRequest::parse(b"{}"), Err(SignInRefusal::BadRequest));
        assert_eq!(SignInRequest::parse(&[b'x'; 2000]), Err(SignInRefusal::BadRequest));
    }
}
