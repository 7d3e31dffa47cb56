//! The native `Client` against a stand-in relay: core's `Relay` behind a tokio-tungstenite
//! server in this process. Exercises the SDK's own job (socket, reconnection, offline
//! switch, events, restart from disk); the real Worker is tested end to end in tests/.

// The large error types here are tungstenite's and core's, in test code.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgedesk_client::{
    Backoff, Client, ClientConfig, ClientSession, ConversationId, DeviceId, Event, FileStore,
    FileStoreError, Identity, ParticipantId, Role, SdkEvent,
};
use edgedesk_core::auth::keys::Key;
use edgedesk_core::auth::{authenticate, jwt, Claims, Keyring};
use edgedesk_core::ids::WorkspaceId;
use edgedesk_core::relay::{Outgoing, PeerInfo, Relay};
use edgedesk_core::store::MemStore;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(20);
/// Messages each side writes while the visitor is offline.
const OFFLINE: usize = 150;

struct FakeRelay {
    relay: Mutex<Option<Relay<MemStore>>>,
    peers: Mutex<HashMap<u64, mpsc::UnboundedSender<WsMessage>>>,
    next_peer: AtomicU64,
    /// Real token checks (core's, as the Worker runs them) on every handshake.
    keys: Keyring,
    handshakes: AtomicU64,
}

impl FakeRelay {
    fn dispatch(&self, outgoing: Vec<Outgoing>) {
        let peers = self.peers.lock().unwrap();
        for out in outgoing {
            if let Some(tx) = peers.get(&out.to) {
                for f in out.frames {
                    let _ = tx.send(WsMessage::binary(f));
                }
            }
        }
    }

    fn with_relay<R>(&self, f: impl FnOnce(&mut Relay<MemStore>) -> R) -> R {
        f(self.relay.lock().unwrap().as_mut().unwrap())
    }

    /// Closes every connection with `code`, as a relay shedding load or restarting would.
    fn kick_all(&self, code: u16, reason: &str) {
        for tx in self.peers.lock().unwrap().values() {
            let frame =
                CloseFrame { code: CloseCode::from(code), reason: reason.to_owned().into() };
            let _ = tx.send(WsMessage::Close(Some(frame)));
        }
    }
}

async fn start_relay() -> (String, Arc<FakeRelay>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(FakeRelay {
        relay: Mutex::new(Some(Relay::open(MemStore::default(), MemStore::default()).unwrap())),
        peers: Mutex::default(),
        next_peer: AtomicU64::new(0),
        keys: Keyring::new(vec![Key::random("test").unwrap()]).unwrap(),
        handshakes: AtomicU64::new(0),
    });
    let s = state.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve(tcp, s.clone()));
        }
    });
    (format!("http://{addr}"), state)
}

fn query_param(query: &str, key: &str) -> String {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn serve(tcp: TcpStream, state: Arc<FakeRelay>) {
    let mut query = String::new();
    let mut path = String::new();
    let mut claims = None;
    let callback = |req: &Request, resp: Response| {
        state.handshakes.fetch_add(1, Ordering::SeqCst);
        path = req.uri().path().to_owned();
        query = req.uri().query().unwrap_or_default().to_owned();
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        match authenticate(token, &state.keys, now_s()) {
            Ok(c) => {
                claims = Some(c);
                Ok(resp)
            }
            Err(e) => {
                let body = serde_json::json!({"error": e.code(), "message": e.to_string()});
                let mut refusal = ErrorResponse::new(Some(body.to_string()));
                *refusal.status_mut() = e.status().try_into().unwrap();
                refusal.headers_mut().insert("x-edgedesk-error", e.code().parse().unwrap());
                Err(refusal)
            }
        }
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else { return };
    assert_eq!(path, "/v1/workspaces/acme/conversations/conv-1/connect");
    let claims: Claims = claims.unwrap();
    let info = PeerInfo {
        role: claims.role,
        participant: claims.sub.clone(),
        device: DeviceId::new(query_param(&query, "device")).unwrap(),
        fast: query_param(&query, "caps").split(',').any(|c| c == "changes"),
        acks: query_param(&query, "caps").split(',').any(|c| c == "acks"),
        name: Some(claims.display_name()),
    };
    let peer = state.next_peer.fetch_add(1, Ordering::SeqCst);
    let (tx, mut rx) = mpsc::unbounded_channel();
    state.peers.lock().unwrap().insert(peer, tx);
    let (mut sink, mut stream) = ws.split();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let closing = matches!(msg, WsMessage::Close(_));
            if sink.send(msg).await.is_err() || closing {
                break;
            }
        }
    });
    let greeting = state.with_relay(|r| r.connect(peer, info));
    state.dispatch(greeting.frames);
    while let Some(Ok(msg)) = stream.next().await {
        if let WsMessage::Binary(data) = msg {
            let out = state.with_relay(|r| r.receive(peer, &data, 1_700_000_000_000)).unwrap();
            state.dispatch(out.frames);
        }
    }
    state.peers.lock().unwrap().remove(&peer);
    state.with_relay(|r| r.disconnect(peer));
    writer.abort();
}

