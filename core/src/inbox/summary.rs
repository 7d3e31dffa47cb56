//! A conversation as the inbox lists it: what a conversation object pushes to its
//! workspace's inbox after every change (PROTOCOL.md §15).
//!
//! Computed from the documents, never stored by the conversation as truth: the inbox row is a
//! cache the conversation can always rebuild. `version` orders pushes, so a late or repeated
//! push never overwrites a newer one.

use automerge::ReadDoc;
use serde::{Deserialize, Serialize};

use super::tail::{Reader, Tail};
use crate::ids::ParticipantId;
use crate::internal_doc::{CaseField, InternalDoc, Priority};
use crate::message::Role;
use crate::rollover::carried::Carry;
use crate::shared_doc::SharedDoc;
use crate::workflow::csat::Rating;
use crate::workflow::profile::VisitorProfile;
use crate::workflow::status::{State, Status};

/// Longest preview of the last message, in characters.
pub const PREVIEW_CHARS: usize = 120;
pub use super::tail::{MAX_SCAN, MAX_UNREAD};
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
    /// The visitor's participant id, when the visitor has connected (the console lists the
    /// visitor's earlier conversations by it: `visitor=` in the inbox query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
    /// The custom attributes of the visitor's token (and, from the widget, the page and
    /// referrer the chat started on), for the agent's visitor panel.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// Visitor messages after the assignee's read mark (after any agent's, if unassigned).
    pub unread: u32,
    /// Since when the visitor has been waiting for staff (ms), if it is.
    pub waiting_since: Option<i64>,
    pub last_message_at: Option<i64>,
    /// The newest message the visitor or an agent wrote, on one line; the bot's only when
    /// nobody else has written yet.
    pub last_preview: Option<String>,
    /// Who wrote the previewed message: `visitor`, `agent`, `admin`, or `server` for an
    /// auto-reply (the list marks it as one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_preview_role: Option<Role>,
    /// The visitor's satisfaction rating, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
    pub created_at: i64,
    pub messages: u32,
    /// Retention shredded the conversation's messages received up to this time (ms): the
    /// inbox drops them from search (PROTOCOL.md §16.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shredded_through: Option<i64>,
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

#[cfg(test)]
impl Summary {
    /// A conversation with nothing in it, for tests to change what they need of.
    pub(crate) fn blank(conversation: &str) -> Summary {
        Summary {
            conversation: conversation.into(),
            version: 0,
            status: State::Open,
            snoozed_until: None,
            priority: Priority::Normal,
            assignee: None,
            team: None,
            tags: vec![],
            channel: "web".into(),
            language: None,
            visitor_name: None,
            vip: false,
            visitor: None,
            attributes: Default::default(),
            unread: 0,
            waiting_since: None,
            last_message_at: None,
            last_preview: None,
            last_preview_role: None,
            rating: None,
            created_at: 0,
            messages: 0,
            shredded_through: None,
        }
    }
}

impl Summary {
    /// The conversation as it stands, from scratch: documents plus the visitor's signed
    /// claims. `version` is 0; the conversation object numbers its pushes. The relay keeps a
    /// [`Tail`] instead and calls [`Summary::with_tail`], which reads no history.
    pub fn of(
        conversation: &str,
        doc: &SharedDoc,
        internal: &InternalDoc,
        visitor: &VisitorProfile,
    ) -> Summary {
        let mut tail = Tail::new();
        tail.update(doc);
        Self::with_tail(conversation, doc, internal, visitor, &tail)
    }

    /// [`Summary::of`] with the messages' part from `tail`, which the caller has brought up to
    /// date with `doc`. Reads a constant number of fields plus the read marks.
    pub fn with_tail(
        conversation: &str,
        doc: &SharedDoc,
        internal: &InternalDoc,
        visitor: &VisitorProfile,
        tail: &Tail,
    ) -> Summary {
        let status = Status::read(doc);
        let assignee = internal.case_field(CaseField::Assignee);
        let priority = internal
            .case_field(CaseField::Priority)
            .and_then(|p| Priority::parse(&p))
            .unwrap_or(Priority::Normal);
        let assigned = assignee.as_deref().and_then(|a| ParticipantId::new(a).ok());
        let reader = assigned.as_ref().map_or(Reader::AnyStaff, Reader::Assignee);
        let marks = doc.read_marks();
        let unread = tail.unread(reader, marks.iter().map(|(p, _, m)| (p, m.as_str())));
        let shown = tail.last_said().or(tail.last());
        let name = visitor
            .name
            .clone()
            .or_else(|| profile_name(doc))
            .or_else(|| tail.visitor_name().map(str::to_owned));
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
            visitor: visitor.id.clone(),
            attributes: visitor.attributes.clone(),
            unread,
            waiting_since: tail.unanswered_since().filter(|_| status.state.awaits_agent()),
            last_message_at: tail.last().map(|m| m.at),
            last_preview: shown.map(|m| preview(&m.body)),
            last_preview_role: shown.map(|m| m.role),
            rating: Rating::read(doc),
            created_at: tail.created_at().unwrap_or(0),
            messages: u32::try_from(doc.message_count()).unwrap_or(u32::MAX),
            shredded_through: None,
        }
    }
}

