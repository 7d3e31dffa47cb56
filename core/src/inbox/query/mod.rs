//! The inbox's list queries and sidebar counts: parsed from a request, turned into SQL the
//! worker runs on the inbox's SQLite ([`super::schema`]), paged with keyset cursors.
//!
//! One [`ListQuery`] serves both the HTTP list route (query string, [`ListQuery::from_pairs`])
//! and the inbox socket (JSON, [`ListQuery::from_json`]), so the two cannot disagree on what
//! a filter means. The SQL is generated, never concatenated from input: every value is a `?`
//! parameter.
//!
//! Flow in the worker:
//! 1. `let q = ListQuery::from_pairs(&pairs)?` (a [`QueryError`] answers 400 `bad_query`);
//! 2. `let st = q.statement(me)`; run `st.sql` with `st.params`, reading
//!    `conversation, sealed, rank, waiting_key, last_at` per row;
//! 3. `let (rows, next_cursor) = q.page(rows, |r| key_row_of(r))`: drops the probe row
//!    (the statement asks for `limit + 1`) and mints the cursor only if there is more.
//!
//! Keyset paging, not OFFSET: a conversation that arrives or moves between two pages does not
//! shift the rest, so the rows that stay put are listed exactly once while new ones arrive.

mod counts;
mod cursor;
mod error;
mod params;
mod sql;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, TeamId};
use crate::internal_doc::Priority;
use crate::workflow::status::State;

pub use counts::{counts_statements, CountRow, Counts};
pub use cursor::{Cursor, MAX_CURSOR_CHARS};
pub use error::{QueryError, PARAMETERS};

/// Rows one page may hold at most.
pub const MAX_LIMIT: u32 = 100;
/// Rows per page when the query names no `limit`.
pub const DEFAULT_LIMIT: u32 = 50;
/// Bound on `since`, `until` and cursor keys: the worker binds integers as JavaScript
/// numbers, which hold integers exactly only up to here.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// One bound value of a [`Statement`], in the order of its `?` placeholders. Serialises as
/// the bare number or string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SqlParam {
    Int(i64),
    Text(String),
}

/// SQL for SQLite with positional `?` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// A list's order. Each ends with `conversation ASC`, so it is total and a cursor names
/// exactly one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Most urgent first, then longest waiting: `rank DESC, waiting_key ASC`.
    #[default]
    Priority,
    /// Longest waiting first; conversations nobody waits on last: `waiting_key ASC`.
    Waiting,
    /// Most recent message first: `last_at DESC`.
    Activity,
}

impl Sort {
    pub const ALL: [Sort; 3] = [Sort::Priority, Sort::Waiting, Sort::Activity];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Priority => "priority",
            Sort::Waiting => "waiting",
            Sort::Activity => "activity",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for Sort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose conversations: `me` is resolved against the asking agent when the SQL is made, so
/// one parsed query means the same thing on every agent's socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AssigneeFilter {
    Me,
    Unassigned,
    Agent(ParticipantId),
}

/// A validated list query. Empty lists and `None` mean "any"; `unread: false` means "read or
/// not". `since` (inclusive) and `until` (exclusive) bound `last_at`, the last message's time
/// in ms (0 for a conversation without messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Vec<State>,
    pub tag: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    pub team: Option<TeamId>,
    pub priority: Vec<Priority>,
    pub unread: bool,
    pub channel: Option<String>,
    /// Only the conversations of this visitor (participant id); the store matches its blind
    /// term, so the worker replaces it with the term before building the statement.
    pub visitor: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub sort: Sort,
    /// 1..=[`MAX_LIMIT`].
    pub limit: u32,
    /// Where the previous page ended; always of [`ListQuery::sort`] (checked when parsed).
    pub cursor: Option<Cursor>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            status: Vec::new(),
            tag: None,
            assignee: None,
            team: None,
            priority: Vec::new(),
            unread: false,
            channel: None,
            visitor: None,
            since: None,
            until: None,
            sort: Sort::default(),
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// The sort keys of one listed row, as selected by [`ListQuery::statement`]: what a cursor
/// is minted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRow {
    pub conversation: String,
    pub rank: i64,
    pub waiting_key: i64,
    pub last_at: i64,
}

impl ListQuery {
    /// The cursor of the next page, given how many rows the statement returned and the last
    /// row kept for this page; `None` when this page is the last one (the statement fetches
    /// `limit + 1` rows precisely to tell).
    pub fn next_cursor(&self, rows_fetched: usize, last_kept: &KeyRow) -> Option<String> {
        (rows_fetched > self.limit as usize).then(|| Cursor::after(self.sort, last_kept).encode())
    }

    /// Trims the rows of [`ListQuery::statement`] to the page and mints the next cursor from
    /// the last row kept, with `keys` reading a row's sort keys.
    pub fn page<T>(
        &self,
        mut rows: Vec<T>,
        keys: impl Fn(&T) -> KeyRow,
    ) -> (Vec<T>, Option<String>) {
        let fetched = rows.len();
        rows.truncate(self.limit as usize);
        let cursor = rows.last().and_then(|last| self.next_cursor(fetched, &keys(last)));
        (rows, cursor)
    }
}
