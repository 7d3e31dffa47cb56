//! The end of a conversation as its inbox summary sees it, kept up to date change by change.
//!
//! The summary is pushed after every accepted change. Recomputing it by walking back through
//! the conversation read up to [`MAX_SCAN`] messages through Automerge per change: 93 % of the
//! relay's time at 10k messages (issue 14). [`Tail`] keeps what that walk needs (who wrote
//! each recent message, when, and a running count of visitor messages) and extends it with
//! the messages appended since its last update, so an append costs reads of the new messages
//! and one read to check that nothing landed before them. A change that does not simply
//! append (concurrent writers, whose messages Automerge may order before ones already here,
//! or a merged offline backlog) is found by walking back from the end until every new
//! message is placed: reads proportional to how deep the insertions are, not to the window.
//! Only an insertion at or before the window's start rebuilds it (one bounded walk).
//!
//! Unread counts and the visitor's wait then come from the window without a walk: the stop
//! point (the newest message a counted reader marked, or the reader's own newest message) is
//! found through an id → position map, and the visitor messages after it are a difference of
//! two running counts.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::ReadDoc;

use crate::ids::ParticipantId;
use crate::message::{Message, Role};
use crate::shared_doc::SharedDoc;

/// How many of the newest messages the tail keeps: unread counts and the visitor's wait look
/// no further back, a bound far beyond any real backlog.
pub const MAX_SCAN: usize = 2_000;
/// Unread counts stop here: a badge shows "999+".
pub const MAX_UNREAD: u32 = 999;

/// One message of the window, reduced to what the summary asks of it.
#[derive(Debug, Clone)]
struct Fact {
    /// Empty for an entry that is not a well-formed message (possible from a third-party
    /// client's hand-made change); it still takes its place in the list.
    id: String,
    author: Option<(Role, ParticipantId)>,
    /// The name a visitor message was signed with (the summary shows the newest).
    visitor_name: Option<String>,
    /// When the relay received it.
    at: i64,
    /// Visitor messages from the first fact this tail read up to and including this one.
    visitors_through: u64,
    /// [`Tail::unanswered_since`] as it stood after this message.
    unanswered_through: Option<i64>,
}

/// A message as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastMessage {
    pub at: i64,
    pub body: String,
    pub role: Role,
}

/// Who reads for the unread count: the assignee, or any staff member while unassigned.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    Assignee(&'a ParticipantId),
    AnyStaff,
}

#[derive(Debug, Default)]
pub struct Tail {
    window: VecDeque<Fact>,
    /// Position in the document of `window[0]`.
    base: usize,
    /// Position in the document of each message of the window, by id.
    positions: HashMap<String, usize>,
    /// Everyone who wrote as a visitor: their read marks never count as staff reads.
    visitors: HashSet<ParticipantId>,
    /// Position of each author's newest message.
    newest_by: HashMap<ParticipantId, usize>,
    newest_staff: Option<usize>,
    visitor_name: Option<String>,
    last: Option<LastMessage>,
    /// The newest message a person wrote (visitor or staff), by id: the list previews it
    /// rather than the bot's auto-reply after it (issue 16).
    last_said: Option<(String, LastMessage)>,
    created_at: Option<i64>,
    /// Messages read from the document since the tail was made (regression tests count
    /// these: an append must cost a constant number, whatever the conversation's length).
    reads: u64,
}

impl Tail {
    pub fn new() -> Self {
        Self::default()
    }

    /// Brings the tail up to date with `doc`: reads only what was added since the last call
    /// (and the ids between the newest message and the deepest insertion), unless something
    /// landed at or before the window's start, or more was added than the window holds (then
    /// the newest [`MAX_SCAN`] are read, as on a first call).
    pub fn update(&mut self, doc: &SharedDoc) {
        let n = doc.message_count();
        let known = self.base + self.window.len();
        if n < known || n - known > MAX_SCAN {
            self.rebuild(doc, n);
            return;
        }
        let appended_only = match self.window.back().map(|f| f.id.clone()) {
            None => known == 0,
            Some(last) => self.id_at(doc, known - 1).unwrap_or_default() == last,
        };
        if appended_only {
            for index in known..n {
                self.push_at(doc, index);
            }
        } else if !self.insert_new(doc, n) {
            self.rebuild(doc, n);
        }
    }

