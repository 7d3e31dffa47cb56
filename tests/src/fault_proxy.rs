//! A loopback TCP proxy that makes the network bad on purpose (issue 17's network faults):
//! each connection through it is delayed chunk by chunk, and some are refused at once or cut
//! after a random number of bytes, mid-frame and mid-request alike. Clients pointed at
//! [`FaultProxy::base_url`] reach the relay only through it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How bad the network is.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Per mille of connections closed as soon as they are accepted.
    pub refuse_per_mille: u64,
    /// Per mille of connections cut after a random number of bytes (up to `cut_within`).
    pub cut_per_mille: u64,
    pub cut_within: u64,
    /// Each chunk waits up to this long before it is passed on.
    pub max_delay: Duration,
}

/// What the proxy did, for the test's report.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub connections: AtomicU64,
    pub refused: AtomicU64,
    pub cut: AtomicU64,
}

pub struct FaultProxy {
    pub port: u16,
    pub counts: Arc<FaultCounts>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts proxying 127.0.0.1:<a free port> to 127.0.0.1:`target` with `faults`; `seed`
    /// makes the choices repeatable.
    pub async fn start(target: u16, faults: Faults, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let counts = Arc::new(FaultCounts::default());
        let c = counts.clone();
        let task = tokio::spawn(async move {
            let mut n = seed | 1;
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                n = next(n);
                c.connections.fetch_add(1, Ordering::Relaxed);
                if n % 1000 < faults.refuse_per_mille {
                    c.refused.fetch_add(1, Ordering::Relaxed);
                    drop(client);
                    continue;
                }
                n = next(n);
                let cut_after = (n % 1000 < faults.cut_per_mille)
                    .then(|| 1 + next(n) % faults.cut_within.max(1));
                let (c2, seed) = (c.clone(), next(next(n)));
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    if pipe(client, server, cut_after, faults.max_delay, seed).await {
                        c2.cut.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        FaultProxy { port, counts, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn report(&self) -> String {
        format!(
            "{} connections, {} refused, {} cut mid-stream",
            self.counts.connections.load(Ordering::Relaxed),
            self.counts.refused.load(Ordering::Relaxed),
            self.counts.cut.load(Ordering::Relaxed)
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn next(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Copies both ways with delays until either side closes or `cut_after` bytes (both
/// directions together) have passed; whether it cut.
async fn pipe(
    client: TcpStream,
    server: TcpStream,
    cut_after: Option<u64>,
    max_delay: Duration,
    seed: u64,
) -> bool {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let passed = Arc::new(AtomicU64::new(0));
    let limit = cut_after.unwrap_or(u64::MAX);
    let max = max_delay.as_millis().max(1) as u64;
    let one_way = move |mut from: tokio::net::tcp::OwnedReadHalf,
                        mut to: tokio::net::tcp::OwnedWriteHalf,
                        passed: Arc<AtomicU64>,
                        mut n: u64| async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let Ok(read) = from.read(&mut buf).await else { return };
            if read == 0 {
                return;
            }
            n = next(n);
            tokio::time::sleep(Duration::from_millis(n % max)).await;
            let before = passed.fetch_add(read as u64, Ordering::Relaxed);
            let allowed = limit.saturating_sub(before).min(read as u64) as usize;
            if to.write_all(&buf[..allowed]).await.is_err() || allowed < read {
                return;
            }
        }
    };
    let mut up = tokio::spawn(one_way(cr, sw, passed.clone(), seed));
    let mut down = tokio::spawn(one_way(sr, cw, passed.clone(), next(seed)));
    // Either direction ending ends the connection: dropping the other's halves closes it.
    tokio::select! {
        _ = &mut up => down.abort(),
        _ = &mut down => up.abort(),
    }
    passed.load(Ordering::Relaxed) >= limit
}
