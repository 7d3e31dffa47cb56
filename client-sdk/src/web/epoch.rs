//! Rollovers in the browser (PROTOCOL.md §16): the replica's epoch kept in IndexedDB, the
//! move to a new epoch after close 4409, and pages of the sealed history.
//!
//! The shared replica of epoch 0 keeps its original IndexedDB name; epoch `n` is
//! `…|shared|e{n}`. A pointer replica (`…|epoch`) holds the current epoch. A move writes the
//! new replica and the pointer in one IndexedDB transaction, so a tab closed at any point
//! leaves either the old epoch (the move runs again against the same immutable segment) or
//! the new one. While a move runs the link is held and writes wait for it, so no message is
//! written into a replica that is being left.

use std::rc::Rc;

use edgedesk_core::client::ClientSession;
use edgedesk_core::rollover::history::{Archived, Page};
use edgedesk_core::rollover::migrate;
use edgedesk_core::store::ChunkKind;
use js_sys::Reflect;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, Response};

use super::chat::Chat;
use super::js::{describe, error, fetch_request, now_ms, to_js};
use super::link::Link;
use super::replica_names::replica_name;
use crate::chat_view::{self, MessageView};
use crate::journal_store::{Flush, JournalStore};

/// The largest page the relay serves.
const SEGMENT_PAGE: usize = 500;

/// A page for the app, messages shaped like `messages()`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageView {
    epoch: u64,
    messages: Vec<MessageView>,
    before: Option<String>,
}

impl Chat {
    fn history_base(&self) -> String {
        format!(
            "{}/v1/workspaces/{}/conversations/{}/history",
            self.base_url, self.workspace, self.conversation
        )
    }

    /// One page from the relay.
    async fn fetch_page(&self, query: &str) -> Result<Page, JsValue> {
        self.fetch_page_status(query).await.map_err(|(_, e)| e)
    }

    /// [`Self::fetch_page`], with the HTTP status of a refusal (0: unreachable).
    async fn fetch_page_status(&self, query: &str) -> Result<Page, (u16, JsValue)> {
        let js = |e: JsValue| (0, e);
        let request =
            Request::new_with_str(&format!("{}?{query}", self.history_base())).map_err(js)?;
        let token = self.link.borrow().token().to_owned();
        request.headers().set("authorization", &format!("Bearer {token}")).map_err(js)?;
        let response: Response = JsFuture::from(fetch_request(&request))
            .await
            .map_err(|e| js(error(format!("the relay is unreachable: {}", describe(&e)))))?
            .unchecked_into();
        let body = JsFuture::from(response.json().map_err(js)?).await.unwrap_or(JsValue::NULL);
        if !response.ok() {
            let text = |k: &str| Reflect::get(&body, &k.into()).ok().and_then(|v| v.as_string());
            return Err((
                response.status(),
                error(format!(
                    "history refused ({} {}): {}",
                    response.status(),
                    text("error").unwrap_or_default(),
                    text("message").unwrap_or_default()
                )),
            ));
        }
        serde_wasm_bindgen::from_value(body)
            .map_err(|e| js(error(format!("the relay's history page is unreadable: {e}"))))
    }

    /// A page of the sealed history, kept in IndexedDB for reading offline.
    pub(super) async fn history(
        &self,
        before: Option<String>,
        limit: usize,
    ) -> Result<JsValue, JsValue> {
        let limit = limit.clamp(1, SEGMENT_PAGE);
        let mut query = format!("limit={limit}");
        if let Some(b) = &before {
            query.push_str(&format!("&before={}", crate::endpoint::encode(b)));
        }
        let cache =
            format!("{}|history|{}|{limit}", self.replicas[0], before.as_deref().unwrap_or("end"));
        let kept = self.idb.load(&cache).await?;
        let page = match self.fetch_page(&query).await {
            Ok(page) => {
                if let Ok(json) = serde_json::to_vec(&page) {
                    let flush = Flush {
                        delete: kept.iter().map(|(k, _, _)| *k).collect(),
                        add: vec![(ChunkKind::Snapshot, json)],
                        upto: 0,
                    };
                    // Kept for offline reading only: a failure to keep it loses nothing.
                    let _ = self.idb.commit(&[(&cache, &flush)]).await;
                }
                page
            }
            Err(e) => match kept.last().and_then(|(_, _, b)| serde_json::from_slice(b).ok()) {
                Some(page) => page,
                None => return Err(e),
            },
        };
        let me = self.state.borrow().session.identity().participant.to_string();
        let messages = page.messages.into_iter().map(|a| archived_view(a, &me)).collect();
        Ok(to_js(&PageView { epoch: page.epoch, messages, before: page.before }))
    }