    fn rebuild(&mut self, doc: &SharedDoc, n: usize) {
        let reads = self.reads;
        *self = Self { reads, ..Self::default() };
        self.base = n.saturating_sub(MAX_SCAN);
        if self.base > 0 {
            self.created_at = self.message_at(doc, 0).map(|m| doc.received_at(&m));
        }
        for index in self.base..n {
            self.push_at(doc, index);
        }
    }

    fn push_at(&mut self, doc: &SharedDoc, index: usize) {
        let (fact, last) = self.fact_at(doc, index);
        if index == 0 {
            self.created_at = Some(fact.at);
        }
        if let Some(last) = last {
            if last.role != Role::Server {
                self.last_said = Some((fact.id.clone(), last.clone()));
            }
            self.last = Some(last);
        }
        self.place(fact, index);
    }

    /// Reads the message at `index` as a fact (its running fields not yet set), and what the
    /// list would show if it is the newest.
    fn fact_at(&mut self, doc: &SharedDoc, index: usize) -> (Fact, Option<LastMessage>) {
        let Some(m) = self.message_at(doc, index) else {
            let id = raw_id(doc, index).unwrap_or_default();
            let fact = Fact {
                id,
                author: None,
                visitor_name: None,
                at: 0,
                visitors_through: 0,
                unanswered_through: None,
            };
            return (fact, None);
        };
        let at = doc.received_at(&m);
        let role = m.author.role;
        let fact = Fact {
            id: m.id.to_string(),
            visitor_name: (role == Role::Visitor).then(|| m.author.name.clone()),
            author: Some((role, m.author.id)),
            at,
            visitors_through: 0,
            unanswered_through: None,
        };
        let body = match &m.attachment {
            // A file, with its caption if it has one: what the list can show of it.
            Some(a) if m.body.is_empty() => format!("📎 {}", a.name),
            Some(a) => format!("📎 {} {}", a.name, m.body),
            None => m.body,
        };
        (fact, Some(LastMessage { at, body, role }))
    }

    /// Appends `fact`, the message at document position `index`, to the window: its running
    /// fields continue the newest fact's, and its author is recorded at `index`.
    fn place(&mut self, mut fact: Fact, index: usize) {
        let (visitors, unanswered) = self.running();
        fact.visitors_through = visitors;
        fact.unanswered_through = unanswered;
        if let Some((role, who)) = &fact.author {
            if *role == Role::Visitor {
                fact.visitors_through += 1;
                self.visitors.insert(who.clone());
                fact.unanswered_through.get_or_insert(fact.at);
            }
            if role.is_staff() {
                self.newest_staff = Some(index);
                fact.unanswered_through = None;
            }
            self.newest_by.insert(who.clone(), index);
        }
        if let Some(name) = &fact.visitor_name {
            self.visitor_name = Some(name.clone());
        }
        self.push(fact);
    }

    /// The running fields after the newest fact: visitor messages since the tail began, and
    /// since when the visitor has waited.
    fn running(&self) -> (u64, Option<i64>) {
        self.window.back().map_or((0, None), |f| (f.visitors_through, f.unanswered_through))
    }

    /// Places the messages added since the last update when some landed before messages
    /// already known: walks back from the end, matching ids against the window, until every
    /// added message is found and one known message confirms the alignment. Returns false
    /// (the caller rebuilds) when the walk would reach the window's start.
    fn insert_new(&mut self, doc: &SharedDoc, n: usize) -> bool {
        let added = n - (self.base + self.window.len());
        let mut found: Vec<(usize, Fact, Option<LastMessage>)> = Vec::new();
        let mut kept = self.window.len(); // window[..kept] are not yet matched
        let mut index = n;
        loop {
            if kept == 0 || index <= self.base + 1 {
                return false;
            }
            index -= 1;
            let id = self.id_at(doc, index).unwrap_or_default();
            if id == self.window[kept - 1].id {
                kept -= 1;
                if found.len() == added {
                    break;
                }
            } else if found.len() == added {
                return false; // a known message is missing: not an insertion
            } else {
                let (fact, last) = self.fact_at(doc, index);
                found.push((index, fact, last));
            }
        }
        found.reverse();
        // window[kept] is the message at `index`; it and everything after it are placed again.
        if kept == 0 || index != self.base + kept {
            return false;
        }
        if let Some((_, _, Some(last))) = found.last().filter(|(i, _, _)| *i == n - 1) {
            self.last = Some(last.clone());
        }
        let inserted: HashMap<String, LastMessage> =
            found.iter().filter_map(|(_, f, last)| Some((f.id.clone(), last.clone()?))).collect();
        let mut old = self.window.split_off(kept).into_iter();
        let mut new = found.into_iter().peekable();
        for at in index..n {
            let fact = match new.next_if(|(i, _, _)| *i == at) {
                Some((_, fact, _)) => fact,
                None => match old.next() {
                    Some(fact) => fact,
                    None => return false,
                },
            };
            self.place(fact, at);
        }
        self.settle_last_said(doc, inserted);
        true
    }

