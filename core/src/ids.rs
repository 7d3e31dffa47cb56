//! Validated identifiers.
//!
//! Every id that reaches a document key, a storage row or a Durable Object name passes
//! through here first, so the rest of the code can rely on a small, printable alphabet
//! (no separators, no control characters, bounded length).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest id we accept, in bytes. Ids end up as document keys on every replica, so a
/// bound here bounds every replica's memory.
pub const MAX_ID_LEN: usize = 64;

/// Why a string was refused as an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} id is empty")]
    Empty { kind: &'static str },
    #[error("{kind} id is {len} bytes long; the limit is {MAX_ID_LEN}")]
    TooLong { kind: &'static str, len: usize },
    #[error("{kind} id contains {found:?}; allowed are ASCII letters, digits and . _ - : @")]
    BadChar { kind: &'static str, found: char },
}

fn validate(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, len: s.len() });
    }
    if let Some(c) =
        s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@')))
    {
        return Err(IdError::BadChar { kind, found: c });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate($kind, &s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// An id this crate writes itself (a constant): no fallible check on a path
            /// that must not fail, and a debug check that the constant is valid.
            #[allow(dead_code)]
            pub(crate) fn constant(s: &'static str) -> Self {
                debug_assert!(validate($kind, s).is_ok(), "invalid constant id {s}");
                Self(s.to_owned())
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

id_type!(
    /// A workspace: one operator's (one support team's) tenant. Every token names one, and
    /// a conversation's Durable Object is named `{workspace}/{conversation}`.
    WorkspaceId, "workspace"
);
id_type!(
    /// A conversation within its workspace.
    ConversationId, "conversation"
);
id_type!(
    /// A visitor or an agent.
    ParticipantId, "participant"
);
id_type!(
    /// One device (browser profile, phone, desktop) of a participant.
    DeviceId, "device"
);
id_type!(
    /// A message, made by the client that writes it, so a retried send is the same message.
    MessageId, "message"
);
id_type!(
    /// A team of agents a conversation can be routed to.
    TeamId, "team"
);

impl MessageId {
    /// A fresh random id: 96 random bits, hex encoded. Random rather than sequential because
    /// devices mint ids offline with no coordination.
    pub fn random() -> Self {
        Self(random_hex::<12>())
    }
}

impl DeviceId {
    /// A fresh random device id, for a device's first start.
    pub fn random() -> Self {
        Self(format!("d-{}", random_hex::<8>()))
    }
}

/// `N` random bytes from the platform's CSPRNG, as lowercase hex.
pub fn random_hex<const N: usize>() -> String {
    // getrandom fails only when the platform has no entropy source at all; there is nothing
    // sensible to continue with then, and every supported platform (Linux, browsers, workerd)
    // has one.
    try_random_hex::<N>().expect("the platform has no random number source")
}

/// [`random_hex`] for request paths that must answer with an error rather than panic.
pub fn try_random_hex<const N: usize>() -> Result<String, getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        assert!(ConversationId::new("conv-1.a_b:c@d").is_ok());
        assert_eq!(MessageId::random().as_str().len(), 24);
    }

    #[test]
    fn refuses_separators_controls_and_long_ids() {
        assert_eq!(
            ParticipantId::new("a/b"),
            Err(IdError::BadChar { kind: "participant", found: '/' })
        );
        assert!(matches!(DeviceId::new(""), Err(IdError::Empty { .. })));
        assert!(matches!(MessageId::new("x".repeat(65)), Err(IdError::TooLong { len: 65, .. })));
        assert!(ConversationId::new("退款").is_err());
    }

    #[test]
    fn deserialising_validates() {
        let bad: Result<DeviceId, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
    }
}