/// A token for `who` as `role` from the fake relay's key, valid from `exp_in` seconds ago.
fn token(relay: &FakeRelay, role: Role, who: &str, exp_in: i64) -> String {
    let claims = Claims {
        workspace: WorkspaceId::new("acme").unwrap(),
        sub: ParticipantId::new(who).unwrap(),
        role,
        conversation: Some(ConversationId::new("conv-1").unwrap()),
        exp: now_s() + exp_in,
        iat: None,
        nbf: None,
        name: None,
        locale: None,
        vip: false,
        attrs: Default::default(),
        channel: None,
        sid: None,
    };
    jwt::sign(relay.keys.signing(), &claims).unwrap()
}

fn config(
    base_url: &str,
    relay: &FakeRelay,
    dir: &std::path::Path,
    role: Role,
    who: &str,
) -> ClientConfig {
    ClientConfig {
        base_url: base_url.to_owned(),
        workspace: WorkspaceId::new("acme").unwrap(),
        conversation: ConversationId::new("conv-1").unwrap(),
        identity: Identity {
            role,
            participant: ParticipantId::new(who).unwrap(),
            name: format!("{who} name"),
            device: DeviceId::new(format!("{who}-dev")).unwrap(),
        },
        token: token(relay, role, who, 3600),
        data_dir: dir.to_owned(),
        backoff: Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(200) },
        start_online: true,
    }
}

async fn settled(c: &Client, count: usize) {
    c.wait_until(WAIT, |v| v.message_count() == count && v.pending().is_empty() && v.in_sync())
        .await
        .unwrap_or_else(|e| {
            panic!("{e}: {} messages, pending {:?}", c.messages().len(), c.pending())
        });
}

