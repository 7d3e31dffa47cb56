//! One WebSocket to the relay, kept open while the app and the browser are online: reconnects
//! with backoff and jitter, at once on the browser's `online` event, and closes on `offline`
//! (an emulated or real outage often leaves a dead socket open for minutes otherwise).
//!
//! The owner (a chat or inbox client) hears [`SocketEvent`]s and sends through the link. Every
//! socket carries a generation number, so events of a socket already replaced are ignored.
//! Browsers hide the HTTP status of a refused handshake: a refused token looks like any
//! failed connection here, which is why the widget renews its token before it expires.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use js_sys::{ArrayBuffer, Function, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, EventTarget, MessageEvent, WebSocket};

use super::js::{browser_online, clear_timeout, set_timeout};
use super::listeners::Listeners;
use crate::endpoint::encode;
use crate::Backoff;

/// A connection that lasted this long was healthy: the next retry starts from the first delay.
const STABLE_AFTER_MS: f64 = 1000.0;

type JsHandler = Closure<dyn FnMut(JsValue)>;
/// What a socket's handler does with its event, given the link it belongs to.
type OnSocket = Box<dyn Fn(&Rc<RefCell<Link>>, JsValue)>;

pub enum SocketEvent {
    Open,
    Binary(Vec<u8>),
    Text(String),
    /// The socket ended (or never opened). `code` 1006 means it dropped without a close frame.
    Closed {
        code: u16,
        reason: String,
    },
}

struct Socket {
    ws: WebSocket,
    opened_at: Option<f64>,
    _handlers: Vec<JsHandler>,
}

pub struct Link {
    /// The socket URL without the token.
    url: String,
    token: String,
    backoff: Backoff,
    attempt: u32,
    generation: u64,
    socket: Option<Socket>,
    /// What the app wants (`setOnline`).
    wanted: bool,
    closed: bool,
    /// The owner is moving its replica to a new epoch (PROTOCOL.md §16.2): no socket until
    /// it is done.
    held: bool,
    /// The last socket taken out, kept until the next one is: its handlers may be running.
    retired: Option<Socket>,
    retry: Option<(JsValue, Closure<dyn FnMut()>)>,
    browser_events: Vec<(&'static str, JsHandler)>,
    on_event: Rc<dyn Fn(SocketEvent)>,
}

impl Link {
    fn new(url: String, token: String, on_event: Rc<dyn Fn(SocketEvent)>) -> Rc<RefCell<Link>> {
        Rc::new(RefCell::new(Link {
            url,
            token,
            backoff: Backoff::default(),
            attempt: 0,
            generation: 0,
            socket: None,
            retired: None,
            wanted: false,
            closed: false,
            held: false,
            retry: None,
            browser_events: Vec::new(),
            on_event,
        }))
    }

    /// A link whose events go to `owner`, held weakly (the owner holds the link).
    pub fn owned_by<T: 'static>(
        owner: &Weak<T>,
        url: String,
        token: String,
        handle: fn(&Rc<T>, SocketEvent),
    ) -> Rc<RefCell<Link>> {
        let owner = owner.clone();
        let on_event = Rc::new(move |e: SocketEvent| {
            if let Some(owner) = owner.upgrade() {
                handle(&owner, e);
            }
        });
        Link::new(url, token, on_event)
    }

    /// Tells the owner's listeners the connection's state (and why it ended, if it did).
    pub fn report(
        this: &Rc<RefCell<Link>>,
        to: &Listeners,
        code: Option<u16>,
        reason: Option<String>,
    ) {
        let state = this.borrow().state();
        let c = serde_json::json!({ "state": state, "code": code, "reason": reason });
        to.emit("connection", &super::js::to_js(&c));
        to.emit("change", &JsValue::UNDEFINED);
    }

    /// Starts following the browser's online/offline events and connects if `online`.
    pub fn start(this: &Rc<RefCell<Link>>, online: bool) {
        let global: EventTarget = js_sys::global().unchecked_into();
        for (name, up) in [("online", true), ("offline", false)] {
            let weak = Rc::downgrade(this);
            let handler = Closure::<dyn FnMut(JsValue)>::new(move |_| {
                if let Some(link) = weak.upgrade() {
                    Link::browser_changed(&link, up);
                }
            });
            let _ = global.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
            this.borrow_mut().browser_events.push((name, handler));
        }
        Link::set_online(this, online);
    }

