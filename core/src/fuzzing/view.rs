//! The properties of one relay step, checked against PROTOCOL.md §8 (the document layout and
//! who may write what) rather than against `validate.rs`, so a hole in the validator shows up
//! as a broken property here.

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::{ActorId, Automerge, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use crate::ids::{DeviceId, MessageId};
use crate::message::{MessageKind, Role, MAX_BODY_BYTES, MAX_NAME_BYTES};
use crate::relay::{PeerInfo, RelayError};
use crate::shared_doc::SharedDoc;
use crate::store::{ChunkKind, MemStoreError, Persister};
use crate::validate::{MAX_FIELD_KEY_BYTES, MAX_FIELD_VALUE_BYTES};
use crate::workflow::status;

use super::store::SharedStore;

/// The conversation as readers see it: every visible value, nested objects spelled out.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct View {
    /// Root keys with their scalar values or object ids (the objects are compared below).
    root: BTreeMap<String, String>,
    /// (object id, content) of every entry of `messages`, in order.
    messages: Vec<(String, String)>,
    delivered: BTreeMap<String, String>,
    read: BTreeMap<String, String>,
    profile: BTreeMap<String, String>,
    status: BTreeMap<String, String>,
}

impl View {
    pub(super) fn of(doc: &SharedDoc) -> View {
        let am = doc.automerge();
        let messages = am
            .list_range(doc.messages_obj(), ..)
            .map(|item| {
                (item.id().to_string(), dump(am, &item.value.clone().into_value(), &item.id()))
            })
            .collect();
        View {
            root: am
                .map_range(automerge::ROOT, ..)
                .map(|item| (item.key.to_string(), format!("{:?} {}", item.value, item.id())))
                .collect(),
            messages,
            delivered: entries(am, doc.delivered_obj()),
            read: entries(am, doc.read_obj()),
            profile: entries(am, doc.profile_obj()),
            status: entries(am, doc.status_obj()),
        }
    }
}

fn entries(doc: &Automerge, obj: &ObjId) -> BTreeMap<String, String> {
    doc.map_range(obj, ..)
        .map(|item| (item.key.to_string(), dump(doc, &item.value.clone().into_value(), &item.id())))
        .collect()
}

/// A value as text; an object with everything in it (text objects as such, not as strings).
fn dump(doc: &Automerge, value: &Value<'_>, id: &ObjId) -> String {
    match value {
        Value::Scalar(s) => format!("{s:?}"),
        Value::Object(ObjType::Map | ObjType::Table) => format!("map{:?}", entries(doc, id)),
        Value::Object(ObjType::Text) => format!("text{:?}", doc.text(id).unwrap_or_default()),
        Value::Object(ty) => {
            let items: Vec<String> = doc
                .list_range(id, ..)
                .map(|i| dump(doc, &i.value.clone().into_value(), &i.id()))
                .collect();
            format!("{ty:?}{items:?}")
        }
    }
}

/// What is stored and shown before a step.
pub(super) struct Snapshot {
    pub chunks: Vec<(ChunkKind, Vec<u8>)>,
    pub heads: Vec<ChangeHash>,
    pub view: View,
}

impl Snapshot {
    pub(super) fn take(store: &SharedStore, doc: &SharedDoc) -> Snapshot {
        Snapshot { chunks: store.chunks(), heads: doc.heads(), view: View::of(doc) }
    }
}

/// What a relay opened from `store` would hold (what the Durable Object rebuilds).
pub(super) fn reopened(store: &SharedStore) -> SharedDoc {
    let (doc, _) =
        Persister::open(store.copy(), ActorId::from([0u8; 16])).expect("stored state reopens");
    doc
}

