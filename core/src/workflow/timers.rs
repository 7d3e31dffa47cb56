//! The conversation's timers, as a pure function of its state: what should happen when, given
//! the configuration, the timeline and the status.
//!
//! The relay recomputes the set after every accepted change; the Durable Object stores it in
//! its timers table and sets its single alarm to the earliest. A timer that has fired leaves a
//! marker in the audit trail (or changes the status), after which it is no longer in the set:
//! that is what makes an alarm delivered twice harmless.

use serde::{Deserialize, Serialize};

use super::config::WorkspaceConfig;
use super::status::{State, Status};
use super::timeline::Timeline;
use crate::ids::ParticipantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// A snoozed conversation opens again.
    SnoozeWake,
    /// No agent has answered the visitor's first message in time.
    FirstResponse,
    /// No agent has answered a visitor message after an earlier reply in time.
    NextResponse,
    /// The visitor has waited past step `n` of the priority rules.
    Waiting(usize),
    /// The assigned agent has not read a visitor message in time.
    UnreadReminder,
    /// The visitor has not read an agent's reply in time (email/push by the integrator).
    VisitorNotify,
    /// An open or pending conversation has been idle long enough to resolve.
    AutoResolve,
    /// A sealed segment has outlived the workspace's retention (PROTOCOL.md §16.4): the relay
    /// shreds it (not a rule of [`super::fire`]: the relay does it with its archive).
    Retention,
    /// The live document's first message is older than the workspace's
    /// `archive_after_days` (PROTOCOL.md §16.4): the relay seals it (also not a rule).
    Archive,
}

impl TimerKind {
    /// The audit field of the marker a fired timer leaves.
    pub fn mark_field(self) -> &'static str {
        match self {
            TimerKind::SnoozeWake => "snooze.wake",
            TimerKind::FirstResponse => "sla.first_response",
            TimerKind::NextResponse => "sla.next_response",
            TimerKind::Waiting(_) => "priority.waiting",
            TimerKind::UnreadReminder => "reminder.unread",
            TimerKind::VisitorNotify => "notify.visitor",
            TimerKind::AutoResolve => "auto_resolve",
            TimerKind::Retention => "retention.shred",
            TimerKind::Archive => "retention.archive",
        }
    }
}

/// One pending timer. `cause` names what started it (a message id, or a time), so the same
/// wait is one timer however often the set is recomputed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub kind: TimerKind,
    pub due_ms: i64,
    pub cause: String,
}

impl Timer {
    /// Unique within a conversation: the timers table's key.
    pub fn key(&self) -> String {
        match self.kind {
            TimerKind::Waiting(n) => format!("{}.{n}", self.kind.mark_field()),
            k => k.mark_field().to_owned(),
        }
    }

    /// The marker's value: which wait this timer was about.
    pub fn mark_value(&self) -> String {
        match self.kind {
            TimerKind::Waiting(n) => format!("{}#{n}", self.cause),
            _ => self.cause.clone(),
        }
    }
}

/// What the timers depend on besides the timeline.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub status: Status,
    pub assignee: Option<ParticipantId>,
    /// When the assignee last read (the relay's time of the latest message any of its
    /// devices marked read).
    pub assignee_read_at: Option<i64>,
    pub visitor_read_at: Option<i64>,
}

