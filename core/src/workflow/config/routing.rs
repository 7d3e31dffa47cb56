//! Routing: the teams a new conversation can go to, the rules that pick one, and how each
//! team picks an agent. Checked from its JSON form here and written back by `to_raw`; the
//! selection itself is [`crate::inbox::routing`].

use super::agent_routing::{agents, AgentRouting};
use super::errors::{field, index, quoted, Errors};
use super::json::{RawRouteRule, RawRouteWhen, RawRouting, RawTeam};
use super::matcher::Matcher;
use super::routing_limits::{check_max_open, check_skills};
pub use super::routing_limits::{MAX_OPEN_LIMIT, MAX_SKILLS, MAX_SKILL_BYTES};
use super::templates::is_language_tag;
use crate::ids::{ParticipantId, TeamId};

/// Most teams, members per team, and routing rules.
pub const MAX_TEAMS: usize = 50;
pub const MAX_MEMBERS: usize = 200;
pub const MAX_ROUTE_RULES: usize = 100;
/// Conversations an agent of a team may hold open at once when the team names no maximum.
pub const DEFAULT_MAX_OPEN: u32 = 10;
/// Longest channel name (`web`, `app`, `wechat`, ...).
pub const MAX_CHANNEL_BYTES: usize = 64;

/// The routing section: empty (the default) routes nothing, and every conversation waits
/// for an agent to claim it or to reply.
#[derive(Debug, Clone)]
pub struct Routing {
    pub teams: Vec<Team>,
    /// In order: the first rule that holds names the team.
    pub rules: Vec<RouteRule>,
    /// The team of a conversation no rule matches; without one it stays unrouted.
    pub default_team: Option<TeamId>,
    /// An agent replying to an unassigned conversation takes it (default on): nobody else
    /// picks up a conversation someone already answers.
    pub assign_on_reply: bool,
    /// Settings of single agents (their own `max_open`, their skills).
    pub agents: Vec<AgentRouting>,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            teams: Vec::new(),
            rules: Vec::new(),
            default_team: None,
            assign_on_reply: true,
            agents: Vec::new(),
        }
    }
}

impl Routing {
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id.as_str() == id)
    }

    pub fn agent(&self, id: &str) -> Option<&AgentRouting> {
        self.agents.iter().find(|a| a.id.as_str() == id)
    }

    /// How many conversations `agent` may hold open when `team` routes to it: the agent's own
    /// limit if it has one, else the team's.
    pub fn max_open_of(&self, team: &Team, agent: &str) -> u32 {
        self.agent(agent).and_then(|a| a.max_open).unwrap_or(team.max_open)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    /// Shown to agents; the id when the configuration gives none.
    pub name: String,
    /// Labels for people (what the team knows); rules, not skills, pick the team.
    pub skills: Vec<String>,
    /// In the order round robin goes through them. An agent may be in several teams.
    pub members: Vec<ParticipantId>,
    pub strategy: Strategy,
    /// Conversations one member may hold open at once; routing gives no more.
    pub max_open: u32,
}

impl Team {
    pub fn has_member(&self, agent: &str) -> bool {
        self.members.iter().any(|m| m.as_str() == agent)
    }
}

/// How a team picks among its online members with room for one more conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The next member after the one assigned last, in member order, wrapping.
    #[default]
    RoundRobin,
    /// The member with the fewest open conversations, ties by member order.
    LeastBusy,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastBusy => "least_busy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "round_robin" => Some(Strategy::RoundRobin),
            "least_busy" => Some(Strategy::LeastBusy),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RouteRule {
    pub when: RouteWhen,
    pub team: TeamId,
}

/// What a conversation must have for a rule to hold: every condition given (at least one).
#[derive(Debug, Clone, Default)]
pub struct RouteWhen {
    /// Compared ignoring ASCII case.
    pub channel: Option<String>,
    pub vip: Option<bool>,
    /// A language range: `en` holds for `en`, `en-US`, `en-GB`; `zh-CN` for `zh-CN` only.
    pub language: Option<String>,
    /// Over the visitor's messages so far.
    pub matcher: Option<Matcher>,
}

