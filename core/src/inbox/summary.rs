//! A conversation as the inbox lists it: what a conversation object pushes to its
//! workspace's inbox after every change (PROTOCOL.md §15).
//!
//! Computed from the documents, never stored by the conversation as truth: the inbox row is a
//! cache the conversation can always rebuild. `version` orders pushes, so a late or repeated
//! push never overwrites a newer one.

use std::collections::{HashMap, HashSet};

use automerge::ReadDoc;
use serde::{Deserialize, Serialize};

use crate::ids::ParticipantId;
use crate::internal_doc::{CaseField, InternalDoc, Priority};
use crate::message::{Message, Role};
use crate::shared_doc::SharedDoc;
use crate::workflow::profile::VisitorProfile;
use crate::workflow::status::{State, Status};

/// Longest preview of the last message, in characters.
pub const PREVIEW_CHARS: usize = 120;
/// Unread counts stop here: a badge shows "999+", and counting costs a scan back to the mark.
pub const MAX_UNREAD: u32 = 999;
/// How far back from the newest message a summary looks for read marks and the start of the
/// visitor's wait: a bound on the work of every push, far beyond any real backlog.
pub const MAX_SCAN: usize = 2_000;
/// The channel of a visitor whose token names none.
pub const DEFAULT_CHANNEL: &str = "web";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub conversation: String,
    pub version: u64,
    pub status: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<i64>,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub tags: Vec<String>,
    pub channel: String,
    pub language: Option<String>,
    pub visitor_name: Option<String>,
    pub vip: bool,
    /// Visitor messages after the assignee's read mark (after any agent's, if unassigned).
    pub unread: u32,
    /// Since when the visitor has been waiting for staff (ms), if it is.
    pub waiting_since: Option<i64>,
    pub last_message_at: Option<i64>,
    pub last_preview: Option<String>,
    pub created_at: i64,
    pub messages: u32,
}

/// The priority's position for sorting: low 0 … urgent 3.
pub fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

impl Summary {
    /// The conversation as it stands: documents plus the visitor's signed claims. `version`
    /// is 0; the conversation object numbers its pushes.
    pub fn of(
        conversation: &str,
        doc: &SharedDoc,
        internal: &InternalDoc,
        visitor: &VisitorProfile,
    ) -> Summary {
        let status = Status::read(doc);
        let assignee = internal.case_field(CaseField::Assignee);
        let priority = internal
            .case_field(CaseField::Priority)
            .and_then(|p| Priority::parse(&p))
            .unwrap_or(Priority::Normal);
        let tail = Tail::scan(doc, assignee.as_deref(), status.state);
        let first = message_at(doc, 0);
        let name = visitor.name.clone().or_else(|| profile_name(doc)).or(tail.visitor_name);
        Summary {
            conversation: conversation.to_owned(),
            version: 0,
            status: status.state,
            snoozed_until: status.snoozed_until.filter(|_| status.state == State::Snoozed),
            priority,
            assignee,
            team: internal.case_field(CaseField::Team),
            tags: internal.tags().into_iter().collect(),
            channel: visitor.channel.clone().unwrap_or_else(|| DEFAULT_CHANNEL.to_owned()),
            language: visitor.locale.clone(),
            visitor_name: name,
            vip: visitor.vip,
            unread: tail.unread,
            waiting_since: tail.waiting_since,
            last_message_at: tail.last.as_ref().map(|m| received_at(doc, m)),
            last_preview: tail.last.as_ref().map(|m| preview(&m.body)),
            created_at: first.as_ref().map_or(0, |m| received_at(doc, m)),
            messages: u32::try_from(doc.message_count()).unwrap_or(u32::MAX),
        }
    }
}

/// What a walk back from the newest message finds.
struct Tail {
    last: Option<Message>,
    unread: u32,
    waiting_since: Option<i64>,
    visitor_name: Option<String>,
}

