//! The inbox side of the harness: agents' inbox clients, visitors writing into new
//! conversations with the claims the inbox filters and routes by, and plain HTTP calls to
//! the message center.

use std::time::Duration;

use edgedesk_client::{Client, ConversationId, InboxClient, InboxConfig};
use edgedesk_core::inbox::session::InboxSession;
use edgedesk_core::message::Role;
use serde_json::Value;

use crate::{claims_for, client_at, http_request, identity, mint, workspace, Relay};

/// How long the inbox tests wait for anything to arrive.
pub const INBOX_WAIT: Duration = Duration::from_secs(30);

/// What a visitor's token says about it.
#[derive(Debug, Clone, Default)]
pub struct VisitorClaims {
    pub name: Option<String>,
    pub channel: Option<String>,
    pub vip: bool,
    pub locale: Option<String>,
}

impl Relay {
    /// A workspace-wide token for agent `who`.
    pub fn agent_token(&self, who: &str) -> String {
        let any = ConversationId::new("any").expect("conversation id");
        self.token_as(Role::Agent, who, &any)
    }

    /// An inbox client for one device of agent `who`, connected.
    pub async fn inbox(&self, who: &str, device: &str) -> InboxClient {
        let device = edgedesk_core::ids::DeviceId::new(device).expect("device");
        let mut config =
            InboxConfig::new(self.base_url(), workspace(), device, self.agent_token(who));
        config.backoff.initial = Duration::from_millis(50);
        config.backoff.max = Duration::from_millis(500);
        let client = InboxClient::connect(config).await.expect("inbox client");
        let mut events = client.events();
        if client.wait_until(INBOX_WAIT, |s| s.agent().is_some()).await.is_err() {
            let mut seen = Vec::new();
            while let Ok(e) = events.try_recv() {
                seen.push(format!("{e:?}"));
            }
            seen.truncate(6);
            panic!(
                "no hello on the inbox socket of {who}; events: {seen:#?}\nrelay log:\n{}",
                self.log_tail()
            );
        }
        client
    }

    /// `GET /v1/workspaces/{ws}/inbox/{path}` as agent `who`: (status, JSON).
    pub fn inbox_get(&self, who: &str, path_and_query: &str) -> (u16, Value) {
        let path = format!("/v1/workspaces/{}/inbox/{path_and_query}", workspace());
        let (status, body) =
            http_request(self.port, "GET", &path, Some(&self.agent_token(who)), None)
                .expect("inbox request");
        (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }

    /// Polls the list `query` as agent `who` until it holds `n` conversations; the page.
    pub async fn wait_list(&self, who: &str, query: &str, n: usize) -> Value {
        let deadline = std::time::Instant::now() + INBOX_WAIT;
        loop {
            let (status, page) = self.inbox_get(who, &format!("conversations?{query}"));
            assert_eq!(status, 200, "{query}: {page}");
            if page["items"].as_array().map(Vec::len) == Some(n) {
                return page;
            }
            if std::time::Instant::now() > deadline {
                let (_, all) = self.inbox_get(who, "conversations?limit=100");
                panic!("{query} never listed {n}: {page}\nall: {all}\n{}", self.log_lines("inbox"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST` to the inbox as agent `who`: (status, JSON).
    pub fn inbox_post(&self, who: &str, path: &str, body: &str) -> (u16, Value) {
        let path = format!("/v1/workspaces/{}/inbox/{path}", workspace());
        let (status, body) =
            http_request(self.port, "POST", &path, Some(&self.agent_token(who)), Some(body))
                .expect("inbox request");
        (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }

    /// A visitor with `claims` opens `conv` and writes `text`; returns its client once the
    /// relay has it.
    pub async fn visitor_writes(
        &self,
        conv: &ConversationId,
        claims: &VisitorClaims,
        text: &str,
        dir: &std::path::Path,
    ) -> Client {
        let who = identity(Role::Visitor, &format!("v-{conv}"), "v-phone");
        let mut c = claims_for(&who, conv);
        c.name = claims.name.clone().or(c.name);
        c.channel = claims.channel.clone();
        c.vip = claims.vip;
        c.locale = claims.locale.clone();
        let token = mint(self.keys.signing(), &c);
        let client = client_at(&self.base_url(), &token, conv, who, dir).await;
        client.send_text(text).await.expect("send");
        let delivered = client.wait_until(INBOX_WAIT, |v| v.pending().is_empty()).await;
        assert!(delivered.is_ok(), "the visitor's message in {conv} was not acknowledged");
        client
    }
}

/// Waits until `pred` holds for the inbox client's state, or panics naming `what`.
pub async fn wait_inbox(client: &InboxClient, what: &str, pred: impl Fn(&InboxSession) -> bool) {
    if let Err(e) = client.wait_until(INBOX_WAIT, pred).await {
        panic!("inbox: {what} did not happen within {INBOX_WAIT:?}: {e}");
    }
}

/// `s` percent-encoded for a query string (everything but unreserved ASCII).
pub fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The conversation ids of a list page (`{"items":[Summary…]}`), in order.
pub fn listed(page: &Value) -> Vec<String> {
    ids(page["items"].as_array().unwrap_or_else(|| panic!("not a list page: {page}")))
}

/// The conversation ids of summaries (as JSON), in order.
pub fn ids(summaries: &[Value]) -> Vec<String> {
    summaries.iter().map(|s| s["conversation"].as_str().unwrap_or_default().to_owned()).collect()
}
