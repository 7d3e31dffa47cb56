//! The conversation Durable Object: one per conversation, holding its documents.
//!
//! It drives `edgedesk_core::relay::Relay` with the WebSocket Hibernation API: sockets outlive
//! the object's memory, each carrying its peer identity in its attachment, and the relay is
//! rebuilt from SQLite on the first event after a wake-up or an error. Frames produced by the
//! relay are sent only after `storage.sync()` confirms that what they acknowledge is on disk.
//! Storage is encrypted at rest ([`conversation_store`]): opening it needs the master key its
//! data key is wrapped with, and an erased conversation never opens again.
//!
//! Requests come only from the front Worker (`routes`), through the `CONVERSATION` binding,
//! with the identity it verified in the `x-edgedesk-forwarded` header (`request::Forwarded`):
//! the object has no public route, so it trusts that header and reads no token itself.

use std::cell::RefCell;

use edgedesk_core::auth::claims::expired;
use edgedesk_core::ids::ParticipantId;
use edgedesk_core::relay::penalty::{reason as penalty_reason, Admission, PenaltyBox};
use edgedesk_core::relay::{close_reason, notice_frame, Outgoing, PeerId, PeerInfo, Relay};
use edgedesk_core::rollover::{self, CLOSE_EPOCH_MOVED};
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use crate::conversation_store::{self, DocStore};
use crate::do_sql::DoSql;
use crate::http;
use crate::open_error::{OpenError, CLOSE_ERASED};
use crate::outbox::Outbox;
use crate::request::{Forwarded, Refusal, FORWARDED_HEADER};
use edgedesk_core::inbox::feed::{FeedState, InboxFeed};
mod archive;
mod assign;
pub(crate) mod attachments;
mod commit;
mod inbox_push;
mod workflow_shell;

use crate::workflow_store::WorkflowStore;
use edgedesk_core::at_rest::ChunkCipher;
use edgedesk_core::workflow::profile::VisitorProfile;
use edgedesk_core::workflow::timers::Timer;

/// What a socket remembers across hibernation (well under the 2 KiB attachment limit).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Attachment {
    peer: PeerId,
    #[serde(flatten)]
    info: PeerInfo,
    /// The token's expiry (seconds): the socket is closed at its first frame after it.
    #[serde(default)]
    expires_at: Option<i64>,
    /// The relay closed this socket; it lingers until the client acknowledges the close and
    /// no longer counts against the conversation's socket limit.
    #[serde(default)]
    closing: bool,
    /// The epoch of the device's replica (PROTOCOL.md §16.2): a frame on a socket of an epoch
    /// that was sealed since is refused, never applied to the new live document.
    #[serde(default)]
    epoch: u64,
}

#[durable_object]
pub struct Conversation {
    state: State,
    env: Env,
    live: RefCell<Option<Live>>,
    /// The alarm time this object last set (None after a wake-up or once the alarm ran), so
    /// an unchanged alarm is not set again after every message.
    armed: std::cell::Cell<Option<i64>>,
    /// A push to the inbox is in flight; another change asks it to go on.
    pushing: std::cell::Cell<bool>,
    push_again: std::cell::Cell<bool>,
    /// Participants whose writes were refused wait before their next socket.
    penalties: RefCell<PenaltyBox>,
}

/// A conversation open in memory: the relay and what its workflow keeps beside it.
pub(crate) struct Live {
    relay: Relay<DocStore>,
    cipher: ChunkCipher,
    workflow: WorkflowStore,
    outbox: Outbox,
    /// The timers last written to the table, so an unchanged set is not rewritten.
    timers: Vec<Timer>,
    /// What the workspace's inbox is owed ([`edgedesk_core::inbox::feed`]).
    feed: InboxFeed<DoSql>,
    /// What the last recorded summary was computed from, so an unchanged state is not
    /// summarised again.
    feed_basis: Option<inbox_push::FeedBasis>,
    /// Accepted messages wait in the feed for the inbox.
    feed_backlog: bool,
    /// The last summary recorded for the inbox, and the version it acknowledged.
    feed_state: Option<FeedState>,
    /// The visitor's claims as last stored (the inbox lists the name, VIP flag and channel).
    visitor: VisitorProfile,
}

impl Conversation {
    /// Runs `f` on the relay, opening it from storage first if needed. `name` is the
    /// conversation's name when a request names it. The borrow ends before the caller awaits
    /// anything.
    fn with_relay<T>(
        &self,
        name: Option<&str>,
        f: impl FnOnce(&mut Relay<DocStore>) -> T,
    ) -> Result<T, OpenError> {
        self.with_live(name, |live| f(&mut live.relay))
    }

