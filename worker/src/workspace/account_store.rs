//! Agents' accounts and sign-in sessions in the workspace object's SQLite.
//!
//! An account row holds its record (email, name, role, disabled, password hash) sealed with
//! the workspace's data key, like the configuration ([`super::store`]), and for lookups a
//! blind index of the email (a MAC keyed from the same data key): no address is stored in the
//! clear, and none can be confirmed from the database alone. Sessions hold the
//! SHA-256 of their refresh secrets only (`core::accounts::session`). Whether an account is
//! disabled is also a plain column: the check every staff socket passes
//! ([`SessionTable::disabled`]) needs no key, so a workspace whose key is unavailable does not
//! also lock its agents out of conversations that open.

use edgedesk_core::accounts::{Account, Attempts, Session};
use edgedesk_core::at_rest::{BlindIndex, ValueCipher};
use edgedesk_core::ids::ParticipantId;
use edgedesk_core::message::Role;
use serde::{Deserialize, Serialize};
use worker::{SqlStorage, SqlStorageValue};

use super::store::StoreError;
use crate::key_store::owner_key;

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS accounts (
        id TEXT PRIMARY KEY,
        email_hash TEXT NOT NULL UNIQUE,
        sealed BLOB NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        previous_hash TEXT,
        expires_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (agent)",
];

/// The sealed part of an account row.
#[derive(Serialize, Deserialize)]
struct Record {
    email: String,
    name: String,
    role: Role,
    disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
}

/// An account as stored: the record, its password hash and its failed attempts.
pub struct StoredAccount {
    pub account: Account,
    pub password_hash: Option<String>,
    pub attempts: Attempts,
}

pub struct AccountTable {
    sql: SqlStorage,
    cipher: ValueCipher,
    emails: BlindIndex,
    sessions: SessionTable,
}

/// Sessions, and the disabled flag of accounts: readable without the workspace's key.
pub struct SessionTable {
    sql: SqlStorage,
}

fn create_schema(sql: &SqlStorage) -> Result<(), StoreError> {
    for statement in SCHEMA {
        sql.exec(statement, None)?;
    }
    Ok(())
}

impl AccountTable {
    pub fn open(
        sql: SqlStorage,
        workspace: &str,
        master_keys: Option<&str>,
    ) -> Result<Self, StoreError> {
        create_schema(&sql)?;
        let opened = owner_key::<StoreError>(&sql, master_keys, workspace)?;
        let cipher = ValueCipher::new(&opened.key, &opened.conversation);
        let emails = BlindIndex::new(&opened.key, &format!("{workspace}/accounts"));
        Ok(Self { sessions: SessionTable { sql: sql.clone() }, sql, cipher, emails })
    }

    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    fn email_hash(&self, email: &str) -> String {
        self.emails.term(email)
    }

    pub fn by_email(&self, email: &str) -> Result<Option<StoredAccount>, StoreError> {
        self.select("WHERE email_hash = ?", vec![self.email_hash(email).into()])
            .map(|mut v| v.pop())
    }

    pub fn by_id(&self, id: &ParticipantId) -> Result<Option<StoredAccount>, StoreError> {
        self.select("WHERE id = ?", vec![id.as_str().into()]).map(|mut v| v.pop())
    }

    /// Every account, ordered by id.
    pub fn all(&self) -> Result<Vec<StoredAccount>, StoreError> {
        self.select("ORDER BY id", vec![])
    }

    /// Who holds `email`, if anyone.
    pub fn email_owner(&self, email: &str) -> Result<Option<ParticipantId>, StoreError> {
        Ok(self.by_email(email)?.map(|s| s.account.id))
    }

    fn select(
        &self,
        tail: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<StoredAccount>, StoreError> {
        let query = format!("SELECT id, sealed, failures, locked_until FROM accounts {tail}");
        let cursor = self.sql.exec(&query, Some(bindings))?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            let row = row?;
            let [SqlStorageValue::String(id), SqlStorageValue::Blob(sealed), SqlStorageValue::Integer(failures), locked] =
                row.as_slice()
            else {
                return Err(StoreError::Corrupt("malformed accounts row".into()));
            };
            let corrupt = || StoreError::Corrupt(format!("account {id} does not open"));
            let id = ParticipantId::new(id.as_str()).map_err(|_| corrupt())?;
            let plain = self.cipher.open(&label(&id), sealed).map_err(|_| corrupt())?;
            let record: Record = serde_json::from_slice(&plain).map_err(|_| corrupt())?;
            let locked_until = match locked {
                SqlStorageValue::Integer(t) => Some(*t),
                _ => None,
            };
            out.push(StoredAccount {
                account: Account {
                    id,
                    email: record.email,
                    name: record.name,
                    role: record.role,
                    disabled: record.disabled,
                    has_password: record.password_hash.is_some(),
                },
                password_hash: record.password_hash,
                attempts: Attempts {
                    failures: u32::try_from(*failures).unwrap_or(0),
                    locked_until,
                },
            });
        }
        Ok(out)
    }

