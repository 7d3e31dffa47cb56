//! The rules that answer accepted messages: reopening, default and keyword tags, priority,
//! the assignee on an agent's first reply, and at most one auto-reply per visitor message.
//!
//! Which auto-reply, in order: outside business hours the off-hours reply (once, then not
//! again while the conversation is live: see [`Quiet`]);
//! a visitor asking for a human is handed off; once handed off, or once an agent has
//! answered, the bot stays quiet; a matching FAQ answers; a question no rule answers is
//! handed off. The reply's id is derived from the visitor message's, so a message is never
//! answered twice even if the rules run again.

use super::config::TemplateVars;
use super::plan::{message_json, relay_message, reply_id, Ctx, Plan};
use super::status::{State, Status};
use super::timeline::AUTO_REPLY_MARK;
use crate::message::{Message, MessageKind, Role};

/// Audit field of the marker left when a visitor is handed to a human.
pub const HANDOFF_MARK: &str = "handoff";

/// The plan for `fresh`, the messages one accepted input added (already in the timeline).
pub fn react(ctx: &Ctx<'_>, fresh: &[Message]) -> Plan {
    let mut plan = Plan::default();
    let mut quiet = Quiet::from(ctx);
    for m in fresh {
        plan.event(
            "message.created",
            format!("message.created:{}", m.id),
            message_json(m, ctx.now),
        );
        if m.kind != MessageKind::Text {
            continue;
        }
        match m.author.role {
            Role::Visitor => on_visitor(ctx, m, &mut plan, &mut quiet),
            Role::Agent | Role::Admin => {
                plan.tag(ctx, &ctx.cfg.tags.replied);
                plan.untag(ctx, &ctx.cfg.tags.to_handle);
                let unassigned = ctx.facts.assignee.is_none() && plan.assign.is_none();
                if unassigned && ctx.cfg.routing.assign_on_reply {
                    plan.assign = Some(m.author.id.clone());
                }
            }
            Role::Server => {}
        }
    }
    plan
}

/// The welcome message, when the first visitor joins.
pub fn welcome(ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::default();
    let Some(template) = &ctx.cfg.auto_replies.welcome else { return plan };
    if ctx.tl.last_auto_reply("welcome").is_some() {
        return plan;
    }
    if let Some(text) = ctx.cfg.render(template, ctx.visitor.locale.as_deref(), &vars(ctx)) {
        let reply = relay_message(ctx.cfg, reply_id("welcome"), text, ctx.now);
        plan.mark(AUTO_REPLY_MARK, "welcome:conversation");
        plan.replies.push(reply);
    }
    plan
}

/// What earlier replies in this input already did, on top of what the timeline knows.
struct Quiet {
    /// The off-hours reply would repeat what the visitor knows: it was sent, or an agent
    /// answered, less than `off_hours_quiet_ms` ago, and the conversation was not resolved
    /// since. (Repeating it after every agent reply told a visitor in a live chat three times
    /// that nobody was there, issue 16.)
    off_hours_told: bool,
    handed_off: bool,
}

impl Quiet {
    fn from(ctx: &Ctx<'_>) -> Self {
        let told = ctx.tl.last_auto_reply("off_hours");
        let answered = ctx.tl.last_staff().map(|s| s.at);
        let live = told
            .max(answered)
            .is_some_and(|t| ctx.now - t < ctx.cfg.auto_replies.off_hours_quiet_ms);
        Self {
            off_hours_told: live && ctx.facts.status.state != State::Resolved,
            handed_off: ctx.tl.has_mark(HANDOFF_MARK) || ctx.tl.staff_replied(),
        }
    }
}

