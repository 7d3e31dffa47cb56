//! Test harness: runs the real Worker under `wrangler dev` (workerd) on a free loopback port,
//! with its own persistence directory, and kills it like a crash would (SIGKILL to the whole
//! process group: wrangler and its workerd child).
//!
//! Each relay gets fresh random token keys (two, so rotation can be tested) and a site key
//! for [`WORKSPACE`], passed as `--var NAME:VALUE` (wrangler splits at the first `:` only,
//! so values with colons arrive whole). The developer's `.dev.vars` is not read: tests see
//! exactly the variables given here.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgedesk_client::{Client, ClientConfig};
pub mod cpu_profile;
pub mod fault_proxy;
pub mod inbox;
pub mod process_cpu;
pub mod raw_peer;
pub mod webhook_receiver;
pub mod wrangler_config;

use edgedesk_core::auth::keys::Key;
use edgedesk_core::auth::{jwt, Claims, Keyring};
use edgedesk_core::client::Identity;
use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId, WorkspaceId};
use edgedesk_core::message::Role;

/// The master key every e2e relay runs with unless a test passes its own
/// `EDGEDESK_MASTER_KEYS` (a fixed test key; never use it anywhere else).
pub const TEST_MASTER_KEYS: &str = "e2e-test:ZWRnZWRlc2stZTJlLXRlc3QtbWFzdGVyLWtleS0wMDA=";

/// The workspace every test conversation lives in.
pub const WORKSPACE: &str = "ws-test";
/// The public widget key configured for [`WORKSPACE`].
pub const SITE_KEY: &str = "site-test";
/// How long tokens minted by the harness last.
pub const TOKEN_TTL_SECONDS: i64 = 3600;

/// The repository root (where wrangler.toml is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// SIGKILLs a child started with `process_group(0)` and everything in its group (wrangler and
/// workerd, node and chromium), then reaps it.
pub fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) with a negative pid signals the child's own process group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
}

/// A free TCP port on loopback (bound, then released for the child to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Why `wrangler dev` did not come up; the message carries its log.
#[derive(Debug)]
enum SpawnError {
    PortTaken(String),
    RuntimeDidNotStart(String),
    Failed(String),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (SpawnError::PortTaken(m) | SpawnError::RuntimeDidNotStart(m) | SpawnError::Failed(m)) =
            self;
        f.write_str(m)
    }
}

/// A running `wrangler dev`.
pub struct Relay {
    child: Option<Child>,
    pub port: u16,
    pub state_dir: PathBuf,
    /// Given to wrangler for its DevTools bridge, which is off: parallel relays then never
    /// contend for its default port.
    inspector: u16,
    log: PathBuf,
    /// The keys the relay verifies tokens with (`EDGEDESK_JWT_KEYS`): `new` signs, `old`
    /// verifies too, as during a key rotation.
    pub keys: Keyring,
    /// Variables given by the test, on top of (and replacing) the harness's own.
    vars: Vec<(String, String)>,
}

impl Relay {
    /// Starts wrangler dev persisting under `state_dir` and waits until it answers.
    pub fn start(state_dir: &Path) -> Relay {
        Relay::start_with_vars(state_dir, &[])
    }

    /// [`Relay::start`] with extra Worker variables; one named like a harness variable
    /// (`EDGEDESK_JWT_KEYS`, `EDGEDESK_SITE_KEYS`) replaces it.
    pub fn start_with_vars(state_dir: &Path, vars: &[(&str, &str)]) -> Relay {
        let keys =
            Keyring::new(vec![Key::random("new").expect("key"), Key::random("old").expect("key")])
                .expect("keyring");
        let mut relay = Relay {
            child: None,
            port: free_port(),
            inspector: free_port(),
            state_dir: state_dir.to_owned(),
            log: state_dir.with_extension("log"),
            keys,
            vars: owned(vars),
        };
        // Ports are picked free and released before wrangler binds them, so a test starting
        // its relay at the same moment can take one: then the relay starts on other ports.
        // The same for "the Workers runtime failed to start" with nothing else in the log (seen
        // once in a fresh-clone CI run while three tests of one binary started their relays
        // together; workerd's own internal ports are picked the same way).
        for attempt in 0.. {
            match relay.try_spawn() {
                Ok(()) => break,
                Err(SpawnError::PortTaken(m) | SpawnError::RuntimeDidNotStart(m))
                    if attempt < 3 =>
                {
                    eprintln!("relay start failed, trying again on other ports:\n{m}");
                    relay.kill(); // whatever of its process group is left
                    relay.port = free_port();
                    relay.inspector = free_port();
                }
                Err(e) => panic!("{e}"),
            }
        }
        relay
    }