    /// After close 4409: moves the replica to the live epoch, then reconnects.
    pub(super) async fn move_over(self: &Rc<Self>) {
        Link::hold(&self.link);
        self.moving.set(true);
        let outcome = self.try_move().await;
        self.moving.set(false);
        for w in self.move_waiters.borrow_mut().drain(..) {
            let _ = w.send(());
        }
        match outcome {
            Ok((from, to, rewritten)) => {
                let moved = serde_json::json!({ "from": from, "to": to, "rewritten": rewritten });
                self.listeners.emit("moved", &to_js(&moved));
                self.listeners.emit("change", &JsValue::UNDEFINED);
                Link::release(&self.link, Some(self.connect_url(to)));
            }
            Err(e) => {
                let message = format!("moving to the conversation's new epoch: {}", describe(&e));
                self.listeners.emit("error", &to_js(&serde_json::json!({ "message": message })));
                // Retried with the next 4409 after the backoff.
                Link::release(&self.link, None);
            }
        }
    }

    async fn try_move(self: &Rc<Self>) -> Result<(u64, u64, usize), JsValue> {
        let from = self.epoch.get();
        let mut sealed: Vec<Archived> = Vec::new();
        let mut before: Option<String> = None;
        let to = loop {
            let mut query = format!("epoch={from}&limit={SEGMENT_PAGE}");
            if let Some(b) = &before {
                query.push_str(&format!("&before={b}"));
            }
            let page = match self.fetch_page_status(&query).await {
                Ok(page) => page,
                // Retention shredded this replica's segment: nothing of it can be checked,
                // so every unacknowledged message is written again (PROTOCOL.md §16.4).
                Err((410, _)) => {
                    sealed.clear();
                    break self.fetch_page("limit=1").await?.epoch;
                }
                Err((_, e)) => return Err(e),
            };
            let mut part = page.messages;
            part.append(&mut sealed);
            sealed = part;
            match page.before {
                Some(b) => before = Some(b),
                None => break page.epoch,
            }
        };
        if to <= from {
            return Err(error(format!(
                "the relay's live epoch is {to}; this replica is at {from}"
            )));
        }
        // Every write so far is in IndexedDB, and none starts before the move ends.
        self.durable().await.map_err(error)?;
        let (unsent, me) = {
            let st = self.state.borrow();
            (migrate::unsent(st.session.pending_messages(), &sealed), st.session.identity().clone())
        };
        let name = replica_name(&self.replicas[0], to);
        let mut fresh = ClientSession::open(JournalStore::new(Vec::new()), me)
            .map_err(|e| error(e.to_string()))?;
        fresh.carry_over(&unsent, now_ms()).map_err(|e| error(e.to_string()))?;
        let replica = fresh.stores_mut().0.take_flush().unwrap_or_default();
        let pointer_name = self.pointer_name();
        let kept = self.idb.load(&pointer_name).await?;
        let pointer = Flush {
            delete: kept.iter().map(|(k, _, _)| *k).collect(),
            add: vec![(ChunkKind::Snapshot, to.to_le_bytes().to_vec())],
            upto: 0,
        };
        let stale = self.idb.load(&name).await?;
        let clear =
            Flush { delete: stale.iter().map(|(k, _, _)| *k).collect(), ..Flush::default() };
        self.idb.commit(&[(&name, &clear), (&name, &replica), (&pointer_name, &pointer)]).await?;
        let store = JournalStore::new(self.idb.load(&name).await?);
        let old_name = self.shared_replica.borrow().clone();
        let old_rows = self.idb.load(&old_name).await?;
        self.state
            .borrow_mut()
            .session
            .replace_shared(store)
            .map_err(|e| error(format!("the new replica is unreadable: {e}")))?;
        *self.shared_replica.borrow_mut() = name;
        self.epoch.set(to);
        // The old epoch's rows are no longer read: they go (a failure leaves them unread).
        let drop_old =
            Flush { delete: old_rows.iter().map(|(k, _, _)| *k).collect(), ..Flush::default() };
        let _ = self.idb.commit(&[("", &drop_old)]).await;
        Ok((from, to, unsent.len()))
    }

    fn pointer_name(&self) -> String {
        super::replica_names::pointer_name(&self.replicas[0])
    }
}

fn archived_view(a: Archived, me: &str) -> MessageView {
    let mut v = chat_view::message(a.message, me);
    v.delivered_at = a.delivered;
    v
}
