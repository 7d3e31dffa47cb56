//! Small bridges between Rust values and JavaScript ones.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use js_sys::{Function, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout`, in windows and workers alike.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = fetch)]
    pub fn fetch_request(request: &web_sys::Request) -> Promise;
}

/// A JS value of `v`: maps as plain objects, `None` as `null`.
pub fn to_js<T: Serialize + ?Sized>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
}

/// Reads `v` as `T`; the error names `what` and what was wrong with it.
pub fn from_js<T: DeserializeOwned>(v: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(v).map_err(|e| error(format!("{what}: {e}")))
}

/// A JS `Error` with this message (what rejected promises and thrown exceptions carry).
pub fn error(message: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&message.to_string()).into()
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// `navigator.onLine`, or true where there is no navigator to ask.
pub fn browser_online() -> bool {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"onLine".into()))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

/// Waits for whichever of two callbacks the browser calls first (`ok` or `err`), e.g. an
/// IndexedDB request's `onsuccess`/`onerror`. `arm` installs them; they are dropped after.
pub async fn settle(arm: impl FnOnce(&Function, &Function)) -> Result<JsValue, JsValue> {
    let (tx, rx) = oneshot::channel::<Result<JsValue, JsValue>>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let (t1, t2) = (tx.clone(), tx);
    let ok = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| {
        if let Some(s) = t1.borrow_mut().take() {
            let _ = s.send(Ok(v));
        }
    });
    let err = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| {
        if let Some(s) = t2.borrow_mut().take() {
            let _ = s.send(Err(v));
        }
    });
    arm(ok.as_ref().unchecked_ref(), err.as_ref().unchecked_ref());
    let out = rx.await.unwrap_or_else(|_| Err(error("the browser dropped the operation")));
    drop((ok, err));
    out
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// The message of a JS error value, for wrapping it in ours.
pub fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}
