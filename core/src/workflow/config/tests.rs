//! Whole-document tests of [`WorkspaceConfig`]: the example of PROTOCOL.md §9 and the
//! refusals of issue 4's acceptance 4. Each part's own rules are tested in its module.

use super::*;
use crate::internal_doc::Priority;

/// The example configuration of PROTOCOL.md §9.1.
pub(crate) const EXAMPLE: &str = r#"{
  "default_language": "zh-CN",
  "bot_name": "小助手",
  "business_hours": {
    "time_zone": "Asia/Shanghai",
    "weekly": {"mon": [["09:00", "18:00"]], "tue": [["09:00", "12:00"], ["13:00", "18:00"]],
               "wed": [], "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]]},
    "holidays": ["2026-10-01", "2026-10-02"]
  },
  "auto_replies": {
    "welcome": "welcome",
    "off_hours": "off_hours",
    "handoff": "handoff",
    "human": {"keywords": ["人工", "转人工", "human", "agent"]},
    "faq": [{"keywords": ["营业时间", "opening hours"], "template": "faq_hours"},
            {"regex": "(?i)track(ing)?\\s+number", "template": "faq_tracking"}]
  },
  "keyword_rules": [
    {"keywords": ["退款", "refund"], "add_tags": ["billing"], "priority": "high"},
    {"regex": "(?i)\\b(urgent|asap)\\b|紧急", "priority": "urgent"}
  ],
  "priority": {"vip": "high",
               "waiting": [{"after_seconds": 300, "priority": "high"}, {"after_seconds": 900, "priority": "urgent"}]},
  "sla": {"first_response_seconds": 60, "next_response_seconds": 300,
          "on_breach": {"priority": "urgent", "tag": "sla-breached"}},
  "reminders": {"unread_seconds": 120, "auto_resolve_seconds": 86400, "visitor_notify_seconds": 600},
  "templates": {
    "welcome": {"zh-CN": "您好{visitor.name|}，欢迎咨询！", "en": "Hi {visitor.name|there}, welcome!"},
    "off_hours": {"zh-CN": "现在是非工作时间，我们会尽快回复。", "en": "We are closed now; we will answer soon."},
    "handoff": {"zh-CN": "正在为您转接人工客服。", "en": "Connecting you to an agent."},
    "faq_hours": {"zh-CN": "营业时间：周一至周五 9:00-18:00", "en": "Open Mon-Fri 9:00-18:00 (China time)"},
    "faq_tracking": {"zh-CN": "请在订单页面查看快递单号。", "en": "Your tracking number is on the order page."}
  },
  "tags": {"to_handle": "待处理", "replied": "已回复", "follow_up": "需跟进"},
  "webhooks": [{"id": "crm", "url": "https://example.com/hook", "secret": "at-least-16-bytes-secret",
                "events": ["message.created", "sla.breached"]}]
}"#;

fn errors(json: &str) -> Vec<ConfigError> {
    WorkspaceConfig::parse(json).unwrap_err().0
}

/// The example with `from` replaced by `to` (which must occur exactly once).
fn example_with(from: &str, to: &str) -> String {
    assert_eq!(EXAMPLE.matches(from).count(), 1, "{from}");
    EXAMPLE.replace(from, to)
}

