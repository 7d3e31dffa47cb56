//! Issue 3, encryption at rest, on the real Worker: the SQLite files `wrangler dev` persists
//! hold none of the message texts; history reads after a master key rotation (and after the
//! old key is gone, proving the rewrap); a missing master key is a clear 503 naming its id;
//! after erasure the history cannot be read, through the relay or from the raw files with
//! the master keys in hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use edgedesk_client::SdkEvent;
use edgedesk_core::at_rest::{
    open_data_key, ChunkCipher, EncryptedStore, KeyError, KeyRecord, MasterKeys, SealedChunk,
};
use edgedesk_core::automerge::ActorId;
use edgedesk_core::ids::{ConversationId, DeviceId, MessageId, ParticipantId};
use edgedesk_core::message::{Author, Message, MessageKind, Role};
use edgedesk_core::shared_doc::SharedDoc;
use edgedesk_core::store::{ChunkKind, ChunkStore, DocLabel, Persister};
use edgedesk_e2e::*;

const VAR: &str = "EDGEDESK_MASTER_KEYS";
/// Two test master keys (32 bytes each, base64).
const OLD: &str = "old-2025:b2xkLW1hc3Rlci1rZXktZm9yLWUyZS10ZXN0cy0wMDE=";
const NEW: &str = "new-2026:bmV3LW1hc3Rlci1rZXktZm9yLWUyZS10ZXN0cy0wMDI=";

fn key_part(entry: &str) -> &str {
    entry.split_once(':').map(|(_, k)| k).unwrap_or_default()
}

/// What the conversation's Durable Object database holds, read from a copy of its files
/// (with its WAL) while workerd is down.
struct RawConversation {
    record: Option<KeyRecord>,
    rows: Vec<SealedChunk>,
    tables: Vec<String>,
}

/// The database file of the Durable Object named `name` (miniflare records the name).
/// The conversation's Durable Object name, which its storage is bound to.
fn object_name(conv: &ConversationId) -> String {
    format!("{WORKSPACE}/{conv}")
}

/// `POST …/erase` with `token`: (status, body).
fn erase(relay: &Relay, conv: &ConversationId, token: &str) -> (u16, String) {
    let path = format!("/v1/workspaces/{WORKSPACE}/conversations/{conv}/erase");
    http_request(relay.port, "POST", &path, Some(token), None).expect("erase request")
}

