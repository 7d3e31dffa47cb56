//! One text frame sent to many sockets. `WebSocket::send_with_str` turns the Rust string into
//! a JavaScript one on every call; a summary pushed to 200 agents' sockets would be copied
//! and decoded 200 times, which was most of the inbox's fan-out cost (BENCHMARKS.md,
//! capacity). Here it is converted once and the same JavaScript string goes to each socket.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::WebSocket;

#[wasm_bindgen]
extern "C" {
    /// The platform's WebSocket, seen only through `send(string)`.
    type TextSocket;
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_js(this: &TextSocket, data: &JsValue) -> Result<(), JsValue>;
}

/// Sends `text` to every socket in `sockets`; a socket that cannot take it (closing, closed)
/// is skipped: its close handler cleans up.
pub fn send_text_to_all<'a>(sockets: impl IntoIterator<Item = &'a WebSocket>, text: &str) {
    let js = JsValue::from_str(text);
    for ws in sockets {
        let raw: &worker::web_sys::WebSocket = ws.as_ref();
        let _ = raw.unchecked_ref::<TextSocket>().send_js(&js);
    }
}
