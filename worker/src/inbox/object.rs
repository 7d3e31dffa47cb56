//! The Inbox Durable Object: one per workspace (named by its id), the agents' message center.
//!
//! Conversation objects push their summaries here ([`crate::conversation`]'s `inbox_push`); agents list,
//! count, search, claim and transfer over HTTP or over their devices' sockets (WebSocket
//! Hibernation API: a socket's attachment holds its agent, device and presence). New
//! conversations are routed as they arrive ([`crate::inbox::routing`]). Everything that
//! decides lives in `edgedesk_core::inbox`; this object moves rows and frames.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use edgedesk_core::at_rest::{BlindIndex, ValueCipher, MASTER_KEYS_VAR};
use edgedesk_core::auth::claims::expired;
use edgedesk_core::ids::{DeviceId, ParticipantId};
use edgedesk_core::inbox::coalesce::{Coalescer, Offer};
use edgedesk_core::inbox::presence::{presence_of, Presence};
use edgedesk_core::inbox::protocol::{ClientFrame, ServerFrame};
use edgedesk_core::inbox::summary::Summary;
use edgedesk_core::message::Role;
use edgedesk_core::workflow::config::WorkspaceConfig;
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use crate::fan_out::send_text_to_all;
use crate::http;

use super::commands::Command;
use crate::inbox::request::ForwardedAgent;
use crate::inbox::search::InboxSearch;
use crate::inbox::store::InboxStore;
use crate::key_store::owner_key;
use crate::request::{Forwarded, Refusal, FORWARDED_HEADER};
use crate::workspace::store::StoreError;

/// How long a fetched workspace configuration is used before asking again (a 304 when
/// unchanged): routing follows an admin's change within this time.
const CONFIG_TTL_MS: i64 = 2_000;

/// What an agent's socket remembers across hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Seat {
    pub workspace: edgedesk_core::ids::WorkspaceId,
    pub agent: ParticipantId,
    pub role: Role,
    pub device: DeviceId,
    pub presence: Presence,
    pub expires_at: i64,
}

impl Seat {
    pub fn who(&self) -> ForwardedAgent {
        ForwardedAgent {
            workspace: self.workspace.clone(),
            agent: self.agent.clone(),
            role: self.role,
            device: Some(self.device.clone()),
            expires_at: self.expires_at,
        }
    }
}

/// The inbox open in memory.
pub(crate) struct Open {
    pub(super) store: InboxStore,
    pub(super) search: crate::inbox::search::InboxSearch,
}

#[durable_object]
pub struct Inbox {
    pub(super) state: State,
    pub(super) env: Env,
    open: RefCell<Option<Open>>,
    /// Conversations with an assignment order in flight, and the agent picked: routing
    /// skips them and counts them in the agent's load until the conversation answers.
    pub(super) in_flight: RefCell<HashMap<String, String>>,
    /// The workspace configuration, its version, and when it was fetched.
    config: RefCell<Option<(u64, Arc<WorkspaceConfig>, i64)>>,
    /// The visitor name (and creation time) last indexed per conversation since this object
    /// started: a push that carries the same is not indexed again (three FTS5 statements per
    /// push). Empty after a restart: the first push indexes.
    indexed_names: RefCell<HashMap<String, (Option<String>, i64)>>,
    /// The `shredded_through` whose search entries were last forgotten per conversation since
    /// this object started: every later summary carries the same value, and its delete is
    /// not run again on each push. Empty after a restart: the first push deletes (a no-op).
    forgotten_through: RefCell<HashMap<String, i64>>,
    /// Summaries on their way to the agents, at most one frame per window
    /// (`edgedesk_core::inbox::coalesce`).
    coalescer: RefCell<Coalescer>,
    /// A bound variable that does not parse: every push is refused naming it (a typo never
    /// silently falls back to the default).
    window_error: Option<String>,
}

