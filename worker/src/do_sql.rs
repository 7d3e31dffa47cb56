//! Core's [`Sql`] on the Durable Object's SQLite (`ctx.storage.sql`), so the statements and
//! decisions that core keeps under native tests run here unchanged.

use edgedesk_core::sql::{Sql, SqlError, SqlValue};
use worker::{SqlStorage, SqlStorageValue};

#[derive(Clone)]
pub struct DoSql(pub SqlStorage);

impl Sql for DoSql {
    fn exec(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        let err = |e: worker::Error| SqlError(e.to_string());
        let params: Vec<SqlStorageValue> = params
            .into_iter()
            .map(|p| match p {
                SqlValue::Null => SqlStorageValue::Null,
                SqlValue::Integer(n) => SqlStorageValue::Integer(n),
                SqlValue::Text(s) => SqlStorageValue::String(s),
                SqlValue::Blob(b) => SqlStorageValue::Blob(b),
            })
            .collect();
        let params = (!params.is_empty()).then_some(params);
        let cursor = self.0.exec(sql, params).map_err(err)?;
        let mut rows = Vec::new();
        for row in cursor.raw() {
            rows.push(
                row.map_err(err)?
                    .into_iter()
                    .map(|v| match v {
                        SqlStorageValue::Null => SqlValue::Null,
                        SqlStorageValue::Boolean(b) => SqlValue::Integer(i64::from(b)),
                        SqlStorageValue::Integer(n) => SqlValue::Integer(n),
                        SqlStorageValue::Float(f) => SqlValue::Text(f.to_string()),
                        SqlStorageValue::String(s) => SqlValue::Text(s),
                        SqlStorageValue::Blob(b) => SqlValue::Blob(b),
                    })
                    .collect(),
            );
        }
        Ok(rows)
    }
}
