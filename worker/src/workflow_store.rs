//! What the conversation's workflow keeps in SQLite beside its documents: the timers table
//! behind the single alarm, the last workspace configuration seen (so rules apply at once
//! after a wake-up, before any fetch), the visitor's claims, and a few counters for the
//! stats endpoint.
//!
//! Writes run without an `await`, so they commit with the document write that caused them.
//! The visitor's claims and the configuration (webhook secrets) are sealed with the
//! conversation's data key, like its documents.

use edgedesk_core::at_rest::ChunkCipher;
use edgedesk_core::workflow::timers::Timer;
use worker::{SqlStorage, SqlStorageValue};

use crate::sql_store::SqlStoreError;

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS timers (
        key TEXT PRIMARY KEY,
        due INTEGER NOT NULL,
        cause TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS workflow_records (
        name TEXT PRIMARY KEY,
        sealed BLOB NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS workflow_counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )",
];

/// Record names (also bound into each record's encryption).
pub const CONFIG_RECORD: &str = "config";
pub const VISITOR_RECORD: &str = "visitor";

#[derive(Clone)]
pub struct WorkflowStore {
    sql: SqlStorage,
}

impl WorkflowStore {
    pub fn new(sql: SqlStorage) -> Result<Self, SqlStoreError> {
        for s in SCHEMA {
            sql.exec(s, None)?;
        }
        Ok(Self { sql })
    }

    /// Replaces the timers table with `timers` (the relay's whole current set).
    pub fn set_timers(&self, timers: &[Timer]) -> Result<(), SqlStoreError> {
        self.sql.exec("DELETE FROM timers", None)?;
        for t in timers {
            self.sql.exec(
                "INSERT OR REPLACE INTO timers (key, due, cause) VALUES (?, ?, ?)",
                vec![t.key().into(), SqlStorageValue::Integer(t.due_ms), t.cause.clone().into()],
            )?;
        }
        Ok(())
    }

    /// (key, due) of every stored timer, earliest first.
    pub fn timers(&self) -> Result<Vec<(String, i64)>, SqlStoreError> {
        let cursor = self.sql.exec("SELECT key, due FROM timers ORDER BY due", None)?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            if let [SqlStorageValue::String(k), SqlStorageValue::Integer(due)] = row?.as_slice() {
                out.push((k.clone(), *due));
            }
        }
        Ok(out)
    }

    pub fn put_record(
        &self,
        cipher: &ChunkCipher,
        name: &str,
        plaintext: &[u8],
    ) -> Result<(), SqlStoreError> {
        let sealed = cipher
            .seal_record(name, &[], plaintext)
            .map_err(|e| SqlStoreError(format!("sealing {name}: {e}")))?;
        self.sql.exec(
            "INSERT OR REPLACE INTO workflow_records (name, sealed) VALUES (?, ?)",
            vec![name.into(), SqlStorageValue::Blob(sealed)],
        )?;
        Ok(())
    }

    /// The record `name`, if stored and authentic.
    pub fn record(
        &self,
        cipher: &ChunkCipher,
        name: &str,
    ) -> Result<Option<Vec<u8>>, SqlStoreError> {
        let cursor = self
            .sql
            .exec("SELECT sealed FROM workflow_records WHERE name = ?", vec![name.into()])?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        match row?.as_slice() {
            [SqlStorageValue::Blob(sealed)] => Ok(cipher.open_record(name, &[], sealed).ok()),
            _ => Ok(None),
        }
    }

    /// Adds one to counter `name`; returns the new value.
    pub fn bump(&self, name: &str) -> Result<i64, SqlStoreError> {
        self.sql.exec(
            "INSERT INTO workflow_counters (name, value) VALUES (?, 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1",
            vec![name.into()],
        )?;
        Ok(self.counter(name)?.unwrap_or(0))
    }

    pub fn counter(&self, name: &str) -> Result<Option<i64>, SqlStoreError> {
        let cursor = self
            .sql
            .exec("SELECT value FROM workflow_counters WHERE name = ?", vec![name.into()])?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        match row?.as_slice() {
            [SqlStorageValue::Integer(v)] => Ok(Some(*v)),
            _ => Ok(None),
        }
    }

    /// Everything here, for erasure (the timers and records would outlive their meaning).
    pub fn delete_everything(&self) -> Result<(), SqlStoreError> {
        for t in ["timers", "workflow_records", "workflow_counters"] {
            self.sql.exec(&format!("DELETE FROM {t}"), None)?;
        }
        Ok(())
    }
}