impl Inbox {
    /// Runs `f` on the open inbox, opening it (and its data key) first if needed.
    pub(crate) fn with_open<T>(
        &self,
        workspace: &str,
        f: impl FnOnce(&Open) -> T,
    ) -> Result<T, Refusal> {
        let mut slot = self.open.try_borrow_mut().map_err(|_| busy())?;
        if slot.is_none() {
            *slot = Some(self.open_storage(workspace).map_err(|e| {
                worker::console_error!("cannot open the inbox: {e}");
                Refusal::new(503, "unavailable", format!("the inbox cannot open its storage: {e}"))
            })?);
        }
        slot.as_ref().map(f).ok_or_else(busy)
    }

    fn open_storage(&self, workspace: &str) -> Result<Open, String> {
        let sql = self.state.storage().sql();
        let owner = format!("{workspace}/inbox");
        let master = self.env.secret(MASTER_KEYS_VAR).ok().map(|s| s.to_string());
        let opened =
            owner_key::<StoreError>(&sql, master.as_deref(), &owner).map_err(|e| e.to_string())?;
        let cipher = ValueCipher::new(&opened.key, &owner);
        let blind = BlindIndex::new(&opened.key, &owner);
        let store = InboxStore::new(sql.clone(), cipher, blind).map_err(|e| e.to_string())?;
        let search = InboxSearch::open(sql, &opened.key, &owner).map_err(|e| e.to_string())?;
        Ok(Open { store, search })
    }

    /// The workspace's configuration (default: no routing) — fetched at most every
    /// [`CONFIG_TTL_MS`]; on failure the last one is kept.
    pub(crate) async fn config(&self, workspace: &str) -> Arc<WorkspaceConfig> {
        let now = worker::Date::now().as_millis() as i64;
        let cached = self.config.borrow().clone();
        if let Some((_, c, at)) = &cached {
            if now - at < CONFIG_TTL_MS {
                return c.clone();
            }
        }
        let known = cached.as_ref().map(|(v, _, _)| *v);
        match crate::workspace::client::fetch_config(&self.env, workspace, known).await {
            Ok(Some((version, config))) => {
                let config = Arc::new(config);
                *self.config.borrow_mut() = Some((version, config.clone(), now));
                config
            }
            Ok(None) => {
                let config = cached.map(|(_, c, _)| c).unwrap_or_default();
                if let Some(entry) = self.config.borrow_mut().as_mut() {
                    entry.2 = now;
                }
                config
            }
            Err(e) => {
                worker::console_error!("inbox: workspace configuration not refreshed: {e}");
                cached.map(|(_, c, _)| c).unwrap_or_default()
            }
        }
    }

    /// Every open socket with its seat.
    pub(crate) fn seats(&self) -> Vec<(WebSocket, Seat)> {
        seated(self.state.get_websockets())
    }

    /// The sockets of one agent's devices (tagged with its id when accepted).
    fn seats_of(&self, agent: &ParticipantId) -> Vec<(WebSocket, Seat)> {
        seated(self.state.get_websockets_with_tag(agent.as_str()))
    }
    /// Each agent's presence: the best of its devices'.
    pub(crate) fn presence(&self) -> HashMap<ParticipantId, Presence> {
        let mut by_agent: HashMap<ParticipantId, Vec<Presence>> = HashMap::new();
        for (_, s) in self.seats() {
            by_agent.entry(s.agent).or_default().push(s.presence);
        }
        by_agent.into_iter().map(|(a, p)| (a, presence_of(p.into_iter()))).collect()
    }

    pub(crate) fn presence_of(&self, agent: &ParticipantId) -> Presence {
        presence_of(self.seats_of(agent).into_iter().map(|(_, s)| s.presence))
    }

    /// Sends `frame` to every agent device. Every socket is seated before the handler that
    /// accepted it yields, so none is read back here: deserializing each socket's seat on
    /// every push was the larger part of the fan-out's cost (BENCHMARKS.md, capacity).
    pub(crate) fn broadcast(&self, frame: &ServerFrame) {
        send_text_to_all(&self.state.get_websockets(), &frame.to_text());
    }

