//! Agents' accounts: who may sign in to the console with a password, and the sessions that
//! keep a signed-in console going (PROTOCOL.md §2.9).
//!
//! - [`account`]: what an admin manages (name, email, role, disabled) and its checks.
//! - [`password`]: argon2id hashes and the password policy.
//! - [`routing`]: the agent's teams, skills and own limit, kept in the routing configuration.
//! - [`lockout`]: failed sign-ins lock an account; a workspace-wide window slows guessing
//!   across accounts.
//! - [`sign_in`]: the decision on one sign-in attempt.
//! - [`session`]: refresh tokens (rotated on use, a reused one revokes its session) and the
//!   short-lived access tokens they buy.
//!
//! Operators that sign their agents in through their own backend keep minting tokens
//! (README: Auth); accounts are for teams without one. Both kinds of token open the same
//! console and sockets; only the relay's own carry a session id (`sid`), checked against the
//! session at every connect so a revoked session cannot open a socket again.

pub mod account;
pub mod lockout;
pub mod password;
pub mod routing;
pub mod session;
pub mod sign_in;

pub use account::{Account, AccountError, AccountUpdate};
pub use lockout::{Attempts, RateWindow};
pub use routing::{AgentRoutingView, RoutingUpdate};
pub use session::{RefreshToken, Session, SessionError};
pub use sign_in::{SignInRefusal, SignInRequest};