    /// Inserts or replaces an account; a new password hash resets its failed attempts.
    pub fn put(&self, account: &Account, password_hash: Option<&str>) -> Result<(), StoreError> {
        let record = Record {
            email: account.email.clone(),
            name: account.name.clone(),
            role: account.role,
            disabled: account.disabled,
            password_hash: password_hash.map(str::to_owned),
        };
        let plain = serde_json::to_vec(&record)
            .map_err(|e| StoreError::Corrupt(format!("account record: {e}")))?;
        let sealed = self
            .cipher
            .seal(&label(&account.id), &plain)
            .map_err(edgedesk_core::at_rest::KeyError::from)?;
        self.sql.exec(
            "INSERT INTO accounts (id, email_hash, sealed, disabled) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET email_hash = excluded.email_hash,
                 sealed = excluded.sealed, disabled = excluded.disabled",
            vec![
                account.id.as_str().into(),
                self.email_hash(&account.email).into(),
                SqlStorageValue::Blob(sealed),
                SqlStorageValue::Integer(i64::from(account.disabled)),
            ],
        )?;
        Ok(())
    }

    pub fn set_attempts(&self, id: &ParticipantId, a: Attempts) -> Result<(), StoreError> {
        let locked = a.locked_until.map_or(SqlStorageValue::Null, SqlStorageValue::Integer);
        self.sql.exec(
            "UPDATE accounts SET failures = ?, locked_until = ? WHERE id = ?",
            vec![SqlStorageValue::Integer(i64::from(a.failures)), locked, id.as_str().into()],
        )?;
        Ok(())
    }
}

impl SessionTable {
    pub fn open(sql: SqlStorage) -> Result<Self, StoreError> {
        create_schema(&sql)?;
        Ok(Self { sql })
    }

    /// Whether the account `id` exists and is disabled.
    pub fn disabled(&self, id: &ParticipantId) -> Result<bool, StoreError> {
        let cursor = self
            .sql
            .exec("SELECT disabled FROM accounts WHERE id = ?", Some(vec![id.as_str().into()]))?;
        let Some(row) = cursor.raw().next() else { return Ok(false) };
        Ok(matches!(row?.as_slice(), [SqlStorageValue::Integer(d)] if *d != 0))
    }

    pub fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let cursor = self.sql.exec(
            "SELECT id, agent, secret_hash, previous_hash, expires_at, revoked FROM sessions WHERE id = ?",
            Some(vec![id.into()]),
        )?;
        let Some(row) = cursor.raw().next() else { return Ok(None) };
        let row = row?;
        let [SqlStorageValue::String(id), SqlStorageValue::String(agent), SqlStorageValue::String(secret_hash), previous, SqlStorageValue::Integer(expires_at), SqlStorageValue::Integer(revoked)] =
            row.as_slice()
        else {
            return Err(StoreError::Corrupt("malformed sessions row".into()));
        };
        Ok(Some(Session {
            id: id.clone(),
            agent: ParticipantId::new(agent.as_str())
                .map_err(|_| StoreError::Corrupt("session agent".into()))?,
            secret_hash: secret_hash.clone(),
            previous_hash: match previous {
                SqlStorageValue::String(p) => Some(p.clone()),
                _ => None,
            },
            expires_at: *expires_at,
            revoked: *revoked != 0,
        }))
    }

    pub fn put_session(&self, s: &Session) -> Result<(), StoreError> {
        let previous = s.previous_hash.as_deref().map_or(SqlStorageValue::Null, |p| p.into());
        self.sql.exec(
            "INSERT INTO sessions (id, agent, secret_hash, previous_hash, expires_at, revoked)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash,
                 previous_hash = excluded.previous_hash, revoked = excluded.revoked",
            vec![
                s.id.as_str().into(),
                s.agent.as_str().into(),
                s.secret_hash.as_str().into(),
                previous,
                SqlStorageValue::Integer(s.expires_at),
                SqlStorageValue::Integer(i64::from(s.revoked)),
            ],
        )?;
        Ok(())
    }

    pub fn revoke_session(&self, id: &str) -> Result<(), StoreError> {
        self.sql.exec("UPDATE sessions SET revoked = 1 WHERE id = ?", Some(vec![id.into()]))?;
        Ok(())
    }

    pub fn revoke_sessions_of(&self, agent: &ParticipantId) -> Result<(), StoreError> {
        self.sql.exec(
            "UPDATE sessions SET revoked = 1 WHERE agent = ?",
            Some(vec![agent.as_str().into()]),
        )?;
        Ok(())
    }

    /// Forgets sessions that ended before `now` (seconds): they can do nothing any more.
    pub fn prune_sessions(&self, now: i64) -> Result<(), StoreError> {
        self.sql.exec(
            "DELETE FROM sessions WHERE expires_at <= ?",
            Some(vec![SqlStorageValue::Integer(now)]),
        )?;
        Ok(())
    }
}

fn label(id: &ParticipantId) -> String {
    format!("account/{id}")
}
