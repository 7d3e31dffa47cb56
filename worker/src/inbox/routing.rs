//! The inbox's routing and assignment: new conversations to a team and an online agent
//! (`edgedesk_core::inbox::routing` decides), a team's queue when one of its agents comes
//! online, claims and transfers. Every assignment is an order to the conversation's object,
//! which writes it as an audited change and answers with its new summary.

use edgedesk_core::ids::{ConversationId, ParticipantId};
use edgedesk_core::inbox::presence::Presence;
use edgedesk_core::inbox::protocol::Target;
use edgedesk_core::inbox::push::AssignOrder;
use edgedesk_core::inbox::routing::{
    assign_queue, candidates, pick_agent, pick_team, teams_of, wants_routing, Candidate, RouteFacts,
};
use edgedesk_core::inbox::summary::Summary;
use edgedesk_core::workflow::config::routing::{Routing, Team};
use worker::Method;

use crate::inbox::request::ForwardedAgent;
use crate::inbox::Inbox;
use crate::object_call::{Call, CONVERSATION};
use crate::request::{Forwarded, Refusal};

impl Inbox {
    /// Every member of `team` with its presence and load (in-flight orders included).
    fn candidates(&self, workspace: &str, routing: &Routing, team: &Team) -> Vec<Candidate> {
        let presence = self.presence();
        let open = self.with_open(workspace, |o| o.store.open_counts()).ok().and_then(Result::ok);
        let in_flight = self.in_flight.borrow().clone();
        let online: std::collections::HashSet<String> = presence
            .into_iter()
            .filter(|(_, p)| *p == Presence::Online)
            .map(|(a, _)| a.to_string())
            .collect();
        let open = open.unwrap_or_default();
        candidates(
            routing,
            team,
            |m| online.contains(m),
            &open,
            in_flight.values().map(String::as_str),
        )
    }

    /// Routes a conversation that nobody holds: picks its team (unless it has one) and an
    /// online agent of it; without one, the conversation waits in the team's queue.
    pub(crate) async fn route(&self, workspace: &str, s: &Summary, text: &str) {
        if !wants_routing(s, self.in_flight.borrow().contains_key(&s.conversation)) {
            return;
        }
        let config = self.config(workspace).await;
        let routing = &config.routing;
        let team = match s.team.as_deref() {
            Some(t) => routing.team(t),
            None => pick_team(
                routing,
                &RouteFacts {
                    channel: &s.channel,
                    vip: s.vip,
                    language: s.language.as_deref(),
                    text,
                },
            ),
        };
        let Some(team) = team else { return };
        let last = self
            .with_open(workspace, |o| o.store.last_assigned(team.id.as_str()))
            .ok()
            .and_then(Result::ok)
            .flatten();
        let agent = pick_agent(team, &self.candidates(workspace, routing, team), last.as_deref());
        let new_team = s.team.as_deref() != Some(team.id.as_str());
        if agent.is_none() && !new_team {
            return;
        }
        let order = AssignOrder {
            assignee: agent,
            clear_assignee: false,
            team: new_team.then(|| team.id.to_string()),
            by: None,
            only_if_unassigned: true,
        };
        if let Err(r) = self.order(workspace, &s.conversation, order).await {
            worker::console_log!("inbox: routing order not applied: {}", r.code);
        }
    }

    /// An agent came online: the queues of its teams are assigned, oldest first, as far as
    /// its teams' strategies and maximums allow.
    pub(crate) async fn route_queues(&self, workspace: &str, agent: &ParticipantId) {
        let config = self.config(workspace).await;
        for team in teams_of(&config.routing, agent.as_str()) {
            let queued = self.with_open(workspace, |o| o.store.queued(team.id.as_str()));
            let Ok(Ok(queued)) = queued else { continue };
            let queued: Vec<_> = queued
                .into_iter()
                .filter(|s| !self.in_flight.borrow().contains_key(&s.conversation))
                .collect();
            let last = self
                .with_open(workspace, |o| o.store.last_assigned(team.id.as_str()))
                .ok()
                .and_then(Result::ok)
                .flatten();
            let picks = assign_queue(
                team,
                &self.candidates(workspace, &config.routing, team),
                last.as_deref(),
                queued.len(),
            );
            for (s, agent) in queued.iter().zip(picks) {
                let order = AssignOrder {
                    assignee: Some(agent),
                    clear_assignee: false,
                    team: None,
                    by: None,
                    only_if_unassigned: true,
                };
                if let Err(r) = self.order(workspace, &s.conversation, order).await {
                    worker::console_log!("inbox: queued conversation not assigned: {}", r.code);
                }
            }
        }
    }