/// Every timer the conversation should have now, earliest first.
pub fn desired(cfg: &WorkspaceConfig, tl: &Timeline, facts: &Facts) -> Vec<Timer> {
    let mut out = Vec::new();
    let mut add = |kind: TimerKind, due_ms: i64, cause: String| {
        let t = Timer { kind, due_ms, cause };
        if !tl.marked(kind.mark_field(), &t.mark_value()) {
            out.push(t);
        }
    };
    let state = facts.status.state;
    if state == State::Snoozed {
        if let Some(until) = facts.status.snoozed_until {
            // Not marked: waking changes the state, which ends this timer by itself.
            add(TimerKind::SnoozeWake, until, until.to_string());
        }
    }
    if state.awaits_agent() {
        if let Some(wait) = tl.waiting_since() {
            let sla = if tl.staff_replied() {
                (TimerKind::NextResponse, cfg.sla.next_response_ms)
            } else {
                (TimerKind::FirstResponse, cfg.sla.first_response_ms)
            };
            if let (kind, Some(limit)) = sla {
                add(kind, wait.at + limit, wait.id.to_string());
            }
            for (n, step) in cfg.priority.waiting.iter().enumerate() {
                add(TimerKind::Waiting(n), wait.at + step.after_ms, wait.id.to_string());
            }
        }
        if let (Some(limit), Some(_)) = (cfg.reminders.unread_ms, &facts.assignee) {
            let read = facts.assignee_read_at.unwrap_or(i64::MIN);
            if let Some(unread) = tl.first_visitor_after(read) {
                add(TimerKind::UnreadReminder, unread.at + limit, unread.id.to_string());
            }
        }
    }
    if let (Some(limit), Some(reply)) = (cfg.reminders.visitor_notify_ms, tl.last_staff()) {
        if facts.visitor_read_at.is_none_or(|read| read < reply.at) {
            add(TimerKind::VisitorNotify, reply.at + limit, reply.id.to_string());
        }
    }
    if let (Some(limit), Some(last)) = (cfg.reminders.auto_resolve_ms, tl.last_activity()) {
        if matches!(state, State::Open | State::Pending) {
            add(TimerKind::AutoResolve, last + limit, last.to_string());
        }
    }
    out.sort_by_key(|t| t.due_ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internal_doc::{AuditAction, AuditEntry};
    use crate::message::{MessageKind, Role};
    use crate::workflow::timeline::tests::msg;

    fn cfg() -> WorkspaceConfig {
        let mut c = WorkspaceConfig::default();
        c.sla.first_response_ms = Some(60_000);
        c.sla.next_response_ms = Some(300_000);
        c
    }

    fn kinds(ts: &[Timer]) -> Vec<TimerKind> {
        ts.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn first_response_sla_runs_from_the_first_visitor_message_until_an_agent_answers() {
        let mut tl = Timeline::default();
        assert!(desired(&cfg(), &tl, &Facts::default()).is_empty());
        tl.push(&msg("v1", Role::Visitor, MessageKind::Text), 1_000);
        tl.push(&msg("v2", Role::Visitor, MessageKind::Text), 2_000);
        let ts = desired(&cfg(), &tl, &Facts::default());
        assert_eq!(
            ts,
            vec![Timer { kind: TimerKind::FirstResponse, due_ms: 61_000, cause: "v1".into() }]
        );
        tl.push(&msg("a1", Role::Agent, MessageKind::Text), 3_000);
        assert!(desired(&cfg(), &tl, &Facts::default()).is_empty());
        tl.push(&msg("v3", Role::Visitor, MessageKind::Text), 4_000);
        let ts = desired(&cfg(), &tl, &Facts::default());
        assert_eq!(kinds(&ts), vec![TimerKind::NextResponse]);
        assert_eq!(ts[0].due_ms, 304_000);
    }

    #[test]
    fn a_fired_timer_leaves_the_set_through_its_marker() {
        let mut tl = Timeline::default();
        tl.push(&msg("v1", Role::Visitor, MessageKind::Text), 1_000);
        let t = desired(&cfg(), &tl, &Facts::default()).remove(0);
        tl.note_audit(&AuditEntry {
            at: t.due_ms,
            role: Role::Server,
            actor: ParticipantId::new("edgedesk").unwrap(),
            device: crate::ids::DeviceId::new("relay").unwrap(),
            field: t.kind.mark_field().into(),
            action: AuditAction::Set,
            value: Some(t.mark_value()),
        });
        assert!(desired(&cfg(), &tl, &Facts::default()).is_empty());
    }

    #[test]
    fn response_timers_pause_unless_open_and_snooze_wakes() {
        let mut tl = Timeline::default();
        tl.push(&msg("v1", Role::Visitor, MessageKind::Text), 1_000);
        let snoozed = Facts {
            status: Status { state: State::Snoozed, snoozed_until: Some(9_000) },
            ..Default::default()
        };
        let ts = desired(&cfg(), &tl, &snoozed);
        assert_eq!(
            ts,
            vec![Timer { kind: TimerKind::SnoozeWake, due_ms: 9_000, cause: "9000".into() }]
        );
        let resolved = Facts {
            status: Status { state: State::Resolved, snoozed_until: None },
            ..Default::default()
        };
        assert!(desired(&cfg(), &tl, &resolved).is_empty());
    }

    #[test]
    fn reminders_follow_read_marks() {
        let mut c = cfg();
        c.sla = Default::default();
        c.reminders.unread_ms = Some(100);
        c.reminders.visitor_notify_ms = Some(200);
        c.reminders.auto_resolve_ms = Some(10_000);
        let mut tl = Timeline::default();
        tl.push(&msg("v1", Role::Visitor, MessageKind::Text), 1_000);
        tl.push(&msg("a1", Role::Agent, MessageKind::Text), 2_000);
        tl.push(&msg("v2", Role::Visitor, MessageKind::Text), 3_000);
        let mut facts = Facts {
            assignee: Some(ParticipantId::new("agent-1").unwrap()),
            assignee_read_at: Some(1_000),
            visitor_read_at: None,
            ..Default::default()
        };
        let ts = desired(&c, &tl, &facts);
        assert_eq!(
            kinds(&ts),
            vec![TimerKind::VisitorNotify, TimerKind::UnreadReminder, TimerKind::AutoResolve]
        );
        assert_eq!(ts[1].cause, "v2");
        assert_eq!(ts[2].due_ms, 13_000);
        facts.assignee_read_at = Some(3_000);
        facts.visitor_read_at = Some(2_000);
        assert_eq!(kinds(&desired(&c, &tl, &facts)), vec![TimerKind::AutoResolve]);
    }
}