    /// [`Self::with_relay`] with the workflow's storage too.
    pub(crate) fn with_live<T>(
        &self,
        name: Option<&str>,
        f: impl FnOnce(&mut Live) -> T,
    ) -> Result<T, OpenError> {
        let busy = || OpenError::Storage("relay busy".to_owned());
        let mut slot = self.live.try_borrow_mut().map_err(|_| busy())?;
        if slot.is_none() {
            let keys = self.env.secret(edgedesk_core::at_rest::MASTER_KEYS_VAR).ok();
            let keys = keys.map(|k| k.to_string());
            let sql = self.state.storage().sql();
            let opened = conversation_store::open(&sql, keys.as_deref(), name)?;
            let limits = crate::config::limits(&self.env)?;
            let relay = Relay::open_with(opened.shared, opened.internal, limits)
                .map_err(|e| OpenError::Storage(e.to_string()))?;
            let workflow = WorkflowStore::new(sql.clone())?;
            let outbox =
                Outbox::new(DoSql(sql.clone())).map_err(|e| OpenError::Storage(e.to_string()))?;
            let feed = InboxFeed::new(DoSql(sql)).map_err(|e| OpenError::Storage(e.to_string()))?;
            let cipher = opened.cipher;
            let feed_state = feed.state(&cipher).unwrap_or_else(|e| {
                worker::console_error!("inbox feed unreadable, starting over: {e}");
                None
            });
            let mut live = Live {
                relay,
                cipher,
                workflow,
                outbox,
                timers: Vec::new(),
                feed,
                feed_state,
                feed_basis: None,
                // Whatever a previous life left queued is found by the first push.
                feed_backlog: true,
                visitor: VisitorProfile::default(),
            };
            workflow_shell::restore(&mut live);
            *slot = Some(live);
        }
        slot.as_mut().map(f).ok_or_else(busy)
    }

    /// Drops the in-memory relay so the next event rebuilds it from what is persisted.
    pub(crate) fn reload(&self) {
        if let Ok(mut slot) = self.live.try_borrow_mut() {
            *slot = None;
        }
    }

    /// Every open socket with its attachment; sockets without a readable one are closed.
    pub(crate) fn sockets(&self) -> Vec<(WebSocket, Attachment)> {
        self.state
            .get_websockets()
            .into_iter()
            .filter_map(|ws| match ws.deserialize_attachment::<Attachment>() {
                Ok(Some(a)) => Some((ws, a)),
                _ => {
                    let _ = ws.close(Some(1011), Some("lost connection state; reconnect"));
                    None
                }
            })
            .collect()
    }

    /// Sends `out` to its peers among `sockets` (read once by the caller, which needed them
    /// anyway) once storage confirms what the frames may acknowledge.
    pub(crate) async fn deliver(&self, out: Vec<Outgoing>, sockets: &[(WebSocket, Attachment)]) {
        if out.is_empty() {
            return;
        }
        // What we are about to send may acknowledge changes: make sure they are on disk.
        if let Err(e) = self.state.storage().sync().await {
            worker::console_error!("storage sync failed: {e}");
            self.reload();
            // The peers' sync sessions assumed frames that will never arrive: close them so
            // they reconnect and resync from what is really stored.
            for o in &out {
                if let Some((ws, _)) = sockets.iter().find(|(_, a)| a.peer == o.to) {
                    Self::refuse(ws, 1011, "storage unavailable; reconnect");
                }
            }
            return;
        }
        for o in out {
            if let Some((ws, _)) = sockets.iter().find(|(_, a)| a.peer == o.to) {
                for f in &o.frames {
                    if ws.send_with_bytes(f).is_err() {
                        break;
                    }
                }
            }
        }
    }

    /// Ends the relay's sync session with a closed socket (if the relay is in memory).
    fn forget(&self, ws: &WebSocket) {
        if let Ok(Some(a)) = ws.deserialize_attachment::<Attachment>() {
            if let Ok(mut slot) = self.live.try_borrow_mut() {
                if let Some(live) = slot.as_mut() {
                    live.relay.disconnect(a.peer);
                }
            }
        }
    }

    fn refuse(ws: &WebSocket, code: u16, message: &str) {
        Self::refuse_with(ws, notice_frame("error", code, message), code, message);
    }

