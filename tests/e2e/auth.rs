//! Issue 3, auth: every HTTP and WebSocket request to the real Worker carries a JWT. Missing,
//! forged, expired and out-of-scope tokens are refused with the right status and reason; keys
//! rotate; the widget mints working visitor tokens for a site key; the identity a document
//! sees is the token's, whatever the query says; and a token minted by Node's crypto (the
//! operator example) is accepted, so any JWT library interoperates.

use std::process::Command;
use std::time::Duration;

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use edgedesk_client::SdkEvent;
use edgedesk_core::auth::authenticate;
use edgedesk_core::auth::keys::Key;
use edgedesk_core::client::Event;
use edgedesk_core::frame::{self, FrameType};
use edgedesk_core::ids::{ConversationId, WorkspaceId};
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

const WAIT: Duration = Duration::from_secs(30);

fn visitor(who: &str) -> edgedesk_core::client::Identity {
    identity(Role::Visitor, who, &format!("{who}-device"))
}

/// Checks one refusal both ways a client meets it: as a WebSocket handshake (status and the
/// `x-edgedesk-error` code) and as plain HTTP (status and the JSON body naming the code).
async fn assert_refused(
    relay: &Relay,
    conv: &ConversationId,
    token: Option<&str>,
    status: u16,
    code: &str,
) {
    let ws = connect_raw(relay, conv, token, "device=d1").await;
    let (got, got_code, _) = handshake_refusal(ws);
    assert_eq!((got, got_code.as_str()), (status, code), "WebSocket handshake");
    let (got, headers, body) =
        http_full(relay.port, "GET", &connect_path(conv), token, None).expect("request");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!((got, json["error"].as_str()), (status, Some(code)), "{body}");
    assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    if status == 401 {
        assert!(headers.iter().any(|(k, v)| k == "www-authenticate" && v.starts_with("Bearer")));
    }
}

