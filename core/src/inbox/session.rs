//! An agent device's side of the inbox socket, without the socket: what it knows (summaries,
//! presence), what it asked and is still waiting for, and what each server frame means.
//!
//! The SDK's shells own the WebSocket and the clock and feed this state machine; the same
//! code then runs natively, in a browser and in tests. Requests live on one connection: a
//! request is only made while connected, and when the connection ends every unanswered one
//! fails at once (code [`DISCONNECTED`]), so no caller waits for an answer that cannot come.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::presence::Presence;
use super::protocol::{
    ClientFrame, FrameError, QueryPage, RequestError, RequestId, ServerFrame, Target, DISCONNECTED,
};
use super::summary::Summary;
use crate::ids::{ConversationId, DeviceId, ParticipantId};

/// The code of a request whose answer arrived but could not be read.
pub const BAD_RESULT: &str = "bad_result";

/// What a device can ask the inbox.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A page of the list (the list query's JSON, PROTOCOL.md §15).
    Query(Value),
    Counts,
    Search {
        q: String,
        limit: Option<u32>,
    },
    Claim(ConversationId),
    Transfer {
        conversation: ConversationId,
        to: Target,
    },
}

/// What a frame (or the end of a connection) told the device.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxEvent {
    /// The server accepted the connection as this agent's device. Summaries known from
    /// before may have missed changes while disconnected: query again to refresh a list.
    Hello {
        agent: ParticipantId,
        device: DeviceId,
    },
    /// A conversation changed: only newer versions than the one known are reported.
    Summary(Box<Summary>),
    Presence {
        agent: ParticipantId,
        state: Presence,
    },
    /// A conversation was erased; its summary is gone from [`InboxSession::summaries`].
    Removed {
        conversation: String,
    },
    /// What this agent missed while offline: every conversation of the frame, known or not.
    Backlog(Vec<Summary>),
    /// The answer to request `id`; an `Err` with code [`DISCONNECTED`] when the connection
    /// closed first (it may or may not have taken effect).
    Result {
        id: RequestId,
        outcome: Result<Value, RequestError>,
    },
    /// The server found this device breaking the protocol and closes the socket.
    ServerError {
        code: String,
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the inbox is not connected; requests can only be made once the socket is open")]
    NotConnected,
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// What a new connection needs: frames to send first, and the events of requests left over
/// from before (failed, since they were never answered).
#[derive(Debug, Default, PartialEq)]
pub struct Connected {
    pub send: Vec<String>,
    pub events: Vec<InboxEvent>,
}

/// Which answers carry summaries the session can learn from.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Page,
    Summary,
    Other,
}

#[derive(Debug, Default)]
pub struct InboxSession {
    agent: Option<ParticipantId>,
    device: Option<DeviceId>,
    summaries: BTreeMap<String, Summary>,
    presence: BTreeMap<ParticipantId, Presence>,
    pending: BTreeMap<RequestId, Answer>,
    requests_made: u64,
    /// What the user set; re-sent on every connection (the server forgets a closed socket's).
    wanted: Option<Presence>,
    connected: bool,
}

impl InboxSession {
    pub fn new() -> Self {
        Self::default()
    }

    /// A socket opened. Sends the presence the user set, if any.
    pub fn connected(&mut self) -> Connected {
        let events = self.fail_pending();
        self.connected = true;
        let send = self.wanted.map(presence_frame).into_iter().collect();
        Connected { send, events }
    }

