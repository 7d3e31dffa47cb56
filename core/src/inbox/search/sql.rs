//! The search index in the inbox object's SQLite: schema, and the statements that maintain
//! and query it. The worker runs them as given (one synchronous stretch per call, which
//! workerd commits as one transaction); the same statements run in this crate's tests on
//! real SQLite with FTS5.
//!
//! Two tables: `search_text` has one row per indexed text (a message, or a conversation's
//! visitor name), unique per (conversation, field, message id), with the text sealed; the
//! FTS5 table `search_terms` has the blind terms of the same row under the same rowid.
//! Re-indexing a text replaces its row, so a repeated push never duplicates it.
//!
//! `search_terms` is contentless: FTS5 keeps only its inverted index, not a copy of the terms
//! (that copy was 60 % of the inbox's file, ~550 B per message). Nothing reads the terms
//! back: hits are shown from the sealed text.

use crate::at_rest::{BlindIndex, DataKey, EntropyError, ValueCipher, ValueError};

use super::highlight::highlight;
use super::query::SearchQuery;
use super::tokens::{cjk_unigrams, tokens, Token};
use super::{Hit, SearchField};

/// Run in order when the inbox object opens. The `ascii` tokenizer splits at ASCII
/// non-alphanumerics only, so each 32-hex-digit term stays one token.
pub const SEARCH_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS search_text (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    field TEXT NOT NULL,            -- message | visitor_name
    message TEXT NOT NULL,          -- the message id; '' for a visitor name
    at INTEGER NOT NULL,            -- ms
    sealed BLOB NOT NULL,           -- the text, sealed with the inbox's data key
    UNIQUE (conversation, field, message)
)",
    // terms: blind terms of tokens(text), in order; chars: of every CJK character.
    // contentless_delete (SQLite 3.43+) lets a contentless table delete and replace rows.
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_terms USING fts5(terms, chars,
    tokenize = 'ascii', content = '', contentless_delete = 1)",
    // What the index has been brought up to (see CHARS_MIGRATED).
    "CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
];

/// Counts (column `n`) whether messages' CJK characters are indexed one by one. Messages
/// indexed before one-character search have bigrams only: while this is 0 the worker re-indexes
/// each row of [`MESSAGES_TO_REINDEX`] from its sealed text ([`SearchIndex::reindex`]), then
/// runs [`MARK_CHARS_MIGRATED`], all in one synchronous stretch.
pub const CHARS_MIGRATED: &str =
    "SELECT count(*) AS n FROM search_meta WHERE key = 'message_chars'";
/// Rows to re-index, as (id, conversation, message, sealed).
pub const MESSAGES_TO_REINDEX: &str =
    "SELECT id, conversation, message, sealed FROM search_text WHERE field = 'message'";
pub const MARK_CHARS_MIGRATED: &str =
    "INSERT OR REPLACE INTO search_meta (key, value) VALUES ('message_chars', 1)";
const DELETE_ROW_INDEX: &str = "DELETE FROM search_terms WHERE rowid = ?";
const INSERT_ROW_INDEX: &str = "INSERT INTO search_terms (rowid, terms, chars) VALUES (?, ?, ?)";

/// Counts (column `n`) the tables of the index before it went contentless: an inbox created
/// then has `search_index`, whose terms [`MIGRATE_LEGACY_INDEX`] moves into `search_terms`.
pub const LEGACY_INDEX_COUNT: &str =
    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'search_index'";

/// Run in order, after [`SEARCH_SCHEMA`], when [`LEGACY_INDEX_COUNT`] is not 0. One pass over
/// the old index's stored terms (no text is unsealed or re-blinded); the worker runs both in
/// one synchronous stretch, so they commit together or not at all.
pub const MIGRATE_LEGACY_INDEX: [&str; 2] = [
    "INSERT INTO search_terms (rowid, terms, chars) SELECT rowid, terms, chars FROM search_index",
    "DROP TABLE search_index",
];

const DELETE_ENTRY_INDEX: &str = "DELETE FROM search_terms WHERE rowid IN
    (SELECT id FROM search_text WHERE conversation = ? AND field = ? AND message = ?)";
const DELETE_ENTRY_TEXT: &str =
    "DELETE FROM search_text WHERE conversation = ? AND field = ? AND message = ?";
const UPSERT_TEXT: &str = "INSERT INTO search_text (conversation, field, message, at, sealed)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (conversation, field, message) DO UPDATE SET at = excluded.at, sealed = excluded.sealed";
const INSERT_INDEX: &str = "INSERT INTO search_terms (rowid, terms, chars)
    SELECT id, ?, ? FROM search_text WHERE conversation = ? AND field = ? AND message = ?";
