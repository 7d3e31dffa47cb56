//! The agents' inbox: what a workspace's Inbox Durable Object decides, without its storage.
//!
//! Conversation objects push a [`summary::Summary`] after every change; the inbox keeps them
//! in SQLite, answers list queries ([`query`]) and searches ([`search`]), tracks agents'
//! presence ([`presence`]), routes new conversations to a team and an agent ([`routing`]),
//! and talks to agents' devices over a socket ([`protocol`]), whose client side is
//! [`session`]. Everything here is pure: the worker runs the SQL it generates and moves the
//! frames.

pub mod coalesce;
pub mod feed;
pub mod presence;
pub mod protocol;
pub mod push;
pub mod query;
pub mod queue;
pub mod routing;
pub mod schema;
pub mod search;
pub mod session;
pub mod summary;
pub mod tail;
