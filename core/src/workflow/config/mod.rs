//! A workspace's support configuration: business hours, auto-replies, keyword rules, priority
//! rules, SLA policy, reminders, templates per language, default tags, webhook endpoints and
//! routing to teams.
//!
//! Admins send it as JSON (PROTOCOL.md §9); [`WorkspaceConfig::parse`] refuses anything
//! invalid with every problem it found, each naming where (a JSON path) and what is wrong.
//! Checking happens in two steps: serde reads the shape ([`json`]: unknown fields and wrong
//! types stop it at the first, named with its path), then every value with rules of its own
//! is checked and all problems are reported together.
//!
//! - [`hours`]: business hours in an IANA time zone, holidays.
//! - [`matcher`]: keywords or a regular expression.
//! - [`templates`]: reply texts per language, variables, locale fallback.
//! - [`rules`]: auto-replies, keyword rules, priority, SLA, reminders, default tags.
//! - [`webhooks`]: endpoints, their secrets and events.
//! - [`routing`]: teams, the rules that pick one, how a team picks an agent;
//!   [`agent_routing`]: single agents' own limits and skills.

pub mod agent_routing;
pub mod attachments;
mod errors;
pub mod hours;
mod json;
pub mod matcher;
pub mod retention;
pub mod routing;
mod routing_limits;
pub mod rules;
pub mod templates;
#[cfg(test)]
mod tests;
pub mod webhooks;

pub use attachments::AttachmentPolicy;
pub use errors::{ConfigError, ConfigErrors, MAX_REPORTED_ERRORS};
pub use hours::BusinessHours;
pub use matcher::Matcher;
pub use retention::RetentionPolicy;
pub use routing::{RouteRule, RouteWhen, Routing, Strategy, Team};
pub use rules::{
    AutoReplies, DefaultTags, FaqRule, KeywordRule, PriorityRules, Reminders, SlaPolicy, WaitStep,
};
pub use templates::{TemplateVars, Templates};
pub use webhooks::{WebhookEndpoint, KNOWN_EVENTS, REDACTED_SECRET};

use errors::Errors;
use json::RawConfig;

/// Largest configuration document, in bytes of JSON.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// Display name of auto-replies when the configuration names none.
pub const DEFAULT_BOT_NAME: &str = "edgedesk";

/// A checked configuration. Built only by [`WorkspaceConfig::parse`] (or `default()`: no
/// rules at all), so the workflow never sees an invalid one.
#[derive(Debug, Clone)]
pub struct WorkspaceConfig {
    /// Language of the fallback template text, e.g. `zh-CN`; empty when no template exists.
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
    pub routing: Routing,
    pub attachments: AttachmentPolicy,
    pub retention: RetentionPolicy,
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            default_language: String::new(),
            bot_name: DEFAULT_BOT_NAME.to_owned(),
            business_hours: None,
            auto_replies: AutoReplies::default(),
            keyword_rules: Vec::new(),
            priority: PriorityRules::default(),
            sla: SlaPolicy::default(),
            reminders: Reminders::default(),
            templates: Templates::default(),
            tags: DefaultTags::default(),
            webhooks: Vec::new(),
            routing: Routing::default(),
            attachments: AttachmentPolicy::default(),
            retention: RetentionPolicy::default(),
        }
    }
}

impl WorkspaceConfig {
    /// Parses and checks a configuration sent by an admin.
    pub fn parse(json: &str) -> Result<Self, ConfigErrors> {
        Self::parse_update(json, None)
    }

    /// [`WorkspaceConfig::parse`] for a configuration replacing `current`: a webhook secret
    /// sent as [`REDACTED_SECRET`] (what `GET` shows) keeps `current`'s secret of the webhook
    /// with the same id.
    pub fn parse_update(
        json: &str,
        current: Option<&WorkspaceConfig>,
    ) -> Result<Self, ConfigErrors> {
        if json.len() > MAX_CONFIG_BYTES {
            return Err(ConfigErrors(vec![ConfigError::new(
                "$",
                format!(
                    "the configuration is {} bytes; the limit is {MAX_CONFIG_BYTES} (64 KiB)",
                    json.len()
                ),
            )]));
        }
        let raw = json::decode(json)?;
        let stored =
            |id: &str| current?.webhooks.iter().find(|w| w.id == id).map(|w| w.secret.clone());
        let mut errors = Errors::default();
        let config = check(raw, &stored, &mut errors);
        let config = errors.into_result(config)?;
        // What is stored and handed to conversations is the normalized form (defaults filled
        // in, kept secrets restored): it must parse again under the same limit.
        let stored_len = config.to_json(false).to_string().len();
        if stored_len > MAX_CONFIG_BYTES {
            return Err(ConfigErrors(vec![ConfigError::new(
                "$",
                format!(
                    "with its defaults filled in and kept secrets restored the configuration is {stored_len} bytes; the limit is {MAX_CONFIG_BYTES} (64 KiB): shorten it"
                ),
            )]));
        }
        Ok(config)
    }

