//! A conversation's attachments in R2 (binding `ATTACHMENTS`), sealed with the
//! conversation's data key (`seal_record`, purpose `attachment`, bound to the file's id), so
//! the bucket holds no plaintext and an erasure, which destroys the key, leaves nothing
//! readable; the objects are deleted as well. Keys are `{workspace}/{conversation}/{id}`;
//! custom metadata holds the uploader, the type and the size, never the file name.

use std::collections::HashMap;

use edgedesk_core::attachment::AttachmentRef;
use worker::{Env, Response, ResponseBuilder};

use super::{opened, Conversation};
use crate::http;
use crate::request::Refusal;

pub const BUCKET: &str = "ATTACHMENTS";
/// Set by the front Worker: who uploads (the token's subject) and the declared type.
pub const UPLOADER_HEADER: &str = "x-edgedesk-uploader";
pub const CONTENT_TYPE_HEADER: &str = "x-edgedesk-content-type";
const PURPOSE: &str = "attachment";

fn bucket(env: &Env) -> Result<worker::Bucket, Refusal> {
    env.bucket(BUCKET).map_err(|e| {
        worker::console_error!("R2 binding {BUCKET} missing: {e}");
        Refusal::new(
            503,
            "attachments_unavailable",
            "attachments are not set up on this relay (R2 binding ATTACHMENTS)",
        )
    })
}

fn r2_failure(e: worker::Error) -> Refusal {
    worker::console_error!("R2: {e}");
    Refusal::new(503, "unavailable", "attachment storage unavailable; retry")
}

impl Conversation {
    /// Stores an upload, if the workspace takes its type and size. A retried upload (same id,
    /// same uploader) answers as the first did; another participant cannot replace a file.
    pub(super) async fn put_attachment(
        &self,
        name: &str,
        id: &str,
        uploader: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Response, Refusal> {
        self.refresh_config(name).await;
        let size = body.len() as u64;
        let sealed = opened(self.with_live(Some(name), |live| {
            let policy =
                live.relay.workflow().map(|w| w.config.attachments.clone()).unwrap_or_default();
            policy
                .allows(content_type, size)
                .map_err(|e| Refusal::new(e.status(), e.code(), e.to_string()))?;
            live.cipher.seal_record(PURPOSE, &[id.as_bytes()], &body).map_err(|_| {
                Refusal::new(503, "unavailable", "no randomness to seal the file; retry")
            })
        }))??;
        let bucket = bucket(&self.env)?;
        let key = format!("{name}/{id}");
        let answer = serde_json::json!({ "id": id, "content_type": content_type, "size": size });
        if let Some(existing) = bucket.head(key.as_str()).await.map_err(r2_failure)? {
            let meta = existing.custom_metadata().unwrap_or_default();
            if meta.get("uploader").map(String::as_str) == Some(uploader) {
                return Ok(http::json(&answer));
            }
            return Err(Refusal::new(
                409,
                "attachment_exists",
                "another file has this id; upload under a new random id",
            ));
        }
        let meta = HashMap::from([
            ("uploader".to_owned(), uploader.to_owned()),
            ("content_type".to_owned(), content_type.to_owned()),
            ("size".to_owned(), size.to_string()),
        ]);
        bucket.put(key, sealed).custom_metadata(meta).execute().await.map_err(r2_failure)?;
        Ok(ResponseBuilder::new()
            .with_status(201)
            .from_json(&answer)
            .unwrap_or_else(|_| http::no_content()))
    }

    /// The file, opened: raster images inline, anything else as a download, never
    /// interpreted by the browser (no sniffing, a sandbox CSP).
    pub(super) async fn get_attachment(&self, name: &str, id: &str) -> Result<Response, Refusal> {
        // An erased conversation answers 410 here, before R2 is asked.
        opened(self.with_live(Some(name), |_| ()))?;
        let object = bucket(&self.env)?
            .get(format!("{name}/{id}"))
            .execute()
            .await
            .map_err(r2_failure)?
            .ok_or_else(|| {
                Refusal::new(
                    404,
                    "no_attachment",
                    "no such attachment in this conversation (not uploaded yet?)",
                )
            })?;
        let meta = object.custom_metadata().unwrap_or_default();
        let sealed = match object.body() {
            Some(body) => body.bytes().await.map_err(r2_failure)?,
            None => Vec::new(),
        };
        let plain = opened(self.with_live(Some(name), |live| {
            live.cipher.open_record(PURPOSE, &[id.as_bytes()], &sealed)
        }))?
        .map_err(|e| {
            worker::console_error!("attachment does not open: {e}");
            Refusal::new(500, "attachment_unreadable", "the stored file does not open")
        })?;
        let content_type = meta.get("content_type").cloned().unwrap_or_default();
        let shown = AttachmentRef {
            id: id.to_owned(),
            name: "file".into(),
            content_type: content_type.clone(),
            size: plain.len() as u64,
        };
        let (served_type, disposition) = if shown.is_inline_image() {
            (content_type.as_str(), "inline")
        } else {
            ("application/octet-stream", "attachment")
        };
        let headers = [
            ("content-type", served_type),
            ("content-disposition", disposition),
            ("x-content-type-options", "nosniff"),
            ("content-security-policy", "default-src 'none'; sandbox"),
            ("cache-control", "private, max-age=300"),
            ("cross-origin-resource-policy", "cross-origin"),
        ];
        let builder = headers
            .into_iter()
            .try_fold(ResponseBuilder::new(), |b, (k, v)| b.with_header(k, v))
            .map_err(|e| Refusal::new(500, "internal", e.to_string()))?;
        Ok(builder.fixed(plain))
    }
}

/// Deletes every attachment of the conversation `name` (at erasure; repeating is harmless).
pub(super) async fn delete_all(env: &Env, name: &str) -> Result<usize, Refusal> {
    let bucket = bucket(env)?;
    let prefix = format!("{name}/");
    let mut deleted = 0;
    loop {
        let listed =
            bucket.list().prefix(prefix.clone()).limit(1000).execute().await.map_err(r2_failure)?;
        let keys: Vec<String> = listed.objects().iter().map(|o| o.key()).collect();
        if keys.is_empty() {
            return Ok(deleted);
        }
        deleted += keys.len();
        bucket
            .delete_multiple(keys.iter().map(String::as_str).collect())
            .await
            .map_err(r2_failure)?;
    }
}
