//! The conversation's side of the inbox: what it still owes its workspace's inbox.
//!
//! After every accepted change the conversation records its summary (a new version when it
//! differs from the last) and the messages it accepted, in SQLite, in the same transaction as
//! the change. They stay until the inbox acknowledges them, so a push lost to a crash, a
//! restart or an unreachable inbox is sent again (from the alarm) and no summary is lost.
//! Both are sealed with the conversation's data key: message text is never stored in the
//! clear, here or in the inbox.

use edgedesk_core::at_rest::ChunkCipher;
use edgedesk_core::inbox::push::{IndexedMessage, Push, PushAck, MAX_PUSH_MESSAGES};
use edgedesk_core::inbox::summary::Summary;
use edgedesk_core::message::Message;
use worker::{SqlStorage, SqlStorageValue};

use crate::sql_store::SqlStoreError;

const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS inbox_feed (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        acked INTEGER NOT NULL,
        sealed BLOB NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS inbox_feed_messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        sealed BLOB NOT NULL
    )",
];
const SUMMARY_RECORD: &str = "inbox-summary";
const MESSAGE_RECORD: &str = "inbox-message";

#[derive(Clone)]
pub struct InboxFeed {
    sql: SqlStorage,
}

/// The last summary recorded, and the version the inbox acknowledged.
#[derive(Debug, Clone)]
pub struct FeedState {
    pub summary: Summary,
    pub acked: u64,
}

impl InboxFeed {
    pub fn new(sql: SqlStorage) -> Result<Self, SqlStoreError> {
        for s in SCHEMA {
            sql.exec(s, None)?;
        }
        Ok(Self { sql })
    }

    pub fn state(&self, cipher: &ChunkCipher) -> Result<Option<FeedState>, SqlStoreError> {
        let cursor =
            self.sql.exec("SELECT version, acked, sealed FROM inbox_feed WHERE id = 1", None)?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        let row = row?;
        let [SqlStorageValue::Integer(version), SqlStorageValue::Integer(acked), SqlStorageValue::Blob(sealed)] =
            row.as_slice()
        else {
            return Err(SqlStoreError("malformed inbox_feed row".into()));
        };
        let v = version.to_le_bytes();
        let plain = cipher
            .open_record(SUMMARY_RECORD, &[&v], sealed)
            .map_err(|e| SqlStoreError(e.to_string()))?;
        let summary: Summary = serde_json::from_slice(&plain)
            .map_err(|e| SqlStoreError(format!("inbox summary: {e}")))?;
        Ok(Some(FeedState { summary, acked: u64::try_from(*acked).unwrap_or(0) }))
    }

    /// Stores `summary` as the next version if it differs from `last` (versions ignored),
    /// and queues `messages` for the search index. Returns the summary now current.
    pub fn record(
        &self,
        cipher: &ChunkCipher,
        last: Option<&FeedState>,
        mut summary: Summary,
        messages: &[Message],
        delivered_at: impl Fn(&Message) -> i64,
    ) -> Result<Option<Summary>, SqlStoreError> {
        for m in messages {
            let seal = |seq: i64, entry: &IndexedMessage| {
                let json = serde_json::to_vec(entry).unwrap_or_default();
                cipher.seal_record(MESSAGE_RECORD, &[&seq.to_le_bytes()], &json)
            };
            // The sequence number is bound into the seal, so it is taken first.
            let seq = self.next_seq()?;
            let entry = IndexedMessage {
                seq,
                id: m.id.to_string(),
                at: delivered_at(m),
                role: m.author.role,
                text: m.body.clone(),
            };
            let sealed = seal(seq, &entry).map_err(|e| SqlStoreError(e.to_string()))?;
            self.sql.exec(
                "INSERT INTO inbox_feed_messages (seq, sealed) VALUES (?, ?)",
                vec![SqlStorageValue::Integer(seq), SqlStorageValue::Blob(sealed)],
            )?;
        }
        let (version, acked) = match last {
            Some(l) => {
                summary.version = l.summary.version;
                if summary == l.summary {
                    return Ok(None);
                }
                (l.summary.version + 1, l.acked)
            }
            None => (1, 0),
        };
        summary.version = version;
        let json = serde_json::to_vec(&summary).map_err(|e| SqlStoreError(e.to_string()))?;
        let sealed = cipher
            .seal_record(SUMMARY_RECORD, &[&(version as i64).to_le_bytes()], &json)
            .map_err(|e| SqlStoreError(e.to_string()))?;
        self.sql.exec(
            "INSERT INTO inbox_feed (id, version, acked, sealed) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, sealed = excluded.sealed",
            vec![
                SqlStorageValue::Integer(version as i64),
                SqlStorageValue::Integer(acked as i64),
                SqlStorageValue::Blob(sealed),
            ],
        )?;
        Ok(Some(summary))
    }

