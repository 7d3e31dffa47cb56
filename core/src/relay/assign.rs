//! Assignment written by the relay on the inbox's behalf: routing picking an agent, an agent
//! claiming a conversation from the inbox, or transferring it to a colleague or a team.
//!
//! Agents' devices can set `assignee` and `team` in their replica of the internal document
//! too; this path exists for the inbox, which holds no replica. The change is the relay's,
//! audited under whoever asked (the agent, or the relay itself for routing), so the history
//! says who moved the conversation, and the conversation's messages are untouched.

use super::{Outgoing, Output, Relay, RelayError};
use crate::ids::{DeviceId, ParticipantId, TeamId};
use crate::internal_doc::{AuditAction, AuditEntry, CaseField};
use crate::message::Role;
use crate::store::ChunkStore;
use crate::workflow::plan::{relay_device, relay_participant};

/// The device name audited for changes asked through the inbox.
pub const INBOX_DEVICE: &str = "inbox";

/// What to change. `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    pub assignee: Option<Option<ParticipantId>>,
    pub team: Option<Option<TeamId>>,
    /// Who asked: an agent or admin, or `None` for the inbox's own routing.
    pub by: Option<(Role, ParticipantId)>,
    /// Assign only if nobody is assigned yet: a routing decision or a claim must not take a
    /// conversation from whoever got it meanwhile. A transfer sets this to false.
    pub only_if_unassigned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    #[error("the conversation is already assigned to {0}; transfer it instead")]
    Taken(String),
    #[error("only agents and admins assign conversations, not role {0}")]
    NotStaff(&'static str),
}

impl<S: ChunkStore> Relay<S> {
    /// Applies `a` as one audited change of the internal document, persisted before it
    /// returns; the output's frames bring every connected agent's replica up to date. A
    /// refused assignment changes nothing and produces nothing.
    pub fn assign(
        &mut self,
        a: &Assignment,
        now_ms: i64,
    ) -> Result<Result<Output, AssignError>, RelayError<S::Error>> {
        match self.apply_assignment(a, now_ms) {
            Ok(Ok(frames)) => self.finish(Ok(frames)).map(Ok),
            Ok(Err(refused)) => Ok(Err(refused)),
            Err(e) => self.finish(Err(e)).map(Ok),
        }
    }

    fn apply_assignment(
        &mut self,
        a: &Assignment,
        now_ms: i64,
    ) -> Result<Result<Vec<Outgoing>, AssignError>, RelayError<S::Error>> {
        let (role, actor) = match &a.by {
            Some((role, _)) if !matches!(role, Role::Agent | Role::Admin) => {
                return Ok(Err(AssignError::NotStaff(role.as_str())));
            }
            Some((role, who)) => (*role, who.clone()),
            None => (Role::Server, relay_participant()),
        };
        let current = self.internal.case_field(CaseField::Assignee);
        if a.only_if_unassigned {
            if let Some(holder) = current.as_ref().filter(|h| Some(h.as_str()) != wanted(a)) {
                return Ok(Err(AssignError::Taken(holder.clone())));
            }
        }
        let device = if a.by.is_some() {
            DeviceId::new(INBOX_DEVICE).unwrap_or_else(|_| relay_device())
        } else {
            relay_device()
        };
        let mut audit = Vec::new();
        let fields = [
            (CaseField::Team, a.team.as_ref().map(|t| t.as_ref().map(TeamId::as_str))),
            (
                CaseField::Assignee,
                a.assignee.as_ref().map(|p| p.as_ref().map(ParticipantId::as_str)),
            ),
        ];
        for (field, change) in fields {
            let Some(value) = change else { continue };
            if self.internal.case_field(field).as_deref() == value {
                continue;
            }
            self.internal.set_case(field, value, now_ms)?;
            audit.push(AuditEntry {
                at: now_ms,
                role,
                actor: actor.clone(),
                device: device.clone(),
                field: field.as_str().to_owned(),
                action: if value.is_some() { AuditAction::Set } else { AuditAction::Clear },
                value: value.map(str::to_owned),
            });
        }
        if audit.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        self.internal.record(&audit, now_ms)?;
        self.after_accept(&[], &audit, now_ms)?;
        self.persist_both()?;
        Ok(Ok(self.sync_all()))
    }
}

fn wanted(a: &Assignment) -> Option<&str> {
    a.assignee.as_ref().and_then(|p| p.as_ref()).map(ParticipantId::as_str)
}
