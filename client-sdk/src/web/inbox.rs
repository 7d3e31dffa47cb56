//! `InboxClient`: an agent device's live inbox in the browser, core's [`InboxSession`] over a
//! [`Link`]. Requests made before the socket opens wait for it; each has 10 s in all, like
//! the native client's, after which its promise rejects and a late answer is ignored.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId, TeamId, WorkspaceId};
use edgedesk_core::inbox::presence::Presence;
use edgedesk_core::inbox::protocol::{RequestError, RequestId, Target};
use edgedesk_core::inbox::session::{InboxEvent, InboxSession, Request};
use edgedesk_core::inbox::summary::Summary;
use futures_channel::oneshot;
use js_sys::{Function, Promise};
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::js::{error, from_js, sleep, to_js};
use super::link::{Link, SocketEvent};
use super::listeners::Listeners;
use crate::inbox_url;

const EVENTS: &[&str] =
    &["change", "summary", "removed", "presence", "backlog", "connection", "error"];
/// How long a request may take, waiting for the connection included.
const REQUEST_TIMEOUT_MS: i32 = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenOptions {
    base_url: String,
    workspace: String,
    token: String,
    device: String,
}

type Answer = oneshot::Sender<Result<Value, RequestError>>;

struct InboxState {
    session: InboxSession,
    /// Requests sent, by id.
    sent: HashMap<RequestId, Answer>,
    /// Requests made before the socket opened, sent when it does.
    queued: Vec<(Request, Answer)>,
}

struct Inbox {
    state: RefCell<InboxState>,
    link: Rc<RefCell<Link>>,
    listeners: Rc<Listeners>,
}

#[wasm_bindgen]
pub struct InboxClient {
    inbox: Rc<Inbox>,
}

#[wasm_bindgen]
impl InboxClient {
    #[wasm_bindgen(unchecked_return_type = "Promise<InboxClient>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "InboxOptions")] options: JsValue,
    ) -> Promise {
        future_to_promise(async move {
            let o: OpenOptions = from_js(options, "InboxClient.open options")?;
            let workspace = WorkspaceId::new(o.workspace.as_str())
                .map_err(|e| error(format!("workspace {:?}: {e}", o.workspace)))?;
            let device = DeviceId::new(o.device.as_str())
                .map_err(|e| error(format!("device {:?}: {e}", o.device)))?;
            let url = inbox_url(&o.base_url, &workspace, &device).map_err(error)?;
            let inbox = Rc::new_cyclic(|weak: &std::rc::Weak<Inbox>| Inbox {
                state: RefCell::new(InboxState {
                    session: InboxSession::new(),
                    sent: HashMap::new(),
                    queued: Vec::new(),
                }),
                link: Link::owned_by(weak, url, o.token, Inbox::on_socket),
                listeners: Listeners::new(EVENTS),
            });
            Link::start(&inbox.link, true);
            Ok(InboxClient { inbox }.into())
        })
    }

    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, ty: &str, listener: Function) -> Result<Function, JsValue> {
        self.inbox.listeners.on(ty, listener)
    }

    /// One page of the list: `{items, nextCursor}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<InboxPage>")]
    pub fn query(
        &self,
        #[wasm_bindgen(unchecked_param_type = "InboxQuery")] query: JsValue,
    ) -> Promise {
        let inbox = self.inbox.clone();
        future_to_promise(async move {
            let mut q: Value = if query.is_undefined() || query.is_null() {
                json!({})
            } else {
                from_js(query, "query")?
            };
            // The protocol's list query takes comma lists; JS callers pass arrays too.
            if let Some(obj) = q.as_object_mut() {
                for v in obj.values_mut() {
                    if let Some(list) = v.as_array() {
                        let joined: Vec<String> =
                            list.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect();
                        *v = Value::String(joined.join(","));
                    }
                }
            }
            let page = inbox.request(Request::Query(q), "the list query").await?;
            Ok(to_js(&json!({ "items": page["items"], "nextCursor": page["next_cursor"] })))
        })
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<Record<string, unknown>>")]
    pub fn counts(&self) -> Promise {
        let inbox = self.inbox.clone();
        future_to_promise(
            async move { Ok(to_js(&inbox.request(Request::Counts, "counts").await?)) },
        )
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<{ hits: SearchHit[] }>")]
    pub fn search(&self, q: String, limit: Option<u32>) -> Promise {
        let inbox = self.inbox.clone();
        future_to_promise(async move {
            Ok(to_js(&inbox.request(Request::Search { q, limit }, "the search").await?))
        })
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<Summary>")]
    pub fn claim(&self, conversation: String) -> Promise {
        let inbox = self.inbox.clone();
        future_to_promise(async move {
            let c = ConversationId::new(conversation.as_str())
                .map_err(|e| error(format!("conversation {conversation:?}: {e}")))?;
            Ok(to_js(&inbox.request(Request::Claim(c), "the claim").await?))
        })
    }

    /// Transfers to `{agent}` or `{team}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Summary>")]
    pub fn transfer(
        &self,
        conversation: String,
        #[wasm_bindgen(unchecked_param_type = "{ agent: string } | { team: string }")] to: JsValue,
    ) -> Promise {
        let inbox = self.inbox.clone();
        future_to_promise(async move {
            let c = ConversationId::new(conversation.as_str())
                .map_err(|e| error(format!("conversation {conversation:?}: {e}")))?;
            let to: Value = from_js(to, "transfer target")?;
            let target = match (to["agent"].as_str(), to["team"].as_str()) {
                (Some(a), None) => Target::Agent(ParticipantId::new(a).map_err(error)?),
                (None, Some(t)) => Target::Team(TeamId::new(t).map_err(error)?),
                _ => return Err(error("transfer to {agent: id} or {team: id}, exactly one")),
            };
            let request = Request::Transfer { conversation: c, to: target };
            Ok(to_js(&inbox.request(request, "the transfer").await?))
        })
    }

    /// Every conversation this device knows, most recently active first.
    #[wasm_bindgen(unchecked_return_type = "Summary[]")]
    pub fn summaries(&self) -> JsValue {
        let st = self.inbox.state.borrow();
        let mut all: Vec<&Summary> = st.session.summaries().values().collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.last_message_at));
        to_js(&all)
    }

    /// The unread badge of this device's agent.
    #[wasm_bindgen(js_name = unreadTotal)]
    pub fn unread_total(&self) -> f64 {
        let st = self.inbox.state.borrow();
        st.session.agent().map_or(0.0, |a| st.session.unread_total(a) as f64)
    }

    #[wasm_bindgen(js_name = setPresence)]
    pub fn set_presence(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"online\" | \"away\"")] state: &str,
    ) -> Result<(), JsValue> {
        let presence = match state {
            "online" => Presence::Online,
            "away" => Presence::Away,
            _ => return Err(error("presence is online or away; close the client to go offline")),
        };
        let frame = self.inbox.state.borrow_mut().session.set_presence(presence).map_err(error)?;
        if let Some(frame) = frame {
            self.inbox.link.borrow().send_text(&frame);
        }
        Ok(())
    }

    #[wasm_bindgen(js_name = connectionState, unchecked_return_type = "ConnectionState")]
    pub fn connection_state(&self) -> String {
        self.inbox.link.borrow().state().to_owned()
    }

    /// A fresh token (say, after a refresh): used from the next connection, and a pending
    /// retry happens now. The open socket keeps going until its old token expires.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: String) {
        Link::set_token(&self.inbox.link, token);
    }

    pub fn close(&self) {
        Link::close(&self.inbox.link);
        self.inbox.listeners.clear();
    }
}