    fn next_seq(&self) -> Result<i64, SqlStoreError> {
        let cursor =
            self.sql.exec("SELECT COALESCE(MAX(seq), 0) + 1 FROM inbox_feed_messages", None)?;
        match cursor.raw().next().transpose()?.as_deref() {
            Some([SqlStorageValue::Integer(n)]) => Ok(*n),
            _ => Ok(1),
        }
    }

    /// What the inbox has not acknowledged yet, if anything, given the feed's state as the
    /// conversation holds it in memory (read with [`Self::state`] when it opened).
    pub fn pending(
        &self,
        cipher: &ChunkCipher,
        state: Option<&FeedState>,
    ) -> Result<Option<Push>, SqlStoreError> {
        let Some(state) = state else { return Ok(None) };
        let cursor = self.sql.exec(
            "SELECT seq, sealed FROM inbox_feed_messages ORDER BY seq LIMIT ?",
            vec![SqlStorageValue::Integer(MAX_PUSH_MESSAGES as i64)],
        )?;
        let mut messages = Vec::new();
        for row in cursor.raw() {
            let row = row?;
            let [SqlStorageValue::Integer(seq), SqlStorageValue::Blob(sealed)] = row.as_slice()
            else {
                continue;
            };
            let opened = cipher.open_record(MESSAGE_RECORD, &[&seq.to_le_bytes()], sealed);
            match opened.ok().and_then(|p| serde_json::from_slice::<IndexedMessage>(&p).ok()) {
                Some(m) => messages.push(m),
                // Unreadable: dropped from the index rather than blocking every later push.
                None => self.forget_through(*seq)?,
            }
        }
        if messages.is_empty() && state.acked >= state.summary.version {
            return Ok(None);
        }
        Ok(Some(Push { summary: state.summary.clone(), messages }))
    }

    /// Records the inbox's acknowledgement.
    pub fn ack(&self, ack: PushAck) -> Result<(), SqlStoreError> {
        self.sql.exec(
            "UPDATE inbox_feed SET acked = MAX(acked, ?) WHERE id = 1",
            vec![SqlStorageValue::Integer(ack.version as i64)],
        )?;
        self.forget_through(ack.through)
    }

    fn forget_through(&self, seq: i64) -> Result<(), SqlStoreError> {
        self.sql.exec(
            "DELETE FROM inbox_feed_messages WHERE seq <= ?",
            vec![SqlStorageValue::Integer(seq)],
        )?;
        Ok(())
    }

    /// Counts for the stats endpoint: summary version, acknowledged version, queued messages.
    pub fn counts(&self) -> Result<(i64, i64, i64), SqlStoreError> {
        let cursor = self.sql.exec(
            "SELECT (SELECT COALESCE(MAX(version), 0) FROM inbox_feed),
                    (SELECT COALESCE(MAX(acked), 0) FROM inbox_feed),
                    (SELECT COUNT(*) FROM inbox_feed_messages)",
            None,
        )?;
        match cursor.raw().next().transpose()?.as_deref() {
            Some(
                [SqlStorageValue::Integer(a), SqlStorageValue::Integer(b), SqlStorageValue::Integer(c)],
            ) => Ok((*a, *b, *c)),
            _ => Ok((0, 0, 0)),
        }
    }

    /// Everything here, for erasure.
    pub fn delete_everything(&self) -> Result<(), SqlStoreError> {
        for t in ["inbox_feed", "inbox_feed_messages"] {
            self.sql.exec(&format!("DELETE FROM {t}"), None)?;
        }
        Ok(())
    }
}