    pub(crate) async fn transfer(
        &self,
        who: &ForwardedAgent,
        c: &ConversationId,
        to: Target,
    ) -> Result<Summary, Refusal> {
        let ws = who.workspace.as_str();
        let by = Some((who.role, who.agent.to_string()));
        let order = match to {
            Target::Agent(a) => AssignOrder {
                assignee: Some(a.to_string()),
                clear_assignee: false,
                team: None,
                by,
                only_if_unassigned: false,
            },
            Target::Team(t) => {
                let config = self.config(ws).await;
                if config.routing.team(t.as_str()).is_none() {
                    return Err(Refusal::new(
                        404,
                        "unknown_team",
                        format!("the workspace's routing configuration has no team {t:?}"),
                    ));
                }
                AssignOrder {
                    assignee: None,
                    clear_assignee: true,
                    team: Some(t.to_string()),
                    by,
                    only_if_unassigned: false,
                }
            }
        };
        let summary = self.order(ws, c.as_str(), order).await?;
        // Sent to a team: routed within it right away, or queued there.
        if summary.assignee.is_none() {
            self.route(ws, &summary, "").await;
            let routed = self
                .with_open(ws, |o| o.store.summary(c.as_str()))
                .ok()
                .and_then(Result::ok)
                .flatten();
            return Ok(routed.unwrap_or(summary));
        }
        Ok(summary)
    }

    /// Sends an assignment order to the conversation's object; stores and broadcasts the
    /// summary it answers with. The picked agent counts as loaded while the order flies.
    pub(crate) async fn order(
        &self,
        workspace: &str,
        conversation: &str,
        order: AssignOrder,
    ) -> Result<Summary, Refusal> {
        if let Some(a) = &order.assignee {
            self.in_flight.borrow_mut().insert(conversation.to_owned(), a.clone());
        }
        let answer = self.send_order(workspace, conversation, &order).await;
        self.in_flight.borrow_mut().remove(conversation);
        let summary = answer?;
        if order.by.is_none() {
            if let (Some(agent), Some(team)) = (&summary.assignee, &summary.team) {
                let _ = self.with_open(workspace, |o| o.store.set_last_assigned(team, agent));
            }
        }
        let flush = self.apply_summary(workspace, &summary)?;
        self.flush_summaries(flush).await;
        Ok(summary)
    }

    async fn send_order(
        &self,
        workspace: &str,
        conversation: &str,
        order: &AssignOrder,
    ) -> Result<Summary, Refusal> {
        let unreachable = |e: crate::object_call::Unreachable| {
            worker::console_error!("inbox: conversation unreachable: {e}");
            Refusal::new(503, "unavailable", "the conversation could not be reached; retry")
        };
        let forwarded = Forwarded {
            workspace: edgedesk_core::ids::WorkspaceId::new(workspace)
                .map_err(|e| Refusal::new(400, "bad_workspace_id", e.to_string()))?,
            conversation: ConversationId::new(conversation)
                .map_err(|e| Refusal::new(400, "bad_conversation_id", e.to_string()))?,
            peer: None,
        };
        let name = forwarded.object_name();
        let answer = Call {
            to: CONVERSATION,
            name: &name,
            method: Method::Post,
            path: "assign",
            forwarded: forwarded.to_header(),
            headers: &[],
            body: Some(serde_json::to_string(order).unwrap_or_default()),
        }
        .send(&self.env)
        .await
        .map_err(unreachable)?;
        let (status, value) = (answer.status, answer.json());
        if status != 200 {
            let message = value["message"]
                .as_str()
                .unwrap_or("the conversation refused the assignment")
                .to_owned();
            let code = match status {
                409 => "taken",
                404 => "not_found",
                400 => "bad_order",
                403 => "not_allowed",
                _ => "unavailable",
            };
            return Err(Refusal::new(status, code, message));
        }
        serde_json::from_value::<Summary>(value["summary"].clone()).map_err(|_| {
            Refusal::new(
                404,
                "not_found",
                format!("no conversation {conversation} in this workspace"),
            )
        })
    }
}
