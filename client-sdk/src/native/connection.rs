//! The background task: keeps one WebSocket to the relay open and moves frames between it
//! and the session. It is the only caller of `connected`, `poll_frames` and `handle_frame`, so
//! the frames of one sync message always leave in order and never interleave with another's.
//!
//! The session lives behind a `std::sync::Mutex` shared with the `Client`; the lock is taken
//! only around synchronous core calls and never held across an `.await`.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use edgedesk_core::client::ClientSession;
use edgedesk_core::relay::close_reason;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use super::{Backoff, SdkEvent};
use crate::FileStore;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A TCP connect or WebSocket handshake that takes longer than this is abandoned and retried.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that lasted this long counts as healthy: the next retry starts from the
/// initial delay again. Shorter-lived ones (e.g. the relay refuses us right after the
/// handshake) keep backing off.
pub(super) const STABLE_AFTER: Duration = Duration::from_secs(1);
/// How long to wait for the peer's side of a closing handshake.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// A quiet connection is pinged this often, so a dead one (a NAT dropped it, the network
/// changed) is noticed: nothing at all from the relay for `DEAD_AFTER` ends it.
pub(super) const KEEPALIVE_EVERY: Duration = Duration::from_secs(15);
pub(super) const DEAD_AFTER: Duration = Duration::from_secs(40);

/// What the `Client` wants the task to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Online,
    Offline,
    Shutdown,
}

/// State shared between the `Client` and its task.
pub struct Shared {
    pub session: Mutex<ClientSession<FileStore>>,
    /// Created by the first `Client::events` call: its buffer is large (a first sync is a
    /// burst of events) and a client nobody listens to should not pay for it.
    pub events: OnceLock<broadcast::Sender<SdkEvent>>,
    /// Bumped whenever the state may have changed; what `wait_until` waits on.
    pub changed: watch::Sender<u64>,
    /// Poked after a local change: the task polls the session for frames to send.
    pub flush: Notify,
    /// The epoch of the replica in `session` (PROTOCOL.md §16).
    pub epoch: std::sync::atomic::AtomicU64,
    /// `data_dir/<conversation>`: the replicas and the history kept offline.
    pub conversation_dir: std::path::PathBuf,
    /// Where history pages come from (`…/history`).
    pub history_url: String,
}

impl Shared {
    /// Locks the session. A poisoned lock means a core call panicked mid-operation; the
    /// document only ever reports changes durable after persisting them, so carrying on with
    /// it is no worse than what a restart would load, and far better than panicking the app.
    pub fn session(&self) -> MutexGuard<'_, ClientSession<FileStore>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn emit(&self, event: SdkEvent) {
        if let Some(events) = self.events.get() {
            // An error only means nobody is subscribed right now.
            let _ = events.send(event);
        }
        self.touched();
    }

    /// Tells waiters the state may have changed (also when no event says so, e.g. `in_sync`).
    pub fn touched(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// How one connection ended.
enum Ended {
    /// The connection dropped or the relay closed it: back off and retry.
    Lost,
    /// The app took the client offline.
    Offline,
    Shutdown,
    /// The conversation rolled over past this replica's epoch (close 4409): move, then
    /// reconnect.
    Moved,
}

pub async fn run(
    shared: Arc<Shared>,
    url: String,
    mut token: watch::Receiver<String>,
    backoff: Backoff,
    mut control: watch::Receiver<Control>,
    mut ephemerals: mpsc::Receiver<serde_json::Value>,
) {
    let mut attempt = 0u32;
    loop {
        match wait_until_online(&mut control).await {
            Control::Shutdown => return,
            Control::Offline => continue,
            Control::Online => {}
        }
        let epoch = shared.epoch.load(std::sync::atomic::Ordering::SeqCst);
        let request = handshake(&format!("{url}&epoch={epoch}"), &token.borrow_and_update());
        let connected = match request {
            Ok(request) => {
                let connecting = tokio::time::timeout(CONNECT_TIMEOUT, connect_async(request));
                tokio::select! {
                    r = connecting => Some(r),
                    _ = left_online(&mut control) => continue,
                }
            }
            Err(reason) => {
                shared.emit(SdkEvent::ConnectFailed { reason });
                None
            }
        };
        match connected {
            None => {}
            Some(Ok(Ok((socket, _response)))) => {
                let started = Instant::now();
                let ended = Connection {
                    shared: &shared,
                    control: &mut control,
                    ephemerals: &mut ephemerals,
                }
                .run(socket)
                .await;
                if started.elapsed() >= STABLE_AFTER {
                    attempt = 0;
                }
                match ended {
                    Ended::Shutdown => return,
                    Ended::Offline => continue,
                    Ended::Lost => {}
                    Ended::Moved => {
                        let token_now = token.borrow().clone();
                        let dir = shared.conversation_dir.clone();
                        let history = shared.history_url.clone();
                        let moving = super::history::move_over(
                            &shared.session,
                            &shared.epoch,
                            &dir,
                            &history,
                            &token_now,
                        );
                        match moving.await {
                            Ok(moved) => {
                                shared.emit(SdkEvent::Moved(moved));
                                attempt = 0;
                                continue;
                            }
                            Err(e) => shared.emit(SdkEvent::ConnectFailed {
                                reason: format!("moving to the conversation's new epoch: {e}"),
                            }),
                        }
                    }
                }
            }
            Some(Ok(Err(e))) => shared.emit(handshake_failed(e)),
            Some(Err(_)) => shared.emit(SdkEvent::ConnectFailed {
                reason: format!("no connection within {CONNECT_TIMEOUT:?}"),
            }),
        }
        let delay = backoff.delay(attempt);
        attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            // Going offline (or shutting down) ends the wait; the loop top sorts out which.
            _ = left_online(&mut control) => {}
            // A new token deserves a try at once (and a fresh backoff).
            Ok(()) = token.changed() => attempt = 0,
        }
    }
}

