//! What the sync and storage machinery needs of a document, so the same sync sessions and
//! persistence serve both of a conversation's documents: the shared one (visitor and agents)
//! and the internal one (agents only).

use automerge::{ActorId, Automerge, ChangeHash, ObjId, ReadDoc, Value, ROOT};

use crate::doc_error::DocError;
use crate::frame::FrameType;
use crate::schema;

/// Which of a conversation's documents a frame, sync session or stored chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Messages, receipts, read marks, status, profile: everyone in the conversation.
    Shared,
    /// Tags, assignment, priority, internal notes, audit trail: agents and admins only.
    Internal,
}

impl Channel {
    /// The frame type carrying this document's sync protocol messages.
    pub fn sync_frame(self) -> FrameType {
        match self {
            Channel::Shared => FrameType::SyncShared,
            Channel::Internal => FrameType::SyncInternal,
        }
    }

    /// The frame type carrying this document's raw changes (the fast path).
    pub fn changes_frame(self) -> FrameType {
        match self {
            Channel::Shared => FrameType::ChangesShared,
            Channel::Internal => FrameType::ChangesInternal,
        }
    }

    /// The document a frame type belongs to, if it carries one.
    pub fn of(ty: FrameType) -> Option<Channel> {
        match ty {
            FrameType::SyncShared | FrameType::ChangesShared => Some(Channel::Shared),
            FrameType::SyncInternal | FrameType::ChangesInternal => Some(Channel::Internal),
            FrameType::Ephemeral | FrameType::Notice | FrameType::Ack => None,
        }
    }

    /// A stable name, used as the storage label of the document's chunks (and bound into
    /// their encryption).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Shared => "shared",
            Channel::Internal => "internal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Channel::Shared, Channel::Internal].into_iter().find(|c| c.as_str() == s)
    }
}

/// A typed view over an Automerge document with a fixed schema.
///
/// `SharedDoc` and `InternalDoc` also have these as inherent methods, so callers holding a
/// concrete document need not import the trait.
pub trait Document: Sized {
    const CHANNEL: Channel;
    /// A fresh replica holding only the schema change (identical on every peer).
    fn new(actor: ActorId) -> Result<Self, DocError>;
    /// Wraps a loaded document after checking its schema.
    fn from_automerge(doc: Automerge) -> Result<Self, DocError>;
    fn automerge(&self) -> &Automerge;
    /// Mutable access for sync and loading. Callers must not restructure the root.
    fn automerge_mut(&mut self) -> &mut Automerge;
    fn heads(&self) -> Vec<ChangeHash> {
        self.automerge().get_heads()
    }
}

/// Implements [`Document`] by delegating to the type's inherent methods of the same names.
macro_rules! delegate_document {
    ($ty:ty, $channel:expr) => {
        impl $crate::document::Document for $ty {
            const CHANNEL: $crate::document::Channel = $channel;
            fn new(actor: automerge::ActorId) -> Result<Self, $crate::doc_error::DocError> {
                <$ty>::new(actor)
            }
            fn from_automerge(
                doc: automerge::Automerge,
            ) -> Result<Self, $crate::doc_error::DocError> {
                <$ty>::from_automerge(doc)
            }
            fn automerge(&self) -> &automerge::Automerge {
                <$ty>::automerge(self)
            }
            fn automerge_mut(&mut self) -> &mut automerge::Automerge {
                <$ty>::automerge_mut(self)
            }
        }
    };
}
pub(crate) use delegate_document;

/// Checks that a loaded `doc` carries schema version `expected` (of the document named `name`
/// in errors): a document of another layout is refused rather than misread.
pub(crate) fn check_schema(
    doc: &Automerge,
    name: &'static str,
    expected: i64,
) -> Result<(), DocError> {
    let found = schema::schema_version(doc);
    if found != Some(expected) {
        return Err(DocError::Schema { doc: name, found, expected });
    }
    Ok(())
}

/// The id of the object the schema change put at `key` of the root.
pub(crate) fn root_object(doc: &Automerge, key: &'static str) -> Result<ObjId, DocError> {
    match doc.get(ROOT, key)? {
        Some((Value::Object(_), id)) => Ok(id),
        _ => Err(DocError::MissingRoot(key)),
    }
}
