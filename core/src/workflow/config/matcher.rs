//! What a visitor message is matched against: keywords or a regular expression.

use regex::{Regex, RegexBuilder};

use super::errors::{field, index, quoted, Errors};
use super::json::RawMatcher;

/// Most keywords per matcher, bytes per keyword, and bytes per regular expression.
pub const MAX_KEYWORDS: usize = 100;
pub const MAX_KEYWORD_BYTES: usize = 200;
pub const MAX_REGEX_BYTES: usize = 1000;
/// Memory a compiled expression may take. Regexes run inside the conversation's Durable
/// Object on every visitor message: a pathological one must be refused up front.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Keywords (any of them, case-insensitive substring) or a regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Substrings, compared after Unicode lowercasing: `refund` matches "REFUND please",
    /// `退款` matches "我要退款". No word boundaries, since Chinese has no spaces.
    Keywords(Vec<String>),
    /// Rust `regex` syntax, as written (add `(?i)` for case-insensitive matching).
    Regex(Regex),
}

impl Matcher {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Matcher::Keywords(words) => {
                let text = text.to_lowercase();
                words.iter().any(|w| text.contains(&w.to_lowercase()))
            }
            Matcher::Regex(re) => re.is_match(text),
        }
    }

    /// Checks `keywords` xor `regex` at `path` (the object holding them).
    pub(super) fn from_raw(
        keywords: Option<&[String]>,
        regex: Option<&str>,
        path: &str,
        errors: &mut Errors,
    ) -> Option<Matcher> {
        match (keywords, regex) {
            (Some(words), None) => keywords_matcher(words, &field(path, "keywords"), errors),
            (None, Some(pattern)) => regex_matcher(pattern, &field(path, "regex"), errors),
            (Some(_), Some(_)) => {
                errors.push(path, "has both `keywords` and `regex`; give exactly one of them");
                None
            }
            (None, None) => {
                errors.push(path, "needs `keywords` (a list of words) or `regex`");
                None
            }
        }
    }

    pub(super) fn to_raw(&self) -> RawMatcher {
        match self {
            Matcher::Keywords(words) => RawMatcher { keywords: Some(words.clone()), regex: None },
            Matcher::Regex(re) => {
                RawMatcher { keywords: None, regex: Some(re.as_str().to_owned()) }
            }
        }
    }
}

fn keywords_matcher(words: &[String], path: &str, errors: &mut Errors) -> Option<Matcher> {
    if words.is_empty() {
        errors.push(path, "is empty; list at least one keyword");
        return None;
    }
    if words.len() > MAX_KEYWORDS {
        errors.push(path, format!("{} keywords; the limit is {MAX_KEYWORDS}", words.len()));
        return None;
    }
    let mut ok = true;
    for (i, w) in words.iter().enumerate() {
        let problem = if w.trim().is_empty() {
            Some("is blank; a keyword needs at least one visible character".to_owned())
        } else if w.len() > MAX_KEYWORD_BYTES {
            Some(format!("is {} bytes; the limit is {MAX_KEYWORD_BYTES}", w.len()))
        } else {
            None
        };
        if let Some(p) = problem {
            errors.push(index(path, i), format!("keyword {} {p}", quoted(w)));
            ok = false;
        }
    }
    ok.then(|| Matcher::Keywords(words.to_vec()))
}

fn regex_matcher(pattern: &str, path: &str, errors: &mut Errors) -> Option<Matcher> {
    if pattern.len() > MAX_REGEX_BYTES {
        errors.push(
            path,
            format!("the expression is {} bytes; the limit is {MAX_REGEX_BYTES}", pattern.len()),
        );
        return None;
    }
    if pattern.is_empty() {
        errors.push(path, "is empty, and would match every message");
        return None;
    }
    match RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(re) => Some(Matcher::Regex(re)),
        Err(e) => {
            errors.push(path, format!("invalid regular expression: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords(words: &[&str]) -> Matcher {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let mut errors = Errors::default();
        let m = Matcher::from_raw(Some(&words), None, "rule", &mut errors);
        errors.into_result(()).unwrap();
        m.unwrap()
    }

    fn regex(pattern: &str) -> Result<Matcher, Vec<(String, String)>> {
        let mut errors = Errors::default();
        let m = Matcher::from_raw(None, Some(pattern), "rule", &mut errors);
        errors
            .into_result(())
            .map(|()| m.unwrap())
            .map_err(|e| e.0.into_iter().map(|e| (e.path, e.message)).collect())
    }

    #[test]
    fn a_chinese_keyword_matches_inside_a_sentence_without_spaces() {
        let m = keywords(&["退款", "refund"]);
        assert!(m.matches("你好，我想申请退款可以吗"));
        assert!(!m.matches("我想退货"));
    }

    #[test]
    fn an_english_keyword_matches_in_any_case() {
        let m = keywords(&["退款", "Refund"]);
        assert!(m.matches("I want a REFUND now"));
        assert!(m.matches("refunds?"));
        assert!(!m.matches("re-fund"));
    }

    #[test]
    fn regexes_match_cjk_literals_and_word_boundaries() {
        let m = regex(r"(?i)\b(urgent|asap)\b|紧急").unwrap();
        assert!(m.matches("This is URGENT"));
        assert!(m.matches("非常紧急！"));
        assert!(!m.matches("insurgent"), "word boundary");
        let m = regex(r"(?i)track(ing)?\s+number").unwrap();
        assert!(m.matches("What is my Tracking  number?"));
    }

    #[test]
    fn a_bad_regex_is_refused_with_the_regex_error() {
        let e = regex(r"(?i)track(ing\s+number").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "rule.regex");
        assert!(e[0].1.starts_with("invalid regular expression: "), "{}", e[0].1);
        assert!(e[0].1.contains("unclosed group"), "{}", e[0].1);
    }

    #[test]
    fn a_regex_too_large_to_compile_is_refused() {
        let e = regex(r"\w{500}\w{500}").unwrap_err();
        assert_eq!(e[0].0, "rule.regex");
        assert!(e[0].1.contains("size limit"), "{}", e[0].1);
    }

    #[test]
    fn a_matcher_needs_exactly_one_of_keywords_and_regex_and_no_blank_keyword() {
        let mut errors = Errors::default();
        let words = vec!["ok".to_owned(), " ".to_owned()];
        assert!(Matcher::from_raw(Some(&words), Some("x"), "a", &mut errors).is_none());
        assert!(Matcher::from_raw(None, None, "b", &mut errors).is_none());
        assert!(Matcher::from_raw(Some(&words), None, "c", &mut errors).is_none());
        assert!(Matcher::from_raw(Some(&[]), None, "d", &mut errors).is_none());
        let e = errors.into_result(()).unwrap_err().0;
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "c.keywords[1]", "d.keywords"]);
    }
}