    /// The configuration as JSON, in the form [`WorkspaceConfig::parse`] reads (it parses
    /// back to the same configuration). `redact_secrets` replaces webhook secrets by
    /// [`REDACTED_SECRET`], for showing the configuration to an admin.
    pub fn to_json(&self, redact_secrets: bool) -> serde_json::Value {
        let raw = RawConfig {
            default_language: Some(self.default_language.clone()).filter(|l| !l.is_empty()),
            bot_name: Some(self.bot_name.clone()),
            business_hours: self.business_hours.as_ref().map(BusinessHours::to_raw),
            auto_replies: self.auto_replies.to_raw(),
            keyword_rules: rules::keyword_rules_to_raw(&self.keyword_rules),
            priority: self.priority.to_raw(),
            sla: self.sla.to_raw(),
            reminders: self.reminders.to_raw(),
            templates: self.templates.by_name.clone(),
            tags: Some(self.tags.to_raw()),
            webhooks: self.webhooks.iter().map(|w| w.to_raw(redact_secrets)).collect(),
            routing: self.routing.to_raw(),
            attachments: Some(self.attachments.to_raw()),
            retention: self.retention.to_raw(),
        };
        // Maps with string keys and plain values: serializing cannot fail.
        serde_json::to_value(raw).unwrap_or_default()
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

/// Every semantic check, each section reporting into `errors`.
fn check(
    raw: RawConfig,
    stored_secret: &dyn Fn(&str) -> Option<String>,
    errors: &mut Errors,
) -> WorkspaceConfig {
    let default_language = raw.default_language.clone().unwrap_or_default();
    if raw.default_language.is_some() && !templates::is_language_tag(&default_language) {
        errors.push(
            "default_language",
            format!(
                "{:?} is not a language tag; write one like \"en\" or \"zh-CN\"",
                crate::auth::shown(&default_language, 40)
            ),
        );
    } else if default_language.is_empty() && !raw.templates.is_empty() {
        errors.push(
            "default_language",
            "is required when templates are defined: the language every template has a text in, used when no text matches the visitor's locale",
        );
    }
    let bot_name = bot_name(raw.bot_name.as_deref(), errors);
    let business_hours = raw
        .business_hours
        .as_ref()
        .and_then(|h| BusinessHours::from_raw(h, "business_hours", errors));
    let templates = Templates::from_raw(
        &raw.templates,
        Some(default_language.as_str()).filter(|l| !l.is_empty()),
        errors,
    );
    let auto_replies = raw
        .auto_replies
        .as_ref()
        .map(|a| AutoReplies::from_raw(a, &templates, errors))
        .unwrap_or_default();
    WorkspaceConfig {
        keyword_rules: rules::keyword_rules(&raw.keyword_rules, errors),
        priority: raw
            .priority
            .as_ref()
            .map(|p| PriorityRules::from_raw(p, errors))
            .unwrap_or_default(),
        sla: raw.sla.as_ref().map(|s| SlaPolicy::from_raw(s, errors)).unwrap_or_default(),
        reminders: raw
            .reminders
            .as_ref()
            .map(|r| Reminders::from_raw(r, errors))
            .unwrap_or_default(),
        tags: raw.tags.as_ref().map(|t| DefaultTags::from_raw(t, errors)).unwrap_or_default(),
        webhooks: webhooks::from_raw(&raw.webhooks, stored_secret, errors),
        routing: raw.routing.as_ref().map(|r| Routing::from_raw(r, errors)).unwrap_or_default(),
        attachments: raw
            .attachments
            .as_ref()
            .map(|a| AttachmentPolicy::from_raw(a, errors))
            .unwrap_or_default(),
        retention: raw
            .retention
            .as_ref()
            .map(|r| RetentionPolicy::from_raw(r, errors))
            .unwrap_or_default(),
        default_language,
        bot_name,
        business_hours,
        auto_replies,
        templates,
    }
}

fn bot_name(name: Option<&str>, errors: &mut Errors) -> String {
    let Some(name) = name else { return DEFAULT_BOT_NAME.to_owned() };
    let max = crate::message::MAX_NAME_BYTES;
    if name.trim().is_empty() || name.len() > max || name.chars().any(char::is_control) {
        errors.push(
            "bot_name",
            format!("give 1 to {max} bytes of visible text, no control characters"),
        );
        return DEFAULT_BOT_NAME.to_owned();
    }
    name.to_owned()
}