    /// The token requests beside the socket carry (uploads, links).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether the app and the browser want the network (uploads wait otherwise).
    pub fn wants_network(&self) -> bool {
        !self.closed && self.wanted && browser_online()
    }

    /// `connected`, `connecting` or `offline` (the app or the browser is offline, or closed).
    pub fn state(&self) -> &'static str {
        match &self.socket {
            Some(s) if s.opened_at.is_some() => "connected",
            _ if self.closed || !self.wanted || !browser_online() => "offline",
            _ => "connecting",
        }
    }

    /// Sends binary frames on the open socket; false if there is none (sync resumes on the
    /// next connection, so nothing is lost by not sending).
    pub fn send_binary(&self, frames: &[Vec<u8>]) -> bool {
        let Some(s) = self.socket.as_ref().filter(|s| s.opened_at.is_some()) else { return false };
        frames.iter().all(|f| s.ws.send_with_u8_array(f).is_ok())
    }

    pub fn send_text(&self, text: &str) -> bool {
        let Some(s) = self.socket.as_ref().filter(|s| s.opened_at.is_some()) else { return false };
        s.ws.send_with_str(text).is_ok()
    }

    pub fn set_online(this: &Rc<RefCell<Link>>, online: bool) {
        this.borrow_mut().wanted = online;
        Link::reconsider(this);
    }

    /// A new token is used from the next connection; a pending retry happens now.
    pub fn set_token(this: &Rc<RefCell<Link>>, token: String) {
        let waiting = {
            let mut link = this.borrow_mut();
            link.token = token;
            link.attempt = 0;
            link.retry.is_some()
        };
        if waiting {
            Link::cancel_retry(this);
            Link::reconsider(this);
        }
    }

    /// Closes for good: the socket with 1000, the timers and the browser listeners.
    pub fn close(this: &Rc<RefCell<Link>>) {
        this.borrow_mut().closed = true;
        Link::cancel_retry(this);
        let global: EventTarget = js_sys::global().unchecked_into();
        for (name, handler) in std::mem::take(&mut this.borrow_mut().browser_events) {
            let _ =
                global.remove_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        }
        Link::drop_socket(this, 1000, "the client closed");
    }

    /// Ends the current socket (e.g. after a frame the client could not apply); the link
    /// reconnects as after any lost connection.
    pub fn reset(this: &Rc<RefCell<Link>>, code: u16, reason: &str) {
        Link::drop_socket(this, code, reason);
        Link::reconsider(this);
    }

    /// Takes the socket out (silencing its handlers); `Some(opened_at)` if there was one.
    fn retire(&mut self) -> Option<Option<f64>> {
        let s = self.socket.take()?;
        s.ws.set_onopen(None);
        s.ws.set_onmessage(None);
        s.ws.set_onclose(None);
        let opened_at = s.opened_at;
        self.retired = Some(s);
        Some(opened_at)
    }

    fn browser_changed(this: &Rc<RefCell<Link>>, online: bool) {
        if online {
            this.borrow_mut().attempt = 0;
            Link::cancel_retry(this);
        } else {
            Link::drop_socket(this, 1000, "the browser went offline");
        }
        Link::reconsider(this);
    }

    /// Connects if the link should be online and has neither a socket nor a retry pending;
    /// drops the socket if it should be offline.
    fn reconsider(this: &Rc<RefCell<Link>>) {
        let (should, has_socket, waiting) = {
            let l = this.borrow();
            let should = !l.closed && !l.held && l.wanted && browser_online();
            (should, l.socket.is_some(), l.retry.is_some())
        };
        if !should {
            Link::cancel_retry(this);
            if has_socket {
                Link::drop_socket(this, 1000, "the client went offline");
            }
        } else if !has_socket && !waiting {
            Link::connect(this);
        }
    }

    fn connect(this: &Rc<RefCell<Link>>) {
        let (url, generation) = {
            let mut l = this.borrow_mut();
            l.generation += 1;
            (format!("{}&access_token={}", l.url, encode(&l.token)), l.generation)
        };
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(e) => {
                let reason = super::js::describe(&e);
                Link::ended(this, generation, 1006, reason);
                return;
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let handler = |f: OnSocket| {
            let weak: Weak<RefCell<Link>> = Rc::downgrade(this);
            Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                if let Some(link) = weak.upgrade() {
                    if link.borrow().generation == generation {
                        f(&link, e);
                    }
                }
            })
        };
        let on_open = handler(Box::new(|link, _| {
            if let Some(s) = link.borrow_mut().socket.as_mut() {
                s.opened_at = Some(js_sys::Date::now());
            }
            let on_event = link.borrow().on_event.clone();
            on_event(SocketEvent::Open);
        }));
        let on_message = handler(Box::new(|link, e| {
            let Ok(e) = e.dyn_into::<MessageEvent>() else { return };
            let data = e.data();
            let event = if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
                SocketEvent::Binary(Uint8Array::new(buf).to_vec())
            } else if let Some(text) = data.as_string() {
                SocketEvent::Text(text)
            } else {
                return;
            };
            let on_event = link.borrow().on_event.clone();
            on_event(event);
        }));
        let on_close = handler(Box::new(move |link, e| {
            let (code, reason) = match e.dyn_into::<CloseEvent>() {
                Ok(c) => (c.code(), c.reason()),
                Err(_) => (1006, String::new()),
            };
            Link::ended(link, generation, code, reason);
        }));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        this.borrow_mut().socket =
            Some(Socket { ws, opened_at: None, _handlers: vec![on_open, on_message, on_close] });
    }

    /// Stops connecting until [`Self::release`]: the owner is moving its replica.
    pub fn hold(this: &Rc<RefCell<Link>>) {
        this.borrow_mut().held = true;
        Link::cancel_retry(this);
    }

    /// Connects again (at once) after [`Self::hold`], to `url` if given.
    pub fn release(this: &Rc<RefCell<Link>>, url: Option<String>) {
        {
            let mut l = this.borrow_mut();
            l.held = false;
            l.attempt = 0;
            if let Some(url) = url {
                l.url = url;
            }
        }
        Link::reconsider(this);
    }

    /// The socket of `generation` is gone: tell the owner, then retry after a backoff.
    fn ended(this: &Rc<RefCell<Link>>, generation: u64, code: u16, reason: String) {
        let on_event = {
            let mut l = this.borrow_mut();
            if l.generation != generation {
                return;
            }
            let opened_at = l.retire().flatten();
            if opened_at.is_some_and(|t| js_sys::Date::now() - t >= STABLE_AFTER_MS) {
                l.attempt = 0;
            }
            l.on_event.clone()
        };
        on_event(SocketEvent::Closed { code, reason });
        Link::schedule_retry(this);
    }

    fn schedule_retry(this: &Rc<RefCell<Link>>) {
        let delay: Duration = {
            let mut l = this.borrow_mut();
            if l.closed || l.held || !l.wanted || l.retry.is_some() {
                return;
            }
            let d = l.backoff.delay(l.attempt);
            l.attempt = l.attempt.saturating_add(1);
            d
        };
        let weak = Rc::downgrade(this);
        let fire = Closure::<dyn FnMut()>::new(move || {
            if let Some(link) = weak.upgrade() {
                // Take the closure out before running: reconsider may schedule a new one.
                let done = link.borrow_mut().retry.take();
                Link::reconsider(&link);
                drop(done);
            }
        });
        let id = set_timeout(fire.as_ref().unchecked_ref::<Function>(), delay.as_millis() as i32);
        this.borrow_mut().retry = Some((id, fire));
    }

    fn cancel_retry(this: &Rc<RefCell<Link>>) {
        let retry = this.borrow_mut().retry.take();
        if let Some((id, _)) = retry {
            clear_timeout(&id);
        }
    }

    /// Closes the current socket at once, as far as the owner is concerned: the owner hears
    /// `Closed` now, not when the browser finishes the closing handshake.
    fn drop_socket(this: &Rc<RefCell<Link>>, code: u16, reason: &str) {
        let (socket, generation) = {
            let l = this.borrow();
            (l.socket.as_ref().map(|s| s.ws.clone()), l.generation)
        };
        let Some(ws) = socket else { return };
        // Browsers let scripts close only with 1000 or 3000-4999; the owner still hears `code`.
        let sent = if code == 1000 || (3000..5000).contains(&code) { code } else { 1000 };
        let _ = ws.close_with_code_and_reason(sent, reason);
        let on_event = {
            let mut l = this.borrow_mut();
            if l.generation != generation {
                return;
            }
            l.generation += 1;
            l.retire();
            l.on_event.clone()
        };
        on_event(SocketEvent::Closed { code, reason: reason.to_owned() });
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(s) = self.socket.as_ref() {
            let _ = s.ws.close();
        }
        self.retire();
    }
}