    fn refuse_with(ws: &WebSocket, notice: Vec<u8>, code: u16, message: &str) {
        if let Ok(Some(mut a)) = ws.deserialize_attachment::<Attachment>() {
            a.closing = true;
            let _ = ws.serialize_attachment(a);
        }
        let _ = ws.send_with_bytes(notice);
        let _ = ws.close(Some(code), Some(close_reason(message)));
    }

    async fn accept_peer(&self, forwarded: Forwarded) -> Result<Response, Refusal> {
        let name = forwarded.object_name();
        let Some(peer_info) = forwarded.peer else {
            return Err(Refusal::new(
                400,
                "bad_forward",
                "requests reach a conversation through the Worker only",
            ));
        };
        let (info, expires_at) = (peer_info.info.clone(), peer_info.expires_at);
        let epoch = peer_info.epoch;
        // Before the conversation is opened: the wait after a refused write exists to spare
        // the reload from storage that opening would cost.
        let asked_at = worker::Date::now().as_millis() as i64;
        let admission = self.penalties.borrow_mut().admit(&info.participant, asked_at);
        match admission {
            Admission::Open => {}
            Admission::Refuse { wait_ms } => return self.closed_at_once(&penalty_reason(wait_ms)),
            Admission::Hold { ms } => {
                let held = Held { penalties: &self.penalties, who: &info.participant };
                worker::Delay::from(std::time::Duration::from_millis(ms.max(0) as u64)).await;
                drop(held);
                let now = worker::Date::now().as_millis() as i64;
                if let Some(wait) = self.penalties.borrow().wait_ms(&info.participant, now) {
                    return self.closed_at_once(&penalty_reason(wait));
                }
            }
        }
        // Opened before the upgrade, so an erased or locked conversation is an HTTP answer.
        let (max_sockets, moved) = opened(self.with_relay(Some(&name), |r| {
            (r.limits().max_sockets_per_conversation, r.check_epoch(epoch).err())
        }))?;
        if let Some((notice, reason)) = moved {
            return self.closed_with(notice, CLOSE_EPOCH_MOVED, &reason);
        }
        let open = self
            .state
            .get_websockets()
            .iter()
            .filter(
                |ws| matches!(ws.deserialize_attachment::<Attachment>(), Ok(Some(a)) if !a.closing),
            )
            .count();
        // Before the socket exists, so no frame of it can wait behind this fetch.
        self.refresh_config(&name).await;
        if open >= max_sockets {
            return self.closed_at_once(&format!(
                "conversation has {open} sockets, the limit is {max_sockets}; try again later"
            ));
        }
        let peer = random_peer_id();
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(Attachment {
            peer,
            info: info.clone(),
            expires_at: Some(expires_at),
            closing: false,
            epoch,
        })?;
        let now = worker::Date::now().as_millis() as i64;
        let profile = peer_info.profile;
        let connected = self.with_live(Some(&name), |live| {
            let mut out = live.relay.connect(peer, info);
            if let Some(profile) = profile {
                out.merge(workflow_shell::visitor_joined(live, profile, now));
            }
            commit::commit(live, out, now)
        });
        match connected {
            Ok((out, next)) => {
                self.deliver(out, &self.sockets()).await;
                self.arm(next).await;
                self.push_inbox().await;
            }
            Err(e) => {
                log_open_error(&e);
                let (code, message) = e.close();
                Self::refuse(&pair.server, code, &message);
            }
        }
        Ok(Response::from_websocket(pair.client)?)
    }

    /// A socket accepted and closed at once with 1013 (try again later): answered on the
    /// socket, not over HTTP, so clients see a close code and back off as after any close.
    fn closed_at_once(&self, reason: &str) -> Result<Response, Refusal> {
        self.closed_with(notice_frame("error", 1013, reason), 1013, reason)
    }

