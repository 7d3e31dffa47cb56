//! The workspace's inbox: its Durable Object ([`object`]), the agents' commands on it, routing
//! and assignment, search, its SQLite store, and the HTTP routes that reach it. Only the
//! request parsing ([`request`]) is platform independent.

pub mod request;

#[cfg(target_arch = "wasm32")]
mod commands;
#[cfg(target_arch = "wasm32")]
mod object;
#[cfg(target_arch = "wasm32")]
pub(crate) mod routes;
#[cfg(target_arch = "wasm32")]
mod routing;
#[cfg(target_arch = "wasm32")]
pub(crate) mod search;
#[cfg(target_arch = "wasm32")]
pub(crate) mod store;

#[cfg(target_arch = "wasm32")]
pub use object::Inbox;
