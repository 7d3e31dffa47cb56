//! Search over message text and visitor names, Chinese and English, with highlights, for an
//! inbox that never stores that text in plaintext.
//!
//! - [`tokens`]: text → tokens (CJK bigrams, lowercased words), for stored text and queries.
//! - [`query`]: a validated query and its FTS5 MATCH expressions over blind terms.
//! - [`highlight`]: the matched parts of a hit's text, in a snippet.
//! - [`sql`]: the SQLite schema and statements the inbox object runs ([`SearchIndex`]).
//!
//! Storage holds, per message and per visitor name, the blind terms of its tokens
//! ([`crate::at_rest::BlindIndex`]) in an FTS5 table, and the text itself sealed with the
//! inbox's data key beside it. A query's tokens are blinded the same way, FTS5 finds and
//! ranks the rows, and the sealed texts of the hits are opened to mark the matches.

pub mod highlight;
pub mod query;
pub mod sql;
pub mod tokens;

#[cfg(test)]
mod sqlite_tests;

use serde::{Deserialize, Serialize};

pub use highlight::{highlight, Segment};
pub use query::{parse_limit, SearchError, SearchQuery, DEFAULT_LIMIT, MAX_LIMIT};
pub use sql::{
    index_text, HitError, SearchIndex, SearchParam, SearchRow, Statement, CHARS_MIGRATED,
    LEGACY_INDEX_COUNT, MARK_CHARS_MIGRATED, MESSAGES_TO_REINDEX, MIGRATE_LEGACY_INDEX,
    SEARCH_SCHEMA,
};
pub use tokens::{tokens, Token, TokenKind};

/// What a hit's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchField {
    Message,
    VisitorName,
}

impl SearchField {
    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchField::Message => "message",
            SearchField::VisitorName => "visitor_name",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "message" => Some(SearchField::Message),
            "visitor_name" => Some(SearchField::VisitorName),
            _ => None,
        }
    }
}

/// One search result, as sent to agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub conversation: String,
    /// The message's id; `null` for a visitor name.
    pub message: Option<String>,
    pub field: SearchField,
    /// When the message was sent, or the name indexed (ms).
    pub at: i64,
    pub highlight: Vec<Segment>,
    /// The text contains the whole query as one phrase.
    pub exact: bool,
}