    /// A socket accepted and closed at once after `notice`.
    fn closed_with(&self, notice: Vec<u8>, code: u16, reason: &str) -> Result<Response, Refusal> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        Self::refuse_with(&pair.server, notice, code, reason);
        Ok(Response::from_websocket(pair.client)?)
    }

    /// Closes every socket after a rollover: their replicas are of the sealed epoch.
    fn close_sealed_epoch(sockets: &[(WebSocket, Attachment)], live_epoch: u64) {
        for (ws, a) in sockets {
            let (notice, reason) =
                (rollover::notice(live_epoch, a.epoch), rollover::reason(live_epoch, a.epoch));
            Self::refuse_with(ws, notice, CLOSE_EPOCH_MOVED, &reason);
        }
    }

    fn stats(&self, name: &str) -> Result<Response, Refusal> {
        let stats = opened(self.with_live(Some(name), |live| {
            let mut stats = serde_json::to_value(live.relay.stats()).unwrap_or_default();
            stats["workflow"] = workflow_shell::stats(live);
            stats["wasm_memory_bytes"] = wasm_memory_bytes().into();
            stats
        }))?;
        Ok(http::json(&stats))
    }

    /// Crypto-shreds the conversation, then closes every socket with [`CLOSE_ERASED`].
    async fn erase(&self, name: &str) -> Result<Response, Refusal> {
        let now = worker::Date::now().as_millis() as i64;
        let at = opened(conversation_store::erase(&self.state.storage().sql(), name, now))?;
        self.reload();
        // Answer only once the tombstone is on disk.
        if let Err(e) = self.state.storage().sync().await {
            worker::console_error!("storage sync failed after erase: {e}");
            return Err(Refusal::new(
                503,
                "unavailable",
                "the erasure is not confirmed on disk; retry (erasing again is harmless)",
            ));
        }
        for ws in self.state.get_websockets() {
            Self::refuse(&ws, CLOSE_ERASED, "conversation erased");
        }
        // The attachments' key is gone with the data key; their objects go too.
        if let Err(e) = attachments::delete_all(&self.env, name).await {
            worker::console_error!(
                "erased conversation's attachments not yet deleted: {}",
                e.message
            );
            return Err(Refusal::new(
                503,
                "unavailable",
                "the conversation is erased, but its attachments are not all deleted; retry \
                 (erasing again is harmless)",
            ));
        }
        // The inbox holds the summary and a search index of the messages: they go too, or
        // the erasure is not done. Erasing again retries this part.
        if let Err(e) = inbox_push::forget(&self.env, name).await {
            worker::console_error!("erased conversation not yet dropped by the inbox: {e}");
            return Err(Refusal::new(
                503,
                "unavailable",
                "the conversation is erased, but the inbox still lists it; retry (erasing again \
                 is harmless)",
            ));
        }
        Ok(http::json(&serde_json::json!({ "erased": true, "at": at })))
    }
}

impl Conversation {
    async fn route(&self, mut req: Request) -> Result<Response, Refusal> {
        let url = req.url()?;
        let forwarded = Forwarded::from_header(req.headers().get(FORWARDED_HEADER)?.as_deref())?;
        let name = forwarded.object_name();
        if let Some(id) = url.path().trim_start_matches('/').strip_prefix("attachments/") {
            let id = id.to_owned();
            edgedesk_core::attachment::check_id(&id)
                .map_err(|e| Refusal::new(400, e.code(), e.to_string()))?;
            if req.method() == worker::Method::Put {
                let header = |h: &str| req.headers().get(h).ok().flatten().unwrap_or_default();
                let uploader = header(attachments::UPLOADER_HEADER);
                let content_type = header(attachments::CONTENT_TYPE_HEADER);
                let body = req.bytes().await?;
                return self.put_attachment(&name, &id, &uploader, &content_type, body).await;
            }
            return self.get_attachment(&name, &id).await;
        }
        match url.path().trim_start_matches('/') {
            "connect" => self.accept_peer(forwarded).await,
            "stats" => self.stats(&name),
            "erase" => self.erase(&name).await,
            "history" => self.history(&name, &url),
            "legal-hold" => self.legal_hold(&name, &url).await,
            "assign" => self.assign(&name, req).await,
            _ => Err(Refusal::new(404, "not_found", "unknown conversation action")),
        }
    }
}

/// Storage that did not open, as the refusal a request gets (logged: see
/// [`log_open_error`]).
pub(crate) fn opened<T>(result: Result<T, OpenError>) -> Result<T, Refusal> {
    result.map_err(|e| {
        log_open_error(&e);
        e.refusal()
    })
}

/// Logs why storage did not open (an erased conversation is not a failure). The texts name
/// key ids, row numbers and SQLite errors, never keys or contents.
pub(crate) fn log_open_error(e: &OpenError) {
    if !e.is_erased() {
        worker::console_error!("cannot open conversation storage: {e}");
    }
}

