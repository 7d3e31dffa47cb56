//! The routing half of an account: the agent's teams, its skills and its own limit of open
//! conversations. They live in the workspace configuration's routing section (team members,
//! `routing.agents`, PROTOCOL.md §9.10), the one place routing reads; an account update
//! writes them there and the agents list reads them back, so the two never disagree.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

use super::AccountError;
use crate::ids::ParticipantId;
use crate::workflow::config::{Routing, WorkspaceConfig};

/// What an account update says about routing; `None` leaves that part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingUpdate {
    /// Every team the agent is to be a member of (and of no other).
    pub teams: Option<Vec<String>>,
    pub skills: Option<Vec<String>>,
    /// `Some(None)`: back to each team's limit.
    pub max_open: Option<Option<u64>>,
}

/// A field that is present, even as `null`: `Some(None)`, unlike a missing one (`None`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl RoutingUpdate {
    pub fn is_empty(&self) -> bool {
        self.teams.is_none() && self.skills.is_none() && self.max_open.is_none()
    }

    /// Writes the update into a configuration's JSON (as stored, secrets included). The
    /// result still has to pass [`crate::workflow::config::WorkspaceConfig::parse`]. Returns
    /// whether anything changed.
    pub fn apply(&self, agent: &ParticipantId, config: &mut Value) -> Result<bool, AccountError> {
        if self.is_empty() {
            return Ok(false);
        }
        let before = config.clone();
        let routing = object_at(config, "routing")?;
        if let Some(wanted) = &self.teams {
            set_teams(routing, agent.as_str(), wanted)?;
        }
        if self.skills.is_some() || self.max_open.is_some() {
            self.set_own(routing, agent.as_str())?;
        }
        Ok(*config != before)
    }

    /// The configuration to store after this update, from the one stored now (`None`: never
    /// configured). `Ok(None)` when routing would read nothing new (the same configuration in
    /// its canonical form, e.g. an empty team list where there are no teams), so a save that
    /// changes nothing stores no new version; refused when the result does not pass the
    /// configuration's checks.
    pub fn next_config(
        &self,
        agent: &ParticipantId,
        stored: Option<&str>,
    ) -> Result<Option<WorkspaceConfig>, AccountError> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut json = match stored {
            Some(s) => serde_json::from_str(s).map_err(|_| shape("JSON"))?,
            None => json!({}),
        };
        if !self.apply(agent, &mut json)? {
            return Ok(None);
        }
        let next = WorkspaceConfig::parse(&json.to_string())
            .map_err(|errors| AccountError::Routing(errors.to_string()))?;
        let before = WorkspaceConfig::parse(stored.unwrap_or("{}")).ok();
        if before.is_some_and(|b| b.to_json(false) == next.to_json(false)) {
            return Ok(None);
        }
        Ok(Some(next))
    }

    fn set_own(&self, routing: &mut Map<String, Value>, agent: &str) -> Result<(), AccountError> {
        let agents = array_at(routing, "agents")?;
        let at = agents.iter().position(|a| a["id"] == agent);
        let mut entry = match at {
            Some(i) => agents.remove(i),
            None => json!({ "id": agent }),
        };
        let fields = entry.as_object_mut().ok_or_else(|| shape("routing.agents"))?;
        if let Some(skills) = &self.skills {
            fields.insert("skills".into(), json!(skills));
        }
        if let Some(max_open) = &self.max_open {
            fields.insert("max_open".into(), json!(max_open));
        }
        fields.retain(|k, v| k == "id" || !(v.is_null() || v == &json!([])));
        if fields.len() > 1 {
            agents.insert(at.unwrap_or(agents.len()), entry);
        }
        if agents.is_empty() {
            routing.remove("agents");
        }
        Ok(())
    }
}

fn set_teams(
    routing: &mut Map<String, Value>,
    agent: &str,
    wanted: &[String],
) -> Result<(), AccountError> {
    let teams = array_at(routing, "teams")?;
    let known: Vec<String> =
        teams.iter().filter_map(|t| t["id"].as_str()).map(str::to_owned).collect();
    if let Some(unknown) = wanted.iter().find(|w| !known.contains(w)) {
        return Err(AccountError::UnknownTeam(unknown.clone(), known.join(", ")));
    }
    for team in teams.iter_mut() {
        let member = team["id"].as_str().is_some_and(|id| wanted.iter().any(|w| w == id));
        let fields = team.as_object_mut().ok_or_else(|| shape("routing.teams"))?;
        let members = array_at(fields, "members")?;
        let listed = members.iter().any(|m| m == agent);
        if member && !listed {
            members.push(json!(agent));
        } else if !member && listed {
            members.retain(|m| m != agent);
        }
    }
    Ok(())
}

fn shape(path: &str) -> AccountError {
    AccountError::Routing(format!(
        "the stored configuration's {path} is not in its documented shape"
    ))
}

fn object_at<'v>(v: &'v mut Value, key: &str) -> Result<&'v mut Map<String, Value>, AccountError> {
    let root = v.as_object_mut().ok_or_else(|| shape("root"))?;
    root.entry(key).or_insert_with(|| json!({})).as_object_mut().ok_or_else(|| shape(key))
}

fn array_at<'m>(
    m: &'m mut Map<String, Value>,
    key: &str,
) -> Result<&'m mut Vec<Value>, AccountError> {
    m.entry(key).or_insert_with(|| json!([])).as_array_mut().ok_or_else(|| shape(key))
}