    /// The socket closed: every request still waiting fails.
    pub fn disconnected(&mut self) -> Vec<InboxEvent> {
        self.connected = false;
        self.fail_pending()
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Starts a request: its id, and the frame to send now on the open socket.
    pub fn request(&mut self, request: Request) -> Result<(RequestId, String), SessionError> {
        if !self.connected {
            return Err(SessionError::NotConnected);
        }
        self.requests_made += 1;
        let id = RequestId::numbered(self.requests_made);
        let (frame, answer) = match request {
            Request::Query(query) => (ClientFrame::Query { id: id.clone(), query }, Answer::Page),
            Request::Counts => (ClientFrame::Counts { id: id.clone() }, Answer::Other),
            Request::Search { q, limit } => {
                (ClientFrame::Search { id: id.clone(), q, limit }, Answer::Other)
            }
            Request::Claim(conversation) => {
                (ClientFrame::Claim { id: id.clone(), conversation }, Answer::Summary)
            }
            Request::Transfer { conversation, to } => {
                (ClientFrame::Transfer { id: id.clone(), conversation, to }, Answer::Summary)
            }
        };
        self.pending.insert(id.clone(), answer);
        Ok((id, frame.to_text()))
    }

    /// Stops waiting for `id` (the caller gave up): a late answer is then ignored. Returns
    /// whether it was still pending.
    pub fn abandon(&mut self, id: &RequestId) -> bool {
        self.pending.remove(id).is_some()
    }

    /// Sets this device's presence, kept across reconnections. Returns the frame to send
    /// now if connected.
    pub fn set_presence(&mut self, state: Presence) -> Result<Option<String>, SessionError> {
        if state == Presence::Offline {
            return Err(FrameError::OfflineNotSettable.into());
        }
        self.wanted = Some(state);
        Ok(self.connected.then(|| presence_frame(state)))
    }

    /// The presence the user set (`None`: never set, the server's default applies).
    pub fn wanted_presence(&self) -> Option<Presence> {
        self.wanted
    }

    /// Applies one frame from the server.
    pub fn handle_frame(&mut self, text: &str) -> Result<Vec<InboxEvent>, SessionError> {
        let frame = match ServerFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => return self.unreadable(text, e),
        };
        let events = match frame {
            ServerFrame::Hello { agent, device, presence } => {
                self.agent = Some(agent.clone());
                self.device = Some(device.clone());
                self.presence = presence;
                vec![InboxEvent::Hello { agent, device }]
            }
            ServerFrame::Summary { summary } => {
                if self.learn(&summary) {
                    vec![InboxEvent::Summary(summary)]
                } else {
                    vec![]
                }
            }
            // The SDKs' events stay one per conversation: the frame only saves the server
            // frames (PROTOCOL.md §15.5).
            ServerFrame::Summaries { summaries } => summaries
                .into_iter()
                .filter(|s| self.learn(s))
                .map(|s| InboxEvent::Summary(Box::new(s)))
                .collect(),
            ServerFrame::Removed { conversation } => {
                self.summaries.remove(&conversation);
                vec![InboxEvent::Removed { conversation }]
            }
            ServerFrame::Presence { agent, state } => {
                self.presence.insert(agent.clone(), state);
                vec![InboxEvent::Presence { agent, state }]
            }
            ServerFrame::Backlog { conversations } => {
                for summary in &conversations {
                    self.learn(summary);
                }
                vec![InboxEvent::Backlog(conversations)]
            }
            ServerFrame::Result { id, outcome } => {
                // An answer nobody waits for (abandoned, or from before a reconnection).
                let Some(answer) = self.pending.remove(&id) else { return Ok(vec![]) };
                if let Ok(data) = &outcome {
                    self.learn_from(answer, data);
                }
                vec![InboxEvent::Result { id, outcome }]
            }
            ServerFrame::Error { code, message } => vec![InboxEvent::ServerError { code, message }],
        };
        Ok(events)
    }

    /// A frame that does not parse is an error, unless it answers a pending request: then
    /// that request fails with the reason, rather than leaving its caller to time out.
    fn unreadable(&mut self, text: &str, e: FrameError) -> Result<Vec<InboxEvent>, SessionError> {
        let answered = serde_json::from_str::<Value>(text).ok().and_then(|v| {
            let is_result = v["type"] == "result";
            let id = RequestId::new(v["id"].as_str()?).ok()?;
            (is_result && self.pending.remove(&id).is_some()).then_some(id)
        });
        match answered {
            Some(id) => {
                let message = format!("the server's answer could not be read: {e}");
                let outcome = Err(RequestError::new(BAD_RESULT, message));
                Ok(vec![InboxEvent::Result { id, outcome }])
            }
            None => Err(e.into()),
        }
    }

    /// Keeps the summaries an answer carries (a page's items, a claimed conversation); an
    /// answer of another shape teaches nothing, and its caller reports the shape.
    fn learn_from(&mut self, answer: Answer, data: &Value) {
        match answer {
            Answer::Page => {
                if let Ok(page) = QueryPage::deserialize(data) {
                    for summary in &page.items {
                        self.learn(summary);
                    }
                }
            }
            Answer::Summary => {
                if let Ok(summary) = Summary::deserialize(data) {
                    self.learn(&summary);
                }
            }
            Answer::Other => {}
        }
    }

