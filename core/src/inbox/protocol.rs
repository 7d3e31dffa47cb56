//! The inbox socket's frames (PROTOCOL.md §15.x): JSON text, one object per WebSocket
//! message, tagged by `type`.
//!
//! Both ends use these types, so the Inbox object and the SDK cannot drift apart. Requests
//! carry an `id` of the client's choosing that the `result` answering them echoes; pushes
//! (`summary`, `presence`, `backlog`) carry none. List queries, counts and search hits travel
//! as plain JSON here: their shapes belong to `query` and `search`, which parse and build
//! them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::presence::Presence;
use super::summary::Summary;
use crate::ids::{ConversationId, DeviceId, ParticipantId, TeamId};

/// The largest frame a client may send. Requests are small (a list query, a search phrase);
/// the bound keeps a hostile client from making the Inbox object parse megabytes.
pub const MAX_CLIENT_FRAME_BYTES: usize = 16 * 1024;
/// The largest frame a client accepts. A page of 100 summaries or an agent's backlog is far
/// below it; the server splits a longer backlog over several frames.
pub const MAX_SERVER_FRAME_BYTES: usize = 1024 * 1024;
/// The longest request id, in bytes: the server echoes it, so it is bounded like any id.
pub const MAX_REQUEST_ID_BYTES: usize = 64;
/// The code of a request failed by the client itself because its connection closed first.
pub const DISCONNECTED: &str = "disconnected";

/// A client's name for one request, echoed in the `result` that answers it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a request id must be 1 to {MAX_REQUEST_ID_BYTES} bytes without control characters; got {len} bytes"
)]
pub struct BadRequestId {
    len: usize,
}

