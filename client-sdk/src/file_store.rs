//! The device's replica on disk: core's snapshot-plus-increments model as two files.
//!
//! `snapshot` holds the snapshot rows and only ever changes by an atomic rename, so it is
//! whole or absent. `log` is append-only: an increment is durable once its record is written
//! and `sync_data` returns, which is what lets `send_text` promise durability. A crash while
//! appending leaves at most one torn record at the end of the log; it was never reported
//! durable, so loading cuts it off. A crash between replacing the snapshot and emptying the
//! log leaves increments that the new snapshot already holds; Automerge ignores changes it
//! already has, so loading stays correct and the next compaction clears them.
//!
//! Both files are sequences of records: a `u32` little-endian length, then that many bytes.
//! A `lock` file held with an exclusive OS lock keeps two processes (or two clients) from
//! interleaving writes in one directory.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use edgedesk_core::store::{ChunkKind, ChunkStore};

const SNAPSHOT: &str = "snapshot";
const SNAPSHOT_TMP: &str = "snapshot.tmp";
const LOG: &str = "log";
const LOCK: &str = "lock";
const LEN_BYTES: usize = 4;

/// Why the on-disk replica could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} is corrupt at byte {offset}: {detail}; delete the directory to resync from the relay",
        path.display()
    )]
    Corrupt { path: PathBuf, offset: usize, detail: &'static str },
    #[error(
        "{} is in use by another edgedesk client (this process or another); \
         close it first or give each client its own data_dir",
        path.display()
    )]
    Locked { path: PathBuf },
    #[error("a chunk of {len} bytes does not fit the store's 32-bit record length")]
    TooLarge { len: usize },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FileStoreError + 'a {
    move |source| FileStoreError::Io { op, path: path.to_owned(), source }
}

/// A [`ChunkStore`] in one directory. Holds the directory's lock while it lives.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    log: File,
    /// Bytes of the log that hold whole records; `None` until the log has been scanned once.
    log_len: Option<u64>,
    _lock: File,
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, FileStoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let lock_path = dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(FileStoreError::Locked { path: dir }),
            Err(TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }
        let log_path = dir.join(LOG);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err("open", &log_path))?;
        Ok(Self { dir, log, log_len: None, _lock: lock })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Cuts a torn final record off the log and returns the whole records' bytes.
    fn recover_log(&mut self) -> Result<Vec<u8>, FileStoreError> {
        let path = self.dir.join(LOG);
        let mut bytes = fs::read(&path).map_err(io_err("read", &path))?;
        let whole = whole_records_len(&bytes);
        if whole < bytes.len() {
            // The torn record was never reported durable: dropping it loses nothing promised.
            self.log.set_len(whole as u64).map_err(io_err("truncate", &path))?;
            self.log.sync_data().map_err(io_err("sync", &path))?;
            bytes.truncate(whole);
        }
        self.log_len = Some(whole as u64);
        Ok(bytes)
    }
}

