//! The workflow's rules: auto-replies, keyword rules, priority, SLA, reminders, default
//! tags. Each is checked from its JSON form here and written back by `to_raw`.

use super::errors::{field, index, quoted, Errors};
use super::json::{
    RawAutoReplies, RawBreach, RawFaq, RawKeywordRule, RawPriority, RawReminders, RawSla, RawTags,
    RawWaitStep,
};
use super::matcher::Matcher;
use super::templates::Templates;
use crate::internal_doc::{check_tag, Priority, MAX_TAGS};

/// Most keyword rules, and most FAQ entries.
pub const MAX_RULES: usize = 200;
/// Most steps of the waiting-time priority ladder.
pub const MAX_WAIT_STEPS: usize = 10;
/// Longest delay any `*_seconds` may give: a year.
pub const MAX_SECONDS: u64 = 366 * 24 * 3600;

/// What the relay answers by itself. Each field names a template (see [`Templates`]).
#[derive(Debug, Clone)]
pub struct AutoReplies {
    /// Sent once, when the first visitor joins the conversation.
    pub welcome: Option<String>,
    /// Answer to a visitor message outside business hours.
    pub off_hours: Option<String>,
    /// Once the visitor was told (or an agent answered), how long the conversation must be
    /// quiet, unless it is resolved, before the off-hours reply is sent again: a live chat
    /// after closing time hears it once, not after every agent reply.
    pub off_hours_quiet_ms: i64,
    /// Answer when the visitor is handed to a human (asked for one, or no rule answered).
    pub handoff: Option<String>,
    /// Words by which a visitor asks for a human (`人工`, `human`, ...).
    pub human: Option<Matcher>,
    pub faq: Vec<FaqRule>,
}

/// [`AutoReplies::off_hours_quiet_ms`] when the configuration gives none: four hours.
pub const DEFAULT_OFF_HOURS_QUIET_SECONDS: u64 = 4 * 3600;

