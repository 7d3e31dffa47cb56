//! The relay's side of the support workflow: it runs the rules of [`crate::workflow`] on
//! what it accepted and on due timers, and writes their plans into the documents as the
//! relay's own, audited changes, in the same write as their cause.

use std::sync::Arc;

use super::{Outgoing, Output, Relay, RelayError};
use crate::ids::ParticipantId;
use crate::internal_doc::{AuditAction, AuditEntry, CaseField, Priority};
use crate::message::{Message, Role};
use crate::shared_doc::DocError;
use crate::store::ChunkStore;
use crate::workflow::config::WorkspaceConfig;
use crate::workflow::event::WebhookEvent;
use crate::workflow::fire::fire;
use crate::workflow::plan::{message_json, relay_device, relay_participant, Ctx, Event, Plan};
use crate::workflow::profile::VisitorProfile;
use crate::workflow::react::{react, welcome};
use crate::workflow::status::{Status, STATE_KEY};
use crate::workflow::timeline::Timeline;
use crate::workflow::timers::{desired, Facts, Timer};

/// Most timers fired in one call: a bound on one alarm's work, not a limit anyone meets
/// (a conversation has at most a handful of timers).
const MAX_FIRED_PER_CALL: usize = 32;

/// What the workflow needs besides the documents: the workspace's rules, the visitor's
/// claims, and the conversation's names for events.
#[derive(Debug, Clone)]
pub struct WorkflowSetup {
    pub config: Arc<WorkspaceConfig>,
    /// The configuration's version, so the owner knows when to fetch a newer one.
    pub version: u64,
    pub visitor: VisitorProfile,
    pub workspace: String,
    pub conversation: String,
}

impl<S: ChunkStore> Relay<S> {
    /// Turns the workflow on (or off, with `None`) from the next input on.
    pub fn configure(&mut self, setup: Option<WorkflowSetup>) {
        if setup.is_some() && self.timeline.is_none() {
            let carried = self.carry.timeline.clone();
            self.timeline = Some(Timeline::resume(carried, &self.doc, &self.internal));
        }
        self.workflow = setup;
    }

    pub fn workflow(&self) -> Option<&WorkflowSetup> {
        self.workflow.as_ref()
    }