impl Summary {
    /// [`Summary::with_tail`] of a live document that continues sealed epochs: counts,
    /// creation time, previews, the visitor's wait and unread messages include what `carry`
    /// kept of the sealed messages (PROTOCOL.md §16).
    pub fn with_carry(
        conversation: &str,
        doc: &SharedDoc,
        internal: &InternalDoc,
        visitor: &VisitorProfile,
        tail: &Tail,
        carry: &Carry,
    ) -> Summary {
        let mut s = Self::with_tail(conversation, doc, internal, visitor, tail);
        if carry.epoch == 0 {
            return s;
        }
        let live = u64::try_from(doc.message_count()).unwrap_or(u64::MAX);
        s.messages = u32::try_from(carry.archived.saturating_add(live)).unwrap_or(u32::MAX);
        s.created_at = carry.created_at.or(tail.created_at()).unwrap_or(0);
        if tail.last().is_none() {
            s.last_message_at = carry.last.as_ref().map(|m| m.at);
        }
        let shown =
            tail.last_said().or(carry.last_said.as_ref()).or(tail.last()).or(carry.last.as_ref());
        s.last_preview = shown.map(|m| preview(&m.body));
        s.last_preview_role = shown.map(|m| m.role);
        if s.visitor_name.is_none() {
            s.visitor_name = carry.visitor_name.clone();
        }
        s.waiting_since = unanswered_since(tail, carry).filter(|_| s.status.awaits_agent());
        s.unread = unread(doc, tail, carry, s.assignee.as_deref());
        s
    }
}

/// Since when the visitor waits for staff, whatever the status, sealed messages included.
pub(crate) fn unanswered_since(tail: &Tail, carry: &Carry) -> Option<i64> {
    if tail.staff_wrote() {
        tail.unanswered_since()
    } else {
        carry.unanswered_since.or(tail.unanswered_since())
    }
}

/// Visitor messages `assignee` (any staff member when `None`) has not read, sealed ones
/// included: those counted at the seal, unless the reader's mark or reply is in the live
/// document. A reader assigned after the seal inherits the count for any staff member.
pub(crate) fn unread(doc: &SharedDoc, tail: &Tail, carry: &Carry, assignee: Option<&str>) -> u32 {
    let assigned = assignee.and_then(|a| ParticipantId::new(a).ok());
    let reader = assigned.as_ref().map_or(Reader::AnyStaff, Reader::Assignee);
    let marks = doc.read_marks();
    let (live, stopped) =
        tail.unread_and_stop(reader, marks.iter().map(|(p, _, m)| (p, m.as_str())));
    if stopped {
        return live;
    }
    let sealed = match (&carry.unread_assignee, assignee) {
        (Some((who, n)), Some(a)) if who == a => *n,
        _ => carry.unread_any_staff,
    };
    live.saturating_add(sealed).min(MAX_UNREAD)
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
    use crate::message::{Author, Message, MessageKind, Role};

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
            attachment: None,
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
    fn the_visitors_mark_on_an_auto_reply_after_their_message_leaves_it_unread() {
        // Issue 16: the widget, open, marks the bot's answer read; no agent has read anything.
        let (mut doc, internal) = docs();
        said(&mut doc, "v1", Role::Visitor, "cust", 0);
        said(&mut doc, "auto", Role::Server, "edgedesk", 1);
        read(&mut doc, "cust", "phone", "auto");
        let s = Summary::of("c", &doc, &internal, &VisitorProfile::default());
        assert_eq!((s.unread, s.waiting_since), (1, Some(1)));
    }

    #[test]
    fn the_preview_is_the_last_message_a_person_wrote_not_the_bots_answer() {
        let (mut doc, internal) = docs();
        let visitor = VisitorProfile::default();
        said(&mut doc, "welcome", Role::Server, "edgedesk", 0);
        let s = Summary::of("c", &doc, &internal, &visitor);
        assert_eq!(s.last_preview.as_deref(), Some("body of welcome"), "nobody else wrote yet");
        assert_eq!(s.last_preview_role, Some(Role::Server));
        said(&mut doc, "v1", Role::Visitor, "cust", 10);
        said(&mut doc, "auto", Role::Server, "edgedesk", 11);
        let s = Summary::of("c", &doc, &internal, &visitor);
        assert_eq!(
            (s.last_preview.as_deref(), s.last_preview_role),
            (Some("body of v1"), Some(Role::Visitor))
        );
        assert_eq!(s.last_message_at, Some(12), "the list still sorts by the newest message");
        said(&mut doc, "a1", Role::Agent, "bob", 20);
        let s = Summary::of("c", &doc, &internal, &visitor);
        assert_eq!(
            (s.last_preview.as_deref(), s.last_preview_role),
            (Some("body of a1"), Some(Role::Agent))
        );
    }

    #[test]
    fn the_visitors_rating_is_in_the_summary() {
        let (mut doc, internal) = docs();
        said(&mut doc, "v1", Role::Visitor, "cust", 0);
        assert_eq!(Summary::of("c", &doc, &internal, &VisitorProfile::default()).rating, None);
        Rating::new(2, Some("太慢了")).unwrap().write(&mut doc, 5).unwrap();
        let s = Summary::of("c", &doc, &internal, &VisitorProfile::default());
        assert_eq!(s.rating, Some(Rating { score: 2, comment: Some("太慢了".into()) }));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["rating"], serde_json::json!({"score": 2, "comment": "太慢了"}));
        assert_eq!(json["last_preview_role"], "visitor");
    }

    #[test]
    fn a_long_last_message_is_cut_to_a_one_line_preview() {
        assert_eq!(preview("a\n  b"), "a b");
        let long = "退".repeat(PREVIEW_CHARS + 5);
        assert_eq!(preview(&long).chars().count(), PREVIEW_CHARS + 1);
        assert!(preview(&long).ends_with('…'));
    }
}
