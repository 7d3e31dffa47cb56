//! The shell's own mechanics (reconnection, request timeouts, frames tied to their
//! connection) against a stand-in server speaking just enough of the protocol. The protocol
//! itself is core's (tested there) and is exercised end to end by the e2e tests against the
//! real Inbox object on workerd.

use std::time::Duration;

use edgedesk_core::inbox::protocol::{ClientFrame, ServerFrame};
use edgedesk_core::internal_doc::Priority;
use edgedesk_core::workflow::status::State;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request as Upgrade, Response};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use super::*;

type ServerSocket = WebSocketStream<TcpStream>;

const PATIENCE: Duration = Duration::from_secs(10);

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

fn config(base: &str, request_timeout: Duration) -> InboxConfig {
    let mut config = InboxConfig::new(
        base,
        WorkspaceId::new("acme").unwrap(),
        DeviceId::new("d1").unwrap(),
        "token-1",
    );
    config.backoff = Backoff { initial: Duration::from_millis(10), max: Duration::from_millis(50) };
    config.request_timeout = request_timeout;
    config
}

/// Accepts the next upgrade: the socket, the requested path and query, the bearer header.
// tungstenite's callback returns its (large) error response type; this one never fails.
#[allow(clippy::result_large_err)]
async fn accept(listener: &TcpListener) -> (ServerSocket, String, String) {
    let (stream, _) = listener.accept().await.unwrap();
    let mut seen = (String::new(), String::new());
    let socket = tokio_tungstenite::accept_hdr_async(stream, |req: &Upgrade, res: Response| {
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        seen = (req.uri().to_string(), auth.unwrap_or_default().to_owned());
        Ok(res)
    })
    .await
    .unwrap();
    (socket, seen.0, seen.1)
}

async fn hello(socket: &mut ServerSocket) {
    let hello = ServerFrame::Hello {
        agent: ParticipantId::new("a1").unwrap(),
        device: DeviceId::new("d1").unwrap(),
        presence: BTreeMap::new(),
    };
    push(socket, hello).await;
}

async fn push(socket: &mut ServerSocket, frame: ServerFrame) {
    socket.send(WsMessage::text(frame.to_text())).await.unwrap();
}

/// The client's next text frame (pings are answered by tungstenite on the way).
async fn next_frame(socket: &mut ServerSocket) -> ClientFrame {
    loop {
        match socket.next().await.unwrap().unwrap() {
            WsMessage::Text(text) => return ClientFrame::parse(text.as_str()).unwrap(),
            WsMessage::Close(frame) => panic!("the client closed the socket: {frame:?}"),
            _ => {}
        }
    }
}

fn summary(conversation: &str, version: u64) -> Summary {
    Summary {
        conversation: conversation.into(),
        version,
        status: State::Open,
        snoozed_until: None,
        priority: Priority::Normal,
        assignee: Some("a1".into()),
        team: None,
        tags: vec![],
        channel: "web".into(),
        language: None,
        visitor_name: None,
        vip: false,
        visitor: None,
        attributes: Default::default(),
        unread: 1,
        waiting_since: None,
        last_message_at: None,
        last_preview: None,
        last_preview_role: None,
        rating: None,
        created_at: 0,
        messages: 1,
        shredded_through: None,
    }
}

