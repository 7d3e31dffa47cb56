//! The native client: core's [`ClientSession`] on a [`FileStore`], driven over a tokio
//! WebSocket by a background task.
//!
//! Everything the device decides (what to send, what a frame means, when a message is
//! acknowledged) is the session's; this module only supplies a clock, a socket, a directory
//! and reconnection. Local writes happen on the caller's task, durably, before they return;
//! the background task is then poked to send whatever the session wants sent.

mod connection;
mod error;
mod history;
mod inbox;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgedesk_core::client::{ClientSession, Event, Identity};
use edgedesk_core::ids::{ConversationId, MessageId, ParticipantId, WorkspaceId};
use edgedesk_core::internal_doc::{CaseField, InternalDoc};
use edgedesk_core::message::Message;
use edgedesk_core::relay::{sees_internal, MAX_EPHEMERAL_BYTES};
use edgedesk_core::workflow::status::Status;
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::task::JoinHandle;

pub use crate::backoff::Backoff;
pub use crate::endpoint::{connect_url, inbox_url};
pub use edgedesk_core::rollover::history::{Archived, Page as HistoryPage};
pub use error::ClientError;
pub use history::Moved;
pub use inbox::{
    InboxClient, InboxConfig, InboxSdkEvent, DEFAULT_REQUEST_TIMEOUT, INBOX_EVENT_CAPACITY,
};

use crate::file_store::{FileStore, FileStoreError};
use connection::{Control, Shared};

/// Events buffered for subscribers. A first sync of a long conversation emits one event per
/// message and receipt in a burst; a subscriber that falls further behind sees `Lagged`.
/// The buffer (about 12 MB) is allocated by the first [`Client::events`] call.
pub const EVENT_CAPACITY: usize = 65536;
/// Ephemeral payloads queued for the socket; beyond this they are dropped (they are lossy).
const EPHEMERAL_QUEUE: usize = 256;
/// How often `wait_until` re-checks its predicate when no event arrives.
const WAIT_POLL: Duration = Duration::from_millis(20);
/// How long `open` waits for a previous client on the same directory to let go of it
/// (a dropped client's task releases the store a moment after the drop).
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// How long `shutdown` waits for the socket's closing handshake before aborting the task.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long `shutdown` waits, while online, for the relay to acknowledge what this
/// device holds. Past it nothing is lost (the replica is on disk and the next connection
/// delivers it); the wait only makes the write reach the relay now.
const SETTLE_ON_SHUTDOWN: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct ClientConfig {
    /// The relay's base URL, e.g. `http://127.0.0.1:8787`.
    pub base_url: String,
    pub workspace: WorkspaceId,
    pub conversation: ConversationId,
    /// Who this device writes as. Must match the token: `participant` its `sub`, `role` its
    /// `role` (the relay refuses writes authored by anyone else with close 1008). `name` is
    /// replaced by the token's name (its `name` claim, or the default of PROTOCOL.md §8.6).
    pub identity: Identity,
    /// The bearer token (JWT) the relay admits this device with, sent as
    /// `Authorization: Bearer`. Replace it with [`Client::set_token`] before it expires.
    pub token: String,
    /// The replica lives in `data_dir/<conversation>/`.
    pub data_dir: PathBuf,
    pub backoff: Backoff,
    /// Whether to connect right away; `false` opens the replica offline (writes still work
    /// and are sent after `set_online(true)`).
    pub start_online: bool,
}

impl ClientConfig {
    /// A config with the default reconnect backoff.
    pub fn new(
        base_url: impl Into<String>,
        workspace: WorkspaceId,
        conversation: ConversationId,
        identity: Identity,
        token: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            workspace,
            conversation,
            identity,
            token: token.into(),
            data_dir: data_dir.into(),
            backoff: Backoff::default(),
            start_online: true,
        }
    }
}

/// Everything but the token, which must not end up in logs.
impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("workspace", &self.workspace)
            .field("conversation", &self.conversation)
            .field("identity", &self.identity)
            .field("token", &"<redacted>")
            .field("data_dir", &self.data_dir)
            .field("backoff", &self.backoff)
            .field("start_online", &self.start_online)
            .finish()
    }
}

