//! Calls from one Durable Object (or the front door) to another: one helper builds the
//! request (method, the callee's internal URL, the forwarded identity header, a JSON body),
//! finds the named object and returns its answer, so no caller hand-builds requests.

use worker::{Env, Headers, Method, Request, RequestInit};

use crate::request::FORWARDED_HEADER;

/// A Durable Object class, by its binding in wrangler.toml and the host its calls use.
#[derive(Debug, Clone, Copy)]
pub struct Object {
    pub binding: &'static str,
    pub host: &'static str,
}

pub const CONVERSATION: Object = Object { binding: "CONVERSATION", host: "conversation.internal" };
pub const INBOX: Object = Object { binding: "INBOX_DO", host: "inbox.internal" };
pub const WORKSPACE: Object = Object { binding: "WORKSPACE_DO", host: "workspace.internal" };

/// One call: to the object named `name` of class `to`, `path` (e.g. `assign`), as the
/// identity in `forwarded` (a `FORWARDED_HEADER` value), with extra headers and a body.
pub struct Call<'a> {
    pub to: Object,
    pub name: &'a str,
    pub method: Method,
    pub path: &'a str,
    pub forwarded: String,
    pub headers: &'a [(&'a str, String)],
    pub body: Option<String>,
}

/// What the callee answered.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the {binding} object could not be reached: {message}")]
pub struct Unreachable {
    pub binding: &'static str,
    pub message: String,
}

impl Call<'_> {
    pub async fn send(self, env: &Env) -> Result<Answer, Unreachable> {
        let binding = self.to.binding;
        let fail = |e: worker::Error| Unreachable { binding, message: e.to_string() };
        let headers = Headers::new();
        headers.set(FORWARDED_HEADER, &self.forwarded).map_err(fail)?;
        for (k, v) in self.headers {
            headers.set(k, v).map_err(fail)?;
        }
        let mut init = RequestInit::new();
        init.with_method(self.method).with_headers(headers);
        if let Some(body) = self.body {
            init.with_body(Some(worker::wasm_bindgen::JsValue::from_str(&body)));
        }
        let url = format!("https://{}/{}", self.to.host, self.path);
        let request = Request::new_with_init(&url, &init).map_err(fail)?;
        let stub = env
            .durable_object(binding)
            .and_then(|ns| ns.id_from_name(self.name)?.get_stub())
            .map_err(fail)?;
        let mut response = stub.fetch_with_request(request).await.map_err(fail)?;
        let status = response.status_code();
        let body = response.bytes().await.map_err(fail)?;
        Ok(Answer { status, body })
    }
}
