//! `ChatClient`: one device's replica of one conversation in the browser.
//!
//! Core's session decides everything (what to sync, what a frame means); this shell supplies
//! the WebSocket ([`Link`]), IndexedDB ([`Idb`], through a [`JournalStore`]) and the JS API.
//! A write's promise resolves once its batch has committed to IndexedDB, so a message the
//! page was told is sent survives the tab closing; the relay gets it on this connection or,
//! through the sync protocol, on a later one: exactly once, whatever happens in between.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use edgedesk_core::client::{ClientSession, Event, Identity};
use edgedesk_core::ids::{ConversationId, DeviceId, MessageId, ParticipantId, WorkspaceId};
use edgedesk_core::internal_doc::CaseField;
use edgedesk_core::message::Role;
use edgedesk_core::relay::sees_internal;
use edgedesk_core::workflow::csat::Rating;
use edgedesk_core::workflow::status::{State, Status};
use futures_channel::oneshot;
use js_sys::{Function, Promise};
use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::idb::Idb;
use super::js::{error, from_js, now_ms, to_js};
use super::link::{Link, SocketEvent};
use super::listeners::Listeners;
use super::pending_upload::Pending;
use super::replica_names;
use crate::chat_view;
use crate::connect_url;
use crate::journal_store::JournalStore;