impl Inbox {
    async fn request(self: &Rc<Self>, request: Request, what: &str) -> Result<Value, JsValue> {
        let (tx, rx) = oneshot::channel();
        if self.state.borrow().session.is_connected() {
            self.send(request, tx);
        } else {
            self.state.borrow_mut().queued.push((request, tx));
        }
        let timeout = sleep(REQUEST_TIMEOUT_MS);
        futures_util::pin_mut!(timeout);
        match futures_util::future::select(rx, timeout).await {
            futures_util::future::Either::Left((Ok(Ok(v)), _)) => Ok(v),
            futures_util::future::Either::Left((Ok(Err(e)), _)) => {
                Err(error(format!("the inbox refused {what} ({}): {}", e.code, e.message)))
            }
            futures_util::future::Either::Left((Err(_), _)) => {
                Err(error(format!("the inbox client closed before {what} was answered")))
            }
            futures_util::future::Either::Right(_) => Err(error(format!(
                "no answer to {what} within {} s (is the relay reachable?)",
                REQUEST_TIMEOUT_MS / 1000
            ))),
        }
    }

    fn send(&self, request: Request, answer: Answer) {
        let made = self.state.borrow_mut().session.request(request);
        match made {
            Ok((id, frame)) => {
                self.state.borrow_mut().sent.insert(id, answer);
                self.link.borrow().send_text(&frame);
            }
            Err(e) => {
                let _ = answer.send(Err(RequestError::new("not_connected", e.to_string())));
            }
        }
    }

    fn on_socket(self: &Rc<Self>, event: SocketEvent) {
        match event {
            SocketEvent::Open => {
                let connected = self.state.borrow_mut().session.connected();
                for frame in &connected.send {
                    self.link.borrow().send_text(frame);
                }
                self.handle(connected.events);
                let queued = std::mem::take(&mut self.state.borrow_mut().queued);
                for (request, answer) in queued {
                    self.send(request, answer);
                }
                Link::report(&self.link, &self.listeners, None, None);
            }
            SocketEvent::Text(text) => {
                let handled = self.state.borrow_mut().session.handle_frame(&text);
                match handled {
                    Ok(events) => self.handle(events),
                    Err(e) => {
                        self.listeners.emit("error", &to_js(&json!({"message": e.to_string()})))
                    }
                }
            }
            SocketEvent::Binary(_) => {}
            SocketEvent::Closed { code, reason, .. } => {
                let events = self.state.borrow_mut().session.disconnected();
                self.handle(events);
                Link::report(&self.link, &self.listeners, Some(code), Some(reason));
            }
        }
    }

    fn handle(&self, events: Vec<InboxEvent>) {
        if events.is_empty() {
            return;
        }
        for event in events {
            match event {
                InboxEvent::Result { id, outcome } => {
                    let answer = self.state.borrow_mut().sent.remove(&id);
                    if let Some(answer) = answer {
                        let _ = answer.send(outcome);
                    }
                }
                InboxEvent::Summary(s) => self.listeners.emit("summary", &to_js(&s)),
                InboxEvent::Removed { conversation } => {
                    self.listeners.emit("removed", &JsValue::from_str(&conversation));
                }
                InboxEvent::Presence { agent, state } => {
                    let p = json!({ "agent": agent.as_str(), "state": state });
                    self.listeners.emit("presence", &to_js(&p));
                }
                InboxEvent::Backlog(list) => self.listeners.emit("backlog", &to_js(&list)),
                InboxEvent::Hello { .. } => {}
                InboxEvent::ServerError { code, message } => {
                    let e = json!({
                        "code": code,
                        "message": format!("the inbox closed the socket ({code}): {message}"),
                    });
                    self.listeners.emit("error", &to_js(&e));
                }
            }
        }
        self.listeners.emit("change", &JsValue::UNDEFINED);
    }
}
