//! The conversation's side of the inbox: what it still owes its workspace's inbox.
//!
//! After every accepted change the conversation records its summary (a new version when it
//! differs from the last) and the messages it accepted, in its SQLite, in the same
//! transaction as the change. They stay until the inbox acknowledges them, so a push lost to
//! a crash, a restart or an unreachable inbox is sent again (from the alarm) and no summary
//! is lost. Both are sealed with the conversation's data key: message text is never stored
//! in the clear, here or in the inbox.
//!
//! The table is the durable copy; the feed also mirrors the queue in memory once it has read
//! it whole, so that a push right after a message costs no read and no unsealing of what this
//! very object just sealed (one select and one decryption per message, before). The mirror
//! holds at most one push's worth: beyond that the queue is read from SQLite again.

use crate::at_rest::ChunkCipher;
use crate::inbox::push::{IndexedMessage, Push, PushAck, MAX_PUSH_MESSAGES};
use crate::inbox::summary::Summary;
use crate::message::Message;
use crate::sql::{single_integer, Sql, SqlError, SqlValue};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

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
/// How long after a push the inbox did not acknowledge the conversation tries again.
pub const PUSH_RETRY_MS: i64 = 5_000;
const MESSAGE_RECORD: &str = "inbox-message";

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("inbox feed: {0}")]
    Record(String),
}

/// The feed's tables in a conversation's SQLite, and what this object knows of them.
pub struct InboxFeed<Q> {
    sql: Q,
    /// The next message's sequence number, once read (only this object writes the table).
    next_seq: Cell<Option<i64>>,
    /// Every queued message, oldest first, once the whole queue has been read and while it
    /// stays within [`MAX_PUSH_MESSAGES`]; `None`: read the table.
    queued: RefCell<Option<VecDeque<IndexedMessage>>>,
}

/// The last summary recorded, and the version the inbox acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedState {
    pub summary: Summary,
    pub acked: u64,
}

impl FeedState {
    /// Whether the inbox has not acknowledged the current summary yet.
    pub fn owed(&self) -> bool {
        self.acked < self.summary.version
    }
}

/// When the conversation's alarm must push again: [`PUSH_RETRY_MS`] from `now` while the
/// inbox is owed something (queued messages, or a summary it has not acknowledged).
pub fn next_push(messages_queued: bool, state: Option<&FeedState>, now_ms: i64) -> Option<i64> {
    let owed = messages_queued || state.is_some_and(FeedState::owed);
    owed.then_some(now_ms + PUSH_RETRY_MS)
}

impl<Q: Sql> InboxFeed<Q> {
    pub fn new(sql: Q) -> Result<Self, FeedError> {
        for s in SCHEMA {
            sql.exec(s, vec![])?;
        }
        Ok(Self { sql, next_seq: Cell::new(None), queued: RefCell::new(None) })
    }

    /// The stored state (read once when the conversation opens), if a summary was recorded.
    pub fn state(&self, cipher: &ChunkCipher) -> Result<Option<FeedState>, FeedError> {
        let rows =
            self.sql.exec("SELECT version, acked, sealed FROM inbox_feed WHERE id = 1", vec![])?;
        let Some(row) = rows.first() else { return Ok(None) };
        let [SqlValue::Integer(version), SqlValue::Integer(acked), SqlValue::Blob(sealed)] =
            row.as_slice()
        else {
            return Err(FeedError::Record("malformed inbox_feed row".into()));
        };
        let plain = cipher
            .open_record(SUMMARY_RECORD, &[&version.to_le_bytes()], sealed)
            .map_err(|e| FeedError::Record(e.to_string()))?;
        let summary: Summary = serde_json::from_slice(&plain)
            .map_err(|e| FeedError::Record(format!("summary: {e}")))?;
        Ok(Some(FeedState { summary, acked: u64::try_from(*acked).unwrap_or(0) }))
    }

