//! A V8 CPU profile of the Worker, recorded through wrangler's inspector by
//! `tests/profile/cpu-profile.mjs` while a bench or scenario runs its workload; it prints the
//! functions with the most self time when it stops. Benches and scenarios start one when
//! `EDGEDESK_PROFILE=out.cpuprofile` is set (profile before optimising).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{repo_root, Relay};

/// Names the profile's output file; relays started while it is set keep wrangler's inspector
/// bridge (see [`crate::Relay`]).
pub const PROFILE_VAR: &str = "EDGEDESK_PROFILE";

/// A recording in progress; [`CpuProfile::finish`] writes the profile.
pub struct CpuProfile(Child);

impl CpuProfile {
    /// Starts recording if `EDGEDESK_PROFILE` names an output file.
    pub fn from_env(relay: &Relay) -> Option<CpuProfile> {
        std::env::var(PROFILE_VAR).ok().map(|out| CpuProfile::start(relay, &out))
    }

    /// Starts recording the relay's Worker into `out`; returns once it records.
    pub fn start(relay: &Relay, out: &str) -> CpuProfile {
        let mut child = Command::new("node")
            .arg(repo_root().join("tests/profile/cpu-profile.mjs"))
            .arg(relay.inspector_port().to_string())
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start node for the CPU profile");
        let stdout = child.stdout.take().expect("profiler stdout");
        let mut lines = BufReader::new(stdout).lines();
        match lines.next() {
            Some(Ok(line)) if line.contains("recording") => {}
            other => panic!("the profiler did not start: {other:?}"),
        }
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                println!("  {line}");
            }
        });
        CpuProfile(child)
    }

    /// Stops recording (the profiler stops when its standard input closes) and waits for it
    /// to write the profile and print its summary.
    pub fn finish(mut self) {
        drop(self.0.stdin.take());
        let status = self.0.wait().expect("profiler");
        assert!(status.success(), "the profiler failed: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
