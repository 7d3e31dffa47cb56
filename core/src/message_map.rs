//! How a [`Message`] is laid out as an Automerge map. The conversation's messages and the
//! agents' internal notes use the same layout, so one writer and one reader serve both and a
//! note is validated by the same rules as a message.

use automerge::{transaction::Transactable, ObjId, ObjType, ReadDoc, Value};

use crate::doc_error::DocError;
use crate::ids::{DeviceId, MessageId, ParticipantId};
use crate::message::{Author, Message, MessageKind, Role, MAX_BODY_BYTES, MAX_NAME_BYTES};

/// The fields of a message map, and of its `author` map.
pub const MESSAGE_KEYS: [&str; 6] = ["id", "author", "device", "kind", "body", "sent_at"];
pub const AUTHOR_KEYS: [&str; 3] = ["role", "id", "name"];

/// Appends `msg` at the end of `list` within the caller's transaction.
pub fn insert(tx: &mut impl Transactable, list: &ObjId, msg: &Message) -> Result<(), DocError> {
    if msg.body.len() > MAX_BODY_BYTES {
        return Err(DocError::BodyTooLarge { len: msg.body.len() });
    }
    if msg.author.name.len() > MAX_NAME_BYTES {
        return Err(DocError::NameTooLong { len: msg.author.name.len() });
    }
    let end = tx.length(list);
    let m = tx.insert_object(list, end, ObjType::Map)?;
    tx.put(&m, "id", msg.id.as_str())?;
    let a = tx.put_object(&m, "author", ObjType::Map)?;
    tx.put(&a, "role", msg.author.role.as_str())?;
    tx.put(&a, "id", msg.author.id.as_str())?;
    tx.put(&a, "name", msg.author.name.as_str())?;
    tx.put(&m, "device", msg.device.as_str())?;
    tx.put(&m, "kind", msg.kind.as_str())?;
    tx.put(&m, "body", msg.body.as_str())?;
    tx.put(&m, "sent_at", msg.sent_at)?;
    Ok(())
}

/// The message stored in the map object `obj`, if it is well formed.
pub fn read(doc: &impl ReadDoc, obj: &ObjId) -> Option<Message> {
    let s = |o: &ObjId, k: &str| -> Option<String> {
        doc.get(o, k).ok().flatten().and_then(|(v, _)| v.as_str().map(str::to_owned))
    };
    let author_obj = match doc.get(obj, "author").ok().flatten()? {
        (Value::Object(ObjType::Map), id) => id,
        _ => return None,
    };
    Some(Message {
        id: MessageId::new(s(obj, "id")?).ok()?,
        author: Author {
            role: Role::parse(&s(&author_obj, "role")?)?,
            id: ParticipantId::new(s(&author_obj, "id")?).ok()?,
            name: s(&author_obj, "name")?,
        },
        device: DeviceId::new(s(obj, "device")?).ok()?,
        kind: MessageKind::parse(&s(obj, "kind")?)?,
        body: s(obj, "body")?,
        sent_at: doc.get(obj, "sent_at").ok().flatten()?.0.as_i64()?,
    })
}

/// Every well-formed message of `list`, in order; malformed entries are skipped.
pub fn read_all(doc: &impl ReadDoc, list: &ObjId) -> Vec<Message> {
    doc.list_range(list, ..).filter_map(|item| read(doc, &item.id())).collect()
}