/// What the app hears about.
#[derive(Debug, Clone, PartialEq)]
pub enum SdkEvent {
    /// Something the relay's frames brought: messages, receipts, read marks, ephemerals, notices.
    Core(Event),
    /// A WebSocket to the relay is open and a fresh sync has started.
    Connected,
    /// The open WebSocket ended. `code` is the close code of whichever side closed it (1000
    /// when the app went offline or shut down), `None` if it dropped without a close frame.
    Disconnected { code: Option<u16>, reason: String },
    /// A connection attempt failed (unreachable, refused at the handshake, timed out); the
    /// client retries after a backoff.
    ConnectFailed { reason: String },
    /// The relay refused the token at the handshake: `status` 401 (missing, invalid or
    /// expired: get a fresh token and call [`Client::set_token`]) or 403 (valid, but not for
    /// this workspace or conversation). `code` is the relay's error code (PROTOCOL.md, Auth),
    /// e.g. `token_expired`. The client keeps retrying with backoff; a new token is tried at once.
    AuthRefused { status: u16, code: String, message: String },
    /// This device wrote a message (it is durable locally; its receipt arrives as
    /// `Core(Event::Delivered)`).
    MessageSent(Message),
    /// The conversation rolled over (PROTOCOL.md §16): the replica now holds the new epoch's
    /// live part, with this device's unacknowledged messages rewritten into it; earlier
    /// messages are read with [`Client::history`].
    Moved(Moved),
}

/// A read-only look at the client's state, taken under its lock: cheap to query repeatedly.
pub struct ClientView<'a> {
    session: &'a ClientSession<FileStore>,
}

impl ClientView<'_> {
    pub fn messages(&self) -> Vec<Message> {
        self.session.messages()
    }

    /// The number of messages, without materialising them.
    pub fn message_count(&self) -> usize {
        self.session.doc().message_count()
    }

    /// Own messages the relay has not acknowledged yet.
    pub fn pending(&self) -> Vec<MessageId> {
        self.session.pending()
    }

    /// The document's heads as hex change hashes: equal heads mean equal replicas.
    pub fn heads(&self) -> Vec<String> {
        self.session.doc().heads().iter().map(|h| h.to_string()).collect()
    }

    pub fn read_mark(&self, participant: &ParticipantId) -> Option<MessageId> {
        self.session.doc().read_mark(participant)
    }

    /// The relay's time of receipt of a message, once it has acknowledged it.
    pub fn delivered_at(&self, id: &MessageId) -> Option<i64> {
        self.session.doc().delivered_at(id)
    }

    pub fn is_connected(&self) -> bool {
        self.session.is_connected()
    }

    /// Whether the relay is known to hold exactly what this replica holds.
    pub fn in_sync(&self) -> bool {
        self.session.in_sync()
    }

    /// (sent msgs, sent bytes, received msgs, received bytes) of the current connection.
    pub fn link_counters(&self) -> Option<(u64, u64, u64, u64)> {
        self.session.link_counters()
    }

    pub fn identity(&self) -> &Identity {
        self.session.identity()
    }

    /// Agents: the internal document (tags, case fields, notes, audit trail); `None` for
    /// visitors, who never hold it.
    pub fn status(&self) -> Status {
        self.session().status()
    }

    pub fn internal(&self) -> Option<&InternalDoc> {
        self.session.internal()
    }

    /// The underlying session, for reads this view does not wrap.
    pub fn session(&self) -> &ClientSession<FileStore> {
        self.session
    }
}

/// One device's connection to one conversation. Dropping it stops the background task
/// (without a closing handshake, as a crash would); [`Client::shutdown`] closes cleanly.
pub struct Client {
    shared: Arc<Shared>,
    control: watch::Sender<Control>,
    ephemerals: mpsc::Sender<serde_json::Value>,
    token: watch::Sender<String>,
    task: Option<JoinHandle<()>>,
    conversation: ConversationId,
    data_dir: PathBuf,
}

