//! Issue 4, workspace configuration over the real Worker: admins PUT and GET a versioned
//! configuration (secrets redacted on the way out, sealed at rest, kept across a restart);
//! nobody else may; invalid ones are refused with each problem's JSON path and what is
//! wrong; oversize and malformed bodies get clear refusals.

use std::path::PathBuf;

use edgedesk_core::auth::Claims;
use edgedesk_core::ids::WorkspaceId;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

const SECRET: &str = "whsec-e2e-0123456789-abcdef";

/// A configuration touching every section (PROTOCOL.md §9.1, shortened).
fn config(bot_name: &str) -> String {
    serde_json::json!({
        "default_language": "zh-CN",
        "bot_name": bot_name,
        "business_hours": {
            "time_zone": "Asia/Shanghai",
            "weekly": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "fri": [["09:00", "18:00"]]},
            "holidays": ["2026-10-01"]
        },
        "auto_replies": {
            "welcome": "welcome",
            "human": {"keywords": ["人工", "human"]},
            "faq": [{"regex": "(?i)track(ing)?\\s+number", "template": "faq_tracking"}]
        },
        "keyword_rules": [{"keywords": ["退款", "refund"], "add_tags": ["billing"], "priority": "high"}],
        "sla": {"first_response_seconds": 60, "on_breach": {"priority": "urgent", "tag": "sla-breached"}},
        "templates": {
            "welcome": {"zh-CN": "您好{visitor.name|}，欢迎咨询！", "en": "Hi {visitor.name|there}!"},
            "faq_tracking": {"zh-CN": "请在订单页面查看快递单号。"}
        },
        "webhooks": [{"id": "crm", "url": "https://crm.example.com/edgedesk", "secret": SECRET,
                      "events": ["sla.breached"]}]
    })
    .to_string()
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn put_with(relay: &Relay, body: &str, headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let token = relay.admin_token();
    let (status, _, body) =
        http_send(relay.port, "PUT", &config_path(), Some(&token), headers, Some(body))
            .expect("PUT");
    (status, json(&body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_a_versioned_configuration_and_reads_it_back_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut relay = Relay::start(&state);

    let (status, body) = relay.put_config(&config("小助手"));
    assert_eq!((status, json(&body)), (200, serde_json::json!({"version": 1})), "{body}");

    let token = relay.admin_token();
    let (status, headers, body) =
        http_full(relay.port, "GET", &config_path(), Some(&token), None).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(headers.iter().any(|(k, v)| k == "etag" && v == "\"1\""), "{headers:?}");
    let got = json(&body);
    assert_eq!(got["version"], 1);
    assert_eq!(got["updated_by"], "harness-admin");
    assert!(got["updated_at"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(got["config"]["bot_name"], "小助手");
    assert_eq!(
        got["config"]["business_hours"]["weekly"]["mon"][1],
        serde_json::json!(["13:00", "18:00"])
    );
    assert_eq!(got["config"]["templates"]["welcome"]["en"], "Hi {visitor.name|there}!");
    assert_eq!(got["config"]["webhooks"][0]["secret"], "<redacted>");
    assert!(!body.contains(SECRET), "the secret is shown: {body}");

    // Versions are monotonic; If-Match guards against a lost update.
    let (status, body) = put_with(&relay, &config("Bot 2"), &[]);
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
    let (status, body) = put_with(&relay, &config("stale"), &[("if-match", "1")]);
    assert_eq!((status, body["error"].as_str()), (412, Some("version_conflict")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("at version 2, not 1"), "{body}");
    // The configuration as GET shows it, sent back with If-Match: its secret is kept.
    let shown = json(&relay.get_config().1);
    let (status, body) = put_with(&relay, &shown["config"].to_string(), &[("if-match", "\"2\"")]);
    assert_eq!((status, body["version"].as_u64()), (200, Some(3)), "{body}");
    let (status, body) = put_with(&relay, &config("x"), &[("if-match", "latest")]);
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_if_match")), "{body}");

    // Sealed at rest: neither the secret nor the URL is in any file workerd wrote.
    relay.kill();
    assert!(!files_containing(&state, b"workspace_config").is_empty(), "the search finds nothing");
    assert_eq!(files_containing(&state, SECRET.as_bytes()), Vec::<PathBuf>::new());
    assert_eq!(files_containing(&state, b"crm.example.com"), Vec::<PathBuf>::new());

    // Durable across a restart of workerd.
    relay.restart();
    let (status, body) = relay.get_config();
    assert_eq!(status, 200, "{body}");
    let got = json(&body);
    assert_eq!(
        (got["version"].as_u64(), got["config"]["bot_name"].as_str()),
        (Some(3), Some("Bot 2"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_workspace_admin_may_read_or_change_the_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("cfg");
    let path = config_path();
    let body = config("bot");
    let admin = relay.admin_token();
    let agent = relay.token_as(Role::Agent, "agent-1", &conv);
    let visitor = relay.token_as(Role::Visitor, "visitor-1", &conv);
    let claims = claims_for(&identity(Role::Admin, "admin-2", "d"), &conv);
    let scoped =
        mint(relay.keys.signing(), &Claims { conversation: Some(conv.clone()), ..claims.clone() });
    let elsewhere = mint(
        relay.keys.signing(),
        &Claims { workspace: WorkspaceId::new("ws-other").unwrap(), ..claims },
    );
    let refusals: [(Option<&str>, u16, &str); 5] = [
        (None, 401, "missing_token"),
        (Some(&agent), 403, "role_not_allowed"),
        (Some(&visitor), 403, "role_not_allowed"),
        (Some(&scoped), 403, "conversation_scoped"),
        (Some(&elsewhere), 403, "wrong_workspace"),
    ];
    for (token, status, code) in refusals {
        for method in ["PUT", "GET"] {
            let sent = (method == "PUT").then_some(body.as_str());
            let (got, headers, answer) =
                http_send(relay.port, method, &path, token, &[], sent).unwrap();
            assert_eq!(
                (got, json(&answer)["error"].as_str()),
                (status, Some(code)),
                "{method}: {answer}"
            );
            assert!(headers.iter().any(|(k, v)| k == "x-edgedesk-error" && v == code));
        }
    }
    // Nothing was stored by any of them.
    let (status, answer) = relay.get_config();
    assert_eq!((status, json(&answer)["error"].as_str()), (404, Some("no_config")), "{answer}");
    let (status, _, answer) =
        http_send(relay.port, "PUT", &path, Some(&admin), &[], Some(&body)).unwrap();
    assert_eq!(status, 200, "{answer}");
}

/// PUTs `json` and expects a 422 whose errors include one at `path` containing `problem`.
fn assert_invalid(relay: &Relay, json_text: &str, path: &str, problem: &str) {
    let (status, body) = relay.put_config(json_text);
    let body = json(&body);
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid_config")), "{body}");
    let errors = body["errors"].as_array().expect("errors list");
    assert!(
        errors
            .iter()
            .any(|e| e["path"] == path && e["message"].as_str().unwrap().contains(problem)),
        "no error at {path} saying {problem:?}: {body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(path) && message.contains(problem), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_configuration_is_refused_saying_what_and_where() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let good = config("bot");
    let with = |from: &str, to: &str| {
        assert!(good.contains(from), "{from}");
        good.replacen(from, to, 1)
    };

    assert_invalid(
        &relay,
        &with("Asia/Shanghai", "Mars/Base"),
        "business_hours.time_zone",
        "unknown time zone \"Mars/Base\"; use an IANA name such as \"Asia/Shanghai\"",
    );
    assert_invalid(
        &relay,
        &with("[\"13:00\",\"18:00\"]", "[\"11:00\",\"18:00\"]"),
        "business_hours.weekly.mon[1]",
        "11:00-18:00 overlaps 09:00-12:00",
    );
    assert_invalid(
        &relay,
        &with("track(ing)?", "track(ing?"),
        "auto_replies.faq[0].regex",
        "unclosed group",
    );
    assert_invalid(
        &relay,
        &with("{visitor.name|there}", "{visitor.nick|there}"),
        "templates.welcome.en",
        "template \"welcome\", language \"en\": unknown variable {visitor.nick}",
    );
    // All of them at once: every problem in one answer.
    let all = with("Asia/Shanghai", "Mars/Base").replacen("track(ing)?", "track(ing?", 1);
    let (status, body) = relay.put_config(&all);
    assert_eq!(status, 422);
    assert_eq!(json(&body)["errors"].as_array().unwrap().len(), 2, "{body}");

    assert_invalid(
        &relay,
        &with("\"sla\"", "\"sla_policy\""),
        "sla_policy",
        "unknown field `sla_policy`",
    );
    assert_invalid(&relay, "{\"bot_name\": \"x\",}", "$", "not valid JSON");

    let oversize = format!("{{\"bot_name\": \"{}\"}}", "x".repeat(64 * 1024));
    let (status, body) = relay.put_config(&oversize);
    let body = json(&body);
    assert_eq!((status, body["error"].as_str()), (413, Some("body_too_large")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("65536"), "{body}");

    // Nothing was stored.
    assert_eq!(relay.get_config().0, 404);
}