/// An agent's routing as the agents list shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentRoutingView {
    pub teams: Vec<String>,
    pub skills: Vec<String>,
    /// The agent's own limit; absent: each team's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_open: Option<u32>,
}

impl AgentRoutingView {
    pub fn of(routing: &Routing, agent: &str) -> Self {
        let own = routing.agent(agent);
        AgentRoutingView {
            teams: routing
                .teams
                .iter()
                .filter(|t| t.has_member(agent))
                .map(|t| t.id.to_string())
                .collect(),
            skills: own.map(|a| a.skills.clone()).unwrap_or_default(),
            max_open: own.and_then(|a| a.max_open),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Value {
        json!({
            "default_language": "en",
            "routing": {
                "teams": [
                    {"id": "sales", "members": ["a1", "ada"]},
                    {"id": "billing", "members": ["a1"], "max_open": 4}
                ],
                "default_team": "sales"
            }
        })
    }

    fn ada() -> ParticipantId {
        ParticipantId::new("ada").unwrap()
    }

    fn parsed(v: &Value) -> WorkspaceConfig {
        WorkspaceConfig::parse(&v.to_string()).unwrap()
    }

    #[test]
    fn teams_skills_and_an_own_limit_land_in_the_routing_section_and_read_back() {
        let mut c = config();
        let update = RoutingUpdate {
            teams: Some(vec!["billing".into()]),
            skills: Some(vec!["退款".into(), "English".into()]),
            max_open: Some(Some(2)),
        };
        assert!(update.apply(&ada(), &mut c).unwrap());
        assert_eq!(c["routing"]["teams"][0]["members"], json!(["a1"]), "left sales");
        assert_eq!(c["routing"]["teams"][1]["members"], json!(["a1", "ada"]), "joined billing");
        let routing = parsed(&c).routing;
        let view = AgentRoutingView::of(&routing, "ada");
        assert_eq!(view.teams, ["billing"]);
        assert_eq!(view.skills, ["退款", "English"]);
        assert_eq!(view.max_open, Some(2));
        assert_eq!(routing.max_open_of(&routing.teams[1], "ada"), 2);
        assert_eq!(routing.max_open_of(&routing.teams[1], "a1"), 4);
        // The same update again changes nothing.
        assert!(!update.apply(&ada(), &mut c).unwrap());
    }

    #[test]
    fn clearing_skills_and_limit_removes_the_agents_entry_and_absent_fields_keep_theirs() {
        let mut c = config();
        let set = RoutingUpdate {
            skills: Some(vec!["vip".into()]),
            max_open: Some(Some(7)),
            ..Default::default()
        };
        set.apply(&ada(), &mut c).unwrap();
        let keep_teams_only = RoutingUpdate { max_open: Some(None), ..Default::default() };
        keep_teams_only.apply(&ada(), &mut c).unwrap();
        assert_eq!(c["routing"]["agents"], json!([{"id": "ada", "skills": ["vip"]}]));
        assert_eq!(c["routing"]["teams"][0]["members"], json!(["a1", "ada"]), "teams untouched");
        RoutingUpdate { skills: Some(vec![]), ..Default::default() }.apply(&ada(), &mut c).unwrap();
        assert!(c["routing"].get("agents").is_none());
        assert_eq!(AgentRoutingView::of(&parsed(&c).routing, "ada").max_open, None);
    }

    #[test]
    fn the_next_configuration_is_stored_only_when_routing_reads_something_new() {
        let stored = config().to_string();
        let join = RoutingUpdate { teams: Some(vec!["billing".into()]), ..Default::default() };
        let next = join.next_config(&ada(), Some(&stored)).unwrap().expect("a new version");
        assert!(next.routing.teams[1].has_member("ada"));
        let canonical = next.to_json(false).to_string();
        assert!(join.next_config(&ada(), Some(&canonical)).unwrap().is_none(), "already a member");
        // No teams anywhere and none asked for: nothing to store, even never configured.
        let none =
            RoutingUpdate { teams: Some(vec![]), max_open: Some(None), ..Default::default() };
        assert!(none.next_config(&ada(), None).unwrap().is_none());
        assert!(none.next_config(&ada(), Some("{}")).unwrap().is_none());
        // A skill the configuration refuses refuses the update.
        let long = RoutingUpdate { skills: Some(vec!["x".repeat(65)]), ..Default::default() };
        let e = long.next_config(&ada(), Some(&stored)).unwrap_err();
        assert_eq!((e.code(), e.status()), ("invalid_routing", 422));
        assert!(e.to_string().contains("routing.agents[0].skills[0]"), "{e}");
    }

    #[test]
    fn an_unknown_team_is_refused_naming_the_known_ones() {
        let mut c = config();
        let before = c.clone();
        let e =
            RoutingUpdate { teams: Some(vec!["sales".into(), "vip".into()]), ..Default::default() }
                .apply(&ada(), &mut c)
                .unwrap_err();
        assert_eq!(e.code(), "unknown_team");
        assert!(e.to_string().contains("sales, billing"), "{e}");
        assert_eq!(c, before, "nothing written");
        // A workspace with no configuration has no teams to join, but can hold a limit.
        let mut empty = json!({});
        RoutingUpdate { max_open: Some(Some(3)), ..Default::default() }
            .apply(&ada(), &mut empty)
            .unwrap();
        assert_eq!(parsed(&empty).routing.agent("ada").unwrap().max_open, Some(3));
    }
}
