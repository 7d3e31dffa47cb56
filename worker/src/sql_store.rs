//! `ChunkStore` over the Durable Object's SQLite storage.
//!
//! Statements run synchronously with no `await` between them, and workerd commits all SQL
//! writes of one such stretch as one implicit transaction: so `replace_all` (delete + insert)
//! is atomic, as the storage model requires.

use edgedesk_core::store::{ChunkKind, ChunkStore};
use worker::{SqlStorage, SqlStorageValue};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    data BLOB NOT NULL
)";

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
}

impl SqlStore {
    pub fn new(sql: SqlStorage) -> Result<Self, SqlStoreError> {
        sql.exec(SCHEMA, None)?;
        Ok(Self { sql })
    }

    fn insert(&self, kind: ChunkKind, data: &[u8]) -> Result<(), SqlStoreError> {
        self.sql.exec(
            "INSERT INTO chunks (kind, data) VALUES (?, ?)",
            vec![kind.as_str().into(), SqlStorageValue::Blob(data.to_vec())],
        )?;
        Ok(())
    }
}

impl ChunkStore for SqlStore {
    type Error = SqlStoreError;

    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, SqlStoreError> {
        let cursor = self.sql.exec("SELECT kind, data FROM chunks ORDER BY seq", None)?;
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
        self.sql.exec("DELETE FROM chunks", None)?;
        for row in snapshot {
            self.insert(ChunkKind::Snapshot, row)?;
        }
        Ok(())
    }
}