impl Tail {
    /// Walks back at most [`MAX_SCAN`] messages. Unread stops at the reader's read mark or
    /// its own message (replying means having read); the wait stops at staff's last message.
    fn scan(doc: &SharedDoc, assignee: Option<&str>, state: State) -> Tail {
        let staff = |r: Role| matches!(r, Role::Agent | Role::Admin);
        let readers: Option<ParticipantId> = assignee.and_then(|a| ParticipantId::new(a).ok());
        let marks = read_marks(doc, readers.as_ref());
        let mut visitors: HashSet<ParticipantId> = HashSet::new();
        let mut tail = Tail { last: None, unread: 0, waiting_since: None, visitor_name: None };
        let (mut counting, mut waiting) = (true, state.awaits_agent());
        let len = doc.message_count();
        for index in (len.saturating_sub(MAX_SCAN)..len).rev() {
            let Some(m) = message_at(doc, index) else { continue };
            let mine = match &readers {
                Some(r) => &m.author.id == r,
                None => staff(m.author.role),
            };
            if m.author.role == Role::Visitor {
                visitors.insert(m.author.id.clone());
            }
            // A visitor's own mark says nothing about staff having read.
            let marked =
                marks.get(m.id.as_str()).is_some_and(|by| by.iter().any(|p| !visitors.contains(p)));
            if marked || mine {
                counting = false;
            }
            if staff(m.author.role) {
                waiting = false;
            }
            if m.author.role == Role::Visitor {
                if counting {
                    tail.unread = (tail.unread + 1).min(MAX_UNREAD);
                }
                if waiting {
                    tail.waiting_since = Some(received_at(doc, &m));
                }
                if tail.visitor_name.is_none() {
                    tail.visitor_name = Some(m.author.name.clone());
                }
            }
            if tail.last.is_none() {
                tail.last = Some(m);
            }
            if !counting && !waiting && tail.visitor_name.is_some() {
                break;
            }
        }
        tail
    }
}

/// The read marks that count, by message id with who set them: the assignee's devices', or
/// everyone's when nobody is assigned (the scan then skips the visitor's own).
fn read_marks(
    doc: &SharedDoc,
    reader: Option<&ParticipantId>,
) -> HashMap<String, Vec<ParticipantId>> {
    let am = doc.automerge();
    let mut marks: HashMap<String, Vec<ParticipantId>> = HashMap::new();
    for item in am.map_range(doc.read_obj(), ..) {
        let Some((who, _)) = item.key.split_once('/') else { continue };
        if reader.is_some_and(|r| r.as_str() != who) {
            continue;
        }
        let Ok(who) = ParticipantId::new(who) else { continue };
        let Some((v, _)) = am.get(doc.read_obj(), item.key.as_ref()).ok().flatten() else {
            continue;
        };
        if let Some(id) = v.as_str() {
            marks.entry(id.to_owned()).or_default().push(who);
        }
    }
    marks
}

fn message_at(doc: &SharedDoc, index: usize) -> Option<Message> {
    let (_, obj) = doc.automerge().get(doc.messages_obj(), index).ok().flatten()?;
    doc.message_in(&obj)
}

/// The relay's receipt time, which every device agrees on; the writer's clock otherwise.
fn received_at(doc: &SharedDoc, m: &Message) -> i64 {
    doc.delivered_at(&m.id).unwrap_or(m.sent_at)
}

fn profile_name(doc: &SharedDoc) -> Option<String> {
    let (v, _) = doc.automerge().get(doc.profile_obj(), "name").ok().flatten()?;
    v.as_str().map(str::to_owned).filter(|n| !n.is_empty())
}