/// A refused input: nothing stored changed, and the relay's memory holds nothing unpersisted
/// unless the error makes its owner reload.
pub(super) fn check_refused(
    before: &Snapshot,
    store: &SharedStore,
    live: &SharedDoc,
    err: &RelayError<MemStoreError>,
) {
    assert!(store.chunks() == before.chunks, "refused input changed the store: {err}");
    let stored = reopened(store);
    assert_eq!(stored.heads(), before.heads, "refused input is in the reopened document: {err}");
    assert_eq!(View::of(&stored), before.view);
    if !err.must_reload() {
        assert_eq!(live.heads(), before.heads, "unpersisted input kept in memory: {err}");
    }
    let code = err.close_code();
    assert!(matches!(code, 1002 | 1007 | 1008 | 1009), "peer input closed with {code}: {err}");
    assert!(err.close_reason().len() <= 123);
}

/// An accepted input: persisted exactly as held, history untouched, and every new value
/// allowed for `writer` by PROTOCOL.md §8.
pub(super) fn check_accepted(
    before: &Snapshot,
    store: &SharedStore,
    live: &SharedDoc,
    writer: &PeerInfo,
    now: i64,
) {
    let after = View::of(live);
    let stored = reopened(store);
    assert_eq!(stored.heads(), live.heads(), "accepted input was not persisted as relayed");
    assert_eq!(View::of(&stored), after);
    assert_eq!(after.root, before.view.root, "the document root changed");

    // Existing messages: all there, unchanged, in the same order.
    let position: HashMap<&str, (usize, &str)> = after
        .messages
        .iter()
        .enumerate()
        .map(|(i, (id, content))| (id.as_str(), (i, content.as_str())))
        .collect();
    let mut last = None;
    for (id, content) in &before.view.messages {
        let &(pos, now_content) = position.get(id.as_str()).expect("a message was deleted");
        assert_eq!(now_content, content, "message {id} was edited");
        assert!(last < Some(pos), "messages were reordered");
        last = Some(pos);
    }
    // New messages: well formed, the writer's own, each stamped delivered now.
    let old: HashSet<&str> = before.view.messages.iter().map(|(id, _)| id.as_str()).collect();
    let am = live.automerge();
    let mut fresh_ids = HashSet::new();
    for item in am.list_range(live.messages_obj(), ..) {
        if !old.contains(item.id().to_string().as_str()) {
            fresh_ids.insert(new_message(
                live,
                &item.value.clone().into_value(),
                &item.id(),
                writer,
            ));
        }
    }
    let all: Vec<String> = live.messages().iter().map(|m| m.id.to_string()).collect();
    assert_eq!(all.len(), after.messages.len(), "a message is malformed");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len(), "duplicate message ids");

    // Receipts: old ones unchanged, one new per new message, at `now`.
    for (k, v) in &before.view.delivered {
        assert_eq!(after.delivered.get(k), Some(v), "receipt {k} changed");
    }
    let new_receipts: HashSet<String> = after
        .delivered
        .keys()
        .filter(|k| !before.view.delivered.contains_key(*k))
        .cloned()
        .collect();
    assert_eq!(new_receipts, fresh_ids, "receipts do not match the new messages");
    for id in &fresh_ids {
        let at = live.delivered_at(&MessageId::new(id.clone()).expect("id checked"));
        assert_eq!(at, Some(now), "receipt of {id}");
    }

    // Read marks: none removed; changed ones are the writer's, naming a message id.
    for (key, value) in changed(&before.view.read, &after.read, "read mark") {
        let device = key.strip_prefix(&format!("{}/", writer.participant));
        let device = device.unwrap_or_else(|| panic!("{writer:?} wrote read mark {key:?}"));
        assert!(DeviceId::new(device).is_ok(), "read mark key {key:?}");
        let v = live.automerge().get(live.read_obj(), key.as_str()).ok().flatten();
        let id = v.as_ref().and_then(|(v, _)| v.as_str().map(str::to_owned));
        let id = id.unwrap_or_else(|| panic!("read mark {key:?} = {value} is not a string"));
        assert!(MessageId::new(id).is_ok(), "read mark {key:?} = {value} is not a message id");
    }
    // Profile (visitors, agents, admins) and status (agents, admins): short scalars.
    let profile = changed(&before.view.profile, &after.profile, "profile value");
    let status = changed(&before.view.status, &after.status, "status value");
    for (keys, obj, roles) in [
        (profile, live.profile_obj(), &[Role::Visitor, Role::Agent, Role::Admin][..]),
        (status, live.status_obj(), &[Role::Agent, Role::Admin][..]),
    ] {
        for (key, _) in keys {
            assert!(roles.contains(&writer.role), "{:?} wrote {key:?}", writer.role);
            assert!(key.len() <= MAX_FIELD_KEY_BYTES, "key of {} bytes", key.len());
            let (value, _) = am.get(obj, key.as_str()).ok().flatten().expect("changed key");
            let len = match &value {
                Value::Scalar(s) => match s.as_ref() {
                    ScalarValue::Str(s) => s.len(),
                    ScalarValue::Bytes(b) | ScalarValue::Unknown { bytes: b, .. } => b.len(),
                    _ => 0,
                },
                Value::Object(ty) => panic!("{key:?} holds a {ty:?} object"),
            };
            assert!(len <= MAX_FIELD_VALUE_BYTES, "{key:?} holds {len} bytes");
            if obj == live.status_obj() {
                let Value::Scalar(s) = &value else { unreachable!("checked above") };
                assert!(status::check_field(key, s).is_ok(), "status.{key} = {s}");
            }
        }
    }
}

