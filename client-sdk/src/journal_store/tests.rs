use std::collections::BTreeMap;

use edgedesk_core::client::{ClientSession, Identity};
use edgedesk_core::ids::{DeviceId, ParticipantId};
use edgedesk_core::message::Role;

use super::*;

/// IndexedDB's object store as far as the journal sees it: rows under keys that only grow,
/// and transactions that apply whole or not at all.
#[derive(Default)]
struct Backend {
    rows: BTreeMap<u64, (ChunkKind, Vec<u8>)>,
    next_key: u64,
}

impl Backend {
    fn rows(&self) -> Vec<Row> {
        self.rows.iter().map(|(k, (kind, b))| (*k, *kind, b.clone())).collect()
    }

    fn apply(&mut self, flush: &Flush) -> Vec<u64> {
        for k in &flush.delete {
            self.rows.remove(k);
        }
        flush
            .add
            .iter()
            .map(|(kind, bytes)| {
                self.next_key += 1;
                self.rows.insert(self.next_key, (*kind, bytes.clone()));
                self.next_key
            })
            .collect()
    }

    /// Carries out everything the session's store has queued.
    fn drain(&mut self, session: &mut ClientSession<JournalStore>) {
        let store = session.stores_mut().0;
        while let Some(flush) = store.take_flush() {
            let keys = self.apply(&flush);
            store.committed(&flush, keys);
        }
        assert_eq!(store.durable(), store.written());
    }
}

fn visitor(device: &str) -> Identity {
    Identity {
        role: Role::Visitor,
        participant: ParticipantId::new("v1").unwrap(),
        name: "Ada".into(),
        device: DeviceId::new(device).unwrap(),
    }
}

fn bodies(session: &ClientSession<JournalStore>) -> Vec<String> {
    session.messages().into_iter().map(|m| m.body).collect()
}

#[test]
fn a_replica_reloads_from_the_rows_its_flushes_wrote_across_compactions() {
    let mut db = Backend::default();
    let mut session = ClientSession::open(JournalStore::new(db.rows()), visitor("d1")).unwrap();
    let body = "x".repeat(1000);
    for i in 0..150 {
        session.send_text(&format!("{i} {body}"), i).unwrap();
        if i % 7 == 0 {
            db.drain(&mut session);
        }
    }
    db.drain(&mut session);
    let kinds: Vec<ChunkKind> = db.rows.values().map(|(k, _)| *k).collect();
    assert!(kinds.contains(&ChunkKind::Snapshot), "150 KB of messages must have compacted");
    assert!(kinds.len() < 150, "a compaction deletes the increments it folded in: {}", kinds.len());

    let reopened = ClientSession::open(JournalStore::new(db.rows()), visitor("d1")).unwrap();
    assert_eq!(bodies(&reopened), bodies(&session));
    assert_eq!(reopened.messages().len(), 150);
}

#[test]
fn increments_queued_before_a_compaction_are_never_written() {
    let mut store = JournalStore::new(Vec::new());
    store.append(b"a").unwrap();
    store.append(b"b").unwrap();
    store.replace_all(&[b"snap1", b"snap2"]).unwrap();
    store.append(b"c").unwrap();
    let flush = store.take_flush().unwrap();
    assert_eq!(
        flush.add,
        vec![
            (ChunkKind::Snapshot, b"snap1".to_vec()),
            (ChunkKind::Snapshot, b"snap2".to_vec()),
            (ChunkKind::Increment, b"c".to_vec()),
        ]
    );
    assert_eq!(flush.upto, 4);
    assert!(store.take_flush().is_none(), "one flush at a time");
}

#[test]
fn a_compaction_keeps_the_rows_another_tab_wrote_to_the_same_replica() {
    let mut db = Backend::default();
    let mut tab1 = ClientSession::open(JournalStore::new(db.rows()), visitor("d1")).unwrap();
    tab1.send_text("first", 1).unwrap();
    db.drain(&mut tab1);
    // A second tab opens the replica, and both write.
    let mut tab2 = ClientSession::open(JournalStore::new(db.rows()), visitor("d1")).unwrap();
    tab2.send_text("from tab 2", 2).unwrap();
    db.drain(&mut tab2);
    let body = "y".repeat(1000);
    for i in 0..80 {
        tab1.send_text(&format!("{i} {body}"), 3 + i).unwrap();
    }
    db.drain(&mut tab1);
    assert!(db.rows.values().any(|(k, _)| *k == ChunkKind::Snapshot), "tab 1 compacted");

    let reopened = ClientSession::open(JournalStore::new(db.rows()), visitor("d1")).unwrap();
    let got = bodies(&reopened);
    assert_eq!(got.len(), 82);
    assert!(got.contains(&"from tab 2".to_owned()), "tab 2's message survived tab 1's compaction");
}

#[test]
fn a_failed_flush_is_written_by_the_next_one_and_nothing_is_lost() {
    let mut db = Backend::default();
    let mut session = ClientSession::open(JournalStore::new(db.rows()), visitor("d1")).unwrap();
    session.send_text("one", 1).unwrap();
    let store = session.stores_mut().0;
    let flush = store.take_flush().unwrap();
    store.failed(flush);
    assert_eq!(store.durable(), 0);
    session.send_text("two", 2).unwrap();
    db.drain(&mut session);
    let reopened = ClientSession::open(JournalStore::new(db.rows()), visitor("d1")).unwrap();
    assert_eq!(bodies(&reopened), vec!["one", "two"]);
}
