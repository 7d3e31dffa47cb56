//! The sealed history (PROTOCOL.md §16) on a native device: pages over HTTP, kept on disk for
//! reading offline, and the move to a new epoch when the relay says the conversation rolled
//! over.
//!
//! Replica layout under `data_dir/<conversation>/`: epoch 0 in the directory itself (as
//! before rollovers existed), epoch `n > 0` in `epoch-n/`, and the file `epoch` naming the
//! current one. The pointer is replaced atomically only once the new epoch's replica holds
//! every message that must move, so a crash at any point leaves either the old replica (the
//! move runs again: the sealed segment it checks against never changes) or the new one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use edgedesk_core::client::ClientSession;
use edgedesk_core::rollover::history::{Archived, Page};
use edgedesk_core::rollover::migrate;

use super::error::ClientError;
use super::{now_ms, open_store};
use crate::FileStore;

/// The file naming the replica's epoch.
const EPOCH_FILE: &str = "epoch";
/// Pages fetched are kept here, one file per page asked for.
const CACHE_DIR: &str = "history";
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest page the relay serves: a segment is read in as few requests as it takes.
const SEGMENT_PAGE: usize = 500;

/// Where the replica of `epoch` lives under the conversation's directory.
pub(super) fn replica_dir(conversation_dir: &Path, epoch: u64) -> PathBuf {
    match epoch {
        0 => conversation_dir.to_path_buf(),
        n => conversation_dir.join(format!("epoch-{n}")),
    }
}

/// The epoch of the replica on disk (0 if it never moved).
pub(super) fn stored_epoch(conversation_dir: &Path) -> Result<u64, ClientError> {
    let path = conversation_dir.join(EPOCH_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| ClientError::ReplicaLayout {
            path,
            reason: format!(
                "holds {:?}, not an epoch number",
                text.chars().take(20).collect::<String>()
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(ClientError::ReplicaLayout { path, reason: e.to_string() }),
    }
}

fn write_epoch(conversation_dir: &Path, epoch: u64) -> Result<(), ClientError> {
    let layout = |path: &Path, e: std::io::Error| ClientError::ReplicaLayout {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let tmp = conversation_dir.join("epoch.tmp");
    let path = conversation_dir.join(EPOCH_FILE);
    std::fs::write(&tmp, epoch.to_string()).map_err(|e| layout(&tmp, e))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| layout(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| layout(&path, e))?;
    std::fs::File::open(conversation_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| layout(conversation_dir, e))
}

/// Removes replicas of epochs other than `current` left by a move (the one moved from, or a
/// move cut short before its pointer was written).
pub(super) fn remove_stale_epochs(conversation_dir: &Path, current: u64) {
    let Ok(entries) = std::fs::read_dir(conversation_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(|n| n.strip_prefix("epoch-")) else { continue };
        if n.parse::<u64>().is_ok_and(|n| n != current) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    if current > 0 {
        // Epoch 0's replica files sit in the directory itself.
        for f in ["snapshot", "snapshot.tmp", "log"] {
            let _ = std::fs::remove_file(conversation_dir.join(f));
        }
    }
}

/// One page of history from the relay: `query` as in PROTOCOL.md §16.3.
pub(super) async fn fetch(url: &str, token: &str, query: String) -> Result<Page, ClientError> {
    let (url, bearer) = (format!("{url}?{query}"), format!("Bearer {token}"));
    let got = tokio::task::spawn_blocking(move || -> Result<(u16, String), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(HTTP_TIMEOUT))
            .build()
            .into();
        let mut resp =
            agent.get(&url).header("authorization", &bearer).call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().map_err(|e| e.to_string())?;
        Ok((status, body))
    })
    .await
    .map_err(|e| ClientError::HistoryUnreachable { reason: e.to_string() })?;
    let (status, body) = got.map_err(|reason| ClientError::HistoryUnreachable { reason })?;
    if status != 200 {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        return Err(ClientError::HistoryRefused {
            status,
            code: v["error"].as_str().unwrap_or_default().to_owned(),
            message: v["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    serde_json::from_str(&body).map_err(|e| ClientError::HistoryRefused {
        status,
        code: "unreadable_page".into(),
        message: e.to_string(),
    })
}

/// A page for the app: fetched and kept on disk, or, when the relay is unreachable, the copy
/// kept from an earlier fetch of the same page.
pub(super) async fn page(
    conversation_dir: &Path,
    url: &str,
    token: &str,
    before: Option<&str>,
    limit: usize,
) -> Result<Page, ClientError> {
    let mut query = format!("limit={limit}");
    if let Some(b) = before {
        query.push_str(&format!("&before={}", crate::endpoint::encode(b)));
    }
    let key: String = format!("{}-{limit}", before.unwrap_or("end"))
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    let cached = conversation_dir.join(CACHE_DIR).join(format!("{key}.json"));
    match fetch(url, token, query).await {
        Ok(page) => {
            // Pages older than the newest one never change; the newest grows at the next
            // rollover and is replaced whenever it is fetched again.
            if let Ok(json) = serde_json::to_vec(&page) {
                let _ = std::fs::create_dir_all(conversation_dir.join(CACHE_DIR));
                let _ = std::fs::write(&cached, json);
            }
            Ok(page)
        }
        Err(ClientError::HistoryUnreachable { reason }) => match std::fs::read(&cached) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|_| ClientError::HistoryUnreachable { reason }),
            Err(_) => Err(ClientError::HistoryUnreachable { reason }),
        },
        Err(e) => Err(e),
    }
}

/// Every message of segment `epoch`, in order, and the live epoch.
async fn whole_segment(
    url: &str,
    token: &str,
    epoch: u64,
) -> Result<(Vec<Archived>, u64), ClientError> {
    let mut all: Vec<Archived> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut query = format!("epoch={epoch}&limit={SEGMENT_PAGE}");
        if let Some(b) = &before {
            query.push_str(&format!("&before={b}"));
        }
        let page = fetch(url, token, query).await?;
        let mut part = page.messages;
        part.append(&mut all);
        all = part;
        match page.before {
            Some(b) => before = Some(b),
            None => return Ok((all, page.epoch)),
        }
    }
}

/// What a move did: the epoch moved to, and how many messages were written into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub from: u64,
    pub to: u64,
    pub rewritten: usize,
}

