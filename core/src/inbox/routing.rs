//! Routing a conversation: which team (the configuration's rules), then which agent of it
//! (the team's strategy over who is online and how loaded).
//!
//! Pure and deterministic: the inbox passes in presence and open counts and keeps the last
//! agent each team assigned to, so the same inputs always pick the same agent, and a replayed
//! decision after a restart gives the same answer.

use crate::inbox::summary::Summary;
use crate::workflow::config::{RouteWhen, Routing, Strategy, Team};
use crate::workflow::status::State;

/// What routing rules look at in a new conversation.
#[derive(Debug, Clone, Copy)]
pub struct RouteFacts<'a> {
    /// From the visitor token's `channel` claim (`web` when it names none).
    pub channel: &'a str,
    pub vip: bool,
    /// The visitor's locale, e.g. `en-US`.
    pub language: Option<&'a str>,
    /// The visitor's messages so far, for keyword and regex conditions.
    pub text: &'a str,
}

/// One agent as the inbox sees it when assigning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub agent: String,
    pub online: bool,
    /// Conversations assigned to the agent and not resolved.
    pub open: u32,
    /// The agent's own limit of open conversations (`routing.agents`), over the team's.
    pub max_open: Option<u32>,
}

impl Candidate {
    fn has_room(&self, team: &Team) -> bool {
        self.online && self.open < self.max_open.unwrap_or(team.max_open)
    }
}

/// Whether the inbox routes `s` now: a visitor waits in an open conversation nobody holds,
/// and no assignment order for it is on its way (`order_in_flight`). Routed once a visitor
/// waits, not when its device merely connects, so keyword rules see the first message.
pub fn wants_routing(s: &Summary, order_in_flight: bool) -> bool {
    s.assignee.is_none() && s.waiting_since.is_some() && s.status == State::Open && !order_in_flight
}

/// Every member of `team` as routing weighs it: online or not, its own limit (from
/// `routing`), and its load, the open conversations it holds (`open`, per agent) plus the
/// assignments on their way to it (`in_flight`, one agent per order), so that orders not yet
/// answered count too.
pub fn candidates<'a>(
    routing: &Routing,
    team: &Team,
    online: impl Fn(&str) -> bool,
    open: &[(String, u32)],
    in_flight: impl Iterator<Item = &'a str> + Clone,
) -> Vec<Candidate> {
    team.members
        .iter()
        .map(|m| {
            let held = open.iter().find(|(a, _)| a == m.as_str()).map_or(0, |(_, n)| *n);
            let coming = in_flight.clone().filter(|a| *a == m.as_str()).count();
            Candidate {
                agent: m.to_string(),
                online: online(m.as_str()),
                open: held.saturating_add(u32::try_from(coming).unwrap_or(u32::MAX)),
                max_open: routing.agent(m.as_str()).and_then(|a| a.max_open),
            }
        })
        .collect()
}

/// The team of a new conversation: the first rule that holds, else the default team, else
/// none (the conversation waits for a claim).
pub fn pick_team<'r>(routing: &'r Routing, facts: &RouteFacts) -> Option<&'r Team> {
    let id = routing
        .rules
        .iter()
        .find(|r| holds(&r.when, facts))
        .map(|r| &r.team)
        .or(routing.default_team.as_ref())?;
    routing.team(id.as_str())
}

fn holds(when: &RouteWhen, facts: &RouteFacts) -> bool {
    when.channel.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(facts.channel))
        && when.vip.is_none_or(|v| v == facts.vip)
        && when
            .language
            .as_deref()
            .is_none_or(|range| facts.language.is_some_and(|tag| language_matches(range, tag)))
        && when.matcher.as_ref().is_none_or(|m| m.matches(facts.text))
}

