//! Opening and erasing a conversation's encrypted storage.
//!
//! Opening reads the key record, unwraps the data key with the configured master keys (core
//! decides: new key, rewrap under the current master key, or refusal), stores any new record
//! before a chunk is sealed with it, and seals chunks stored before encryption existed.
//! Everything runs without an `await`, so workerd commits it as one transaction.

use edgedesk_core::at_rest::{
    self, open_data_key, ChunkCipher, EncryptedStore, KeyError, KeyRecord, MasterKeys,
};
use edgedesk_core::store::{ChunkKind, ChunkStore, DocLabel};
use worker::SqlStorage;

use crate::do_sql::DoSql;
use crate::key_store::KeyTable;
use crate::open_error::OpenError;
use crate::sql_store::{SqlChunks, SqlStoreError};
use crate::workflow_store::WorkflowStore;
use edgedesk_core::inbox::feed::InboxFeed;

/// One document's store, as the relay's persister writes it.
pub type DocStore = EncryptedStore<SqlChunks>;

impl From<SqlStoreError> for OpenError {
    fn from(e: SqlStoreError) -> Self {
        OpenError::Storage(e.to_string())
    }
}

/// The opened storage of a conversation: its two documents' stores, and the cipher for the
/// records kept beside them (workflow_store.rs).
pub struct Opened {
    pub shared: DocStore,
    pub internal: DocStore,
    pub cipher: ChunkCipher,
}

/// Opens the stores of the conversation's shared and internal documents. `name` is the
/// conversation's Durable Object name when a request names it; without it (a socket event,
/// an alarm) the stored name is used. `master_keys` is the `EDGEDESK_MASTER_KEYS` value.
pub fn open(
    sql: &SqlStorage,
    master_keys: Option<&str>,
    name: Option<&str>,
) -> Result<Opened, OpenError> {
    let table = KeyTable::new(sql.clone())?;
    let record = table.load()?;
    // An erased conversation answers "gone" whatever the keys are.
    if let Some(KeyRecord::Erased { at_ms, .. }) = record {
        return Err(KeyError::Erased { at_ms }.into());
    }
    let keys = MasterKeys::parse(master_keys.unwrap_or(""))?;
    let opened = open_data_key(record.as_ref(), &keys, name)?;
    if let Some(new_record) = &opened.to_store {
        table.store(new_record)?;
    }
    let raw = SqlChunks::new(sql.clone())?;
    let cipher = ChunkCipher::new(&opened.key, &opened.conversation);
    let internal = EncryptedStore::new(raw.clone(), cipher.clone(), DocLabel::Internal);
    let mut shared = EncryptedStore::new(raw, cipher.clone(), DocLabel::Shared);
    seal_legacy_rows(&mut shared)?;
    Ok(Opened { shared, internal, cipher })
}

/// Crypto-shreds the conversation: the key record becomes a tombstone (the data key's only
/// copy is gone), and every chunk and queued webhook body is deleted. Returns when the erasure happened (the first
/// one, if erased before).
pub fn erase(sql: &SqlStorage, name: &str, now_ms: i64) -> Result<i64, OpenError> {
    let table = KeyTable::new(sql.clone())?;
    let tombstone = at_rest::erase(table.load()?.as_ref(), name, now_ms);
    table.store(&tombstone)?;
    SqlChunks::new(sql.clone())?.delete_everything()?;
    let outbox = crate::outbox::Outbox::new(DoSql(sql.clone())).and_then(|o| o.erase());
    outbox.map_err(|e| OpenError::Storage(e.to_string()))?;
    WorkflowStore::new(sql.clone())?.delete_everything()?;
    let feed = InboxFeed::new(DoSql(sql.clone())).and_then(|f| f.delete_everything());
    feed.map_err(|e| OpenError::Storage(e.to_string()))?;
    match tombstone {
        KeyRecord::Erased { at_ms, .. } => Ok(at_ms),
        KeyRecord::Live { .. } => Ok(now_ms),
    }
}

/// Seals the plaintext rows of a conversation written before encryption at rest (same
/// snapshot-then-increments layout), then drops them.
fn seal_legacy_rows(store: &mut DocStore) -> Result<(), OpenError> {
    let Some(rows) = store.raw().legacy_rows()? else { return Ok(()) };
    let sealing = |e: at_rest::SealedStoreError<SqlStoreError>| OpenError::Storage(e.to_string());
    let snapshot: Vec<&[u8]> =
        rows.iter().filter(|(k, _)| *k == ChunkKind::Snapshot).map(|(_, c)| c.as_slice()).collect();
    if !snapshot.is_empty() {
        store.replace_all(&snapshot).map_err(sealing)?;
    }
    for (_, chunk) in rows.iter().filter(|(k, _)| *k == ChunkKind::Increment) {
        store.append(chunk).map_err(sealing)?;
    }
    store.raw().drop_legacy()?;
    Ok(())
}