    /// Sends `frame` to every device of `agent`.
    pub(crate) fn to_agent(&self, agent: &ParticipantId, frame: &ServerFrame) {
        let sockets = self.state.get_websockets_with_tag(agent.as_str());
        send_text_to_all(&sockets, &frame.to_text());
    }

    /// Stores a summary (if newer) and tells every agent device about it, at once or with
    /// the coalescing window's frame: then it returns the wait after which the caller calls
    /// [`Inbox::flush_summaries`] (after its other work, so none of it waits).
    pub(crate) fn apply_summary(
        &self,
        workspace: &str,
        s: &Summary,
    ) -> Result<Option<i64>, Refusal> {
        if let Some(e) = &self.window_error {
            return Err(Refusal::new(503, "misconfigured", format!("relay configuration: {e}")));
        }
        let shredded = s
            .shredded_through
            .filter(|at| self.forgotten_through.borrow().get(&s.conversation) != Some(at));
        let stored = self.with_open(workspace, |o| {
            let stored = o.store.upsert(s)?;
            // Retention shredded sealed messages: their search entries go with them, in the
            // same stretch as the summary that says so.
            if let (true, Some(at)) = (stored, shredded) {
                o.search
                    .forget_messages_through(&s.conversation, at)
                    .map_err(|e| crate::sql_store::SqlStoreError(e.to_string()))?;
            }
            Ok::<bool, crate::sql_store::SqlStoreError>(stored)
        })?;
        if let (Ok(true), Some(at)) = (&stored, shredded) {
            self.forgotten_through.borrow_mut().insert(s.conversation.clone(), at);
        }
        match stored {
            Ok(true) => {
                let offer = self.coalescer.borrow_mut().offer(s.clone(), now_ms());
                match offer {
                    Offer::SendNow(frames) => frames.iter().for_each(|f| self.broadcast(f)),
                    Offer::FlushAfter { ms } => return Ok(Some(ms)),
                    Offer::Queued => {}
                }
                Ok(None)
            }
            Ok(false) => Ok(None),
            Err(e) => {
                worker::console_error!("inbox: summary not stored: {e}");
                Err(Refusal::new(503, "unavailable", "the inbox could not store the summary"))
            }
        }
    }

    /// Sends the coalescing window's frame once `wait` (from [`Inbox::apply_summary`]) is
    /// over; nothing without one.
    pub(crate) async fn flush_summaries(&self, wait: Option<i64>) {
        let Some(ms) = wait else { return };
        worker::Delay::from(std::time::Duration::from_millis(ms.max(0) as u64)).await;
        let frames = self.coalescer.borrow_mut().flush(now_ms());
        for frame in &frames {
            self.broadcast(frame);
        }
    }

