//! Keyset cursors: where a page ended, as the sort keys of its last row.
//!
//! Opaque to clients (base64url of a small binary record) so they pass it back unchanged
//! rather than build their own. It is not signed: it only says where to resume in a list the
//! agent may read anyway, so a forged one shows nothing it could not list. It carries its
//! sort, because keys of one order are meaningless in another.
//!
//! Layout: version (1 byte), sort (1 byte), the sort's keys as big-endian i64s (priority:
//! rank, waiting_key; waiting: waiting_key; activity: last_at), the conversation id's bytes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{KeyRow, QueryError, Sort, MAX_SAFE_INTEGER};
use crate::ids::ConversationId;

/// Longest cursor accepted, in characters; an issued one is at most 110.
pub const MAX_CURSOR_CHARS: usize = 128;

const VERSION: u8 = 1;

/// A position in a list of one [`Sort`]: the next page starts strictly after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    sort: Sort,
    /// The sort's keys, in order (unused ones are 0).
    keys: [i64; 2],
    conversation: String,
}

impl Cursor {
    /// The position just after `row` in a list sorted by `sort`.
    pub fn after(sort: Sort, row: &KeyRow) -> Cursor {
        let keys = match sort {
            Sort::Priority => [row.rank, row.waiting_key],
            Sort::Waiting => [row.waiting_key, 0],
            Sort::Activity => [row.last_at, 0],
        };
        Cursor { sort, keys, conversation: row.conversation.clone() }
    }

    pub fn sort(&self) -> Sort {
        self.sort
    }

    pub(super) fn keys(&self) -> [i64; 2] {
        self.keys
    }

    pub(super) fn conversation(&self) -> &str {
        &self.conversation
    }

    /// The opaque form handed to clients as `next_cursor`.
    pub fn encode(&self) -> String {
        let mut bytes = vec![VERSION, sort_byte(self.sort)];
        for key in &self.keys[..key_count(self.sort)] {
            bytes.extend_from_slice(&key.to_be_bytes());
        }
        bytes.extend_from_slice(self.conversation.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a cursor a client sent back for a list sorted by `sort`.
    pub fn decode(text: &str, sort: Sort) -> Result<Cursor, QueryError> {
        let bad = |why| QueryError::BadCursor { why };
        if text.len() > MAX_CURSOR_CHARS {
            return Err(bad("too long"));
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad("not base64url"))?;
        let [version, sort_tag, rest @ ..] = bytes.as_slice() else {
            return Err(bad("too short"));
        };
        if *version != VERSION {
            return Err(bad("unknown version"));
        }
        let minted = Sort::ALL.into_iter().find(|s| sort_byte(*s) == *sort_tag);
        let minted = minted.ok_or(bad("unknown sort"))?;
        if minted != sort {
            return Err(QueryError::CursorSort { minted, asked: sort });
        }
        let count = key_count(sort);
        if rest.len() < 8 * count {
            return Err(bad("too short"));
        }
        let (key_bytes, conversation) = rest.split_at(8 * count);
        let mut keys = [0i64; 2];
        for (key, chunk) in keys.iter_mut().zip(key_bytes.chunks_exact(8)) {
            let mut be = [0u8; 8];
            be.copy_from_slice(chunk);
            *key = i64::from_be_bytes(be);
            if key.unsigned_abs() > MAX_SAFE_INTEGER as u64 {
                return Err(bad("key out of range"));
            }
        }
        let conversation = std::str::from_utf8(conversation)
            .ok()
            .and_then(|c| ConversationId::new(c).ok())
            .ok_or(bad("not a conversation id"))?;
        Ok(Cursor { sort, keys, conversation: conversation.into() })
    }
}

fn sort_byte(sort: Sort) -> u8 {
    match sort {
        Sort::Priority => b'p',
        Sort::Waiting => b'w',
        Sort::Activity => b'a',
    }
}

fn key_count(sort: Sort) -> usize {
    match sort {
        Sort::Priority => 2,
        Sort::Waiting | Sort::Activity => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::schema::NOT_WAITING;

    fn row(conversation: &str) -> KeyRow {
        KeyRow { conversation: conversation.into(), rank: 3, waiting_key: NOT_WAITING, last_at: 7 }
    }

    #[test]
    fn a_cursor_reads_back_as_the_position_it_was_minted_at() {
        for sort in Sort::ALL {
            let c = Cursor::after(sort, &row("c-1"));
            assert_eq!(Cursor::decode(&c.encode(), sort), Ok(c));
        }
    }

    #[test]
    fn the_longest_issued_cursor_fits_the_bound() {
        let longest = "c".repeat(crate::ids::MAX_ID_LEN);
        let text = Cursor::after(Sort::Priority, &row(&longest)).encode();
        assert!(text.len() <= MAX_CURSOR_CHARS, "{}", text.len());
        assert!(Cursor::decode(&text, Sort::Priority).is_ok());
    }

    #[test]
    fn a_cursor_of_another_sort_is_refused_naming_both_sorts() {
        let text = Cursor::after(Sort::Waiting, &row("c-1")).encode();
        let err = Cursor::decode(&text, Sort::Activity).unwrap_err();
        assert_eq!(err, QueryError::CursorSort { minted: Sort::Waiting, asked: Sort::Activity });
        let msg = err.to_string();
        assert!(msg.contains("`cursor`") && msg.contains("sort=waiting"), "{msg}");
    }

    #[test]
    fn garbage_truncated_or_forged_cursors_are_refused() {
        let good = Cursor::after(Sort::Priority, &row("c-1")).encode();
        let mut forged = URL_SAFE_NO_PAD.decode(&good).unwrap();
        forged[2..10].copy_from_slice(&i64::MAX.to_be_bytes());
        let mut bad_id = URL_SAFE_NO_PAD.decode(&good).unwrap();
        bad_id.push(b'/');
        for text in [
            "!!!".to_owned(),
            String::new(),
            good[..good.len() - 8].to_owned(),
            "A".repeat(MAX_CURSOR_CHARS + 1),
            URL_SAFE_NO_PAD.encode(forged),
            URL_SAFE_NO_PAD.encode(bad_id),
            URL_SAFE_NO_PAD.encode([9u8, b'p']),
        ] {
            let err = Cursor::decode(&text, Sort::Priority).unwrap_err();
            assert!(matches!(err, QueryError::BadCursor { .. }), "{text:?}: {err}");
            assert!(err.to_string().contains("`cursor`"));
        }
    }
}
