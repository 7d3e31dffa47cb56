//! A V8 CPU profile of the Worker, recorded through the Worker's workerd inspector by
//! `tests/profile/cpu-profile.mjs` while a bench or scenario runs its workload; it prints the
//! functions with the most self time when it stops. Benches and scenarios start one when
//! `EDGEDESK_PROFILE=out.cpuprofile` is set (profile before optimising).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process_cpu::relay_processes;
use crate::{repo_root, Relay};

/// A recording in progress; [`CpuProfile::finish`] writes the profile.
pub struct CpuProfile(Child);

impl CpuProfile {
    /// Starts recording if `EDGEDESK_PROFILE` names an output file.
    pub fn from_env(relay: &Relay) -> Option<CpuProfile> {
        std::env::var("EDGEDESK_PROFILE").ok().map(|out| CpuProfile::start(relay, &out))
    }

    /// Starts recording the relay's Worker into `out`; returns once it records.
    pub fn start(relay: &Relay, out: &str) -> CpuProfile {
        let mut child = Command::new("node")
            .arg(repo_root().join("tests/profile/cpu-profile.mjs"))
            .arg(worker_inspector_port(relay).to_string())
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

/// The inspector port of the relay's Worker workerd: wrangler's own DevTools bridge is off
/// under the harness, and through it the profile would also carry the bridge's per-subrequest
/// events.
fn worker_inspector_port(relay: &Relay) -> u16 {
    let workers = relay_processes(relay).map(|p| p.worker).unwrap_or_default();
    for pid in &workers {
        for port in listening_ports(pid) {
            if crate::http_get(port, "/json")
                .is_ok_and(|(s, body)| s == 200 && body.contains("webSocketDebuggerUrl"))
            {
                return port;
            }
        }
    }
    panic!("no inspector among the relay's Worker workerd processes {workers:?}");
}

/// The loopback TCP ports process `pid` listens on (its socket inodes matched in /proc/net/tcp).
fn listening_ports(pid: &str) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is f[1] (hex ip:port), st is f[3] (0A = LISTEN), inode is f[9].
            let listening = f.get(3) == Some(&"0A");
            let ours = f.get(9).is_some_and(|i| inodes.iter().any(|x| x == i));
            let port = f.get(1)?.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            (listening && ours).then_some(port).flatten()
        })
        .collect()
}
