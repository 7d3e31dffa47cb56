//! The matched parts of a hit's text, and a snippet around the first of them.
//!
//! Matching works on tokens, exactly as the index does, so what is marked is what matched:
//! `Refund` in "REFUND please" (case-insensitively), not the `refund` inside "refunds", and
//! 退款 inside 我要退款. The text comes decrypted from the row that matched; nothing here
//! touches the index.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::query::SearchQuery;
use super::tokens::{cjk_unigrams, tokens, Token, TokenKind};

/// Context kept around the first match, in characters (grapheme clusters) on each side;
/// context one side does not need goes to the other.
pub const CONTEXT_CHARS: usize = 40;
/// Marks where the snippet cuts the text.
pub const ELLIPSIS: &str = "…";

/// A piece of the snippet: `{"text":"退款","hit":true}`, or `{"text":"我要"}` between hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub text: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub hit: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// The snippet of `text` for `query`: every occurrence of each segment marked, within
/// [`CONTEXT_CHARS`] around the first one, [`ELLIPSIS`] where the text is cut.
pub fn highlight(text: &str, query: &SearchQuery) -> Vec<Segment> {
    let spans = matches(text, query);
    let mut window = window(text, spans.first().cloned());
    // A match the window's end cuts into is shown whole.
    if let Some(cut) = spans.iter().find(|s| s.start < window.end && s.end > window.end) {
        window.end = cut.end;
    }
    let mut out = Vec::new();
    let mut at = window.start;
    for span in &spans {
        let (start, end) = (span.start.max(window.start), span.end.min(window.end));
        if start >= end {
            continue;
        }
        push(&mut out, &text[at..start], false);
        push(&mut out, &text[start..end], true);
        at = end;
    }
    push(&mut out, &text[at..window.end], false);
    if window.start > 0 {
        match out.first_mut() {
            Some(first) if !first.hit => first.text.insert_str(0, ELLIPSIS),
            _ => out.insert(0, Segment { text: ELLIPSIS.into(), hit: false }),
        }
    }
    if window.end < text.len() {
        match out.last_mut() {
            Some(last) if !last.hit => last.text.push_str(ELLIPSIS),
            _ => out.push(Segment { text: ELLIPSIS.into(), hit: false }),
        }
    }
    out
}

fn push(out: &mut Vec<Segment>, text: &str, hit: bool) {
    if !text.is_empty() {
        out.push(Segment { text: text.to_owned(), hit });
    }
}