    async fn accept_agent(&self, who: ForwardedAgent) -> Result<Response, Refusal> {
        let Some(device) = who.device.clone() else {
            return Err(Refusal::new(400, "bad_device", "query parameter `device` is required"));
        };
        self.with_open(who.workspace.as_str(), |_| ())?;
        let before = self.presence_of(&who.agent);
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[who.agent.as_str()]);
        let seat = Seat {
            workspace: who.workspace.clone(),
            agent: who.agent.clone(),
            role: who.role,
            device: device.clone(),
            presence: Presence::Online,
            expires_at: who.expires_at,
        };
        pair.server.serialize_attachment(&seat)?;
        let presence = self.presence().into_iter().collect();
        let hello = ServerFrame::Hello { agent: who.agent.clone(), device, presence };
        let _ = pair.server.send_with_str(hello.to_text());
        let response = Response::from_websocket(pair.client);
        self.presence_changed(&seat, before).await;
        if before == Presence::Online {
            // Already online on another device: this one still gets what is waiting.
            self.send_backlog(&seat, Some(&pair.server));
        }
        Ok(response?)
    }

    /// After a seat's presence changed: tells everyone, and when its agent just came
    /// online, assigns its teams' queues and pushes its backlog to all its devices.
    pub(crate) async fn presence_changed(&self, seat: &Seat, before: Presence) {
        let now_state = self.presence_of(&seat.agent);
        if now_state == before {
            return;
        }
        self.broadcast(&ServerFrame::Presence { agent: seat.agent.clone(), state: now_state });
        let now = worker::Date::now().as_millis() as i64;
        if before == Presence::Online {
            let _ = self.with_open(seat.workspace.as_str(), |o| {
                o.store.set_last_seen(seat.agent.as_str(), now)
            });
        }
        if now_state == Presence::Online {
            self.route_queues(seat.workspace.as_str(), &seat.agent).await;
            self.send_backlog(seat, None);
        }
    }

    /// The agent's assigned conversations with unread messages, and those that arrived
    /// since it was last online (it went offline at `last_seen`; never online: all), to one
    /// socket or to all of its devices.
    fn send_backlog(&self, seat: &Seat, only: Option<&WebSocket>) {
        let rows = self.with_open(seat.workspace.as_str(), |o| {
            let since = o.store.last_seen(seat.agent.as_str()).ok().flatten().unwrap_or(0);
            o.store.backlog(seat.agent.as_str(), since)
        });
        let conversations = match rows {
            Ok(Ok(c)) => c,
            _ => return,
        };
        let frame = ServerFrame::Backlog { conversations };
        match only {
            Some(ws) => {
                let _ = ws.send_with_str(frame.to_text());
            }
            None => self.to_agent(&seat.agent, &frame),
        }
    }

    async fn push(&self, forwarded: Forwarded, mut req: Request) -> Result<Response, Refusal> {
        let bytes = req.bytes().await?;
        let push: edgedesk_core::inbox::push::Push = serde_json::from_slice(&bytes)
            .map_err(|e| Refusal::new(400, "bad_push", e.to_string()))?;
        if push.summary.conversation != forwarded.conversation.as_str() {
            return Err(Refusal::new(400, "bad_push", "summary of another conversation"));
        }
        let workspace = forwarded.workspace.as_str();
        let flush = self.apply_summary(workspace, &push.summary)?;
        let answer = self.index_and_route(workspace, &push).await;
        self.flush_summaries(flush).await;
        answer
    }

    /// A push's messages into search, and routing if the conversation waits for an agent.
    async fn index_and_route(
        &self,
        workspace: &str,
        push: &edgedesk_core::inbox::push::Push,
    ) -> Result<Response, Refusal> {
        let name = (push.summary.visitor_name.clone(), push.summary.created_at);
        let name_known = self.indexed_names.borrow().get(&push.summary.conversation) == Some(&name);
        let indexed = self.with_open(workspace, |o| {
            let s = &push.summary;
            if !name_known {
                o.search.index_visitor_name(
                    &s.conversation,
                    s.visitor_name.as_deref(),
                    s.created_at,
                )?;
            }
            for m in &push.messages {
                o.search.index_message(&s.conversation, &m.id, m.at, &m.text)?;
            }
            Ok::<(), crate::inbox::search::SearchStoreError>(())
        });
        match indexed {
            Ok(Ok(())) => {
                self.indexed_names.borrow_mut().insert(push.summary.conversation.clone(), name);
            }
            Ok(Err(e)) => {
                worker::console_error!("inbox: messages not indexed: {e}");
                return Err(e.refusal());
            }
            Err(r) => return Err(r),
        }
        let version = self
            .with_open(workspace, |o| o.store.version(&push.summary.conversation))
            .ok()
            .and_then(Result::ok)
            .unwrap_or(push.summary.version);
        let through = push.messages.iter().map(|m| m.seq).max().unwrap_or(0);
        let text: Vec<&str> = push
            .messages
            .iter()
            .filter(|m| m.role == Role::Visitor)
            .map(|m| m.text.as_str())
            .collect();
        self.route(workspace, &push.summary, &text.join("\n")).await;
        Ok(http::json(&serde_json::json!(edgedesk_core::inbox::push::PushAck { version, through })))
    }

    /// `POST forget` from an erased conversation: its summary, tags and search entries go,
    /// and every agent screen drops it. Idempotent, so the conversation may simply retry.
    fn forget(&self, forwarded: &Forwarded) -> Response {
        let conversation = forwarded.conversation.as_str();
        let sql = self.state.storage().sql();
        let erased = InboxStore::erase(&sql, conversation)
            .map_err(|e| e.to_string())
            .and_then(|()| InboxSearch::forget(&sql, conversation).map_err(|e| e.to_string()));
        match erased {
            Ok(()) => {
                if let Some(open) = self.open.try_borrow().ok().as_deref().and_then(Option::as_ref)
                {
                    open.store.forget_version(conversation);
                }
                self.in_flight.borrow_mut().remove(conversation);
                self.indexed_names.borrow_mut().remove(conversation);
                self.forgotten_through.borrow_mut().remove(conversation);
                self.coalescer.borrow_mut().forget(conversation);
                self.broadcast(&ServerFrame::Removed { conversation: conversation.to_owned() });
                http::json(&serde_json::json!({ "forgotten": true }))
            }
            Err(e) => {
                worker::console_error!("inbox: erased conversation not forgotten: {e}");
                http::refusal(&Refusal::new(
                    503,
                    "unavailable",
                    "the inbox could not forget it; retry",
                ))
            }
        }
    }

    async fn http_command(
        &self,
        who: ForwardedAgent,
        path: &str,
        mut req: Request,
    ) -> Result<Response, Refusal> {
        let url = req.url()?;
        let pairs: Vec<(String, String)> =
            url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let body =
            if req.method() == worker::Method::Post { req.bytes().await? } else { Vec::new() };
        let command = Command::from_http(path, &pairs, &body)?;
        Ok(http::json(&self.run(&who, command).await?))
    }
}

