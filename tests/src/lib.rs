//! Test harness: runs the real Worker under `wrangler dev` (workerd) on a free loopback port,
//! with its own persistence directory, and kills it like a crash would (SIGKILL to the whole
//! process group: wrangler and its workerd child).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgedesk_client::{Client, ClientConfig};

pub mod raw_peer;
use edgedesk_core::client::Identity;
use edgedesk_core::ids::{ConversationId, DeviceId, ParticipantId};
use edgedesk_core::message::Role;

/// The repository root (where wrangler.toml is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A free TCP port on loopback (bound, then released for the child to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// The master key every e2e relay runs with unless a test passes its own
/// `EDGEDESK_MASTER_KEYS` (a fixed test key; never use it anywhere else).
pub const TEST_MASTER_KEYS: &str = "e2e-test:ZWRnZWRlc2stZTJlLXRlc3QtbWFzdGVyLWtleS0wMDA=";

/// Worker vars every e2e relay gets; a test's own vars replace these by name.
pub fn default_vars() -> Vec<(String, String)> {
    vec![("EDGEDESK_MASTER_KEYS".to_owned(), TEST_MASTER_KEYS.to_owned())]
}

/// A running `wrangler dev`.
pub struct Relay {
    child: Option<Child>,
    pub port: u16,
    pub state_dir: PathBuf,
    inspector: u16,
    log: PathBuf,
    vars: Vec<(String, String)>,
}

impl Relay {
    /// Starts wrangler dev persisting under `state_dir` and waits until it answers.
    pub fn start(state_dir: &Path) -> Relay {
        Self::start_with_vars(state_dir, &[])
    }

    /// Like [`Relay::start`], with Worker vars (`--var NAME:VALUE`) on top of
    /// [`default_vars`]. wrangler splits `NAME:VALUE` at the first `:` only, so values may
    /// contain `:` (checked in wrangler 4.86's `collectKeyValues`).
    pub fn start_with_vars(state_dir: &Path, vars: &[(&str, &str)]) -> Relay {
        let mut relay = Relay {
            child: None,
            port: free_port(),
            inspector: free_port(),
            state_dir: state_dir.to_owned(),
            log: state_dir.with_extension("log"),
            vars: Vec::new(),
        };
        relay.set_vars(vars);
        relay.spawn();
        relay
    }

    fn set_vars(&mut self, vars: &[(&str, &str)]) {
        let mut all = default_vars();
        for (name, value) in vars {
            all.retain(|(n, _)| n != name);
            all.push(((*name).to_owned(), (*value).to_owned()));
        }
        self.vars = all;
    }

    fn spawn(&mut self) {
        let inspector = self.inspector;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open relay log");
        let mut cmd = Command::new(repo_root().join("node_modules/.bin/wrangler"));
        cmd.current_dir(repo_root())
            .args(["dev", "--ip", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--inspector-port", &inspector.to_string()])
            .args(["--show-interactive-dev-session=false", "--log-level", "info"])
            .arg("--persist-to")
            .arg(&self.state_dir)
            .args(self.vars.iter().flat_map(|(n, v)| ["--var".to_owned(), format!("{n}:{v}")]))
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .process_group(0);
        self.child = Some(cmd.spawn().expect("spawn wrangler dev (did scripts/setup.sh run?)"));
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            if http_get(self.port, "/health").map(|(s, _)| s == 200).unwrap_or(false) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("wrangler dev exited with {status}; log:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("wrangler dev did not become ready in 180 s; log:\n{}", self.log_tail());
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL to wrangler and workerd at once: no shutdown hooks, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) with a negative pid signals the child's own process group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    /// Kills and starts again on the same persisted state and port, so clients reconnect.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Kills and starts again on the same state and port with `vars` (on top of
    /// [`default_vars`]) replacing the previous ones.
    pub fn restart_with_vars(&mut self, vars: &[(&str, &str)]) {
        self.kill();
        self.set_vars(vars);
        self.spawn();
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The conversation's stats endpoint as JSON.
    pub fn stats(&self, conversation: &str) -> serde_json::Value {
        let (status, body) =
            http_get(self.port, &format!("/v1/conversations/{conversation}/stats"))
                .expect("stats request");
        assert_eq!(status, 200, "stats: {body}");
        serde_json::from_str(&body).expect("stats json")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// A plain GET against the relay: (status, body). Any status is a success here.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut resp =
        agent().get(&format!("http://127.0.0.1:{port}{path}")).call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// An empty POST against the relay: (status, body). Any status is a success here.
pub fn http_post(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut resp = agent()
        .post(&format!("http://127.0.0.1:{port}{path}"))
        .send_empty()
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, body))
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

/// Opens an SDK client on the relay with its replica under `dir`.
pub async fn client(relay: &Relay, conv: &ConversationId, who: Identity, dir: &Path) -> Client {
    client_at(&relay.base_url(), conv, who, dir).await
}

/// Opens an SDK client on the relay at `base_url` (which need not be up).
pub async fn client_at(base_url: &str, conv: &ConversationId, who: Identity, dir: &Path) -> Client {
    client_with(base_url, conv, who, dir, true).await
}

/// Opens an SDK client, connecting right away or starting offline.
pub async fn client_with(
    base_url: &str,
    conv: &ConversationId,
    who: Identity,
    dir: &Path,
    online: bool,
) -> Client {
    let mut config = ClientConfig::new(base_url, conv.clone(), who, dir.to_owned());
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
        let relay_heads = relay.stats(conv.as_str())["heads"].clone();
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
