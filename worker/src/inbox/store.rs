//! The inbox's SQLite: summaries (schema and list queries from `edgedesk_core::inbox`), the
//! agents' last-seen times and each team's round-robin position.
//!
//! Summaries are stored sealed with the inbox's data key (visitor names and message
//! previews are not plaintext at rest); the columns beside them hold only what filters and
//! sorts need. An upsert applies only a newer version, so pushes may repeat or cross.

use edgedesk_core::at_rest::{BlindIndex, ValueCipher};
use edgedesk_core::inbox::query::{SqlParam, Statement};
use edgedesk_core::inbox::queue;
use edgedesk_core::inbox::schema::{NOT_WAITING, SCHEMA};
use edgedesk_core::inbox::summary::{priority_rank, Summary};
use worker::{SqlStorage, SqlStorageValue};

use crate::do_sql::DoSql;
use crate::sql_store::SqlStoreError;

const EXTRA: [&str; 4] = [
    // Tags are case data: `summary_tags` holds their blind terms, this table each term's
    // name sealed, for the sidebar's per-tag counts.
    "CREATE TABLE IF NOT EXISTS tag_names (term TEXT PRIMARY KEY, sealed BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agents (agent TEXT PRIMARY KEY, last_seen INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS team_cursor (team TEXT PRIMARY KEY, last_agent TEXT NOT NULL)",
    // Erased conversations: a push that was already on its way when the erasure arrived must
    // not bring the summary back. An erased conversation never comes back to life.
    "CREATE TABLE IF NOT EXISTS erased (conversation TEXT PRIMARY KEY)",
];

pub type Row = Vec<SqlStorageValue>;

pub struct InboxStore {
    sql: SqlStorage,
    cipher: ValueCipher,
    blind: std::sync::Arc<BlindIndex>,
    /// What is stored for conversations known not to be erased, so that a push asks SQLite
    /// nothing before writing and rewrites tags and visitor only when they changed (only this
    /// object writes these tables; an erasure goes through [`InboxStore::forget_version`]).
    stored: std::cell::RefCell<std::collections::HashMap<String, Stored>>,
}

/// A summary's stored version and the rows kept beside it.
struct Stored {
    version: u64,
    tags: Vec<String>,
    visitor: Option<String>,
}

fn param(p: &SqlParam) -> SqlStorageValue {
    match p {
        SqlParam::Int(i) => SqlStorageValue::Integer(*i),
        SqlParam::Text(t) => t.as_str().into(),
    }
}

/// The seal's label binds a summary to its row: it does not open as another conversation's.
fn label(conversation: &str) -> String {
    format!("summary/{conversation}")
}

/// Every table and index of the store; idempotent.
fn create_tables(sql: &SqlStorage) -> Result<(), SqlStoreError> {
    for s in SCHEMA.iter().chain(EXTRA.iter()) {
        sql.exec(s, None)?;
    }
    Ok(())
}

impl InboxStore {
    pub fn new(
        sql: SqlStorage,
        cipher: ValueCipher,
        blind: BlindIndex,
    ) -> Result<Self, SqlStoreError> {
        create_tables(&sql)?;
        let stored = Default::default();
        Ok(Self { sql, cipher, blind: std::sync::Arc::new(blind), stored })
    }

    /// The term a tag is stored and filtered by (prefixed: never equal to a search term).
    pub fn tag_term(&self, tag: &str) -> String {
        self.blind.term(&format!("tag:{tag}"))
    }

    /// A visitor's id as stored: a blind term, like tags.
    pub fn visitor_term(&self, visitor: &str) -> String {
        self.blind.term(&format!("visitor:{visitor}"))
    }

    /// The tag a stored term stands for.
    pub fn tag_name(&self, term: &str) -> Option<String> {
        let rows =
            self.rows("SELECT sealed FROM tag_names WHERE term = ?", vec![term.into()]).ok()?;
        match rows.first().map(Vec::as_slice) {
            Some([SqlStorageValue::Blob(b)]) => self
                .cipher
                .open(&format!("tag/{term}"), b)
                .ok()
                .and_then(|p| String::from_utf8(p).ok()),
            _ => None,
        }
    }

    pub fn run(&self, st: &Statement) -> Result<Vec<Row>, SqlStoreError> {
        let params: Vec<SqlStorageValue> = st.params.iter().map(param).collect();
        self.rows(&st.sql, params)
    }

