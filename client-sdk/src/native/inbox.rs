//! The native inbox client: core's [`InboxSession`] driven over a tokio WebSocket to the
//! workspace's inbox (PROTOCOL.md §15.x) by a background task that reconnects with backoff.
//!
//! Every rule (what a frame means, which summary is newer, which requests fail when the
//! socket drops) is the session's; this module supplies the socket, the clock for request
//! timeouts, and the plumbing that hands each answer to the caller awaiting it.

mod socket;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId, WorkspaceId};
use edgedesk_core::inbox::presence::Presence;
use edgedesk_core::inbox::protocol::{QueryPage, RequestError, RequestId, Target, DISCONNECTED};
use edgedesk_core::inbox::session::{InboxEvent, InboxSession, Request};
use edgedesk_core::inbox::summary::Summary;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{inbox_url, Backoff, ClientError};

/// Events buffered for each subscriber; one that falls further behind sees `Lagged` (the
/// state itself is never lost: read it with the snapshot methods or `wait_until`).
pub const INBOX_EVENT_CAPACITY: usize = 1024;
/// How long a request waits (for a connection, then for its answer) by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `wait_until` re-checks its predicate when nothing is reported.
const WAIT_POLL: Duration = Duration::from_millis(20);
/// How long `shutdown` waits for the closing handshake before aborting the task.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct InboxConfig {
    /// The relay's base URL, e.g. `http://127.0.0.1:8787`.
    pub base_url: String,
    pub workspace: WorkspaceId,
    /// An agent or admin token for the workspace, sent as `Authorization: Bearer`.
    pub token: String,
    /// This device: the agent's presence is the best over its devices.
    pub device: DeviceId,
    pub backoff: Backoff,
    /// How long a request waits for a connection and then for its answer.
    pub request_timeout: Duration,
}