/// Byte ranges of all occurrences of the query's segments, sorted, overlapping or touching
/// ones merged. A segment that is one CJK character matches that character anywhere (names
/// are indexed by character too).
fn matches(text: &str, query: &SearchQuery) -> Vec<Range<usize>> {
    let words = tokens(text);
    let mut chars: Option<Vec<Token>> = None;
    let mut spans = Vec::new();
    for segment in query.segments() {
        if let [only] = segment.as_slice() {
            if only.kind == TokenKind::Unigram {
                let chars = chars.get_or_insert_with(|| cjk_unigrams(text));
                spans.extend(chars.iter().filter(|t| t.text == only.text).map(|t| t.span.clone()));
                continue;
            }
        }
        for run in words.windows(segment.len()) {
            if run.iter().zip(segment).all(|(a, b)| a.text == b.text) {
                spans.push(run[0].span.start..run[run.len() - 1].span.end);
            }
        }
    }
    spans.sort_by_key(|s| (s.start, s.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// The byte range shown: up to 2 × [`CONTEXT_CHARS`] characters of context around `first`
/// (from the start of the text if nothing matched), cut on grapheme boundaries.
fn window(text: &str, first: Option<Range<usize>>) -> Range<usize> {
    let first = first.unwrap_or(0..0);
    let before: Vec<usize> = text[..first.start].grapheme_indices(true).map(|(i, _)| i).collect();
    let after: Vec<usize> =
        text[first.end..].grapheme_indices(true).map(|(i, _)| first.end + i).collect();
    let mut left = before.len().min(CONTEXT_CHARS);
    let mut right = after.len().min(CONTEXT_CHARS);
    let spare = 2 * CONTEXT_CHARS - left - right;
    let more_left = spare.min(before.len() - left);
    left += more_left;
    right += (spare - more_left).min(after.len() - right);
    let start = if left == 0 { first.start } else { before[before.len() - left] };
    let end = after.get(right).copied().unwrap_or(text.len());
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hl(text: &str, q: &str) -> Vec<(String, bool)> {
        highlight(text, &SearchQuery::parse(q).unwrap())
            .into_iter()
            .map(|s| (s.text, s.hit))
            .collect()
    }

    fn seg(text: &str, hit: bool) -> (String, bool) {
        (text.to_owned(), hit)
    }

    #[test]
    fn marks_a_cjk_word_inside_a_run() {
        assert_eq!(
            hl("我要退款，谢谢", "退款"),
            [seg("我要", false), seg("退款", true), seg("，谢谢", false)]
        );
    }

    #[test]
    fn marks_latin_words_case_insensitively_and_only_whole_words() {
        assert_eq!(
            hl("REFUND please, refunds later. Refund!", "refund"),
            [
                seg("REFUND", true),
                seg(" please, refunds later. ", false),
                seg("Refund", true),
                seg("!", false)
            ]
        );
    }

    #[test]
    fn marks_every_segment_and_merges_touching_matches() {
        assert_eq!(
            hl("发票和退款发票", "退款 发票"),
            [seg("发票", true), seg("和", false), seg("退款发票", true)]
        );
    }

    #[test]
    fn a_single_cjk_character_is_marked_wherever_it_occurs() {
        assert_eq!(hl("王小明", "王"), [seg("王", true), seg("小明", false)]);
    }

    #[test]
    fn the_snippet_keeps_forty_characters_each_side_with_ellipses_where_cut() {
        let text = format!("{}退款{}", "前".repeat(100), "后".repeat(100));
        assert_eq!(
            hl(&text, "退款"),
            [
                seg(&format!("…{}", "前".repeat(40)), false),
                seg("退款", true),
                seg(&format!("{}…", "后".repeat(40)), false)
            ]
        );
    }

    #[test]
    fn context_not_needed_on_one_side_goes_to_the_other() {
        let text = format!("refund {}", "x ".repeat(100));
        let out = hl(&text, "refund");
        assert_eq!(out[0], seg("refund", true));
        assert_eq!(out[1].0.chars().count(), 80 + 1, "80 characters of context and the ellipsis");
        assert!(out[1].0.ends_with('…'));
        let text = format!("{}refund", "x ".repeat(100));
        let out = hl(&text, "refund");
        assert_eq!(out[0].0.chars().count(), 1 + 80);
        assert!(out[0].0.starts_with('…'));
        assert_eq!(out[1], seg("refund", true));
    }

    #[test]
    fn a_match_the_window_cuts_into_is_shown_whole() {
        // 80 characters of context end inside the second "refund".
        let text = format!("refund {} refund", "x".repeat(74));
        assert_eq!(
            hl(&text, "refund"),
            [
                seg("refund", true),
                seg(&format!(" {} ", "x".repeat(74)), false),
                seg("refund", true)
            ]
        );
    }

    #[test]
    fn the_window_never_splits_a_grapheme() {
        // A flag is two code points, one grapheme: the 80th character of context.
        let text = format!("refund {}{}", "x".repeat(78), "🇨🇳".repeat(3));
        assert_eq!(
            hl(&text, "refund"),
            [seg("refund", true), seg(&format!(" {}🇨🇳…", "x".repeat(78)), false)]
        );
    }

    #[test]
    fn without_a_match_the_snippet_is_the_start_of_the_text() {
        let text = "a ".repeat(60);
        let out = hl(&text, "zzz");
        assert_eq!(out.len(), 1);
        assert!(!out[0].1);
        assert_eq!(out[0].0.chars().count(), 81);
        assert_eq!(hl("", "zzz"), []);
    }

    #[test]
    fn segments_serialize_with_hit_only_when_true() {
        let json = serde_json::to_string(&[
            Segment { text: "我要".into(), hit: false },
            Segment { text: "退款".into(), hit: true },
        ])
        .unwrap();
        assert_eq!(json, r#"[{"text":"我要"},{"text":"退款","hit":true}]"#);
    }
}