impl ChunkStore for FileStore {
    type Error = FileStoreError;

    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, FileStoreError> {
        let snap_path = self.dir.join(SNAPSHOT);
        let mut chunks = Vec::new();
        match fs::read(&snap_path) {
            Ok(bytes) => {
                for row in parse_records(&bytes, &snap_path, true)? {
                    chunks.push((ChunkKind::Snapshot, row.to_vec()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("read", &snap_path)(e)),
        }
        let log = self.recover_log()?;
        let log_path = self.dir.join(LOG);
        for rec in parse_records(&log, &log_path, false)? {
            chunks.push((ChunkKind::Increment, rec.to_vec()));
        }
        Ok(chunks)
    }

    fn append(&mut self, chunk: &[u8]) -> Result<(), FileStoreError> {
        let path = self.dir.join(LOG);
        let valid = match self.log_len {
            Some(len) => len,
            // Appending after a torn record would make every later record unreadable.
            None => {
                self.recover_log()?;
                self.log_len.unwrap_or_default()
            }
        };
        let record = record(chunk)?;
        let written = self.log.write_all(&record).and_then(|()| self.log.sync_data());
        if let Err(e) = written {
            // Cut any partial write so the next append starts on a record boundary. If even
            // that fails the next load drops the torn tail; the append stays unacknowledged.
            let _ = self.log.set_len(valid);
            self.log_len = None;
            return Err(io_err("append to", &path)(e));
        }
        self.log_len = Some(valid + record.len() as u64);
        Ok(())
    }

    fn replace_all(&mut self, snapshot: &[&[u8]]) -> Result<(), FileStoreError> {
        let tmp = self.dir.join(SNAPSHOT_TMP);
        let dest = self.dir.join(SNAPSHOT);
        let mut bytes = Vec::with_capacity(snapshot.iter().map(|r| r.len() + LEN_BYTES).sum());
        for row in snapshot {
            bytes.extend_from_slice(&record(row)?);
        }
        let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        file.write_all(&bytes).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("sync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &dest).map_err(io_err("rename into place", &dest))?;
        sync_dir(&self.dir)?;
        // From here the new snapshot is what loads; the old increments are now redundant.
        let log_path = self.dir.join(LOG);
        self.log.set_len(0).map_err(io_err("truncate", &log_path))?;
        self.log.sync_data().map_err(io_err("sync", &log_path))?;
        self.log_len = Some(0);
        Ok(())
    }
}

/// Makes a rename durable: the new directory entry survives power loss only once the
/// directory itself is synced. Only possible (and needed) on Unix.
fn sync_dir(dir: &Path) -> Result<(), FileStoreError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("sync directory", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn record(chunk: &[u8]) -> Result<Vec<u8>, FileStoreError> {
    let len =
        u32::try_from(chunk.len()).map_err(|_| FileStoreError::TooLarge { len: chunk.len() })?;
    let mut rec = Vec::with_capacity(LEN_BYTES + chunk.len());
    rec.extend_from_slice(&len.to_le_bytes());
    rec.extend_from_slice(chunk);
    Ok(rec)
}

/// Length of the longest prefix of `bytes` made of whole records.
fn whole_records_len(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(next) = next_record_end(bytes, at) {
        at = next;
    }
    at
}

/// Where the record starting at `at` ends, if it is whole.
fn next_record_end(bytes: &[u8], at: usize) -> Option<usize> {
    let header: [u8; LEN_BYTES] = bytes.get(at..at + LEN_BYTES)?.try_into().ok()?;
    let end = (at + LEN_BYTES).checked_add(u32::from_le_bytes(header) as usize)?;
    (end <= bytes.len()).then_some(end)
}

/// Splits `bytes` into records. A torn end is an error when `strict` (the snapshot is written
/// atomically, so a torn one is damage, not a crash).
fn parse_records<'a>(
    bytes: &'a [u8],
    path: &Path,
    strict: bool,
) -> Result<Vec<&'a [u8]>, FileStoreError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match next_record_end(bytes, at) {
            Some(end) => {
                out.push(&bytes[at + LEN_BYTES..end]);
                at = end;
            }
            None if strict => {
                return Err(FileStoreError::Corrupt {
                    path: path.to_owned(),
                    offset: at,
                    detail: "record runs past the end of the file",
                })
            }
            None => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgedesk_core::automerge::ActorId;
    use edgedesk_core::ids::{DeviceId, MessageId, ParticipantId};
    use edgedesk_core::message::{Author, Message, MessageKind, Role};
    use edgedesk_core::store::Persister;

    fn kinds(chunks: &[(ChunkKind, Vec<u8>)]) -> Vec<(ChunkKind, &[u8])> {
        chunks.iter().map(|(k, c)| (*k, c.as_slice())).collect()
    }

    fn message(i: usize) -> Message {
        Message {
            id: MessageId::new(format!("m{i:05}")).unwrap(),
            author: Author {
                role: Role::Visitor,
                id: ParticipantId::new("v1").unwrap(),
                name: "V".into(),
            },
            device: DeviceId::new("d1").unwrap(),
            kind: MessageKind::Text,
            body: format!("message {i}"),
            sent_at: i as i64,
            attachment: None,
        }
    }

    #[test]
    fn chunks_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        assert!(s.load().unwrap().is_empty());
        s.append(b"one").unwrap();
        s.append(b"").unwrap();
        s.append(b"three").unwrap();
        drop(s);
        let mut s = FileStore::open(dir.path()).unwrap();
        let loaded = s.load().unwrap();
        assert_eq!(
            kinds(&loaded),
            vec![
                (ChunkKind::Increment, &b"one"[..]),
                (ChunkKind::Increment, &b""[..]),
                (ChunkKind::Increment, &b"three"[..])
            ]
        );
    }

    #[test]
    fn a_torn_final_record_is_dropped_and_appends_continue_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        s.append(b"whole").unwrap();
        drop(s);
        // A crash mid-append: a length promising 100 bytes, then only 3 of them.
        let mut log = OpenOptions::new().append(true).open(dir.path().join(LOG)).unwrap();
        log.write_all(&100u32.to_le_bytes()).unwrap();
        log.write_all(b"abc").unwrap();
        drop(log);
        let mut s = FileStore::open(dir.path()).unwrap();
        assert_eq!(kinds(&s.load().unwrap()), vec![(ChunkKind::Increment, &b"whole"[..])]);
        s.append(b"next").unwrap();
        drop(s);
        let mut s = FileStore::open(dir.path()).unwrap();
        assert_eq!(
            kinds(&s.load().unwrap()),
            vec![(ChunkKind::Increment, &b"whole"[..]), (ChunkKind::Increment, &b"next"[..])]
        );
    }

    #[test]
    fn a_torn_length_prefix_is_dropped_even_when_appending_before_loading() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        s.append(b"a").unwrap();
        drop(s);
        let mut log = OpenOptions::new().append(true).open(dir.path().join(LOG)).unwrap();
        log.write_all(&[7, 0]).unwrap();
        drop(log);
        let mut s = FileStore::open(dir.path()).unwrap();
        s.append(b"b").unwrap();
        drop(s);
        let mut s = FileStore::open(dir.path()).unwrap();
        assert_eq!(
            kinds(&s.load().unwrap()),
            vec![(ChunkKind::Increment, &b"a"[..]), (ChunkKind::Increment, &b"b"[..])]
        );
    }