const FORGET_INDEX: &str =
    "DELETE FROM search_terms WHERE rowid IN (SELECT id FROM search_text WHERE conversation = ?)";
const FORGET_TEXT: &str = "DELETE FROM search_text WHERE conversation = ?";
const FORGET_MESSAGES_INDEX: &str = "DELETE FROM search_terms WHERE rowid IN
    (SELECT id FROM search_text WHERE conversation = ? AND field = 'message' AND at <= ?)";
const FORGET_MESSAGES_TEXT: &str =
    "DELETE FROM search_text WHERE conversation = ? AND field = 'message' AND at <= ?";

/// Selects the columns of a [`SearchRow`], in its field order. Parameters: the exact-phrase
/// expression, the match expression, the limit. Exact-phrase hits first, then by bm25 (best
/// first), then newest.
const SEARCH: &str = "SELECT t.conversation, t.field, t.message, t.at, t.sealed,
    t.id IN (SELECT rowid FROM search_terms WHERE search_terms MATCH ?) AS exact
FROM search_terms JOIN search_text AS t ON t.id = search_terms.rowid
WHERE search_terms MATCH ?
ORDER BY exact DESC, bm25(search_terms), t.at DESC, t.id DESC
LIMIT ?";

/// A statement parameter. (The inbox's list queries have their own `SqlParam`; this one
/// also carries blobs, for the sealed texts.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchParam {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// One SQL statement with its positional (`?`) parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: &'static str,
    pub params: Vec<SearchParam>,
}

/// A row of the search statement, as the worker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRow {
    pub conversation: String,
    pub field: String,
    pub message: String,
    pub at: i64,
    pub sealed: Vec<u8>,
    /// The `exact` column (0 or 1).
    pub exact: bool,
}

/// A stored search row that cannot be shown: storage is damaged or was tampered with. The
/// message names the conversation, never text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HitError {
    #[error("search index row of conversation {conversation:?} has unknown field {field:?}")]
    UnknownField { conversation: String, field: String },
    #[error("search index text of conversation {conversation:?}: {source}")]
    Sealed { conversation: String, source: ValueError },
    #[error("search index text of conversation {conversation:?} is not UTF-8")]
    NotText { conversation: String },
}

/// An inbox's search index: blinds tokens and seals texts with the inbox's data key, and
/// produces the statements that store and find them.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    blind: BlindIndex,
    cipher: ValueCipher,
}

impl SearchIndex {
    /// `owner` names the inbox (its Durable Object name); terms and sealed texts are bound
    /// to it.
    pub fn new(key: &DataKey, owner: &str) -> Self {
        Self { blind: BlindIndex::new(key, owner), cipher: ValueCipher::new(key, owner) }
    }

    /// Indexes a message's text, replacing what was indexed for that message id before: its
    /// tokens, and each CJK character on its own so that a one-character query (好, 货)
    /// finds it too (~70 B more for a message with a dozen CJK characters).
    pub fn index_message(
        &self,
        conversation: &str,
        message: &str,
        at: i64,
        text: &str,
    ) -> Result<Vec<Statement>, EntropyError> {
        let entry = Entry { conversation, field: SearchField::Message, message, at, text };
        let (terms, chars) = self.message_terms(text);
        self.upsert(entry, terms, chars)
    }

    /// A message's indexed columns: its tokens, and each CJK character on its own.
    fn message_terms(&self, text: &str) -> (String, String) {
        (index_text(&self.blind, text), join(&self.blind, &cjk_unigrams(text)))
    }

    /// Sets the conversation's visitor name (`None` or blank: removes it).
    pub fn index_visitor_name(
        &self,
        conversation: &str,
        name: Option<&str>,
        at: i64,
    ) -> Result<Vec<Statement>, EntropyError> {
        let text = name.unwrap_or("");
        let entry = Entry { conversation, field: SearchField::VisitorName, message: "", at, text };
        self.upsert(entry, index_text(&self.blind, text), join(&self.blind, &cjk_unigrams(text)))
    }

    /// Removes everything indexed for a conversation (erased or deleted).
    pub fn forget_conversation(conversation: &str) -> Vec<Statement> {
        [FORGET_INDEX, FORGET_TEXT]
            .into_iter()
            .map(|sql| Statement { sql, params: vec![SearchParam::Text(conversation.into())] })
            .collect()
    }

    /// Removes the messages of a conversation received at or before `at` (ms): retention
    /// shredded the segments that held them (PROTOCOL.md §16.4).
    pub fn forget_messages_through(conversation: &str, at: i64) -> Vec<Statement> {
        [FORGET_MESSAGES_INDEX, FORGET_MESSAGES_TEXT]
            .into_iter()
            .map(|sql| Statement {
                sql,
                params: vec![SearchParam::Text(conversation.into()), SearchParam::Int(at)],
            })
            .collect()
    }

