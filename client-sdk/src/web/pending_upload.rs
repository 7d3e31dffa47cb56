//! One file in a `ChatClient`'s upload outbox, as kept in IndexedDB and shown by
//! `pendingUploads()`; the outbox that sends them is [`super::uploads`].

use edgedesk_core::attachment::{check_name, check_type, AttachmentRef, MAX_ATTACHMENT_BYTES};
use edgedesk_core::ids::{random_hex, MessageId};
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Blob;

use super::js::{error, now_ms, to_js};

/// A file waiting in the outbox.
#[derive(Clone)]
pub(super) struct Pending {
    pub id: String,
    pub message: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub caption: String,
    pub at: f64,
    pub blob: Blob,
}

impl Pending {
    /// A new outbox entry for `blob`, checked as the relay will check it (bounds the
    /// workspace sets are the relay's to enforce: `uploadFailed` reports them).
    pub fn new(blob: Blob, name: String, caption: String) -> Result<Pending, JsValue> {
        check_name(&name).map_err(error)?;
        let raw_type = blob.type_();
        let content_type = raw_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let content_type = if content_type.is_empty() {
            "application/octet-stream".to_owned()
        } else {
            content_type
        };
        check_type(&content_type).map_err(error)?;
        let size = blob.size() as u64;
        if size == 0 || size > MAX_ATTACHMENT_BYTES {
            return Err(error(format!(
                "a file is 1 byte to {MAX_ATTACHMENT_BYTES} bytes; this one is {size}"
            )));
        }
        Ok(Pending {
            id: random_hex::<12>(),
            message: MessageId::random().to_string(),
            name,
            content_type,
            size,
            caption,
            at: now_ms() as f64,
            blob,
        })
    }

    pub fn to_record(&self, replica: &str) -> Result<JsValue, JsValue> {
        let o = Object::new();
        Reflect::set(&o, &"r".into(), &replica.into())?;
        for (k, v) in [
            ("id", &self.id),
            ("message", &self.message),
            ("name", &self.name),
            ("type", &self.content_type),
            ("caption", &self.caption),
        ] {
            Reflect::set(&o, &k.into(), &v.into())?;
        }
        Reflect::set(&o, &"size".into(), &(self.size as f64).into())?;
        Reflect::set(&o, &"at".into(), &self.at.into())?;
        Reflect::set(&o, &"blob".into(), &self.blob)?;
        Ok(o.into())
    }

    pub fn from_record(v: &JsValue) -> Option<Pending> {
        let s = |k: &str| Reflect::get(v, &k.into()).ok().and_then(|x| x.as_string());
        let n = |k: &str| Reflect::get(v, &k.into()).ok().and_then(|x| x.as_f64());
        Some(Pending {
            id: s("id")?,
            message: s("message")?,
            name: s("name")?,
            content_type: s("type")?,
            caption: s("caption").unwrap_or_default(),
            size: n("size")? as u64,
            at: n("at").unwrap_or(0.0),
            blob: Reflect::get(v, &"blob".into()).ok()?.dyn_into().ok()?,
        })
    }

    /// What `pendingUploads()` shows of it (the blob included, for previews).
    pub fn to_js(&self) -> JsValue {
        let o: JsValue = to_js(&serde_json::json!({
            "id": self.id, "message": self.message, "name": self.name,
            "type": self.content_type, "size": self.size, "caption": self.caption,
        }));
        let _ = Reflect::set(&o, &"blob".into(), &self.blob);
        o
    }

    pub fn reference(&self) -> AttachmentRef {
        AttachmentRef {
            id: self.id.clone(),
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
        }
    }
}