    /// Keeps `summary` if it is newer than the one known. Returns whether it was.
    fn learn(&mut self, summary: &Summary) -> bool {
        match self.summaries.get(&summary.conversation) {
            Some(known) if known.version >= summary.version => false,
            _ => {
                self.summaries.insert(summary.conversation.clone(), summary.clone());
                true
            }
        }
    }

    fn fail_pending(&mut self) -> Vec<InboxEvent> {
        let message = "the inbox connection closed before the server answered; the request may \
                       or may not have taken effect: check (e.g. query again) and retry";
        std::mem::take(&mut self.pending)
            .into_keys()
            .map(|id| InboxEvent::Result {
                id,
                outcome: Err(RequestError::new(DISCONNECTED, message)),
            })
            .collect()
    }

    /// The agent the server took this device for (from `hello`).
    pub fn agent(&self) -> Option<&ParticipantId> {
        self.agent.as_ref()
    }

    pub fn device(&self) -> Option<&DeviceId> {
        self.device.as_ref()
    }

    /// The newest summary known of every conversation seen, by conversation id.
    pub fn summaries(&self) -> &BTreeMap<String, Summary> {
        &self.summaries
    }

    pub fn summary(&self, conversation: &str) -> Option<&Summary> {
        self.summaries.get(conversation)
    }

    /// Every agent's presence the server reported (absent agents are offline).
    pub fn presence(&self) -> &BTreeMap<ParticipantId, Presence> {
        &self.presence
    }

    pub fn presence_of(&self, agent: &ParticipantId) -> Presence {
        self.presence.get(agent).copied().unwrap_or(Presence::Offline)
    }

    /// The badge: unread messages over the known conversations assigned to `agent`.
    pub fn unread_total(&self, agent: &ParticipantId) -> u64 {
        self.summaries
            .values()
            .filter(|s| s.assignee.as_deref() == Some(agent.as_str()))
            .map(|s| u64::from(s.unread))
            .sum()
    }

