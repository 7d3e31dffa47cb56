//! The shared document's initial schema, made identically on every peer.
//!
//! Automerge objects created concurrently under the same key by two actors are two different
//! objects, and one of them hides the other: if each device created its own `messages` list,
//! a merge would silently drop one device's messages. So the root objects are made by one
//! fixed change (fixed actor, fixed time, no message) that every peer computes byte for byte
//! the same; it has the same hash everywhere and merges as one change.

use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, Automerge, AutomergeError, ObjType, ReadDoc, ROOT,
};

/// Version of the shared document's layout; bumped on an incompatible change.
pub const SHARED_SCHEMA_VERSION: i64 = 1;

/// The actor of the schema change. Never used for anything else.
const SCHEMA_ACTOR: [u8; 16] = *b"edgedesk.schema1";

/// The relay's actor, in both documents: receipts, auto-replies, audit entries. Fixed, so a
/// conversation's server-written changes do not add a new actor per Durable Object restart;
/// safe because a conversation has one live relay at a time and unpersisted relay changes are
/// dropped with the relay (never sent).
pub const RELAY_ACTOR: [u8; 16] = *b"edgedesk.relay01";

/// Whether changes under `actor` are edgedesk's own (a schema change or the relay's): a
/// client's change under one of these could pass for the relay's receipt or audit entry, so the
/// relay takes none from a client (PROTOCOL.md §8.6, rule `reserved-actor`).
pub fn is_reserved_actor(actor: &ActorId) -> bool {
    [SCHEMA_ACTOR, INTERNAL_SCHEMA_ACTOR, RELAY_ACTOR].iter().any(|a| actor.to_bytes() == a)
}

/// Keys of the root map, in the order the schema change creates them.
pub mod keys {
    pub const SCHEMA: &str = "schema";
    pub const MESSAGES: &str = "messages";
    pub const DELIVERED: &str = "delivered";
    pub const READ: &str = "read";
    pub const STATUS: &str = "status";
    pub const PROFILE: &str = "profile";
}

/// A new document holding only the schema change, with `actor` set for later changes.
pub fn new_shared(actor: ActorId) -> Result<Automerge, AutomergeError> {
    let mut doc = Automerge::new().with_actor(ActorId::from(SCHEMA_ACTOR));
    let mut tx = doc.transaction();
    tx.put(ROOT, keys::SCHEMA, SHARED_SCHEMA_VERSION)?;
    tx.put_object(ROOT, keys::MESSAGES, ObjType::List)?;
    tx.put_object(ROOT, keys::DELIVERED, ObjType::Map)?;
    tx.put_object(ROOT, keys::READ, ObjType::Map)?;
    tx.put_object(ROOT, keys::STATUS, ObjType::Map)?;
    tx.put_object(ROOT, keys::PROFILE, ObjType::Map)?;
    tx.commit_with(CommitOptions::default().with_time(0));
    doc.set_actor(actor);
    Ok(doc)
}

/// Version of the internal document's layout.
pub const INTERNAL_SCHEMA_VERSION: i64 = 1;

/// The actor of the internal document's schema change.
const INTERNAL_SCHEMA_ACTOR: [u8; 16] = *b"edgedesk.intrnl1";

/// Keys of the internal document's root map.
pub mod internal_keys {
    pub const SCHEMA: &str = "schema";
    pub const TAGS: &str = "tags";
    pub const CASE: &str = "case";
    pub const NOTES: &str = "notes";
    pub const AUDIT: &str = "audit";
}

/// A new internal (agents-only) document: the same fixed-change construction as the shared one.
pub fn new_internal(actor: ActorId) -> Result<Automerge, AutomergeError> {
    use internal_keys as k;
    let mut doc = Automerge::new().with_actor(ActorId::from(INTERNAL_SCHEMA_ACTOR));
    let mut tx = doc.transaction();
    tx.put(ROOT, k::SCHEMA, INTERNAL_SCHEMA_VERSION)?;
    tx.put_object(ROOT, k::TAGS, ObjType::Map)?;
    tx.put_object(ROOT, k::CASE, ObjType::Map)?;
    tx.put_object(ROOT, k::NOTES, ObjType::List)?;
    tx.put_object(ROOT, k::AUDIT, ObjType::List)?;
    tx.commit_with(CommitOptions::default().with_time(0));
    doc.set_actor(actor);
    Ok(doc)
}

/// Whether `doc` carries the schema this build understands.
pub fn schema_version(doc: &Automerge) -> Option<i64> {
    doc.get(ROOT, keys::SCHEMA).ok().flatten().and_then(|(v, _)| v.as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_change_is_identical_on_every_peer() {
        let a = new_shared(ActorId::random()).unwrap();
        let b = new_shared(ActorId::random()).unwrap();
        assert_eq!(a.get_heads(), b.get_heads());
        assert_eq!(a.get_heads().len(), 1);
        assert_eq!(schema_version(&a), Some(SHARED_SCHEMA_VERSION));
        for key in [keys::MESSAGES, keys::DELIVERED, keys::READ, keys::STATUS, keys::PROFILE] {
            assert!(a.get(ROOT, key).unwrap().is_some(), "{key} missing");
        }
    }

    #[test]
    fn internal_schema_change_is_identical_on_every_peer_and_differs_from_the_shared_one() {
        let a = new_internal(ActorId::random()).unwrap();
        let b = new_internal(ActorId::random()).unwrap();
        assert_eq!(a.get_heads(), b.get_heads());
        assert_ne!(a.get_heads(), new_shared(ActorId::random()).unwrap().get_heads());
        assert_eq!(schema_version(&a), Some(INTERNAL_SCHEMA_VERSION));
        // Pinned: PROTOCOL.md §8.7 publishes this hash for third-party clients.
        assert_eq!(
            a.get_heads()[0].to_string(),
            "0bfcc15dd3f88d524b39bcde141488f3171e6f05574b902a487072f146fe26d5"
        );
    }
}
