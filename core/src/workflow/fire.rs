//! What a due timer does. Each leaves a marker in the audit trail or changes the status, so
//! it leaves the timer set ([`super::timers::desired`]) in the same write.

use super::plan::{Ctx, Plan};
use super::status::{State, Status};
use super::timers::{Timer, TimerKind};

pub fn fire(ctx: &Ctx<'_>, t: &Timer) -> Plan {
    let mut plan = Plan::default();
    let cfg = ctx.cfg;
    let event_id = |kind: &str| format!("{kind}:{}:{}", t.key(), t.mark_value());
    match t.kind {
        // The relay shreds due segments and archives the live document itself
        // (relay/retention.rs).
        TimerKind::Retention | TimerKind::Archive => {}
        TimerKind::SnoozeWake => {
            set_state(
                ctx,
                &mut plan,
                State::Open,
                "snooze_ended",
                event_id("conversation.status_changed"),
            );
        }
        TimerKind::AutoResolve => {
            set_state(
                ctx,
                &mut plan,
                State::Resolved,
                "idle",
                event_id("conversation.status_changed"),
            );
        }
        TimerKind::FirstResponse | TimerKind::NextResponse => {
            plan.mark(t.kind.mark_field(), t.mark_value());
            let sla =
                if t.kind == TimerKind::FirstResponse { "first_response" } else { "next_response" };
            plan.event(
                "sla.breached",
                event_id("sla.breached"),
                serde_json::json!({ "sla": sla, "message_id": t.cause, "due_at": t.due_ms }),
            );
            let tag = cfg.sla.breach_tag.as_deref().unwrap_or(&cfg.tags.follow_up);
            plan.tag(ctx, tag);
            if let Some(p) = cfg.sla.breach_priority {
                if plan.raise(ctx, p) {
                    let data = serde_json::json!({ "priority": p, "reason": format!("sla.{sla}") });
                    plan.event("priority.raised", event_id("priority.raised"), data);
                }
            }
        }
        TimerKind::Waiting(n) => {
            plan.mark(t.kind.mark_field(), t.mark_value());
            if let Some(step) = cfg.priority.waiting.get(n) {
                if plan.raise(ctx, step.priority) {
                    let data = serde_json::json!({
                        "priority": step.priority, "reason": "waiting", "waited_ms": step.after_ms,
                    });
                    plan.event("priority.raised", event_id("priority.raised"), data);
                }
            }
        }
        TimerKind::UnreadReminder => {
            plan.mark(t.kind.mark_field(), t.mark_value());
            let data = serde_json::json!({ "assignee": ctx.facts.assignee, "message_id": t.cause });
            plan.event("reminder.due", event_id("reminder.due"), data);
        }
        TimerKind::VisitorNotify => {
            plan.mark(t.kind.mark_field(), t.mark_value());
            let data = serde_json::json!({ "visitor": ctx.tl.visitor_id(), "message_id": t.cause });
            plan.event("visitor.notification_due", event_id("visitor.notification_due"), data);
        }
    }
    plan
}

fn set_state(ctx: &Ctx<'_>, plan: &mut Plan, to: State, reason: &str, id: String) {
    let from = ctx.facts.status.state;
    plan.status = Some(Status { state: to, snoozed_until: None });
    plan.event(
        "conversation.status_changed",
        id,
        serde_json::json!({ "from": from, "to": to, "by": "relay", "reason": reason }),
    );
}
