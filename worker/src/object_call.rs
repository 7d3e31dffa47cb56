//! Calls from one Durable Object (or the front door) to another: one helper builds the
//! request (method, the callee's internal URL, the forwarded identity header, a JSON body),
//! finds the named object and returns its answer, so no caller hand-builds requests.

use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::DurableObject;
use worker::{web_sys, Env, Method};

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
    /// Built on the runtime's own `Request`, `fetch` and `arrayBuffer`: the `worker` crate's
    /// `Response::bytes` reads a subrequest's body as a stream, chunk by chunk through
    /// `wasm-streams`, which took half of this call's CPU for a ~30-byte acknowledgement (a
    /// profile of the throughput run: 0.69 of 1.39 s).
    pub async fn send(self, env: &Env) -> Result<Answer, Unreachable> {
        let binding = self.to.binding;
        let fail = |e: worker::Error| Unreachable { binding, message: e.to_string() };
        let js_fail = |e: JsValue| Unreachable {
            binding,
            message: e.as_string().unwrap_or_else(|| format!("{e:?}")),
        };
        let headers = web_sys::Headers::new().map_err(js_fail)?;
        headers.set(FORWARDED_HEADER, &self.forwarded).map_err(js_fail)?;
        for (k, v) in self.headers {
            headers.set(k, v).map_err(js_fail)?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(self.method.as_ref());
        init.set_headers(&headers);
        if let Some(body) = self.body {
            init.set_body(&JsValue::from_str(&body));
        }
        let url = format!("https://{}/{}", self.to.host, self.path);
        let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(js_fail)?;
        let stub: DurableObject = env
            .durable_object(binding)
            .and_then(|ns| ns.id_from_name(self.name)?.get_stub())
            .map_err(fail)?
            .into_rpc();
        let response = JsFuture::from(stub.fetch_with_request(&request).map_err(js_fail)?)
            .await
            .map_err(js_fail)?
            .dyn_into::<web_sys::Response>()
            .map_err(js_fail)?;
        let status = response.status();
        let buffer =
            JsFuture::from(response.array_buffer().map_err(js_fail)?).await.map_err(js_fail)?;
        Ok(Answer { status, body: Uint8Array::new(&buffer).to_vec() })
    }
}