/// Keys whose value is new or different; panics if one was removed.
fn changed<'a>(
    before: &BTreeMap<String, String>,
    after: &'a BTreeMap<String, String>,
    what: &str,
) -> Vec<(&'a String, &'a String)> {
    for k in before.keys() {
        assert!(after.contains_key(k), "{what} {k:?} was deleted");
    }
    after.iter().filter(|(k, v)| before.get(*k) != Some(v)).collect()
}

/// Checks a message the step added (PROTOCOL.md §8.2, §8.6) and returns its id.
fn new_message(doc: &SharedDoc, value: &Value<'_>, obj: &ObjId, writer: &PeerInfo) -> String {
    let am = doc.automerge();
    assert!(matches!(value, Value::Object(ObjType::Map)), "a new message is a {value:?}");
    let keys: Vec<String> = am.keys(obj).collect();
    assert_eq!(keys, ["author", "body", "device", "id", "kind", "sent_at"], "message fields");
    let get = |o: &ObjId, k: &str| am.get(o, k).ok().flatten().expect("listed key");
    let text = |o: &ObjId, k: &str| match get(o, k).0 {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            other => panic!("message field {k} is {other:?}, not a string"),
        },
        other => panic!("message field {k} is {other:?}, not a string"),
    };
    let author = match get(obj, "author") {
        (Value::Object(ObjType::Map), id) => id,
        other => panic!("author is {other:?}"),
    };
    let author_keys: Vec<String> = am.keys(&author).collect();
    assert_eq!(author_keys, ["id", "name", "role"], "author fields");
    assert!(get(obj, "sent_at").0.as_i64().is_some(), "sent_at is not a number");
    let id = text(obj, "id");
    assert!(MessageId::new(id.as_str()).is_ok(), "message id {id:?}");
    assert_eq!(text(&author, "id"), writer.participant.as_str(), "forged author.id");
    assert_eq!(text(&author, "role"), writer.role.as_str(), "forged author.role");
    assert_eq!(text(obj, "device"), writer.device.as_str(), "forged device");
    assert!(text(&author, "name").len() <= MAX_NAME_BYTES, "author name over the limit");
    assert!(text(obj, "body").len() <= MAX_BODY_BYTES, "body over the limit");
    let kind = MessageKind::parse(&text(obj, "kind")).expect("unknown kind");
    let allowed = match writer.role {
        Role::Visitor => kind == MessageKind::Text,
        Role::Agent | Role::Admin => kind != MessageKind::AutoReply,
        Role::Server => true,
    };
    assert!(allowed, "a {:?} wrote a {kind:?} message", writer.role);
    assert!(doc.message_in(obj).is_some(), "readers cannot read message {id}");
    id
}
