//! Issue 6 in a real browser: Debian's chromium, driven by playwright-core scripts in
//! `tests/browser/`, uses the widget and the agent console that the real Worker serves under
//! `wrangler dev` (whose build step also builds the web SDK). Each test starts its own relay,
//! mints the console's agent token, runs one scenario with `node` and requires exit status 0;
//! the scenario's output (steps with timings, or the failure report) is printed either way.
//!
//! Screenshots go to `test-output/browser/` (gitignored). With `EDGEDESK_DOCS_IMG=docs/img`
//! in the environment the screenshot scenario also refreshes the README's images.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgedesk_core::client::Identity;
use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId};
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

/// Beyond the scenario's own limit (300 s), in case node itself hangs.
const SCENARIO_LIMIT: Duration = Duration::from_secs(420);

/// Runs `tests/browser/{scenario}.mjs` against a fresh relay; panics with the scenario's
/// output and the relay's log unless it exits 0.
fn run_scenario(scenario: &str) {
    run_scenario_configured(scenario, None);
}

/// [`run_scenario`] in a workspace configured with `config` (PROTOCOL.md §9) first.
fn run_scenario_configured(scenario: &str, config: Option<serde_json::Value>) {
    run_scenario_with(scenario, config, &[]);
}

/// [`run_scenario_configured`] on a relay started with extra `vars`.
fn run_scenario_with(scenario: &str, config: Option<serde_json::Value>, vars: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let relay = Relay::start_with_vars(&dir.path().join("state"), vars);
    if let Some(config) = &config {
        relay.configure(config);
    }
    let agent = Identity {
        role: Role::Agent,
        participant: ParticipantId::new("agent-grace").expect("participant"),
        name: "Grace".into(),
        device: DeviceId::new("console").expect("device"),
    };
    let token = relay.token(&agent, &ConversationId::new("any").expect("conversation id"));
    let second = Identity {
        participant: ParticipantId::new("agent-ada").expect("participant"),
        name: "Ada".into(),
        ..agent.clone()
    };
    let second_token = relay.token(&second, &ConversationId::new("any").expect("conversation id"));
    // A returning visitor: one identity (as a site's own login would mint it) in two
    // conversations, for the console's "earlier conversations".
    let returning = Identity {
        role: Role::Visitor,
        participant: ParticipantId::new("v-returning").expect("participant"),
        name: "Mei Chen".into(),
        device: DeviceId::new("phone").expect("device"),
    };
    let returning_tokens: Vec<serde_json::Value> = ["earlier-1", "earlier-2"]
        .iter()
        .map(|c| {
            let conv = ConversationId::new(*c).expect("conversation id");
            serde_json::json!({"conversation": c, "token": relay.token(&returning, &conv)})
        })
        .collect();
    let out_dir = repo_root().join("test-output/browser");
    std::fs::create_dir_all(&out_dir).expect("create test-output/browser");
    let log_path = dir.path().join(format!("{scenario}.log"));
    let log = std::fs::File::create(&log_path).expect("create the scenario's log");

    let started = Instant::now();
    let mut child = Command::new("node")
        .arg(format!("tests/browser/{scenario}.mjs"))
        .current_dir(repo_root())
        .env("EDGEDESK_RELAY_URL", relay.base_url())
        .env("EDGEDESK_WORKSPACE", WORKSPACE)
        .env("EDGEDESK_SITE_KEY", SITE_KEY)
        .env("EDGEDESK_AGENT_TOKEN", &token)
        .env("EDGEDESK_SECOND_AGENT_TOKEN", &second_token)
        .env("EDGEDESK_ADMIN_TOKEN", relay.admin_token())
        .env("EDGEDESK_RETURNING_VISITOR", serde_json::json!(returning_tokens).to_string())
        .env("EDGEDESK_OUTPUT_DIR", &out_dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("spawn node (scripts/setup.sh installs it)");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > SCENARIO_LIMIT {
            kill_group(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    println!("--- {scenario}.mjs ({:.1}s) ---\n{output}", started.elapsed().as_secs_f64());
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("{scenario}.mjs failed ({s}); relay log:\n{}", relay.log_tail()),
        None => {
            panic!("{scenario}.mjs ran past {SCENARIO_LIMIT:?}; relay log:\n{}", relay.log_tail())
        }
    }
}

#[test]
fn the_visitor_panel_shows_the_page_the_referrer_and_the_visitors_earlier_conversations() {
    run_scenario("visitor_panel");
}

#[test]
fn a_visitor_in_the_widget_and_an_agent_in_the_console_see_each_others_messages_ticks_and_typing() {
    run_scenario("live_chat");
}

#[test]
fn three_messages_written_offline_in_a_closed_page_are_delivered_exactly_once_from_a_new_page() {
    run_scenario("offline_outbox");
}

#[test]
fn an_agents_internal_note_and_tag_never_reach_the_visitors_page() {
    run_scenario("internal_hidden");
}

#[test]
fn the_widget_on_a_phone_in_chinese_has_a_16px_textarea_chinese_strings_and_cjk_fonts() {
    run_scenario("widget_phone_zh");
}

#[test]
fn the_console_speaks_chinese_to_a_chinese_browser_and_remembers_a_switch_to_english() {
    run_scenario("console_zh");
}

#[test]
fn the_visitors_rating_shows_in_the_agents_console() {
    run_scenario("csat_visible");
}

#[test]
fn the_console_works_on_a_phone_and_keeps_its_view_and_session_across_reloads_and_tabs() {
    run_scenario("console_phone_url");
}

#[test]
fn a_take_over_is_confirmed_and_told_and_agents_see_each_others_names_and_typing() {
    run_scenario("take_over");
}

#[test]
fn axe_core_finds_no_serious_or_critical_violation_in_the_widget_or_the_console() {
    run_scenario("accessibility");
}

/// Always outside business hours, with an off-hours reply in English and Chinese: every
/// visitor message the rules answer gets an auto-reply from the relay.
fn closed_workspace() -> serde_json::Value {
    serde_json::json!({
        "default_language": "en",
        "business_hours": {"time_zone": "Asia/Shanghai", "weekly": {}},
        "auto_replies": {"off_hours": "closed"},
        "templates": {"closed": {
            "en": "We are closed now; we will answer soon.",
            "zh-CN": "现在是非工作时间，我们会尽快回复。"
        }}
    })
}

#[test]
fn a_visitors_read_mark_on_the_auto_reply_leaves_the_conversation_unread_for_agents() {
    run_scenario_configured("auto_reply_unread", Some(closed_workspace()));
}

/// Closed now, open for an hour every day starting 12 hours from now (UTC), so the widget
/// has a next opening to name; otherwise [`closed_workspace`].
fn reopening_workspace() -> serde_json::Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    let opens = (now.as_secs() / 3600 + 12) % 24;
    let closes = if opens == 23 { "24:00".to_owned() } else { format!("{:02}:00", opens + 1) };
    let day = serde_json::json!([[format!("{opens:02}:00"), closes]]);
    let mut config = closed_workspace();
    config["business_hours"] = serde_json::json!({
        "time_zone": "UTC",
        "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}
    });
    config
}

#[test]
fn the_off_hours_reply_comes_once_in_the_visitors_language_while_an_agent_is_chatting() {
    run_scenario_configured("off_hours_once", Some(reopening_workspace()));
}

#[test]
fn agents_sign_in_with_passwords_stay_signed_in_across_reloads_and_are_signed_out_when_disabled() {
    run_scenario("accounts");
}

#[test]
fn images_go_both_ways_are_previewed_and_one_picked_offline_is_sent_once() {
    run_scenario("attachments");
}

#[test]
fn two_agents_with_passwords_and_a_phone_visitor_complete_a_conversation_with_images() {
    run_scenario("day_one");
}

#[test]
fn keyboard_shortcuts_emoji_and_new_work_signals_help_an_agent_work() {
    run_scenario("comfort");
}

#[test]
fn a_conversation_rolls_over_while_the_visitor_is_offline_and_both_pages_show_every_message_once() {
    run_scenario_with("rollover", None, &[("EDGEDESK_ROLLOVER_MESSAGES", "10")]);
}

#[test]
fn the_widget_and_the_console_are_captured_for_the_readme() {
    run_scenario("screenshots");
}
