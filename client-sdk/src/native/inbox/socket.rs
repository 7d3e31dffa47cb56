//! The inbox client's background task: keeps one WebSocket to the workspace's inbox open,
//! reconnecting with backoff, and moves text frames between it and the session.

use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use super::{InboxSdkEvent, Shared};
use crate::native::connection::{
    close, closed_by_peer, handshake, handshake_failed, CONNECT_TIMEOUT, DEAD_AFTER,
    KEEPALIVE_EVERY, STABLE_AFTER,
};
use crate::native::{Backoff, SdkEvent};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How one connection ended.
enum Ended {
    Lost,
    Shutdown,
}

pub(super) async fn run(
    shared: Arc<Shared>,
    url: String,
    mut token: watch::Receiver<String>,
    backoff: Backoff,
    mut shutdown: watch::Receiver<bool>,
    mut outgoing: mpsc::UnboundedReceiver<(u64, String)>,
) {
    let mut attempt = 0u32;
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        let request = handshake(&url, &token.borrow_and_update());
        match request {
            Err(reason) => shared.emit(InboxSdkEvent::ConnectFailed { reason }),
            Ok(request) => {
                let connecting = tokio::time::timeout(CONNECT_TIMEOUT, connect_async(request));
                let connected = tokio::select! {
                    r = connecting => r,
                    _ = shutdown.changed() => return,
                };
                match connected {
                    Ok(Ok((socket, _response))) => {
                        let started = Instant::now();
                        let ended = Connection {
                            shared: &shared,
                            shutdown: &mut shutdown,
                            outgoing: &mut outgoing,
                        }
                        .run(socket)
                        .await;
                        if started.elapsed() >= STABLE_AFTER {
                            attempt = 0;
                        }
                        if let Ended::Shutdown = ended {
                            return;
                        }
                    }
                    Ok(Err(e)) => shared.emit(match handshake_failed(e) {
                        SdkEvent::AuthRefused { status, code, message } => {
                            InboxSdkEvent::AuthRefused { status, code, message }
                        }
                        other => InboxSdkEvent::ConnectFailed { reason: describe(other) },
                    }),
                    Err(_) => shared.emit(InboxSdkEvent::ConnectFailed {
                        reason: format!("no connection within {CONNECT_TIMEOUT:?}"),
                    }),
                }
            }
        }
        let delay = backoff.delay(attempt);
        attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
            // A new token deserves a try at once (and a fresh backoff).
            Ok(()) = token.changed() => attempt = 0,
        }
    }
}

fn describe(event: SdkEvent) -> String {
    match event {
        SdkEvent::ConnectFailed { reason } => reason,
        other => format!("{other:?}"),
    }
}

struct Connection<'a> {
    shared: &'a Shared,
    shutdown: &'a mut watch::Receiver<bool>,
    outgoing: &'a mut mpsc::UnboundedReceiver<(u64, String)>,
}

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
        let (epoch, opened) = {
            let mut state = self.shared.state();
            state.epoch += 1;
            let opened = state.session.connected();
            state.answer(&opened.events);
            (state.epoch, opened)
        };
        self.shared.emit(InboxSdkEvent::Connected);
        for event in opened.events {
            self.shared.emit(InboxSdkEvent::Inbox(event));
        }
        let mut stop = None;
        for frame in opened.send {
            if let Err(e) = socket.send(WsMessage::text(frame)).await {
                stop = Some(Stop::lost(e.to_string()));
                break;
            }
        }
        let stop = match stop {
            Some(stop) => stop,
            None => self.pump(&mut socket, epoch).await,
        };
        let failed = {
            let mut state = self.shared.state();
            let failed = state.session.disconnected();
            state.answer(&failed);
            failed
        };
        self.shared.emit(InboxSdkEvent::Disconnected { code: stop.code, reason: stop.reason });
        for event in failed {
            self.shared.emit(InboxSdkEvent::Inbox(event));
        }
        stop.ended
    }

    async fn pump(&mut self, socket: &mut Socket, epoch: u64) -> Stop {
        let mut last_heard = Instant::now();
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.reset();
        loop {
            tokio::select! {
                msg = socket.next() => {
                    last_heard = Instant::now();
                    match msg {
                        Some(Ok(WsMessage::Text(text))) => self.on_frame(text.as_str()),
                        Some(Ok(WsMessage::Close(frame))) => {
                            let (code, reason) = closed_by_peer(socket, frame, "the inbox").await;
                            return Stop { ended: Ended::Lost, code, reason };
                        }
                        // Binary is not part of the inbox protocol; pings are answered by
                        // tungstenite.
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Stop::lost(e.to_string()),
                        None => return Stop::lost("the connection ended without a close frame"),
                    }
                }
                _ = keepalive.tick() => {
                    if last_heard.elapsed() >= DEAD_AFTER {
                        return Stop::lost(format!("nothing from the inbox for {DEAD_AFTER:?}"));
                    }
                    if let Err(e) = socket.send(WsMessage::Ping(Default::default())).await {
                        return Stop::lost(e.to_string());
                    }
                }
                queued = self.outgoing.recv() => match queued {
                    // Queued for an earlier connection: its request has already failed.
                    Some((for_epoch, _)) if for_epoch != epoch => {}
                    Some((_, frame)) => {
                        if let Err(e) = socket.send(WsMessage::text(frame)).await {
                            return Stop::lost(e.to_string());
                        }
                    }
                    // The client is gone.
                    None => return self.closing(socket).await,
                },
                _ = self.shutdown.changed() => return self.closing(socket).await,
            }
        }
    }

    fn on_frame(&self, text: &str) {
        let handled = {
            let mut state = self.shared.state();
            let handled = state.session.handle_frame(text);
            if let Ok(events) = &handled {
                state.answer(events);
            }
            handled
        };
        match handled {
            Ok(events) => {
                for event in events {
                    self.shared.emit(InboxSdkEvent::Inbox(event));
                }
            }
            Err(e) => self.shared.emit(InboxSdkEvent::InvalidFrame { reason: e.to_string() }),
        }
    }

    async fn closing(&self, socket: &mut Socket) -> Stop {
        let reason = "the client shut down";
        close(socket, CloseCode::Normal, reason).await;
        Stop { ended: Ended::Shutdown, code: Some(1000), reason: reason.to_owned() }
    }
}
