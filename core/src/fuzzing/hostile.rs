//! Hostile changes made with raw Automerge: any operation at any path with any value, in the
//! name of any actor, and the different ways a peer can carry changes to the relay. Also
//! deflate bombs: a few KiB that inflate to many MiB inside Automerge's parser.

use arbitrary::Arbitrary;
use automerge::{
    sync::{self, ChunkList, MessageVersion},
    transaction::{CommitOptions, Transactable},
    ActorId, Automerge, Change, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ROOT,
};

use crate::frame::{self, FrameType};
use crate::message::MAX_BODY_BYTES;
use crate::peer::PeerInfo;
use crate::shared_doc::SharedDoc;

use super::corpus::{corpus, DEVICES, PARTICIPANTS};

/// How the changes reach the relay.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub(super) enum Carrier {
    /// A changes frame (the fast path): raw change chunks.
    Changes,
    /// A changes frame of compressed change chunks (chunk type 2).
    CompressedChanges,
    /// A sync message (format 1) carrying the change chunks.
    SyncChanges,
    /// A sync message (format 2) carrying the sender's whole document, as Automerge sends it
    /// when the receiver lacks more than a third of it.
    SyncDocument,
    /// The real sync protocol, round trips included.
    Protocol,
}

/// A writer's edit of its replica of the relay's document, as one or more changes.
#[derive(Debug, Arbitrary)]
pub(super) struct Edit {
    actor: ActorPick,
    changes: Vec<Vec<Op>>,
    pub carrier: Carrier,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum ActorPick {
    Fresh(u8),
    /// The relay's own actor (clients must not use it).
    Relay,
    /// The schema change's actor.
    Schema,
    /// An honest device's actor, continuing (or colliding with) its sequence.
    Device(u8),
}

#[derive(Debug, Arbitrary)]
enum Op {
    Put {
        obj: ObjPick,
        key: KeyPick,
        value: ValuePick,
    },
    Insert {
        obj: ObjPick,
        index: u8,
        value: ValuePick,
    },
    Delete {
        obj: ObjPick,
        key: KeyPick,
    },
    DeleteAt {
        obj: ObjPick,
        index: u8,
    },
    Increment {
        obj: ObjPick,
        key: KeyPick,
        by: i8,
    },
    Splice {
        obj: ObjPick,
        at: u8,
        delete: u8,
        text: String,
    },
    /// A message appended (or inserted at `at`) the way the writer should, then tweaked.
    Message {
        at: Option<u8>,
        tweaks: Vec<Tweak>,
    },
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum ObjPick {
    Root,
    Messages,
    Delivered,
    Read,
    Status,
    Profile,
    Message(u8),
    Author(u8),
    /// An object this edit made.
    Made(u8),
}

#[derive(Debug, Arbitrary)]
enum KeyPick {
    MessageField(u8),
    AuthorField(u8),
    OwnRead,
    ReadOf(u8, u8),
    MessageId(u8),
    RootKey(u8),
    Short(u8),
    Long(Len),
    Free(String),
}

#[derive(Debug, Arbitrary)]
enum ValuePick {
    Str(StrPick),
    Int(i64),
    Uint(u64),
    F64(f64),
    Bool(bool),
    Null,
    Counter(i64),
    Timestamp(i64),
    Bytes(Len),
    Unknown(u8, Vec<u8>),
    Map,
    List,
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum StrPick {
    WriterId,
    WriterDevice,
    WriterRole,
    Participant(u8),
    Device(u8),
    Role(u8),
    Kind(u8),
    MessageId(u8),
    Repeat(Len),
    Free(String),
}

/// A length near one of the documented bounds (ids, names, field values, bodies).
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Len {
    near: u8,
    delta: i8,
}

impl Len {
    fn get(self) -> usize {
        let base = [0, 64, 128, 1024, MAX_BODY_BYTES][usize::from(self.near) % 5];
        base.saturating_add_signed(isize::from(self.delta % 4))
    }
}

#[derive(Debug, Arbitrary)]
enum Tweak {
    /// Sets message field `field % 9` (6..9: inside `author`).
    Set {
        field: u8,
        value: ValuePick,
    },
    Drop {
        field: u8,
    },
    Extra {
        key: KeyPick,
        value: ValuePick,
    },
}

const MESSAGE_FIELDS: [&str; 6] = ["id", "author", "device", "kind", "body", "sent_at"];
const AUTHOR_FIELDS: [&str; 3] = ["role", "id", "name"];
const ROOT_KEYS: [&str; 6] = ["schema", "messages", "delivered", "read", "status", "profile"];

/// A value to write: a scalar, or a new object (text objects get some text).
enum Made {
    Scalar(ScalarValue),
    Object(ObjType, String),
}

/// What an edit needs to resolve its picks.
struct Ctx<'a> {
    view: &'a SharedDoc,
    writer: &'a PeerInfo,
    made: Vec<ObjId>,
    tag: String,
    count: usize,
}

impl Ctx<'_> {
    fn obj(&self, doc: &impl ReadDoc, pick: ObjPick) -> Option<ObjId> {
        let nth_message = |i: u8| {
            let n = doc.length(self.view.messages_obj());
            let at = usize::from(i) % n.max(1);
            doc.get(self.view.messages_obj(), at).ok().flatten().map(|(_, id)| id)
        };
        Some(match pick {
            ObjPick::Root => ROOT,
            ObjPick::Messages => self.view.messages_obj().clone(),
            ObjPick::Delivered => self.view.delivered_obj().clone(),
            ObjPick::Read => self.view.read_obj().clone(),
            ObjPick::Status => self.view.status_obj().clone(),
            ObjPick::Profile => self.view.profile_obj().clone(),
            ObjPick::Message(i) => nth_message(i)?,
            ObjPick::Author(i) => doc.get(nth_message(i)?, "author").ok().flatten()?.1,
            ObjPick::Made(i) => self.made.get(usize::from(i) % self.made.len().max(1))?.clone(),
        })
    }

