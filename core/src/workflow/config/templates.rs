//! Reply templates: a text per language, with variables.
//!
//! Syntax (PROTOCOL.md §9.4): `{visitor.name}`, `{agent.name}`, `{attributes.<key>}` (key of
//! `A-Z a-z 0-9 _ -`). `{var|fallback}` renders `fallback` when the variable is missing or
//! blank; without `|`, a missing variable renders as nothing, so a text never shows a raw
//! `{visitor.name}` to a visitor. `{{` and `}}` are literal braces.
//!
//! Language choice for a visitor's locale: the exact tag (case-insensitive, `_` read as
//! `-`), then the primary language (`zh-TW` falls back to `zh`, else to any `zh-*` text),
//! then the workspace's `default_language`, which every template must have.

use std::collections::BTreeMap;

use super::errors::{field, quoted, Errors};

/// Most templates, languages per template and bytes per text. A rendered template is sent
/// as a message, so with its variables it must stay well under the 16 KiB body limit.
pub const MAX_TEMPLATES: usize = 100;
pub const MAX_LANGUAGES: usize = 50;
pub const MAX_TEXT_BYTES: usize = 4096;
/// Longest template name and attribute key.
pub const MAX_NAME_BYTES: usize = 64;

/// Variables a template may use.
#[derive(Debug, Clone, Default)]
pub struct TemplateVars {
    pub visitor_name: Option<String>,
    pub agent_name: Option<String>,
    /// Custom attributes from the visitor's token (`{attributes.plan}`).
    pub attributes: BTreeMap<String, String>,
}

/// Named templates, each with a text per language (tag -> text, as the admin wrote them).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    pub by_name: BTreeMap<String, BTreeMap<String, String>>,
}

impl Templates {
    /// Template `name` in the language chosen for `locale` (see the module docs), with its
    /// variables filled in; `None` if there is no such template or it has no text to use.
    pub fn render(
        &self,
        name: &str,
        locale: Option<&str>,
        default_language: &str,
        vars: &TemplateVars,
    ) -> Option<String> {
        let texts = self.by_name.get(name)?;
        let text = pick_language(texts, locale, default_language)?;
        Some(render_text(text, vars))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(super) fn from_raw(
        raw: &BTreeMap<String, BTreeMap<String, String>>,
        default_language: Option<&str>,
        errors: &mut Errors,
    ) -> Templates {
        if raw.len() > MAX_TEMPLATES {
            errors.push(
                "templates",
                format!("{} templates; the limit is {MAX_TEMPLATES}", raw.len()),
            );
            return Templates::default();
        }
        for (name, texts) in raw {
            let path = field("templates", name);
            if !is_name(name) {
                errors.push(
                    &path,
                    format!(
                        "template name {} is not valid: 1 to {MAX_NAME_BYTES} characters of A-Z a-z 0-9 _ . -",
                        quoted(name)
                    ),
                );
            }
            check_texts(name, texts, default_language, &path, errors);
        }
        Templates { by_name: raw.clone() }
    }
}

fn check_texts(
    name: &str,
    texts: &BTreeMap<String, String>,
    default_language: Option<&str>,
    path: &str,
    errors: &mut Errors,
) {
    if texts.len() > MAX_LANGUAGES {
        errors.push(path, format!("{} languages; the limit is {MAX_LANGUAGES}", texts.len()));
        return;
    }
    if let Some(default) = default_language {
        if !texts.keys().any(|l| same_tag(l, default)) {
            errors.push(
                path,
                format!(
                    "template {} has no text in the default language {}; every template needs one, as the fallback for all other languages",
                    quoted(name),
                    quoted(default)
                ),
            );
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (language, text) in texts {
        let here = field(path, language);
        if !is_language_tag(language) {
            errors.push(
                &here,
                format!(
                    "{} is not a language tag; write one like \"en\", \"zh-CN\" or \"zh-Hant-TW\"",
                    quoted(language)
                ),
            );
        } else if let Some(other) = seen.iter().find(|s| same_tag(s, language)) {
            errors.push(&here, format!("the same language as {}; keep one of them", quoted(other)));
        }
        seen.push(language);
        if text.len() > MAX_TEXT_BYTES {
            errors.push(
                &here,
                format!("the text is {} bytes; the limit is {MAX_TEXT_BYTES}", text.len()),
            );
            continue;
        }
        if let Err(e) = parse(text) {
            errors.push(
                &here,
                format!("template {}, language {}: {e}", quoted(name), quoted(language)),
            );
        }
    }
}

/// The text for `locale`: exact tag, then primary language, then the default language.
fn pick_language<'a>(
    texts: &'a BTreeMap<String, String>,
    locale: Option<&str>,
    default_language: &str,
) -> Option<&'a String> {
    let find = |tag: &str| texts.iter().find(|(l, _)| same_tag(l, tag)).map(|(_, t)| t);
    if let Some(locale) = locale.map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(t) = find(locale) {
            return Some(t);
        }
        let primary = primary(locale);
        if let Some(t) = find(primary) {
            return Some(t);
        }
        // Among several texts of that language, the default language's own variant wins
        // (a `zh-TW` visitor of a `zh-CN` workspace reads the zh-CN text), then the first.
        if primary.eq_ignore_ascii_case(self::primary(default_language)) {
            if let Some(t) = find(default_language) {
                return Some(t);
            }
        }
        let same_language =
            texts.iter().find(|(l, _)| primary.eq_ignore_ascii_case(self::primary(l)));
        if let Some((_, t)) = same_language {
            return Some(t);
        }
    }
    find(default_language)
}

