//! `ChunkStore` over the Durable Object's SQLite storage.
//!
//! Statements run synchronously with no `await` between them, and workerd commits all SQL
//! writes of one such stretch as one implicit transaction: so `replace_all` (delete + insert)
//! is atomic, as the storage model requires.

//!
//! Each of a conversation's documents has its own table, so the internal document's chunks
//! can never be read back as the shared document's.

use edgedesk_core::document::Channel;
use edgedesk_core::store::{ChunkKind, ChunkStore};
use worker::{SqlStorage, SqlStorageValue};

/// The table holding a document's chunks. The shared document keeps the original name.
fn table(channel: Channel) -> &'static str {
    match channel {
        Channel::Shared => "chunks",
        Channel::Internal => "internal_chunks",
    }
}

#[derive(Debug, thiserror::Error)]
#[error("sqlite: {0}")]
pub struct SqlStoreError(String);

impl From<worker::Error> for SqlStoreError {
    fn from(e: worker::Error) -> Self {
        SqlStoreError(e.to_string())
    }
}

pub struct SqlStore {
    sql: SqlStorage,
    table: &'static str,
}

impl SqlStore {
    pub fn new(sql: SqlStorage, channel: Channel) -> Result<Self, SqlStoreError> {
        let table = table(channel);
        sql.exec(
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    data BLOB NOT NULL
                )"
            ),
            None,
        )?;
        Ok(Self { sql, table })
    }

    fn insert(&self, kind: ChunkKind, data: &[u8]) -> Result<(), SqlStoreError> {
        self.sql.exec(
            &format!("INSERT INTO {} (kind, data) VALUES (?, ?)", self.table),
            vec![kind.as_str().into(), SqlStorageValue::Blob(data.to_vec())],
        )?;
        Ok(())
    }
}

impl ChunkStore for SqlStore {
    type Error = SqlStoreError;

    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, SqlStoreError> {
        let cursor =
            self.sql.exec(&format!("SELECT kind, data FROM {} ORDER BY seq", self.table), None)?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            match row?.as_slice() {
                [SqlStorageValue::String(kind), SqlStorageValue::Blob(data)] => {
                    let kind = ChunkKind::parse(kind)
                        .ok_or_else(|| SqlStoreError(format!("unknown chunk kind {kind:?}")))?;
                    out.push((kind, data.clone()));
                }
                other => {
                    return Err(SqlStoreError(format!(
                        "malformed chunk row ({} columns)",
                        other.len()
                    )))
                }
            }
        }
        Ok(out)
    }

    fn append(&mut self, chunk: &[u8]) -> Result<(), SqlStoreError> {
        self.insert(ChunkKind::Increment, chunk)
    }

    fn replace_all(&mut self, snapshot: &[&[u8]]) -> Result<(), SqlStoreError> {
        self.sql.exec(&format!("DELETE FROM {}", self.table), None)?;
        for row in snapshot {
            self.insert(ChunkKind::Snapshot, row)?;
        }
        Ok(())
    }
}