/// Whether locale `tag` falls under the language `range` (RFC 4647 basic filtering): `en`
/// takes `en` and `en-US`; `zh-CN` takes `zh-CN` but neither `zh` nor `zh-TW`. Case is
/// ignored and `_` reads as `-`.
pub fn language_matches(range: &str, tag: &str) -> bool {
    let norm = |s: &str| s.trim().replace('_', "-").to_ascii_lowercase();
    let (range, tag) = (norm(range), norm(tag));
    !range.is_empty()
        && tag.strip_prefix(range.as_str()).is_some_and(|r| r.is_empty() || r.starts_with('-'))
}

/// The agent of `team` to give the next conversation, or `None` if no member is online with
/// room under its `max_open` (the conversation waits in the team's queue). Members missing from
/// `candidates` count as offline; candidates outside the team are ignored.
pub fn pick_agent(
    team: &Team,
    candidates: &[Candidate],
    last_assigned: Option<&str>,
) -> Option<String> {
    let available =
        |member: &str| candidates.iter().find(|c| c.agent == member).filter(|c| c.has_room(team));
    let members = &team.members;
    match team.strategy {
        Strategy::RoundRobin => {
            let start = last_assigned
                .and_then(|last| members.iter().position(|m| m.as_str() == last))
                .map_or(0, |i| i + 1);
            (0..members.len())
                .map(|k| &members[(start + k) % members.len()])
                .find(|m| available(m.as_str()).is_some())
                .map(ToString::to_string)
        }
        // `min_by_key` keeps the first of equal keys: ties go by member order.
        Strategy::LeastBusy => members
            .iter()
            .filter_map(|m| available(m.as_str()).map(|c| (m, c.open)))
            .min_by_key(|&(_, open)| open)
            .map(|(m, _)| m.to_string()),
    }
}

/// The agent for each of `queue_len` waiting conversations of `team`, oldest first, as
/// [`pick_agent`] would choose them one after another: each pick counts as one more open
/// conversation and becomes the last assigned. Shorter than `queue_len` when the online
/// members fill up; the rest keep waiting.
pub fn assign_queue(
    team: &Team,
    candidates: &[Candidate],
    last_assigned: Option<&str>,
    queue_len: usize,
) -> Vec<String> {
    let mut candidates = candidates.to_vec();
    let mut last = last_assigned.map(str::to_owned);
    let mut out = Vec::new();
    while out.len() < queue_len {
        let Some(agent) = pick_agent(team, &candidates, last.as_deref()) else { break };
        if let Some(c) = candidates.iter_mut().find(|c| c.agent == agent) {
            c.open += 1;
        }
        last = Some(agent.clone());
        out.push(agent);
    }
    out
}

