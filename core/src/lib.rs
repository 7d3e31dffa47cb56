//! edgedesk-core: the conversation relay's protocol and rules as plain state machines.
//!
//! Nothing here does I/O or reads a clock: inputs are bytes from a peer, the current time and
//! configuration; outputs are bytes to send and chunks to store. The Worker and the client SDK
//! move those bytes between these machines and their platform, which keeps every rule testable
//! natively and deterministically.

pub mod accounts;
pub mod ack;
pub mod at_rest;
pub mod attachment;
pub mod audit;
pub mod auth;
pub mod chunk;
pub mod client;
pub mod doc_error;
pub mod document;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod inbox;
pub mod inflate;
pub mod intake;
pub mod internal_doc;
pub mod limits;
pub mod message;
pub mod message_map;
pub mod op_patches;
pub mod peer;
pub mod relay;
pub mod rollover;
pub mod schema;
pub mod shared_doc;
pub mod sql;
pub mod store;
pub mod sync;
pub mod validate;
pub mod webhook;
pub mod webhook_outbox;
pub mod workflow;

pub use automerge;