impl DurableObject for Conversation {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            live: RefCell::new(None),
            armed: std::cell::Cell::new(None),
            pushing: std::cell::Cell::new(false),
            push_again: std::cell::Cell::new(false),
            penalties: RefCell::new(PenaltyBox::default()),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        Ok(http::answer(self.route(req).await))
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let data = match message {
            WebSocketIncomingMessage::Binary(b) => b,
            WebSocketIncomingMessage::String(_) => {
                Self::refuse(
                    &ws,
                    1003,
                    "text frames are not supported; send binary frames (PROTOCOL.md)",
                );
                return Ok(());
            }
        };
        let Ok(Some(me)) = ws.deserialize_attachment::<Attachment>() else {
            Self::refuse(&ws, 1011, "lost connection state; reconnect");
            return Ok(());
        };
        if me.closing {
            // Refused or moved, its close already sent: what it still sends is dropped
            // unread, and costs no decoding (a forger may keep writing until it sees the close).
            return Ok(());
        }
        let now = worker::Date::now().as_millis() as i64;
        if me.expires_at.is_some_and(|exp| expired(exp, now / 1000)) {
            self.forget(&ws);
            Self::refuse(&ws, 1008, "token expired; reconnect with a fresh token");
            return Ok(());
        }
        let others = self.sockets();
        let result = self.with_live(None, |live| {
            let live_epoch = live.relay.epoch();
            if me.epoch != live_epoch {
                return Err(Refused::Moved(live_epoch));
            }
            // After hibernation the relay has forgotten the sockets: re-register them (only
            // those of the live epoch: the others are being closed).
            for (_, a) in others.iter().filter(|(_, a)| a.epoch == live_epoch && !a.closing) {
                live.relay.ensure_peer(a.peer, a.info.clone());
            }
            match live.relay.receive(me.peer, &data, now) {
                // The workflow's timers and webhooks commit with the change they follow.
                Ok(out) => {
                    let rolled = out.sealed.as_ref().map(|s| s.carry.epoch);
                    let (frames, next) = commit::commit(live, out, now);
                    Ok((frames, next, rolled))
                }
                Err(e) => Err(Refused::Error(
                    e.close_code(),
                    e.to_string(),
                    e.must_reload(),
                    e.is_violation(),
                )),
            }
        });
        match result {
            Ok(Ok((out, next, rolled))) => {
                self.deliver(out, &others).await;
                if let Some(live_epoch) = rolled {
                    // The answers above belong to the sealed epoch; every device moves on.
                    Self::close_sealed_epoch(&self.sockets(), live_epoch);
                }
                self.arm(next).await;
                self.push_inbox().await;
            }
            Ok(Err(Refused::Moved(live_epoch))) => {
                self.forget(&ws);
                let (notice, reason) = (
                    rollover::notice(live_epoch, me.epoch),
                    rollover::reason(live_epoch, me.epoch),
                );
                Self::refuse_with(&ws, notice, CLOSE_EPOCH_MOVED, &reason);
            }
            Ok(Err(Refused::Error(code, text, reload, violation))) => {
                // Log the kind of failure only: never payloads.
                worker::console_log!("closing peer: code {code}");
                if violation {
                    self.penalties.borrow_mut().strike(&me.info.participant, now);
                }
                if reload {
                    self.reload();
                } else {
                    self.forget(&ws);
                }
                Self::refuse(&ws, code, &text);
            }
            Err(e) => {
                log_open_error(&e);
                let (code, message) = e.close();
                Self::refuse(&ws, code, &message);
            }
        }
        Ok(())
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.run_alarm().await;
        Response::ok("")
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        self.forget(&ws);
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        self.forget(&ws);
        Ok(())
    }
}

/// Why a frame was not applied.
enum Refused {
    /// The socket's replica is of an epoch sealed since it connected.
    Moved(u64),
    /// The relay refused it: close code, text, whether to reload, whether a write rule broke.
    Error(u16, String, bool, bool),
}

/// A socket request held while its participant waits (§8.6); released however the hold ends,
/// also when the request is dropped unanswered.
struct Held<'a> {
    penalties: &'a RefCell<PenaltyBox>,
    who: &'a ParticipantId,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.penalties.try_borrow_mut() {
            b.released(self.who);
        }
    }
}

/// A connection id unique within the object: random, so ids never repeat across wake-ups.
/// 53 bits, because the attachment is stored as a JavaScript value and JS numbers hold
/// integers exactly only up to 2^53.
fn random_peer_id() -> PeerId {
    const JS_SAFE: u64 = (1 << 53) - 1;
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: fall back to the clock, still unique enough within one object.
        return worker::Date::now().as_millis() & JS_SAFE;
    }
    u64::from_le_bytes(b) & JS_SAFE
}

/// The isolate's wasm linear memory now (it only grows): what a soak watches for leaks, and
/// what must stay under the isolate's 128 MB.
fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size::<0>() as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}