    /// Every variable the Worker gets: the harness's, then the test's (which win).
    fn all_vars(&self) -> Vec<(String, String)> {
        let mut all = vec![
            ("EDGEDESK_JWT_KEYS".to_owned(), self.keys.to_env()),
            ("EDGEDESK_SITE_KEYS".to_owned(), format!("{SITE_KEY}:{WORKSPACE}")),
            ("EDGEDESK_MASTER_KEYS".to_owned(), TEST_MASTER_KEYS.to_owned()),
        ];
        for (k, v) in &self.vars {
            all.retain(|(name, _)| name != k);
            all.push((k.clone(), v.clone()));
        }
        all
    }

    fn spawn(&mut self) {
        if let Err(e) = self.try_spawn() {
            panic!("{e}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), SpawnError> {
        let inspector = self.inspector;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open relay log");
        let empty_env = self.state_dir.with_extension("empty.env");
        std::fs::write(&empty_env, "").expect("write empty env file");
        let config = wrangler_config::harness_config();
        let mut cmd = Command::new(repo_root().join("node_modules/.bin/wrangler"));
        cmd.current_dir(repo_root())
            .arg("dev")
            .arg("--config")
            .arg(&config)
            .args(["--ip", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--inspector-port", &inspector.to_string()])
            .args(["--show-interactive-dev-session=false", "--log-level", "info"])
            .arg("--persist-to")
            .arg(&self.state_dir)
            // Naming an env file (an empty one) stops wrangler from reading .dev.vars.
            .arg("--env-file")
            .arg(&empty_env);
        for (name, value) in self.all_vars() {
            cmd.arg("--var").arg(format!("{name}:{value}"));
        }
        cmd.env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            // No fetch of request.cf's data from workers.cloudflare.com (offline: one error
            // per start in the log); edgedesk does not read request.cf.
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .process_group(0);
        // wrangler dev bridges the Worker's inspector to DevTools and enables its Network
        // domain there: every subrequest (a conversation's push to its inbox, one per message)
        // then becomes inspector events that its proxy workerd parses and its node process
        // formats into a debug log file (measured: 3.9 ms of CPU per message under load, half
        // a core in node). wrangler has no flag to turn the bridge off; it stays off in a VS
        // Code debug terminal, which this variable says (nothing attaches without VS Code's
        // bootloader in NODE_OPTIONS). CPU profiles connect to the Worker's own inspector.
        cmd.env("VSCODE_INSPECTOR_OPTIONS", "edgedesk-harness");
        self.child = Some(cmd.spawn().expect("spawn wrangler dev (did scripts/setup.sh run?)"));
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            if http_get(self.port, "/health").map(|(s, _)| s == 200).unwrap_or(false) {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                let message =
                    format!("wrangler dev exited with {status}; log:\n{}", self.log_tail());
                let port = format!("Address already in use (127.0.0.1:{})", self.port);
                return Err(if message.contains(&port) {
                    SpawnError::PortTaken(message)
                } else if message.contains("The Workers runtime failed to start") {
                    SpawnError::RuntimeDidNotStart(message)
                } else {
                    SpawnError::Failed(message)
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(SpawnError::Failed(format!(
            "wrangler dev did not become ready in 180 s; log:\n{}",
            self.log_tail()
        )))
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL to wrangler and workerd at once: no shutdown hooks, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }

    /// Kills and starts again on the same persisted state, port and variables, so clients
    /// reconnect.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Kills and starts again on the same port and state with `vars` replacing the test's
    /// previous variables (the harness's keys stay unless `vars` names them).
    pub fn restart_with_vars(&mut self, vars: &[(&str, &str)]) {
        self.vars = owned(vars);
        self.restart();
    }

    /// A token for `who` signed with the relay's current key: visitors are scoped to `conv`,
    /// agents and admins to the whole workspace.
    pub fn token(&self, who: &Identity, conv: &ConversationId) -> String {
        mint(self.keys.signing(), &claims_for(who, conv))
    }

    /// A token of `role` for the whole workspace (conversation scope only for visitors).
    pub fn token_as(&self, role: Role, who: &str, conv: &ConversationId) -> String {
        self.token(&identity(role, who, "any"), conv)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The relay log's lines containing `needle` (the first 30): what the Worker reported
    /// about one subsystem, without the request lines around it.
    pub fn log_lines(&self, needle: &str) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter(|l| l.contains(needle)).take(30).collect::<Vec<_>>().join("\n")
    }

    /// A workspace-wide admin token for [`WORKSPACE`].
    pub fn admin_token(&self) -> String {
        let any = ConversationId::new("any").expect("conversation id");
        self.token_as(Role::Admin, "harness-admin", &any)
    }

    /// `PUT`s `json` as [`WORKSPACE`]'s configuration with an admin token: (status, body).
    pub fn put_config(&self, json: &str) -> (u16, String) {
        let token = self.admin_token();
        http_request(self.port, "PUT", &config_path(), Some(&token), Some(json))
            .expect("config PUT")
    }

    /// Puts `config` as the workspace configuration; panics with the relay's answer if it is
    /// refused.
    pub fn configure(&self, config: &serde_json::Value) {
        let (status, body) = self.put_config(&config.to_string());
        assert_eq!(status, 200, "config refused: {body}");
    }

    /// `GET`s [`WORKSPACE`]'s configuration with an admin token: (status, body).
    pub fn get_config(&self) -> (u16, String) {
        let token = self.admin_token();
        http_request(self.port, "GET", &config_path(), Some(&token), None).expect("config GET")
    }

    /// The conversation's stats endpoint as JSON, read with an admin token.
    pub fn stats(&self, conversation: &str) -> serde_json::Value {
        self.try_stats(conversation).unwrap_or_else(|e| panic!("stats: {e}"))
    }

    /// [`Self::stats`], with a request that failed (a busy relay past the 5 s timeout, a
    /// refusal) as an error instead of a panic: for waits that ask again.
    pub fn try_stats(&self, conversation: &str) -> Result<serde_json::Value, String> {
        let conv = ConversationId::new(conversation).expect("conversation id");
        let token = self.token_as(Role::Admin, "harness-admin", &conv);
        let (status, body) = http_request(self.port, "GET", &stats_path(&conv), Some(&token), None)
            .map_err(|e| format!("request: {e}"))?;
        if status != 200 {
            return Err(format!("{status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("not JSON: {e}"))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

fn owned(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A plain GET against the relay: (status, body). Any status is a success here.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    http_request(port, "GET", path, None, None)
}

/// A request against the relay with an optional bearer token and JSON body: (status, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    http_full(port, method, path, token, body).map(|(s, _, b)| (s, b))
}

/// Status, headers (lowercase names) and body of an HTTP answer.
pub type HttpAnswer = (u16, Vec<(String, String)>, String);

/// Like [`http_request`], also returning the response headers.
pub fn http_full(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<HttpAnswer, String> {
    http_send(port, method, path, token, &[], body)
}

/// Like [`http_full`], with extra request headers (e.g. `If-Match`).
pub fn http_send(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<HttpAnswer, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}{path}");
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if let Some(b) = &bearer {
        all.push(("authorization", b));
    }
    let sent = match (method, body) {
        ("POST" | "PUT", body) => {
            let req = if method == "PUT" { agent.put(&url) } else { agent.post(&url) };
            let req = all
                .iter()
                .fold(req.header("content-type", "application/json"), |r, (k, v)| r.header(*k, *v));
            req.send(body.unwrap_or_default())
        }
        (method, None) => {
            let req = match method {
                "GET" => agent.get(&url),
                "OPTIONS" => agent.options(&url),
                "DELETE" => agent.delete(&url),
                other => return Err(format!("http_send: no {other} support")),
            };
            all.iter().fold(req, |r, (k, v)| r.header(*k, *v)).call()
        }
        (method, Some(_)) => return Err(format!("http_send: no body with {method}")),
    };
    let mut resp = sent.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = resp.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, headers, body))
}

/// The test workspace as an id.
pub fn workspace() -> WorkspaceId {
    WorkspaceId::new(WORKSPACE).expect("workspace id")
}

/// `/v1/workspaces/{WORKSPACE}/conversations/{conv}/connect`.
pub fn connect_path(conv: &ConversationId) -> String {
    format!("/v1/workspaces/{WORKSPACE}/conversations/{conv}/connect")
}

/// `/v1/workspaces/{WORKSPACE}/config`.
pub fn config_path() -> String {
    format!("/v1/workspaces/{WORKSPACE}/config")
}

/// `/v1/workspaces/{WORKSPACE}/conversations/{conv}/stats`.
pub fn stats_path(conv: &ConversationId) -> String {
    format!("/v1/workspaces/{WORKSPACE}/conversations/{conv}/stats")
}

/// Seconds since the epoch.
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The claims the harness gives `who` in [`WORKSPACE`]: its role and participant, its name,
/// visitors scoped to `conv`, valid for [`TOKEN_TTL_SECONDS`].
pub fn claims_for(who: &Identity, conv: &ConversationId) -> Claims {
    Claims {
        workspace: workspace(),
        sub: who.participant.clone(),
        role: who.role,
        conversation: (who.role == Role::Visitor).then(|| conv.clone()),
        exp: now_s() + TOKEN_TTL_SECONDS,
        iat: Some(now_s()),
        nbf: None,
        name: Some(who.name.clone()),
        locale: None,
        vip: false,
        attrs: Default::default(),
        channel: None,
        sid: None,
    }
}

/// Signs any claims (valid or not: tests build bad ones on purpose) with `key`.
pub fn mint(key: &Key, claims: &impl serde::Serialize) -> String {
    jwt::sign(key, claims).expect("sign")
}

/// A unique conversation id per test run.
pub fn conversation(name: &str) -> ConversationId {
    ConversationId::new(format!("{name}-{}", edgedesk_core::ids::random_hex::<4>())).expect("id")
}

pub fn identity(role: Role, who: &str, device: &str) -> Identity {
    Identity {
        role,
        participant: ParticipantId::new(who).expect("participant"),
        name: who.to_owned(),
        device: DeviceId::new(device).expect("device"),
    }
}

/// Opens an SDK client on the relay with its replica under `dir`, with a token for `who`.
pub async fn client(relay: &Relay, conv: &ConversationId, who: Identity, dir: &Path) -> Client {
    let token = relay.token(&who, conv);
    client_at(&relay.base_url(), &token, conv, who, dir).await
}

/// Opens an SDK client on the relay at `base_url` (which need not be up) with `token`.
pub async fn client_at(
    base_url: &str,
    token: &str,
    conv: &ConversationId,
    who: Identity,
    dir: &Path,
) -> Client {
    client_with(base_url, token, conv, who, dir, true).await
}

/// Opens an SDK client, connecting right away or starting offline.
pub async fn client_with(
    base_url: &str,
    token: &str,
    conv: &ConversationId,
    who: Identity,
    dir: &Path,
    online: bool,
) -> Client {
    let mut config =
        ClientConfig::new(base_url, workspace(), conv.clone(), who, token, dir.to_owned());
    config.start_online = online;
    config.backoff.initial = Duration::from_millis(50);
    config.backoff.max = Duration::from_millis(500);
    Client::open(config).await.expect("open client")
}

/// Waits until every client holds `count` messages, none pending, and all replicas and the
/// relay have the same heads. Panics with each replica's state if that does not happen.
pub async fn converge(relay: &Relay, conv: &ConversationId, clients: &[&Client], count: usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // A relay too busy to answer within its timeout is not converged yet.
        let relay_heads =
            relay.try_stats(conv.as_str()).map_or(serde_json::Value::Null, |s| s["heads"].clone());
        let states: Vec<(usize, usize, bool, serde_json::Value)> = clients
            .iter()
            .map(|c| {
                c.with_view(|v| {
                    (
                        v.message_count(),
                        v.pending().len(),
                        v.in_sync(),
                        serde_json::json!(v.heads()),
                    )
                })
            })
            .collect();
        let done = states.iter().all(|(n, pending, sync, heads)| {
            *n == count && *pending == 0 && *sync && *heads == relay_heads
        });
        if done {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "no convergence on {count} messages; relay {relay_heads}; clients (count, pending, in_sync, heads): {states:?}\nrelay log:\n{}",
                relay.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `q` quantile (0..=1) of `sorted` by nearest rank, as every bench and scenario reports
/// its latencies; zero when nothing was measured.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// Waits (up to `within`) until every one of `clients` is in the relay's live epoch (it moved
/// with every rollover, PROTOCOL.md §16), holds nothing unacknowledged, is in sync and holds
/// the relay's heads. Panics with each device's state if that does not happen.
pub async fn settle_all(
    relay: &Relay,
    conv: &ConversationId,
    clients: &[&Client],
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let stats = relay.try_stats(conv.as_str()).ok();
        let live = stats.as_ref().and_then(|s| s["epoch"].as_u64());
        let relay_heads = stats.map_or(serde_json::Value::Null, |s| s["heads"].clone());
        let states: Vec<(u64, usize, bool, serde_json::Value)> = clients
            .iter()
            .map(|c| {
                c.with_view(|v| {
                    (c.epoch(), v.pending().len(), v.in_sync(), serde_json::json!(v.heads()))
                })
            })
            .collect();
        // In sync says only that the relay holds all a device holds: the relay's heads say the
        // device also holds all the relay holds (others' last messages may still be on the way).
        let settled = |(e, p, s, h): &(u64, usize, bool, serde_json::Value)| {
            Some(*e) == live && *p == 0 && *s && *h == relay_heads
        };
        if states.iter().all(settled) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "no convergence: relay epoch {live:?}, heads {relay_heads}; devices (epoch, pending, in sync, heads): {states:?}\n{}",
                relay.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every message `client` can show: the sealed history paged back `limit` at a time (a page
/// the relay does not give is asked again: tests run it through a faulty network too), then
/// its live replica.
pub async fn whole_conversation(
    client: &Client,
    limit: usize,
) -> Vec<edgedesk_core::message::Message> {
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = match client.history(before.as_deref(), limit).await {
            Ok(page) => page,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => panic!("history page: {e}"),
        };
        assert!(page.messages.len() <= limit);
        let mut part: Vec<_> = page.messages.into_iter().map(|a| a.message).collect();
        part.append(&mut all);
        all = part;
        match page.before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    all.extend(client.messages());
    all
}

/// Asserts all clients hold the same messages in the same order, each id exactly once.
pub fn assert_identical(clients: &[&Client]) -> Vec<edgedesk_core::message::Message> {
    let first = clients[0].messages();
    let ids: std::collections::HashSet<_> = first.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), first.len(), "a message id appears more than once");
    for c in &clients[1..] {
        assert_eq!(c.messages(), first, "replicas differ");
        assert_eq!(c.heads(), clients[0].heads());
    }
    first
}

/// Reads lines from a child's stdout until `pred` matches one; returns the lines read.
pub fn read_until(
    reader: &mut BufReader<std::process::ChildStdout>,
    pred: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        let l = line.trim_end().to_owned();
        line.clear();
        let done = pred(&l);
        lines.push(l);
        if done {
            break;
        }
    }
    lines
}

/// A raw WebSocket to the relay, for tests that speak the protocol by hand.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a raw WebSocket to `conv`'s connect endpoint with `query` (e.g. `device=d1`) and, if
/// given, `token` as `Authorization: Bearer`.
pub async fn connect_raw(
    relay: &Relay,
    conv: &ConversationId,
    token: Option<&str>,
    query: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://127.0.0.1:{}{}?{query}", relay.port, connect_path(conv));
    let mut request = url.into_client_request()?;
    if let Some(t) = token {
        let value = format!("Bearer {t}").parse().expect("header value");
        request.headers_mut().insert("authorization", value);
    }
    tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)
}

/// How a WebSocket handshake was refused: status, the `x-edgedesk-error` code, and the JSON
/// body if it arrived with the headers (tungstenite keeps only those bytes; `Null` if not).
/// Panics if the handshake was not refused with an HTTP answer.
pub fn handshake_refusal(
    result: Result<Ws, tokio_tungstenite::tungstenite::Error>,
) -> (u16, String, serde_json::Value) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let code = resp
                .headers()
                .get("x-edgedesk-error")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = resp.body().as_deref().unwrap_or_default();
            let json = serde_json::from_slice(body).unwrap_or_default();
            (resp.status().as_u16(), code, json)
        }
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected an HTTP refusal, the handshake succeeded"),
    }
}

/// Every file under `dir` (recursively) whose bytes contain `needle`: how tests check what
/// workerd wrote to disk. The same search serves their positive controls, so a search that
/// cannot find anything fails them.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    all_files(dir)
        .into_iter()
        .filter(|f| bytes_contain(&std::fs::read(f).expect("read a state file"), needle))
        .collect()
}

pub fn bytes_contain(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a state directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}