    fn key(&self, pick: &KeyPick) -> String {
        let ids = &corpus().message_ids;
        match pick {
            KeyPick::MessageField(i) => MESSAGE_FIELDS[usize::from(*i) % 6].to_owned(),
            KeyPick::AuthorField(i) => AUTHOR_FIELDS[usize::from(*i) % 3].to_owned(),
            KeyPick::OwnRead => format!("{}/{}", self.writer.participant, self.writer.device),
            KeyPick::ReadOf(p, d) => format!(
                "{}/{}",
                PARTICIPANTS[usize::from(*p) % PARTICIPANTS.len()],
                DEVICES[usize::from(*d) % DEVICES.len()]
            ),
            KeyPick::MessageId(i) => ids[usize::from(*i) % ids.len()].clone(),
            KeyPick::RootKey(i) => ROOT_KEYS[usize::from(*i) % 6].to_owned(),
            KeyPick::Short(i) => format!("k{i}"),
            KeyPick::Long(len) => "k".repeat(len.get()),
            KeyPick::Free(s) => s.clone(),
        }
    }

    fn string(&mut self, pick: &StrPick) -> String {
        let ids = &corpus().message_ids;
        match pick {
            StrPick::WriterId => self.writer.participant.to_string(),
            StrPick::WriterDevice => self.writer.device.to_string(),
            StrPick::WriterRole => self.writer.role.as_str().to_owned(),
            StrPick::Participant(i) => PARTICIPANTS[usize::from(*i) % PARTICIPANTS.len()].into(),
            StrPick::Device(i) => DEVICES[usize::from(*i) % DEVICES.len()].to_owned(),
            StrPick::Role(i) => {
                ["visitor", "agent", "admin", "server", "Agent", ""][usize::from(*i) % 6].into()
            }
            StrPick::Kind(i) => {
                ["text", "auto_reply", "system", "event", "TEXT"][usize::from(*i) % 5].into()
            }
            StrPick::MessageId(i) => match ids.get(usize::from(*i)) {
                Some(id) => id.clone(),
                None => self.fresh_id(),
            },
            StrPick::Repeat(len) => "r".repeat(len.get()),
            StrPick::Free(s) => s.clone(),
        }
    }

