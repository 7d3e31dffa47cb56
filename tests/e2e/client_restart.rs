//! Acceptance 4: a client process killed with unsent messages delivers them exactly once
//! after it restarts.

use std::io::BufReader;
use std::process::{Command, Stdio};

use edgedesk_core::message::Role;
use edgedesk_e2e::*;

fn spawn_device(
    relay: &Relay,
    conv: &edgedesk_core::ids::ConversationId,
    dir: &std::path::Path,
    count: usize,
    offline: bool,
) -> std::process::Child {
    let token = relay.token(&identity(Role::Visitor, "killed-visitor", "killed-device"), conv);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgedesk-device"));
    cmd.args([
        relay.base_url(),
        token,
        conv.to_string(),
        dir.display().to_string(),
        count.to_string(),
    ]);
    if offline {
        cmd.arg("offline");
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn device")
}

fn sent_ids(lines: &[String]) -> Vec<String> {
    lines.iter().filter_map(|l| l.strip_prefix("SENT ")).map(str::to_owned).collect()
}

async fn restart_and_check(
    relay: &Relay,
    conv: &edgedesk_core::ids::ConversationId,
    dir: &std::path::Path,
    written: &[String],
) {
    let who = identity(Role::Visitor, "killed-visitor", "killed-device");
    let revived = client(relay, conv, who, dir).await;
    let watcher =
        client(relay, conv, identity(Role::Agent, "agent-1", "watcher"), &dir.join("watcher"))
            .await;
    converge(relay, conv, &[&revived, &watcher], written.len()).await;
    let messages = assert_identical(&[&revived, &watcher]);
    let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(ids, written, "exactly the written messages, each once, in order");
    assert_eq!(relay.stats(conv.as_str())["messages"], written.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_with_unsent_messages_delivers_them_once_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("killed-offline");
    let dir = tmp.path().join("device");
    let mut child = spawn_device(&relay, &conv, &dir, 25, true);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let lines = read_until(&mut out, |l| l == "DONE");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let written = sent_ids(&lines);
    assert_eq!(written.len(), 25);
    assert_eq!(
        relay.stats(conv.as_str())["messages"],
        0,
        "nothing reached the relay while offline"
    );
    restart_and_check(&relay, &conv, &dir, &written).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_stream_delivers_the_rest_once_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("killed-online");
    let dir = tmp.path().join("device");
    let mut child = spawn_device(&relay, &conv, &dir, 400, false);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // Kill once some messages are acknowledged and others are still in flight.
    let lines = read_until(&mut out, |l| l.starts_with("ACKED "));
    child.kill().unwrap();
    child.wait().unwrap();
    // Whatever was printed as SENT is durable locally; more may have been written unprinted.
    let printed = sent_ids(&lines);
    assert!(!printed.is_empty());
    let who = identity(Role::Visitor, "killed-visitor", "killed-device");
    let revived = client(&relay, &conv, who, &dir).await;
    let local: Vec<String> = revived.messages().iter().map(|m| m.id.to_string()).collect();
    assert!(local.len() < 400, "the kill came before the stream ended");
    assert_eq!(&local[..printed.len()], &printed[..], "every printed send survived the kill");
    revived.shutdown().await;
    restart_and_check(&relay, &conv, &dir, &local).await;
}