impl InboxConfig {
    /// A config with the default backoff and request timeout.
    pub fn new(
        base_url: impl Into<String>,
        workspace: WorkspaceId,
        device: DeviceId,
        token: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            workspace,
            token: token.into(),
            device,
            backoff: Backoff::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Everything but the token, which must not end up in logs.
impl std::fmt::Debug for InboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxConfig")
            .field("base_url", &self.base_url)
            .field("workspace", &self.workspace)
            .field("token", &"<redacted>")
            .field("device", &self.device)
            .field("backoff", &self.backoff)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// What the app hears about its inbox.
// Most events are summaries: boxing them would only add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum InboxSdkEvent {
    /// What the server's frames said (or a request failing with the connection).
    Inbox(InboxEvent),
    /// The socket is open (the server's `hello` follows).
    Connected,
    /// The open socket ended; `code` is the close code, `None` without a close frame.
    Disconnected { code: Option<u16>, reason: String },
    /// A connection attempt failed; the client retries after a backoff.
    ConnectFailed { reason: String },
    /// The relay refused the token: 401 (get a fresh one, [`InboxClient::set_token`]) or 403
    /// (not an agent or admin of this workspace). Retried with backoff.
    AuthRefused { status: u16, code: String, message: String },
    /// A server frame this SDK could not read (skipped; the socket stays open).
    InvalidFrame { reason: String },
}

type Waiter = oneshot::Sender<Result<Value, RequestError>>;

/// What the client's callers and its task share, behind one lock (never held across an
/// `.await`).
struct State {
    session: InboxSession,
    /// The callers awaiting answers, by request id.
    waiters: HashMap<RequestId, Waiter>,
    /// Counts connections: a frame queued for an earlier one is dropped, not sent on the next
    /// (its request already failed with the old connection).
    epoch: u64,
}

impl State {
    /// Hands each `result` to the caller waiting for it.
    fn answer(&mut self, events: &[InboxEvent]) {
        for event in events {
            if let InboxEvent::Result { id, outcome } = event {
                if let Some(waiter) = self.waiters.remove(id) {
                    // An error only means the caller stopped waiting.
                    let _ = waiter.send(outcome.clone());
                }
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
    events: broadcast::Sender<InboxSdkEvent>,
    /// Bumped whenever the state may have changed: what `wait_until` and requests waiting
    /// for a connection wait on.
    changed: watch::Sender<u64>,
}

impl Shared {
    /// A poisoned lock means a session call panicked; its state is plain data that is still
    /// consistent between calls, so carrying on beats panicking the app.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: InboxSdkEvent) {
        // An error only means nobody is subscribed right now.
        let _ = self.events.send(event);
        self.touched();
    }

    fn touched(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// One agent device's live inbox. Requests wait for the connection (up to the request
/// timeout), so they can be made right after [`InboxClient::connect`]. Dropping it stops the
/// background task without a closing handshake; [`InboxClient::shutdown`] closes cleanly.
pub struct InboxClient {
    shared: Arc<Shared>,
    outgoing: mpsc::UnboundedSender<(u64, String)>,
    shutdown: watch::Sender<bool>,
    token: watch::Sender<String>,
    /// Subscribed before the task started: the first `events()` call gets it, and with it
    /// everything since the start (the first `hello`, a backlog).
    first_events: Mutex<Option<broadcast::Receiver<InboxSdkEvent>>>,
    request_timeout: Duration,
    task: Option<JoinHandle<()>>,
}

impl InboxClient {
    /// Starts connecting to the workspace's inbox in the background and returns at once.
    /// Must be called within a tokio runtime.
    pub async fn connect(config: InboxConfig) -> Result<InboxClient, ClientError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)?;
        let url = inbox_url(&config.base_url, &config.workspace, &config.device)?;
        let (events, first_events) = broadcast::channel(INBOX_EVENT_CAPACITY);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                session: InboxSession::new(),
                waiters: HashMap::new(),
                epoch: 0,
            }),
            events,
            changed: watch::channel(0).0,
        });
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (token, token_rx) = watch::channel(config.token);
        let task = runtime.spawn(socket::run(
            shared.clone(),
            url,
            token_rx,
            config.backoff,
            shutdown_rx,
            outgoing_rx,
        ));
        Ok(InboxClient {
            shared,
            outgoing,
            shutdown,
            token,
            first_events: Mutex::new(Some(first_events)),
            request_timeout: config.request_timeout,
            task: Some(task),
        })
    }

    /// A page of the list. `query` is the list query (PROTOCOL.md §15: `status`, `assignee`,
    /// `sort`, `limit`, `cursor`, …); the page's `next_cursor` goes into the next one.
    pub async fn query(&self, query: Value) -> Result<QueryPage, ClientError> {
        let data = self.call(Request::Query(query), "the list query").await?;
        decode(data, "the list query")
    }

    /// The sidebar's counts (total, per status, priority, team, channel, tag; mine,
    /// unassigned, unread), as the server sends them.
    pub async fn counts(&self) -> Result<Value, ClientError> {
        self.call(Request::Counts, "the counts request").await
    }

    /// Searches messages and visitor names; returns the hits, best first (each with its
    /// conversation, field, time and highlight segments).
    pub async fn search(&self, q: &str, limit: u32) -> Result<Vec<Value>, ClientError> {
        let request = Request::Search { q: q.to_owned(), limit: Some(limit) };
        let mut data = self.call(request, "the search").await?;
        match data.get_mut("hits").map(Value::take) {
            Some(Value::Array(hits)) => Ok(hits),
            _ => Err(ClientError::InboxAnswer {
                what: "the search".into(),
                reason: "expected an object with a \"hits\" array".into(),
            }),
        }
    }

    /// Takes the conversation: returns its summary, assigned to this agent.
    pub async fn claim(&self, conversation: &ConversationId) -> Result<Summary, ClientError> {
        let what = format!("the claim of {conversation}");
        let data = self.call(Request::Claim(conversation.clone()), &what).await?;
        decode(data, &what)
    }

    /// Hands the conversation to an agent or a team: returns its summary.
    pub async fn transfer(
        &self,
        conversation: &ConversationId,
        to: Target,
    ) -> Result<Summary, ClientError> {
        let what = format!("the transfer of {conversation}");
        let request = Request::Transfer { conversation: conversation.clone(), to };
        let data = self.call(request, &what).await?;
        decode(data, &what)
    }

    /// Sets this device's presence (online or away), now if connected, and again on every
    /// reconnection.
    pub fn set_presence(&self, state: Presence) -> Result<(), ClientError> {
        let mut guard = self.shared.state();
        let frame = guard.session.set_presence(state).map_err(|_| ClientError::InvalidPresence)?;
        if let Some(frame) = frame {
            self.outgoing.send((guard.epoch, frame)).map_err(|_| ClientError::Closed)?;
        }
        Ok(())
    }

    /// Replaces the token from the next connection attempt on; a client waiting to retry
    /// (e.g. after [`InboxSdkEvent::AuthRefused`]) retries now.
    pub fn set_token(&self, token: impl Into<String>) {
        self.token.send_replace(token.into());
    }

    /// Everything that happens from now on. The first call also gets what happened since
    /// `connect` (nothing is missed between the two).
    pub fn events(&self) -> broadcast::Receiver<InboxSdkEvent> {
        let first = self.first_events.lock().unwrap_or_else(PoisonError::into_inner).take();
        first.unwrap_or_else(|| self.shared.events.subscribe())
    }

    /// The newest summary known of every conversation seen (pushed, in a backlog or in an
    /// answer), by conversation id.
    pub fn summaries(&self) -> BTreeMap<String, Summary> {
        self.with_session(|s| s.summaries().clone())
    }

    pub fn summary(&self, conversation: &ConversationId) -> Option<Summary> {
        self.with_session(|s| s.summary(conversation.as_str()).cloned())
    }

    /// Every agent's presence as last reported (absent agents are offline).
    pub fn presence(&self) -> BTreeMap<ParticipantId, Presence> {
        self.with_session(|s| s.presence().clone())
    }

    /// The unread badge of `agent`: unread messages over the known conversations assigned
    /// to it.
    pub fn unread_total(&self, agent: &ParticipantId) -> u64 {
        self.with_session(|s| s.unread_total(agent))
    }

    pub fn is_connected(&self) -> bool {
        self.with_session(InboxSession::is_connected)
    }

    /// The agent the server took this device for, once its `hello` arrived.
    pub fn agent(&self) -> Option<ParticipantId> {
        self.with_session(|s| s.agent().cloned())
    }

    /// Runs `f` over the session, under its lock (keep it short).
    pub fn with_session<R>(&self, f: impl FnOnce(&InboxSession) -> R) -> R {
        f(&self.shared.state().session)
    }

    /// Resolves once `pred` holds over the session, re-checking after every change and every
    /// 20 ms; `Err(Timeout)` if it still does not after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&InboxSession) -> bool,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + timeout;
        let mut changed = self.shared.changed.subscribe();
        loop {
            if self.with_session(&pred) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what: format!("a condition on the inbox's state ({timeout:?})"),
                });
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep_until(deadline.min(Instant::now() + WAIT_POLL)) => {}
            }
        }
    }

    /// Closes the socket with a closing handshake and stops the background task.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// Sends `request` once connected and waits for its answer, all within the request
    /// timeout.
    async fn call(&self, request: Request, what: &str) -> Result<Value, ClientError> {
        let timeout = self.request_timeout;
        let deadline = Instant::now() + timeout;
        let mut changed = self.shared.changed.subscribe();
        let (id, answer) = loop {
            if let Some(sent) = self.send(&request)? {
                break sent;
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what: format!(
                        "a connection to the inbox to send {what} on ({timeout:?}; events() \
                         says why it is not connected)"
                    ),
                });
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        };
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(Ok(data))) => Ok(data),
            Ok(Ok(Err(e))) if e.code == DISCONNECTED => {
                Err(ClientError::InboxDisconnected { what: what.to_owned() })
            }
            Ok(Ok(Err(e))) => Err(ClientError::InboxRefused {
                what: what.to_owned(),
                code: e.code,
                message: e.message,
            }),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => {
                let mut state = self.shared.state();
                state.session.abandon(&id);
                state.waiters.remove(&id);
                Err(ClientError::Timeout {
                    what: format!("the inbox's answer to {what} ({timeout:?})"),
                })
            }
        }
    }

    /// Starts `request` on the open connection, or `None` if there is none right now. The
    /// frame is queued under the lock, tagged with the connection it belongs to.
    #[allow(clippy::type_complexity)]
    fn send(
        &self,
        request: &Request,
    ) -> Result<Option<(RequestId, oneshot::Receiver<Result<Value, RequestError>>)>, ClientError>
    {
        let mut guard = self.shared.state();
        let state = &mut *guard;
        if !state.session.is_connected() {
            return Ok(None);
        }
        let Ok((id, frame)) = state.session.request(request.clone()) else { return Ok(None) };
        let (waiter, answer) = oneshot::channel();
        state.waiters.insert(id.clone(), waiter);
        self.outgoing.send((state.epoch, frame)).map_err(|_| ClientError::Closed)?;
        Ok(Some((id, answer)))
    }
}

impl Drop for InboxClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn decode<T: DeserializeOwned>(data: Value, what: &str) -> Result<T, ClientError> {
    serde_json::from_value(data)
        .map_err(|e| ClientError::InboxAnswer { what: what.to_owned(), reason: e.to_string() })
}

#[cfg(test)]
mod tests;
