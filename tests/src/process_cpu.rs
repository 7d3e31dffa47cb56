//! The processes a `wrangler dev` relay runs as and the CPU time each used, read from /proc
//! (Linux), so a bench or scenario can say which of them a workload costs: the Worker's
//! workerd (every object and the front Worker, the part a deployment runs), wrangler's proxy
//! workerd (on the public port; not in a deployment), wrangler's node process, and the test
//! process itself.

use crate::Relay;

/// CPU seconds used so far, by process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RelayCpu {
    pub worker: f64,
    pub proxy: f64,
    pub wrangler: f64,
    pub this_process: f64,
}

impl std::ops::Sub for RelayCpu {
    type Output = RelayCpu;
    fn sub(self, o: RelayCpu) -> RelayCpu {
        RelayCpu {
            worker: self.worker - o.worker,
            proxy: self.proxy - o.proxy,
            wrangler: self.wrangler - o.wrangler,
            this_process: self.this_process - o.this_process,
        }
    }
}

impl std::ops::Add for RelayCpu {
    type Output = RelayCpu;
    fn add(self, o: RelayCpu) -> RelayCpu {
        RelayCpu {
            worker: self.worker + o.worker,
            proxy: self.proxy + o.proxy,
            wrangler: self.wrangler + o.wrangler,
            this_process: self.this_process + o.this_process,
        }
    }
}

/// (comm, process group, utime + stime ticks) of a process.
fn stat(pid: &str) -> Option<(String, String, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_owned();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some((comm, f.get(2)?.to_string(), ticks))
}

fn cmdline(pid: &str) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// The processes `relay` runs as, by pid: the harness starts wrangler in a process group of
/// its own, with two workerd in it, the proxy (its entry socket is the relay's public port)
/// and the Worker's. `None` if wrangler is not found (not Linux, or the relay is down).
pub struct RelayProcesses {
    pub wrangler: String,
    pub proxy: Vec<String>,
    pub worker: Vec<String>,
}

pub fn relay_processes(relay: &Relay) -> Option<RelayProcesses> {
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    let state = relay.state_dir.to_string_lossy().into_owned();
    let wrangler = pids.iter().find(|pid| {
        let args = cmdline(pid);
        args.windows(2).any(|w| w[0] == "--persist-to" && w[1] == state)
    })?;
    let (_, group, _) = stat(wrangler)?;
    let proxy_entry = format!("entry=127.0.0.1:{}", relay.port);
    let mut out = RelayProcesses { wrangler: wrangler.clone(), proxy: vec![], worker: vec![] };
    for pid in
        pids.iter().filter(|pid| stat(pid).is_some_and(|(c, g, _)| c == "workerd" && g == group))
    {
        if cmdline(pid).iter().any(|a| a.ends_with(&proxy_entry)) {
            out.proxy.push(pid.clone());
        } else {
            out.worker.push(pid.clone());
        }
    }
    Some(out)
}

/// CPU used so far by `relay`'s processes ([`relay_processes`]). Zero for each process not
/// found.
pub fn relay_cpu(relay: &Relay) -> RelayCpu {
    let ticks = |pid: &str| stat(pid).map_or(0.0, |(_, _, t)| t / 100.0);
    let this_process = ticks("self");
    let Some(p) = relay_processes(relay) else {
        return RelayCpu { this_process, ..RelayCpu::default() };
    };
    RelayCpu {
        worker: p.worker.iter().map(|pid| ticks(pid)).sum(),
        proxy: p.proxy.iter().map(|pid| ticks(pid)).sum(),
        wrangler: ticks(&p.wrangler),
        this_process,
    }
}