    /// How many requests wait for an answer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

fn presence_frame(state: Presence) -> String {
    ClientFrame::Presence { state }.to_text()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ids::TeamId;

    fn summary(conversation: &str, version: u64, assignee: Option<&str>, unread: u32) -> Summary {
        Summary {
            version,
            assignee: assignee.map(Into::into),
            unread,
            messages: unread,
            ..Summary::blank(conversation)
        }
    }

    fn agent(s: &str) -> ParticipantId {
        ParticipantId::new(s).unwrap()
    }

    fn conv(s: &str) -> ConversationId {
        ConversationId::new(s).unwrap()
    }

    fn push(session: &mut InboxSession, frame: ServerFrame) -> Vec<InboxEvent> {
        session.handle_frame(&frame.to_text()).unwrap()
    }

    fn connected() -> InboxSession {
        let mut session = InboxSession::new();
        assert_eq!(session.connected(), Connected::default());
        session
    }

    fn sent(text: &str) -> ClientFrame {
        ClientFrame::parse(text).unwrap()
    }

    #[test]
    fn an_erased_conversation_leaves_the_session() {
        let mut s = connected();
        push(&mut s, ServerFrame::Summary { summary: Box::new(summary("c1", 2, None, 1)) });
        push(&mut s, ServerFrame::Summary { summary: Box::new(summary("c2", 1, None, 1)) });
        let removed = ServerFrame::Removed { conversation: "c1".into() };
        assert_eq!(
            push(&mut s, removed.clone()),
            [InboxEvent::Removed { conversation: "c1".into() }]
        );
        assert_eq!(s.summary("c1"), None);
        assert!(s.summary("c2").is_some());
        assert_eq!(removed.to_text(), r#"{"type":"removed","conversation":"c1"}"#);
    }

    #[test]
    fn a_summary_replaces_the_known_one_only_when_newer() {
        let mut s = connected();
        let v2 = summary("c1", 2, None, 1);
        assert_eq!(
            push(&mut s, ServerFrame::Summary { summary: Box::new(v2.clone()) }),
            [InboxEvent::Summary(Box::new(v2.clone()))]
        );
        for stale in [summary("c1", 1, None, 5), summary("c1", 2, None, 5)] {
            assert_eq!(push(&mut s, ServerFrame::Summary { summary: Box::new(stale) }), []);
        }
        assert_eq!(s.summary("c1"), Some(&v2));
        let v3 = summary("c1", 3, Some("a1"), 0);
        assert_eq!(push(&mut s, ServerFrame::Summary { summary: Box::new(v3.clone()) }).len(), 1);
        assert_eq!(s.summary("c1"), Some(&v3));
    }

    #[test]
    fn hello_names_the_device_and_replaces_everyones_presence() {
        let mut s = connected();
        push(&mut s, ServerFrame::Presence { agent: agent("a9"), state: Presence::Online });
        let events = push(
            &mut s,
            ServerFrame::Hello {
                agent: agent("a1"),
                device: DeviceId::new("d1").unwrap(),
                presence: [(agent("a1"), Presence::Online), (agent("a2"), Presence::Away)].into(),
            },
        );
        assert_eq!(
            events,
            [InboxEvent::Hello { agent: agent("a1"), device: DeviceId::new("d1").unwrap() }]
        );
        assert_eq!(s.agent(), Some(&agent("a1")));
        assert_eq!(s.presence_of(&agent("a2")), Presence::Away);
        assert_eq!(s.presence_of(&agent("a9")), Presence::Offline, "hello is the whole picture");
    }

    #[test]
    fn presence_frames_track_each_agent() {
        let mut s = connected();
        let events =
            push(&mut s, ServerFrame::Presence { agent: agent("a2"), state: Presence::Away });
        assert_eq!(events, [InboxEvent::Presence { agent: agent("a2"), state: Presence::Away }]);
        push(&mut s, ServerFrame::Presence { agent: agent("a2"), state: Presence::Offline });
        assert_eq!(s.presence_of(&agent("a2")), Presence::Offline);
        assert_eq!(s.presence_of(&agent("never-seen")), Presence::Offline);
    }

    #[test]
    fn a_coalesced_frame_is_one_summary_event_per_conversation_it_carries_that_is_newer() {
        let mut s = connected();
        push(&mut s, ServerFrame::Summary { summary: Box::new(summary("c1", 5, None, 1)) });
        let frame = ServerFrame::Summaries {
            summaries: vec![
                summary("c1", 4, None, 9),
                summary("c2", 1, None, 2),
                summary("c3", 1, None, 0),
            ],
        };
        assert!(frame.to_text().starts_with(r#"{"type":"summaries","summaries":[{"#));
        let events = push(&mut s, frame);
        assert_eq!(
            events,
            [
                InboxEvent::Summary(Box::new(summary("c2", 1, None, 2))),
                InboxEvent::Summary(Box::new(summary("c3", 1, None, 0)))
            ],
            "c1's older version is not reported"
        );
        assert_eq!(s.summary("c1").unwrap().version, 5);
        assert_eq!(s.summary("c2").unwrap().unread, 2);
    }

    #[test]
    fn a_backlog_is_reported_whole_and_learnt_where_newer() {
        let mut s = connected();
        push(&mut s, ServerFrame::Summary { summary: Box::new(summary("c1", 5, Some("a1"), 1)) });
        let backlog = vec![summary("c1", 4, Some("a1"), 9), summary("c2", 1, Some("a1"), 2)];
        let events = push(&mut s, ServerFrame::Backlog { conversations: backlog.clone() });
        assert_eq!(events, [InboxEvent::Backlog(backlog)]);
        assert_eq!(s.summary("c1").unwrap().version, 5);
        assert_eq!(s.summary("c2").unwrap().unread, 2);
    }

    #[test]
    fn requests_get_fresh_ids_and_the_documented_frames() {
        let mut s = connected();
        let (id1, text1) = s.request(Request::Query(json!({"status": "open"}))).unwrap();
        let (id2, text2) = s
            .request(Request::Transfer {
                conversation: conv("c1"),
                to: Target::Team(TeamId::new("billing").unwrap()),
            })
            .unwrap();
        assert_ne!(id1, id2);
        assert_eq!(sent(&text1), ClientFrame::Query { id: id1, query: json!({"status": "open"}) });
        assert_eq!(
            sent(&text2),
            ClientFrame::Transfer {
                id: id2,
                conversation: conv("c1"),
                to: Target::Team(TeamId::new("billing").unwrap())
            }
        );
        let (id3, text3) = s.request(Request::Search { q: "退款".into(), limit: Some(5) }).unwrap();
        assert_eq!(sent(&text3), ClientFrame::Search { id: id3, q: "退款".into(), limit: Some(5) });
        assert_eq!(s.pending(), 3);
    }

    #[test]
    fn no_request_is_made_without_a_connection() {
        let mut s = InboxSession::new();
        assert!(matches!(s.request(Request::Counts), Err(SessionError::NotConnected)));
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn a_result_answers_its_request_once() {
        let mut s = connected();
        let (id, _) = s.request(Request::Counts).unwrap();
        let answer = ServerFrame::ok(id.clone(), json!({"total": 3}));
        assert_eq!(
            push(&mut s, answer.clone()),
            [InboxEvent::Result { id: id.clone(), outcome: Ok(json!({"total": 3})) }]
        );
        assert_eq!(push(&mut s, answer), [], "a repeated answer answers nothing");
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn a_refusal_reaches_the_request_with_its_code() {
        let mut s = connected();
        let (id, _) = s.request(Request::Query(json!({"sort": "size"}))).unwrap();
        let events = push(&mut s, ServerFrame::failed(id.clone(), "bad_query", "sort: size?"));
        assert_eq!(
            events,
            [InboxEvent::Result {
                id,
                outcome: Err(RequestError::new("bad_query", "sort: size?"))
            }]
        );
    }

    #[test]
    fn an_abandoned_request_ignores_its_late_answer() {
        let mut s = connected();
        let (id, _) = s.request(Request::Claim(conv("c1"))).unwrap();
        assert!(s.abandon(&id));
        let late = serde_json::to_value(summary("c1", 1, Some("a1"), 0)).unwrap();
        assert_eq!(push(&mut s, ServerFrame::ok(id, late)), []);
        assert!(s.summary("c1").is_none(), "nobody asked for it any more");
    }

    #[test]
    fn answers_carrying_summaries_update_what_the_device_knows() {
        let mut s = connected();
        push(&mut s, ServerFrame::Summary { summary: Box::new(summary("c1", 1, None, 1)) });
        let (query, _) = s.request(Request::Query(json!({}))).unwrap();
        let page = QueryPage {
            items: vec![summary("c1", 2, None, 4), summary("c2", 1, None, 0)],
            next_cursor: None,
        };
        push(&mut s, ServerFrame::ok(query, serde_json::to_value(&page).unwrap()));
        assert_eq!(s.summary("c1").unwrap().unread, 4);
        assert!(s.summary("c2").is_some());

        let (claim, _) = s.request(Request::Claim(conv("c2"))).unwrap();
        let claimed = serde_json::to_value(summary("c2", 2, Some("a1"), 0)).unwrap();
        push(&mut s, ServerFrame::ok(claim, claimed));
        assert_eq!(s.summary("c2").unwrap().assignee.as_deref(), Some("a1"));

        let (counts, _) = s.request(Request::Counts).unwrap();
        push(&mut s, ServerFrame::ok(counts, json!({"items": "not summaries"})));
        assert_eq!(s.summaries().len(), 2);
    }

    #[test]
    fn losing_the_connection_fails_every_unanswered_request() {
        let mut s = connected();
        let (a, _) = s.request(Request::Counts).unwrap();
        let (b, _) = s.request(Request::Claim(conv("c1"))).unwrap();
        let events = s.disconnected();
        let failed: Vec<_> = events
            .iter()
            .map(|e| match e {
                InboxEvent::Result { id, outcome: Err(e) } if e.code == DISCONNECTED => id.clone(),
                other => panic!("expected a disconnection failure, got {other:?}"),
            })
            .collect();
        assert_eq!(failed, [a, b]);
        assert_eq!(s.pending(), 0);
        assert!(!s.is_connected());
        assert!(matches!(s.request(Request::Counts), Err(SessionError::NotConnected)));
        assert_eq!(s.connected().events, [], "nothing is left to fail");
    }

    #[test]
    fn a_connection_without_a_disconnection_still_fails_the_old_requests() {
        let mut s = connected();
        let (id, _) = s.request(Request::Counts).unwrap();
        let again = s.connected();
        assert!(matches!(
            &again.events[..],
            [InboxEvent::Result { id: failed, outcome: Err(e) }] if *failed == id && e.code == DISCONNECTED
        ));
    }

    #[test]
    fn the_presence_the_user_set_is_sent_on_every_connection() {
        let mut s = InboxSession::new();
        assert_eq!(s.set_presence(Presence::Away).unwrap(), None, "not connected: remembered");
        let first = s.connected();
        assert_eq!(first.send.iter().map(|t| sent(t)).collect::<Vec<_>>(), [away()]);
        let now = s.set_presence(Presence::Online).unwrap().unwrap();
        assert_eq!(sent(&now), ClientFrame::Presence { state: Presence::Online });
        s.disconnected();
        let second = s.connected();
        assert_eq!(
            second.send.iter().map(|t| sent(t)).collect::<Vec<_>>(),
            [ClientFrame::Presence { state: Presence::Online }]
        );
        assert_eq!(s.wanted_presence(), Some(Presence::Online));
    }

    fn away() -> ClientFrame {
        ClientFrame::Presence { state: Presence::Away }
    }

    #[test]
    fn a_device_cannot_set_itself_offline() {
        let mut s = connected();
        let err = s.set_presence(Presence::Offline).unwrap_err();
        assert!(matches!(err, SessionError::Frame(FrameError::OfflineNotSettable)), "{err}");
        assert_eq!(s.wanted_presence(), None);
    }

    #[test]
    fn the_unread_badge_sums_the_agents_own_conversations() {
        let mut s = connected();
        for summary in [
            summary("c1", 1, Some("a1"), 3),
            summary("c2", 1, Some("a1"), 4),
            summary("c3", 1, Some("a2"), 10),
            summary("c4", 1, None, 7),
        ] {
            push(&mut s, ServerFrame::Summary { summary: Box::new(summary) });
        }
        assert_eq!(s.unread_total(&agent("a1")), 7);
        assert_eq!(s.unread_total(&agent("a2")), 10);
        assert_eq!(s.unread_total(&agent("a3")), 0);
        // Read on another device: the conversation's next version carries unread 0.
        push(&mut s, ServerFrame::Summary { summary: Box::new(summary("c2", 2, Some("a1"), 0)) });
        assert_eq!(s.unread_total(&agent("a1")), 3);
    }

    #[test]
    fn a_server_error_is_reported() {
        let mut s = connected();
        let error = ServerFrame::Error { code: "bad_frame".into(), message: "what?".into() };
        assert_eq!(
            push(&mut s, error),
            [InboxEvent::ServerError { code: "bad_frame".into(), message: "what?".into() }]
        );
    }

    #[test]
    fn an_unreadable_frame_is_an_error() {
        let mut s = connected();
        for text in ["nonsense", r#"{"type":"summary","summary":{"conversation":"c1"}}"#] {
            assert!(matches!(s.handle_frame(text), Err(SessionError::Frame(_))), "{text}");
        }
        let huge = format!(r#"{{"type":"error","code":"x","message":"{}"}}"#, "x".repeat(1 << 20));
        let err = s.handle_frame(&huge).unwrap_err();
        assert!(matches!(err, SessionError::Frame(FrameError::TooLarge { .. })), "{err}");
    }

    #[test]
    fn an_unreadable_answer_fails_its_request_with_the_reason() {
        let mut s = connected();
        let (id, _) = s.request(Request::Counts).unwrap();
        let text = format!(r#"{{"type":"result","id":"{id}","ok":false,"error":"nope"}}"#);
        let events = s.handle_frame(&text).unwrap();
        match &events[..] {
            [InboxEvent::Result { id: answered, outcome: Err(e) }] => {
                assert_eq!(*answered, id);
                assert_eq!(e.code, BAD_RESULT);
                assert!(e.message.contains("could not be read"), "{}", e.message);
            }
            other => panic!("expected the request to fail, got {other:?}"),
        }
        assert_eq!(s.pending(), 0);
        assert!(s.handle_frame(&text).is_err(), "answering nobody, it is just a bad frame");
    }
}