fn one_error(json: &str) -> ConfigError {
    let mut e = errors(json);
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

#[test]
fn the_documented_example_parses_into_the_rules_the_workflow_uses() {
    let c = WorkspaceConfig::parse(EXAMPLE).unwrap();
    assert_eq!(c.bot_name, "小助手");
    assert_eq!(c.auto_replies.welcome.as_deref(), Some("welcome"));
    assert!(c.auto_replies.human.as_ref().unwrap().matches("请转人工"));
    assert_eq!(c.auto_replies.faq[1].template, "faq_tracking");
    assert!(c.auto_replies.faq[1].matcher.matches("my tracking number?"));
    assert!(c.keyword_rules[0].matcher.matches("我要退款"));
    assert!(c.keyword_rules[0].matcher.matches("REFUND please"));
    assert_eq!(c.keyword_rules[0].add_tags, ["billing"]);
    assert_eq!(c.keyword_rules[1].priority, Some(Priority::Urgent));
    assert_eq!(c.priority.vip, Some(Priority::High));
    assert_eq!(c.priority.waiting[1], WaitStep { after_ms: 900_000, priority: Priority::Urgent });
    assert_eq!(c.sla.first_response_ms, Some(60_000));
    assert_eq!(c.sla.breach_tag.as_deref(), Some("sla-breached"));
    assert_eq!(c.reminders.auto_resolve_ms, Some(86_400_000));
    assert!(c.webhooks[0].wants("sla.breached"));
    // Monday 2026-06-01 10:00 in Shanghai is 02:00 UTC; 2026-10-01 is a holiday.
    assert!(c.is_business_hours(1_780_279_200_000));
    assert!(!c.is_business_hours(1_790_820_000_000));
    let vars = TemplateVars::default();
    assert_eq!(c.render("welcome", Some("en-US"), &vars).unwrap(), "Hi there, welcome!");
    assert_eq!(c.render("welcome", Some("ja"), &vars).unwrap(), "您好，欢迎咨询！");
}

#[test]
fn the_default_configuration_is_what_an_empty_document_gives() {
    let empty = WorkspaceConfig::parse("{}").unwrap();
    let default = WorkspaceConfig::default();
    assert_eq!(empty.to_json(false), default.to_json(false));
    assert_eq!(default.bot_name, DEFAULT_BOT_NAME);
    assert_eq!(default.tags.to_handle, "待处理");
    assert!(default.is_business_hours(0), "no hours: always open");
    assert!(default.render("welcome", None, &TemplateVars::default()).is_none());
}

#[test]
fn to_json_round_trips_and_redacts_secrets_only_when_asked() {
    let c = WorkspaceConfig::parse(EXAMPLE).unwrap();
    let plain = c.to_json(false);
    let again = WorkspaceConfig::parse(&plain.to_string()).unwrap();
    assert_eq!(again.to_json(false), plain);
    assert_eq!(plain["webhooks"][0]["secret"], "at-least-16-bytes-secret");
    assert_eq!(plain["business_hours"]["weekly"]["tue"][1][0], "13:00");
    assert_eq!(plain["keyword_rules"][1]["regex"], "(?i)\\b(urgent|asap)\\b|紧急");
    let shown = c.to_json(true);
    assert_eq!(shown["webhooks"][0]["secret"], REDACTED_SECRET);
    assert!(!shown.to_string().contains("at-least-16-bytes-secret"));
}

#[test]
fn a_redacted_configuration_sent_back_keeps_its_secrets() {
    let current = WorkspaceConfig::parse(EXAMPLE).unwrap();
    let shown = current.to_json(true).to_string();
    assert!(WorkspaceConfig::parse(&shown).is_err(), "no stored secret to keep");
    let next = WorkspaceConfig::parse_update(&shown, Some(&current)).unwrap();
    assert_eq!(next.webhooks[0].secret, "at-least-16-bytes-secret");
}

#[test]
fn an_unknown_time_zone_is_refused_naming_it() {
    let e = one_error(&example_with("\"Asia/Shanghai\"", "\"Mars/Base\""));
    assert_eq!(e.path, "business_hours.time_zone");
    assert_eq!(
        e.message,
        "unknown time zone \"Mars/Base\"; use an IANA name such as \"Asia/Shanghai\""
    );
}

#[test]
fn overlapping_hours_are_refused_naming_both_intervals() {
    let e = one_error(&example_with(
        r#""tue": [["09:00", "12:00"], ["13:00", "18:00"]]"#,
        r#""tue": [["09:00", "12:00"], ["11:00", "18:00"]]"#,
    ));
    assert_eq!(e.path, "business_hours.weekly.tue[1]");
    assert_eq!(e.message, "11:00-18:00 overlaps 09:00-12:00");
}

#[test]
fn a_bad_regex_is_refused_with_the_regex_error() {
    let e = one_error(&example_with(r#"(?i)track(ing)?\\s+number"#, r#"(?i)track(ing?\\s+number"#));
    assert_eq!(e.path, "auto_replies.faq[1].regex");
    assert!(e.message.starts_with("invalid regular expression: regex parse error"), "{e}");
    assert!(e.message.contains("unclosed group"), "{e}");
}

#[test]
fn an_unknown_template_variable_is_refused_naming_template_language_and_variable() {
    let e = one_error(&example_with("Hi {visitor.name|there}", "Hi {customer.name|there}"));
    assert_eq!(e.path, "templates.welcome.en");
    assert!(
        e.message.starts_with(
            "template \"welcome\", language \"en\": unknown variable {customer.name}; use {visitor.name}, {agent.name} or {attributes.<key>}"
        ),
        "{e}"
    );
}

#[test]
fn every_semantic_problem_is_reported_in_one_answer() {
    let json = r#"{
      "business_hours": {"time_zone": "Mars/Base", "weekly": {"mon": [["09:00", "12:00"], ["11:00", "18:00"]]}},
      "auto_replies": {"welcome": "hello", "faq": [{"regex": "(", "template": "welcome"}]},
      "keyword_rules": [{"keywords": ["退款"], "add_tags": [" billing"], "priority": "hgih"}],
      "sla": {"first_response_seconds": 0},
      "templates": {"welcome": {"en": "Hi {visitor.nmae}"}},
      "webhooks": [{"id": "crm", "url": "http://example.com", "secret": "short"}]
    }"#;
    let paths: Vec<String> = errors(json).into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        [
            "default_language",
            "business_hours.time_zone",
            "business_hours.weekly.mon[1]",
            "templates.welcome.en",
            "auto_replies.welcome",
            "auto_replies.faq[0].regex",
            "keyword_rules[0].add_tags[0]",
            "keyword_rules[0].priority",
            "sla.first_response_seconds",
            "webhooks[0].url",
            "webhooks[0].secret",
        ]
    );
}

#[test]
fn references_to_missing_templates_and_a_missing_default_text_are_refused() {
    let e = one_error(&example_with("\"template\": \"faq_hours\"", "\"template\": \"faq_hour\""));
    assert_eq!(e.path, "auto_replies.faq[0].template");
    assert!(
        e.message.starts_with("no template named \"faq_hour\"; add it under `templates`"),
        "{e}"
    );
    let e = one_error(&example_with(
        "\"handoff\": {\"zh-CN\": \"正在为您转接人工客服。\", ",
        "\"handoff\": {",
    ));
    assert_eq!(e.path, "templates.handoff");
    assert!(e.message.contains("no text in the default language \"zh-CN\""), "{e}");
}

#[test]
fn unknown_fields_and_wrong_types_name_their_path() {
    let e = one_error(&example_with("\"bot_name\"", "\"bot_nmae\""));
    assert_eq!(e.path, "bot_nmae");
    assert!(e.message.starts_with("unknown field `bot_nmae`, expected one of"), "{e}");
    let e = one_error(&example_with("\"unread_seconds\": 120", "\"unread_seconds\": \"2m\""));
    assert_eq!(e.path, "reminders.unread_seconds");
    assert!(e.message.contains("invalid type: string \"2m\", expected a whole number"), "{e}");
}

#[test]
fn oversize_documents_are_refused_before_parsing() {
    let big = format!("{{\"bot_name\": \"{}\"}}", "x".repeat(MAX_CONFIG_BYTES));
    let e = one_error(&big);
    assert_eq!(e.path, "$");
    assert!(e.message.contains("the limit is 65536 (64 KiB)"), "{e}");
}

#[test]
fn a_document_whose_normalized_form_outgrows_the_limit_is_refused() {
    // Just under the limit as sent; the bot name and default tags filled in on storing would
    // push the stored form over it, where conversations could not read it back.
    let text = |tag: String, len: usize| format!(r#""{tag}":"{}""#, "x".repeat(len));
    let mut texts: Vec<String> =
        (0..16u8).map(|i| text(format!("a{}", (b'a' + i) as char), 4000)).collect();
    let document = |texts: &[String]| {
        format!(r#"{{"default_language":"aa","templates":{{"t":{{{}}}}}}}"#, texts.join(","))
    };
    let room = MAX_CONFIG_BYTES - 20 - document(&texts).len() - text("zz".into(), 0).len() - 1;
    texts.push(text("zz".into(), room));
    let json = document(&texts);
    assert_eq!(json.len(), MAX_CONFIG_BYTES - 20);
    let e = one_error(&json);
    assert_eq!(e.path, "$");
    assert!(e.message.starts_with("with its defaults filled in"), "{e}");
    assert!(WorkspaceConfig::parse(&json.replace(&"x".repeat(200), "")).is_ok());
}

#[test]
fn rule_counts_are_bounded() {
    let rule = r#"{"keywords": ["a"], "priority": "high"}"#;
    let rules = vec![rule; rules::MAX_RULES + 1].join(",");
    let e = one_error(&format!("{{\"keyword_rules\": [{rules}]}}"));
    assert_eq!(e.path, "keyword_rules");
    assert_eq!(e.message, "201 rules; the limit is 200");
}

#[test]
fn rules_without_effect_and_misordered_wait_steps_are_refused() {
    let e = one_error(r#"{"keyword_rules": [{"keywords": ["a"]}]}"#);
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("keyword_rules[0]", "does nothing: give `add_tags`, `priority`, or both")
    );
    let e = one_error(
        r#"{"priority": {"waiting": [{"after_seconds": 900, "priority": "urgent"}, {"after_seconds": 300, "priority": "high"}]}}"#,
    );
    assert_eq!(e.path, "priority.waiting[1].after_seconds");
    let e = one_error(r#"{"tags": {"replied": "待处理"}}"#);
    assert_eq!(e.path, "tags.replied");
}

#[test]
fn the_demo_configuration_that_scripts_dev_sh_installs_is_valid() {
    let json = include_str!("../../../../examples/demo-config.json");
    let config = WorkspaceConfig::parse(json).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.auto_replies.welcome.is_some() && config.business_hours.is_some());
}
