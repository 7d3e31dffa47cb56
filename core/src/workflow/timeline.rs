//! Who said what when, as the workflow needs it: visitor and staff messages in the order the
//! relay accepted them (by its delivery receipt), and the markers the relay left in the audit
//! trail for what it already did (an SLA breach handled, a reminder sent).
//!
//! Kept incrementally by the relay: built once when the conversation opens, then extended
//! with each accepted message, so evaluating the rules after a message costs no scan of the
//! conversation.

use std::collections::BTreeSet;

use crate::ids::{MessageId, ParticipantId};
use crate::internal_doc::{AuditEntry, InternalDoc};
use crate::message::{Message, MessageKind, Role};
use crate::shared_doc::SharedDoc;

/// A message id with the relay's time of accepting it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamped {
    pub at: i64,
    pub id: MessageId,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    visitor: Vec<Stamped>,
    /// Agents' and admins' text messages: replies to the visitor.
    staff: Vec<Stamped>,
    /// Name of the agent who wrote the latest staff message (for `{agent.name}`).
    last_agent_name: Option<String>,
    visitor_id: Option<ParticipantId>,
    last_activity: Option<i64>,
    /// Markers the relay wrote: (field, value).
    marks: BTreeSet<(String, String)>,
    /// Time of each auto-reply, with the rule that sent it.
    auto_replies: Vec<(i64, String)>,
}

/// Visitor messages a [`Timeline::compacted`] timeline keeps besides the first and the start
/// of the current wait.
pub const KEPT_STAMPS: usize = 32;

/// Audit field of the marker recording which rule an auto-reply answered with.
pub const AUTO_REPLY_MARK: &str = "auto_reply";

impl Timeline {
    /// Builds the timeline of a loaded conversation.
    pub fn scan(doc: &SharedDoc, internal: &InternalDoc) -> Self {
        let mut tl = Timeline::default();
        let delivered = doc.delivered_times();
        let mut msgs: Vec<(i64, usize, Message)> = doc
            .messages()
            .into_iter()
            .enumerate()
            .map(|(i, m)| (delivered.get(m.id.as_str()).copied().unwrap_or(m.sent_at), i, m))
            .collect();
        msgs.sort_by_key(|(at, i, _)| (*at, *i));
        for (at, _, m) in &msgs {
            tl.push(m, *at);
        }
        for e in internal.audit() {
            tl.note_audit(&e);
        }
        tl
    }

    /// [`Self::scan`] of a live document that continues `carried`, the timeline of the
    /// sealed epochs before it (`rollover`).
    pub fn resume(carried: Option<Timeline>, doc: &SharedDoc, internal: &InternalDoc) -> Self {
        let Some(mut tl) = carried else { return Self::scan(doc, internal) };
        let fresh = Self::scan(doc, internal);
        for s in fresh.visitor {
            insert_sorted(&mut tl.visitor, s);
        }
        for s in fresh.staff {
            insert_sorted(&mut tl.staff, s);
        }
        tl.last_agent_name = fresh.last_agent_name.or(tl.last_agent_name);
        tl.visitor_id = tl.visitor_id.or(fresh.visitor_id);
        tl.last_activity = tl.last_activity.max(fresh.last_activity);
        // The audit trail is not sealed: the scan read every marker again.
        tl.marks = fresh.marks;
        tl.auto_replies = fresh.auto_replies;
        tl
    }

    /// What the rules still ask of sealed messages: the first visitor message, the last staff
    /// reply, the start of the current wait and the newest [`KEPT_STAMPS`] visitor messages;
    /// not every stamp. Keeps the carried timeline bounded however long the conversation
    /// grows (a visitor writing thousands of messages nobody answers included); a
    /// [`Self::first_visitor_after`] a time before the kept stamps answers with the oldest
    /// kept one after it.
    pub fn compacted(&self) -> Timeline {
        let mut keep: Vec<&Stamped> = self.visitor.first().into_iter().collect();
        keep.extend(self.waiting_since());
        let newest = self.visitor.len().saturating_sub(KEPT_STAMPS);
        keep.extend(&self.visitor[newest..]);
        let mut visitor: Vec<Stamped> = Vec::with_capacity(keep.len());
        for s in keep {
            if !visitor.contains(s) {
                insert_sorted(&mut visitor, s.clone());
            }
        }
        Timeline {
            visitor,
            staff: self.staff.last().cloned().into_iter().collect(),
            last_agent_name: self.last_agent_name.clone(),
            visitor_id: self.visitor_id.clone(),
            last_activity: self.last_activity,
            marks: Default::default(),
            auto_replies: Vec::new(),
        }
    }

    /// Records an accepted message.
    pub fn push(&mut self, m: &Message, at: i64) {
        self.last_activity = Some(self.last_activity.map_or(at, |t| t.max(at)));
        if m.kind != MessageKind::Text {
            return;
        }
        let stamped = Stamped { at, id: m.id.clone() };
        match m.author.role {
            Role::Visitor => {
                self.visitor_id.get_or_insert_with(|| m.author.id.clone());
                insert_sorted(&mut self.visitor, stamped);
            }
            Role::Agent | Role::Admin => {
                self.last_agent_name = Some(m.author.name.clone());
                insert_sorted(&mut self.staff, stamped);
            }
            Role::Server => {}
        }
    }