fn object_db(state: &Path, name: &str) -> PathBuf {
    all_files(state)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sqlite"))
        .find(|f| {
            let db = rusqlite::Connection::open_with_flags(
                f,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            db.query_row("SELECT name FROM __miniflare_do_name", [], |r| r.get::<_, String>(0))
                .is_ok_and(|n| n == name)
        })
        .unwrap_or_else(|| panic!("no database for object {name} under {}", state.display()))
}

fn read_raw(state: &Path, name: &str, scratch: &Path) -> RawConversation {
    let db = object_db(state, name);
    std::fs::create_dir_all(scratch).unwrap();
    let copy = scratch.join("copy.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        let to = PathBuf::from(format!("{}{suffix}", copy.display()));
        let _ = std::fs::remove_file(&to);
        if from.exists() {
            std::fs::copy(from, to).unwrap();
        }
    }
    let db = rusqlite::Connection::open(&copy).unwrap();
    let tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    let record = db
        .query_row("SELECT conversation, kid, wrapped, erased_at FROM conversation_key", [], |r| {
            let conversation: String = r.get(0)?;
            Ok(match r.get::<_, Option<i64>>(3)? {
                Some(at_ms) => KeyRecord::Erased { conversation, at_ms },
                None => KeyRecord::Live { conversation, kid: r.get(1)?, wrapped: r.get(2)? },
            })
        })
        .ok();
    let rows = db
        .prepare("SELECT seq, kind, data FROM sealed_chunks WHERE doc = 'shared' ORDER BY seq")
        .unwrap()
        .query_map([], |r| {
            let kind: String = r.get(1)?;
            Ok(SealedChunk {
                seq: r.get::<_, i64>(0)? as u64,
                kind: ChunkKind::parse(&kind).unwrap(),
                data: r.get(2)?,
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    RawConversation { record, rows, tables }
}

/// Decrypts the raw rows with the master keys, as an attacker holding the files and the
/// keys could: the stored document and the plaintext chunks.
fn decrypt(
    raw: &RawConversation,
    master_keys: &str,
) -> Result<(SharedDoc, Vec<Vec<u8>>), KeyError> {
    let keys = MasterKeys::parse(master_keys).unwrap();
    let opened = open_data_key(raw.record.as_ref(), &keys, None)?;
    let mem = edgedesk_core::at_rest::sealed_store::MemSealedStore {
        rows: raw.rows.iter().map(|r| (DocLabel::Shared, r.clone())).collect(),
    };
    let cipher = ChunkCipher::new(&opened.key, &opened.conversation);
    let mut store = EncryptedStore::new(mem.clone(), cipher.clone(), DocLabel::Shared);
    let chunks = store.load().expect("rows decrypt").into_iter().map(|(_, c)| c).collect();
    let (doc, _) =
        Persister::open(EncryptedStore::new(mem, cipher, DocLabel::Shared), ActorId::random())
            .expect("document loads");
    Ok((doc, chunks))
}

/// Message texts, sorted: concurrent writers' messages merge in an order of Automerge's
/// choosing, and this test is about content.
fn bodies(messages: &[Message]) -> Vec<String> {
    let mut texts: Vec<String> = messages.iter().map(|m| m.body.clone()).collect();
    texts.sort();
    texts
}

/// Compares texts without printing the bulky ones in full.
#[track_caller]
fn assert_texts(got: &[String], want: &[String]) {
    let mut want = want.to_vec();
    want.sort();
    if got != want {
        let short = |t: &[String]| {
            t.iter().map(|s| s.chars().take(40).collect::<String>()).collect::<Vec<_>>()
        };
        panic!("texts differ:\n got {:?}\nwant {:?}", short(got), short(&want));
    }
}

/// A fresh device that reads the whole conversation back from the relay.
async fn read_back(relay: &Relay, conv: &ConversationId, dir: &Path, count: usize) -> Vec<String> {
    let reader = client(relay, conv, identity(Role::Agent, "auditor", "fresh"), dir).await;
    converge(relay, conv, &[&reader], count).await;
    let got = bodies(&reader.messages());
    reader.shutdown().await;
    got
}

/// Distinct incompressible text (so the snapshot cannot shrink it away) with a marker.
fn bulk_body(i: usize, tag: &str) -> String {
    let mut seed = 0x2545f4914f6cdd1du64 ^ i as u64;
    let noise: String = (0..12_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            char::from(b'a' + (seed % 26) as u8)
        })
        .collect();
    format!("BULK-{i}-{tag} {noise}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_history_is_sealed_survives_rotation_and_is_unreadable_after_erasure() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut relay = Relay::start_with_vars(&state, &[(VAR, OLD)]);
    let conv = conversation("sealed");
    let tag = edgedesk_core::ids::random_hex::<6>();

    // A conversation: small messages from two devices, bulky ones that force a compaction
    // (so snapshot rows are sealed too), then more small ones stored as increments.
    let visitor =
        client(&relay, &conv, identity(Role::Visitor, "v1", "phone"), &tmp.path().join("v")).await;
    let agent =
        client(&relay, &conv, identity(Role::Agent, "a1", "desk"), &tmp.path().join("a")).await;
    let mut written = Vec::new();
    for i in 0..3 {
        written.push(format!("visitor secret {i}: my card ends in 4{i}42 ({tag})"));
        visitor.send_text(written.last().unwrap()).await.unwrap();
        written.push(format!("agent secret {i}: refund code ZX-{i}-{tag}"));
        agent.send_text(written.last().unwrap()).await.unwrap();
    }
    // The agents' internal document is stored the same way: a note and a tag, searched for too.
    let internal_written =
        [format!("internal note: reseller account ({tag})"), format!("vip-{tag}")];
    agent.add_note(&internal_written[0]).await.unwrap();
    agent.add_tag(&internal_written[1]).await.unwrap();
    for i in 0..7 {
        written.push(bulk_body(i, &tag));
        visitor.send_text(written.last().unwrap()).await.unwrap();
    }
    converge(&relay, &conv, &[&visitor, &agent], written.len()).await;
    let stats = relay.stats(conv.as_str());
    assert!(stats["store"]["snapshot_rows"].as_u64().unwrap() >= 1, "no compaction: {stats}");
    for i in 0..2 {
        written.push(format!("after compaction {i}: passport X{i}-{tag}"));
        agent.send_text(written.last().unwrap()).await.unwrap();
    }
    converge(&relay, &conv, &[&visitor, &agent], written.len()).await;
    assert_texts(&bodies(&agent.messages()), &written);
    visitor.shutdown().await;
    agent.shutdown().await;
    // SIGKILL: what is on disk is what workerd made durable (much of it only in the WAL).
    relay.kill();

    // 1. No message text in any persisted file.
    let files = all_files(&state);
    assert!(files.iter().any(|f| f.to_string_lossy().ends_with(".sqlite-wal")), "{files:?}");
    // Control: the same search finds what is stored in clear (our table name in the schema).
    assert!(!files_containing(&state, b"sealed_chunks").is_empty(), "the search finds nothing");
    let needles: Vec<&str> =
        written.iter().chain(&internal_written).map(|w| &w[..w.len().min(48)]).collect();
    for needle in &needles {
        let found = files_containing(&state, needle.as_bytes());
        assert!(found.is_empty(), "{needle:?} is stored in clear in {found:?}");
    }
    assert!(files_containing(&state, tag.as_bytes()).is_empty(), "the run's tag is in clear");
    // Control: with the master key, the raw rows decrypt to the conversation, and the same
    // search finds the texts in the decrypted increments.
    let raw = read_raw(&state, &object_name(&conv), &tmp.path().join("raw1"));
    let (doc, plain) = decrypt(&raw, OLD).expect("the old key opens the stored data key");
    assert_texts(&bodies(&doc.messages()), &written);
    assert!(raw.rows.iter().any(|r| r.kind == ChunkKind::Snapshot));
    let last = written.last().unwrap();
    assert!(plain.iter().any(|c| bytes_contain(c, &last.as_bytes()[..last.len().min(48)])));
    assert!(matches!(&raw.record, Some(KeyRecord::Live { kid, .. }) if kid == "old-2025"));

    // 2. Rotation: a new current key, the old one kept. History reads, and opening the
    // conversation rewrapped its data key with the new key.
    let rotated = format!("{NEW},{OLD}");
    relay.restart_with_vars(&[(VAR, &rotated)]);
    assert_texts(&read_back(&relay, &conv, &tmp.path().join("r1"), written.len()).await, &written);
    relay.kill();
    let raw = read_raw(&state, &object_name(&conv), &tmp.path().join("raw2"));
    assert!(matches!(&raw.record, Some(KeyRecord::Live { kid, .. }) if kid == "new-2026"));
    assert_texts(&bodies(&decrypt(&raw, NEW).unwrap().0.messages()), &written);

    // 3. The old key removed: still readable.
    relay.restart_with_vars(&[(VAR, NEW)]);
    assert_texts(&read_back(&relay, &conv, &tmp.path().join("r2"), written.len()).await, &written);

    // 4. Only a key the data key is not wrapped with: a clear 503 naming the missing key id,
    // with no key material in it; a WebSocket upgrade is refused the same way.
    relay.restart_with_vars(&[(VAR, OLD)]);
    let admin = relay.token_as(Role::Admin, "dpo", &conv);
    let (status, body) =
        http_request(relay.port, "GET", &stats_path(&conv), Some(&admin), None).unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("encryption_key_unavailable") && body.contains("new-2026"), "{body}");
    assert!(!body.contains(key_part(OLD)) && !body.contains(key_part(NEW)), "{body}");
    let agent_token = relay.token_as(Role::Agent, "a1", &conv);
    let (status, code, _) =
        handshake_refusal(connect_raw(&relay, &conv, Some(&agent_token), "device=x").await);
    assert_eq!((status, code.as_str()), (503, "encryption_key_unavailable"));

    // 5. Erasure while a device is connected: its socket closes with 4410; afterwards the
    // conversation answers 410 Gone, and a fresh device gets nothing.
    relay.restart_with_vars(&[(VAR, NEW)]);
    let watcher =
        client(&relay, &conv, identity(Role::Agent, "a1", "desk"), &tmp.path().join("a")).await;
    converge(&relay, &conv, &[&watcher], written.len()).await;
    let mut events = watcher.events();
    // Only an admin may erase: an agent's token is refused, and nothing happens.
    let agent_token = relay.token_as(Role::Agent, "a1", &conv);
    let (status, body) = erase(&relay, &conv, &agent_token);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("role_not_allowed"), "{body}");
    let (status, body) = erase(&relay, &conv, &admin);
    assert_eq!(status, 200, "{body}");
    let erased: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(erased["erased"], true);
    let close = wait_for(&mut events, |e| match e {
        SdkEvent::Disconnected { code, .. } => Some(*code),
        _ => None,
    })
    .await;
    assert_eq!(close, Some(4410));
    let refused = wait_for(&mut events, |e| match e {
        SdkEvent::ConnectFailed { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(refused.contains("410"), "{refused}");
    watcher.shutdown().await;
    let gone = |relay: &Relay| {
        let admin = relay.token_as(Role::Admin, "dpo", &conv);
        let (status, body) =
            http_request(relay.port, "GET", &stats_path(&conv), Some(&admin), None).unwrap();
        assert_eq!(status, 410, "{body}");
        assert!(body.contains("conversation_erased"), "{body}");
    };
    gone(&relay);
    assert_fresh_device_gets_nothing(&relay, &conv, &tmp.path().join("r3")).await;
    // Erasing again is harmless and reports the first erasure.
    let (status, again) = erase(&relay, &conv, &admin);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&again).unwrap()["at"], erased["at"]);

    // 6. The tombstone is durable, and the raw files no longer hold a data key: with every
    // master key in hand, the history does not decrypt.
    relay.restart_with_vars(&[(VAR, NEW)]);
    gone(&relay);
    relay.kill();
    let raw = read_raw(&state, &object_name(&conv), &tmp.path().join("raw3"));
    assert!(matches!(raw.record, Some(KeyRecord::Erased { .. })), "{:?}", raw.record);
    assert!(raw.rows.is_empty(), "sealed rows left: {}", raw.rows.len());
    assert!(matches!(decrypt(&raw, &rotated), Err(KeyError::Erased { .. })));
    for needle in &needles {
        assert!(files_containing(&state, needle.as_bytes()).is_empty());
    }
}

/// A device new to the conversation: the relay refuses it with 410 and it holds nothing.
async fn assert_fresh_device_gets_nothing(relay: &Relay, conv: &ConversationId, dir: &Path) {
    let device = client(relay, conv, identity(Role::Agent, "auditor", "fresh"), dir).await;
    let mut events = device.events();
    let first = wait_for(&mut events, |e| match e {
        SdkEvent::ConnectFailed { reason } => Some(reason.clone()),
        SdkEvent::Connected => Some("connected".into()),
        _ => None,
    })
    .await;
    assert!(first.contains("410"), "{first}");
    assert_eq!(device.with_view(|v| v.message_count()), 0);
    device.shutdown().await;
}

/// The first event `pick` maps to a value (90 s at most, so a bug fails instead of hanging).
async fn wait_for<T>(
    events: &mut tokio::sync::broadcast::Receiver<SdkEvent>,
    pick: impl Fn(&SdkEvent) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let Some(v) = pick(&e) {
                        return v;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await;
    found.expect("the expected event did not arrive")
}

fn legacy_message(i: usize) -> Message {
    Message {
        id: MessageId::new(format!("legacy-{i}")).unwrap(),
        author: Author {
            role: Role::Visitor,
            id: ParticipantId::new("v-old").unwrap(),
            name: "Old visitor".into(),
        },
        device: DeviceId::new("d-old").unwrap(),
        kind: MessageKind::Text,
        body: format!("written before encryption {i}"),
        sent_at: 1_700_000_000_000 + i as i64,
        attachment: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_stored_before_encryption_is_sealed_on_first_open() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut relay = Relay::start(&state);
    let conv = conversation("legacy");
    // Creates the object's database; then it is rewritten into the pre-encryption layout.
    relay.stats(conv.as_str());
    relay.kill();

    let mut doc = SharedDoc::new(ActorId::random()).unwrap();
    doc.append(&legacy_message(0), 1).unwrap();
    doc.append(&legacy_message(1), 2).unwrap();
    let snapshot = doc.automerge().save();
    let heads = doc.heads();
    doc.append(&legacy_message(2), 3).unwrap();
    let increment = doc.automerge().save_after(&heads);
    {
        let db = rusqlite::Connection::open(object_db(&state, &object_name(&conv))).unwrap();
        db.execute_batch(
            "DELETE FROM conversation_key; DROP TABLE sealed_chunks;
             CREATE TABLE chunks (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, data BLOB NOT NULL);",
        )
        .unwrap();
        let mut insert = db.prepare("INSERT INTO chunks (kind, data) VALUES (?, ?)").unwrap();
        insert.execute(rusqlite::params!["snapshot", snapshot]).unwrap();
        insert.execute(rusqlite::params!["increment", increment]).unwrap();
    }

    relay.restart();
    let want: Vec<String> = (0..3).map(|i| legacy_message(i).body).collect();
    assert_texts(&read_back(&relay, &conv, &tmp.path().join("r"), 3).await, &want);
    relay.kill();
    let raw = read_raw(&state, &object_name(&conv), &tmp.path().join("raw"));
    assert!(!raw.tables.contains(&"chunks".to_owned()), "{:?}", raw.tables);
    assert_eq!(
        raw.rows.iter().map(|r| (r.seq, r.kind)).collect::<Vec<_>>(),
        [(1, ChunkKind::Snapshot), (2, ChunkKind::Increment)]
    );
    let (doc, _) = decrypt(&raw, TEST_MASTER_KEYS).unwrap();
    assert_texts(&bodies(&doc.messages()), &want);
}