#[tokio::test]
async fn a_dropped_socket_fails_the_unanswered_request_and_the_reconnection_restores_presence() {
    let (listener, base) = listen().await;
    let inbox = InboxClient::connect(config(&base, PATIENCE)).await.unwrap();
    let mut events = inbox.events();

    let (mut socket, path, auth) = accept(&listener).await;
    assert_eq!(path, "/v1/workspaces/acme/inbox/connect?device=d1");
    assert_eq!(auth, "Bearer token-1");
    hello(&mut socket).await;
    inbox.wait_until(PATIENCE, |s| s.agent().is_some()).await.unwrap();
    inbox.set_presence(Presence::Away).unwrap();
    assert_eq!(next_frame(&mut socket).await, ClientFrame::Presence { state: Presence::Away });

    let (counts, ()) = tokio::join!(inbox.counts(), async move {
        assert!(matches!(next_frame(&mut socket).await, ClientFrame::Counts { .. }));
        drop(socket); // no answer, no close frame: the connection just dies
    });
    assert!(matches!(counts, Err(ClientError::InboxDisconnected { .. })), "{counts:?}");

    let (mut socket, _, _) = accept(&listener).await;
    assert_eq!(
        next_frame(&mut socket).await,
        ClientFrame::Presence { state: Presence::Away },
        "the presence the user set comes back first on a new connection"
    );
    hello(&mut socket).await;
    let (page, ()) = tokio::join!(inbox.query(json!({"status": "open"})), async {
        let ClientFrame::Query { id, query } = next_frame(&mut socket).await else {
            panic!("expected a query")
        };
        assert_eq!(query, json!({"status": "open"}));
        let page = json!({"items": [summary("c1", 3)], "next_cursor": null});
        push(&mut socket, ServerFrame::ok(id, page)).await;
    });
    assert_eq!(page.unwrap().items, [summary("c1", 3)]);
    assert_eq!(inbox.summary(&ConversationId::new("c1").unwrap()), Some(summary("c1", 3)));
    assert_eq!(inbox.unread_total(&ParticipantId::new("a1").unwrap()), 1);

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let disconnected = seen.iter().position(|e| matches!(e, InboxSdkEvent::Disconnected { .. }));
    let failed = seen.iter().position(|e| {
        matches!(e, InboxSdkEvent::Inbox(InboxEvent::Result { outcome: Err(e), .. })
            if e.code == DISCONNECTED)
    });
    assert!(disconnected.is_some() && failed > disconnected, "{seen:?}");
    assert_eq!(seen.iter().filter(|e| matches!(e, InboxSdkEvent::Connected)).count(), 2);

    let ((), close) = tokio::join!(inbox.shutdown(), async {
        loop {
            match socket.next().await {
                Some(Ok(WsMessage::Close(frame))) => break frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                other => panic!("expected a closing handshake, got {other:?}"),
            }
        }
    });
    assert_eq!(close, Some(1000));
}

#[tokio::test]
async fn a_request_the_inbox_never_answers_times_out_and_its_late_answer_is_ignored() {
    let (listener, base) = listen().await;
    let inbox = InboxClient::connect(config(&base, Duration::from_millis(300))).await.unwrap();
    let (mut socket, _, _) = accept(&listener).await;
    hello(&mut socket).await;

    let c1 = ConversationId::new("c1").unwrap();
    let (claim, id) = tokio::join!(inbox.claim(&c1), async {
        next_frame(&mut socket).await.request_id().cloned().unwrap()
    });
    match claim {
        Err(ClientError::Timeout { what }) => assert!(what.contains("claim of c1"), "{what}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(inbox.with_session(InboxSession::pending), 0);

    let late = serde_json::to_value(summary("c1", 1)).unwrap();
    push(&mut socket, ServerFrame::ok(id, late)).await;
    push(&mut socket, ServerFrame::Summary { summary: Box::new(summary("c2", 1)) }).await;
    inbox.wait_until(PATIENCE, |s| s.summary("c2").is_some()).await.unwrap();
    assert_eq!(inbox.summary(&c1), None, "an answer nobody waits for teaches nothing");
}

#[tokio::test]
async fn a_request_waits_for_the_connection_but_not_forever() {
    let (listener, base) = listen().await;
    let inbox = InboxClient::connect(config(&base, Duration::from_millis(300))).await.unwrap();
    // The TCP connection is queued by the kernel, but the upgrade is never answered.
    match inbox.counts().await {
        Err(ClientError::Timeout { what }) => {
            assert!(what.contains("a connection to the inbox"), "{what}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }

    let (counts, ()) = tokio::join!(inbox.counts(), async {
        let (mut socket, _, _) = accept(&listener).await;
        let id = next_frame(&mut socket).await.request_id().cloned().unwrap();
        push(&mut socket, ServerFrame::ok(id, json!({"total": 2}))).await;
    });
    assert_eq!(counts.unwrap(), json!({"total": 2}));
}

#[tokio::test]
async fn a_refusal_names_the_code_and_the_request() {
    let (listener, base) = listen().await;
    let inbox = InboxClient::connect(config(&base, PATIENCE)).await.unwrap();
    let (mut socket, _, _) = accept(&listener).await;
    let (result, ()) = tokio::join!(inbox.search("退款", 5), async {
        let ClientFrame::Search { id, q, limit } = next_frame(&mut socket).await else {
            panic!("expected a search")
        };
        assert_eq!((q.as_str(), limit), ("退款", Some(5)));
        push(&mut socket, ServerFrame::failed(id, "bad_query", "q: too short")).await;
    });
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ClientError::InboxRefused { code, .. } if code == "bad_query"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "the inbox refused the search (bad_query): q: too short");
}
