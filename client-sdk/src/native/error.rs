//! What can go wrong in the SDK, phrased so the caller knows what to do about it.

use edgedesk_core::client::ClientError as SessionError;
use edgedesk_core::store::StoreError;

use crate::file_store::FileStoreError;

/// Core's errors are boxed: they are large and `Result<_, ClientError>` is on every call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local replica could not be opened, read or written.
    #[error("local replica: {0}")]
    Store(Box<StoreError<FileStoreError>>),
    /// Core refused the operation (e.g. marking an unknown message read) or could not persist it.
    #[error(transparent)]
    Core(Box<SessionError<FileStoreError>>),
    #[error(transparent)]
    Url(#[from] crate::UrlError),
    #[error("timed out waiting for {what}")]
    Timeout { what: String },
    #[error("the client's connection task has stopped; open a new Client")]
    Closed,
    #[error("ephemeral data must be a JSON object of at most {max} bytes; got {got}")]
    InvalidEphemeral { max: usize, got: String },
    #[error("Client::open and InboxClient::connect must be called from within a tokio runtime")]
    NoRuntime,
    /// The inbox answered a request with an error: `code` is stable (e.g. `bad_query`,
    /// `not_found`, `forbidden`), `message` says what to change.
    #[error("the inbox refused {what} ({code}): {message}")]
    InboxRefused { what: String, code: String, message: String },
    #[error(
        "the inbox connection closed before the answer to {what} arrived; it may or may not \
         have taken effect: check (e.g. query again) and retry"
    )]
    InboxDisconnected { what: String },
    /// The inbox's answer did not have the documented shape: the relay and this SDK are
    /// probably different versions.
    #[error("the inbox's answer to {what} is not what this SDK understands: {reason}")]
    InboxAnswer { what: String, reason: String },
    #[error("presence can be set to online or away; to appear offline, shut the InboxClient down")]
    InvalidPresence,
    /// The replica directory is not laid out as the SDK left it (PROTOCOL.md §16.2).
    #[error("local replica layout at {path:?}: {reason}")]
    ReplicaLayout { path: std::path::PathBuf, reason: String },
    /// History could not be fetched and no copy of that page is kept on this device.
    #[error(
        "the conversation's history is unreachable and this page is not kept offline: {reason}"
    )]
    HistoryUnreachable { reason: String },
    /// The relay refused a history request: `code` is stable (`expired`: retention deleted
    /// that part; `no_such_segment`; `token_expired`: call `set_token`), `message` says more.
    #[error("the relay refused the history request ({status} {code}): {message}")]
    HistoryRefused { status: u16, code: String, message: String },
}

impl From<StoreError<FileStoreError>> for ClientError {
    fn from(e: StoreError<FileStoreError>) -> Self {
        ClientError::Store(Box::new(e))
    }
}

impl From<SessionError<FileStoreError>> for ClientError {
    fn from(e: SessionError<FileStoreError>) -> Self {
        ClientError::Core(Box::new(e))
    }
}

impl From<FileStoreError> for ClientError {
    fn from(e: FileStoreError) -> Self {
        StoreError::Backend(e).into()
    }
}
