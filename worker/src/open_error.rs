//! Why a conversation's storage did not open, and how each reason is answered: over HTTP
//! before a WebSocket upgrade, or as a close code on an open socket.
//!
//! Messages name key ids at most, never key material, so they are safe to send and log.

use edgedesk_core::at_rest::{KeyError, MasterKeyError};

use crate::request::Refusal;

/// WebSocket close code for an erased conversation (4000-4999 are the application's): the
/// client should not reconnect, as it would for 1011.
pub const CLOSE_ERASED: u16 = 4410;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    MasterKeys(#[from] MasterKeyError),
    #[error("{0}")]
    Key(#[from] KeyError),
    /// SQLite or a stored document that does not load: no key material in these messages.
    #[error("{0}")]
    Storage(String),
    /// A bound variable (`EDGEDESK_MAX_*`) is set to something invalid.
    #[error("{0}")]
    Limits(#[from] edgedesk_core::limits::LimitsError),
}

impl OpenError {
    pub fn is_erased(&self) -> bool {
        matches!(self, OpenError::Key(KeyError::Erased { .. }))
    }

    /// The HTTP answer to a request for the conversation.
    pub fn refusal(&self) -> Refusal {
        match self {
            OpenError::Key(e @ KeyError::Erased { .. }) => {
                Refusal::new(410, "conversation_erased", e.to_string())
            }
            OpenError::MasterKeys(_)
            | OpenError::Key(KeyError::MissingMasterKey { .. } | KeyError::Unwrap { .. }) => {
                Refusal::new(
                    503,
                    "encryption_key_unavailable",
                    format!("conversation storage is locked: {self}"),
                )
            }
            OpenError::Limits(e) => {
                Refusal::new(503, "misconfigured", format!("relay configuration: {e}"))
            }
            OpenError::Key(_) | OpenError::Storage(_) => {
                Refusal::new(503, "unavailable", "conversation storage unavailable; retry later")
            }
        }
    }

    /// Close code and message for a socket of the conversation.
    pub fn close(&self) -> (u16, String) {
        let r = self.refusal();
        let code = if self.is_erased() { CLOSE_ERASED } else { 1011 };
        (code, r.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erased_is_gone_missing_keys_are_unavailable_and_name_the_kid() {
        let erased = OpenError::from(KeyError::Erased { at_ms: 5 });
        assert_eq!(erased.refusal().status, 410);
        assert_eq!(erased.refusal().code, "conversation_erased");
        assert_eq!(erased.close().0, CLOSE_ERASED);

        let missing = OpenError::from(KeyError::MissingMasterKey {
            kid: "k-2025".into(),
            configured: "k-2026".into(),
        });
        let r = missing.refusal();
        assert_eq!((r.status, r.code), (503, "encryption_key_unavailable"));
        assert!(r.message.contains("\"k-2025\"") && r.message.contains("EDGEDESK_MASTER_KEYS"));
        assert_eq!(missing.close().0, 1011);

        let unset = OpenError::from(MasterKeyError::Empty);
        assert_eq!(unset.refusal().code, "encryption_key_unavailable");
        assert!(unset.refusal().message.contains("EDGEDESK_MASTER_KEYS"));

        let sql = OpenError::Storage("sqlite: disk I/O error".into());
        assert_eq!((sql.refusal().status, sql.refusal().code), (503, "unavailable"));
    }
}