/// The upgrade request: the connect URL with the token as `Authorization: Bearer`.
pub(super) fn handshake(
    url: &str,
    token: &str,
) -> Result<tungstenite::handshake::client::Request, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the token holds characters an HTTP header cannot carry".to_owned())?;
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(request)
}

/// What a failed handshake tells the app: the relay's reason when it refused the token. The
/// code comes from the `x-edgedesk-error` header (tungstenite keeps only the body bytes that
/// arrived with the headers), the message from the JSON body when it is there.
pub(super) fn handshake_failed(e: tungstenite::Error) -> SdkEvent {
    if let tungstenite::Error::Http(response) = &e {
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            let body: serde_json::Value = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            let header = response.headers().get("x-edgedesk-error").and_then(|v| v.to_str().ok());
            let code = header.or(body["error"].as_str()).unwrap_or_default().to_owned();
            let message = body["message"].as_str().unwrap_or_default().to_owned();
            return SdkEvent::AuthRefused { status, code, message };
        }
    }
    SdkEvent::ConnectFailed { reason: e.to_string() }
}

/// Waits until the app wants the client online or shut down; a dropped `Client` is a shutdown.
async fn wait_until_online(control: &mut watch::Receiver<Control>) -> Control {
    loop {
        let now = *control.borrow_and_update();
        if now != Control::Offline {
            return now;
        }
        if control.changed().await.is_err() {
            return Control::Shutdown;
        }
    }
}

/// Resolves once the wanted state is no longer `Online`.
async fn left_online(control: &mut watch::Receiver<Control>) {
    loop {
        if *control.borrow_and_update() != Control::Online {
            return;
        }
        if control.changed().await.is_err() {
            return;
        }
    }
}

struct Connection<'a> {
    shared: &'a Shared,
    control: &'a mut watch::Receiver<Control>,
    ephemerals: &'a mut mpsc::Receiver<serde_json::Value>,
}

/// Why the loop over an open socket stopped, before the session is told.
struct Stop {
    ended: Ended,
    code: Option<u16>,
    reason: String,
}

impl Stop {
    fn lost(reason: impl Into<String>) -> Self {
        Self { ended: Ended::Lost, code: None, reason: reason.into() }
    }
}

