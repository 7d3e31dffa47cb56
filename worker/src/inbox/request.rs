//! The HTTP surface of a workspace's inbox, free of platform types so it is unit tested
//! natively: which inbox route a path names, what the front Worker forwards to the `Inbox`
//! Durable Object, and the bodies it accepts.

use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId, TeamId, WorkspaceId};
use edgedesk_core::message::Role;
use serde::{Deserialize, Serialize};

use crate::forward_header::{forwarded_header, from_forwarded_header};
use crate::refusal::Refusal;

/// The internal path on which the front Worker asks the Inbox object whether any agent is
/// online, for the widget (never routed from outside: public inbox routes are parsed into
/// [`InboxAction`]s).
pub const AGENTS_ONLINE_PATH: &str = "agents-online";

/// Largest body of a claim or transfer request.
pub const MAX_INBOX_BODY_BYTES: usize = 1024;

/// What an agent's request to the inbox asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxAction {
    /// `GET …/inbox/connect`: the agent device's live socket.
    Connect,
    /// `GET …/inbox/conversations?…`: one page of the message center.
    List,
    /// `GET …/inbox/counts`: the sidebar's counts.
    Counts,
    /// `GET …/inbox/search?q=…`
    Search,
    /// `POST …/inbox/conversations/{c}/claim`
    Claim(ConversationId),
    /// `POST …/inbox/conversations/{c}/transfer` with `{"agent":…}` or `{"team":…}`.
    Transfer(ConversationId),
}

impl InboxAction {
    /// The action named by the path segments after `/v1/workspaces/{ws}/inbox/`, and the
    /// one method it accepts.
    pub fn parse(rest: &[&str]) -> Result<Option<(InboxAction, &'static str)>, Refusal> {
        let conv = |c: &str| {
            ConversationId::new(c)
                .map_err(|e| Refusal::new(400, "bad_conversation_id", e.to_string()))
        };
        Ok(Some(match rest {
            ["connect"] => (InboxAction::Connect, "GET"),
            ["conversations"] => (InboxAction::List, "GET"),
            ["counts"] => (InboxAction::Counts, "GET"),
            ["search"] => (InboxAction::Search, "GET"),
            ["conversations", c, "claim"] => (InboxAction::Claim(conv(c)?), "POST"),
            ["conversations", c, "transfer"] => (InboxAction::Transfer(conv(c)?), "POST"),
            _ => return Ok(None),
        }))
    }

    /// The path the front Worker uses for this action on the Durable Object.
    pub fn object_path(&self) -> String {
        match self {
            InboxAction::Connect => "connect".into(),
            InboxAction::List => "conversations".into(),
            InboxAction::Counts => "counts".into(),
            InboxAction::Search => "search".into(),
            InboxAction::Claim(c) => format!("claim/{c}"),
            InboxAction::Transfer(c) => format!("transfer/{c}"),
        }
    }
}

/// What the front Worker tells the `Inbox` object about an agent's request it let through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedAgent {
    pub workspace: WorkspaceId,
    pub agent: ParticipantId,
    pub role: Role,
    /// The connecting device, on `connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceId>,
    /// The token's `exp` (seconds): a socket is closed at its first frame after that.
    pub expires_at: i64,
}

impl ForwardedAgent {
    pub fn to_header(&self) -> String {
        forwarded_header(self)
    }

    pub fn from_header(value: Option<&str>) -> Result<Self, Refusal> {
        from_forwarded_header(value, "the inbox")
    }
}

/// Where a transfer sends a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TransferTarget {
    Agent(ParticipantId),
    Team(TeamId),
}

impl TransferTarget {
    /// `{"agent":"a2"}` or `{"team":"billing"}`.
    pub fn parse(body: &[u8]) -> Result<TransferTarget, Refusal> {
        let bad = |m: String| Refusal::new(400, "bad_transfer", m);
        if body.len() > MAX_INBOX_BODY_BYTES {
            return Err(bad(format!(
                "the body is {} bytes; the limit is {MAX_INBOX_BODY_BYTES}",
                body.len()
            )));
        }
        serde_json::from_slice(body).map_err(|e| {
            bad(format!(
                "expected {{\"agent\": \"<agent id>\"}} or {{\"team\": \"<team id>\"}}: {e}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_paths_name_their_action_and_method() {
        let c = ConversationId::new("c1").unwrap();
        let cases: [(&[&str], InboxAction, &str); 6] = [
            (&["connect"], InboxAction::Connect, "GET"),
            (&["conversations"], InboxAction::List, "GET"),
            (&["counts"], InboxAction::Counts, "GET"),
            (&["search"], InboxAction::Search, "GET"),
            (&["conversations", "c1", "claim"], InboxAction::Claim(c.clone()), "POST"),
            (&["conversations", "c1", "transfer"], InboxAction::Transfer(c), "POST"),
        ];
        for (rest, action, method) in cases {
            assert_eq!(InboxAction::parse(rest).unwrap(), Some((action, method)), "{rest:?}");
        }
        assert_eq!(InboxAction::parse(&["nope"]).unwrap(), None);
        let bad = InboxAction::parse(&["conversations", "a b", "claim"]).unwrap_err();
        assert_eq!(bad.code, "bad_conversation_id");
    }

    #[test]
    fn a_transfer_names_an_agent_or_a_team_and_nothing_else() {
        assert_eq!(
            TransferTarget::parse(br#"{"agent":"a2"}"#).unwrap(),
            TransferTarget::Agent(ParticipantId::new("a2").unwrap())
        );
        assert_eq!(
            TransferTarget::parse(br#"{"team":"billing"}"#).unwrap(),
            TransferTarget::Team(TeamId::new("billing").unwrap())
        );
        for bad in [&br#"{}"#[..], br#"{"agent":"a b"}"#, br#"{"agent":"a","team":"t"}"#, b"[]"] {
            let e = TransferTarget::parse(bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (400, "bad_transfer"),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(TransferTarget::parse(&vec![b' '; 2000]).unwrap_err().message.contains("limit"));
    }
}