    /// After an insertion, finds the newest message a person wrote: usually the one already
    /// known or one just inserted (no read); else one read of the document.
    fn settle_last_said(&mut self, doc: &SharedDoc, mut inserted: HashMap<String, LastMessage>) {
        let newest = self
            .window
            .iter()
            .enumerate()
            .rev()
            .find(|(_, f)| matches!(f.author, Some((role, _)) if role != Role::Server));
        let Some((offset, fact)) = newest else {
            self.last_said = None;
            return;
        };
        if self.last_said.as_ref().is_some_and(|(id, _)| *id == fact.id) {
            return;
        }
        let id = fact.id.clone();
        self.last_said = match inserted.remove(&id) {
            Some(last) => Some((id, last)),
            None => {
                let index = self.base + offset;
                let (_, last) = self.fact_at(doc, index);
                last.map(|last| (id, last))
            }
        };
    }

    fn push(&mut self, fact: Fact) {
        let index = self.base + self.window.len();
        if !fact.id.is_empty() {
            self.positions.insert(fact.id.clone(), index);
        }
        self.window.push_back(fact);
        while self.window.len() > MAX_SCAN {
            if let Some(old) = self.window.pop_front() {
                // A duplicate id (refused by the relay, possible in a raw document) may have
                // moved the entry on; only this position's entry goes.
                if self.positions.get(&old.id) == Some(&self.base) {
                    self.positions.remove(&old.id);
                }
            }
            self.base += 1;
        }
    }

    /// Visitor messages after the newest one `reader` read or wrote, among the newest
    /// [`MAX_SCAN`], at most [`MAX_UNREAD`]. `marks` are the document's read marks
    /// (participant, message id); a visitor's mark never counts.
    pub fn unread<'m>(
        &self,
        reader: Reader<'_>,
        marks: impl IntoIterator<Item = (&'m ParticipantId, &'m str)>,
    ) -> u32 {
        self.unread_and_stop(reader, marks).0
    }

    /// [`Self::unread`], and whether the reader's stop point (a mark or a message of theirs)
    /// is in the window: when it is not, the count starts at the window's first message and
    /// unread messages before it (sealed ones, `rollover`) come on top.
    pub fn unread_and_stop<'m>(
        &self,
        reader: Reader<'_>,
        marks: impl IntoIterator<Item = (&'m ParticipantId, &'m str)>,
    ) -> (u32, bool) {
        let counted = |who: &ParticipantId| match reader {
            Reader::Assignee(r) => who == r,
            Reader::AnyStaff => !self.visitors.contains(who),
        };
        let marked = marks
            .into_iter()
            .filter(|(who, _)| counted(who))
            .filter_map(|(_, id)| self.positions.get(id).copied())
            .max();
        let written = match reader {
            Reader::Assignee(r) => self.newest_by.get(r).copied(),
            Reader::AnyStaff => self.newest_staff,
        };
        let stop = marked.max(written).filter(|&stop| stop >= self.base);
        let after = match stop {
            Some(stop) => self.window.get(stop - self.base).map_or(0, |f| f.visitors_through),
            None => self.window.front().map_or(0, |f| {
                f.visitors_through - u64::from(matches!(f.author, Some((Role::Visitor, _))))
            }),
        };
        let (visitors_total, _) = self.running();
        let count = u32::try_from(visitors_total - after).unwrap_or(u32::MAX).min(MAX_UNREAD);
        (count, stop.is_some())
    }

    /// Whether an agent or admin wrote any message of the window.
    pub fn staff_wrote(&self) -> bool {
        self.newest_staff.is_some()
    }

    /// Since when the visitor has waited for a staff reply, whatever the status.
    pub fn unanswered_since(&self) -> Option<i64> {
        self.running().1
    }

    /// The name the newest visitor message was signed with.
    pub fn visitor_name(&self) -> Option<&str> {
        self.visitor_name.as_deref()
    }

    /// The newest message, whoever wrote it.
    pub fn last(&self) -> Option<&LastMessage> {
        self.last.as_ref()
    }

    /// The newest message the visitor or staff wrote, if the window holds one.
    pub fn last_said(&self) -> Option<&LastMessage> {
        self.last_said.as_ref().map(|(_, m)| m)
    }

    /// When the first message was received.
    pub fn created_at(&self) -> Option<i64> {
        self.created_at
    }

    /// Messages read from the document so far.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    fn message_at(&mut self, doc: &SharedDoc, index: usize) -> Option<Message> {
        self.reads += 1;
        let (_, obj) = doc.automerge().get(doc.messages_obj(), index).ok().flatten()?;
        doc.message_in(&obj)
    }

    fn id_at(&mut self, doc: &SharedDoc, index: usize) -> Option<String> {
        self.reads += 1;
        raw_id(doc, index)
    }
}

