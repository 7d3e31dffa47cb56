//! edgedesk-client: the device SDK.
//!
//! A thin shell over [`edgedesk_core::client::ClientSession`], which holds every rule of the
//! device side (what to sync, when a message counts as delivered, how read marks move).
//! Keeping the logic in core means the native SDK, the browser SDK and the deterministic
//! simulations in core's tests all run the same code; this crate only supplies what core
//! refuses to touch: a clock, a WebSocket, a directory, reconnection.
//!
//! Native: [`Client`] (tokio + tungstenite) over a [`FileStore`] replica, and
//! [`InboxClient`], an agent device's live inbox over [`InboxSession`].
//! wasm32 ([`web`]): `ChatClient` and `InboxClient` for JavaScript, over the browser's
//! WebSocket and IndexedDB (the npm package `@edgedesk/client`, built by scripts/build-web.sh).

pub use edgedesk_core::client::{ClientSession, Event, Identity, Notice};
pub use edgedesk_core::ids::{
    ConversationId, DeviceId, MessageId, ParticipantId, TeamId, WorkspaceId,
};
pub use edgedesk_core::inbox::presence::Presence;
pub use edgedesk_core::inbox::protocol::{QueryPage, RequestError, RequestId, Target};
pub use edgedesk_core::inbox::session::{InboxEvent, InboxSession};
pub use edgedesk_core::inbox::summary::Summary;
pub use edgedesk_core::internal_doc::{AuditAction, AuditEntry, CaseField, InternalDoc, Priority};
pub use edgedesk_core::message::{Author, Message, MessageKind, Role};
pub use edgedesk_core::store::ChunkStore;
pub use edgedesk_core::workflow::status::{State, Status};

mod author_name;
mod backoff;
pub mod chat_view;
mod endpoint;
pub mod journal_store;
pub use backoff::Backoff;
pub use endpoint::{connect_url, inbox_url, UrlError};

#[cfg(not(target_arch = "wasm32"))]
mod file_store;
#[cfg(not(target_arch = "wasm32"))]
pub use file_store::{FileStore, FileStoreError};

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(target_arch = "wasm32")]
pub mod web;
#[cfg(not(target_arch = "wasm32"))]
pub use native::*;