    fn value(&mut self, pick: &ValuePick) -> Made {
        Made::Scalar(match pick {
            ValuePick::Str(s) => ScalarValue::Str(self.string(s).into()),
            ValuePick::Int(n) => ScalarValue::Int(*n),
            ValuePick::Uint(n) => ScalarValue::Uint(*n),
            ValuePick::F64(n) => ScalarValue::F64(*n),
            ValuePick::Bool(b) => ScalarValue::Boolean(*b),
            ValuePick::Null => ScalarValue::Null,
            ValuePick::Counter(n) => ScalarValue::counter(*n),
            ValuePick::Timestamp(n) => ScalarValue::Timestamp(*n),
            ValuePick::Bytes(len) => ScalarValue::Bytes(vec![0xb7; len.get()]),
            ValuePick::Unknown(code, bytes) => {
                ScalarValue::Unknown { type_code: 10 + code % 6, bytes: bytes.clone() }
            }
            ValuePick::Map => return Made::Object(ObjType::Map, String::new()),
            ValuePick::List => return Made::Object(ObjType::List, String::new()),
            ValuePick::Text(t) => return Made::Object(ObjType::Text, t.clone()),
        })
    }

    fn fresh_id(&mut self) -> String {
        self.count += 1;
        format!("fz-{}-{}", self.tag, self.count)
    }
}

impl ActorPick {
    fn actor(self) -> ActorId {
        match self {
            ActorPick::Fresh(n) => ActorId::from([0xf0, n, 1, 2, 3, 4, 5, 6]),
            ActorPick::Relay => ActorId::from(*b"edgedesk.relay01"),
            ActorPick::Schema => ActorId::from(*b"edgedesk.schema1"),
            ActorPick::Device(n) => {
                let mut a = *b"fuzzdev.\0\0\0\0\0\0\0\0";
                a[15] = 1 + n % 4;
                ActorId::from(a)
            }
        }
    }
}

/// Applies `edit` as `writer` to a replica of `relay_doc` and returns the replica.
pub(super) fn apply(relay_doc: &SharedDoc, writer: &PeerInfo, edit: &Edit, tag: &str) -> Automerge {
    let mut doc = relay_doc.automerge().fork();
    doc.set_actor(edit.actor.actor());
    let mut ctx = Ctx { view: relay_doc, writer, made: Vec::new(), tag: tag.to_owned(), count: 0 };
    for ops in edit.changes.iter().take(4) {
        let mut tx = doc.transaction();
        for op in ops.iter().take(16) {
            // An operation Automerge refuses (wrong object type, index out of range) is
            // skipped: the edit is whatever the rest amounts to.
            let _ = run(&mut tx, &mut ctx, op);
        }
        tx.commit_with(CommitOptions::default().with_time(5));
    }
    doc
}

type TxResult = Result<(), automerge::AutomergeError>;

fn run(tx: &mut automerge::transaction::Transaction<'_>, ctx: &mut Ctx<'_>, op: &Op) -> TxResult {
    let missing = || automerge::AutomergeError::InvalidObjId("no such pick".into());
    match op {
        Op::Put { obj, key, value } => {
            let o = ctx.obj(&*tx, *obj).ok_or_else(missing)?;
            let (key, value) = (ctx.key(key), ctx.value(value));
            put(tx, ctx, &o, key.as_str().into(), value)
        }
        Op::Insert { obj, index, value } => {
            let o = ctx.obj(&*tx, *obj).ok_or_else(missing)?;
            let at = usize::from(*index) % (tx.length(&o) + 1);
            let value = ctx.value(value);
            insert(tx, ctx, &o, at, value)
        }
        Op::Delete { obj, key } => {
            let o = ctx.obj(&*tx, *obj).ok_or_else(missing)?;
            tx.delete(&o, ctx.key(key).as_str())
        }
        Op::DeleteAt { obj, index } => {
            let o = ctx.obj(&*tx, *obj).ok_or_else(missing)?;
            let at = usize::from(*index) % tx.length(&o).max(1);
            tx.delete(&o, at)
        }
        Op::Increment { obj, key, by } => {
            let o = ctx.obj(&*tx, *obj).ok_or_else(missing)?;
            tx.increment(&o, ctx.key(key).as_str(), i64::from(*by))
        }
        Op::Splice { obj, at, delete, text } => {
            let o = ctx.obj(&*tx, *obj).ok_or_else(missing)?;
            let len = tx.length(&o);
            let at = usize::from(*at) % (len + 1);
            let del = isize::from(*delete).min((len - at) as isize);
            tx.splice_text(&o, at, del, text)
        }
        Op::Message { at, tweaks } => message(tx, ctx, *at, tweaks),
    }
}

fn put(
    tx: &mut automerge::transaction::Transaction<'_>,
    ctx: &mut Ctx<'_>,
    obj: &ObjId,
    key: automerge::Prop,
    value: Made,
) -> TxResult {
    match value {
        Made::Scalar(v) => tx.put(obj, key, v),
        Made::Object(ty, text) => {
            let o = tx.put_object(obj, key, ty)?;
            fill(tx, ctx, o, ty, &text)
        }
    }
}

fn insert(
    tx: &mut automerge::transaction::Transaction<'_>,
    ctx: &mut Ctx<'_>,
    obj: &ObjId,
    at: usize,
    value: Made,
) -> TxResult {
    match value {
        Made::Scalar(v) => tx.insert(obj, at, v),
        Made::Object(ty, text) => {
            let o = tx.insert_object(obj, at, ty)?;
            fill(tx, ctx, o, ty, &text)
        }
    }
}

fn fill(
    tx: &mut automerge::transaction::Transaction<'_>,
    ctx: &mut Ctx<'_>,
    obj: ObjId,
    ty: ObjType,
    text: &str,
) -> TxResult {
    if ty == ObjType::Text && !text.is_empty() {
        tx.splice_text(&obj, 0, 0, text)?;
    }
    ctx.made.push(obj);
    Ok(())
}

/// A field of a message being drafted: a value, or the author map with its own fields.
enum Field {
    Value(Made),
    Author(Vec<(String, Made)>),
}

fn message(
    tx: &mut automerge::transaction::Transaction<'_>,
    ctx: &mut Ctx<'_>,
    at: Option<u8>,
    tweaks: &[Tweak],
) -> TxResult {
    let s = |v: &str| Made::Scalar(ScalarValue::Str(v.into()));
    let w = ctx.writer.clone();
    let mut author = vec![
        ("role".to_owned(), s(w.role.as_str())),
        ("id".to_owned(), s(w.participant.as_str())),
        ("name".to_owned(), s("Fuzz")),
    ];
    let mut fields: Vec<(String, Field)> = vec![
        ("id".into(), Field::Value(s(&ctx.fresh_id()))),
        ("device".into(), Field::Value(s(w.device.as_str()))),
        ("kind".into(), Field::Value(s("text"))),
        ("body".into(), Field::Value(s("hello"))),
        ("sent_at".into(), Field::Value(Made::Scalar(ScalarValue::Int(1)))),
    ];
    let mut author_as_map = true;
    for t in tweaks.iter().take(4) {
        match t {
            Tweak::Set { field, value } => {
                let f = usize::from(*field) % 9;
                let value = ctx.value(value);
                if f >= 6 {
                    let key = AUTHOR_FIELDS[f - 6];
                    author.retain(|(k, _)| k != key);
                    author.push((key.to_owned(), value));
                } else if MESSAGE_FIELDS[f] == "author" {
                    author_as_map = false;
                    fields.retain(|(k, _)| k != "author");
                    fields.push(("author".into(), Field::Value(value)));
                } else {
                    fields.retain(|(k, _)| k != MESSAGE_FIELDS[f]);
                    fields.push((MESSAGE_FIELDS[f].into(), Field::Value(value)));
                }
            }
            Tweak::Drop { field } => {
                let f = usize::from(*field) % 9;
                if f >= 6 {
                    author.retain(|(k, _)| k != AUTHOR_FIELDS[f - 6]);
                } else {
                    author_as_map &= MESSAGE_FIELDS[f] != "author";
                    fields.retain(|(k, _)| k != MESSAGE_FIELDS[f]);
                }
            }
            Tweak::Extra { key, value } => {
                let (key, value) = (ctx.key(key), ctx.value(value));
                fields.push((key, Field::Value(value)));
            }
        }
    }
    if author_as_map {
        fields.push(("author".into(), Field::Author(author)));
    }
    let list = ctx.view.messages_obj().clone();
    let len = tx.length(&list);
    let at = at.map_or(len, |i| usize::from(i) % (len + 1));
    let m = tx.insert_object(&list, at, ObjType::Map)?;
    for (key, field) in fields {
        match field {
            Field::Value(v) => put(tx, ctx, &m, key.as_str().into(), v)?,
            Field::Author(author) => {
                let a = tx.put_object(&m, key.as_str(), ObjType::Map)?;
                for (k, v) in author {
                    put(tx, ctx, &a, k.as_str().into(), v)?;
                }
            }
        }
    }
    Ok(())
}

/// The frames that carry `doc`'s changes since `since` (not for [`Carrier::Protocol`]).
pub(super) fn frames(doc: &Automerge, since: &[ChangeHash], carrier: Carrier) -> Vec<Vec<u8>> {
    let mut changes: Vec<Change> = doc.get_changes(since);
    if changes.is_empty() {
        return Vec::new();
    }
    let raw = || changes.iter().map(|c| c.raw_bytes().to_vec()).collect::<Vec<_>>();
    let (ty, payload) = match carrier {
        Carrier::Changes | Carrier::Protocol => (FrameType::ChangesShared, raw().concat()),
        Carrier::CompressedChanges => {
            let bytes = changes.iter_mut().flat_map(|c| c.bytes().into_owned()).collect();
            (FrameType::ChangesShared, bytes)
        }
        Carrier::SyncChanges => {
            (FrameType::SyncShared, sync_message(doc.get_heads(), raw(), MessageVersion::V1))
        }
        Carrier::SyncDocument => (
            FrameType::SyncShared,
            sync_message(doc.get_heads(), vec![doc.save()], MessageVersion::V2),
        ),
    };
    frame::encode(ty, &payload)
}

pub(super) fn sync_message(
    heads: Vec<ChangeHash>,
    chunks: Vec<Vec<u8>>,
    version: MessageVersion,
) -> Vec<u8> {
    sync::Message {
        heads,
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::from(chunks),
        flags: None,
        version,
    }
    .encode()
}

/// A deflate bomb and where it hides.
#[derive(Debug, Arbitrary)]
pub(super) struct Bomb {
    size: u8,
    shape: BombShape,
}

#[derive(Debug, Arbitrary)]
enum BombShape {
    /// A compressed change chunk in a changes frame.
    CompressedChange,
    /// The same chunk in a sync message.
    CompressedChangeInSync,
    /// A document chunk whose one column is deflated.
    DocumentColumn,
}

/// An Automerge chunk: magic bytes, a (wrong) checksum, the type, a LEB128 length, the body.
pub(super) fn chunk(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut c = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, ty];
    leb128(&mut c, body.len() as u64);
    c.extend_from_slice(body);
    c
}