fn raw_id(doc: &SharedDoc, index: usize) -> Option<String> {
    let am = doc.automerge();
    let (_, obj) = am.get(doc.messages_obj(), index).ok().flatten()?;
    let (v, _) = am.get(&obj, "id").ok().flatten()?;
    v.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::ids::{DeviceId, MessageId};
    use crate::inbox::summary::Summary;
    use crate::internal_doc::{CaseField, InternalDoc};
    use crate::message::{Author, MessageKind};
    use crate::workflow::profile::VisitorProfile;

    const VISITOR: &str = "cust";
    const AGENTS: [&str; 2] = ["alice", "bob"];

    fn message(id: &str, role: Role, who: &str, at: i64) -> Message {
        Message {
            id: MessageId::new(id).unwrap(),
            author: Author { role, id: ParticipantId::new(who).unwrap(), name: format!("{who}!") },
            device: DeviceId::new("d1").unwrap(),
            kind: MessageKind::Text,
            body: format!("body of {id}"),
            sent_at: at,
            attachment: None,
        }
    }

    fn say(doc: &mut SharedDoc, id: &str, role: Role, who: &str, at: i64) {
        doc.append(&message(id, role, who, at), at).unwrap();
        doc.stamp_delivered(&[MessageId::new(id).unwrap()], at + 1).unwrap();
    }

    fn read(doc: &mut SharedDoc, who: &str, device: &str, id: &str) {
        let (p, d) = (ParticipantId::new(who).unwrap(), DeviceId::new(device).unwrap());
        doc.mark_read(&p, &d, &MessageId::new(id).unwrap(), 0).unwrap();
    }

    /// Reads of the document per update, once the conversation is `len` messages long, over
    /// 20 appends that alternate visitor and agent messages and move an agent's read mark.
    fn reads_per_append(len: usize) -> Vec<u64> {
        let mut doc = SharedDoc::new(ActorId::random()).unwrap();
        for i in 0..len {
            say(&mut doc, &format!("m{i}"), Role::Visitor, VISITOR, i as i64);
        }
        let mut tail = Tail::new();
        tail.update(&doc);
        let mut costs = Vec::new();
        for i in len..len + 20 {
            let role = if i % 2 == 0 { Role::Visitor } else { Role::Agent };
            let who = if role == Role::Visitor { VISITOR } else { AGENTS[0] };
            say(&mut doc, &format!("m{i}"), role, who, i as i64);
            read(&mut doc, AGENTS[1], "laptop", &format!("m{i}"));
            let before = tail.reads();
            tail.update(&doc);
            costs.push(tail.reads() - before);
        }
        costs
    }

    #[test]
    fn a_file_is_previewed_by_its_name_and_caption() {
        let mut doc = SharedDoc::new(ActorId::random()).unwrap();
        let mut tail = Tail::new();
        let file = crate::attachment::AttachmentRef {
            id: "0123456789abcdef01234567".into(),
            name: "破损.png".into(),
            content_type: "image/png".into(),
            size: 10,
        };
        let photo = Message {
            body: String::new(),
            attachment: Some(file.clone()),
            ..message("m1", Role::Visitor, VISITOR, 1)
        };
        doc.append(&photo, 1).unwrap();
        tail.update(&doc);
        assert_eq!(tail.last_said().map(|m| m.body.as_str()), Some("📎 破损.png"));
        let captioned = Message {
            body: "see this".into(),
            attachment: Some(file),
            ..message("m2", Role::Visitor, VISITOR, 2)
        };
        doc.append(&captioned, 2).unwrap();
        tail.update(&doc);
        assert_eq!(tail.last_said().map(|m| m.body.as_str()), Some("📎 破损.png see this"));
    }

    #[test]
    fn an_append_reads_the_new_message_and_one_id_whatever_the_conversation_length() {
        // One read of the previously newest id (nothing landed before it) and one of the new
        // message: the same at 10 messages as past the window at 2,500.
        for len in [10, 2_500] {
            assert_eq!(reads_per_append(len), vec![2; 20], "at {len} messages");
        }
    }

    #[test]
    fn a_backlog_longer_than_the_window_costs_one_window_of_reads_not_the_backlog() {
        let mut doc = SharedDoc::new(ActorId::random()).unwrap();
        let mut tail = Tail::new();
        say(&mut doc, "first", Role::Visitor, VISITOR, 0);
        tail.update(&doc);
        for i in 0..MAX_SCAN + 500 {
            say(&mut doc, &format!("m{i}"), Role::Visitor, VISITOR, 1 + i as i64);
        }
        let before = tail.reads();
        tail.update(&doc);
        // The newest MAX_SCAN messages and the first one (for its time), not all 2,500.
        assert_eq!(tail.reads() - before, MAX_SCAN as u64 + 1);
        assert_eq!(tail.created_at(), Some(1), "the first message's receipt time");
        assert_eq!(tail.unread(Reader::AnyStaff, []), MAX_UNREAD);
    }

    #[test]
    fn unread_is_counted_without_a_walk_even_when_nobody_ever_read() {
        let mut doc = SharedDoc::new(ActorId::random()).unwrap();
        let mut tail = Tail::new();
        for i in 0..MAX_SCAN + 10 {
            say(&mut doc, &format!("m{i}"), Role::Visitor, VISITOR, i as i64);
        }
        tail.update(&doc);
        assert_eq!(tail.unread(Reader::AnyStaff, []), MAX_UNREAD);
        let alice = ParticipantId::new(AGENTS[0]).unwrap();
        let last = format!("m{}", MAX_SCAN + 5);
        assert_eq!(tail.unread(Reader::Assignee(&alice), [(&alice, last.as_str())]), 4);
        // A mark older than the window counts as no mark: the window is all unread.
        assert_eq!(tail.unread(Reader::Assignee(&alice), [(&alice, "m0")]), MAX_UNREAD);
    }

    #[test]
    fn concurrent_writers_cost_reads_of_their_messages_not_of_the_window() {
        // Devices that had not seen the newest message append after the one before it;
        // Automerge may order theirs before it. Five devices a round, 20 rounds, at 2,100
        // messages: each update reads the new messages and the ids above them, never a window.
        // Equal op counters put the greater actor first: devices 0, 2 and 4 sort above the
        // relay's actor (their messages land before the agent's), 1 and 3 below.
        let actor = |b: u8| ActorId::from([b; 16].as_slice());
        let mut doc = SharedDoc::new(actor(0x80)).unwrap();
        for i in 0..MAX_SCAN + 100 {
            say(&mut doc, &format!("m{i}"), Role::Visitor, VISITOR, i as i64);
        }
        let (internal, visitor) =
            (InternalDoc::new(ActorId::random()).unwrap(), VisitorProfile::default());
        let mut tail = Tail::new();
        tail.update(&doc);
        let mut landed_before = 0;
        for round in 0..20 {
            let mut devices: Vec<SharedDoc> = (0..5u8)
                .map(|k| {
                    let byte = if k % 2 == 0 { 0xf0 + k } else { k };
                    let fork = doc.automerge().fork().with_actor(actor(byte));
                    SharedDoc::from_automerge(fork).unwrap()
                })
                .collect();
            let at = 10_000 + round * 10;
            say(&mut doc, &format!("r{round}agent"), Role::Agent, AGENTS[0], at);
            tail.update(&doc);
            for (k, device) in devices.iter_mut().enumerate() {
                say(device, &format!("r{round}d{k}"), Role::Visitor, VISITOR, at + 1 + k as i64);
            }
            let (newest, was_at) = (format!("r{round}agent"), doc.message_count() - 1);
            for device in &mut devices {
                doc.merge(device).unwrap();
            }
            let now_there = doc.messages()[was_at].id.to_string();
            landed_before += usize::from(now_there != newest);
            let before = tail.reads();
            tail.update(&doc);
            // The append check's id, then 5 messages (an id and a message each), the agent's
            // id and one id to align: 13, at any length.
            let reads = tail.reads() - before;
            assert!(reads <= 13, "round {round}: {reads} reads");
            let kept = Summary::with_tail("c", &doc, &internal, &visitor, &tail);
            assert_eq!(kept, Summary::of("c", &doc, &internal, &visitor), "round {round}");
        }
        assert!(landed_before > 0, "no device's message landed before the agent's");
    }

    /// A small deterministic generator, so each seed is one reproducible history.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn the_kept_summary_equals_one_computed_from_scratch_after_every_change() {
        // Merges that placed offline messages before messages already here: the case the
        // append check must catch. The seeds below produce some, or the test proves little.
        let mut placed_before = 0;
        for seed in 0..30 {
            let mut rng = Lcg(seed);
            let mut doc = SharedDoc::new(ActorId::random()).unwrap();
            let mut internal = InternalDoc::new(ActorId::random()).unwrap();
            // An offline device: its messages merge in later, possibly before newer ones.
            let mut offline: Option<SharedDoc> = None;
            let mut tail = Tail::new();
            let visitor = VisitorProfile::default();
            let mut ids: Vec<String> = Vec::new();
            for step in 0..100 {
                let at = step * 10;
                let id = format!("s{seed}m{step}");
                match rng.below(9) {
                    0..=2 => say(&mut doc, &id, Role::Visitor, VISITOR, at),
                    3 | 4 => {
                        let who = AGENTS[rng.below(2) as usize];
                        say(&mut doc, &id, Role::Agent, who, at)
                    }
                    5 => say(&mut doc, &id, Role::Server, "relay", at),
                    6 if !ids.is_empty() => {
                        let who = [VISITOR, AGENTS[0], AGENTS[1]][rng.below(3) as usize];
                        let target = ids[rng.below(ids.len() as u64) as usize].clone();
                        read(&mut doc, who, &format!("dev{}", rng.below(2)), &target);
                    }
                    7 => {
                        let who = [None, Some(AGENTS[0]), Some(AGENTS[1])][rng.below(3) as usize];
                        internal.set_case(CaseField::Assignee, who, at).unwrap();
                    }
                    _ => match offline.take() {
                        None => {
                            let mut fork =
                                SharedDoc::from_automerge(doc.automerge().fork()).unwrap();
                            for k in 0..=rng.below(3) {
                                say(&mut fork, &format!("{id}o{k}"), Role::Visitor, VISITOR, at);
                            }
                            offline = Some(fork);
                        }
                        Some(mut fork) => {
                            let newest = ids.last().cloned();
                            doc.merge(&mut fork).unwrap();
                            let ids_now: Vec<String> =
                                doc.messages().into_iter().map(|m| m.id.to_string()).collect();
                            let was_newest = ids.len().checked_sub(1).and_then(|i| ids_now.get(i));
                            placed_before += usize::from(was_newest != newest.as_ref());
                            ids = ids_now;
                        }
                    },
                }
                if doc.message_count() > ids.len() {
                    if doc.message_count() == ids.len() + 1 {
                        ids.push(id);
                    } else {
                        ids = doc.messages().into_iter().map(|m| m.id.to_string()).collect();
                    }
                }
                tail.update(&doc);
                let kept = Summary::with_tail("c", &doc, &internal, &visitor, &tail);
                let fresh = Summary::of("c", &doc, &internal, &visitor);
                assert_eq!(kept, fresh, "seed {seed}, step {step}");
            }
        }
        assert!(placed_before > 0, "no merge landed before the newest message");
    }
}