impl RequestId {
    pub fn new(s: impl Into<String>) -> Result<Self, BadRequestId> {
        let s = s.into();
        let len = s.len();
        if len == 0 || len > MAX_REQUEST_ID_BYTES || s.chars().any(char::is_control) {
            return Err(BadRequestId { len });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of a session's `n`th request: decimal digits, always valid.
    pub(crate) fn numbered(n: u64) -> Self {
        Self(n.to_string())
    }
}

impl TryFrom<String> for RequestId {
    type Error = BadRequestId;
    fn try_from(s: String) -> Result<Self, BadRequestId> {
        Self::new(s)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a transfer sends a conversation: `{"agent":"a2"}` or `{"team":"billing"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Agent(ParticipantId),
    Team(TeamId),
}

/// What an agent's device sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// This device's presence: `online` or `away` (a device is offline by closing its socket).
    Presence { state: Presence },
    /// A page of the list: `query` is the list query (PROTOCOL.md §15), answered with a
    /// [`QueryPage`].
    Query { id: RequestId, query: Value },
    /// The sidebar's counts.
    Counts { id: RequestId },
    /// Search over messages and visitor names, answered with `{"hits":[..]}`.
    Search {
        id: RequestId,
        q: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Take a conversation: answered with its [`Summary`] once assigned to the sender.
    Claim { id: RequestId, conversation: ConversationId },
    /// Hand a conversation to an agent or a team: answered with its [`Summary`].
    Transfer { id: RequestId, conversation: ConversationId, to: Target },
}

/// What the Inbox object sends to an agent's device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The first frame of every connection: who the server took the device for, and the
    /// presence of the workspace's agents (those not listed are offline).
    Hello { agent: ParticipantId, device: DeviceId, presence: BTreeMap<ParticipantId, Presence> },
    /// A conversation changed (sent to every agent socket of the workspace).
    Summary { summary: Box<Summary> },
    /// Several conversations changed within one coalescing window ([`super::coalesce`]):
    /// each as a `summary` frame would carry it, newest per conversation, in the order they
    /// changed.
    Summaries { summaries: Vec<Summary> },
    /// A conversation was erased: it leaves every agent's screens (sent to every agent socket).
    Removed { conversation: String },
    /// An agent's presence changed.
    Presence { agent: ParticipantId, state: Presence },
    /// What an agent missed, pushed to all its devices when it comes online: its assigned
    /// conversations with unread messages, and those created while it was away.
    Backlog { conversations: Vec<Summary> },
    /// The answer to the request `id`: `"ok":true` with `data`, or `"ok":false` with `error`.
    Result {
        id: RequestId,
        #[serde(flatten, with = "outcome")]
        outcome: Result<Value, RequestError>,
    },
    /// The client broke the protocol; the server closes the socket after this.
    Error { code: String, message: String },
}

/// Why the server (or, with code [`DISCONNECTED`], the client) failed a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RequestError {
    /// Stable and machine-readable, e.g. `bad_query`, `not_found`, `disconnected`.
    pub code: String,
    /// For people: what was wrong and what to do.
    pub message: String,
}

impl RequestError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }
}

/// The data of a `query` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryPage {
    pub items: Vec<Summary>,
    /// Pass as the next query's `cursor` for the following page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("inbox frame is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("not a valid inbox frame: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error(
        "presence can be set to \"online\" or \"away\"; a device goes offline by closing its socket"
    )]
    OfflineNotSettable,
}

impl ClientFrame {
    /// Parses a client's frame, refusing oversized ones before reading them.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        check_len(text, MAX_CLIENT_FRAME_BYTES)?;
        let frame: Self = serde_json::from_str(text)?;
        if matches!(frame, ClientFrame::Presence { state: Presence::Offline }) {
            return Err(FrameError::OfflineNotSettable);
        }
        Ok(frame)
    }

    /// The request id, for frames that expect a `result`.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            ClientFrame::Presence { .. } => None,
            ClientFrame::Query { id, .. }
            | ClientFrame::Counts { id }
            | ClientFrame::Search { id, .. }
            | ClientFrame::Claim { id, .. }
            | ClientFrame::Transfer { id, .. } => Some(id),
        }
    }

    pub fn to_text(&self) -> String {
        encode(self)
    }
}

impl ServerFrame {
    /// Parses a server's frame, refusing oversized ones before reading them.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        check_len(text, MAX_SERVER_FRAME_BYTES)?;
        Ok(serde_json::from_str(text)?)
    }

    /// A successful `result`.
    pub fn ok(id: RequestId, data: Value) -> Self {
        ServerFrame::Result { id, outcome: Ok(data) }
    }

    /// A failed `result`.
    pub fn failed(id: RequestId, code: impl Into<String>, message: impl Into<String>) -> Self {
        ServerFrame::Result { id, outcome: Err(RequestError::new(code, message)) }
    }

    pub fn to_text(&self) -> String {
        encode(self)
    }
}

fn check_len(text: &str, max: usize) -> Result<(), FrameError> {
    match text.len() {
        len if len > max => Err(FrameError::TooLarge { len, max }),
        _ => Ok(()),
    }
}

/// Serialising these types cannot fail (every map key is a string, no custom serialiser
/// errors); should that ever change, the peer gets an `error` frame it can report rather
/// than a panic on a request path.
fn encode<T: Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).unwrap_or_else(|e| {
        let error = ServerFrame::Error { code: "encode_failed".into(), message: e.to_string() };
        serde_json::to_string(&error).unwrap_or_default()
    })
}

/// `result`'s `ok`/`data`/`error` fields as a `Result`.
mod outcome {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    use super::RequestError;

    #[derive(Serialize, Deserialize)]
    struct Wire {
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<RequestError>,
    }

    pub fn serialize<S: Serializer>(
        outcome: &Result<Value, RequestError>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let wire = match outcome {
            Ok(data) => Wire { ok: true, data: Some(data.clone()), error: None },
            Err(e) => Wire { ok: false, data: None, error: Some(e.clone()) },
        };
        wire.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Result<Value, RequestError>, D::Error> {
        let wire = Wire::deserialize(d)?;
        match (wire.ok, wire.error) {
            // `"data": null` and no `data` at all are both an answer without data.
            (true, _) => Ok(Ok(wire.data.unwrap_or(Value::Null))),
            (false, Some(e)) => Ok(Err(e)),
            (false, None) => {
                Err(serde::de::Error::custom("a result with \"ok\":false must carry an \"error\""))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::internal_doc::Priority;
    use crate::workflow::status::State;

    fn summary(conversation: &str) -> Summary {
        Summary {
            conversation: conversation.into(),
            version: 7,
            status: State::Open,
            snoozed_until: None,
            priority: Priority::High,
            assignee: Some("a1".into()),
            team: Some("billing".into()),
            tags: vec!["refund".into()],
            channel: "web".into(),
            language: Some("zh-CN".into()),
            visitor_name: Some("李雷".into()),
            vip: true,
            visitor: None,
            attributes: Default::default(),
            unread: 2,
            waiting_since: Some(1_000),
            last_message_at: Some(2_000),
            last_preview: Some("我要退款".into()),
            last_preview_role: Some(crate::message::Role::Visitor),
            rating: Some(crate::workflow::csat::Rating {
                score: 4, comment: Some("很好".into())
            }),
            created_at: 500,
            messages: 3,
            shredded_through: None,
        }
    }

    fn id(s: &str) -> RequestId {
        RequestId::new(s).unwrap()
    }

    fn client_frames() -> Vec<ClientFrame> {
        vec![
            ClientFrame::Presence { state: Presence::Online },
            ClientFrame::Presence { state: Presence::Away },
            ClientFrame::Query { id: id("1"), query: json!({"status": "open", "limit": 10}) },
            ClientFrame::Counts { id: id("2") },
            ClientFrame::Search { id: id("3"), q: "退款".into(), limit: Some(20) },
            ClientFrame::Search { id: id("3b"), q: "refund".into(), limit: None },
            ClientFrame::Claim { id: id("4"), conversation: ConversationId::new("c1").unwrap() },
            ClientFrame::Transfer {
                id: id("5"),
                conversation: ConversationId::new("c1").unwrap(),
                to: Target::Agent(ParticipantId::new("a2").unwrap()),
            },
            ClientFrame::Transfer {
                id: id("6"),
                conversation: ConversationId::new("c1").unwrap(),
                to: Target::Team(TeamId::new("billing").unwrap()),
            },
        ]
    }

    fn server_frames() -> Vec<ServerFrame> {
        let a1 = ParticipantId::new("a1").unwrap();
        vec![
            ServerFrame::Hello {
                agent: a1.clone(),
                device: DeviceId::new("d1").unwrap(),
                presence: [(a1.clone(), Presence::Online)].into(),
            },
            ServerFrame::Summary { summary: Box::new(summary("c1")) },
            ServerFrame::Presence { agent: a1, state: Presence::Offline },
            ServerFrame::Backlog { conversations: vec![summary("c1"), summary("c2")] },
            ServerFrame::Backlog { conversations: vec![] },
            ServerFrame::ok(id("1"), json!({"items": [summary("c1")], "next_cursor": null})),
            ServerFrame::ok(id("2"), Value::Null),
            ServerFrame::failed(id("3"), "bad_query", "q is empty"),
            ServerFrame::Error { code: "frame_too_large".into(), message: "…".into() },
            ServerFrame::Summaries { summaries: vec![summary("c1"), summary("c2")] },
        ]
    }

    #[test]
    fn every_client_frame_round_trips() {
        for frame in client_frames() {
            assert_eq!(ClientFrame::parse(&frame.to_text()).unwrap(), frame);
        }
    }

    #[test]
    fn every_server_frame_round_trips() {
        for frame in server_frames() {
            assert_eq!(ServerFrame::parse(&frame.to_text()).unwrap(), frame);
        }
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn client_frames_are_the_documented_json() {
        let frames = client_frames();
        assert_eq!(parsed(&frames[1].to_text()), json!({"type": "presence", "state": "away"}));
        assert_eq!(
            parsed(&frames[4].to_text()),
            json!({"type": "search", "id": "3", "q": "退款", "limit": 20})
        );
        assert_eq!(
            parsed(&frames[7].to_text()),
            json!({"type": "transfer", "id": "5", "conversation": "c1", "to": {"agent": "a2"}})
        );
        assert_eq!(parsed(&frames[8].to_text())["to"], json!({"team": "billing"}));
        let text = r#"{"type":"claim","id":"4","conversation":"c1"}"#;
        assert_eq!(ClientFrame::parse(text).unwrap(), frames[6]);
    }

    #[test]
    fn server_frames_are_the_documented_json() {
        let frames = server_frames();
        assert_eq!(
            parsed(&frames[0].to_text()),
            json!({"type": "hello", "agent": "a1", "device": "d1", "presence": {"a1": "online"}})
        );
        assert_eq!(
            parsed(&frames[2].to_text()),
            json!({"type": "presence", "agent": "a1", "state": "offline"})
        );
        assert_eq!(
            parsed(&frames[5].to_text()),
            json!({"type": "result", "id": "1", "ok": true,
                   "data": {"items": [summary("c1")], "next_cursor": null}})
        );
        assert_eq!(
            parsed(&frames[7].to_text()),
            json!({"type": "result", "id": "3", "ok": false,
                   "error": {"code": "bad_query", "message": "q is empty"}})
        );
        let summary_json = parsed(&frames[1].to_text());
        assert_eq!(summary_json["type"], "summary");
        assert_eq!(summary_json["summary"]["conversation"], "c1");
        assert_eq!(summary_json["summary"]["priority"], "high");
        let coalesced = parsed(&frames[9].to_text());
        assert_eq!(coalesced["type"], "summaries");
        assert_eq!(coalesced["summaries"][1]["conversation"], "c2");
    }

    #[test]
    fn a_successful_result_may_omit_its_data() {
        let frame = ServerFrame::parse(r#"{"type":"result","id":"9","ok":true}"#).unwrap();
        assert_eq!(frame, ServerFrame::ok(id("9"), Value::Null));
    }

    #[test]
    fn a_failed_result_without_an_error_is_refused() {
        let err = ServerFrame::parse(r#"{"type":"result","id":"9","ok":false}"#).unwrap_err();
        assert!(err.to_string().contains("must carry an \"error\""), "{err}");
    }

    #[test]
    fn oversized_client_frames_are_refused_before_parsing() {
        let text =
            format!(r#"{{"type":"search","id":"1","q":"{}"}}"#, "x".repeat(MAX_CLIENT_FRAME_BYTES));
        let err = ClientFrame::parse(&text).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { max: MAX_CLIENT_FRAME_BYTES, .. }), "{err}");
    }

    #[test]
    fn a_device_cannot_declare_itself_offline() {
        let err = ClientFrame::parse(r#"{"type":"presence","state":"offline"}"#).unwrap_err();
        assert!(matches!(err, FrameError::OfflineNotSettable));
        assert!(err.to_string().contains("closing its socket"));
    }

    #[test]
    fn malformed_client_frames_name_what_is_wrong() {
        let cases = [
            (r#"{"type":"claim","id":"4"}"#, "missing field `conversation`"),
            (r#"{"type":"dance","id":"4"}"#, "unknown variant `dance`"),
            (r#"{"id":"4"}"#, "missing field `type`"),
            (r#"{"type":"claim","id":"4","conversation":"a/b"}"#, "conversation id contains '/'"),
            (r#"{"type":"counts","id":""}"#, "a request id must be 1 to 64 bytes"),
            (r#"{"type":"transfer","id":"5","conversation":"c1","to":{"queue":"x"}}"#, "queue"),
            ("not json", "expected ident"),
        ];
        for (text, expected) in cases {
            let err = ClientFrame::parse(text).unwrap_err();
            assert!(matches!(err, FrameError::Invalid(_)), "{text}: {err}");
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn request_ids_are_bounded() {
        assert!(RequestId::new("x".repeat(MAX_REQUEST_ID_BYTES)).is_ok());
        assert!(RequestId::new("x".repeat(MAX_REQUEST_ID_BYTES + 1)).is_err());
        assert!(RequestId::new("a\nb").is_err());
    }

    #[test]
    fn only_requests_have_an_id() {
        let ids: Vec<_> = client_frames().iter().map(|f| f.request_id().cloned()).collect();
        assert_eq!(ids[0], None);
        assert_eq!(ids[2], Some(id("1")));
        assert_eq!(ids[8], Some(id("6")));
    }

    #[test]
    fn a_query_page_is_items_and_a_cursor() {
        let page = QueryPage { items: vec![summary("c1")], next_cursor: Some("abc".into()) };
        let value = serde_json::to_value(&page).unwrap();
        assert_eq!(value["next_cursor"], "abc");
        assert_eq!(serde_json::from_value::<QueryPage>(value).unwrap(), page);
    }
}
