//! Why a list query was refused: each error names the parameter and what it accepts, so the
//! agent's client (or its developer) can fix the request without reading the source.

use super::Sort;

/// The parameters a list query knows, in the order error messages list them.
pub const PARAMETERS: [&str; 13] = [
    "status", "tag", "assignee", "team", "priority", "unread", "channel", "since", "until", "sort",
    "limit", "cursor", "visitor",
];

/// Longest piece of user input an error message repeats.
const SHOWN_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("unknown list query parameter `{name}`; known are: {known}", known = PARAMETERS.join(", "))]
    Unknown { name: String },
    #[error(
        "list query parameter `{name}` is given more than once; give it once \
         (lists are comma-separated, e.g. status=open,pending)"
    )]
    Repeated { name: &'static str },
    #[error("`{param}` = {value:?} is not allowed: {allowed}")]
    Invalid { param: &'static str, value: String, allowed: String },
    #[error("`{param}` must be {expected}")]
    WrongType { param: &'static str, expected: &'static str },
    #[error(
        "`cursor` is not one this inbox issued ({why}); pass the previous page's next_cursor \
         unchanged, or no cursor to start from the first page"
    )]
    BadCursor { why: &'static str },
    #[error(
        "`cursor` comes from a list with sort={minted}, but this query has sort={asked}; keep \
         the sort while paging, or drop the cursor to start from the first page"
    )]
    CursorSort { minted: Sort, asked: Sort },
    #[error("a list query is a JSON object with the optional fields: {known}", known = PARAMETERS.join(", "))]
    NotAnObject,
}

impl QueryError {
    /// The error code on the wire (HTTP 400 body, socket `result` error).
    pub fn code(&self) -> &'static str {
        "bad_query"
    }

    pub(super) fn invalid(param: &'static str, value: &str, allowed: impl Into<String>) -> Self {
        QueryError::Invalid { param, value: shown(value), allowed: allowed.into() }
    }

    pub(super) fn unknown(name: &str) -> Self {
        QueryError::Unknown { name: shown(name) }
    }
}

/// `s`, cut to a length fit for an error message (input is unbounded, messages are not).
fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_in_messages() {
        let e = QueryError::unknown(&"x".repeat(10_000));
        assert!(e.to_string().len() < 300, "{e}");
        assert_eq!(e.code(), "bad_query");
    }
}