fn on_visitor(ctx: &Ctx<'_>, m: &Message, plan: &mut Plan, quiet: &mut Quiet) {
    let cfg = ctx.cfg;
    let state = plan.status.unwrap_or(ctx.facts.status).state;
    if state != State::Open {
        plan.status = Some(Status { state: State::Open, snoozed_until: None });
        plan.event(
            "conversation.status_changed",
            format!("conversation.status_changed:open:{}", m.id),
            serde_json::json!({ "from": state, "to": State::Open, "by": "relay", "reason": "visitor_message" }),
        );
    }
    plan.tag(ctx, &cfg.tags.to_handle);
    plan.untag(ctx, &cfg.tags.replied);
    for rule in cfg.keyword_rules.iter().filter(|r| r.matcher.matches(&m.body)) {
        for t in &rule.add_tags {
            plan.tag(ctx, t);
        }
        if let Some(p) = rule.priority {
            raise(ctx, plan, p, "keyword", &m.id.to_string());
        }
    }
    if let (true, Some(p)) = (ctx.visitor.vip, cfg.priority.vip) {
        raise(ctx, plan, p, "vip", &m.id.to_string());
    }
    auto_reply(ctx, m, plan, quiet);
}

fn raise(
    ctx: &Ctx<'_>,
    plan: &mut Plan,
    p: crate::internal_doc::Priority,
    reason: &str,
    cause: &str,
) {
    if plan.raise(ctx, p) {
        plan.event(
            "priority.raised",
            format!("priority.raised:{reason}:{cause}"),
            serde_json::json!({ "priority": p, "reason": reason }),
        );
    }
}

/// Picks at most one reply for visitor message `m`.
fn auto_reply(ctx: &Ctx<'_>, m: &Message, plan: &mut Plan, quiet: &mut Quiet) {
    let cfg = ctx.cfg;
    let ar = &cfg.auto_replies;
    if !cfg.is_business_hours(ctx.now) && !quiet.off_hours_told {
        if let Some(t) = &ar.off_hours {
            quiet.off_hours_told = true;
            reply(ctx, m, t, "off_hours", plan);
            return;
        }
    }
    let has_bot = ar.human.is_some() || !ar.faq.is_empty();
    if ar.human.as_ref().is_some_and(|h| h.matches(&m.body)) {
        handoff(ctx, m, plan, quiet, "asked_for_human");
        return;
    }
    if quiet.handed_off || !has_bot {
        return;
    }
    match ar.faq.iter().find(|f| f.matcher.matches(&m.body)) {
        Some(faq) => reply(ctx, m, &faq.template, "faq", plan),
        None => handoff(ctx, m, plan, quiet, "no_rule_answered"),
    }
}

/// Hands the visitor to a human: an agent sees the whole conversation (it is all in the
/// shared document), the integrator is told, and the bot stops answering.
fn handoff(ctx: &Ctx<'_>, m: &Message, plan: &mut Plan, quiet: &mut Quiet, reason: &str) {
    let first = !quiet.handed_off;
    quiet.handed_off = true;
    plan.mark(HANDOFF_MARK, m.id.to_string());
    plan.event(
        "conversation.handoff",
        format!("conversation.handoff:{}", m.id),
        serde_json::json!({ "reason": reason, "message_id": m.id }),
    );
    if first {
        if let Some(t) = &ctx.cfg.auto_replies.handoff {
            reply(ctx, m, t, "handoff", plan);
        }
    }
}

fn reply(ctx: &Ctx<'_>, m: &Message, template: &str, rule: &str, plan: &mut Plan) {
    let Some(text) = ctx.cfg.render(template, ctx.visitor.locale.as_deref(), &vars(ctx)) else {
        return;
    };
    plan.mark(AUTO_REPLY_MARK, format!("{rule}:{}", m.id));
    plan.replies.push(relay_message(ctx.cfg, reply_id(m.id.as_str()), text, ctx.now));
}

fn vars(ctx: &Ctx<'_>) -> TemplateVars {
    TemplateVars {
        visitor_name: ctx.visitor.name.clone(),
        agent_name: ctx.tl.last_agent_name().map(str::to_owned),
        attributes: ctx.visitor.attributes.clone(),
    }
}