fn preview(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::ids::{DeviceId, MessageId};
    use crate::message::{Author, MessageKind};

    fn said(doc: &mut SharedDoc, id: &str, role: Role, who: &str, at: i64) {
        let m = Message {
            id: MessageId::new(id).unwrap(),
            author: Author {
                role,
                id: ParticipantId::new(who).unwrap(),
                name: format!("{who} name"),
            },
            device: DeviceId::new("d1").unwrap(),
            kind: MessageKind::Text,
            body: format!("body of {id}"),
            sent_at: at,
        };
        doc.append(&m, at).unwrap();
        doc.stamp_delivered(&[m.id], at + 1).unwrap();
    }

    fn docs() -> (SharedDoc, InternalDoc) {
        let actor = ActorId::random();
        (SharedDoc::new(actor.clone()).unwrap(), InternalDoc::new(actor).unwrap())
    }

    fn read(doc: &mut SharedDoc, who: &str, device: &str, msg: &str) {
        let (p, d) = (ParticipantId::new(who).unwrap(), DeviceId::new(device).unwrap());
        doc.mark_read(&p, &d, &MessageId::new(msg).unwrap(), 0).unwrap();
    }

    #[test]
    fn unread_counts_visitor_messages_after_the_assignees_newest_mark_on_any_device() {
        let (mut doc, mut internal) = docs();
        for (i, id) in ["v1", "v2", "v3", "v4"].iter().enumerate() {
            said(&mut doc, id, Role::Visitor, "cust", 10 * i as i64);
        }
        let visitor = VisitorProfile::default();
        assert_eq!(Summary::of("c", &doc, &internal, &visitor).unread, 4);
        internal.set_case(CaseField::Assignee, Some("alice"), 0).unwrap();
        // Another agent's mark does not count once someone is assigned.
        read(&mut doc, "bob", "laptop", "v4");
        assert_eq!(Summary::of("c", &doc, &internal, &visitor).unread, 4);
        read(&mut doc, "alice", "desktop", "v1");
        read(&mut doc, "alice", "phone", "v3");
        assert_eq!(Summary::of("c", &doc, &internal, &visitor).unread, 1);
        read(&mut doc, "alice", "phone", "v4");
        assert_eq!(Summary::of("c", &doc, &internal, &visitor).unread, 0);
    }

    #[test]
    fn an_unassigned_conversation_is_read_once_any_staff_member_read_or_answered_it() {
        let (mut doc, internal) = docs();
        said(&mut doc, "v1", Role::Visitor, "cust", 0);
        said(&mut doc, "a1", Role::Agent, "bob", 5);
        said(&mut doc, "v2", Role::Visitor, "cust", 10);
        read(&mut doc, "cust", "phone", "v2");
        let s = Summary::of("c", &doc, &internal, &VisitorProfile::default());
        assert_eq!((s.unread, s.waiting_since), (1, Some(11)), "the visitor's own mark is no read");
        read(&mut doc, "bob", "laptop", "v2");
        assert_eq!(Summary::of("c", &doc, &internal, &VisitorProfile::default()).unread, 0);
    }

    #[test]
    fn the_wait_starts_at_the_first_unanswered_visitor_message_and_ends_with_a_staff_reply() {
        let (mut doc, internal) = docs();
        said(&mut doc, "v1", Role::Visitor, "cust", 100);
        said(&mut doc, "s1", Role::Server, "relay", 101);
        said(&mut doc, "v2", Role::Visitor, "cust", 200);
        let visitor = VisitorProfile {
            name: Some("王小明".into()),
            vip: true,
            channel: Some("app".into()),
            ..Default::default()
        };
        let s = Summary::of("c", &doc, &internal, &visitor);
        assert_eq!(s.waiting_since, Some(101), "an auto-reply is no answer");
        assert_eq!((s.messages, s.created_at, s.last_message_at), (3, 101, Some(201)));
        assert_eq!(s.last_preview.as_deref(), Some("body of v2"));
        assert_eq!(
            (s.visitor_name.as_deref(), s.vip, s.channel.as_str()),
            (Some("王小明"), true, "app")
        );
        said(&mut doc, "a1", Role::Agent, "bob", 300);
        assert_eq!(Summary::of("c", &doc, &internal, &visitor).waiting_since, None);
    }

    #[test]
    fn a_long_last_message_is_cut_to_a_one_line_preview() {
        assert_eq!(preview("a\n  b"), "a b");
        let long = "退".repeat(PREVIEW_CHARS + 5);
        assert_eq!(preview(&long).chars().count(), PREVIEW_CHARS + 1);
        assert!(preview(&long).ends_with('…'));
    }
}