pub(super) fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A document chunk with no actors or heads and one deflated change column.
pub(super) fn document_with_column(deflated: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 1];
    leb128(&mut body, (1 << 4) | 0x08);
    leb128(&mut body, deflated.len() as u64);
    body.push(0);
    body.extend_from_slice(deflated);
    chunk(0, &body)
}

pub(super) fn bomb_frames(bomb: &Bomb) -> Vec<Vec<u8>> {
    let bombs = &corpus().bombs;
    let deflated = &bombs[usize::from(bomb.size) % bombs.len()];
    match bomb.shape {
        BombShape::CompressedChange => frame::encode(FrameType::ChangesShared, &chunk(2, deflated)),
        BombShape::CompressedChangeInSync => {
            let m = sync_message(Vec::new(), vec![chunk(2, deflated)], MessageVersion::V1);
            frame::encode(FrameType::SyncShared, &m)
        }
        BombShape::DocumentColumn => {
            let m =
                sync_message(Vec::new(), vec![document_with_column(deflated)], MessageVersion::V2);
            frame::encode(FrameType::SyncShared, &m)
        }
    }
}

/// A real change re-encoded with its structure tampered with: Automerge verifies no checksum,
/// so a peer can send any sequence number, dependencies, actor or operation references.
#[derive(Debug, Arbitrary)]
pub(super) struct Forge {
    source: u16,
    edits: Vec<ForgeEdit>,
    pub in_sync: bool,
}

