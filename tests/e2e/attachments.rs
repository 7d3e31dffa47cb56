//! Issue 16, attachments over the real Worker with wrangler's local R2 (PROTOCOL.md §2.10):
//! participants upload files under ids they choose; the workspace's configuration bounds
//! their size and type; a file is read only through a short-lived link that a participant of
//! its conversation gets, for that conversation's file only; messages carry the attachment
//! between real SDK clients; R2 holds no plaintext; erasure makes the links fail and deletes
//! the objects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use edgedesk_core::attachment::{signed_url, AttachmentRef};
use edgedesk_core::ids::ConversationId;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;
use serde_json::{json, Value};

const MARKER: &[u8] = b"EDGEDESK-ATTACHMENT-PLAINTEXT-7f3a";

fn png_bytes(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    while bytes.len() < len {
        bytes.extend_from_slice(MARKER);
    }
    bytes.truncate(len);
    bytes
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn attachment_path(conv: &ConversationId, id: &str) -> String {
    format!("/v1/workspaces/{}/conversations/{conv}/attachments/{id}", workspace())
}

/// `PUT` an upload: (status, JSON).
fn upload(
    relay: &Relay,
    conv: &ConversationId,
    token: &str,
    id: &str,
    ty: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let url =
        format!("{}{}?name=%E6%88%AA%E5%9B%BE.png", relay.base_url(), attachment_path(conv, id));
    let mut resp = agent()
        .put(&url)
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", ty)
        .send(bytes)
        .expect("upload");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `GET …/link`: (status, JSON).
fn link(relay: &Relay, conv: &ConversationId, token: &str, id: &str) -> (u16, Value) {
    let path = format!("{}/link", attachment_path(conv, id));
    let (status, body) = http_request(relay.port, "GET", &path, Some(token), None).expect("link");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `GET` a link: (status, content type, bytes or the error JSON's code).
fn fetch(relay: &Relay, url: &str) -> (u16, String, Vec<u8>) {
    let mut resp = agent().get(&format!("{}{url}", relay.base_url())).call().expect("file");
    let status = resp.status().as_u16();
    let ty = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp.body_mut().read_to_vec().unwrap_or_default();
    (status, ty, bytes)
}

fn code(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn r2_files(state: &Path) -> Vec<PathBuf> {
    all_files(state).into_iter().filter(|f| f.to_string_lossy().contains("/r2/")).collect()
}

/// The object keys in wrangler's local R2 (its SQLite index of objects).
fn r2_keys(state: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    for db in r2_files(state).into_iter().filter(|f| f.extension().is_some_and(|e| e == "sqlite")) {
        let db =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open R2's index");
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default();
        for t in tables {
            let query = format!("SELECT key FROM \"{t}\"");
            if let Ok(mut stmt) = db.prepare(&query) {
                let found: Vec<String> = stmt
                    .query_map([], |r| r.get(0))
                    .map(|rows| rows.flatten().collect())
                    .unwrap_or_default();
                keys.extend(found);
            }
        }
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_read_only_through_fresh_links_of_their_conversation_and_go_with_erasure() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let relay = Relay::start(&state);
    relay.configure(
        &json!({ "attachments": { "max_bytes": 4096, "types": ["image/*", "application/pdf"] } }),
    );
    let conv_a = conversation("attach-a");
    let conv_b = conversation("attach-b");
    let visitor_a = relay.token_as(Role::Visitor, "v-attach", &conv_a);
    let visitor_b = relay.token_as(Role::Visitor, "v-other", &conv_b);
    let agent_a = relay.token_as(Role::Agent, "agent-ada", &conv_a);
    let id = "0123456789abcdef01234567";
    let bytes = png_bytes(3000);

    // Upload: the workspace's limits hold; a retry is the same upload; nobody else takes the id.
    let (status, body) = upload(&relay, &conv_a, &visitor_a, id, "image/png", &bytes);
    assert_eq!((status, body["size"].as_u64()), (201, Some(3000)), "{body}");
    let (status, _) = upload(&relay, &conv_a, &visitor_a, id, "image/png", &bytes);
    assert_eq!(status, 200, "a retried upload answers as the first");
    let (status, body) = upload(&relay, &conv_a, &agent_a, id, "image/png", b"other");
    assert_eq!((status, body["error"].as_str()), (409, Some("attachment_exists")), "{body}");
    let other = "fedcba9876543210fedcba98";
    let (status, body) = upload(&relay, &conv_a, &visitor_a, other, "image/png", &png_bytes(5000));
    assert_eq!((status, body["error"].as_str()), (413, Some("attachment_too_large")), "{body}");
    let (status, body) =
        upload(&relay, &conv_a, &visitor_a, other, "application/x-msdownload", b"MZ");
    assert_eq!((status, body["error"].as_str()), (415, Some("type_not_allowed")), "{body}");
    let (status, _) = upload(&relay, &conv_a, &visitor_b, other, "image/png", b"x");
    assert_eq!(status, 403, "a token for another conversation uploads nothing here");

    // The message carries the attachment between real clients.
    let dir = tmp.path().join("clients");
    let v =
        client(&relay, &conv_a, identity(Role::Visitor, "v-attach", "phone"), &dir.join("v")).await;
    let a =
        client(&relay, &conv_a, identity(Role::Agent, "agent-ada", "desk"), &dir.join("a")).await;
    let attachment = AttachmentRef {
        id: id.into(),
        name: "截图.png".into(),
        content_type: "image/png".into(),
        size: 3000,
    };
    v.send_attachment("", attachment.clone()).await.expect("send");
    converge(&relay, &conv_a, &[&v, &a], 1).await;
    assert_eq!(a.messages()[0].attachment.as_ref(), Some(&attachment));

    // A participant's link serves the file, once decrypted, as an image that is never sniffed.
    let (status, answer) = link(&relay, &conv_a, &agent_a, id);
    assert_eq!(status, 200, "{answer}");
    let url = answer["url"].as_str().expect("url").to_owned();
    let (status, ty, served) = fetch(&relay, &url);
    assert_eq!((status, ty.as_str()), (200, "image/png"));
    assert!(served == bytes, "the file comes back as uploaded");

    // Not for another conversation's participant, not moved to another conversation, not after
    // it expires.
    let (status, body) = link(&relay, &conv_a, &visitor_b, id);
    assert_eq!((status, body["error"].as_str()), (403, Some("wrong_conversation")), "{body}");
    let (status, answer) = link(&relay, &conv_b, &visitor_b, id);
    assert_eq!(status, 200);
    let (status, _, body) = fetch(&relay, answer["url"].as_str().expect("url"));
    assert_eq!(
        (status, code(&body).as_str()),
        (404, "no_attachment"),
        "conversation b has no such file"
    );
    let moved = url.replace(&format!("/{conv_a}/"), &format!("/{conv_b}/"));
    let (status, _, body) = fetch(&relay, &moved);
    assert_eq!((status, code(&body).as_str()), (403, "bad_link_signature"));
    let (old, _) = signed_url::sign(
        &relay.keys,
        workspace().as_str(),
        conv_a.as_str(),
        id,
        now_s() - signed_url::URL_TTL_SECONDS - 1,
    )
    .expect("sign");
    let expired = format!("/v1/files/{}/{conv_a}/{id}?{old}", workspace());
    let (status, _, body) = fetch(&relay, &expired);
    assert_eq!((status, code(&body).as_str()), (403, "link_expired"));

    // R2 holds the file sealed: its bytes are nowhere in the local state.
    let stored = r2_files(&state);
    assert!(
        !stored.is_empty(),
        "positive control: wrangler's local R2 is under the state directory"
    );
    assert!(
        r2_keys(&state).contains(&format!("{}/{conv_a}/{id}", workspace())),
        "positive control: the object is listed"
    );
    assert!(
        !files_containing(&state, b"content_type").is_empty(),
        "positive control: the object's metadata is found"
    );
    assert_eq!(
        files_containing(&state, MARKER),
        Vec::<PathBuf>::new(),
        "plaintext of the file on disk"
    );

    // Erasure: links fail, and the objects are gone from R2.
    v.shutdown().await;
    a.shutdown().await;
    let admin = relay.token_as(Role::Admin, "dpo", &conv_a);
    let path = format!("/v1/workspaces/{}/conversations/{conv_a}/erase", workspace());
    let (status, body) =
        http_request(relay.port, "POST", &path, Some(&admin), None).expect("erase");
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = fetch(&relay, &url);
    assert_eq!(status, 410, "a link to an erased conversation's file");
    let (status, answer) = link(&relay, &conv_a, &agent_a, id);
    if status == 200 {
        let (status, _, _) = fetch(&relay, answer["url"].as_str().expect("url"));
        assert_eq!(status, 410);
    }
    drop(relay);
    let listing = r2_keys(&state);
    assert!(
        listing.iter().all(|k| !k.starts_with(&format!("{}/{conv_a}/", workspace()))),
        "{listing:?}"
    );
}
