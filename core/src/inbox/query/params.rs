//! Reading a [`ListQuery`] from an HTTP query string or from the socket's JSON.
//!
//! Both forms go through one parser (JSON values are brought to their query-string text
//! first), so a filter means the same on both. Unknown and repeated parameters are errors, not
//! ignored: a misspelt filter silently listing everything is worse than a 400.

use serde_json::Value;

use super::{AssigneeFilter, Cursor, ListQuery, QueryError, Sort, MAX_LIMIT, MAX_SAFE_INTEGER};
use crate::ids::{ParticipantId, TeamId};
use crate::internal_doc::{check_tag, Priority};
use crate::workflow::status::State;

const STATUSES: &str = "a comma-separated list of open, pending, snoozed, resolved";
const PRIORITIES: &str = "a comma-separated list of low, normal, high, urgent";
const TEXT: &str = "1 to 64 bytes, no control characters or surrounding whitespace";

impl ListQuery {
    /// From a decoded query string, in order. Lists are comma-separated
    /// (`status=open,pending`); an empty value is the same as leaving the parameter out.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<ListQuery, QueryError> {
        let mut given: [Option<&str>; 13] = [None; 13];
        for (name, value) in pairs {
            let i = index_of(name)?;
            if given[i].is_some() {
                return Err(QueryError::Repeated { name: super::PARAMETERS[i] });
            }
            given[i] = Some(value.as_str());
        }
        let [status, tag, assignee, team, priority, unread, channel, since, until, sort, limit, cursor, visitor] =
            given.map(|v| v.filter(|v| !v.is_empty()));
        let sort = match sort {
            None => Sort::default(),
            Some(s) => Sort::parse(s).ok_or_else(|| {
                QueryError::invalid("sort", s, "one of priority, waiting, activity")
            })?,
        };
        let query = ListQuery {
            status: list("status", status, State::parse, STATUSES)?,
            tag: tag.map(|t| text("tag", t)).transpose()?,
            assignee: assignee.map(parse_assignee).transpose()?,
            team: team.map(parse_team).transpose()?,
            priority: list("priority", priority, Priority::parse, PRIORITIES)?,
            unread: unread.map(parse_bool).transpose()?.unwrap_or(false),
            channel: channel.map(|c| text("channel", c)).transpose()?,
            visitor: visitor
                .map(|v| {
                    crate::ids::ParticipantId::new(v).map(|p| p.to_string()).map_err(|_| {
                        QueryError::invalid("visitor", v, "a participant id (PROTOCOL.md §3)")
                    })
                })
                .transpose()?,
            since: since.map(|s| time("since", s)).transpose()?,
            until: until.map(|u| time("until", u)).transpose()?,
            sort,
            limit: limit.map(parse_limit).transpose()?.unwrap_or(super::DEFAULT_LIMIT),
            cursor: cursor.map(|c| Cursor::decode(c, sort)).transpose()?,
        };
        if let (Some(since), Some(until)) = (query.since, query.until) {
            if until <= since {
                let allowed = format!("must be greater than since ({since}): until is exclusive");
                return Err(QueryError::invalid("until", &until.to_string(), allowed));
            }
        }
        Ok(query)
    }

    /// From the socket's `query` object: the same field names; `status` and `priority` may
    /// also be arrays, `since`/`until`/`limit` numbers, `unread` a bool; `null` is absent.
    pub fn from_json(value: &Value) -> Result<ListQuery, QueryError> {
        let object = value.as_object().ok_or(QueryError::NotAnObject)?;
        let mut pairs = Vec::with_capacity(object.len());
        for (name, value) in object {
            let param = super::PARAMETERS[index_of(name)?];
            let wrong = || QueryError::WrongType { param, expected: expected(param) };
            let text = match value {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                Value::Bool(b) if param == "unread" => b.to_string(),
                Value::Number(n) if matches!(param, "since" | "until" | "limit") => n.to_string(),
                Value::Array(items) if matches!(param, "status" | "priority") => {
                    let items: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    let items = items.ok_or_else(wrong)?;
                    if items.is_empty() {
                        continue;
                    }
                    items.join(",")
                }
                _ => return Err(wrong()),
            };
            pairs.push((param.to_owned(), text));
        }
        Self::from_pairs(&pairs)
    }
}

fn index_of(name: &str) -> Result<usize, QueryError> {
    super::PARAMETERS.iter().position(|p| *p == name).ok_or_else(|| QueryError::unknown(name))
}

fn expected(param: &str) -> &'static str {
    match param {
        "status" | "priority" => "a string (comma-separated) or an array of strings",
        "since" | "until" | "limit" => "an integer",
        "unread" => "true or false",
        _ => "a string",
    }
}

/// A comma list of known names, deduplicated, in the order given.
fn list<T: PartialEq>(
    param: &'static str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Vec<T>, QueryError> {
    let mut out = Vec::new();
    for item in value.into_iter().flat_map(|v| v.split(',')) {
        let parsed = parse(item.trim()).ok_or_else(|| QueryError::invalid(param, item, allowed))?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    Ok(out)
}

/// A tag or channel: stored verbatim, so matched verbatim, within the bounds tags have.
fn text(param: &'static str, value: &str) -> Result<String, QueryError> {
    check_tag(value).map_err(|_| QueryError::invalid(param, value, TEXT))?;
    Ok(value.to_owned())
}

fn parse_assignee(value: &str) -> Result<AssigneeFilter, QueryError> {
    Ok(match value {
        "me" => AssigneeFilter::Me,
        "unassigned" => AssigneeFilter::Unassigned,
        agent => AssigneeFilter::Agent(ParticipantId::new(agent).map_err(|e| {
            QueryError::invalid("assignee", agent, format!("me, unassigned or an agent id ({e})"))
        })?),
    })
}

fn parse_team(value: &str) -> Result<TeamId, QueryError> {
    TeamId::new(value).map_err(|e| QueryError::invalid("team", value, e.to_string()))
}

fn parse_bool(value: &str) -> Result<bool, QueryError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(QueryError::invalid("unread", other, "true or false")),
    }
}

fn time(param: &'static str, value: &str) -> Result<i64, QueryError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|t| (0..=MAX_SAFE_INTEGER).contains(t))
        .ok_or_else(|| QueryError::invalid(param, value, "a time in ms since the Unix epoch"))
}

fn parse_limit(value: &str) -> Result<u32, QueryError> {
    value.parse::<u32>().ok().filter(|l| (1..=MAX_LIMIT).contains(l)).ok_or_else(|| {
        QueryError::invalid("limit", value, format!("an integer from 1 to {MAX_LIMIT}"))
    })
}