const EVENTS: &[&str] = &[
    "change",
    "message",
    "note",
    "typing",
    "connection",
    "authRefused",
    "notice",
    "error",
    "uploadFailed",
    "moved",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenOptions {
    base_url: String,
    workspace: String,
    conversation: String,
    token: String,
    identity: IdentityOptions,
    #[serde(default)]
    online: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityOptions {
    role: String,
    participant: String,
    name: String,
    device: String,
}

/// A promise's waiter for the writes up to these sequence numbers to be durable.
struct Waiter {
    shared: u64,
    internal: u64,
    done: oneshot::Sender<Result<(), String>>,
}

pub(super) struct ChatState {
    pub(super) session: ClientSession<JournalStore>,
    flushing: bool,
    waiters: Vec<Waiter>,
}

pub(super) struct Chat {
    pub(super) state: RefCell<ChatState>,
    pub(super) link: Rc<RefCell<Link>>,
    pub(super) listeners: Rc<Listeners>,
    pub(super) idb: Idb,
    /// IndexedDB names of the shared replica of epoch 0 and of the internal replica; the
    /// name the pending uploads are kept under.
    pub(super) replicas: [String; 2],
    /// The IndexedDB name of the shared replica of the current epoch ([`super::epoch`]).
    pub(super) shared_replica: RefCell<String>,
    /// The current replica's epoch (PROTOCOL.md §16).
    pub(super) epoch: Cell<u64>,
    /// A move to a new epoch is running: writes wait for it.
    pub(super) moving: Cell<bool>,
    pub(super) move_waiters: RefCell<Vec<oneshot::Sender<()>>>,
    /// The connect URL without `epoch`.
    connect_base: String,
    /// Where uploads and links go: the relay, the workspace, the conversation.
    pub(super) base_url: String,
    pub(super) workspace: String,
    pub(super) conversation: String,
    /// The upload outbox, oldest first ([`super::uploads`]).
    pub(super) uploads: RefCell<Vec<Pending>>,
    pub(super) draining: Cell<bool>,
    /// Links to attachments and when they expire (s).
    pub(super) links: RefCell<HashMap<String, (String, i64)>>,
}

#[wasm_bindgen]
pub struct ChatClient {
    chat: Rc<Chat>,
}

fn id<T>(
    parse: impl Fn(&str) -> Result<T, edgedesk_core::ids::IdError>,
    what: &str,
    v: &str,
) -> Result<T, JsValue> {
    parse(v).map_err(|e| error(format!("{what} {v:?}: {e}")))
}

#[wasm_bindgen]
impl ChatClient {
    /// Opens the replica from IndexedDB and starts connecting (see edgedesk.d.ts).
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatClient>")]
    pub fn open(#[wasm_bindgen(unchecked_param_type = "ChatOptions")] options: JsValue) -> Promise {
        future_to_promise(async move {
            let o: OpenOptions = from_js(options, "ChatClient.open options")?;
            let role = Role::parse(&o.identity.role)
                .filter(|r| *r != Role::Server)
                .ok_or_else(|| error("identity.role must be visitor, agent or admin"))?;
            let workspace = id(|s| WorkspaceId::new(s), "workspace", &o.workspace)?;
            let conversation = id(|s| ConversationId::new(s), "conversation", &o.conversation)?;
            let me = Identity {
                role,
                participant: id(
                    |s| ParticipantId::new(s),
                    "identity.participant",
                    &o.identity.participant,
                )?,
                // The relay accepts only the token's name (PROTOCOL.md §8.6).
                name: crate::author_name::author_name(&o.token, o.identity.name),
                device: id(|s| DeviceId::new(s), "identity.device", &o.identity.device)?,
            };
            let url =
                connect_url(&o.base_url, &workspace, &conversation, &me.device).map_err(error)?;
            let base = format!("{}|{workspace}|{conversation}|{}", o.base_url, me.participant);
            let replicas = [format!("{base}|shared"), format!("{base}|internal")];
            let idb = Idb::open().await?;
            let pointer = idb.load(&replica_names::pointer_name(&replicas[0])).await?;
            let epoch = replica_names::epoch_of(&pointer);
            let shared_replica = replica_names::replica_name(&replicas[0], epoch);
            let shared = JournalStore::new(idb.load(&shared_replica).await?);
            let session = if sees_internal(role) {
                let internal = JournalStore::new(idb.load(&replicas[1]).await?);
                ClientSession::open_with_internal(shared, internal, me)
            } else {
                ClientSession::open(shared, me)
            }
            .map_err(|e| error(format!("the local replica is unreadable: {e}")))?;
            let mut uploads: Vec<Pending> =
                idb.uploads(&replicas[0]).await?.iter().filter_map(Pending::from_record).collect();
            uploads.sort_by(|a, b| a.at.total_cmp(&b.at));
            let chat = Rc::new_cyclic(|weak: &std::rc::Weak<Chat>| Chat {
                state: RefCell::new(ChatState { session, flushing: false, waiters: Vec::new() }),
                link: Link::owned_by(
                    weak,
                    format!("{url}&epoch={epoch}"),
                    o.token,
                    Chat::on_socket,
                ),
                listeners: Listeners::new(EVENTS),
                idb,
                replicas,
                shared_replica: RefCell::new(shared_replica),
                epoch: Cell::new(epoch),
                moving: Cell::new(false),
                move_waiters: RefCell::new(Vec::new()),
                connect_base: url.clone(),
                base_url: o.base_url.trim_end_matches('/').to_owned(),
                workspace: workspace.to_string(),
                conversation: conversation.to_string(),
                uploads: RefCell::new(uploads),
                draining: Cell::new(false),
                links: RefCell::new(HashMap::new()),
            });
            Link::start(&chat.link, o.online.unwrap_or(true));
            Ok(ChatClient { chat }.into())
        })
    }

    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, ty: &str, listener: Function) -> Result<Function, JsValue> {
        self.chat.listeners.on(ty, listener)
    }

    #[wasm_bindgen(unchecked_return_type = "ChatMessage[]")]
    pub fn messages(&self) -> JsValue {
        to_js(&chat_view::messages(&self.chat.state.borrow().session))
    }

    #[wasm_bindgen(unchecked_return_type = "ConversationStatus")]
    pub fn status(&self) -> JsValue {
        to_js(&chat_view::status(&self.chat.state.borrow().session))
    }

    #[wasm_bindgen(unchecked_return_type = "Rating | null")]
    pub fn rating(&self) -> JsValue {
        to_js(&chat_view::rating(&self.chat.state.borrow().session))
    }

    #[wasm_bindgen(unchecked_return_type = "CasePanel | null")]
    pub fn internal(&self) -> JsValue {
        let st = self.chat.state.borrow();
        to_js(&chat_view::internal(
            st.session.internal(),
            st.session.identity().participant.as_str(),
        ))
    }

    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn pending(&self) -> JsValue {
        let ids: Vec<String> =
            self.chat.state.borrow().session.pending().iter().map(|m| m.to_string()).collect();
        to_js(&ids)
    }

    #[wasm_bindgen(js_name = connectionState, unchecked_return_type = "ConnectionState")]
    pub fn connection_state(&self) -> String {
        self.chat.link.borrow().state().to_owned()
    }

    /// Whether the relay holds, on its disk, everything this device holds (its heads or its
    /// acks say so, PROTOCOL.md §6.2), and this device everything the relay sent.
    /// The epoch of the local replica (PROTOCOL.md §16).
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> f64 {
        self.chat.epoch.get() as f64
    }

    /// A page of the sealed history before `before` (see edgedesk.d.ts).
    #[wasm_bindgen(unchecked_return_type = "Promise<HistoryPage>")]
    pub fn history(&self, before: Option<String>, limit: Option<u32>) -> Promise {
        let chat = self.chat.clone();
        future_to_promise(async move { chat.history(before, limit.unwrap_or(100) as usize).await })
    }

    #[wasm_bindgen(js_name = inSync)]
    pub fn in_sync(&self) -> bool {
        self.chat.state.borrow().session.in_sync()
    }

    #[wasm_bindgen(js_name = sendText, unchecked_return_type = "Promise<ChatMessage>")]
    pub fn send_text(&self, body: String) -> Promise {
        self.write(move |s| {
            let m = s.send_text(&body, now_ms()).map_err(|e| e.to_string())?;
            Ok(to_js(&chat_view::message(m, s.identity().participant.as_str())))
        })
    }

    #[wasm_bindgen(js_name = markRead, unchecked_return_type = "Promise<boolean>")]
    pub fn mark_read(&self, message: Option<String>) -> Promise {
        self.write(move |s| {
            let target = match message {
                Some(m) => MessageId::new(&m).map_err(|e| format!("message id {m:?}: {e}"))?,
                None => match s.doc().messages().pop() {
                    Some(last) => last.id,
                    None => return Ok(JsValue::FALSE),
                },
            };
            let moved = s.mark_read(&target, now_ms()).map_err(|e| e.to_string())?;
            Ok(JsValue::from_bool(moved))
        })
    }

    #[wasm_bindgen(js_name = setStatus, unchecked_return_type = "Promise<void>")]
    pub fn set_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "StatusState")] state: String,
        snoozed_until: Option<f64>,
    ) -> Promise {
        self.write(move |s| {
            let state = State::parse(&state).ok_or_else(|| {
                format!("status {state:?} is not one of open, pending, snoozed, resolved")
            })?;
            let snoozed_until = snoozed_until.map(|t| t as i64);
            if state == State::Snoozed && snoozed_until.is_none() {
                return Err("a snoozed status needs snoozedUntil (ms since the epoch)".into());
            }
            s.set_status(Status { state, snoozed_until }, now_ms()).map_err(|e| e.to_string())?;
            Ok(JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn rate(&self, score: f64, comment: Option<String>) -> Promise {
        self.write(move |s| {
            let rating =
                Rating::new(score as i64, comment.as_deref()).map_err(|e| e.to_string())?;
            s.rate(&rating, now_ms()).map_err(|e| e.to_string())?;
            Ok(JsValue::UNDEFINED)
        })
    }

    #[wasm_bindgen(js_name = addTag, unchecked_return_type = "Promise<boolean>")]
    pub fn add_tag(&self, tag: String) -> Promise {
        self.write(move |s| Ok(s.add_tag(&tag, now_ms()).map_err(|e| e.to_string())?.into()))
    }

    #[wasm_bindgen(js_name = removeTag, unchecked_return_type = "Promise<boolean>")]
    pub fn remove_tag(&self, tag: String) -> Promise {
        self.write(move |s| Ok(s.remove_tag(&tag, now_ms()).map_err(|e| e.to_string())?.into()))
    }

    #[wasm_bindgen(js_name = setAssignee, unchecked_return_type = "Promise<void>")]
    pub fn set_assignee(&self, agent: Option<String>) -> Promise {
        self.set_case(CaseField::Assignee, agent)
    }

    #[wasm_bindgen(js_name = setPriority, unchecked_return_type = "Promise<void>")]
    pub fn set_priority(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Priority | null")] priority: Option<String>,
    ) -> Promise {
        self.set_case(CaseField::Priority, priority)
    }

    #[wasm_bindgen(js_name = addNote, unchecked_return_type = "Promise<ChatMessage>")]
    pub fn add_note(&self, body: String) -> Promise {
        self.write(move |s| {
            let n = s.add_note(&body, now_ms()).map_err(|e| e.to_string())?;
            Ok(to_js(&chat_view::message(n, s.identity().participant.as_str())))
        })
    }

    /// Tells the others this device is (or stopped) typing; dropped while not connected.
    #[wasm_bindgen(js_name = setTyping)]
    pub fn set_typing(&self, typing: bool) {
        let frames =
            self.chat.state.borrow().session.ephemeral_frames(&json!({ "typing": typing }));
        self.chat.link.borrow().send_binary(&frames);
    }

    #[wasm_bindgen(js_name = setOnline)]
    pub fn set_online(&self, online: bool) {
        Link::set_online(&self.chat.link, online);
        Link::report(&self.chat.link, &self.chat.listeners, None, None);
    }

    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: String) {
        Link::set_token(&self.chat.link, token);
        self.drain_later();
    }

    /// Takes a file into the upload outbox (IndexedDB) and resolves once it is saved there;
    /// it becomes a message once uploaded (see `PendingUpload`).
    #[wasm_bindgen(js_name = sendAttachment, unchecked_return_type = "Promise<PendingUpload>")]
    pub fn send_attachment(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Blob")] file: JsValue,
        #[wasm_bindgen(unchecked_param_type = "{ name?: string; caption?: string } | undefined")]
        options: JsValue,
    ) -> Promise {
        let chat = self.chat.clone();
        future_to_promise(async move {
            let text = |v: &JsValue, k: &str| {
                js_sys::Reflect::get(v, &k.into()).ok().and_then(|x| x.as_string())
            };
            let name = text(&options, "name").or_else(|| text(&file, "name")).unwrap_or_default();
            let name = if name.is_empty() { "file".to_owned() } else { name };
            let caption = text(&options, "caption").unwrap_or_default();
            let blob: web_sys::Blob =
                file.dyn_into().map_err(|_| error("sendAttachment takes a Blob or a File"))?;
            let pending = Pending::new(blob, name, caption)?;
            chat.idb.put_upload(&pending.id, &pending.to_record(&chat.replicas[0])?).await?;
            let shown = pending.to_js();
            chat.uploads.borrow_mut().push(pending);
            chat.listeners.emit("change", &JsValue::UNDEFINED);
            let drainer = chat.clone();
            wasm_bindgen_futures::spawn_local(async move { drainer.drain_uploads().await });
            Ok(shown)
        })
    }

    /// Files in the outbox, oldest first.
    #[wasm_bindgen(js_name = pendingUploads, unchecked_return_type = "PendingUpload[]")]
    pub fn pending_uploads(&self) -> JsValue {
        self.chat.uploads.borrow().iter().map(Pending::to_js).collect::<js_sys::Array>().into()
    }

    /// A link to attachment `id` for an `<img src>` or a download (valid for minutes).
    #[wasm_bindgen(js_name = attachmentUrl, unchecked_return_type = "Promise<string>")]
    pub fn attachment_url(&self, id: String) -> Promise {
        let chat = self.chat.clone();
        future_to_promise(async move { Ok(chat.attachment_url(&id).await?.into()) })
    }

    fn drain_later(&self) {
        let chat = self.chat.clone();
        wasm_bindgen_futures::spawn_local(async move { chat.drain_uploads().await });
    }

    /// Closes the socket and stops reconnecting; resolves once every write is in IndexedDB.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        let chat = self.chat.clone();
        Link::close(&chat.link);
        future_to_promise(async move {
            chat.durable().await.map_err(error)?;
            chat.listeners.clear();
            Ok(JsValue::UNDEFINED)
        })
    }
}

impl ChatClient {
    /// Runs a local write, sends what it produced, and resolves once it is durable.
    fn write(
        &self,
        f: impl FnOnce(&mut ClientSession<JournalStore>) -> Result<JsValue, String> + 'static,
    ) -> Promise {
        let chat = self.chat.clone();
        future_to_promise(async move {
            // Nothing is written into a replica being left (super::epoch).
            while chat.moving.get() {
                let (tx, rx) = oneshot::channel();
                chat.move_waiters.borrow_mut().push(tx);
                let _ = rx.await;
            }
            let (out, frames) = {
                let mut st = chat.state.borrow_mut();
                let out = f(&mut st.session).map_err(error)?;
                (out, st.session.poll_frames())
            };
            chat.link.borrow().send_binary(&frames);
            chat.listeners.emit("change", &JsValue::UNDEFINED);
            chat.durable().await.map_err(error)?;
            Ok(out)
        })
    }

    fn set_case(&self, field: CaseField, value: Option<String>) -> Promise {
        self.write(move |s| {
            s.set_case(field, value.as_deref(), now_ms()).map_err(|e| e.to_string())?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

impl Chat {
    /// The connect URL for a replica of `epoch`.
    pub(super) fn connect_url(&self, epoch: u64) -> String {
        format!("{}&epoch={epoch}", self.connect_base)
    }

    fn on_socket(self: &Rc<Self>, event: SocketEvent) {
        match event {
            SocketEvent::Open => {
                let frames = self.state.borrow_mut().session.connected();
                self.link.borrow().send_binary(&frames);
                Link::report(&self.link, &self.listeners, None, None);
                // Back online: files picked meanwhile go now.
                let chat = self.clone();
                wasm_bindgen_futures::spawn_local(async move { chat.drain_uploads().await });
            }
            SocketEvent::Binary(data) => self.on_frame(&data),
            SocketEvent::Text(_) => {}
            SocketEvent::Closed { code, reason, .. } => {
                self.state.borrow_mut().session.disconnected();
                if code == edgedesk_core::rollover::CLOSE_EPOCH_MOVED && !self.moving.get() {
                    let chat = self.clone();
                    wasm_bindgen_futures::spawn_local(async move { chat.move_over().await });
                }
                if code == 1008 && reason.starts_with("token expired") {
                    let refused =
                        json!({"status": 401, "code": "token_expired", "message": reason});
                    self.listeners.emit("authRefused", &to_js(&refused));
                }
                Link::report(&self.link, &self.listeners, Some(code), Some(reason));
            }
        }
    }

    fn on_frame(self: &Rc<Self>, data: &[u8]) {
        let handled = {
            let mut st = self.state.borrow_mut();
            let me = st.session.identity().participant.to_string();
            st.session.handle_frame(data).map(|events| (events, st.session.poll_frames(), me))
        };
        let (events, frames, me) = match handled {
            Ok(ok) => ok,
            Err(e) => {
                // The link's sync state can no longer be trusted; a fresh connection resyncs.
                let reason = format!("client could not apply a frame: {e}");
                self.listeners.emit("error", &to_js(&json!({ "message": reason })));
                Link::reset(&self.link, 4002, &reason);
                return;
            }
        };
        self.link.borrow().send_binary(&frames);
        self.schedule_flush();
        for event in events {
            match event {
                Event::Message(m) => {
                    self.listeners.emit("message", &to_js(&chat_view::message(m, &me)));
                }
                Event::Note(n) => self.listeners.emit("note", &to_js(&chat_view::message(n, &me))),
                Event::Ephemeral(v) => {
                    if let Some(t) = chat_view::typing(&v) {
                        self.listeners.emit("typing", &to_js(&t));
                    }
                }
                Event::Notice(n) => self.listeners.emit("notice", &to_js(&n)),
                Event::Delivered { .. }
                | Event::Read { .. }
                | Event::CaseChanged
                | Event::Audit(_) => {}
            }
        }
        self.listeners.emit("change", &JsValue::UNDEFINED);
    }

    /// Resolves once every write made so far is committed to IndexedDB.
    pub(super) async fn durable(self: &Rc<Self>) -> Result<(), String> {
        let rx = {
            let mut st = self.state.borrow_mut();
            let (shared, internal) = st.session.stores_mut();
            let want = (shared.written(), internal.as_ref().map_or(0, |i| i.written()));
            let have = (shared.durable(), internal.as_ref().map_or(0, |i| i.durable()));
            if have.0 >= want.0 && have.1 >= want.1 {
                return Ok(());
            }
            let (done, rx) = oneshot::channel();
            st.waiters.push(Waiter { shared: want.0, internal: want.1, done });
            rx
        };
        self.schedule_flush();
        rx.await.unwrap_or_else(|_| Err("the client was dropped before the write was saved".into()))
    }

    fn schedule_flush(self: &Rc<Self>) {
        {
            let mut st = self.state.borrow_mut();
            if st.flushing {
                return;
            }
            st.flushing = true;
        }
        let chat = self.clone();
        wasm_bindgen_futures::spawn_local(async move { chat.flush_all().await });
    }

    /// Writes batches until none is left; a failed batch fails the waiters it covered (their
    /// writes stay queued and go with the next batch).
    async fn flush_all(self: &Rc<Self>) {
        loop {
            let (shared, internal) = {
                let mut st = self.state.borrow_mut();
                let (s, i) = st.session.stores_mut();
                (s.take_flush(), i.and_then(|i| i.take_flush()))
            };
            if shared.is_none() && internal.is_none() {
                self.state.borrow_mut().flushing = false;
                return;
            }
            let shared_name = self.shared_replica.borrow().clone();
            let mut batch: Vec<(&str, &crate::journal_store::Flush)> = Vec::new();
            if let Some(f) = &shared {
                batch.push((&shared_name, f));
            }
            if let Some(f) = &internal {
                batch.push((&self.replicas[1], f));
            }
            let outcome = self.idb.commit(&batch).await;
            let mut st = self.state.borrow_mut();
            let (s, i) = st.session.stores_mut();
            match outcome {
                Ok(mut keys) => {
                    if let Some(f) = &internal {
                        if let (Some(i), Some(k)) = (i, keys.pop()) {
                            i.committed(f, k);
                        }
                    }
                    if let (Some(f), Some(k)) = (&shared, keys.pop()) {
                        s.committed(f, k);
                    }
                    let have = (s.durable(), st.session.stores_mut().1.map_or(0, |i| i.durable()));
                    let (ready, waiting): (Vec<Waiter>, Vec<Waiter>) =
                        std::mem::take(&mut st.waiters)
                            .into_iter()
                            .partition(|w| w.shared <= have.0 && w.internal <= have.1);
                    st.waiters = waiting;
                    drop(st);
                    for w in ready {
                        let _ = w.done.send(Ok(()));
                    }
                }
                Err(e) => {
                    if let Some(f) = shared {
                        s.failed(f);
                    }
                    if let (Some(f), Some(i)) = (internal, i) {
                        i.failed(f);
                    }
                    st.flushing = false;
                    let message = format!(
                        "this device could not save to IndexedDB ({}); the change is kept in memory and retried with the next write",
                        super::js::describe(&e)
                    );
                    let failed = std::mem::take(&mut st.waiters);
                    drop(st);
                    for w in failed {
                        let _ = w.done.send(Err(message.clone()));
                    }
                    self.listeners.emit("error", &to_js(&json!({ "message": message })));
                    return;
                }
            }
        }
    }
}
