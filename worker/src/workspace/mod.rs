//! The workspace's configuration: its Durable Object ([`object`]), its SQLite store, and the
//! client conversation objects ask it with. Only the request parsing ([`request`]) is
//! platform independent.

pub mod request;

#[cfg(target_arch = "wasm32")]
pub(crate) mod account_store;
#[cfg(target_arch = "wasm32")]
pub(crate) mod accounts;
#[cfg(target_arch = "wasm32")]
pub mod client;
#[cfg(target_arch = "wasm32")]
mod object;
#[cfg(target_arch = "wasm32")]
pub(crate) mod store;

#[cfg(target_arch = "wasm32")]
pub use object::Workspace;