async fn delivered(relay: &Relay, c: &edgedesk_client::Client, text: &str) {
    let m = c.send_text(text).await.expect("send");
    c.wait_until(WAIT, |v| v.delivered_at(&m.id).is_some()).await.unwrap_or_else(|e| {
        panic!("{text:?} not acknowledged: {e}\nrelay log:\n{}", relay.log_tail())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_in_scope_are_refused_with_status_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("auth");
    let v1 = visitor("v1");
    let good = claims_for(&v1, &conv);
    let signing = relay.keys.signing().clone();

    assert_refused(&relay, &conv, None, 401, "missing_token").await;
    let impostor = Key::random(signing.kid()).unwrap();
    assert_refused(&relay, &conv, Some(&mint(&impostor, &good)), 401, "bad_signature").await;
    let stranger = Key::random("retired").unwrap();
    assert_refused(&relay, &conv, Some(&mint(&stranger, &good)), 401, "unknown_key").await;
    let expired = edgedesk_core::auth::Claims { exp: now_s() - 3600, ..good.clone() };
    assert_refused(&relay, &conv, Some(&mint(&signing, &expired)), 401, "token_expired").await;
    let elsewhere = edgedesk_core::auth::Claims {
        workspace: WorkspaceId::new("ws-other").unwrap(),
        ..good.clone()
    };
    assert_refused(&relay, &conv, Some(&mint(&signing, &elsewhere)), 403, "wrong_workspace").await;
    let other_conv = conversation("auth-other");
    let scoped_elsewhere = relay.token(&v1, &other_conv);
    assert_refused(&relay, &conv, Some(&scoped_elsewhere), 403, "wrong_conversation").await;
    let none = "eyJhbGciOiJub25lIiwia2lkIjoibmV3In0.e30.";
    assert_refused(&relay, &conv, Some(none), 401, "unsupported_algorithm").await;
    assert_refused(&relay, &conv, Some("not-a-jwt"), 401, "malformed_token").await;

    // A visitor may not read the conversation's stats; an agent may.
    let (status, body) =
        http_request(relay.port, "GET", &stats_path(&conv), Some(&relay.token(&v1, &conv)), None)
            .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"role_not_allowed\""), "{body}");
    let agent_token = relay.token_as(Role::Agent, "agent-1", &conv);
    let (status, body) =
        http_request(relay.port, "GET", &stats_path(&conv), Some(&agent_token), None).unwrap();
    assert_eq!(status, 200, "{body}");

    // The valid token gets in: from the header, and as `access_token` (browsers).
    let token = relay.token(&v1, &conv);
    connect_raw(&relay, &conv, Some(&token), "device=d1").await.expect("header token");
    let query = format!("device=d2&access_token={token}");
    connect_raw(&relay, &conv, None, &query).await.expect("query token");

    // Rotation: a token signed by the second (older) key is still accepted.
    let old_key = relay.keys.keys()[1].clone();
    assert_ne!(old_key.kid(), signing.kid());
    let old_token = mint(&old_key, &claims_for(&v1, &conv));
    let c =
        client_at(&relay.base_url(), &old_token, &conv, v1.clone(), &tmp.path().join("c")).await;
    delivered(&relay, &c, "signed with the old key").await;
    c.shutdown().await;

    // Without keys the relay refuses everything with a 503 that says what to set.
    relay.restart_with_vars(&[("EDGEDESK_JWT_KEYS", "")]);
    let (status, body) =
        http_request(relay.port, "GET", &connect_path(&conv), Some(&token), None).unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("auth_not_configured") && body.contains("EDGEDESK_JWT_KEYS"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widget_session_mints_a_working_visitor_token_for_a_site_key_and_renews_it() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start_with_vars(
        &tmp.path().join("state"),
        &[("EDGEDESK_WIDGET_TOKEN_TTL_SECONDS", "600")],
    );
    let path = "/v1/widget/session";

    // Browsers on customer sites call it cross-origin.
    let (status, headers, _) = http_full(relay.port, "OPTIONS", path, None, None).unwrap();
    assert_eq!(status, 204);
    let header = |hs: &[(String, String)], name: &str| {
        hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    assert!(header(&headers, "access-control-allow-headers").contains("authorization"));

    let request = format!(r#"{{"site_key":"{SITE_KEY}"}}"#);
    let before = now_s();
    let (status, headers, text) =
        http_full(relay.port, "POST", path, None, Some(&request)).unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    let session: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(session["workspace"], WORKSPACE);
    let expires_at = session["expires_at"].as_i64().unwrap();
    assert!((before + 600..=now_s() + 600).contains(&expires_at), "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    let conv = ConversationId::new(session["conversation"].as_str().unwrap()).unwrap();
    let subject = session["subject"].as_str().unwrap().to_owned();
    let claims = authenticate(&token, &relay.keys, now_s()).expect("a token of the relay's keys");
    assert_eq!((claims.role, claims.sub.as_str()), (Role::Visitor, subject.as_str()));

    // The token works: the anonymous visitor chats in its new conversation.
    let me = identity(Role::Visitor, &subject, "widget-tab");
    let c = client_at(&relay.base_url(), &token, &conv, me, &tmp.path().join("w")).await;
    delivered(&relay, &c, "hello from the widget").await;
    assert_eq!(relay.stats(conv.as_str())["messages"], 1);

    // It is a visitor's token: no stats, no other conversation.
    let (status, body) =
        http_request(relay.port, "GET", &stats_path(&conv), Some(&token), None).unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("role_not_allowed"), "{body}");
    let elsewhere = conversation("not-mine");
    assert_refused(&relay, &elsewhere, Some(&token), 403, "wrong_conversation").await;

    // Coming back with it renews the same identity; without it, a new visitor is made.
    let (status, renewed) =
        http_request(relay.port, "POST", path, Some(&token), Some(&request)).unwrap();
    assert_eq!(status, 200, "{renewed}");
    let renewed: serde_json::Value = serde_json::from_str(&renewed).unwrap();
    assert_eq!(renewed["subject"], subject.as_str());
    assert_eq!(renewed["conversation"], conv.as_str());
    let (_, fresh) = http_request(relay.port, "POST", path, None, Some(&request)).unwrap();
    let fresh: serde_json::Value = serde_json::from_str(&fresh).unwrap();
    assert_ne!(fresh["subject"], subject.as_str());
    assert_ne!(fresh["conversation"], conv.as_str());

    // Unknown site keys and garbage bodies are refused.
    let (status, text) =
        http_request(relay.port, "POST", path, None, Some(r#"{"site_key":"nope"}"#)).unwrap();
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("unknown_site_key"), "{text}");
    let (status, text) = http_request(relay.port, "POST", path, None, Some("site_key=x")).unwrap();
    assert_eq!(status, 400, "{text}");
    let big = format!(r#"{{"site_key":"{}"}}"#, "k".repeat(4096));
    let (status, text) = http_request(relay.port, "POST", path, None, Some(&big)).unwrap();
    assert_eq!(status, 413, "{text}");

    // The widget's availability (PROTOCOL.md §2.8): public by site key, refused like a session.
    let (status, text) =
        http_get(relay.port, &format!("/v1/widget/availability?site_key={SITE_KEY}")).unwrap();
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (answer["open"].as_bool(), answer["agents_online"].as_bool()),
        (Some(true), Some(false))
    );
    let (status, text) = http_get(relay.port, "/v1/widget/availability?site_key=nope").unwrap();
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("unknown_site_key"), "{text}");
    let (status, text) = http_get(relay.port, "/v1/widget/availability").unwrap();
    assert_eq!(status, 400, "{text}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_is_the_tokens_and_tokens_from_other_jwt_libraries_work() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("identity");

    // An operator's backend mints an agent token with Node's crypto (examples/mint-token.mjs).
    let out = Command::new("node")
        .current_dir(repo_root())
        .args(["examples/mint-token.mjs", "--workspace", WORKSPACE, "--sub", "agent-node"])
        .args(["--role", "agent", "--name", "Node 代理", "--ttl", "600"])
        .env("EDGEDESK_JWT_KEYS", relay.keys.to_env())
        .output()
        .expect("run node examples/mint-token.mjs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let node_token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let claims = authenticate(&node_token, &relay.keys, now_s()).expect("node's token verifies");
    assert_eq!(claims.display_name(), "Node 代理");
    let agent_id = identity(Role::Agent, "agent-node", "node-desk");
    let agent =
        client_at(&relay.base_url(), &node_token, &conv, agent_id, &tmp.path().join("a")).await;
    converge(&relay, &conv, &[&agent], 0).await;
    delivered(&relay, &agent, "signed by node:crypto").await;
    let mut agent_events = agent.events();

    // A visitor's socket that claims another identity in the query is still the token's.
    let token = relay.token(&visitor("v1"), &conv);
    let query = "device=v1-raw&role=agent&participant=agent-node&name=Boss";
    let mut raw = connect_raw(&relay, &conv, Some(&token), query).await.expect("handshake");
    for f in frame::encode(FrameType::Ephemeral, br#"{"typing":true}"#) {
        raw.send(WsMessage::Binary(f.into())).await.unwrap();
    }
    let from = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(SdkEvent::Core(Event::Ephemeral(v))) = agent_events.recv().await {
                return v["from"].clone();
            }
        }
    })
    .await
    .expect("the agent hears the ephemeral");
    assert_eq!(from["role"], "visitor");
    assert_eq!(from["id"], "v1");
    assert_eq!(from["device"], "v1-raw");
    drop(raw);

    // A client that writes as someone its token is not is refused (1008) and stores nothing.
    // (It pretends to be another visitor: one pretending to be an agent is refused even
    // earlier, for offering the internal document: tests/e2e/internal_document.rs.)
    let pretender = identity(Role::Visitor, "someone-else", "v1-sdk");
    let c = client_at(&relay.base_url(), &token, &conv, pretender, &tmp.path().join("p")).await;
    let mut events = c.events();
    c.send_text("refund approved").await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(SdkEvent::Disconnected { code: Some(code), reason }) = events.recv().await {
                return (code, reason);
            }
        }
    })
    .await
    .expect("the relay closes the pretender");
    assert_eq!(closed.0, 1008, "{}", closed.1);
    assert!(closed.1.contains("forged-author"), "{}", closed.1);
    c.shutdown().await;
    assert_eq!(relay.stats(conv.as_str())["messages"], 1);
    assert!(agent.messages().iter().all(|m| m.body != "refund approved"));
    agent.shutdown().await;
}