/// The teams `agent` belongs to, in configuration order: whose queues to look at when the
/// agent comes online.
pub fn teams_of<'r>(routing: &'r Routing, agent: &str) -> Vec<&'r Team> {
    routing.teams.iter().filter(|t| t.has_member(agent)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::config::WorkspaceConfig;

    fn routing(json: &str) -> Routing {
        WorkspaceConfig::parse(&format!("{{\"routing\": {json}}}")).unwrap().routing
    }

    /// Rules of every kind, in an order where the first match matters.
    fn rules() -> Routing {
        routing(
            r#"{
              "teams": [
                {"id": "vip", "members": ["a1"]},
                {"id": "billing", "members": ["a2"]},
                {"id": "english", "members": ["a3"]},
                {"id": "app", "members": ["a4"]},
                {"id": "orders", "members": ["a5"]},
                {"id": "general", "members": ["a1", "a2"]}
              ],
              "rules": [
                {"when": {"vip": true}, "team": "vip"},
                {"when": {"keywords": ["退款", "refund"]}, "team": "billing"},
                {"when": {"language": "en"}, "team": "english"},
                {"when": {"channel": "app"}, "team": "app"},
                {"when": {"regex": "(?i)order\\s*#?\\d+|订单"}, "team": "orders"}
              ],
              "default_team": "general"
            }"#,
        )
    }

    fn team_for(
        r: &Routing,
        channel: &str,
        vip: bool,
        language: Option<&str>,
        text: &str,
    ) -> String {
        let facts = RouteFacts { channel, vip, language, text };
        pick_team(r, &facts).map(|t| t.id.to_string()).unwrap_or_default()
    }

    #[test]
    fn each_kind_of_condition_routes_to_its_team() {
        let r = rules();
        assert_eq!(team_for(&r, "web", true, None, "hello"), "vip");
        assert_eq!(team_for(&r, "web", false, None, "我要退款"), "billing");
        assert_eq!(team_for(&r, "web", false, Some("en-US"), "hello"), "english");
        assert_eq!(team_for(&r, "APP", false, None, "hello"), "app", "channel ignores case");
        assert_eq!(team_for(&r, "web", false, None, "where is Order #123?"), "orders");
        assert_eq!(team_for(&r, "web", false, None, "我的订单呢"), "orders");
    }

    #[test]
    fn the_first_rule_that_holds_wins_even_when_later_ones_hold_too() {
        let r = rules();
        assert_eq!(team_for(&r, "app", true, Some("en"), "refund order 1"), "vip");
        assert_eq!(team_for(&r, "app", false, Some("en"), "refund order 1"), "billing");
        assert_eq!(team_for(&r, "app", false, Some("en"), "order 1"), "english");
    }

    #[test]
    fn a_conversation_no_rule_takes_goes_to_the_default_team_or_nowhere() {
        let r = rules();
        assert_eq!(team_for(&r, "web", false, Some("zh-CN"), "你好"), "general");
        assert_eq!(team_for(&r, "web", false, None, ""), "general");
        let mut without_default = rules();
        without_default.default_team = None;
        assert_eq!(team_for(&without_default, "web", false, Some("zh-CN"), "你好"), "");
        assert!(pick_team(
            &Routing::default(),
            &RouteFacts { channel: "web", vip: true, language: None, text: "退款" }
        )
        .is_none());
    }

    #[test]
    fn all_conditions_of_a_rule_must_hold() {
        let r = routing(
            r#"{"teams": [{"id": "t"}],
                "rules": [{"when": {"channel": "app", "vip": false, "language": "zh", "keywords": ["发票"]}, "team": "t"}]}"#,
        );
        assert_eq!(team_for(&r, "app", false, Some("zh-CN"), "开发票"), "t");
        assert_eq!(team_for(&r, "web", false, Some("zh-CN"), "开发票"), "");
        assert_eq!(team_for(&r, "app", true, Some("zh-CN"), "开发票"), "");
        assert_eq!(team_for(&r, "app", false, Some("en"), "开发票"), "");
        assert_eq!(team_for(&r, "app", false, None, "开发票"), "", "no locale: no language match");
        assert_eq!(team_for(&r, "app", false, Some("zh-CN"), "你好"), "");
    }

    #[test]
    fn a_language_range_takes_its_subtags_and_nothing_else() {
        assert!(language_matches("en", "en"));
        assert!(language_matches("en", "en-US"));
        assert!(language_matches("EN", "en_gb"));
        assert!(language_matches("zh-CN", "zh-cn"));
        assert!(!language_matches("en", "zh-CN"));
        assert!(!language_matches("zh-CN", "en"));
        assert!(!language_matches("zh-CN", "zh"));
        assert!(!language_matches("zh-CN", "zh-TW"));
        assert!(!language_matches("en", "eng"), "a prefix must end at a subtag");
        assert!(!language_matches("", "en"));
    }

    fn team(strategy: &str, max_open: u32, members: &[&str]) -> Team {
        let members: Vec<String> = members.iter().map(|m| format!("{m:?}")).collect();
        let json = format!(
            r#"{{"teams": [{{"id": "t", "strategy": "{strategy}", "max_open": {max_open}, "members": [{}]}}]}}"#,
            members.join(", ")
        );
        routing(&json).teams.remove(0)
    }

    fn candidate(agent: &str, online: bool, open: u32) -> Candidate {
        Candidate { agent: agent.to_owned(), online, open, max_open: None }
    }

    /// Assigns `n` conversations one at a time, as the inbox does, returning who got each.
    fn assign_one_by_one(team: &Team, candidates: &mut [Candidate], n: usize) -> Vec<String> {
        let mut last: Option<String> = None;
        let mut got = Vec::new();
        for _ in 0..n {
            let agent = pick_agent(team, candidates, last.as_deref()).expect("someone has room");
            candidates.iter_mut().find(|c| c.agent == agent).unwrap().open += 1;
            last = Some(agent.clone());
            got.push(agent);
        }
        got
    }

    fn count(got: &[String], agent: &str) -> usize {
        got.iter().filter(|a| *a == agent).count()
    }

    #[test]
    fn round_robin_deals_in_member_order_skipping_offline_full_and_absent_members() {
        let t = team("round_robin", 20, &["a1", "off", "a2", "full", "a3", "absent"]);
        let before = vec![
            candidate("full", true, 20),
            candidate("a3", true, 7),
            candidate("a1", true, 0),
            candidate("off", false, 0),
            candidate("a2", true, 2),
            candidate("stranger", true, 0),
        ];
        let mut candidates = before.clone();
        let got = assign_one_by_one(&t, &mut candidates, 30);
        assert_eq!(got[..6], ["a1", "a2", "a3", "a1", "a2", "a3"]);
        assert_eq!((count(&got, "a1"), count(&got, "a2"), count(&got, "a3")), (10, 10, 10));
        assert_eq!(candidates[5].open, 0, "not a member");
        assert_eq!(got, assign_queue(&t, &before, None, 30), "a batch decides the same");
    }

    #[test]
    fn round_robin_continues_after_the_last_assigned_and_wraps() {
        let t = team("round_robin", 10, &["a1", "a2", "a3"]);
        let all = [candidate("a1", true, 0), candidate("a2", true, 0), candidate("a3", true, 0)];
        assert_eq!(pick_agent(&t, &all, Some("a1")).as_deref(), Some("a2"));
        assert_eq!(pick_agent(&t, &all, Some("a3")).as_deref(), Some("a1"));
        assert_eq!(pick_agent(&t, &all, None).as_deref(), Some("a1"));
        assert_eq!(pick_agent(&t, &all, Some("left-the-team")).as_deref(), Some("a1"));
        let only_a1 = [candidate("a1", true, 3), candidate("a2", false, 0)];
        assert_eq!(pick_agent(&t, &only_a1, Some("a1")).as_deref(), Some("a1"), "comes round");
    }

    #[test]
    fn least_busy_fills_the_least_loaded_up_to_the_maximum() {
        let t = team("least_busy", 12, &["a1", "a2", "a3", "off"]);
        let mut candidates = vec![
            candidate("a1", true, 3),
            candidate("a2", true, 0),
            candidate("a3", true, 1),
            candidate("off", false, 0),
        ];
        let before = candidates.clone();
        let got = assign_one_by_one(&t, &mut candidates, 30);
        assert_eq!(got[..5], ["a2", "a2", "a3", "a2", "a3"], "ties by member order");
        let open: Vec<u32> = candidates.iter().map(|c| c.open).collect();
        assert_eq!(open, [12, 11, 11, 0]);
        assert_eq!(got, assign_queue(&t, &before, None, 30));
        // 34 open of 36 places: two more fit, then nobody has room.
        assert_eq!(assign_queue(&t, &candidates, None, 5), ["a2", "a3"]);
    }

    #[test]
    fn nobody_is_picked_when_every_member_is_full_or_offline() {
        for strategy in ["round_robin", "least_busy"] {
            let t = team(strategy, 3, &["a1", "a2", "a3"]);
            let none =
                [candidate("a1", true, 3), candidate("a2", false, 0), candidate("x", true, 0)];
            assert_eq!(pick_agent(&t, &none, Some("a1")), None, "{strategy}");
            assert_eq!(pick_agent(&t, &[], None), None, "{strategy}");
            assert!(assign_queue(&t, &none, None, 5).is_empty(), "{strategy}");
            let empty_team = team(strategy, 3, &[]);
            assert_eq!(pick_agent(&empty_team, &none, None), None, "{strategy}");
        }
    }

    #[test]
    fn a_queue_longer_than_the_room_assigns_up_to_the_maximum_and_leaves_the_rest() {
        for strategy in ["round_robin", "least_busy"] {
            let t = team(strategy, 3, &["a1", "a2"]);
            let candidates = [candidate("a1", true, 0), candidate("a2", false, 0)];
            assert_eq!(assign_queue(&t, &candidates, None, 5), ["a1", "a1", "a1"], "{strategy}");
        }
        let t = team("round_robin", 3, &["a1", "a2"]);
        let both = [candidate("a1", true, 2), candidate("a2", true, 0)];
        assert_eq!(assign_queue(&t, &both, Some("a2"), 5), ["a1", "a2", "a2", "a2"]);
        assert_eq!(assign_queue(&t, &both, None, 2), ["a1", "a2"], "no more than queued");
    }

    #[test]
    fn an_agent_in_several_teams_is_found_in_each() {
        let r = rules();
        let ids = |agent: &str| -> Vec<String> {
            teams_of(&r, agent).iter().map(|t| t.id.to_string()).collect()
        };
        assert_eq!(ids("a1"), ["vip", "general"]);
        assert_eq!(ids("a5"), ["orders"]);
        assert!(ids("nobody").is_empty());
    }

    fn waiting(assignee: Option<&str>, status: &str, waiting_since: Option<i64>) -> Summary {
        Summary {
            version: 1,
            status: State::parse(status).unwrap(),
            assignee: assignee.map(Into::into),
            unread: 1,
            waiting_since,
            last_message_at: Some(5),
            last_preview: Some("你好".into()),
            created_at: 1,
            messages: 1,
            ..Summary::blank("c1")
        }
    }

    #[test]
    fn only_an_open_unheld_conversation_with_a_waiting_visitor_and_no_order_on_its_way_is_routed() {
        assert!(wants_routing(&waiting(None, "open", Some(5)), false));
        assert!(!wants_routing(&waiting(None, "open", Some(5)), true), "an order is on its way");
        assert!(!wants_routing(&waiting(Some("a1"), "open", Some(5)), false), "held");
        assert!(!wants_routing(&waiting(None, "open", None), false), "nobody waits yet");
        for status in ["pending", "snoozed", "resolved"] {
            assert!(!wants_routing(&waiting(None, status, Some(5)), false), "{status}");
        }
    }

    #[test]
    fn an_agents_load_counts_held_conversations_and_orders_on_their_way() {
        let t = team("least_busy", 5, &["a1", "a2", "a3"]);
        let open = [("a1".to_owned(), 2), ("a3".to_owned(), 1), ("gone".to_owned(), 9)];
        let in_flight = ["a2", "a3", "a3"];
        let got =
            candidates(&Routing::default(), &t, |a| a != "a2", &open, in_flight.iter().copied());
        assert_eq!(
            got,
            [candidate("a1", true, 2), candidate("a2", false, 1), candidate("a3", true, 3)]
        );
        // With that load, least-busy picks a1 (2) over a3 (3); a2 is offline.
        assert_eq!(pick_agent(&t, &got, None).as_deref(), Some("a1"));
    }

    #[test]
    fn an_agents_own_max_open_wins_over_the_teams_either_way() {
        let r = routing(
            r#"{"teams": [{"id": "t", "strategy": "round_robin", "max_open": 3, "members": ["small", "big", "plain"]}],
                "agents": [{"id": "small", "max_open": 1}, {"id": "big", "max_open": 8, "skills": ["退款"]}]}"#,
        );
        let t = &r.teams[0];
        assert_eq!(r.max_open_of(t, "small"), 1);
        assert_eq!(r.max_open_of(t, "plain"), 3);
        let cands = candidates(&r, t, |_| true, &[], std::iter::empty());
        let got = assign_queue(t, &cands, None, 20);
        // small takes 1, plain 3 (the team's), big 8: 12 in all, the rest wait.
        assert_eq!((count(&got, "small"), count(&got, "plain"), count(&got, "big")), (1, 3, 8));
        assert_eq!(got.len(), 12);
    }
}