    /// Records an audit entry: only the relay's own markers matter here.
    pub fn note_audit(&mut self, e: &AuditEntry) {
        if e.role != Role::Server {
            return;
        }
        if let Some(v) = &e.value {
            if e.field == AUTO_REPLY_MARK {
                let rule = v.split_once(':').map_or(v.as_str(), |(rule, _)| rule);
                self.auto_replies.push((e.at, rule.to_owned()));
            }
            self.marks.insert((e.field.clone(), v.clone()));
        }
    }

    pub fn marked(&self, field: &str, value: &str) -> bool {
        self.marks.contains(&(field.to_owned(), value.to_owned()))
    }

    /// Whether the relay left any marker under `field`.
    pub fn has_mark(&self, field: &str) -> bool {
        self.marks
            .range((field.to_owned(), String::new())..)
            .next()
            .is_some_and(|(f, _)| f == field)
    }

    pub fn first_visitor(&self) -> Option<&Stamped> {
        self.visitor.first()
    }

    pub fn last_staff(&self) -> Option<&Stamped> {
        self.staff.last()
    }

    pub fn staff_replied(&self) -> bool {
        !self.staff.is_empty()
    }

    pub fn last_agent_name(&self) -> Option<&str> {
        self.last_agent_name.as_deref()
    }

    pub fn visitor_id(&self) -> Option<&ParticipantId> {
        self.visitor_id.as_ref()
    }

    pub fn last_activity(&self) -> Option<i64> {
        self.last_activity
    }

    /// The first visitor message no staff message has answered yet: the start of the
    /// visitor's current wait.
    pub fn waiting_since(&self) -> Option<&Stamped> {
        let after = self.last_staff().map_or(i64::MIN, |s| s.at);
        self.first_visitor_after(after)
    }

    /// The first visitor message accepted after `t`.
    pub fn first_visitor_after(&self, t: i64) -> Option<&Stamped> {
        let i = self.visitor.partition_point(|s| s.at <= t);
        self.visitor.get(i)
    }

    /// When an auto-reply by `rule` was last sent.
    pub fn last_auto_reply(&self, rule: &str) -> Option<i64> {
        self.auto_replies.iter().filter(|(_, r)| r == rule).map(|(at, _)| *at).max()
    }
}

/// Inserts keeping `v` ordered by time (messages arrive in time order; a merge may not).
fn insert_sorted(v: &mut Vec<Stamped>, s: Stamped) {
    let i = v.partition_point(|x| x.at <= s.at);
    v.insert(i, s);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ids::DeviceId;
    use crate::message::Author;

    pub(crate) fn msg(id: &str, role: Role, kind: MessageKind) -> Message {
        Message {
            id: MessageId::new(id).unwrap(),
            author: Author {
                role,
                id: ParticipantId::new(format!("{}-1", role.as_str())).unwrap(),
                name: format!("{} one", role.as_str()),
            },
            device: DeviceId::new("d").unwrap(),
            kind,
            body: "hi".into(),
            sent_at: 0,
            attachment: None,
        }
    }

    #[test]
    fn the_wait_starts_at_the_first_unanswered_visitor_message() {
        let mut tl = Timeline::default();
        assert!(tl.waiting_since().is_none());
        tl.push(&msg("v1", Role::Visitor, MessageKind::Text), 10);
        tl.push(&msg("v2", Role::Visitor, MessageKind::Text), 20);
        assert_eq!(tl.waiting_since().unwrap().id.as_str(), "v1");
        tl.push(&msg("a1", Role::Agent, MessageKind::Text), 30);
        assert!(tl.waiting_since().is_none());
        // An auto-reply is not an answer.
        tl.push(&msg("s1", Role::Server, MessageKind::AutoReply), 35);
        tl.push(&msg("v3", Role::Visitor, MessageKind::Text), 40);
        assert_eq!(tl.waiting_since().unwrap().id.as_str(), "v3");
        assert_eq!(tl.last_activity(), Some(40));
        assert_eq!(tl.last_agent_name(), Some("agent one"));
    }

    #[test]
    fn messages_accepted_out_of_order_are_kept_in_time_order() {
        let mut tl = Timeline::default();
        tl.push(&msg("v2", Role::Visitor, MessageKind::Text), 20);
        tl.push(&msg("v1", Role::Visitor, MessageKind::Text), 10);
        assert_eq!(tl.first_visitor().unwrap().id.as_str(), "v1");
        assert_eq!(tl.first_visitor_after(10).unwrap().id.as_str(), "v2");
    }

    #[test]
    fn a_compacted_timeline_stays_small_and_keeps_the_first_message_and_the_current_wait() {
        let mut tl = Timeline::default();
        tl.push(&msg("first", Role::Visitor, MessageKind::Text), 1);
        tl.push(&msg("a1", Role::Agent, MessageKind::Text), 2);
        for i in 0..5_000 {
            tl.push(&msg(&format!("v{i}"), Role::Visitor, MessageKind::Text), 10 + i);
        }
        let c = tl.compacted();
        assert!(c.visitor.len() <= KEPT_STAMPS + 2, "{}", c.visitor.len());
        assert_eq!(c.first_visitor().unwrap().id.as_str(), "first");
        assert_eq!(c.waiting_since().unwrap().id.as_str(), "v0", "the wait began with v0");
        assert_eq!(c.last_staff().unwrap().id.as_str(), "a1");
        assert_eq!(c.first_visitor_after(5_000).unwrap().at, 5_001, "recent stamps are exact");
        assert_eq!(c.compacted(), c, "compacting again changes nothing");
    }
}
