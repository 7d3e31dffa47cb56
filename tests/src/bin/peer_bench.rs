//! `cargo run --release -p edgedesk-e2e --bin peer_bench -- [run.mjs options]`: the peer
//! bench (tests/peer-bench/README.md). Starts the real relay under `wrangler dev` with the
//! harness ([`Relay`]), then runs `node tests/peer-bench/run.mjs`, which starts the
//! automerge-repo sync server itself and runs the same workload against both, interleaved.
//! Its output is passed through; the options are passed on to it (`--rounds`, `--sizes`,
//! `--probe`, `--writers`, `--per-writer`, `--repo-sync-throttle`, `--no-restart`, …).
//!
//! For the restart row the runner prints `PEER-BENCH RESTART-EDGEDESK`; this side then
//! SIGKILLs wrangler and workerd, answers `KILLED <epoch ms of the kill>` on the runner's
//! stdin, starts the relay again on the same state and port, and answers `RESTARTED`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use edgedesk_e2e::cpu_profile::CpuProfile;
use edgedesk_e2e::{repo_root, Relay, WORKSPACE};

const RESTART_REQUEST: &str = "PEER-BENCH RESTART-EDGEDESK";

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    // PEER_BENCH_KEEP_STATE=1 keeps the state directory, to look into what is on disk.
    let keep = std::env::var_os("PEER_BENCH_KEEP_STATE").is_some();
    // The relay rolls a conversation over every EDGEDESK_ROLLOVER_MESSAGES messages; the
    // runner's protocol client moves between epochs (PROTOCOL.md §16.2) and must know the
    // bound to upload a backlog epoch by epoch. Default: the product's (core's
    // DEFAULT_ROLLOVER_MESSAGES); PEER_BENCH_ROLLOVER=0 keeps whole conversations live, as
    // the peer does.
    let rollover = std::env::var("PEER_BENCH_ROLLOVER")
        .unwrap_or_else(|_| edgedesk_core::limits::DEFAULT_ROLLOVER_MESSAGES.to_string());
    let mut relay = Relay::start_with_vars(
        &tmp.path().join("state"),
        &[("EDGEDESK_ROLLOVER_MESSAGES", &rollover)],
    );
    println!(
        "peer_bench: edgedesk relay (wrangler dev) on {}, EDGEDESK_ROLLOVER_MESSAGES={rollover}",
        relay.base_url()
    );

    // EDGEDESK_PROFILE=out.cpuprofile: the Worker's CPU profile over the whole run (use with
    // --no-restart: a restarted relay is a new process the recording does not follow).
    let profile = CpuProfile::from_env(&relay);
    let mut runner = Command::new("node")
        .arg(repo_root().join("tests/peer-bench/run.mjs"))
        .args(&args)
        .current_dir(repo_root())
        .env("EDGEDESK_URL", relay.base_url())
        .env("EDGEDESK_JWT_KEYS", relay.keys.to_env())
        .env("EDGEDESK_WORKSPACE", WORKSPACE)
        .env("EDGEDESK_STATE_DIR", &relay.state_dir)
        .env("PEER_BENCH_RESTART", "stdio")
        .env("EDGEDESK_ROLLOVER_MESSAGES", &rollover)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn node (Node 20 on PATH, and scripts/setup.sh run?)");
    let mut to_runner = runner.stdin.take().expect("runner stdin");
    let from_runner = BufReader::new(runner.stdout.take().expect("runner stdout"));

    for line in from_runner.lines() {
        let line = line.expect("read the runner's output");
        if line != RESTART_REQUEST {
            println!("{line}");
            continue;
        }
        let at = now_ms();
        relay.kill();
        writeln!(to_runner, "KILLED {at}").expect("write to the runner");
        relay.restart(); // on the same state directory and port; panics if it never answers
        writeln!(to_runner, "RESTARTED").expect("write to the runner");
    }
    drop(to_runner);

    let status = runner.wait().expect("wait for the runner");
    if let Some(profile) = profile {
        profile.finish();
    }
    if keep {
        relay.kill();
        println!("peer_bench: state kept in {}", tmp.keep().join("state").display());
    }
    if !status.success() {
        eprintln!("peer_bench: run.mjs failed ({status}); relay log tail:\n{}", relay.log_tail());
        relay.kill(); // process::exit runs no destructors
        std::process::exit(status.code().unwrap_or(1));
    }
}
