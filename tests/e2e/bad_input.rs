//! Acceptance 7: bad input gets a clear status or close code and reason; the conversation keeps
//! serving its other devices and nothing stored changes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use edgedesk_core::frame::{FrameType, MAX_FRAME_PAYLOAD};
use edgedesk_core::ids::ConversationId;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

/// Opens a raw WebSocket, sends `frame`, and returns the close code, reason and any notice.
async fn close_after(
    relay: &Relay,
    conv: &ConversationId,
    frame: WsMessage,
) -> (u16, String, Option<serde_json::Value>) {
    let token = relay.token(&identity(Role::Visitor, "mallory", "raw"), conv);
    let mut ws = connect_raw(relay, conv, Some(&token), "device=raw").await.expect("handshake");
    ws.send(frame).await.expect("send");
    let mut notice = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, ws.next()).await {
        match msg {
            Ok(WsMessage::Binary(b)) if b.first() == Some(&(FrameType::Notice as u8)) => {
                notice = serde_json::from_slice(&b[1..]).ok();
            }
            Ok(WsMessage::Close(Some(c))) => {
                return (u16::from(c.code), c.reason.to_string(), notice)
            }
            Ok(WsMessage::Close(None)) => panic!("closed without a code"),
            Ok(_) => {}
            Err(e) => panic!("socket error instead of a close frame: {e}"),
        }
    }
    panic!("the relay did not close the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_frames_are_refused_clearly_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("bad");
    let good =
        client(&relay, &conv, identity(Role::Visitor, "v1", "good"), &tmp.path().join("g")).await;
    good.send_text("before the attack").await.unwrap();
    converge(&relay, &conv, &[&good], 1).await;

    // HTTP level.
    let token = relay.token(&identity(Role::Visitor, "v1", "raw"), &conv);
    let (status, body) =
        http_request(relay.port, "GET", &connect_path(&conv), Some(&token), None).unwrap();
    assert_eq!(status, 426, "{body}");
    assert!(body.contains("upgrade_required"));
    let (status, body) = http_get(relay.port, "/v1/no/such/route").unwrap();
    assert_eq!(status, 404, "{body}");
    let (status, body) =
        http_get(relay.port, &format!("/v1/workspaces/{WORKSPACE}/conversations/bad%20id/connect"))
            .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("bad_conversation_id"), "{body}");
    let (status, code, _) = handshake_refusal(connect_raw(&relay, &conv, Some(&token), "").await);
    assert_eq!((status, code.as_str()), (400, "bad_device"));

    let stored_before = relay.stats(conv.as_str());

    // Frame level: each closes only its own socket, with a code and a reason.
    let cases: Vec<(WsMessage, u16, &str)> = vec![
        (WsMessage::Binary(vec![0x7f, 1, 2, 3].into()), 1002, "unknown frame type"),
        (
            WsMessage::Binary(vec![FrameType::SyncShared as u8, 0x42, 0xff, 0x00, 0x13].into()),
            1007,
            "sync message",
        ),
        (
            WsMessage::Binary(vec![FrameType::SyncShared as u8; MAX_FRAME_PAYLOAD + 100].into()),
            1009,
            "limit",
        ),
        (WsMessage::Text("hello".into()), 1003, "binary frames"),
        (
            WsMessage::Binary(vec![FrameType::Ephemeral as u8, b'n', b'o'].into()),
            1007,
            "JSON object",
        ),
    ];
    for (frame, code, reason) in cases {
        let (got, text, notice) = close_after(&relay, &conv, frame).await;
        assert_eq!(got, code, "reason: {text}");
        assert!(text.contains(reason), "close reason {text:?} should mention {reason:?}");
        let notice = notice.expect("an error notice precedes the close");
        assert_eq!(notice["code"], code);
        // The good device is still served after every attack.
        let m = good.send_text(&format!("after close {code}")).await.unwrap();
        good.wait_until(Duration::from_secs(30), |v| v.delivered_at(&m.id).is_some())
            .await
            .unwrap();
    }

    // Nothing the attacks sent was stored: only the good device's messages are there.
    let after = relay.stats(conv.as_str());
    assert_eq!(after["messages"], 6);
    assert!(good.messages().iter().all(|m| m.author.id.as_str() == "v1"));
    assert_eq!(stored_before["messages"], 1);
}
