//! `widgetSession`: an anonymous visitor's token from a site key (PROTOCOL.md §2.5). Passing
//! the previous token keeps the visitor's identity and conversation, with a fresh expiry;
//! passing the browser's language makes the relay's auto-replies speak it.

use js_sys::{Promise, Reflect};
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Request, RequestInit, Response};

use super::js::{describe, error, fetch_request, from_js, to_js};

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    token: String,
    workspace: String,
    conversation: String,
    subject: String,
    #[serde(alias = "expires_at")]
    expires_at: i64,
}

#[wasm_bindgen(js_name = widgetSession, unchecked_return_type = "Promise<WidgetSession>")]
pub fn widget_session(
    base_url: String,
    site_key: String,
    previous_token: Option<String>,
    locale: Option<String>,
    page_url: Option<String>,
    referrer: Option<String>,
) -> Promise {
    future_to_promise(async move {
        let url = format!("{}/v1/widget/session", base_url.trim_end_matches('/'));
        let init = RequestInit::new();
        init.set_method("POST");
        let mut body = json!({ "site_key": site_key });
        if let Some(l) = locale.filter(|l| !l.is_empty()) {
            body["locale"] = l.into();
        }
        // Where the chat happens, for the agent's visitor panel (PROTOCOL.md §2.5).
        for (key, value) in [("page_url", page_url), ("referrer", referrer)] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                body[key] = v.into();
            }
        }
        init.set_body(&body.to_string().into());
        let request = Request::new_with_str_and_init(&url, &init)?;
        request.headers().set("content-type", "application/json")?;
        if let Some(t) = previous_token.filter(|t| !t.is_empty()) {
            request.headers().set("authorization", &format!("Bearer {t}"))?;
        }
        let response: Response = JsFuture::from(fetch_request(&request))
            .await
            .map_err(|e| {
                error(format!("the relay at {base_url} is unreachable: {}", describe(&e)))
            })?
            .unchecked_into();
        let body = JsFuture::from(response.json()?).await.unwrap_or(JsValue::NULL);
        if !response.ok() {
            let code = Reflect::get(&body, &"error".into()).ok().and_then(|v| v.as_string());
            let message = Reflect::get(&body, &"message".into()).ok().and_then(|v| v.as_string());
            return Err(error(format!(
                "the relay refused a widget session ({} {}): {}",
                response.status(),
                code.unwrap_or_default(),
                message.unwrap_or_default()
            )));
        }
        let session: Session = from_js(body, "the widget session answer")?;
        Ok(to_js(&session))
    })
}
