//! The configuration's JSON as admins write it (PROTOCOL.md §9), field for field.
//!
//! Only the shape is checked here: unknown fields and wrong types are refused by serde,
//! with their JSON path. Values that have rules of their own (times, dates, priorities,
//! regular expressions, template text) are kept as strings and checked afterwards, so one
//! round reports all of them. The same types serialize [`super::WorkspaceConfig::to_json`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::{ConfigError, ConfigErrors};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<RawHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_replies: Option<RawAutoReplies>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyword_rules: Vec<RawKeywordRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<RawPriority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<RawSla>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<RawReminders>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<RawTags>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<RawWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RawRouting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<RawAttachments>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RawRetention>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_after_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_after_messages: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_sealed_after_days: Option<u32>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttachments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHours {
    pub time_zone: String,
    #[serde(default)]
    pub weekly: RawWeekly,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<String>,
}

/// `["09:00", "18:00"]`: opens, closes.
pub type RawInterval = (String, String);

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeekly {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<RawInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<RawInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<RawInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<RawInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<RawInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<RawInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<RawInterval>,
}

impl RawWeekly {
    /// The days Monday first, with their JSON names.
    pub fn days(&self) -> [(&'static str, &Vec<RawInterval>); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }

    pub fn from_days(mut days: [Vec<RawInterval>; 7]) -> Self {
        let mut take = |i: usize| std::mem::take(&mut days[i]);
        RawWeekly {
            mon: take(0),
            tue: take(1),
            wed: take(2),
            thu: take(3),
            fri: take(4),
            sat: take(5),
            sun: take(6),
        }
    }
}

/// `keywords` or `regex`: exactly one of them, checked after parsing.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoReplies {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_hours: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_hours_quiet_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human: Option<RawMatcher>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faq: Vec<RawFaq>,
}

// serde's `flatten` does not combine with `deny_unknown_fields`, so the matcher's two fields
// are spelled out in each rule.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFaq {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    pub template: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeywordRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriority {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<RawWaitStep>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWaitStep {
    pub after_seconds: u64,
    pub priority: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSla {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_response_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_breach: Option<RawBreach>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreach {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReminders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_resolve_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_notify_seconds: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTags {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_handle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replied: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub id: String,
    pub url: String,
    pub secret: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<RawTeam>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RawRouteRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_on_reply: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<RawAgent>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteRule {
    pub when: RawRouteWhen,
    pub team: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteWhen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// The document's shape, or the one error that stopped serde (a syntax error, an unknown
/// field, a wrong type), with its path.
pub fn decode(json: &str) -> Result<RawConfig, ConfigErrors> {
    // serde would also read a struct from an array of its fields in order.
    if !json.trim_start().starts_with('{') {
        return Err(ConfigErrors(vec![ConfigError::new(
            "$",
            "the configuration must be a JSON object: `{ ... }`",
        )]));
    }
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // A syntax error's place is its line and column; the path there may be half-read.
        let (path, message) = if inner.is_syntax() || inner.is_eof() {
            ("$".to_owned(), format!("not valid JSON: {inner}"))
        } else if path == "." {
            ("$".to_owned(), plain_types(&inner.to_string()))
        } else {
            (path, plain_types(&inner.to_string()))
        };
        ConfigErrors(vec![ConfigError::new(path, message)])
    })
}

/// serde names the Rust types it expected; admins write JSON.
fn plain_types(message: &str) -> String {
    message.replace("expected u64", "expected a whole number (0 or more)").replace(
        "expected a tuple of size 2",
        "expected [open, close], e.g. [\"09:00\", \"18:00\"]",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only_error(json: &str) -> ConfigError {
        let mut errors = decode(json).unwrap_err().0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.remove(0)
    }

    #[test]
    fn an_unknown_field_is_named_with_where_it_is() {
        let e = only_error(r#"{"sla": {"first_response_secs": 60}}"#);
        assert_eq!(e.path, "sla.first_response_secs");
        assert!(e.message.contains("unknown field `first_response_secs`"), "{e}");
        assert!(e.message.contains("first_response_seconds"), "lists the known fields: {e}");
        let e = only_error(r#"{"colour": "red"}"#);
        assert_eq!(e.path, "colour");
    }

    #[test]
    fn a_wrong_type_names_its_path() {
        let e =
            only_error(r#"{"priority": {"waiting": [{"after_seconds": -5, "priority": "high"}]}}"#);
        assert_eq!(e.path, "priority.waiting[0].after_seconds");
        assert!(e.message.contains("`-5`, expected a whole number (0 or more)"), "{e}");
        let e = only_error(
            r#"{"business_hours": {"time_zone": "UTC", "weekly": {"mon": [["09:00"]]}}}"#,
        );
        assert_eq!(e.path, "business_hours.weekly.mon[0]");
        assert!(e.message.contains("expected [open, close]"), "{e}");
    }

    #[test]
    fn broken_json_says_so_with_line_and_column() {
        let e = only_error("{\n  \"bot_name\": \"x\",\n}");
        assert_eq!(e.path, "$");
        assert!(e.message.starts_with("not valid JSON: "), "{e}");
        assert!(e.message.contains("line 3"), "{e}");
        assert_eq!(only_error("[1]").path, "$");
    }

    #[test]
    fn a_required_field_that_is_missing_is_named() {
        let e = only_error(r#"{"business_hours": {"weekly": {}}}"#);
        assert_eq!(e.path, "business_hours");
        assert!(e.message.contains("missing field `time_zone`"), "{e}");
    }
}