fn primary(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// Tags compare case-insensitively, with `_` read as `-` (`zh_cn` is `zh-CN`).
fn same_tag(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let norm = |c: u8| if c == b'_' { b'-' } else { c.to_ascii_lowercase() };
            norm(x) == norm(y)
        })
}

/// BCP 47 in its common shape: a 2-8 letter language, then subtags of 1-8 letters or digits.
pub(super) fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or_default();
    (2..=8).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_name(name: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    /// A literal `{` or `}` (written doubled).
    Brace(char),
    Var {
        var: Var<'a>,
        fallback: Option<&'a str>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var<'a> {
    VisitorName,
    AgentName,
    Attribute(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TemplateError {
    #[error(
        "unknown variable {{{0}}}; use {{visitor.name}}, {{agent.name}} or {{attributes.<key>}} (key of A-Z a-z 0-9 _ -), or write {{{{ for a literal brace"
    )]
    UnknownVariable(String),
    #[error(
        "`{{` at byte {0} is never closed; close it with `}}`, or write {{{{ for a literal brace"
    )]
    Unclosed(usize),
    #[error("`}}` at byte {0} closes nothing; write }}}} for a literal brace")]
    UnmatchedClose(usize),
}

fn parse(text: &str) -> Result<Vec<Part<'_>>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            parts.push(Part::Text(&rest[..at]));
        }
        let brace = rest.as_bytes()[at];
        let after = &rest[at + 1..];
        let consumed = if after.as_bytes().first() == Some(&brace) {
            parts.push(Part::Brace(brace as char));
            at + 2
        } else if brace == b'}' {
            return Err(TemplateError::UnmatchedClose(offset + at));
        } else {
            let end = after.find(['}', '{']).filter(|&e| after.as_bytes()[e] == b'}');
            let Some(end) = end else { return Err(TemplateError::Unclosed(offset + at)) };
            let inner = &after[..end];
            let (name, fallback) = match inner.split_once('|') {
                Some((n, f)) => (n, Some(f)),
                None => (inner, None),
            };
            let var = variable(name.trim())
                .ok_or_else(|| TemplateError::UnknownVariable(name.to_owned()))?;
            parts.push(Part::Var { var, fallback });
            at + 1 + end + 1
        };
        rest = &rest[consumed..];
        offset += consumed;
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

fn variable(name: &str) -> Option<Var<'_>> {
    match name {
        "visitor.name" => Some(Var::VisitorName),
        "agent.name" => Some(Var::AgentName),
        _ => {
            let key = name.strip_prefix("attributes.")?;
            let ok = (1..=MAX_NAME_BYTES).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
            ok.then_some(Var::Attribute(key))
        }
    }
}

