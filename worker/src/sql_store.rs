//! Sealed chunk rows in the Durable Object's SQLite storage (`SealedChunkStore`).
//!
//! One table holds both documents of the conversation, keyed by document label and sequence
//! number. Rows arrive already sealed by core's `EncryptedStore`; this module only moves them.
//!
//! Statements run synchronously with no `await` between them, and workerd commits all SQL
//! writes of one such stretch as one implicit transaction: so `replace_all` (delete + insert)
//! is atomic, as the storage model requires.

use edgedesk_core::at_rest::{SealedChunk, SealedChunkStore};
use edgedesk_core::store::{ChunkKind, DocLabel};
use worker::{SqlStorage, SqlStorageValue};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sealed_chunks (
    doc TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (doc, seq)
)";

/// The unencrypted table of the first release (issue 2), migrated on first open.
const LEGACY_TABLE: &str = "chunks";

#[derive(Debug, thiserror::Error)]
#[error("sqlite: {0}")]
pub struct SqlStoreError(pub String);

impl From<worker::Error> for SqlStoreError {
    fn from(e: worker::Error) -> Self {
        SqlStoreError(e.to_string())
    }
}

/// Plaintext chunks of the pre-encryption table, in order.
pub type LegacyRows = Vec<(ChunkKind, Vec<u8>)>;

#[derive(Clone)]
pub struct SqlChunks {
    sql: SqlStorage,
}

impl SqlChunks {
    pub fn new(sql: SqlStorage) -> Result<Self, SqlStoreError> {
        sql.exec(SCHEMA, None)?;
        Ok(Self { sql })
    }

    fn insert(&self, doc: DocLabel, chunk: SealedChunk) -> Result<(), SqlStoreError> {
        self.sql.exec(
            "INSERT INTO sealed_chunks (doc, seq, kind, data) VALUES (?, ?, ?, ?)",
            vec![
                doc.as_str().into(),
                seq_value(chunk.seq)?,
                chunk.kind.as_str().into(),
                SqlStorageValue::Blob(chunk.data),
            ],
        )?;
        Ok(())
    }

    /// Deletes every chunk of every document (erasure).
    pub fn delete_everything(&self) -> Result<(), SqlStoreError> {
        self.sql.exec("DELETE FROM sealed_chunks", None)?;
        self.sql.exec(&format!("DROP TABLE IF EXISTS {LEGACY_TABLE}"), None)?;
        Ok(())
    }

    /// The plaintext rows of a conversation stored before encryption existed, in order, or
    /// `None` when there are none. [`Self::drop_legacy`] removes them once sealed.
    pub fn legacy_rows(&self) -> Result<Option<LegacyRows>, SqlStoreError> {
        let exists = self
            .sql
            .exec(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
                vec![LEGACY_TABLE.into()],
            )?
            .raw()
            .next()
            .is_some();
        if !exists {
            return Ok(None);
        }
        let cursor =
            self.sql.exec(&format!("SELECT kind, data FROM {LEGACY_TABLE} ORDER BY seq"), None)?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            match row?.as_slice() {
                [SqlStorageValue::String(kind), SqlStorageValue::Blob(data)] => {
                    let kind = ChunkKind::parse(kind)
                        .ok_or_else(|| SqlStoreError(format!("unknown chunk kind {kind:?}")))?;
                    out.push((kind, data.clone()));
                }
                other => return Err(malformed(other.len())),
            }
        }
        Ok(Some(out))
    }

    pub fn drop_legacy(&self) -> Result<(), SqlStoreError> {
        self.sql.exec(&format!("DROP TABLE IF EXISTS {LEGACY_TABLE}"), None)?;
        Ok(())
    }
}

impl SealedChunkStore for SqlChunks {
    type Error = SqlStoreError;

    fn load(&mut self, doc: DocLabel) -> Result<Vec<SealedChunk>, SqlStoreError> {
        let cursor = self.sql.exec(
            "SELECT seq, kind, data FROM sealed_chunks WHERE doc = ? ORDER BY seq",
            vec![doc.as_str().into()],
        )?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            match row?.as_slice() {
                [SqlStorageValue::Integer(seq), SqlStorageValue::String(kind), SqlStorageValue::Blob(data)] =>
                {
                    let kind = ChunkKind::parse(kind)
                        .ok_or_else(|| SqlStoreError(format!("unknown chunk kind {kind:?}")))?;
                    let seq = u64::try_from(*seq)
                        .map_err(|_| SqlStoreError(format!("negative chunk seq {seq}")))?;
                    out.push(SealedChunk { seq, kind, data: data.clone() });
                }
                other => return Err(malformed(other.len())),
            }
        }
        Ok(out)
    }

    fn last_seq(&mut self, doc: DocLabel) -> Result<Option<u64>, SqlStoreError> {
        let cursor = self
            .sql
            .exec("SELECT MAX(seq) FROM sealed_chunks WHERE doc = ?", vec![doc.as_str().into()])?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        match row?.as_slice() {
            [SqlStorageValue::Integer(seq)] => Ok(u64::try_from(*seq).ok()),
            _ => Ok(None),
        }
    }

    fn append(&mut self, doc: DocLabel, chunk: SealedChunk) -> Result<(), SqlStoreError> {
        self.insert(doc, chunk)
    }

    fn replace_all(
        &mut self,
        doc: DocLabel,
        chunks: Vec<SealedChunk>,
    ) -> Result<(), SqlStoreError> {
        self.sql.exec("DELETE FROM sealed_chunks WHERE doc = ?", vec![doc.as_str().into()])?;
        for chunk in chunks {
            self.insert(doc, chunk)?;
        }
        Ok(())
    }
}

fn seq_value(seq: u64) -> Result<SqlStorageValue, SqlStoreError> {
    i64::try_from(seq)
        .map(SqlStorageValue::Integer)
        .map_err(|_| SqlStoreError(format!("chunk seq {seq} out of range")))
}

fn malformed(columns: usize) -> SqlStoreError {
    SqlStoreError(format!("malformed chunk row ({columns} columns)"))
}