/// Sockets with their seats; a socket with an unreadable seat is closed (one being accepted
/// has none yet, and is skipped).
fn seated(sockets: Vec<WebSocket>) -> Vec<(WebSocket, Seat)> {
    sockets
        .into_iter()
        .filter_map(|ws| match ws.deserialize_attachment::<Seat>() {
            Ok(Some(s)) => Some((ws, s)),
            Ok(None) => None,
            Err(_) => {
                let _ = ws.close(Some(1011), Some("lost connection state; reconnect"));
                None
            }
        })
        .collect()
}

fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

fn busy() -> Refusal {
    Refusal::new(503, "unavailable", "the inbox is busy; retry")
}

impl Inbox {
    async fn handle(&self, req: Request) -> Result<Response, Refusal> {
        let url = req.url()?;
        let path = url.path().trim_start_matches('/').to_owned();
        let header = req.headers().get(FORWARDED_HEADER)?;
        // From conversation objects only: the front Worker forwards agents' actions, never
        // these paths.
        if path == "push" || path == "forget" {
            let f = Forwarded::from_header(header.as_deref())?;
            return if path == "push" { self.push(f, req).await } else { Ok(self.forget(&f)) };
        }
        // From the front Worker, for the visitor widget's header: whether any agent is there
        // to answer (a yes or no, no names).
        if path == super::request::AGENTS_ONLINE_PATH {
            let online = self.presence().values().any(|p| *p == Presence::Online);
            return Ok(crate::http::json(&serde_json::json!({ "online": online })));
        }
        // From the workspace object, when an admin disables an account.
        if path == crate::workspace::accounts::DISCONNECT_PATH {
            return self.disconnect(req).await;
        }
        let who = ForwardedAgent::from_header(header.as_deref())?;
        if path == "connect" {
            return self.accept_agent(who).await;
        }
        self.http_command(who, &path, req).await
    }
}

