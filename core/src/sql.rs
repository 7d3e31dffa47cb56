//! The SQLite a Durable Object offers (`ctx.storage.sql`), as a trait: the statements and the
//! decisions around them live in this crate and run natively in tests on real SQLite
//! (rusqlite), while the Worker runs the very same statements on workerd.
//!
//! Calls are synchronous, as on workerd: a caller that issues several statements without an
//! `await` between them gets them committed as one implicit transaction there.

/// One SQL value, as SQLite and workerd's `SqlStorageValue` know them (no floats needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sqlite: {0}")]
pub struct SqlError(pub String);

/// A synchronous SQL connection.
pub trait Sql {
    /// Runs one statement with `?` parameters; its rows, each a list of column values.
    fn exec(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>, SqlError>;
}

/// A shared connection: several stores over one database.
impl<T: Sql + ?Sized> Sql for std::rc::Rc<T> {
    fn exec(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        (**self).exec(sql, params)
    }
}

/// The one integer of a single-row, single-column answer (`SELECT count(*)`…), if any.
pub fn single_integer(rows: &[Vec<SqlValue>]) -> Option<i64> {
    match rows.first().map(Vec::as_slice) {
        Some([SqlValue::Integer(n)]) => Some(*n),
        _ => None,
    }
}

/// [`Sql`] on rusqlite, for this crate's tests.
#[cfg(test)]
pub mod sqlite {
    use super::{Sql, SqlError, SqlValue};
    use rusqlite::types::{Value, ValueRef};

    pub struct Sqlite(pub rusqlite::Connection);

    impl Sqlite {
        pub fn memory() -> Self {
            Sqlite(rusqlite::Connection::open_in_memory().expect("in-memory SQLite"))
        }
    }

    /// [`Sqlite`] that keeps every statement it runs, for tests that bound how many a path
    /// issues.
    pub struct Logged {
        pub db: Sqlite,
        pub log: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
    }

    impl Logged {
        pub fn memory() -> Self {
            Logged { db: Sqlite::memory(), log: Default::default() }
        }

        /// The statements run since the last call, whitespace collapsed.
        pub fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.borrow_mut())
        }
    }

    impl Sql for Logged {
        fn exec(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>, SqlError> {
            self.log.borrow_mut().push(sql.split_whitespace().collect::<Vec<_>>().join(" "));
            self.db.exec(sql, params)
        }
    }

    impl Sql for Sqlite {
        fn exec(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>, SqlError> {
            let err = |e: rusqlite::Error| SqlError(e.to_string());
            let mut st = self.0.prepare(sql).map_err(err)?;
            let params: Vec<Value> = params
                .into_iter()
                .map(|p| match p {
                    SqlValue::Null => Value::Null,
                    SqlValue::Integer(n) => Value::Integer(n),
                    SqlValue::Text(s) => Value::Text(s),
                    SqlValue::Blob(b) => Value::Blob(b),
                })
                .collect();
            let columns = st.column_count();
            let mut rows = st.query(rusqlite::params_from_iter(params)).map_err(err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let mut values = Vec::with_capacity(columns);
                for i in 0..columns {
                    values.push(match row.get_ref(i).map_err(err)? {
                        ValueRef::Null => SqlValue::Null,
                        ValueRef::Integer(n) => SqlValue::Integer(n),
                        ValueRef::Real(f) => SqlValue::Text(f.to_string()),
                        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into()),
                        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
                    });
                }
                out.push(values);
            }
            Ok(out)
        }
    }
}
