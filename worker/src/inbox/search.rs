//! The inbox's search index in its Durable Object's SQLite.
//!
//! Core decides everything ([`SearchIndex`]: tokens, blind terms, sealing, the statements,
//! ranking, highlights); this module runs the statements and reads the rows. Each call runs
//! its statements synchronously with no `await` between them, so workerd commits them as one
//! implicit transaction: a text's sealed row and its index row change together.

use edgedesk_core::at_rest::{DataKey, EntropyError};
use edgedesk_core::inbox::search::{
    Hit, HitError, SearchIndex, SearchParam, SearchQuery, SearchRow, Statement, CHARS_MIGRATED,
    LEGACY_INDEX_COUNT, MARK_CHARS_MIGRATED, MESSAGES_TO_REINDEX, MIGRATE_LEGACY_INDEX,
    SEARCH_SCHEMA,
};
use worker::{SqlStorage, SqlStorageValue};

use crate::request::Refusal;
use crate::sql_store::SqlStoreError;

#[derive(Debug, thiserror::Error)]
pub enum SearchStoreError {
    #[error("{0}")]
    Sql(#[from] SqlStoreError),
    #[error("{0}")]
    Entropy(#[from] EntropyError),
    /// A stored row that does not open: names the conversation, never text.
    #[error("{0}")]
    Corrupt(#[from] HitError),
}

impl From<worker::Error> for SearchStoreError {
    fn from(e: worker::Error) -> Self {
        SearchStoreError::Sql(e.into())
    }
}

impl SearchStoreError {
    /// The HTTP (or socket result) answer; the message carries no text.
    pub fn refusal(&self) -> Refusal {
        Refusal::new(503, "unavailable", "the inbox search index is unavailable; retry later")
    }
}

pub struct InboxSearch {
    sql: SqlStorage,
    index: SearchIndex,
}

impl InboxSearch {
    /// Opens the index (creating its tables), keyed from the inbox's data key; `owner` is
    /// the inbox object's name. Open once per object instance.
    pub fn open(sql: SqlStorage, key: &DataKey, owner: &str) -> Result<Self, SearchStoreError> {
        create_tables(&sql)?;
        let this = Self { sql, index: SearchIndex::new(key, owner) };
        this.index_characters()?;
        Ok(this)
    }

    /// Once per inbox: indexes the CJK characters of messages indexed before one-character
    /// search, from their sealed texts (one synchronous stretch, so all or nothing).
    fn index_characters(&self) -> Result<(), SearchStoreError> {
        if count(&self.sql, CHARS_MIGRATED)? > 0 {
            return Ok(());
        }
        let rows: Vec<Vec<SqlStorageValue>> =
            self.sql.exec(MESSAGES_TO_REINDEX, None)?.raw().collect::<Result<_, _>>()?;
        for row in rows {
            let [SqlStorageValue::Integer(id), SqlStorageValue::String(conversation), SqlStorageValue::String(message), SqlStorageValue::Blob(sealed)] =
                row.as_slice()
            else {
                return Err(SqlStoreError("malformed search text row".into()).into());
            };
            match self.index.reindex(*id, conversation, message, sealed) {
                Ok(statements) => self.run(statements)?,
                // A row that does not open stays as it was (a search hit on it fails the same
                // way); it must not keep the inbox from opening. The error names the
                // conversation, never text.
                Err(e) => worker::console_error!("search row not re-indexed: {e}"),
            }
        }
        self.sql.exec(MARK_CHARS_MIGRATED, None)?;
        Ok(())
    }

    /// Indexes a message; indexing the same message id again replaces it.
    pub fn index_message(
        &self,
        conversation: &str,
        message: &str,
        at: i64,
        text: &str,
    ) -> Result<(), SearchStoreError> {
        self.run(self.index.index_message(conversation, message, at, text)?)
    }

    /// Replaces the conversation's visitor name (`None`: removes it).
    pub fn index_visitor_name(
        &self,
        conversation: &str,
        name: Option<&str>,
        at: i64,
    ) -> Result<(), SearchStoreError> {
        self.run(self.index.index_visitor_name(conversation, name, at)?)
    }

    /// Removes every entry of an erased conversation. Needs no key (rows are found by the
    /// conversation's name), so an inbox whose key cannot be opened still forgets.
    pub fn forget(sql: &SqlStorage, conversation: &str) -> Result<(), SearchStoreError> {
        create_tables(sql)?;
        run(sql, SearchIndex::forget_conversation(conversation))
    }

    /// Removes a conversation's messages received at or before `at`: retention shredded them.
    pub fn forget_messages_through(
        &self,
        conversation: &str,
        at: i64,
    ) -> Result<(), SearchStoreError> {
        self.run(SearchIndex::forget_messages_through(conversation, at))
    }

    /// The best `limit` hits: exact phrases first, then by relevance, then newest.
    pub fn search(&self, query: &SearchQuery, limit: u32) -> Result<Vec<Hit>, SearchStoreError> {
        let Statement { sql, params } = self.index.search(query, limit);
        let cursor = self.sql.exec(sql, values(params)?)?;
        let mut hits = Vec::new();
        for row in cursor.raw() {
            hits.push(self.index.hit(query, search_row(row?)?)?);
        }
        Ok(hits)
    }

    fn run(&self, statements: Vec<Statement>) -> Result<(), SearchStoreError> {
        run(&self.sql, statements)
    }
}

/// Creates the tables, and moves an index from before it went contentless (same
/// synchronous stretch: the move commits with the schema or not at all).
fn create_tables(sql: &SqlStorage) -> Result<(), SearchStoreError> {
    for statement in SEARCH_SCHEMA {
        sql.exec(statement, None)?;
    }
    if count(sql, LEGACY_INDEX_COUNT)? > 0 {
        for statement in MIGRATE_LEGACY_INDEX {
            sql.exec(statement, None)?;
        }
    }
    Ok(())
}

/// The single integer a counting statement selects.
fn count(sql: &SqlStorage, statement: &str) -> Result<i64, SearchStoreError> {
    match sql.exec(statement, None)?.raw().next().transpose()?.as_deref() {
        Some([SqlStorageValue::Integer(n)]) => Ok(*n),
        _ => Err(SqlStoreError(format!("unexpected result of {statement:?}")).into()),
    }
}

fn run(sql: &SqlStorage, statements: Vec<Statement>) -> Result<(), SearchStoreError> {
    for Statement { sql: text, params } in statements {
        sql.exec(text, values(params)?)?;
    }
    Ok(())
}

fn values(params: Vec<SearchParam>) -> Result<Vec<SqlStorageValue>, SearchStoreError> {
    params
        .into_iter()
        .map(|p| match p {
            SearchParam::Int(i) => Ok(SqlStorageValue::try_from_i64(i)?),
            SearchParam::Text(t) => Ok(SqlStorageValue::String(t)),
            SearchParam::Blob(b) => Ok(SqlStorageValue::Blob(b)),
        })
        .collect()
}

fn search_row(row: Vec<SqlStorageValue>) -> Result<SearchRow, SearchStoreError> {
    let mut row = row.into_iter();
    let (
        Some(SqlStorageValue::String(conversation)),
        Some(SqlStorageValue::String(field)),
        Some(SqlStorageValue::String(message)),
        Some(SqlStorageValue::Integer(at)),
        Some(SqlStorageValue::Blob(sealed)),
        Some(exact),
        None,
    ) = (row.next(), row.next(), row.next(), row.next(), row.next(), row.next(), row.next())
    else {
        return Err(SqlStoreError("malformed search row".into()).into());
    };
    let exact = match exact {
        SqlStorageValue::Integer(i) => i != 0,
        SqlStorageValue::Boolean(b) => b,
        _ => return Err(SqlStoreError("malformed search row (exact)".into()).into()),
    };
    Ok(SearchRow { conversation, field, message, at, sealed, exact })
}
