//! Issue 16, agents' accounts over the real Worker (PROTOCOL.md §2.9): admins manage
//! accounts; agents sign in with a password, get a short access token and a refresh token
//! that rotates; five wrong passwords lock the account; sign-out revokes; disabling an agent
//! closes their inbox socket at once and no token of theirs opens a socket again; nothing of
//! an account is stored in the clear.

use std::time::{Duration, Instant};

use edgedesk_client::{InboxClient, InboxConfig, InboxSdkEvent};
use edgedesk_core::auth::Claims;
use edgedesk_core::ids::DeviceId;
use edgedesk_e2e::*;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery 电池";

fn agents_path(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("/v1/workspaces/{}/agents/{id}", workspace()),
        None => format!("/v1/workspaces/{}/agents", workspace()),
    }
}

fn auth_path(action: &str) -> String {
    format!("/v1/workspaces/{}/auth/{action}", workspace())
}

/// `PUT …/agents/{id}` as the harness's admin: (status, JSON).
fn put_agent(relay: &Relay, id: &str, body: Value) -> (u16, Value) {
    let token = relay.admin_token();
    let (status, text) = http_request(
        relay.port,
        "PUT",
        &agents_path(Some(id)),
        Some(&token),
        Some(&body.to_string()),
    )
    .expect("agents PUT");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn post(relay: &Relay, action: &str, body: Value) -> (u16, Vec<(String, String)>, Value) {
    let (status, headers, text) =
        http_full(relay.port, "POST", &auth_path(action), None, Some(&body.to_string()))
            .expect("auth POST");
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn sign_in(relay: &Relay, email: &str, password: &str) -> (u16, Vec<(String, String)>, Value) {
    post(relay, "sign-in", json!({ "email": email, "password": password }))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn agent(email: &str, name: &str) -> Value {
    json!({ "email": email, "name": name, "role": "agent", "password": PASSWORD })
}

fn inbox_config(relay: &Relay, token: &str, device: &str) -> InboxConfig {
    let mut config = InboxConfig::new(
        relay.base_url(),
        workspace(),
        DeviceId::new(device).expect("device"),
        token,
    );
    config.backoff.initial = Duration::from_millis(50);
    config.backoff.max = Duration::from_millis(300);
    config
}

async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<InboxSdkEvent>,
    what: &str,
    pred: impl Fn(&InboxSdkEvent) -> bool,
) -> InboxSdkEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{what}: events ended: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no such event within 20 s"))
}

#[test]
fn admins_manage_accounts_and_agents_sign_in_lock_out_refresh_and_sign_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(dir.path());

    // Admins create accounts; the answer and the list never carry a password or its hash.
    let (status, ada) = put_agent(&relay, "agent-ada", agent(" Ada@Shop.Example ", "Ada"));
    assert_eq!(status, 201, "{ada}");
    assert_eq!(
        (ada["email"].as_str(), ada["has_password"].as_bool()),
        (Some("ada@shop.example"), Some(true))
    );
    let (status, _) = put_agent(&relay, "agent-bo", agent("bo@shop.example", "Bo 博"));
    assert_eq!(status, 201);
    let (status, taken) = put_agent(&relay, "agent-cy", agent("ada@shop.example", "Cy"));
    assert_eq!((status, taken["error"].as_str()), (409, Some("email_taken")), "{taken}");
    let (status, weak) = put_agent(
        &relay,
        "agent-cy",
        json!({"email": "cy@shop.example", "name": "Cy", "role": "agent", "password": "short"}),
    );
    assert_eq!((status, weak["error"].as_str()), (422, Some("weak_password")), "{weak}");
    let token = relay.admin_token();
    let (status, text) =
        http_request(relay.port, "GET", &agents_path(None), Some(&token), None).expect("GET");
    assert_eq!(status, 200, "{text}");
    let list: Value = serde_json::from_str(&text).expect("json");
    let ids: Vec<&str> = list["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, ["agent-ada", "agent-bo"]);
    assert!(!text.contains("argon2") && !text.contains(PASSWORD), "{text}");
    // Agents see the directory (who is who), not addresses; they may not change accounts.
    let (status, text) = http_request(
        relay.port,
        "GET",
        &agents_path(None),
        Some(&relay.agent_token("agent-ada")),
        None,
    )
    .expect("GET");
    assert_eq!(status, 200, "{text}");
    let directory: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(directory["agents"][1]["name"], "Bo 博");
    assert!(!text.contains("@shop.example") && !text.contains("has_password"), "{text}");
    let (status, text) = http_request(
        relay.port,
        "PUT",
        &agents_path(Some("agent-cy")),
        Some(&relay.agent_token("agent-ada")),
        Some(&agent("cy@shop.example", "Cy").to_string()),
    )
    .expect("PUT");
    assert_eq!(status, 403, "{text}");

    // Five wrong passwords lock the account, even against the right one.
    let mut codes = Vec::new();
    for _ in 0..5 {
        let (status, _, body) = sign_in(&relay, "ada@shop.example", "wrong password!!");
        codes.push((status, body["error"].as_str().unwrap_or_default().to_owned()));
    }
    let wrong = (401, "wrong_credentials".to_owned());
    let locked = (429, "account_locked".to_owned());
    assert_eq!(codes, [wrong.clone(), wrong.clone(), wrong.clone(), wrong.clone(), locked.clone()]);
    let (status, headers, body) = sign_in(&relay, "ada@shop.example", PASSWORD);
    assert_eq!((status, body["error"].as_str()), (429, Some("account_locked")), "{body}");
    let retry: i64 =
        header(&headers, "retry-after").and_then(|v| v.parse().ok()).expect("retry-after");
    assert!((800..=900).contains(&retry), "retry-after {retry}");
    // An unknown address gets the answer a wrong password gets.
    let (status, _, body) = sign_in(&relay, "nobody@shop.example", PASSWORD);
    assert_eq!((status, body["error"].as_str()), (401, Some("wrong_credentials")));

    // The right password: a short access token for the whole workspace and a refresh token.
    let (status, _, tokens) = sign_in(&relay, "BO@shop.example", PASSWORD);
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().expect("access token");
    let claims = Claims::unverified(access).expect("claims");
    assert_eq!((claims.sub.as_str(), claims.name.as_deref()), ("agent-bo", Some("Bo 博")));
    assert_eq!(claims.exp - claims.iat.expect("iat"), 600);
    assert!(claims.sid.is_some());
    let (status, body) = http_request(
        relay.port,
        "GET",
        &format!("/v1/workspaces/{}/inbox/conversations", workspace()),
        Some(access),
        None,
    )
    .expect("inbox");
    assert_eq!(status, 200, "{body}");

    // A refresh rotates the refresh token; the old one used again revokes the session.
    let first = tokens["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, _, rotated) = post(&relay, "refresh", json!({ "refresh_token": first }));
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().expect("refresh").to_owned();
    assert_ne!(first, second);
    let (status, _, body) = post(&relay, "refresh", json!({ "refresh_token": first }));
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_session")), "{body}");
    let (status, _, body) = post(&relay, "refresh", json!({ "refresh_token": second }));
    assert_eq!(status, 401, "the session is revoked for everyone holding it: {body}");

    // Sign-out revokes: no more refreshes, and the access token opens no socket.
    let (_, _, tokens) = sign_in(&relay, "bo@shop.example", PASSWORD);
    let refresh = tokens["refresh_token"].as_str().expect("refresh").to_owned();
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let (status, _, _) = post(&relay, "sign-out", json!({ "refresh_token": refresh }));
    assert_eq!(status, 204);
    let (status, _, _) = post(&relay, "refresh", json!({ "refresh_token": refresh }));
    assert_eq!(status, 401);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let conv = conversation("after-sign-out");
    let refused = rt.block_on(connect_raw(&relay, &conv, Some(&access), "device=d-1"));
    assert_eq!(handshake_refusal(refused).0, 401);

    // Bad bodies get clear refusals.
    let (status, _, body) = post(&relay, "sign-in", json!({ "email": "x" }));
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, _, body) = post(&relay, "refresh", json!({ "refresh_token": "nope" }));
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_session")));

    // Nothing of an account is on disk in the clear: not the address, not the name.
    drop(relay);
    let state = dir.path();
    assert!(
        !files_containing(state, b"email_hash").is_empty(),
        "positive control: the table is there"
    );
    for needle in ["bo@shop.example", "ada@shop.example", "Bo 博", PASSWORD] {
        assert_eq!(
            files_containing(state, needle.as_bytes()),
            Vec::<std::path::PathBuf>::new(),
            "{needle}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_agent_closes_their_inbox_within_a_second_and_no_token_reopens_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(dir.path());
    let (status, body) = put_agent(&relay, "agent-bo", agent("bo@shop.example", "Bo"));
    assert_eq!(status, 201, "{body}");
    let (_, _, tokens) = sign_in(&relay, "bo@shop.example", PASSWORD);
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let inbox =
        InboxClient::connect(inbox_config(&relay, &access, "d-console")).await.expect("inbox");
    inbox.wait_until(Duration::from_secs(20), |s| s.agent().is_some()).await.expect("hello");
    let mut events = inbox.events();

    // An admin cannot lock themselves out.
    let (status, body) = put_agent(
        &relay,
        "harness-admin",
        json!({"email": "root@shop.example", "name": "Root", "role": "admin", "disabled": true}),
    );
    assert_eq!((status, body["error"].as_str()), (403, Some("self_lockout")), "{body}");

    let asked = Instant::now();
    let disabled =
        json!({"email": "bo@shop.example", "name": "Bo", "role": "agent", "disabled": true});
    let (status, body) = put_agent(&relay, "agent-bo", disabled);
    assert_eq!((status, body["disabled"].as_bool()), (200, Some(true)), "{body}");
    let closed =
        next_event(&mut events, "close", |e| matches!(e, InboxSdkEvent::Disconnected { .. })).await;
    let took = asked.elapsed();
    assert_eq!(
        closed,
        InboxSdkEvent::Disconnected {
            code: Some(4403),
            reason: "this account was disabled; sign in again".into()
        }
    );
    assert!(took < Duration::from_secs(1), "the disabled agent's inbox closed after {took:?}");

    // Reconnecting is refused: with the session's token and with an operator-minted one.
    let refused =
        next_event(&mut events, "refusal", |e| matches!(e, InboxSdkEvent::AuthRefused { .. }))
            .await;
    assert!(
        matches!(&refused, InboxSdkEvent::AuthRefused { status: 401 | 403, .. }),
        "{refused:?}"
    );
    inbox.shutdown().await;
    let minted = relay.agent_token("agent-bo");
    let conv = conversation("disabled");
    let (status, code, _) =
        handshake_refusal(connect_raw(&relay, &conv, Some(&minted), "device=d-2").await);
    assert_eq!((status, code.as_str()), (403, "account_disabled"));
    let (status, _, body) = sign_in(&relay, "bo@shop.example", PASSWORD);
    assert_eq!((status, body["error"].as_str()), (403, Some("account_disabled")));
    // Other agents are untouched.
    let _ada = relay.inbox("agent-ada", "d-ada").await;
}

/// The agents list as `who` sees it (admin: full accounts; agent: the directory).
fn agents_as(relay: &Relay, token: &str) -> Vec<Value> {
    let (status, text) =
        http_request(relay.port, "GET", &agents_path(None), Some(token), None).expect("agents GET");
    assert_eq!(status, 200, "{text}");
    let list: Value = serde_json::from_str(&text).expect("agents JSON");
    list["agents"].as_array().cloned().unwrap_or_default()
}

fn stored_config(relay: &Relay) -> Value {
    let (status, text) = relay.get_config();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("config JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_teams_skills_and_own_limit_are_set_on_the_account_and_routing_follows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("state"));
    relay.configure(&json!({ "routing": {
        "teams": [
            { "id": "billing", "name": "账务", "members": [], "max_open": 5 },
            { "id": "general", "members": ["bob"] },
        ],
        "default_team": "billing",
    }}));
    let version = stored_config(&relay)["version"].as_u64().expect("version");

    // Joining a team, skills and an own limit of one conversation, on the account.
    let mut ada = agent("ada@shop.example", "Ada");
    ada["teams"] = json!(["billing"]);
    ada["skills"] = json!(["退款", "English"]);
    ada["max_open"] = json!(1);
    let (status, account) = put_agent(&relay, "ada", ada.clone());
    assert_eq!(status, 201, "{account}");
    assert_eq!(
        (&account["teams"], &account["skills"], &account["max_open"]),
        (&json!(["billing"]), &json!(["退款", "English"]), &json!(1))
    );
    // Written into the routing configuration, as the next version by the admin.
    let stored = stored_config(&relay);
    assert_eq!(stored["version"].as_u64(), Some(version + 1));
    assert_eq!(stored["updated_by"].as_str(), Some("harness-admin"));
    let routing = &stored["config"]["routing"];
    assert_eq!(routing["teams"][0]["members"], json!(["ada"]));
    assert_eq!(
        routing["agents"],
        json!([{"id": "ada", "skills": ["退款", "English"], "max_open": 1}])
    );

    // A team the configuration does not have, or a bad skill, changes nothing.
    let mut wrong = ada.clone();
    wrong["teams"] = json!(["billing", "vip"]);
    let (status, refused) = put_agent(&relay, "ada", wrong);
    assert_eq!((status, refused["error"].as_str()), (422, Some("unknown_team")), "{refused}");
    assert!(
        refused["message"].as_str().is_some_and(|m| m.contains("billing, general")),
        "{refused}"
    );
    let mut wrong = ada.clone();
    wrong["skills"] = json!(["x".repeat(65)]);
    let (status, refused) = put_agent(&relay, "ada", wrong);
    assert_eq!((status, refused["error"].as_str()), (422, Some("invalid_routing")), "{refused}");
    assert_eq!(stored_config(&relay)["version"].as_u64(), Some(version + 1), "nothing stored");

    // Saving the account again as it is stores no new configuration version.
    let (status, _) = put_agent(&relay, "ada", ada.clone());
    assert_eq!(status, 200);
    assert_eq!(stored_config(&relay)["version"].as_u64(), Some(version + 1), "nothing changed");

    // Colleagues see teams and skills in the directory, never the address.
    let colleague = relay.agent_token("bob");
    let directory = agents_as(&relay, &colleague);
    let entry = directory.iter().find(|a| a["id"] == "ada").expect("ada in the directory");
    assert_eq!(
        (&entry["teams"], &entry["skills"]),
        (&json!(["billing"]), &json!(["退款", "English"]))
    );
    assert!(entry.get("email").is_none() && entry.get("max_open").is_none(), "{entry}");

    // Routing: billing's limit is 5, Ada's own is 1, so of two new conversations she gets
    // one and the other waits in the team's queue.
    let desk = relay.inbox("ada", "ada-desk").await;
    let web = edgedesk_e2e::inbox::VisitorClaims::default();
    let mut visitors = Vec::new();
    for i in 0..2 {
        let conv = conversation(&format!("limit-{i}"));
        visitors.push(
            relay.visitor_writes(&conv, &web, "发票", &dir.path().join(format!("v{i}"))).await,
        );
    }
    relay.wait_list("ada", "team=billing&assignee=unassigned", 1).await;
    relay.wait_list("ada", "assignee=me", 1).await;
    let (_, mine) = relay.inbox_get("ada", "conversations?assignee=me");
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1), "{mine}");

    // Leaving every team and going back to the teams' limit empties the agent's routing.
    let mut out = ada.clone();
    out["teams"] = json!([]);
    out["skills"] = json!([]);
    out["max_open"] = Value::Null;
    let (status, account) = put_agent(&relay, "ada", out);
    assert_eq!(status, 200, "{account}");
    assert_eq!((&account["teams"], account.get("max_open")), (&json!([]), None));
    let routing = &stored_config(&relay)["config"]["routing"];
    // (An empty member list is written back without its `members` field.)
    assert_eq!(routing["teams"][0].get("members"), None, "{routing}");
    assert!(routing.get("agents").is_none(), "{routing}");
    for v in visitors {
        v.shutdown().await;
    }
    desk.shutdown().await;
}