    pub fn rows(&self, sql: &str, params: Vec<SqlStorageValue>) -> Result<Vec<Row>, SqlStoreError> {
        let cursor = self.sql.exec(sql, if params.is_empty() { None } else { Some(params) })?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            out.push(row?);
        }
        Ok(out)
    }

    /// The stored version of `conversation`'s summary, 0 if none.
    pub fn version(&self, conversation: &str) -> Result<u64, SqlStoreError> {
        if let Some(known) = self.stored.borrow().get(conversation) {
            return Ok(known.version);
        }
        let rows = self.rows(
            "SELECT version FROM summaries WHERE conversation = ?",
            vec![conversation.into()],
        )?;
        Ok(match rows.first().map(Vec::as_slice) {
            Some([SqlStorageValue::Integer(v)]) => u64::try_from(*v).unwrap_or(0),
            _ => 0,
        })
    }

    /// Drops what this store remembers of `conversation` (it was just erased).
    pub fn forget_version(&self, conversation: &str) {
        self.stored.borrow_mut().remove(conversation);
    }

    /// Deletes an erased conversation's summary and tags, and refuses it from now on. Needs
    /// no key (rows are found by the conversation's name), so an inbox whose key cannot be
    /// opened still forgets.
    pub fn erase(sql: &SqlStorage, conversation: &str) -> Result<(), SqlStoreError> {
        create_tables(sql)?;
        for statement in [
            "DELETE FROM summaries WHERE conversation = ?",
            "DELETE FROM summary_tags WHERE conversation = ?",
            "DELETE FROM summary_visitors WHERE conversation = ?",
            "INSERT OR IGNORE INTO erased (conversation) VALUES (?)",
        ] {
            sql.exec(statement, vec![conversation.into()])?;
        }
        Ok(())
    }

    fn is_erased(&self, conversation: &str) -> Result<bool, SqlStoreError> {
        let rows =
            self.rows("SELECT 1 FROM erased WHERE conversation = ?", vec![conversation.into()])?;
        Ok(!rows.is_empty())
    }

    /// Stores `s` if it is newer than what is stored (and its conversation not erased);
    /// whether it was.
    pub fn upsert(&self, s: &Summary) -> Result<bool, SqlStoreError> {
        let (stale, rows_current) = match self.stored.borrow().get(&s.conversation) {
            Some(k) => (k.version >= s.version, k.tags == s.tags && k.visitor == s.visitor),
            None => (
                self.version(&s.conversation)? >= s.version || self.is_erased(&s.conversation)?,
                false,
            ),
        };
        if stale {
            return Ok(false);
        }
        let json = serde_json::to_vec(s).map_err(|e| SqlStoreError(e.to_string()))?;
        let sealed = self
            .cipher
            .seal(&label(&s.conversation), &json)
            .map_err(|e| SqlStoreError(e.to_string()))?;
        let opt = |v: &Option<String>| match v {
            Some(v) => SqlStorageValue::from(v.as_str()),
            None => SqlStorageValue::Null,
        };
        self.sql.exec(
            "INSERT OR REPLACE INTO summaries (conversation, version, status, rank, assignee, team,
                channel, language, vip, unread, waiting_key, last_at, created_at, sealed)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                s.conversation.as_str().into(),
                SqlStorageValue::Integer(s.version as i64),
                s.status.as_str().into(),
                SqlStorageValue::Integer(priority_rank(s.priority)),
                opt(&s.assignee),
                opt(&s.team),
                s.channel.as_str().into(),
                opt(&s.language),
                SqlStorageValue::Integer(i64::from(s.vip)),
                SqlStorageValue::Integer(i64::from(s.unread)),
                SqlStorageValue::Integer(s.waiting_since.unwrap_or(NOT_WAITING)),
                SqlStorageValue::Integer(s.last_message_at.unwrap_or(0)),
                SqlStorageValue::Integer(s.created_at),
                SqlStorageValue::Blob(sealed),
            ],
        )?;
        if !rows_current {
            self.store_rows(s)?;
        }
        let known = Stored { version: s.version, tags: s.tags.clone(), visitor: s.visitor.clone() };
        self.stored.borrow_mut().insert(s.conversation.clone(), known);
        Ok(true)
    }

    /// The rows beside `s`'s summary: its visitor's and its tags' terms.
    fn store_rows(&self, s: &Summary) -> Result<(), SqlStoreError> {
        if let Some(visitor) = &s.visitor {
            self.sql.exec(
                "INSERT OR REPLACE INTO summary_visitors (conversation, visitor) VALUES (?, ?)",
                vec![s.conversation.as_str().into(), self.visitor_term(visitor).as_str().into()],
            )?;
        }
        self.sql.exec(
            "DELETE FROM summary_tags WHERE conversation = ?",
            vec![s.conversation.as_str().into()],
        )?;
        for t in &s.tags {
            let term = self.tag_term(t);
            self.sql.exec(
                "INSERT OR IGNORE INTO summary_tags (conversation, tag) VALUES (?, ?)",
                vec![s.conversation.as_str().into(), term.as_str().into()],
            )?;
            if self.tag_name(&term).is_none() {
                let sealed = self
                    .cipher
                    .seal(&format!("tag/{term}"), t.as_bytes())
                    .map_err(|e| SqlStoreError(e.to_string()))?;
                self.sql.exec(
                    "INSERT OR REPLACE INTO tag_names (term, sealed) VALUES (?, ?)",
                    vec![term.as_str().into(), SqlStorageValue::Blob(sealed)],
                )?;
            }
        }
        Ok(())
    }

    /// Opens a row's sealed summary (conversation and sealed blob, as the list selects them).
    pub fn open(&self, conversation: &str, sealed: &[u8]) -> Option<Summary> {
        let plain = self.cipher.open(&label(conversation), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Summaries matching a `WHERE` clause over `summaries` (with its parameters).
    pub fn summaries_where(
        &self,
        clause: &str,
        params: Vec<SqlStorageValue>,
    ) -> Result<Vec<Summary>, SqlStoreError> {
        let rows = self
            .rows(&format!("SELECT conversation, sealed FROM summaries WHERE {clause}"), params)?;
        Ok(rows.iter().filter_map(|r| self.open_row(r)).collect())
    }

    fn open_row(&self, r: &Row) -> Option<Summary> {
        match r.as_slice() {
            [SqlStorageValue::String(c), SqlStorageValue::Blob(b), ..] => self.open(c, b),
            _ => None,
        }
    }

    pub fn summary(&self, conversation: &str) -> Result<Option<Summary>, SqlStoreError> {
        Ok(self.summaries_where("conversation = ?", vec![conversation.into()])?.pop())
    }

    /// Open conversations (anything not resolved) per assignee ([`queue::open_counts`]).
    pub fn open_counts(&self) -> Result<Vec<(String, u32)>, SqlStoreError> {
        queue::open_counts(&DoSql(self.sql.clone())).map_err(|e| SqlStoreError(e.to_string()))
    }

    /// What `agent` finds waiting ([`queue::backlog`]), summaries opened.
    pub fn backlog(&self, agent: &str, since: i64) -> Result<Vec<Summary>, SqlStoreError> {
        let rows = queue::backlog(&DoSql(self.sql.clone()), agent, since)
            .map_err(|e| SqlStoreError(e.to_string()))?;
        Ok(rows.iter().filter_map(|(c, sealed)| self.open(c, sealed)).collect())
    }

    /// `team`'s queue, oldest waiting first ([`queue::queued`]), summaries opened.
    pub fn queued(&self, team: &str) -> Result<Vec<Summary>, SqlStoreError> {
        let rows = queue::queued(&DoSql(self.sql.clone()), team)
            .map_err(|e| SqlStoreError(e.to_string()))?;
        Ok(rows.iter().filter_map(|(c, sealed)| self.open(c, sealed)).collect())
    }

    pub fn last_seen(&self, agent: &str) -> Result<Option<i64>, SqlStoreError> {
        let rows = self.rows("SELECT last_seen FROM agents WHERE agent = ?", vec![agent.into()])?;
        Ok(match rows.first().map(Vec::as_slice) {
            Some([SqlStorageValue::Integer(t)]) => Some(*t),
            _ => None,
        })
    }

    pub fn set_last_seen(&self, agent: &str, at: i64) -> Result<(), SqlStoreError> {
        self.sql.exec(
            "INSERT OR REPLACE INTO agents (agent, last_seen) VALUES (?, ?)",
            vec![agent.into(), SqlStorageValue::Integer(at)],
        )?;
        Ok(())
    }

    pub fn last_assigned(&self, team: &str) -> Result<Option<String>, SqlStoreError> {
        let rows =
            self.rows("SELECT last_agent FROM team_cursor WHERE team = ?", vec![team.into()])?;
        Ok(match rows.first().map(Vec::as_slice) {
            Some([SqlStorageValue::String(a)]) => Some(a.clone()),
            _ => None,
        })
    }

    pub fn set_last_assigned(&self, team: &str, agent: &str) -> Result<(), SqlStoreError> {
        self.sql.exec(
            "INSERT OR REPLACE INTO team_cursor (team, last_agent) VALUES (?, ?)",
            vec![team.into(), agent.into()],
        )?;
        Ok(())
    }
}