impl Default for AutoReplies {
    fn default() -> Self {
        AutoReplies {
            welcome: None,
            off_hours: None,
            off_hours_quiet_ms: DEFAULT_OFF_HOURS_QUIET_SECONDS as i64 * 1000,
            handoff: None,
            human: None,
            faq: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FaqRule {
    pub matcher: Matcher,
    pub template: String,
}

/// Tags and priority set automatically when a visitor message matches.
#[derive(Debug, Clone)]
pub struct KeywordRule {
    pub matcher: Matcher,
    pub add_tags: Vec<String>,
    pub priority: Option<Priority>,
}

#[derive(Debug, Clone, Default)]
pub struct PriorityRules {
    /// Priority of a VIP visitor's conversation.
    pub vip: Option<Priority>,
    /// Raised as a visitor keeps waiting for an agent, ascending by `after_ms`.
    pub waiting: Vec<WaitStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitStep {
    pub after_ms: i64,
    pub priority: Priority,
}

#[derive(Debug, Clone, Default)]
pub struct SlaPolicy {
    /// Time to an agent's first reply, from the visitor's first message.
    pub first_response_ms: Option<i64>,
    /// Time to an agent's next reply, from a visitor message after an agent replied.
    pub next_response_ms: Option<i64>,
    /// On breach: raise the priority to at least this.
    pub breach_priority: Option<Priority>,
    /// On breach: add this tag.
    pub breach_tag: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Reminders {
    /// Remind the assigned agent of a visitor message unread for this long.
    pub unread_ms: Option<i64>,
    /// Resolve an open or pending conversation idle for this long.
    pub auto_resolve_ms: Option<i64>,
    /// Tell the integrator (email/push) when the visitor has not read an agent's reply for
    /// this long.
    pub visitor_notify_ms: Option<i64>,
}

/// The built-in tags the workflow sets and clears.
#[derive(Debug, Clone)]
pub struct DefaultTags {
    /// Set on a visitor message, cleared by an agent's reply: 待处理.
    pub to_handle: String,
    /// Set by an agent's reply, cleared by the next visitor message: 已回复.
    pub replied: String,
    /// Set by agents, and on an SLA breach when no breach tag is configured: 需跟进.
    pub follow_up: String,
}

impl Default for DefaultTags {
    fn default() -> Self {
        Self {
            to_handle: "待处理".into(), replied: "已回复".into(), follow_up: "需跟进".into()
        }
    }
}

impl AutoReplies {
    pub(super) fn from_raw(
        raw: &RawAutoReplies,
        templates: &Templates,
        errors: &mut Errors,
    ) -> Self {
        let path = "auto_replies";
        let named = |name: &Option<String>, key: &str, errors: &mut Errors| {
            let name = name.as_ref()?;
            template_exists(name, templates, &field(path, key), errors).then(|| name.clone())
        };
        let welcome = named(&raw.welcome, "welcome", errors);
        let off_hours = named(&raw.off_hours, "off_hours", errors);
        let handoff = named(&raw.handoff, "handoff", errors);
        let off_hours_quiet_ms = seconds(
            Some(raw.off_hours_quiet_seconds.unwrap_or(DEFAULT_OFF_HOURS_QUIET_SECONDS)),
            &field(path, "off_hours_quiet_seconds"),
            errors,
        )
        .unwrap_or(DEFAULT_OFF_HOURS_QUIET_SECONDS as i64 * 1000);
        let human = raw.human.as_ref().and_then(|m| {
            Matcher::from_raw(
                m.keywords.as_deref(),
                m.regex.as_deref(),
                &field(path, "human"),
                errors,
            )
        });
        let faq_path = field(path, "faq");
        let faq = if raw.faq.len() > MAX_RULES {
            errors.push(&faq_path, format!("{} entries; the limit is {MAX_RULES}", raw.faq.len()));
            Vec::new()
        } else {
            raw.faq
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    let here = index(&faq_path, i);
                    let matcher =
                        Matcher::from_raw(f.keywords.as_deref(), f.regex.as_deref(), &here, errors);
                    let found =
                        template_exists(&f.template, templates, &field(&here, "template"), errors);
                    Some(FaqRule { matcher: matcher?, template: f.template.clone() })
                        .filter(|_| found)
                })
                .collect()
        };
        AutoReplies { welcome, off_hours, off_hours_quiet_ms, handoff, human, faq }
    }

    pub(super) fn to_raw(&self) -> Option<RawAutoReplies> {
        let raw = RawAutoReplies {
            welcome: self.welcome.clone(),
            off_hours: self.off_hours.clone(),
            off_hours_quiet_seconds: to_seconds(Some(self.off_hours_quiet_ms)),
            handoff: self.handoff.clone(),
            human: self.human.as_ref().map(Matcher::to_raw),
            faq: self
                .faq
                .iter()
                .map(|f| {
                    let m = f.matcher.to_raw();
                    RawFaq { keywords: m.keywords, regex: m.regex, template: f.template.clone() }
                })
                .collect(),
        };
        let empty = raw.welcome.is_none()
            && raw.off_hours.is_none()
            && raw.handoff.is_none()
            && raw.human.is_none()
            && raw.faq.is_empty()
            && raw.off_hours_quiet_seconds == Some(DEFAULT_OFF_HOURS_QUIET_SECONDS);
        (!empty).then_some(raw)
    }
}

fn template_exists(name: &str, templates: &Templates, path: &str, errors: &mut Errors) -> bool {
    if templates.contains(name) {
        return true;
    }
    let known: Vec<&str> = templates.by_name.keys().map(String::as_str).collect();
    let known = if known.is_empty() { "none are defined".to_owned() } else { known.join(", ") };
    errors.push(
        path,
        format!(
            "no template named {}; add it under `templates` (templates: {known})",
            quoted(name)
        ),
    );
    false
}

pub(super) fn keyword_rules(raw: &[RawKeywordRule], errors: &mut Errors) -> Vec<KeywordRule> {
    let path = "keyword_rules";
    if raw.len() > MAX_RULES {
        errors.push(path, format!("{} rules; the limit is {MAX_RULES}", raw.len()));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, rule) in raw.iter().enumerate() {
        let here = index(path, i);
        let matcher =
            Matcher::from_raw(rule.keywords.as_deref(), rule.regex.as_deref(), &here, errors);
        let tags_ok = tags(&rule.add_tags, &field(&here, "add_tags"), errors);
        let priority =
            rule.priority.as_ref().map(|p| priority(p, &field(&here, "priority"), errors));
        if rule.add_tags.is_empty() && rule.priority.is_none() {
            errors.push(&here, "does nothing: give `add_tags`, `priority`, or both");
        }
        let priority_ok = !matches!(priority, Some(None));
        if let (Some(matcher), true, true) = (matcher, tags_ok, priority_ok) {
            let priority = priority.flatten();
            out.push(KeywordRule { matcher, add_tags: rule.add_tags.clone(), priority });
        }
    }
    out
}

pub(super) fn keyword_rules_to_raw(rules: &[KeywordRule]) -> Vec<RawKeywordRule> {
    rules
        .iter()
        .map(|r| {
            let m = r.matcher.to_raw();
            RawKeywordRule {
                keywords: m.keywords,
                regex: m.regex,
                add_tags: r.add_tags.clone(),
                priority: r.priority.map(|p| p.as_str().to_owned()),
            }
        })
        .collect()
}

fn tags(tags: &[String], path: &str, errors: &mut Errors) -> bool {
    if tags.len() > MAX_TAGS {
        errors
            .push(path, format!("{} tags; a conversation carries at most {MAX_TAGS}", tags.len()));
        return false;
    }
    let mut ok = true;
    for (i, t) in tags.iter().enumerate() {
        if let Err(e) = check_tag(t) {
            errors.push(index(path, i), e.to_string());
            ok = false;
        }
    }
    ok
}

fn priority(s: &str, path: &str, errors: &mut Errors) -> Option<Priority> {
    let p = Priority::parse(s);
    if p.is_none() {
        errors.push(
            path,
            format!("{} is not a priority; use low, normal, high or urgent", quoted(s)),
        );
    }
    p
}

/// `*_seconds` as milliseconds: positive and at most [`MAX_SECONDS`].
fn seconds(value: Option<u64>, path: &str, errors: &mut Errors) -> Option<i64> {
    let s = value?;
    if s == 0 || s > MAX_SECONDS {
        errors.push(path, format!("{s} seconds; give 1 to {MAX_SECONDS} (a year)"));
        return None;
    }
    Some(s as i64 * 1000)
}

fn to_seconds(ms: Option<i64>) -> Option<u64> {
    ms.map(|ms| (ms / 1000) as u64)
}

impl PriorityRules {
    pub(super) fn from_raw(raw: &RawPriority, errors: &mut Errors) -> Self {
        let vip = raw.vip.as_ref().and_then(|p| priority(p, "priority.vip", errors));
        let path = "priority.waiting";
        if raw.waiting.len() > MAX_WAIT_STEPS {
            errors
                .push(path, format!("{} steps; the limit is {MAX_WAIT_STEPS}", raw.waiting.len()));
            return PriorityRules { vip, waiting: Vec::new() };
        }
        let mut waiting: Vec<WaitStep> = Vec::new();
        for (i, step) in raw.waiting.iter().enumerate() {
            let here = index(path, i);
            let after = seconds(Some(step.after_seconds), &field(&here, "after_seconds"), errors);
            let p = priority(&step.priority, &field(&here, "priority"), errors);
            let (Some(after_ms), Some(priority)) = (after, p) else { continue };
            if let Some(last) = waiting.last().filter(|last| last.after_ms >= after_ms) {
                errors.push(
                    field(&here, "after_seconds"),
                    format!(
                        "{} is not after the step before ({} s); list steps in ascending order",
                        after_ms / 1000,
                        last.after_ms / 1000
                    ),
                );
                continue;
            }
            waiting.push(WaitStep { after_ms, priority });
        }
        PriorityRules { vip, waiting }
    }

    pub(super) fn to_raw(&self) -> Option<RawPriority> {
        let raw = RawPriority {
            vip: self.vip.map(|p| p.as_str().to_owned()),
            waiting: self
                .waiting
                .iter()
                .map(|s| RawWaitStep {
                    after_seconds: (s.after_ms / 1000) as u64,
                    priority: s.priority.as_str().to_owned(),
                })
                .collect(),
        };
        (raw.vip.is_some() || !raw.waiting.is_empty()).then_some(raw)
    }
}

impl SlaPolicy {
    pub(super) fn from_raw(raw: &RawSla, errors: &mut Errors) -> Self {
        let breach = raw.on_breach.as_ref();
        let breach_priority = breach
            .and_then(|b| b.priority.as_ref())
            .and_then(|p| priority(p, "sla.on_breach.priority", errors));
        let breach_tag = breach.and_then(|b| b.tag.as_ref()).and_then(|t| match check_tag(t) {
            Ok(()) => Some(t.clone()),
            Err(e) => {
                errors.push("sla.on_breach.tag", e.to_string());
                None
            }
        });
        SlaPolicy {
            first_response_ms: seconds(
                raw.first_response_seconds,
                "sla.first_response_seconds",
                errors,
            ),
            next_response_ms: seconds(
                raw.next_response_seconds,
                "sla.next_response_seconds",
                errors,
            ),
            breach_priority,
            breach_tag,
        }
    }

    pub(super) fn to_raw(&self) -> Option<RawSla> {
        let on_breach =
            (self.breach_priority.is_some() || self.breach_tag.is_some()).then(|| RawBreach {
                priority: self.breach_priority.map(|p| p.as_str().to_owned()),
                tag: self.breach_tag.clone(),
            });
        let raw = RawSla {
            first_response_seconds: to_seconds(self.first_response_ms),
            next_response_seconds: to_seconds(self.next_response_ms),
            on_breach,
        };
        let empty = raw.first_response_seconds.is_none()
            && raw.next_response_seconds.is_none()
            && raw.on_breach.is_none();
        (!empty).then_some(raw)
    }
}

impl Reminders {
    pub(super) fn from_raw(raw: &RawReminders, errors: &mut Errors) -> Self {
        Reminders {
            unread_ms: seconds(raw.unread_seconds, "reminders.unread_seconds", errors),
            auto_resolve_ms: seconds(
                raw.auto_resolve_seconds,
                "reminders.auto_resolve_seconds",
                errors,
            ),
            visitor_notify_ms: seconds(
                raw.visitor_notify_seconds,
                "reminders.visitor_notify_seconds",
                errors,
            ),
        }
    }

    pub(super) fn to_raw(&self) -> Option<RawReminders> {
        let raw = RawReminders {
            unread_seconds: to_seconds(self.unread_ms),
            auto_resolve_seconds: to_seconds(self.auto_resolve_ms),
            visitor_notify_seconds: to_seconds(self.visitor_notify_ms),
        };
        let empty = raw.unread_seconds.is_none()
            && raw.auto_resolve_seconds.is_none()
            && raw.visitor_notify_seconds.is_none();
        (!empty).then_some(raw)
    }
}

impl DefaultTags {
    pub(super) fn from_raw(raw: &RawTags, errors: &mut Errors) -> Self {
        let d = DefaultTags::default();
        let mut tag = |value: &Option<String>, key: &str, default: String| match value {
            None => default,
            Some(t) => match check_tag(t) {
                Ok(()) => t.clone(),
                Err(e) => {
                    errors.push(field("tags", key), e.to_string());
                    default
                }
            },
        };
        let tags = DefaultTags {
            to_handle: tag(&raw.to_handle, "to_handle", d.to_handle),
            replied: tag(&raw.replied, "replied", d.replied),
            follow_up: tag(&raw.follow_up, "follow_up", d.follow_up),
        };
        // The workflow sets one and clears another: the same tag for two roles would flip.
        if tags.replied == tags.to_handle {
            errors.push("tags.replied", "is the same tag as `to_handle`; give each its own");
        }
        if tags.follow_up == tags.to_handle || tags.follow_up == tags.replied {
            errors.push(
                "tags.follow_up",
                "is the same tag as another default tag; give each its own",
            );
        }
        tags
    }

    pub(super) fn to_raw(&self) -> RawTags {
        RawTags {
            to_handle: Some(self.to_handle.clone()),
            replied: Some(self.replied.clone()),
            follow_up: Some(self.follow_up.clone()),
        }
    }
}