    /// The search; its rows become hits through [`Self::hit`]. `limit` comes from
    /// [`super::parse_limit`].
    pub fn search(&self, query: &SearchQuery, limit: u32) -> Statement {
        Statement {
            sql: SEARCH,
            params: vec![
                SearchParam::Text(query.exact_phrase_expression(&self.blind)),
                SearchParam::Text(query.match_expression(&self.blind)),
                SearchParam::Int(i64::from(limit)),
            ],
        }
    }

    /// The statements that index a stored message row again, from its sealed text, with
    /// what [`Self::index_message`] indexes today.
    pub fn reindex(
        &self,
        id: i64,
        conversation: &str,
        message: &str,
        sealed: &[u8],
    ) -> Result<Vec<Statement>, HitError> {
        let text = self.open_text(conversation, SearchField::Message, message, sealed)?;
        let (terms, chars) = self.message_terms(&text);
        Ok(vec![
            Statement { sql: DELETE_ROW_INDEX, params: vec![SearchParam::Int(id)] },
            Statement {
                sql: INSERT_ROW_INDEX,
                params: vec![
                    SearchParam::Int(id),
                    SearchParam::Text(terms),
                    SearchParam::Text(chars),
                ],
            },
        ])
    }

    /// Opens a found row's text and marks the matches.
    pub fn hit(&self, query: &SearchQuery, row: SearchRow) -> Result<Hit, HitError> {
        let SearchRow { conversation, field, message, at, sealed, exact } = row;
        let Some(field) = SearchField::parse(&field) else {
            return Err(HitError::UnknownField { conversation, field });
        };
        let text = self.open_text(&conversation, field, &message, &sealed)?;
        let message = (field == SearchField::Message).then_some(message);
        Ok(Hit { conversation, message, field, at, highlight: highlight(&text, query), exact })
    }

    /// The text sealed in a row, which opens only under that row's identity.
    fn open_text(
        &self,
        conversation: &str,
        field: SearchField,
        message: &str,
        sealed: &[u8],
    ) -> Result<String, HitError> {
        let opened = self.cipher.open(&label(conversation, field, message), sealed);
        let plain = opened
            .map_err(|source| HitError::Sealed { conversation: conversation.to_owned(), source })?;
        String::from_utf8(plain)
            .map_err(|_| HitError::NotText { conversation: conversation.to_owned() })
    }

    /// Replaces the entry's rows: its index row goes, its sealed text is upserted (its id
    /// stays), and the index row is inserted again under that id.
    fn upsert(
        &self,
        entry: Entry<'_>,
        terms: String,
        chars: String,
    ) -> Result<Vec<Statement>, EntropyError> {
        let Entry { conversation, field, message, at, text } = entry;
        let key = || {
            vec![
                SearchParam::Text(conversation.into()),
                SearchParam::Text(field.as_str().into()),
                SearchParam::Text(message.into()),
            ]
        };
        let mut out = vec![Statement { sql: DELETE_ENTRY_INDEX, params: key() }];
        if terms.is_empty() && chars.is_empty() {
            // Nothing to find it by: keep no sealed copy either.
            out.push(Statement { sql: DELETE_ENTRY_TEXT, params: key() });
            return Ok(out);
        }
        let sealed = self.cipher.seal(&label(conversation, field, message), text.as_bytes())?;
        let mut upsert = key();
        upsert.extend([SearchParam::Int(at), SearchParam::Blob(sealed)]);
        out.push(Statement { sql: UPSERT_TEXT, params: upsert });
        let mut index = vec![SearchParam::Text(terms), SearchParam::Text(chars)];
        index.extend(key());
        out.push(Statement { sql: INSERT_INDEX, params: index });
        Ok(out)
    }
}

/// One indexed text and its row's identity (`message` is `""` for a visitor name).
struct Entry<'a> {
    conversation: &'a str,
    field: SearchField,
    message: &'a str,
    at: i64,
    text: &'a str,
}

/// The indexed form of `text`: its tokens' blind terms, space-separated, in order.
pub fn index_text(blind: &BlindIndex, text: &str) -> String {
    join(blind, &tokens(text))
}

fn join(blind: &BlindIndex, tokens: &[Token]) -> String {
    let terms: Vec<String> = tokens.iter().map(|t| blind.term(&t.text)).collect();
    terms.join(" ")
}

/// The sealing label binds a text to its row: a sealed text copied to another row does not
/// open. JSON keeps the parts unambiguous whatever characters ids contain.
fn label(conversation: &str, field: SearchField, message: &str) -> String {
    serde_json::json!(["search", field.as_str(), conversation, message]).to_string()
}
