//! Splitting text into search tokens, the same way for stored text and for queries.
//!
//! Chinese, Japanese and Korean are written without spaces between words, and most Chinese
//! words are two characters (退款, 发票), so a run of CJK characters is indexed as overlapping
//! bigrams: any word of two or more characters inside it is then a phrase of consecutive
//! bigrams, found without a dictionary. Other scripts split at everything that is not a
//! letter or digit, lowercased so case does not matter. Text is walked by grapheme cluster,
//! so combining marks stay with their letter (e.g. Hindi vowel signs, decomposed accents).

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A run of letters and digits, lowercased.
    Word,
    /// Two consecutive CJK characters.
    Bigram,
    /// One CJK character: a run of just one, or (for names) every character.
    Unigram,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What is indexed and matched: lowercased, fullwidth Latin and digits folded to ASCII.
    pub text: String,
    /// Where it stands in the original text (bytes, on grapheme boundaries).
    pub span: Range<usize>,
    pub kind: TokenKind,
}

/// The tokens of `text`, in order: `退款申请 refund!` → 退款, 款申, 申请, refund.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for (class, run) in runs(text) {
        match class {
            Class::Cjk if run.len() == 1 => out.push(cjk(TokenKind::Unigram, &run)),
            Class::Cjk => out.extend(run.windows(2).map(|pair| cjk(TokenKind::Bigram, pair))),
            Class::Word => out.push(word(&run)),
        }
    }
    out
}

/// Every CJK character of `text` as a unigram: indexed for visitor names, so that a single
/// character (a surname such as 王) finds 王小明.
pub fn cjk_unigrams(text: &str) -> Vec<Token> {
    runs(text)
        .filter(|(class, _)| *class == Class::Cjk)
        .flat_map(|(_, run)| run.into_iter().map(|g| cjk(TokenKind::Unigram, &[g])))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Cjk,
    Word,
}

/// A grapheme cluster and where it starts.
type Grapheme<'a> = (usize, &'a str);

/// Maximal runs of graphemes of one class; everything else separates them.
fn runs(text: &str) -> impl Iterator<Item = (Class, Vec<Grapheme<'_>>)> {
    let mut graphemes = text.grapheme_indices(true).peekable();
    std::iter::from_fn(move || loop {
        let (start, g) = graphemes.next()?;
        let Some(kind) = class(g) else { continue };
        let mut run = vec![(start, g)];
        while let Some(&(i, next)) = graphemes.peek() {
            if class(next) != Some(kind) {
                break;
            }
            run.push((i, next));
            graphemes.next();
        }
        return Some((kind, run));
    })
}

/// A grapheme's class is its base character's.
fn class(g: &str) -> Option<Class> {
    let c = g.chars().next()?;
    if is_cjk(c) {
        Some(Class::Cjk)
    } else if c.is_alphanumeric() {
        Some(Class::Word)
    } else {
        None
    }
}

fn cjk(kind: TokenKind, run: &[Grapheme<'_>]) -> Token {
    word_like(kind, run, |c| c)
}

fn word(run: &[Grapheme<'_>]) -> Token {
    word_like(TokenKind::Word, run, fold)
}

fn word_like(kind: TokenKind, run: &[Grapheme<'_>], map: impl Fn(char) -> char) -> Token {
    let mut text = String::new();
    for c in run.iter().flat_map(|(_, g)| g.chars()) {
        text.extend(map(c).to_lowercase());
    }
    let start = run.first().map_or(0, |(i, _)| *i);
    let end = run.last().map_or(start, |(i, g)| i + g.len());
    Token { text, span: start..end, kind }
}

/// Fullwidth ASCII (ＲＥＦＵＮＤ, １２３) as the ASCII it stands for, as NFKC would.
fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Han (with extensions A and up, compatibility ideographs, 々〆〇), Hiragana, Katakana
/// (with halfwidth forms) and Hangul (syllables and jamo).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{11FF}'
        | '\u{3005}'..='\u{3007}'
        | '\u{3021}'..='\u{3029}'
        | '\u{3031}'..='\u{3035}'
        | '\u{303B}'..='\u{303C}'
        | '\u{3041}'..='\u{309F}'
        | '\u{30A1}'..='\u{30FA}'
        | '\u{30FC}'..='\u{30FF}'
        | '\u{3131}'..='\u{318E}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{A960}'..='\u{A97F}'
        | '\u{AC00}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FF66}'..='\u{FF9F}'
        | '\u{1B000}'..='\u{1B16F}'
        | '\u{20000}'..='\u{323AF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn cjk_runs_become_overlapping_bigrams_and_other_runs_lowercased_words() {
        let text = "退款申请 Refund!";
        let t = tokens(text);
        assert_eq!(texts(&t), ["退款", "款申", "申请", "refund"]);
        assert_eq!(t[0].kind, TokenKind::Bigram);
        assert_eq!(&text[t[1].span.clone()], "款申");
        assert_eq!(&text[t[3].span.clone()], "Refund");
        assert_eq!(t[3].kind, TokenKind::Word);
    }

    #[test]
    fn a_lone_cjk_character_is_a_unigram_and_punctuation_separates() {
        let t = tokens("我，要。发票/invoice-2024");
        assert_eq!(texts(&t), ["我", "要", "发票", "invoice", "2024"]);
        assert_eq!(t[0].kind, TokenKind::Unigram);
    }

    #[test]
    fn cjk_next_to_latin_splits_into_separate_runs() {
        assert_eq!(texts(&tokens("退款refund退")), ["退款", "refund", "退"]);
    }

    #[test]
    fn japanese_and_korean_runs_are_bigrammed_and_middle_dot_separates() {
        assert_eq!(texts(&tokens("ありがとう")), ["あり", "りが", "がと", "とう"]);
        assert_eq!(texts(&tokens("カード・ローン")), ["カー", "ード", "ロー", "ーン"]);
        assert_eq!(texts(&tokens("환불해")), ["환불", "불해"]);
        // Extension A and B ideographs are Han too.
        assert_eq!(texts(&tokens("㐀𠀀")), ["㐀𠀀"]);
    }

    #[test]
    fn words_are_unicode_lowercased_and_fullwidth_latin_folds_to_ascii() {
        assert_eq!(
            texts(&tokens("ÉCOLE Straße ＲＥＦＵＮＤ１２")),
            ["école", "straße", "refund12"]
        );
    }

    #[test]
    fn combining_marks_stay_in_their_word() {
        let decomposed = "cafe\u{301} ok";
        assert_eq!(texts(&tokens(decomposed)), ["cafe\u{301}", "ok"]);
        assert_eq!(texts(&tokens("नमस्ते दुनिया")), ["नमस्ते", "दुनिया"]);
    }

    #[test]
    fn text_without_letters_or_digits_has_no_tokens() {
        assert!(tokens("").is_empty());
        assert!(tokens(" !?。、 🎉 ").is_empty());
    }

    #[test]
    fn names_also_get_one_unigram_per_cjk_character() {
        let u = cjk_unigrams("王小明 Wang");
        assert_eq!(texts(&u), ["王", "小", "明"]);
        assert!(u.iter().all(|t| t.kind == TokenKind::Unigram));
        assert_eq!(u[2].span, 6..9);
    }
}
