//! A workspace's configuration in its Durable Object's SQLite: one row with the version, who
//! set it and when, and the configuration JSON sealed with the workspace's data key.
//!
//! The configuration holds webhook secrets, so it is encrypted at rest like a conversation's
//! chunks: a random data key per workspace, stored only wrapped by the current master key
//! (`EDGEDESK_MASTER_KEYS`) in the same key record table conversations use ([`crate::key_store::KeyTable`],
//! owner name = the workspace id), rewrapped on rotation. The version is in the associated
//! data, so an older row cannot be replayed as the current one.

use edgedesk_core::at_rest::{KeyError, MasterKeyError, ValueCipher};
use worker::{SqlStorage, SqlStorageValue};

use crate::key_store::owner_key;
use crate::request::Refusal;
use crate::sql_store::SqlStoreError;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS workspace_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
)";

/// The current configuration as stored.
#[derive(Debug, Clone)]
pub struct StoredConfig {
    pub version: u64,
    /// The configuration JSON with its secrets (`WorkspaceConfig::to_json(false)`).
    pub json: String,
    /// Server time (ms) of the `PUT`.
    pub updated_at: i64,
    /// The admin who sent it (the token's subject).
    pub updated_by: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    MasterKeys(#[from] MasterKeyError),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    Sql(#[from] SqlStoreError),
    /// A stored row that does not decrypt or decode: no contents in the message.
    #[error("stored configuration: {0}")]
    Corrupt(String),
}

impl From<worker::Error> for StoreError {
    fn from(e: worker::Error) -> Self {
        StoreError::Sql(e.into())
    }
}

impl StoreError {
    /// The HTTP answer; messages name key ids at most, never keys or contents.
    pub fn refusal(&self) -> Refusal {
        match self {
            StoreError::MasterKeys(_)
            | StoreError::Key(KeyError::MissingMasterKey { .. } | KeyError::Unwrap { .. }) => {
                Refusal::new(
                    503,
                    "encryption_key_unavailable",
                    format!("the workspace configuration is locked: {self}"),
                )
            }
            _ => Refusal::new(503, "unavailable", "workspace storage unavailable; retry later"),
        }
    }
}

pub struct ConfigTable {
    sql: SqlStorage,
    workspace: String,
}

impl ConfigTable {
    pub fn new(sql: SqlStorage, workspace: &str) -> Result<Self, StoreError> {
        sql.exec(SCHEMA, None)?;
        Ok(Self { sql, workspace: workspace.to_owned() })
    }

    /// The stored version, 0 if none: read without opening the data key, for the frequent
    /// "still version n?" question of conversation objects.
    pub fn version(&self) -> Result<u64, StoreError> {
        let cursor = self.sql.exec("SELECT version FROM workspace_config WHERE id = 1", None)?;
        let Some(row) = cursor.raw().next() else { return Ok(0) };
        match row?.as_slice() {
            [SqlStorageValue::Integer(v)] => Ok(u64::try_from(*v).unwrap_or(0)),
            _ => Err(StoreError::Corrupt("malformed version".into())),
        }
    }

    pub fn load(&self, master_keys: Option<&str>) -> Result<Option<StoredConfig>, StoreError> {
        let cursor = self.sql.exec(
            "SELECT version, sealed, updated_at, updated_by FROM workspace_config WHERE id = 1",
            None,
        )?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        let row = row?;
        let [SqlStorageValue::Integer(version), SqlStorageValue::Blob(sealed), SqlStorageValue::Integer(updated_at), SqlStorageValue::String(updated_by)] =
            row.as_slice()
        else {
            return Err(StoreError::Corrupt("malformed workspace_config row".into()));
        };
        let version = u64::try_from(*version).unwrap_or(0);
        let plain = self
            .cipher(master_keys)?
            .open(&label(version), sealed)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let json = String::from_utf8(plain)
            .map_err(|_| StoreError::Corrupt(format!("version {version} is not UTF-8")))?;
        Ok(Some(StoredConfig {
            version,
            json,
            updated_at: *updated_at,
            updated_by: updated_by.clone(),
        }))
    }

    /// Replaces the stored configuration (synchronous statements: one transaction).
    pub fn store(&self, master_keys: Option<&str>, c: &StoredConfig) -> Result<(), StoreError> {
        let sealed = self
            .cipher(master_keys)?
            .seal(&label(c.version), c.json.as_bytes())
            .map_err(KeyError::from)?;
        let version = i64::try_from(c.version)
            .map_err(|_| StoreError::Corrupt("version out of range".into()))?;
        self.sql.exec(
            "INSERT INTO workspace_config (id, version, sealed, updated_at, updated_by) VALUES (1, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, sealed = excluded.sealed,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            vec![
                SqlStorageValue::Integer(version),
                SqlStorageValue::Blob(sealed),
                SqlStorageValue::Integer(c.updated_at),
                c.updated_by.as_str().into(),
            ],
        )?;
        Ok(())
    }

    /// The workspace's data key (made on first use, rewrapped after a master key rotation).
    fn cipher(&self, master_keys: Option<&str>) -> Result<ValueCipher, StoreError> {
        let opened = owner_key::<StoreError>(&self.sql, master_keys, &self.workspace)?;
        Ok(ValueCipher::new(&opened.key, &opened.conversation))
    }
}

fn label(version: u64) -> String {
    format!("config/v{version}")
}
