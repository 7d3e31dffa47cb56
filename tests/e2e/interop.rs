//! PROTOCOL.md §16 is enough for an outside client: `tests/interop/rollover.mjs`, a client
//! written from PROTOCOL.md alone on the official JS Automerge, writes offline across two
//! rollovers of the real relay and moves between epochs itself; every message is stored once.

use std::process::Command;

use edgedesk_e2e::*;

#[test]
fn a_client_written_from_the_protocol_alone_moves_between_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let relay =
        Relay::start_with_vars(&tmp.path().join("state"), &[("EDGEDESK_ROLLOVER_MESSAGES", "10")]);
    let out = Command::new("node")
        .arg("tests/interop/rollover.mjs")
        .current_dir(repo_root())
        .env("EDGEDESK_URL", relay.base_url())
        .env("EDGEDESK_JWT_KEYS", relay.keys.to_env())
        .env("EDGEDESK_WORKSPACE", WORKSPACE)
        .output()
        .expect("node (installed by scripts/setup.sh)");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "rollover.mjs failed:\n{text}\nrelay log:\n{}", relay.log_tail());
    assert!(text.contains("interop rollover: 55 messages"), "{text}");
}
