//! edgedesk-worker: moves bytes between Cloudflare's platform and `edgedesk-core`.
//!
//! The HTTP front door ([`routes`]) validates the request, verifies its token and hands a
//! conversation's WebSocket, with the verified identity, to that conversation's Durable Object
//! ([`conversation`]), which drives
//! `edgedesk_core::relay::Relay` over SQLite storage ([`sql_store`]). A workspace's support
//! configuration lives in its own Durable Object ([`workspace`]), which conversation objects
//! ask for it ([`workspace::client`]). No rule of the conversation lives here: everything that
//! decides lives in core, where it is tested natively.
//!
//! One folder per Durable Object ([`conversation`], [`inbox`], [`workspace`]) beside the front
//! door ([`routes`]) and shared platform helpers. Only the request parsing ([`request`],
//! [`inbox::request`], [`workspace::request`]) is platform independent; the rest compiles
//! for wasm32 only.

pub mod forward_header;
pub mod inbox;
pub mod open_error;
pub mod refusal;
pub mod request;
pub mod workspace;

#[cfg(target_arch = "wasm32")]
mod account_routes;
#[cfg(target_arch = "wasm32")]
mod attachments;
#[cfg(target_arch = "wasm32")]
mod authorize;
#[cfg(target_arch = "wasm32")]
mod config;
#[cfg(target_arch = "wasm32")]
mod conversation;
#[cfg(target_arch = "wasm32")]
mod conversation_store;
#[cfg(target_arch = "wasm32")]
mod do_sql;
#[cfg(target_arch = "wasm32")]
mod fan_out;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod key_store;
#[cfg(target_arch = "wasm32")]
mod object_call;
#[cfg(target_arch = "wasm32")]
pub mod outbox;
#[cfg(target_arch = "wasm32")]
mod routes;
#[cfg(target_arch = "wasm32")]
mod sql_store;
#[cfg(target_arch = "wasm32")]
mod widget;
#[cfg(target_arch = "wasm32")]
mod workflow_store;

#[cfg(target_arch = "wasm32")]
pub use conversation::Conversation;
#[cfg(target_arch = "wasm32")]
pub use inbox::Inbox;
#[cfg(target_arch = "wasm32")]
pub use workspace::Workspace;

#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    req: worker::Request,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<worker::Response> {
    Ok(routes::handle(req, env).await.unwrap_or_else(http::internal_error))
}