    /// Queues `messages` for the search index, and stores `summary` as the next version if
    /// it differs from `last` (versions ignored). Returns the summary now current, if new.
    pub fn record(
        &self,
        cipher: &ChunkCipher,
        last: Option<&FeedState>,
        mut summary: Summary,
        messages: &[Message],
        delivered_at: impl Fn(&Message) -> i64,
    ) -> Result<Option<Summary>, FeedError> {
        let seal_err = |e: crate::at_rest::EntropyError| FeedError::Record(e.to_string());
        for m in messages {
            // The sequence number is bound into the seal, so it is taken first.
            let seq = self.next_seq()?;
            let entry = IndexedMessage {
                seq,
                id: m.id.to_string(),
                at: delivered_at(m),
                role: m.author.role,
                text: m.body.clone(),
            };
            let json = serde_json::to_vec(&entry).map_err(|e| FeedError::Record(e.to_string()))?;
            let sealed = cipher
                .seal_record(MESSAGE_RECORD, &[&seq.to_le_bytes()], &json)
                .map_err(seal_err)?;
            self.sql.exec(
                "INSERT INTO inbox_feed_messages (seq, sealed) VALUES (?, ?)",
                vec![seq.into(), sealed.into()],
            )?;
            self.next_seq.set(Some(seq + 1));
            let mut queued = self.queued.borrow_mut();
            if let Some(q) = queued.as_mut() {
                q.push_back(entry);
                if q.len() > MAX_PUSH_MESSAGES {
                    *queued = None;
                }
            }
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
        let json = serde_json::to_vec(&summary).map_err(|e| FeedError::Record(e.to_string()))?;
        let v = i64::try_from(version).unwrap_or(i64::MAX);
        let sealed =
            cipher.seal_record(SUMMARY_RECORD, &[&v.to_le_bytes()], &json).map_err(seal_err)?;
        self.sql.exec(
            "INSERT INTO inbox_feed (id, version, acked, sealed) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, sealed = excluded.sealed",
            vec![v.into(), i64::try_from(acked).unwrap_or(i64::MAX).into(), sealed.into()],
        )?;
        Ok(Some(summary))
    }

    fn next_seq(&self) -> Result<i64, FeedError> {
        if let Some(seq) = self.next_seq.get() {
            return Ok(seq);
        }
        let rows =
            self.sql.exec("SELECT COALESCE(MAX(seq), 0) + 1 FROM inbox_feed_messages", vec![])?;
        Ok(single_integer(&rows).unwrap_or(1))
    }

    /// What the inbox has not acknowledged yet, if anything: the current summary and up to
    /// [`MAX_PUSH_MESSAGES`] queued messages, oldest first. A queued message that no longer
    /// opens is dropped from the index rather than blocking every later push.
    pub fn pending(
        &self,
        cipher: &ChunkCipher,
        state: Option<&FeedState>,
    ) -> Result<Option<Push>, FeedError> {
        let Some(state) = state else { return Ok(None) };
        if let Some(q) = self.queued.borrow().as_ref() {
            if q.is_empty() && !state.owed() {
                return Ok(None);
            }
            let messages = q.iter().cloned().collect();
            return Ok(Some(Push { summary: state.summary.clone(), messages }));
        }
        let limit = MAX_PUSH_MESSAGES;
        let rows = self.sql.exec(
            "SELECT seq, sealed FROM inbox_feed_messages ORDER BY seq LIMIT ?",
            vec![i64::try_from(limit).unwrap_or(i64::MAX).into()],
        )?;
        let whole = rows.len() < limit;
        let mut messages = Vec::new();
        for row in rows {
            let [SqlValue::Integer(seq), SqlValue::Blob(sealed)] = row.as_slice() else {
                continue;
            };
            let opened = cipher.open_record(MESSAGE_RECORD, &[&seq.to_le_bytes()], sealed);
            match opened.ok().and_then(|p| serde_json::from_slice::<IndexedMessage>(&p).ok()) {
                Some(m) => messages.push(m),
                None => self.forget_through(*seq)?,
            }
        }
        if whole {
            *self.queued.borrow_mut() = Some(messages.iter().cloned().collect());
        }
        if messages.is_empty() && !state.owed() {
            return Ok(None);
        }
        Ok(Some(Push { summary: state.summary.clone(), messages }))
    }

    /// Records the inbox's acknowledgement: the summary version it holds and the last queued
    /// message it indexed.
    pub fn ack(&self, ack: PushAck) -> Result<(), FeedError> {
        self.sql.exec(
            "UPDATE inbox_feed SET acked = MAX(acked, ?) WHERE id = 1",
            vec![i64::try_from(ack.version).unwrap_or(i64::MAX).into()],
        )?;
        self.forget_through(ack.through)
    }

    fn forget_through(&self, seq: i64) -> Result<(), FeedError> {
        if let Some(q) = self.queued.borrow_mut().as_mut() {
            if q.front().is_none_or(|m| m.seq > seq) {
                return Ok(()); // nothing queued at or below `seq`
            }
            while q.front().is_some_and(|m| m.seq <= seq) {
                q.pop_front();
            }
        }
        self.sql.exec("DELETE FROM inbox_feed_messages WHERE seq <= ?", vec![seq.into()])?;
        Ok(())
    }

    /// Counts for the stats endpoint: summary version, acknowledged version, queued messages.
    pub fn counts(&self) -> Result<(i64, i64, i64), FeedError> {
        let rows = self.sql.exec(
            "SELECT (SELECT COALESCE(MAX(version), 0) FROM inbox_feed),
                    (SELECT COALESCE(MAX(acked), 0) FROM inbox_feed),
                    (SELECT COUNT(*) FROM inbox_feed_messages)",
            vec![],
        )?;
        match rows.first().map(Vec::as_slice) {
            Some([SqlValue::Integer(a), SqlValue::Integer(b), SqlValue::Integer(c)]) => {
                Ok((*a, *b, *c))
            }
            _ => Ok((0, 0, 0)),
        }
    }

    /// Everything here, for erasure.
    pub fn delete_everything(&self) -> Result<(), FeedError> {
        for t in ["inbox_feed", "inbox_feed_messages"] {
            self.sql.exec(&format!("DELETE FROM {t}"), vec![])?;
        }
        *self.queued.borrow_mut() = Some(VecDeque::new());
        Ok(())
    }
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