#[derive(Debug, Arbitrary)]
enum ForgeEdit {
    Seq(i8),
    StartOp(i8),
    NoDeps,
    RelayHeads,
    DropDep(u8),
    Actor(ActorPick),
    DropOp(u8),
    DuplicateOp(u8),
    Object { op: u8, target: Option<(u8, ActorPick)> },
    Element { op: u8, target: Option<(u8, ActorPick)> },
    Pred { op: u8, target: Option<(u8, ActorPick)> },
    Insert { op: u8, insert: bool },
    Action { op: u8, make: Option<u8> },
}

/// The forged change as raw bytes (`None` when Automerge cannot encode it).
pub(super) fn forge(relay: &Automerge, forge: &Forge) -> Option<Vec<u8>> {
    use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
    let c = corpus();
    let sources: Vec<&Vec<u8>> = c.history_changes.iter().chain(&c.pending_changes).collect();
    let source = sources[usize::from(forge.source) % sources.len()];
    let mut e = Change::from_bytes(source.clone()).ok()?.decode();
    let id = |target: Option<(u8, ActorPick)>| {
        target.map(|(n, a)| OpId(u64::from(n % 64) + 1, a.actor()))
    };
    for edit in forge.edits.iter().take(6) {
        let n = e.operations.len().max(1);
        match edit {
            ForgeEdit::Seq(d) => e.seq = e.seq.saturating_add_signed(i64::from(*d)).max(1),
            ForgeEdit::StartOp(d) => {
                let s = e.start_op.get().saturating_add_signed(i64::from(*d)).max(1);
                e.start_op = std::num::NonZeroU64::new(s)?;
            }
            ForgeEdit::NoDeps => e.deps.clear(),
            ForgeEdit::RelayHeads => e.deps = relay.get_heads(),
            ForgeEdit::DropDep(i) => {
                if !e.deps.is_empty() {
                    e.deps.remove(usize::from(*i) % e.deps.len());
                }
            }
            ForgeEdit::Actor(a) => e.actor_id = a.actor(),
            ForgeEdit::DropOp(i) => {
                if !e.operations.is_empty() {
                    e.operations.remove(usize::from(*i) % n);
                }
            }
            ForgeEdit::DuplicateOp(i) => {
                if let Some(op) = e.operations.get(usize::from(*i) % n).cloned() {
                    e.operations.push(op);
                }
            }
            ForgeEdit::Object { op, target } => {
                if let Some(o) = e.operations.get_mut(usize::from(*op) % n) {
                    o.obj = id(*target).map_or(ObjectId::Root, ObjectId::Id);
                }
            }
            ForgeEdit::Element { op, target } => {
                if let Some(o) = e.operations.get_mut(usize::from(*op) % n) {
                    o.key = Key::Seq(id(*target).map_or(ElementId::Head, ElementId::Id));
                }
            }
            ForgeEdit::Pred { op, target } => {
                if let Some(o) = e.operations.get_mut(usize::from(*op) % n) {
                    o.pred = id(*target).into_iter().collect();
                }
            }
            ForgeEdit::Insert { op, insert } => {
                if let Some(o) = e.operations.get_mut(usize::from(*op) % n) {
                    o.insert = *insert;
                }
            }
            ForgeEdit::Action { op, make } => {
                if let Some(o) = e.operations.get_mut(usize::from(*op) % n) {
                    o.action = match make {
                        Some(k) => OpType::Make(
                            [ObjType::Map, ObjType::List, ObjType::Text][usize::from(*k) % 3],
                        ),
                        None => OpType::Delete,
                    };
                }
            }
        }
    }
    e.hash = None;
    Some(Change::from(e).raw_bytes().to_vec())
}
