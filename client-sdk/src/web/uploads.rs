//! The upload outbox of a `ChatClient` (PROTOCOL.md §2.10): `sendAttachment` stores the file
//! in IndexedDB before it resolves, so a file picked offline survives the tab closing; when
//! the network is there the file is uploaded under its attachment id (a retried upload is the
//! same upload), then the message naming it is written, then the record is dropped. The
//! message id is chosen with the record: after a crash between writing the message and
//! dropping the record, the retry finds the message and does not write it again. So each
//! file becomes exactly one message, and only once the relay holds the file.

use std::rc::Rc;

use edgedesk_core::ids::MessageId;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use super::chat::Chat;
use super::js::{describe, error, fetch_request, now_ms, sleep, to_js};
use super::pending_upload::Pending;

/// How long to wait before trying again after a network failure or a 5xx.
const RETRY_MS: i32 = 3_000;

/// How an upload attempt ended.
enum Outcome {
    Stored,
    /// Try again later (offline, a 5xx, a 401 before a new token).
    Later,
    /// The relay will never take it.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

fn percent_encode(s: &str) -> String {
    js_sys::encode_uri_component(s).into()
}

impl Chat {
    /// Works through the outbox, oldest first, until it is empty or the network is not there.
    pub(super) async fn drain_uploads(self: &Rc<Self>) {
        if self.draining.replace(true) {
            return;
        }
        loop {
            let next = self.uploads.borrow().first().cloned();
            let Some(p) = next else { break };
            if !self.link.borrow().wants_network() {
                break;
            }
            match self.upload(&p).await {
                Outcome::Stored => {
                    if let Err(e) = self.write_upload_message(&p).await {
                        self.emit_error(&format!("the message for {} was not saved: {e}", p.name));
                        break;
                    }
                    self.forget_upload(&p.id).await;
                }
                Outcome::Refused { status, code, message } => {
                    self.forget_upload(&p.id).await;
                    let failed = serde_json::json!({
                        "id": p.id, "name": p.name, "status": status, "code": code, "message": message,
                    });
                    self.listeners.emit("uploadFailed", &to_js(&failed));
                }
                Outcome::Later => {
                    self.draining.set(false);
                    let chat = self.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        sleep(RETRY_MS).await;
                        chat.drain_uploads().await;
                    });
                    return;
                }
            }
        }
        self.draining.set(false);
    }

    async fn upload(&self, p: &Pending) -> Outcome {
        let url = format!(
            "{}/v1/workspaces/{}/conversations/{}/attachments/{}?name={}",
            self.base_url,
            self.workspace,
            self.conversation,
            p.id,
            percent_encode(&p.name)
        );
        let token = self.link.borrow().token().to_owned();
        let sent = async {
            let init = RequestInit::new();
            init.set_method("PUT");
            init.set_body(&p.blob);
            let request = Request::new_with_str_and_init(&url, &init)?;
            request.headers().set("authorization", &format!("Bearer {token}"))?;
            request.headers().set("content-type", &p.content_type)?;
            let response: Response =
                JsFuture::from(fetch_request(&request)).await?.unchecked_into();
            let body = match response.json() {
                Ok(json) => JsFuture::from(json).await.unwrap_or(JsValue::NULL),
                Err(_) => JsValue::NULL,
            };
            Ok::<_, JsValue>((response.status(), body))
        };
        match sent.await {
            Ok((200 | 201, _)) => Outcome::Stored,
            // Unauthorized (a new token comes with setToken), rate limits and server trouble
            // pass; the rest will not.
            Ok((401 | 408 | 429, _)) | Ok((500..=599, _)) | Err(_) => Outcome::Later,
            Ok((status, body)) => {
                let text = |k: &str| {
                    Reflect::get(&body, &k.into())
                        .ok()
                        .and_then(|v| v.as_string())
                        .unwrap_or_default()
                };
                Outcome::Refused { status, code: text("error"), message: text("message") }
            }
        }
    }

    /// Writes the message naming the uploaded file, unless an earlier life already did.
    async fn write_upload_message(self: &Rc<Self>, p: &Pending) -> Result<(), String> {
        let id = MessageId::new(p.message.as_str()).map_err(|e| e.to_string())?;
        let frames = {
            let mut st = self.state.borrow_mut();
            if !st.session.has_message(&id) {
                st.session
                    .send_attachment(id, &p.caption, p.reference(), now_ms())
                    .map_err(|e| e.to_string())?;
            }
            st.session.poll_frames()
        };
        self.link.borrow().send_binary(&frames);
        self.listeners.emit("change", &JsValue::UNDEFINED);
        self.durable().await
    }

    async fn forget_upload(&self, id: &str) {
        if let Err(e) = self.idb.delete_upload(id).await {
            self.emit_error(&format!("an uploaded file stays in the outbox: {}", describe(&e)));
        }
        self.uploads.borrow_mut().retain(|p| p.id != id);
        self.listeners.emit("change", &JsValue::UNDEFINED);
    }

    fn emit_error(&self, message: &str) {
        self.listeners.emit("error", &to_js(&serde_json::json!({ "message": message })));
    }

    /// A link to attachment `id` (PROTOCOL.md §2.10), reused while it has a minute left.
    pub(super) async fn attachment_url(&self, id: &str) -> Result<String, JsValue> {
        edgedesk_core::attachment::check_id(id).map_err(error)?;
        let now = now_ms() / 1000;
        if let Some((url, exp)) = self.links.borrow().get(id) {
            if exp - now > 60 {
                return Ok(url.clone());
            }
        }
        let url = format!(
            "{}/v1/workspaces/{}/conversations/{}/attachments/{id}/link",
            self.base_url, self.workspace, self.conversation
        );
        let request = Request::new_with_str(&url)?;
        let token = self.link.borrow().token().to_owned();
        request.headers().set("authorization", &format!("Bearer {token}"))?;
        let response: Response = JsFuture::from(fetch_request(&request))
            .await
            .map_err(|e| error(format!("the relay is unreachable: {}", describe(&e))))?
            .unchecked_into();
        let body = JsFuture::from(response.json()?).await.unwrap_or(JsValue::NULL);
        let text = |k: &str| Reflect::get(&body, &k.into()).ok().and_then(|v| v.as_string());
        if !response.ok() {
            return Err(error(format!(
                "no link to the file ({} {}): {}",
                response.status(),
                text("error").unwrap_or_default(),
                text("message").unwrap_or_default()
            )));
        }
        let path = text("url").ok_or_else(|| error("the relay's link answer has no url"))?;
        let exp =
            Reflect::get(&body, &"expires_at".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
        let full = format!("{}{path}", self.base_url);
        self.links.borrow_mut().insert(id.to_owned(), (full.clone(), exp as i64));
        Ok(full)
    }
}
