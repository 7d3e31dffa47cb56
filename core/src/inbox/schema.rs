//! The inbox Durable Object's SQLite schema: summaries and their tags.
//!
//! Lives in core, beside the queries that run against it ([`super::query`]), so the two
//! cannot drift apart and core's tests run the very statements the worker executes. Every
//! statement is idempotent (`IF NOT EXISTS`): the worker runs them all whenever it opens
//! the store.
//!
//! The indexes match the list orders exactly (including `rank DESC` and `last_at DESC`), so
//! a page is read straight off an index from the cursor's position rather than sorting the
//! whole table per request.

/// The statements creating the inbox's tables and indexes, in order.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS summaries (
        conversation TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        rank INTEGER NOT NULL,
        assignee TEXT,
        team TEXT,
        channel TEXT NOT NULL,
        language TEXT,
        vip INTEGER NOT NULL,
        unread INTEGER NOT NULL,
        waiting_key INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        sealed BLOB NOT NULL
    )",
    // Whose conversation it is (a blind term of the visitor's id), for `visitor=`.
    "CREATE TABLE IF NOT EXISTS summary_visitors (
        conversation TEXT PRIMARY KEY,
        visitor TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS summary_visitors_by_visitor ON summary_visitors (visitor)",
    "CREATE TABLE IF NOT EXISTS summary_tags (
        conversation TEXT NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (conversation, tag)
    )",
    // sort=priority
    "CREATE INDEX IF NOT EXISTS summaries_by_priority
        ON summaries (rank DESC, waiting_key ASC, conversation ASC)",
    // sort=waiting
    "CREATE INDEX IF NOT EXISTS summaries_by_waiting ON summaries (waiting_key, conversation)",
    // sort=activity, and since/until
    "CREATE INDEX IF NOT EXISTS summaries_by_activity
        ON summaries (last_at DESC, conversation ASC)",
    // assignee=me|unassigned|<agent>, and the `mine` / `unassigned` counts
    "CREATE INDEX IF NOT EXISTS summaries_by_assignee ON summaries (assignee)",
    "CREATE INDEX IF NOT EXISTS summaries_by_team ON summaries (team)",
    "CREATE INDEX IF NOT EXISTS summaries_by_status ON summaries (status)",
    // tag=…, and the per-tag counts
    "CREATE INDEX IF NOT EXISTS summary_tags_by_tag ON summary_tags (tag, conversation)",
];

/// `waiting_key` of a conversation nobody is waiting on: it sorts after every real
/// timestamp, and is the largest integer JavaScript (the worker's SQL bindings) holds exactly.
pub const NOT_WAITING: i64 = 9_007_199_254_740_991;
