//! A workspace's support configuration: business hours, auto-replies, keyword rules, priority
//! rules, SLA policy, reminders, templates per language, default tags and webhook endpoints.
//!
//! Admins send it as JSON (PROTOCOL.md §9); [`WorkspaceConfig::parse`] refuses anything
//! invalid with every problem it found, each naming where (a JSON path) and what is wrong.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::internal_doc::Priority;

/// One problem in a configuration: where (`business_hours.weekly.mon[1]`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid workspace configuration: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// A checked configuration. Built only by [`WorkspaceConfig::parse`] (or `default()`: no
/// rules at all), so the workflow never sees an invalid one.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceConfig {
    /// Language of the fallback template text, e.g. `zh-CN`.
    pub default_language: String,
    /// Display name of the relay's own messages (auto-replies).
    pub bot_name: String,
    pub business_hours: Option<BusinessHours>,
    pub auto_replies: AutoReplies,
    pub keyword_rules: Vec<KeywordRule>,
    pub priority: PriorityRules,
    pub sla: SlaPolicy,
    pub reminders: Reminders,
    pub templates: Templates,
    pub tags: DefaultTags,
    pub webhooks: Vec<WebhookEndpoint>,
}

impl WorkspaceConfig {
    /// Parses and checks a configuration sent by an admin.
    pub fn parse(json: &str) -> Result<Self, ConfigErrors> {
        let _ = json;
        Err(ConfigErrors(vec![ConfigError {
            path: "$".into(),
            message: "not implemented yet".into(),
        }]))
    }

    /// Whether `at_ms` is within business hours (always, when none are configured).
    pub fn is_business_hours(&self, at_ms: i64) -> bool {
        self.business_hours.as_ref().is_none_or(|h| h.is_open(at_ms))
    }

    /// Renders template `name` for a visitor's `locale`; `None` if there is no such template.
    pub fn render(&self, name: &str, locale: Option<&str>, vars: &TemplateVars) -> Option<String> {
        self.templates.render(name, locale, &self.default_language, vars)
    }
}

/// Weekly opening hours in a time zone, minus holidays.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    // Filled by the config implementation (time zone, weekly intervals, holidays).
}

impl BusinessHours {
    pub fn is_open(&self, at_ms: i64) -> bool {
        let _ = at_ms;
        true
    }
}

/// What the relay answers by itself. Each field names a template (see [`Templates`]).
#[derive(Debug, Clone, Default)]
pub struct AutoReplies {
    /// Sent once, when the first visitor joins the conversation.
    pub welcome: Option<String>,
    /// Answer to a visitor message outside business hours.
    pub off_hours: Option<String>,
    /// Answer when the visitor is handed to a human (asked for one, or no rule answered).
    pub handoff: Option<String>,
    /// Words by which a visitor asks for a human (`人工`, `human`, ...).
    pub human: Option<Matcher>,
    pub faq: Vec<FaqRule>,
}

#[derive(Debug, Clone)]
pub struct FaqRule {
    pub matcher: Matcher,
    pub template: String,
}

/// Keywords (any of them, case-insensitive substring) or a regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    Keywords(Vec<String>),
    // Regex(regex::Regex) — added by the config implementation.
}

impl Matcher {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Matcher::Keywords(words) => {
                let text = text.to_lowercase();
                words.iter().any(|w| text.contains(&w.to_lowercase()))
            }
        }
    }
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

/// Variables a template may use.
#[derive(Debug, Clone, Default)]
pub struct TemplateVars {
    pub visitor_name: Option<String>,
    pub agent_name: Option<String>,
    /// Custom attributes from the visitor's token (`{attributes.plan}`).
    pub attributes: BTreeMap<String, String>,
}

/// Named templates, each with a text per language.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    pub by_name: BTreeMap<String, BTreeMap<String, String>>,
}

impl Templates {
    pub fn render(
        &self,
        name: &str,
        locale: Option<&str>,
        default_language: &str,
        vars: &TemplateVars,
    ) -> Option<String> {
        let texts = self.by_name.get(name)?;
        let text = locale.and_then(|l| texts.get(l)).or_else(|| texts.get(default_language))?;
        let _ = vars;
        Some(text.clone())
    }
}

/// Where events are posted, signed with `secret` (HMAC-SHA256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// Event types sent here; empty means all.
    pub events: Vec<String>,
}

impl WebhookEndpoint {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}
