//! Sealed chunk rows in the Durable Object's SQLite storage (`SealedChunkStore`).
//!
//! One table holds both documents of the conversation, keyed by document label and sequence
//! number. Rows arrive already sealed by core's `EncryptedStore`; this module only moves them.
//!
//! Statements run synchronously with no `await` between them, and workerd commits all SQL
//! writes of one such stretch as one implicit transaction: so `replace_all` (delete + insert)
//! is atomic, as the storage model requires.

use edgedesk_core::at_rest::{SealedChunk, SealedChunkStore};
use edgedesk_core::rollover::archive::{ArchiveError, ArchiveRows, SegmentInfo};
use edgedesk_core::rollover::segment::SealedSegment;
use edgedesk_core::store::{ChunkKind, DocLabel};
use worker::{SqlStorage, SqlStorageValue};

const SCHEMA: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS sealed_chunks (
        doc TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (doc, seq)
    )",
    // Archive segments (PROTOCOL.md §16): rows sealed with the segment's own key, which is
    // kept wrapped in `segment_info` (deleting it shreds the segment).
    "CREATE TABLE IF NOT EXISTS segment_rows (
        epoch INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (epoch, idx)
    )",
    "CREATE TABLE IF NOT EXISTS segment_info (
        epoch INTEGER PRIMARY KEY,
        wrapped_key BLOB,
        messages INTEGER NOT NULL,
        sealed_at INTEGER NOT NULL,
        shredded_at INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS carry (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sealed BLOB NOT NULL
    )",
];

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
        for statement in SCHEMA {
            sql.exec(statement, None)?;
        }
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
        self.sql.exec("DELETE FROM segment_rows", None)?;
        self.sql.exec("DELETE FROM segment_info", None)?;
        self.sql.exec("DELETE FROM carry", None)?;
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

    fn archive_rows(&mut self) -> Option<&mut dyn ArchiveRows> {
        Some(self)
    }
}

fn archive_err(e: worker::Error) -> ArchiveError {
    ArchiveError::Storage(e.to_string())
}

fn int(v: u64) -> Result<SqlStorageValue, ArchiveError> {
    i64::try_from(v)
        .map(SqlStorageValue::Integer)
        .map_err(|_| ArchiveError::Storage(format!("{v} out of range")))
}

impl ArchiveRows for SqlChunks {
    fn put_segment(
        &mut self,
        info: SegmentInfo,
        segment: &SealedSegment,
    ) -> Result<(), ArchiveError> {
        let epoch = int(info.epoch)?;
        self.sql
            .exec("DELETE FROM segment_rows WHERE epoch = ?", vec![epoch.clone()])
            .map_err(archive_err)?;
        for (i, row) in segment.rows.iter().enumerate() {
            self.sql
                .exec(
                    "INSERT INTO segment_rows (epoch, idx, data) VALUES (?, ?, ?)",
                    vec![epoch.clone(), int(i as u64)?, SqlStorageValue::Blob(row.clone())],
                )
                .map_err(archive_err)?;
        }
        self.sql
            .exec(
                "INSERT OR REPLACE INTO segment_info (epoch, wrapped_key, messages, sealed_at, \
                 shredded_at) VALUES (?, ?, ?, ?, NULL)",
                vec![
                    epoch,
                    SqlStorageValue::Blob(segment.wrapped_key.clone()),
                    int(info.messages)?,
                    SqlStorageValue::Integer(info.sealed_at),
                ],
            )
            .map_err(archive_err)?;
        Ok(())
    }

    fn segment(&mut self, epoch: u64) -> Result<Option<SealedSegment>, ArchiveError> {
        let e = int(epoch)?;
        let key = self
            .sql
            .exec("SELECT wrapped_key FROM segment_info WHERE epoch = ?", vec![e.clone()])
            .map_err(archive_err)?
            .raw()
            .next();
        let wrapped_key = match key {
            Some(row) => match row.map_err(archive_err)?.as_slice() {
                [SqlStorageValue::Blob(k)] => k.clone(),
                _ => return Ok(None),
            },
            None => return Ok(None),
        };
        let cursor = self
            .sql
            .exec("SELECT data FROM segment_rows WHERE epoch = ? ORDER BY idx", vec![e])
            .map_err(archive_err)?;
        let mut rows = Vec::new();
        for row in cursor.raw() {
            match row.map_err(archive_err)?.as_slice() {
                [SqlStorageValue::Blob(data)] => rows.push(data.clone()),
                other => {
                    return Err(ArchiveError::Storage(format!(
                        "malformed segment row ({} columns)",
                        other.len()
                    )))
                }
            }
        }
        Ok(Some(SealedSegment { wrapped_key, rows }))
    }

    fn segments(&mut self) -> Result<Vec<SegmentInfo>, ArchiveError> {
        let cursor = self
            .sql
            .exec(
                "SELECT epoch, messages, sealed_at, shredded_at FROM segment_info ORDER BY epoch",
                None,
            )
            .map_err(archive_err)?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            let row = row.map_err(archive_err)?;
            let n = |i: usize| match row.get(i) {
                Some(SqlStorageValue::Integer(v)) => Some(*v),
                _ => None,
            };
            let (Some(epoch), Some(messages), Some(sealed_at)) = (n(0), n(1), n(2)) else {
                return Err(ArchiveError::Storage("malformed segment_info row".into()));
            };
            out.push(SegmentInfo {
                epoch: epoch.max(0) as u64,
                messages: messages.max(0) as u64,
                sealed_at,
                shredded_at: n(3),
            });
        }
        Ok(out)
    }

    fn shred(&mut self, epoch: u64, at: i64) -> Result<(), ArchiveError> {
        let e = int(epoch)?;
        self.sql
            .exec("DELETE FROM segment_rows WHERE epoch = ?", vec![e.clone()])
            .map_err(archive_err)?;
        self.sql
            .exec(
                "UPDATE segment_info SET wrapped_key = NULL, shredded_at = ? WHERE epoch = ?",
                vec![SqlStorageValue::Integer(at), e],
            )
            .map_err(archive_err)?;
        Ok(())
    }

    fn put_carry(&mut self, sealed: &[u8]) -> Result<(), ArchiveError> {
        self.sql
            .exec(
                "INSERT OR REPLACE INTO carry (id, sealed) VALUES (1, ?)",
                vec![SqlStorageValue::Blob(sealed.to_vec())],
            )
            .map_err(archive_err)?;
        Ok(())
    }

    fn carry(&mut self) -> Result<Option<Vec<u8>>, ArchiveError> {
        let row = self
            .sql
            .exec("SELECT sealed FROM carry WHERE id = 1", None)
            .map_err(archive_err)?
            .raw()
            .next();
        match row {
            Some(row) => match row.map_err(archive_err)?.as_slice() {
                [SqlStorageValue::Blob(b)] => Ok(Some(b.clone())),
                _ => Err(ArchiveError::Storage("malformed carry row".into())),
            },
            None => Ok(None),
        }
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
