//! Per-agent routing settings (`routing.agents`): an agent's own limit of open conversations,
//! which wins over its teams' `max_open`, and the skills colleagues see when transferring.
//! Admins usually set them on the agent's account (PROTOCOL.md §2.9), which writes them here,
//! so routing keeps reading one place.

use super::errors::{field, index, quoted, Errors};
use super::json::RawAgent;
use super::routing_limits::{check_max_open, check_skills, PATH};
use crate::ids::ParticipantId;

/// Most agents with settings of their own.
pub const MAX_AGENTS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRouting {
    pub id: ParticipantId,
    pub skills: Vec<String>,
    /// Conversations this agent may hold open at once, in any team; `None`: each team's.
    pub max_open: Option<u32>,
}

impl AgentRouting {
    pub(super) fn to_raw(&self) -> RawAgent {
        RawAgent {
            id: self.id.to_string(),
            skills: self.skills.clone(),
            max_open: self.max_open.map(u64::from),
        }
    }
}

pub(super) fn agents(raw: &[RawAgent], errors: &mut Errors) -> Vec<AgentRouting> {
    let path = field(PATH, "agents");
    if raw.len() > MAX_AGENTS {
        errors.push(&path, format!("{} agents; the limit is {MAX_AGENTS}", raw.len()));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let here = index(&path, i);
        let id = match ParticipantId::new(a.id.as_str()) {
            Err(e) => {
                errors.push(field(&here, "id"), format!("{}: {e}", quoted(&a.id)));
                None
            }
            Ok(_) if raw[..i].iter().any(|o| o.id == a.id) => {
                errors.push(field(&here, "id"), format!("{} is listed twice", quoted(&a.id)));
                None
            }
            Ok(id) => Some(id),
        };
        let skills_ok = check_skills(&a.skills, &field(&here, "skills"), errors);
        let max_open = match a.max_open {
            None => Some(None),
            Some(n) => check_max_open(n, &field(&here, "max_open"), errors).map(Some),
        };
        if let (Some(id), true, Some(max_open)) = (id, skills_ok, max_open) {
            out.push(AgentRouting { id, skills: a.skills.clone(), max_open });
        }
    }
    out
}