impl Client {
    /// Opens the replica in `data_dir/<conversation>/` and starts connecting to the relay.
    /// Must be called within a tokio runtime.
    pub async fn open(config: ClientConfig) -> Result<Client, ClientError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)?;
        let url = connect_url(
            &config.base_url,
            &config.workspace,
            &config.conversation,
            &config.identity.device,
        )?;
        let history_url = crate::endpoint::history_url(
            &config.base_url,
            &config.workspace,
            &config.conversation,
        )?;
        let data_dir = config.data_dir.join(config.conversation.as_str());
        let mut config = config;
        config.identity.name = crate::author_name::author_name(&config.token, config.identity.name);
        let (store, epoch) = history::open_current(&data_dir).await?;
        let session = if sees_internal(config.identity.role) {
            // Agents keep the internal document beside the shared one, in its own store.
            let internal = open_store(&data_dir.join("internal")).await?;
            ClientSession::open_with_internal(store, internal, config.identity)?
        } else {
            ClientSession::open(store, config.identity)?
        };
        let shared = Arc::new(Shared {
            session: session.into(),
            events: OnceLock::new(),
            changed: watch::channel(0).0,
            flush: Notify::new(),
            epoch: epoch.into(),
            conversation_dir: data_dir.clone(),
            history_url,
        });
        let initial = if config.start_online { Control::Online } else { Control::Offline };
        let (control, control_rx) = watch::channel(initial);
        let (ephemerals, ephemerals_rx) = mpsc::channel(EPHEMERAL_QUEUE);
        let (token, token_rx) = watch::channel(config.token);
        let task = runtime.spawn(connection::run(
            shared.clone(),
            url,
            token_rx,
            config.backoff,
            control_rx,
            ephemerals_rx,
        ));
        Ok(Client {
            shared,
            control,
            ephemerals,
            token,
            task: Some(task),
            conversation: config.conversation,
            data_dir,
        })
    }

    /// Writes a text message. It is durable on disk when this returns, online or not, and is
    /// sent as soon as the relay is reachable.
    pub async fn send_text(&self, body: &str) -> Result<Message, ClientError> {
        let msg = self.shared.session().send_text(body, now_ms())?;
        self.shared.flush.notify_one();
        self.shared.emit(SdkEvent::MessageSent(msg.clone()));
        Ok(msg)
    }

    /// Writes a message carrying `attachment` (uploaded first: PROTOCOL.md §2.10).
    pub async fn send_attachment(
        &self,
        caption: &str,
        attachment: edgedesk_core::attachment::AttachmentRef,
    ) -> Result<Message, ClientError> {
        let id = MessageId::random();
        let msg = self.shared.session().send_attachment(id, caption, attachment, now_ms())?;
        self.shared.flush.notify_one();
        self.shared.emit(SdkEvent::MessageSent(msg.clone()));
        Ok(msg)
    }

    /// Moves this device's read mark to `id` (never backwards), durably. Returns whether it moved.
    pub async fn mark_read(&self, id: &MessageId) -> Result<bool, ClientError> {
        let moved = self.shared.session().mark_read(id, now_ms())?;
        if moved {
            self.shared.flush.notify_one();
            self.shared.touched();
        }
        Ok(moved)
    }

    /// Agents: sets the conversation's status (open, pending, snoozed until a time,
    /// resolved), durably; synced to everyone and audited by the relay.
    pub async fn set_status(&self, status: Status) -> Result<(), ClientError> {
        self.shared.session().set_status(status, now_ms())?;
        self.shared.flush.notify_one();
        self.shared.touched();
        Ok(())
    }

    /// Agents: adds a tag to the conversation (durable locally, synced to every agent device,
    /// audited by the relay). Returns whether it was new.
    pub async fn add_tag(&self, tag: &str) -> Result<bool, ClientError> {
        let added = self.shared.session().add_tag(tag, now_ms())?;
        self.changed_internal();
        Ok(added)
    }

    /// Agents: removes a tag. Returns whether it was there.
    pub async fn remove_tag(&self, tag: &str) -> Result<bool, ClientError> {
        let removed = self.shared.session().remove_tag(tag, now_ms())?;
        self.changed_internal();
        Ok(removed)
    }

    /// Agents: sets (`Some`) or clears (`None`) the assignee, team or priority.
    pub async fn set_case(&self, field: CaseField, value: Option<&str>) -> Result<(), ClientError> {
        self.shared.session().set_case(field, value, now_ms())?;
        self.changed_internal();
        Ok(())
    }

    /// Agents: writes an internal note, which only agents ever receive.
    pub async fn add_note(&self, body: &str) -> Result<Message, ClientError> {
        let note = self.shared.session().add_note(body, now_ms())?;
        self.changed_internal();
        Ok(note)
    }

    fn changed_internal(&self) {
        self.shared.flush.notify_one();
        self.shared.touched();
    }

    /// Sends typing/presence data to the conversation's other connected devices. Dropped
    /// while disconnected (it is ephemeral); must be a JSON object the relay accepts.
    pub fn send_ephemeral(&self, data: serde_json::Value) -> Result<(), ClientError> {
        let len = data.to_string().len();
        if !data.is_object() || len > MAX_EPHEMERAL_BYTES {
            let got = if data.is_object() { format!("{len} bytes") } else { "a non-object".into() };
            return Err(ClientError::InvalidEphemeral { max: MAX_EPHEMERAL_BYTES, got });
        }
        if !self.is_connected() {
            return Ok(());
        }
        match self.ephemerals.try_send(data) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(ClientError::Closed),
        }
    }

    /// Takes the client offline (closes the socket, stops reconnecting) or back online.
    /// Writes keep working offline and are sent on reconnection.
    pub fn set_online(&self, online: bool) {
        let want = if online { Control::Online } else { Control::Offline };
        self.control.send_if_modified(|now| {
            let change = *now != want && *now != Control::Shutdown;
            if change {
                *now = want;
            }
            change
        });
    }

    /// Replaces the token used from the next connection attempt on (an open connection is
    /// kept). If the client is waiting to retry, it retries now: call this after an
    /// [`SdkEvent::AuthRefused`] or before the old token expires.
    pub fn set_token(&self, token: impl Into<String>) {
        self.token.send_replace(token.into());
    }

    /// Whether the app wants the client online (it may still be connecting).
    pub fn is_online(&self) -> bool {
        *self.control.borrow() == Control::Online
    }

    /// A stream of everything that happens from now on.
    pub fn events(&self) -> broadcast::Receiver<SdkEvent> {
        self.shared.events.get_or_init(|| broadcast::channel(EVENT_CAPACITY).0).subscribe()
    }

    /// Runs `f` over the current state, under the session lock (keep it short).
    pub fn with_view<R>(&self, f: impl FnOnce(&ClientView<'_>) -> R) -> R {
        let session = self.shared.session();
        f(&ClientView { session: &session })
    }

    /// Resolves once `pred` holds over the state, re-checking after events and every 20 ms;
    /// `Err(Timeout)` if it still does not after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&ClientView<'_>) -> bool,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + timeout;
        let mut changed = self.shared.changed.subscribe();
        loop {
            if self.with_view(&pred) {
                return Ok(());
            }
            let Some(left) =
                deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
            else {
                return Err(ClientError::Timeout {
                    what: format!("a condition on the client's state ({timeout:?})"),
                });
            };
            // `changed` coalesces: a burst of frames (a first sync) is one wake-up, not many.
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep(left.min(WAIT_POLL)) => {}
            }
        }
    }

    pub fn messages(&self) -> Vec<Message> {
        self.with_view(|v| v.messages())
    }

    pub fn pending(&self) -> Vec<MessageId> {
        self.with_view(|v| v.pending())
    }

    pub fn heads(&self) -> Vec<String> {
        self.with_view(|v| v.heads())
    }

    pub fn read_mark(&self, participant: &ParticipantId) -> Option<MessageId> {
        self.with_view(|v| v.read_mark(participant))
    }

    pub fn delivered_at(&self, id: &MessageId) -> Option<i64> {
        self.with_view(|v| v.delivered_at(id))
    }

    pub fn is_connected(&self) -> bool {
        self.with_view(|v| v.is_connected())
    }

    pub fn in_sync(&self) -> bool {
        self.with_view(|v| v.in_sync())
    }

    pub fn link_counters(&self) -> Option<(u64, u64, u64, u64)> {
        self.with_view(|v| v.link_counters())
    }

    pub fn identity(&self) -> Identity {
        self.with_view(|v| v.identity().clone())
    }

    pub fn conversation(&self) -> &ConversationId {
        &self.conversation
    }

    /// The epoch of the local replica (PROTOCOL.md §16): 0 until the conversation first
    /// rolled over while this device was connected or reconnecting.
    pub fn epoch(&self) -> u64 {
        self.shared.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A page of the conversation's sealed history (PROTOCOL.md §16.3), oldest first: the
    /// messages just before `before` (a page's `before` cursor; `None`: the newest sealed
    /// ones), at most `limit` (1 to 500). Pages fetched are kept on the device: offline, a
    /// page fetched before is served from there.
    pub async fn history(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<HistoryPage, ClientError> {
        let token = self.token.borrow().clone();
        let (dir, url) = (&self.shared.conversation_dir, &self.shared.history_url);
        history::page(dir, url, &token, before, limit.clamp(1, 500)).await
    }

    /// The directory holding this conversation's replica.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Waits (at most 2 s, unless the app took the client offline) until the relay
    /// acknowledged everything this device holds ([`Self::in_sync`]), then closes the socket
    /// with a closing handshake and stops the background task.
    pub async fn shutdown(mut self) {
        if self.is_online() {
            // A timeout is not an error: the write stays on disk for the next connection.
            let _ = self.wait_until(SETTLE_ON_SHUTDOWN, |v| v.in_sync()).await;
        }
        self.control.send_replace(Control::Shutdown);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Opens the store, waiting briefly for a just-dropped client to release the directory.
async fn open_store(dir: &std::path::Path) -> Result<FileStore, ClientError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match FileStore::open(dir) {
            Err(FileStoreError::Locked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// Milliseconds since the Unix epoch by the system clock (0 if it is set before 1970).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