    #[test]
    fn replace_all_swaps_in_the_snapshot_and_empties_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        s.append(b"old").unwrap();
        s.replace_all(&[b"row1", b"row2"]).unwrap();
        s.append(b"inc").unwrap();
        drop(s);
        assert!(!dir.path().join(SNAPSHOT_TMP).exists());
        let mut s = FileStore::open(dir.path()).unwrap();
        assert_eq!(
            kinds(&s.load().unwrap()),
            vec![
                (ChunkKind::Snapshot, &b"row1"[..]),
                (ChunkKind::Snapshot, &b"row2"[..]),
                (ChunkKind::Increment, &b"inc"[..])
            ]
        );
    }

    #[test]
    fn a_torn_snapshot_is_reported_as_corrupt_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(SNAPSHOT), [9, 0, 0, 0, 1]).unwrap();
        let err = FileStore::open(dir.path()).unwrap().load().unwrap_err();
        assert!(matches!(err, FileStoreError::Corrupt { offset: 0, .. }), "{err:?}");
        assert!(err.to_string().contains(SNAPSHOT), "{err}");
    }

    #[test]
    fn a_second_store_on_the_same_directory_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let first = FileStore::open(dir.path()).unwrap();
        assert!(matches!(FileStore::open(dir.path()), Err(FileStoreError::Locked { .. })));
        drop(first);
        FileStore::open(dir.path()).unwrap();
    }

    #[test]
    fn a_document_survives_a_crash_between_snapshot_rename_and_log_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let (mut doc, mut p) = Persister::open::<edgedesk_core::shared_doc::SharedDoc>(
            FileStore::open(dir.path()).unwrap(),
            ActorId::random(),
        )
        .unwrap();
        for i in 0..10 {
            doc.append(&message(i), 0).unwrap();
            p.persist(&doc).unwrap();
        }
        let old_log = fs::read(dir.path().join(LOG)).unwrap();
        p.compact(&doc).unwrap();
        drop(p);
        // The crash: the snapshot was renamed into place but the log was never truncated.
        fs::write(dir.path().join(LOG), &old_log).unwrap();
        let (loaded, mut p) = Persister::open::<edgedesk_core::shared_doc::SharedDoc>(
            FileStore::open(dir.path()).unwrap(),
            ActorId::random(),
        )
        .unwrap();
        assert_eq!(loaded.messages(), doc.messages());
        assert_eq!(loaded.heads(), doc.heads());
        assert_eq!(p.stats().increment_rows, 10);
        // And the replica keeps working: a new write, a reload, the same document.
        let mut loaded = loaded;
        loaded.append(&message(10), 0).unwrap();
        p.persist(&loaded).unwrap();
        drop(p);
        let (again, _) = Persister::open::<edgedesk_core::shared_doc::SharedDoc>(
            FileStore::open(dir.path()).unwrap(),
            ActorId::random(),
        )
        .unwrap();
        assert_eq!(again.message_count(), 11);
    }
}