/// A channel name: 1 to [`MAX_CHANNEL_BYTES`] characters of `A-Z a-z 0-9 _ . -`. The same
/// alphabet suits the visitor token's `channel` claim.
pub fn is_channel(s: &str) -> bool {
    (1..=MAX_CHANNEL_BYTES).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

use super::routing_limits::PATH;

impl Routing {
    pub(super) fn from_raw(raw: &RawRouting, errors: &mut Errors) -> Self {
        let teams = teams(&raw.teams, errors);
        // Rules and the default team are checked against the ids as written, so a team whose
        // own id is refused is reported once, at the team.
        let exists = |id: &str| raw.teams.iter().any(|t| t.id == id);
        let known = || {
            let mut ids: Vec<&str> = Vec::new();
            for t in &raw.teams {
                if !ids.contains(&t.id.as_str()) {
                    ids.push(&t.id);
                }
            }
            if ids.is_empty() {
                "none are defined".to_owned()
            } else {
                ids.join(", ")
            }
        };
        let team_ref = |id: &str, path: &str, errors: &mut Errors| {
            if !exists(id) {
                errors.push(
                    path,
                    format!(
                        "no team with id {}; add it under `routing.teams` (teams: {})",
                        quoted(id),
                        known()
                    ),
                );
                return None;
            }
            TeamId::new(id).ok()
        };
        let rules_path = field(PATH, "rules");
        let rules = if raw.rules.len() > MAX_ROUTE_RULES {
            errors.push(
                &rules_path,
                format!("{} rules; the limit is {MAX_ROUTE_RULES}", raw.rules.len()),
            );
            Vec::new()
        } else {
            raw.rules
                .iter()
                .enumerate()
                .filter_map(|(i, rule)| {
                    let here = index(&rules_path, i);
                    let when = conditions(&rule.when, &field(&here, "when"), errors);
                    let team = team_ref(&rule.team, &field(&here, "team"), errors);
                    Some(RouteRule { when: when?, team: team? })
                })
                .collect()
        };
        let default_team = raw
            .default_team
            .as_deref()
            .and_then(|id| team_ref(id, &field(PATH, "default_team"), errors));
        Routing {
            teams,
            rules,
            default_team,
            assign_on_reply: raw.assign_on_reply.unwrap_or(true),
            agents: agents(&raw.agents, errors),
        }
    }

    /// `None` when there is nothing to route by, so an empty section is not written back.
    pub(super) fn to_raw(&self) -> Option<RawRouting> {
        let raw = RawRouting {
            teams: self
                .teams
                .iter()
                .map(|t| RawTeam {
                    id: t.id.to_string(),
                    name: Some(t.name.clone()),
                    skills: t.skills.clone(),
                    members: t.members.iter().map(ToString::to_string).collect(),
                    strategy: Some(t.strategy.as_str().to_owned()),
                    max_open: Some(u64::from(t.max_open)),
                })
                .collect(),
            rules: self
                .rules
                .iter()
                .map(|r| {
                    let m = r.when.matcher.as_ref().map(Matcher::to_raw).unwrap_or_default();
                    RawRouteRule {
                        when: RawRouteWhen {
                            channel: r.when.channel.clone(),
                            vip: r.when.vip,
                            language: r.when.language.clone(),
                            keywords: m.keywords,
                            regex: m.regex,
                        },
                        team: r.team.to_string(),
                    }
                })
                .collect(),
            default_team: self.default_team.as_ref().map(ToString::to_string),
            assign_on_reply: Some(self.assign_on_reply),
            agents: self.agents.iter().map(AgentRouting::to_raw).collect(),
        };
        let empty = raw.teams.is_empty()
            && raw.rules.is_empty()
            && raw.agents.is_empty()
            && raw.default_team.is_none()
            && self.assign_on_reply;
        (!empty).then_some(raw)
    }
}

fn teams(raw: &[RawTeam], errors: &mut Errors) -> Vec<Team> {
    let path = field(PATH, "teams");
    if raw.len() > MAX_TEAMS {
        errors.push(&path, format!("{} teams; the limit is {MAX_TEAMS}", raw.len()));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let here = index(&path, i);
        let earlier = raw[..i].iter().position(|other| other.id == t.id);
        let id = match (TeamId::new(t.id.as_str()), earlier) {
            (Err(e), _) => {
                errors.push(field(&here, "id"), e.to_string());
                None
            }
            (Ok(_), Some(first)) => {
                errors.push(
                    field(&here, "id"),
                    format!(
                        "{} is already the id of routing.teams[{first}]; team ids must be unique",
                        quoted(&t.id)
                    ),
                );
                None
            }
            (Ok(id), None) => Some(id),
        };
        let name = team_name(t.name.as_deref(), &t.id, &field(&here, "name"), errors);
        let skills_ok = check_skills(&t.skills, &field(&here, "skills"), errors);
        let members = members(&t.members, &field(&here, "members"), errors);
        let strategy = match t.strategy.as_deref().map(|s| (s, Strategy::parse(s))) {
            None => Some(Strategy::default()),
            Some((_, Some(s))) => Some(s),
            Some((s, None)) => {
                errors.push(
                    field(&here, "strategy"),
                    format!("{} is not a strategy; use round_robin or least_busy", quoted(s)),
                );
                None
            }
        };
        let max_open = match t.max_open {
            None => Some(DEFAULT_MAX_OPEN),
            Some(n) => check_max_open(n, &field(&here, "max_open"), errors),
        };
        if let (Some(id), Some(name), true, Some(members), Some(strategy), Some(max_open)) =
            (id, name, skills_ok, members, strategy, max_open)
        {
            let skills = t.skills.clone();
            out.push(Team { id, name, skills, members, strategy, max_open });
        }
    }
    out
}

fn team_name(name: Option<&str>, id: &str, path: &str, errors: &mut Errors) -> Option<String> {
    let Some(name) = name else { return Some(id.to_owned()) };
    let max = crate::message::MAX_NAME_BYTES;
    if name.trim().is_empty() || name.len() > max || name.chars().any(char::is_control) {
        errors.push(path, format!("give 1 to {max} bytes of visible text, no control characters"));
        return None;
    }
    Some(name.to_owned())
}

fn members(raw: &[String], path: &str, errors: &mut Errors) -> Option<Vec<ParticipantId>> {
    if raw.len() > MAX_MEMBERS {
        errors.push(path, format!("{} members; the limit is {MAX_MEMBERS}", raw.len()));
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut ok = true;
    for (i, m) in raw.iter().enumerate() {
        match ParticipantId::new(m.as_str()) {
            Err(e) => {
                errors.push(index(path, i), format!("{}: {e}", quoted(m)));
                ok = false;
            }
            Ok(_) if raw[..i].contains(m) => {
                errors.push(index(path, i), format!("{} is listed twice", quoted(m)));
                ok = false;
            }
            Ok(id) => out.push(id),
        }
    }
    ok.then_some(out)
}

fn conditions(raw: &RawRouteWhen, path: &str, errors: &mut Errors) -> Option<RouteWhen> {
    let mut ok = true;
    if let Some(c) = raw.channel.as_deref().filter(|c| !is_channel(c)) {
        errors.push(
            field(path, "channel"),
            format!(
                "{} is not a channel name: 1 to {MAX_CHANNEL_BYTES} characters of A-Z a-z 0-9 _ . -",
                quoted(c)
            ),
        );
        ok = false;
    }
    if let Some(l) = raw.language.as_deref().filter(|l| !is_language_tag(l)) {
        errors.push(
            field(path, "language"),
            format!("{} is not a language tag; write one like \"en\" or \"zh-CN\"", quoted(l)),
        );
        ok = false;
    }
    let matcher = if raw.keywords.is_some() || raw.regex.is_some() {
        let m = Matcher::from_raw(raw.keywords.as_deref(), raw.regex.as_deref(), path, errors);
        ok &= m.is_some();
        m
    } else {
        None
    };
    if raw.channel.is_none() && raw.vip.is_none() && raw.language.is_none() && matcher.is_none() {
        if ok {
            errors.push(
                path,
                "has no condition, so it would take every conversation: give `channel`, `vip`, `language`, `keywords` or `regex`, or name the team as `routing.default_team`",
            );
        }
        return None;
    }
    ok.then(|| RouteWhen {
        channel: raw.channel.clone(),
        vip: raw.vip,
        language: raw.language.clone(),
        matcher,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{ConfigError, WorkspaceConfig};
    use super::*;

    /// The example of PROTOCOL.md §9.10.
    const EXAMPLE: &str = r#"{
  "routing": {
    "teams": [
      {"id": "vip", "name": "VIP 专席", "members": ["agent-1"], "max_open": 3},
      {"id": "billing", "name": "账务", "skills": ["billing", "zh"],
       "members": ["agent-1", "agent-2"], "strategy": "least_busy", "max_open": 5},
      {"id": "english", "name": "English desk", "skills": ["en"], "members": ["agent-3", "agent-1"]},
      {"id": "general", "members": ["agent-2", "agent-3"]}
    ],
    "rules": [
      {"when": {"vip": true}, "team": "vip"},
      {"when": {"keywords": ["退款", "发票", "refund", "invoice"]}, "team": "billing"},
      {"when": {"channel": "app", "regex": "(?i)crash|闪退"}, "team": "english"},
      {"when": {"language": "en"}, "team": "english"}
    ],
    "default_team": "general"
  }
}"#;

    fn errors(json: &str) -> Vec<ConfigError> {
        WorkspaceConfig::parse(json).unwrap_err().0
    }

    fn routing_errors(routing: &str) -> Vec<(String, String)> {
        errors(&format!("{{\"routing\": {routing}}}"))
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    #[test]
    fn the_documented_example_parses_with_defaults_filled_in() {
        let r = WorkspaceConfig::parse(EXAMPLE).unwrap().routing;
        let ids: Vec<&str> = r.teams.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["vip", "billing", "english", "general"]);
        let billing = r.team("billing").unwrap();
        assert_eq!(
            (billing.name.as_str(), billing.strategy, billing.max_open),
            ("账务", Strategy::LeastBusy, 5)
        );
        assert_eq!(billing.skills, ["billing", "zh"]);
        let general = r.team("general").unwrap();
        assert_eq!(general.name, "general", "the id when no name is given");
        assert_eq!((general.strategy, general.max_open), (Strategy::RoundRobin, DEFAULT_MAX_OPEN));
        assert!(r.team("english").unwrap().has_member("agent-1"));
        assert!(r.team("vip").unwrap().has_member("agent-1"), "an agent in several teams");
        assert_eq!(r.rules.len(), 4);
        assert_eq!(r.rules[0].when.vip, Some(true));
        assert!(r.rules[1].when.matcher.as_ref().unwrap().matches("我要开发票"));
        assert_eq!(r.rules[2].when.channel.as_deref(), Some("app"));
        assert!(r.rules[2].when.matcher.as_ref().unwrap().matches("App CRASHED"));
        assert_eq!(r.rules[3].when.language.as_deref(), Some("en"));
        assert_eq!(r.default_team.as_ref().map(TeamId::as_str), Some("general"));
    }

    #[test]
    fn routing_round_trips_through_the_stored_json() {
        let c = WorkspaceConfig::parse(EXAMPLE).unwrap();
        let stored = c.to_json(false);
        assert_eq!(stored["routing"]["teams"][3]["strategy"], "round_robin");
        assert_eq!(stored["routing"]["teams"][3]["max_open"], 10);
        assert_eq!(stored["routing"]["teams"][3]["name"], "general");
        assert_eq!(stored["routing"]["rules"][2]["when"]["regex"], "(?i)crash|闪退");
        assert_eq!(stored["routing"]["rules"][0]["when"], serde_json::json!({"vip": true}));
        let again = WorkspaceConfig::parse(&stored.to_string()).unwrap();
        assert_eq!(again.to_json(false), stored);
        assert_eq!(again.routing.teams, c.routing.teams);
    }

    #[test]
    fn an_empty_routing_section_routes_nothing_and_is_not_written_back() {
        let c = WorkspaceConfig::parse(r#"{"routing": {}}"#).unwrap();
        assert!(c.routing.teams.is_empty() && c.routing.rules.is_empty());
        assert!(c.routing.default_team.is_none());
        assert!(c.to_json(false).get("routing").is_none());
    }

    #[test]
    fn every_routing_problem_is_reported_at_its_path_in_one_answer() {
        let e = routing_errors(
            r#"{
              "teams": [
                {"id": "billing", "members": ["agent-1", "agent 2", "agent-1"], "max_open": 0},
                {"id": "billing", "strategy": "fastest"},
                {"id": "a/b", "name": " ", "skills": ["zh", "zh", ""], "max_open": 1001}
              ],
              "rules": [
                {"when": {"vip": true}, "team": "biling"},
                {"when": {}, "team": "billing"},
                {"when": {"language": "english!", "channel": "a pp"}, "team": "billing"},
                {"when": {"keywords": ["退款"], "regex": "x"}, "team": "billing"}
              ],
              "default_team": "general"
            }"#,
        );
        let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "routing.teams[0].members[1]",
                "routing.teams[0].members[2]",
                "routing.teams[0].max_open",
                "routing.teams[1].id",
                "routing.teams[1].strategy",
                "routing.teams[2].id",
                "routing.teams[2].name",
                "routing.teams[2].skills[1]",
                "routing.teams[2].skills[2]",
                "routing.teams[2].max_open",
                "routing.rules[0].team",
                "routing.rules[1].when",
                "routing.rules[2].when.channel",
                "routing.rules[2].when.language",
                "routing.rules[3].when",
                "routing.default_team",
            ]
        );
        let message = |path: &str| &e.iter().find(|(p, _)| p == path).unwrap().1;
        assert_eq!(
            message("routing.teams[0].members[1]"),
            "\"agent 2\": participant id contains ' '; allowed are ASCII letters, digits and . _ - : @"
        );
        assert_eq!(message("routing.teams[0].members[2]"), "\"agent-1\" is listed twice");
        assert!(message("routing.teams[0].max_open").starts_with("0; give 1 to 1000"));
        assert_eq!(
            message("routing.teams[1].id"),
            "\"billing\" is already the id of routing.teams[0]; team ids must be unique"
        );
        assert_eq!(
            message("routing.teams[1].strategy"),
            "\"fastest\" is not a strategy; use round_robin or least_busy"
        );
        assert!(message("routing.teams[2].id").starts_with("team id contains '/'"));
        assert_eq!(
            message("routing.rules[0].team"),
            "no team with id \"biling\"; add it under `routing.teams` (teams: billing, a/b)"
        );
        assert!(message("routing.rules[1].when").starts_with("has no condition"));
        assert!(message("routing.rules[3].when").contains("both `keywords` and `regex`"));
    }

    #[test]
    fn unknown_fields_and_wrong_types_in_routing_name_their_path() {
        let one = |routing: &str| {
            let mut e = routing_errors(routing);
            assert_eq!(e.len(), 1, "{e:?}");
            e.remove(0)
        };
        let (path, message) = one(r#"{"teams": [{"id": "t", "max_opne": 3}]}"#);
        assert_eq!(path, "routing.teams[0].max_opne");
        assert!(message.starts_with("unknown field `max_opne`, expected one of"), "{message}");
        let (path, _) = one(r#"{"rules": [{"when": {"lang": "en"}, "team": "t"}]}"#);
        assert_eq!(path, "routing.rules[0].when.lang");
        let (path, _) = one(r#"{"default": "t"}"#);
        assert_eq!(path, "routing.default");
        let (path, message) = one(r#"{"teams": [{"id": "t", "max_open": -1}]}"#);
        assert_eq!(path, "routing.teams[0].max_open");
        assert!(message.contains("expected a whole number"), "{message}");
        let (path, message) = one(r#"{"rules": [{"when": {"vip": "yes"}, "team": "t"}]}"#);
        assert_eq!(path, "routing.rules[0].when.vip");
        assert!(message.contains("expected a boolean"), "{message}");
        let (path, message) = one(r#"{"rules": [{"team": "t"}]}"#);
        assert_eq!(path, "routing.rules[0]");
        assert!(message.contains("missing field `when`"), "{message}");
    }

    #[test]
    fn team_member_and_rule_counts_are_bounded() {
        let teams: Vec<String> = (0..=MAX_TEAMS).map(|i| format!("{{\"id\": \"t{i}\"}}")).collect();
        let e = routing_errors(&format!("{{\"teams\": [{}]}}", teams.join(",")));
        assert_eq!(e, [("routing.teams".to_owned(), "51 teams; the limit is 50".to_owned())]);
        let members: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("\"a{i}\"")).collect();
        let e = routing_errors(&format!(
            "{{\"teams\": [{{\"id\": \"t\", \"members\": [{}]}}]}}",
            members.join(",")
        ));
        assert_eq!(
            e,
            [("routing.teams[0].members".to_owned(), "201 members; the limit is 200".to_owned())]
        );
        let rules = vec![r#"{"when": {"vip": true}, "team": "t"}"#; MAX_ROUTE_RULES + 1];
        let e = routing_errors(&format!(
            "{{\"teams\": [{{\"id\": \"t\"}}], \"rules\": [{}]}}",
            rules.join(",")
        ));
        assert_eq!(e, [("routing.rules".to_owned(), "101 rules; the limit is 100".to_owned())]);
    }
}