/// Renders a text; one that does not parse (never the case for a checked configuration) is
/// sent as written rather than not at all.
fn render_text(text: &str, vars: &TemplateVars) -> String {
    let Ok(parts) = parse(text) else { return text.to_owned() };
    let mut out = String::with_capacity(text.len() + 32);
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Brace(c) => out.push(c),
            Part::Var { var, fallback } => {
                let value = match var {
                    Var::VisitorName => vars.visitor_name.as_deref(),
                    Var::AgentName => vars.agent_name.as_deref(),
                    Var::Attribute(key) => vars.attributes.get(key).map(String::as_str),
                };
                match value.filter(|v| !v.trim().is_empty()) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(fallback.unwrap_or_default()),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(l, t)| (l.to_string(), t.to_string())).collect()
    }

    fn templates(name: &str, pairs: &[(&str, &str)]) -> Templates {
        Templates { by_name: BTreeMap::from([(name.to_owned(), texts(pairs))]) }
    }

    fn vars(visitor: Option<&str>) -> TemplateVars {
        TemplateVars { visitor_name: visitor.map(str::to_owned), ..Default::default() }
    }

    #[test]
    fn variables_are_filled_in() {
        let v = TemplateVars {
            visitor_name: Some("Ada".into()),
            agent_name: Some("Grace".into()),
            attributes: BTreeMap::from([("plan".into(), "Pro".into())]),
        };
        let t = "Hi {visitor.name}, I am {agent.name}; your plan: {attributes.plan}.";
        assert_eq!(render_text(t, &v), "Hi Ada, I am Grace; your plan: Pro.");
    }

    #[test]
    fn a_missing_variable_renders_its_fallback_or_nothing() {
        let t = "Hi {visitor.name|there}, welcome!";
        assert_eq!(render_text(t, &vars(None)), "Hi there, welcome!");
        assert_eq!(render_text(t, &vars(Some("  "))), "Hi there, welcome!", "blank is missing");
        assert_eq!(render_text(t, &vars(Some("Ada"))), "Hi Ada, welcome!");
        assert_eq!(render_text("您好{visitor.name}，欢迎咨询！", &vars(None)), "您好，欢迎咨询！");
        assert_eq!(render_text("{attributes.plan|free} plan", &vars(None)), "free plan");
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(
            render_text("{{visitor.name}} is {visitor.name}", &vars(Some("A"))),
            "{visitor.name} is A"
        );
        assert_eq!(render_text("}}{{", &vars(None)), "}{");
    }

    #[test]
    fn malformed_templates_say_what_and_where() {
        let unknown = parse("Hi {visitor.nmae}!").unwrap_err();
        assert_eq!(unknown, TemplateError::UnknownVariable("visitor.nmae".into()));
        assert!(unknown
            .to_string()
            .starts_with("unknown variable {visitor.nmae}; use {visitor.name}"));
        assert_eq!(parse("Hi {visitor.name").unwrap_err(), TemplateError::Unclosed(3));
        assert_eq!(parse("a {b {visitor.name}").unwrap_err(), TemplateError::Unclosed(2));
        assert_eq!(parse("a } b").unwrap_err(), TemplateError::UnmatchedClose(2));
        assert!(matches!(parse("{attributes.}"), Err(TemplateError::UnknownVariable(_))));
        assert!(matches!(parse("{attributes.a b}"), Err(TemplateError::UnknownVariable(_))));
        assert!(parse("{ visitor.name }").is_ok(), "spaces around the name are fine");
    }

    #[test]
    fn the_locale_picks_the_exact_text_then_its_language_then_the_default() {
        let t = templates(
            "welcome",
            &[("zh-CN", "简体"), ("zh-TW", "繁體"), ("en", "English"), ("fr-CA", "Québec")],
        );
        let go = |locale: Option<&str>| t.render("welcome", locale, "zh-CN", &vars(None)).unwrap();
        assert_eq!(go(Some("zh-TW")), "繁體", "exact");
        assert_eq!(go(Some("zh-tw")), "繁體", "case-insensitive");
        assert_eq!(go(Some("zh_TW")), "繁體", "underscore");
        assert_eq!(go(Some("en-GB")), "English", "primary language");
        assert_eq!(go(Some("zh-HK")), "简体", "a zh-* text: the default language's");
        assert_eq!(go(Some("fr")), "Québec", "any fr-* text");
        assert_eq!(go(Some("de-DE")), "简体", "the default language");
        assert_eq!(go(None), "简体");
        assert_eq!(go(Some("")), "简体");
        assert_eq!(t.render("nope", Some("en"), "zh-CN", &vars(None)), None);
    }

    #[test]
    fn every_template_needs_its_default_language_and_valid_tags() {
        let raw = BTreeMap::from([
            ("welcome".to_owned(), texts(&[("en", "Hi {visitor.name}")])),
            ("bad name".to_owned(), texts(&[("zh-CN", "x"), ("ZH-cn", "y"), ("e1", "z")])),
        ]);
        let mut errors = Errors::default();
        Templates::from_raw(&raw, Some("zh-CN"), &mut errors);
        let e = errors.into_result(()).unwrap_err().0;
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "templates.bad name",
                "templates.bad name.e1",
                "templates.bad name.zh-CN",
                "templates.welcome"
            ]
        );
        assert!(e[0].message.starts_with("template name \"bad name\" is not valid"));
        assert!(e[1].message.contains("is not a language tag"));
        assert!(e[2].message.contains("the same language as \"ZH-cn\""), "{}", e[2].message);
        assert!(e[3].message.contains("no text in the default language \"zh-CN\""));
    }

    #[test]
    fn an_unknown_variable_names_template_language_and_variable() {
        let raw = BTreeMap::from([("welcome".to_owned(), texts(&[("en", "Hi {visitor.nmae}")]))]);
        let mut errors = Errors::default();
        Templates::from_raw(&raw, Some("en"), &mut errors);
        let e = errors.into_result(()).unwrap_err().0;
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "templates.welcome.en");
        assert!(
            e[0].message.starts_with(
                "template \"welcome\", language \"en\": unknown variable {visitor.nmae}"
            ),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn language_tags_have_the_common_bcp47_shape() {
        for ok in ["en", "zh-CN", "zh-Hant-TW", "es-419"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "e", "e1", "en-", "en--US", "zh_CN", "toolongxxx-US"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