    /// The conversation's pending timers, earliest first (none without a workflow).
    pub fn timers(&self) -> Vec<Timer> {
        let mut timers = match &self.workflow {
            Some(w) => match &self.timeline {
                Some(tl) => desired(&w.config, tl, &self.facts(tl)),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        for t in self.retention_timer().into_iter().chain(self.archive_timer()) {
            let at = timers.partition_point(|x| x.due_ms <= t.due_ms);
            timers.insert(at, t);
        }
        timers
    }

    /// A visitor joined: the welcome message, the first time.
    pub fn visitor_joined(&mut self, now_ms: i64) -> Result<Output, RelayError<S::Error>> {
        let result = self.welcome(now_ms);
        self.finish(result)
    }

    fn welcome(&mut self, now_ms: i64) -> Result<Vec<Outgoing>, RelayError<S::Error>> {
        let Some(plan) = self.plan_with(now_ms, welcome) else {
            return Ok(Vec::new());
        };
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        self.apply(plan, now_ms)?;
        self.persist_both()?;
        Ok(self.sync_all())
    }

    /// Runs every timer due at `now_ms`. Running it again changes nothing: a fired timer
    /// leaves the set in the same write (see [`crate::workflow::timers`]).
    pub fn fire_due(&mut self, now_ms: i64) -> Result<Output, RelayError<S::Error>> {
        let result = self.fire(now_ms);
        self.finish(result)
    }

    fn fire(&mut self, now_ms: i64) -> Result<Vec<Outgoing>, RelayError<S::Error>> {
        use crate::workflow::timers::TimerKind;
        let mut fired = self.shred_due(now_ms)?;
        while fired < MAX_FIRED_PER_CALL {
            let due = self.timers().into_iter().find(|t| {
                t.due_ms <= now_ms && !matches!(t.kind, TimerKind::Retention | TimerKind::Archive)
            });
            let Some(due) = due else { break };
            let Some(plan) = self.plan_with(now_ms, |ctx| fire(ctx, &due)) else { break };
            self.apply(plan, now_ms)?;
            fired += 1;
        }
        let archive = self.archive_if_due(now_ms)?;
        if fired == 0 && !archive {
            return Ok(Vec::new());
        }
        self.persist_both()?;
        let out = self.sync_all();
        // Last, as after a frame: what was just synced belongs to the sealed epoch.
        if archive {
            self.roll_over(now_ms)?;
        }
        Ok(out)
    }

    /// Records what was accepted and runs the rules on it.
    pub(super) fn after_accept(
        &mut self,
        fresh: &[Message],
        audit: &[AuditEntry],
        now_ms: i64,
    ) -> Result<(), DocError> {
        if let Some(tl) = self.timeline.as_mut() {
            for m in fresh {
                tl.push(m, now_ms);
            }
        }
        let Some(mut plan) = self.plan_with(now_ms, |ctx| react(ctx, fresh)) else {
            return Ok(());
        };
        for e in audit.iter().filter(|e| e.field == format!("status.{STATE_KEY}")) {
            plan.event(
                "conversation.status_changed",
                format!("conversation.status_changed:{}:{}:{}", e.at, e.actor, e.device),
                serde_json::json!({ "to": e.value, "by": e.role, "actor": e.actor }),
            );
        }
        self.apply(plan, now_ms)
    }

    fn facts(&self, tl: &Timeline) -> Facts {
        let assignee =
            self.internal.case_field(CaseField::Assignee).and_then(|a| ParticipantId::new(a).ok());
        Facts {
            status: Status::read(&self.doc),
            assignee_read_at: assignee.as_ref().and_then(|a| self.doc.read_time(a)),
            assignee,
            visitor_read_at: tl.visitor_id().and_then(|v| self.doc.read_time(v)),
        }
    }

    /// Runs `rules` on the current state; `None` without a workflow.
    fn plan_with(&self, now: i64, rules: impl FnOnce(&Ctx<'_>) -> Plan) -> Option<Plan> {
        let w = self.workflow.as_ref()?;
        let tl = self.timeline.as_ref()?;
        let facts = self.facts(tl);
        let tags = self.internal.tags();
        let ctx = Ctx {
            cfg: &w.config,
            tl,
            facts: &facts,
            priority: self
                .internal
                .case_field(CaseField::Priority)
                .and_then(|p| Priority::parse(&p)),
            tags: &tags,
            visitor: &w.visitor,
            now,
        };
        Some(rules(&ctx))
    }

    /// Writes `plan` as the relay's changes, audited. A part that cannot be written (a tag
    /// over the conversation's limit) is skipped rather than refusing the input it answers:
    /// what a peer sent was valid and is kept.
    fn apply(&mut self, plan: Plan, now: i64) -> Result<(), DocError> {
        let mut audit = Vec::new();
        let mut events = plan.events;
        for reply in &plan.replies {
            if self.message_ids.contains(reply.id.as_str()) || self.doc.append(reply, now).is_err()
            {
                continue;
            }
            self.doc.stamp_delivered(std::slice::from_ref(&reply.id), now)?;
            self.message_ids.insert(reply.id.to_string());
            self.accepted.push(reply.clone());
            if let Some(tl) = self.timeline.as_mut() {
                tl.push(reply, now);
            }
            let id = format!("message.created:{}", reply.id);
            events.push(Event { kind: "message.created", id, data: message_json(reply, now) });
        }
        if let Some(status) = plan.status {
            status.write(&mut self.doc, now)?;
            audit.push(relay_entry(now, "status.state", AuditAction::Set, status.state.as_str()));
        }
        for t in &plan.add_tags {
            if self.internal.add_tag(t, now).unwrap_or(false) {
                audit.push(relay_entry(now, "tags", AuditAction::Add, t));
            }
        }
        for t in &plan.remove_tags {
            if self.internal.remove_tag(t, now).unwrap_or(false) {
                audit.push(relay_entry(now, "tags", AuditAction::Remove, t));
            }
        }
        if let Some(p) = plan.priority {
            self.internal.set_case(CaseField::Priority, Some(p.as_str()), now)?;
            audit.push(relay_entry(
                now,
                CaseField::Priority.as_str(),
                AuditAction::Set,
                p.as_str(),
            ));
        }
        if let Some(agent) = &plan.assign {
            self.internal.set_case(CaseField::Assignee, Some(agent.as_str()), now)?;
            audit.push(relay_entry(
                now,
                CaseField::Assignee.as_str(),
                AuditAction::Set,
                agent.as_str(),
            ));
        }
        for (field, value) in &plan.marks {
            audit.push(relay_entry(now, field, AuditAction::Set, value));
        }
        self.internal.record(&audit, now)?;
        if let Some(tl) = self.timeline.as_mut() {
            for e in &audit {
                tl.note_audit(e);
            }
        }
        if let Some(w) = &self.workflow {
            self.events.extend(events.into_iter().map(|e| WebhookEvent {
                id: e.id,
                kind: e.kind.to_owned(),
                at: now,
                workspace: w.workspace.clone(),
                conversation: w.conversation.clone(),
                data: e.data,
            }));
        }
        Ok(())
    }
}

pub(super) fn relay_entry(at: i64, field: &str, action: AuditAction, value: &str) -> AuditEntry {
    AuditEntry {
        at,
        role: Role::Server,
        actor: relay_participant(),
        device: relay_device(),
        field: field.to_owned(),
        action,
        value: Some(value.to_owned()),
    }
}