impl Inbox {
    /// Closes every inbox socket of the agent named in the body (`{"agent": id}`) with 4403:
    /// the account was disabled. The console signs out on that code.
    async fn disconnect(&self, mut req: Request) -> Result<Response, Refusal> {
        let body: serde_json::Value = serde_json::from_slice(&req.bytes().await?)
            .map_err(|_| Refusal::new(400, "invalid_request", "expected {\"agent\": id}"))?;
        let agent = ParticipantId::new(body["agent"].as_str().unwrap_or_default())
            .map_err(|e| Refusal::new(400, "bad_participant_id", e.to_string()))?;
        let seats = self.seats_of(&agent);
        for (ws, _) in &seats {
            refuse(ws, 4403, "account_disabled", "this account was disabled; sign in again");
        }
        for (ws, _) in &seats {
            self.seat_gone(ws).await;
        }
        Ok(crate::http::json(&serde_json::json!({ "closed": seats.len() })))
    }
}

impl DurableObject for Inbox {
    fn new(state: State, env: Env) -> Self {
        let (window, window_error) = match crate::config::limits(&env) {
            Ok(l) => (l.inbox_window_ms, None),
            Err(e) => (edgedesk_core::inbox::coalesce::WINDOW_MS, Some(e)),
        };
        Self {
            state,
            env,
            open: RefCell::new(None),
            in_flight: RefCell::new(HashMap::new()),
            config: RefCell::new(None),
            indexed_names: RefCell::new(HashMap::new()),
            forgotten_through: RefCell::new(HashMap::new()),
            coalescer: RefCell::new(Coalescer::new(window)),
            window_error: window_error.map(|e| e.to_string()),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        Ok(http::answer(self.handle(req).await))
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let Ok(Some(seat)) = ws.deserialize_attachment::<Seat>() else {
            let _ = ws.close(Some(1011), Some("lost connection state; reconnect"));
            return Ok(());
        };
        let text = match message {
            WebSocketIncomingMessage::String(t) => t,
            WebSocketIncomingMessage::Binary(_) => {
                refuse(
                    &ws,
                    1003,
                    "bad_frame",
                    "the inbox socket speaks JSON text frames (PROTOCOL.md §15)",
                );
                return Ok(());
            }
        };
        let now = worker::Date::now().as_millis() as i64;
        if expired(seat.expires_at, now / 1000) {
            refuse(&ws, 1008, "token_expired", "token expired; reconnect with a fresh token");
            return Ok(());
        }
        let frame = match ClientFrame::parse(&text) {
            Ok(f) => f,
            Err(e) => {
                refuse(&ws, 1008, "bad_frame", &e.to_string());
                return Ok(());
            }
        };
        match frame {
            ClientFrame::Presence { state } => {
                let before = self.presence_of(&seat.agent);
                let changed = Seat { presence: state, ..seat.clone() };
                ws.serialize_attachment(&changed)?;
                self.presence_changed(&changed, before).await;
            }
            other => {
                let Some(id) = other.request_id().cloned() else { return Ok(()) };
                let answer = match Command::from_frame(other) {
                    Ok(c) => self.run(&seat.who(), c).await,
                    Err(r) => Err(r),
                };
                let frame = match answer {
                    Ok(data) => ServerFrame::ok(id, data),
                    Err(r) => ServerFrame::failed(id, r.code, r.message),
                };
                let _ = ws.send_with_str(frame.to_text());
            }
        }
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _clean: bool,
    ) -> worker::Result<()> {
        self.seat_gone(&ws).await;
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        self.seat_gone(&ws).await;
        Ok(())
    }
}

impl Inbox {
    /// A device left: its seat counts as offline from now on.
    async fn seat_gone(&self, ws: &WebSocket) {
        let Ok(Some(seat)) = ws.deserialize_attachment::<Seat>() else { return };
        let before = self.presence_of(&seat.agent);
        let gone = Seat { presence: Presence::Offline, ..seat };
        let _ = ws.serialize_attachment(&gone);
        self.presence_changed(&gone, before).await;
    }
}

fn refuse(ws: &WebSocket, close: u16, code: &str, message: &str) {
    let frame = ServerFrame::Error { code: code.to_owned(), message: message.to_owned() };
    let _ = ws.send_with_str(frame.to_text());
    let reason: String = message.chars().take(100).collect();
    let _ = ws.close(Some(close), Some(reason));
}