/// Moves the device to the live epoch (after close 4409): reads its epoch's sealed segment,
/// writes the unacknowledged messages that are not in it into a fresh replica of the live
/// epoch, points the directory at it and swaps it in.
pub(super) async fn move_over(
    session: &Mutex<ClientSession<FileStore>>,
    epoch: &AtomicU64,
    conversation_dir: &Path,
    url: &str,
    token: &str,
) -> Result<Moved, ClientError> {
    let lock = || session.lock().unwrap_or_else(PoisonError::into_inner);
    let from = epoch.load(Ordering::SeqCst);
    let (sealed, to) = match whole_segment(url, token, from).await {
        // Retention shredded this replica's segment (it was away longer than the workspace
        // keeps sealed history): nothing of it can be checked, so every unacknowledged
        // message is written again (PROTOCOL.md §16.4).
        Err(ClientError::HistoryRefused { status: 410, .. }) => {
            (Vec::new(), fetch(url, token, "limit=1".into()).await?.epoch)
        }
        other => other?,
    };
    if to <= from {
        return Err(ClientError::HistoryRefused {
            status: 200,
            code: "not_moved".into(),
            message: format!("the relay says the live epoch is {to}; this replica is at {from}"),
        });
    }
    let next_dir = replica_dir(conversation_dir, to);
    // A move cut short before its pointer was written left this: start it again.
    let _ = std::fs::remove_dir_all(&next_dir);
    // From here to the swap under the session's lock: no write of the app lands in the
    // replica being left after its unsent messages were taken. (File writes only, no await.)
    let mut session = lock();
    let unsent = migrate::unsent(session.pending_messages(), &sealed);
    {
        let me = session.identity().clone();
        let mut fresh = ClientSession::open(FileStore::open(&next_dir)?, me)?;
        fresh.carry_over(&unsent, now_ms())?;
    }
    write_epoch(conversation_dir, to)?;
    session.replace_shared(FileStore::open(&next_dir)?)?;
    drop(session);
    epoch.store(to, Ordering::SeqCst);
    remove_stale_epochs(conversation_dir, to);
    Ok(Moved { from, to, rewritten: unsent.len() })
}

/// Opens the replica of the directory's current epoch.
pub(super) async fn open_current(conversation_dir: &Path) -> Result<(FileStore, u64), ClientError> {
    let epoch = stored_epoch(conversation_dir)?;
    remove_stale_epochs(conversation_dir, epoch);
    Ok((open_store(&replica_dir(conversation_dir, epoch)).await?, epoch))
}