async fn next_matching(
    rx: &mut tokio::sync::broadcast::Receiver<SdkEvent>,
    pred: impl Fn(&SdkEvent) -> bool,
) -> SdkEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = rx.recv().await.unwrap();
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("event did not arrive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_sync_go_offline_reconnect_and_restart() {
    let (url, relay) = start_relay().await;
    let dir_v = tempfile::tempdir().unwrap();
    let dir_a = tempfile::tempdir().unwrap();
    let visitor =
        Client::open(config(&url, &relay, dir_v.path(), Role::Visitor, "v1")).await.unwrap();
    let agent = Client::open(config(&url, &relay, dir_a.path(), Role::Agent, "a1")).await.unwrap();
    let mut agent_events = agent.events();

    for i in 0..20 {
        visitor.send_text(&format!("hello {i}")).await.unwrap();
    }
    settled(&visitor, 20).await;
    settled(&agent, 20).await;
    assert_eq!(visitor.heads(), agent.heads());
    let first = visitor.messages()[0].clone();
    assert!(visitor.delivered_at(&first.id).is_some());
    let seen =
        next_matching(&mut agent_events, |e| matches!(e, SdkEvent::Core(Event::Message(_)))).await;
    assert!(matches!(seen, SdkEvent::Core(Event::Message(m)) if m.id == first.id));

    // Offline writing on one side while the other keeps talking.
    visitor.set_online(false);
    visitor.wait_until(WAIT, |v| !v.is_connected()).await.unwrap();
    for i in 0..OFFLINE {
        visitor.send_text(&format!("offline {i}")).await.unwrap();
        agent.send_text(&format!("agent {i}")).await.unwrap();
    }
    assert_eq!(visitor.pending().len(), OFFLINE);
    visitor.set_online(true);
    let total = 20 + 2 * OFFLINE;
    settled(&visitor, total).await;
    settled(&agent, total).await;
    assert_eq!(visitor.messages(), agent.messages());

    // Read marks and ephemerals travel.
    let last = agent.messages().last().unwrap().id.clone();
    assert!(agent.mark_read(&last).await.unwrap());
    let a1 = ParticipantId::new("a1").unwrap();
    visitor.wait_until(WAIT, |v| v.read_mark(&a1).as_ref() == Some(&last)).await.unwrap();
    let mut visitor_events = visitor.events();
    agent.send_ephemeral(serde_json::json!({ "typing": true })).unwrap();
    let typing =
        next_matching(&mut visitor_events, |e| matches!(e, SdkEvent::Core(Event::Ephemeral(_))))
            .await;
    let SdkEvent::Core(Event::Ephemeral(v)) = typing else { unreachable!() };
    assert_eq!(v["data"]["typing"], true);
    assert!(agent.send_ephemeral(serde_json::json!("not an object")).is_err());

    // The relay closes everyone: the code reaches the app and the clients come back.
    let mut visitor_events = visitor.events();
    relay.kick_all(4001, "going away for a test");
    let gone =
        next_matching(&mut visitor_events, |e| matches!(e, SdkEvent::Disconnected { .. })).await;
    assert_eq!(
        gone,
        SdkEvent::Disconnected { code: Some(4001), reason: "going away for a test".into() }
    );
    next_matching(&mut visitor_events, |e| *e == SdkEvent::Connected).await;
    visitor.send_text("after the kick").await.unwrap();
    settled(&agent, total + 1).await;
    // The agent can hold the message before the relay's delivery mark reaches its writer.
    settled(&visitor, total + 1).await;

    // A crash while offline: the unsent messages come back from disk and are delivered.
    visitor.set_online(false);
    visitor.wait_until(WAIT, |v| !v.is_connected()).await.unwrap();
    let unsent = visitor.send_text("written just before the crash").await.unwrap();
    let identity = visitor.identity();
    drop(visitor);
    // What a restart finds on disk (looked at before a new Client starts syncing it away).
    let on_disk = loop {
        match FileStore::open(dir_v.path().join("conv-1")) {
            Ok(store) => break ClientSession::open(store, identity.clone()).unwrap(),
            // The dropped client's task lets go of the directory a moment after the drop.
            Err(FileStoreError::Locked { .. }) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(on_disk.pending(), vec![unsent.id.clone()]);
    drop(on_disk);
    let visitor =
        Client::open(config(&url, &relay, dir_v.path(), Role::Visitor, "v1")).await.unwrap();
    settled(&visitor, total + 2).await;
    settled(&agent, total + 2).await;
    assert!(relay.with_relay(|r| r.doc().delivered_at(&unsent.id)).is_some());

    visitor.shutdown().await;
    agent.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_relay_is_retried_and_writes_stay_pending() {
    // Bind and drop, so the port refuses connections.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let (_, relay) = start_relay().await;
    let url = format!("http://127.0.0.1:{port}");
    let c = Client::open(config(&url, &relay, dir.path(), Role::Visitor, "v1")).await.unwrap();
    let mut events = c.events();
    next_matching(&mut events, |e| matches!(e, SdkEvent::ConnectFailed { .. })).await;
    next_matching(&mut events, |e| matches!(e, SdkEvent::ConnectFailed { .. })).await;
    let m = c.send_text("nobody hears this yet").await.unwrap();
    assert_eq!(c.pending(), vec![m.id]);
    assert!(!c.is_connected());
    let err = c.wait_until(Duration::from_millis(100), |v| v.in_sync()).await.unwrap_err();
    assert!(matches!(err, edgedesk_client::ClientError::Timeout { .. }), "{err}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_reported_retried_with_backoff_and_replaced_by_set_token() {
    let (url, relay) = start_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&url, &relay, dir.path(), Role::Visitor, "v1");
    cfg.token = token(&relay, Role::Visitor, "v1", -3600);
    let c = Client::open(cfg).await.unwrap();
    let mut events = c.events();
    let refused = |e: &SdkEvent| matches!(e, SdkEvent::AuthRefused { .. });
    let first = next_matching(&mut events, refused).await;
    let SdkEvent::AuthRefused { status, code, message } = first else { unreachable!() };
    assert_eq!((status, code.as_str()), (401, "token_expired"), "{message}");
    // It keeps trying, but backs off: nowhere near one attempt per round trip.
    next_matching(&mut events, refused).await;
    let before = relay.handshakes.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let per_second = relay.handshakes.load(Ordering::SeqCst) - before;
    assert!(per_second < 100, "{per_second} handshakes in a second: a hot loop");
    assert!(!c.is_connected());

    // A fresh token is used at once.
    c.set_token(token(&relay, Role::Visitor, "v1", 3600));
    next_matching(&mut events, |e| *e == SdkEvent::Connected).await;
    c.send_text("let in").await.unwrap();
    settled(&c, 1).await;
    c.shutdown().await;
}

#[test]
fn the_token_stays_out_of_debug_output() {
    let cfg = ClientConfig::new(
        "http://h",
        WorkspaceId::new("w").unwrap(),
        ConversationId::new("c").unwrap(),
        Identity {
            role: Role::Agent,
            participant: ParticipantId::new("a").unwrap(),
            name: "A".into(),
            device: DeviceId::new("d").unwrap(),
        },
        "secret.token.value",
        "/tmp/x",
    );
    assert!(!format!("{cfg:?}").contains("secret.token"));
}

#[test]
fn a_client_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Client>();
    shareable::<SdkEvent>();
}
