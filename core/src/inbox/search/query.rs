//! A search query: validated, split into segments, and turned into FTS5 MATCH expressions
//! over blind terms.
//!
//! Each whitespace-separated segment must occur as a phrase (its tokens consecutive, in
//! order), all segments in the same text; `退款 发票` finds texts mentioning both. The whole
//! query as one phrase is the "exact" match, which ranks first.

use crate::at_rest::BlindIndex;

use super::tokens::{tokens, Token};

/// Longest query accepted, in bytes (UTF-8): a phrase or a few words, not a document.
pub const MAX_QUERY_BYTES: usize = 200;
/// Hits returned when the request names no limit.
pub const DEFAULT_LIMIT: u32 = 20;
/// Most hits one search returns.
pub const MAX_LIMIT: u32 = 100;

/// Why a search request was refused (HTTP 400 `bad_query`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("the search query `q` is empty: give a word or phrase to search for")]
    Empty,
    #[error("the search query `q` is {len} bytes long; at most {max} bytes are allowed")]
    TooLong { len: usize, max: usize },
    #[error(
        "the search query `q` has no letters, digits or CJK characters to search for (punctuation and symbols are not indexed)"
    )]
    NothingSearchable,
    #[error("`limit` must be between 1 and {max}, got {got}")]
    BadLimit { got: i64, max: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The tokens of each segment that has any, in query order.
    segments: Vec<Vec<Token>>,
}

impl SearchQuery {
    pub fn parse(q: &str) -> Result<Self, SearchError> {
        if q.len() > MAX_QUERY_BYTES {
            return Err(SearchError::TooLong { len: q.len(), max: MAX_QUERY_BYTES });
        }
        if q.trim().is_empty() {
            return Err(SearchError::Empty);
        }
        let segments: Vec<Vec<Token>> =
            q.split_whitespace().map(tokens).filter(|t| !t.is_empty()).collect();
        if segments.is_empty() {
            return Err(SearchError::NothingSearchable);
        }
        Ok(Self { segments })
    }

    /// The tokens of each segment (none is empty).
    pub fn segments(&self) -> &[Vec<Token>] {
        &self.segments
    }

    /// Every segment as a phrase, all required: `"t1 t2" AND "t3"`.
    pub fn match_expression(&self, blind: &BlindIndex) -> String {
        let phrases: Vec<String> = self.segments.iter().map(|s| phrase(blind, s)).collect();
        phrases.join(" AND ")
    }

    /// The whole query as one phrase: what an exact hit contains.
    pub fn exact_phrase_expression(&self, blind: &BlindIndex) -> String {
        let all: Vec<Token> = self.segments.iter().flatten().cloned().collect();
        phrase(blind, &all)
    }
}

/// The number of hits to return: [`DEFAULT_LIMIT`] if none is given, else 1..=[`MAX_LIMIT`].
pub fn parse_limit(limit: Option<i64>) -> Result<u32, SearchError> {
    let Some(got) = limit else { return Ok(DEFAULT_LIMIT) };
    u32::try_from(got)
        .ok()
        .filter(|l| (1..=MAX_LIMIT).contains(l))
        .ok_or(SearchError::BadLimit { got, max: MAX_LIMIT })
}

/// An FTS5 phrase of blind terms; they are hex, so nothing needs quoting inside.
fn phrase(blind: &BlindIndex, tokens: &[Token]) -> String {
    let terms: Vec<String> = tokens.iter().map(|t| blind.term(&t.text)).collect();
    format!("\"{}\"", terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at_rest::DataKey;

    fn seg_texts(q: &SearchQuery) -> Vec<Vec<&str>> {
        q.segments().iter().map(|s| s.iter().map(|t| t.text.as_str()).collect()).collect()
    }

    #[test]
    fn segments_are_split_on_whitespace_and_tokenized() {
        let q = SearchQuery::parse("  退款申请  Refund!  ?? ").unwrap();
        assert_eq!(seg_texts(&q), [vec!["退款", "款申", "申请"], vec!["refund"]]);
    }

    #[test]
    fn empty_overlong_and_unsearchable_queries_are_refused() {
        assert_eq!(SearchQuery::parse(""), Err(SearchError::Empty));
        assert_eq!(SearchQuery::parse(" \t\n"), Err(SearchError::Empty));
        assert_eq!(SearchQuery::parse("!? 。🎉"), Err(SearchError::NothingSearchable));
        let long = "退".repeat(67);
        assert_eq!(SearchQuery::parse(&long), Err(SearchError::TooLong { len: 201, max: 200 }));
        assert!(SearchQuery::parse(&"退".repeat(66)).is_ok());
    }

    #[test]
    fn every_segment_is_a_required_phrase_and_the_exact_phrase_spans_all() {
        let blind = BlindIndex::new(&DataKey::generate().unwrap(), "ws");
        let t = |s: &str| blind.term(s);
        let q = SearchQuery::parse("退款申请 refund").unwrap();
        assert_eq!(
            q.match_expression(&blind),
            format!("\"{} {} {}\" AND \"{}\"", t("退款"), t("款申"), t("申请"), t("refund"))
        );
        assert_eq!(
            q.exact_phrase_expression(&blind),
            format!("\"{} {} {} {}\"", t("退款"), t("款申"), t("申请"), t("refund"))
        );
    }

    #[test]
    fn limits_default_and_are_bounded() {
        assert_eq!(parse_limit(None), Ok(DEFAULT_LIMIT));
        assert_eq!(parse_limit(Some(1)), Ok(1));
        assert_eq!(parse_limit(Some(100)), Ok(100));
        for bad in [0, -1, 101, i64::MAX] {
            assert_eq!(parse_limit(Some(bad)), Err(SearchError::BadLimit { got: bad, max: 100 }));
        }
    }
}
