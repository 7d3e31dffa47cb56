//! The conversation's key record in SQLite: its wrapped data key and master key id, or the
//! tombstone left by erasure. A `Workspace` object keeps its own data key in the same table
//! (the `conversation` column then holds the workspace id).

use edgedesk_core::at_rest::{
    open_data_key, KeyError, KeyRecord, MasterKeyError, MasterKeys, OpenedKey,
};
use worker::{SqlStorage, SqlStorageValue};

use crate::sql_store::SqlStoreError;

/// One row at most (`id = 1`): a Durable Object is one conversation.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS conversation_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    conversation TEXT NOT NULL,
    kid TEXT,
    wrapped BLOB,
    erased_at INTEGER
)";

pub struct KeyTable {
    sql: SqlStorage,
}

impl KeyTable {
    pub fn new(sql: SqlStorage) -> Result<Self, SqlStoreError> {
        sql.exec(SCHEMA, None)?;
        Ok(Self { sql })
    }

    pub fn load(&self) -> Result<Option<KeyRecord>, SqlStoreError> {
        let cursor = self.sql.exec(
            "SELECT conversation, kid, wrapped, erased_at FROM conversation_key WHERE id = 1",
            None,
        )?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        let row = row?;
        let record = match row.as_slice() {
            [SqlStorageValue::String(conversation), _, _, SqlStorageValue::Integer(at_ms)] => {
                KeyRecord::Erased { conversation: conversation.clone(), at_ms: *at_ms }
            }
            [SqlStorageValue::String(conversation), SqlStorageValue::String(kid), SqlStorageValue::Blob(wrapped), SqlStorageValue::Null] => {
                KeyRecord::Live {
                    conversation: conversation.clone(),
                    kid: kid.clone(),
                    wrapped: wrapped.clone(),
                }
            }
            _ => return Err(SqlStoreError("malformed conversation_key row".into())),
        };
        Ok(Some(record))
    }

    /// Writes `record` in place of the current one. Replacing a live key first overwrites its
    /// wrapped bytes with zeros of the same length, so the page SQLite rewrites holds no copy
    /// of the old wrapped key (best effort: earlier page versions may linger in the WAL until
    /// it is checkpointed, and the platform keeps its own backups; see README, erasure).
    pub fn store(&self, record: &KeyRecord) -> Result<(), SqlStoreError> {
        self.sql.exec(
            "UPDATE conversation_key SET wrapped = zeroblob(length(wrapped)) WHERE id = 1 AND wrapped IS NOT NULL",
            None,
        )?;
        let values: Vec<SqlStorageValue> = match record {
            KeyRecord::Live { conversation, kid, wrapped } => vec![
                conversation.as_str().into(),
                kid.as_str().into(),
                SqlStorageValue::Blob(wrapped.clone()),
                SqlStorageValue::Null,
            ],
            KeyRecord::Erased { conversation, at_ms } => vec![
                conversation.as_str().into(),
                SqlStorageValue::Null,
                SqlStorageValue::Null,
                SqlStorageValue::Integer(*at_ms),
            ],
        };
        self.sql.exec(
            "INSERT INTO conversation_key (id, conversation, kid, wrapped, erased_at) VALUES (1, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET conversation = excluded.conversation, kid = excluded.kid,
                 wrapped = excluded.wrapped, erased_at = excluded.erased_at",
            values,
        )?;
        Ok(())
    }
}

/// The data key of an object that seals values under one owner name (a workspace's
/// configuration, its inbox): made on first use, rewrapped after a master key rotation, the
/// record stored before anything is sealed with it.
pub fn owner_key<E>(
    sql: &SqlStorage,
    master_keys: Option<&str>,
    owner: &str,
) -> Result<OpenedKey, E>
where
    E: From<SqlStoreError> + From<MasterKeyError> + From<KeyError>,
{
    let table = KeyTable::new(sql.clone())?;
    let keys = MasterKeys::parse(master_keys.unwrap_or(""))?;
    let opened = open_data_key(table.load()?.as_ref(), &keys, Some(owner))?;
    if let Some(record) = &opened.to_store {
        table.store(record)?;
    }
    Ok(opened)
}