impl Connection<'_> {
    async fn run(mut self, mut socket: Socket) -> Ended {
        // Whatever was queued while offline is stale: typing state has moved on.
        while self.ephemerals.try_recv().is_ok() {}
        let frames = self.shared.session().connected();
        self.shared.emit(SdkEvent::Connected);
        let stop = match send_all(&mut socket, frames).await {
            Ok(()) => self.pump(&mut socket).await,
            Err(reason) => Stop::lost(reason),
        };
        self.shared.session().disconnected();
        self.shared.emit(SdkEvent::Disconnected { code: stop.code, reason: stop.reason });
        stop.ended
    }

    async fn pump(&mut self, socket: &mut Socket) -> Stop {
        let mut last_heard = Instant::now();
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.reset();
        loop {
            tokio::select! {
                msg = socket.next() => match msg {
                    Some(Ok(WsMessage::Binary(data))) => {
                        if let Some(stop) = self.went_offline(socket).await {
                            return stop;
                        }
                        last_heard = Instant::now();
                        if let Some(stop) = self.on_frame(socket, &data).await {
                            return stop;
                        }
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        let (code, reason) = closed_by_peer(socket, frame, "the relay").await;
                        let ended = if code == Some(edgedesk_core::rollover::CLOSE_EPOCH_MOVED) {
                            Ended::Moved
                        } else {
                            Ended::Lost
                        };
                        return Stop { ended, code, reason };
                    }
                    // Text is not part of the protocol; pings are answered by tungstenite.
                    Some(Ok(_)) => last_heard = Instant::now(),
                    Some(Err(e)) => return Stop::lost(e.to_string()),
                    None => return Stop::lost("the connection ended without a close frame"),
                },
                _ = keepalive.tick() => {
                    if last_heard.elapsed() >= DEAD_AFTER {
                        return Stop::lost(format!("nothing from the relay for {DEAD_AFTER:?}"));
                    }
                    if let Err(e) = socket.send(WsMessage::Ping(Default::default())).await {
                        return Stop::lost(e.to_string());
                    }
                }
                () = self.shared.flush.notified() => {
                    if let Some(stop) = self.went_offline(socket).await {
                        return stop;
                    }
                    let frames = self.shared.session().poll_frames();
                    if let Err(reason) = send_all(socket, frames).await {
                        return Stop::lost(reason);
                    }
                }
                Some(data) = self.ephemerals.recv() => {
                    let frames = self.shared.session().ephemeral_frames(&data);
                    if let Err(reason) = send_all(socket, frames).await {
                        return Stop::lost(reason);
                    }
                }
                () = left_online(self.control) => {
                    let (ended, reason) = match *self.control.borrow() {
                        // Offline and back online before this task looked: the app wants
                        // the connection, so keep it. (Reading anything but `Offline` as a
                        // shutdown here ended the task for good: a client that went offline
                        // and online at once never reconnected.)
                        Control::Online => continue,
                        Control::Offline => (Ended::Offline, "the client went offline"),
                        Control::Shutdown => (Ended::Shutdown, "the client shut down"),
                    };
                    close(socket, CloseCode::Normal, reason).await;
                    return Stop { ended, code: Some(1000), reason: reason.to_owned() };
                }
            }
        }
    }

    /// `set_online(false)` takes effect at once: the watch value is read synchronously here,
    /// so no frame goes out (and none is applied) after the app asked to be offline, even if
    /// the select loop has not yet seen the change notification.
    async fn went_offline(&mut self, socket: &mut Socket) -> Option<Stop> {
        let ended = match *self.control.borrow() {
            Control::Online => return None,
            Control::Offline => Ended::Offline,
            Control::Shutdown => Ended::Shutdown,
        };
        let reason = "the client went offline";
        close(socket, CloseCode::Normal, reason).await;
        Some(Stop { ended, code: Some(1000), reason: reason.to_owned() })
    }

    /// Applies one frame from the relay and sends the session's answer.
    async fn on_frame(&mut self, socket: &mut Socket, data: &[u8]) -> Option<Stop> {
        let handled = {
            let mut session = self.shared.session();
            session.handle_frame(data).map(|events| (events, session.poll_frames()))
        };
        match handled {
            Ok((events, frames)) => {
                for event in events {
                    self.shared.emit(SdkEvent::Core(event));
                }
                self.shared.touched();
                send_all(socket, frames).await.err().map(Stop::lost)
            }
            Err(e) => {
                // The link's sync state can no longer be trusted; a fresh connection resyncs.
                let reason = close_reason(&format!("client could not apply a frame: {e}"));
                close(socket, CloseCode::Protocol, &reason).await;
                Some(Stop { ended: Ended::Lost, code: Some(1002), reason })
            }
        }
    }
}

async fn send_all(socket: &mut Socket, frames: Vec<Vec<u8>>) -> Result<(), String> {
    if frames.is_empty() {
        return Ok(());
    }
    for frame in frames {
        socket.feed(WsMessage::binary(frame)).await.map_err(|e| e.to_string())?;
    }
    socket.flush().await.map_err(|e| e.to_string())
}

/// The other end sent a close frame: its code and reason (`peer` names it when the frame
/// has none), once tungstenite has sent its answer to the close.
pub(super) async fn closed_by_peer(
    socket: &mut Socket,
    frame: Option<CloseFrame>,
    peer: &str,
) -> (Option<u16>, String) {
    // Send tungstenite's queued answer to the close and let go: waiting for the peer to end
    // the TCP connection (workerd takes about a second) would only delay telling the app.
    let _ = tokio::time::timeout(CLOSE_GRACE, socket.flush()).await;
    match frame {
        Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
        None => (None, format!("{peer} closed the connection")),
    }
}

pub(super) async fn close(socket: &mut Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame { code, reason: close_reason(reason).into() };
    let _ = tokio::time::timeout(CLOSE_GRACE, socket.close(Some(frame))).await;
}
