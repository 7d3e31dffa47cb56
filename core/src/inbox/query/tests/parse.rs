use serde_json::json;

use super::*;
use crate::ids::{ParticipantId, TeamId};
use crate::inbox::query::{Cursor, QueryError, PARAMETERS};
use crate::internal_doc::Priority;

fn refused(query: &str) -> QueryError {
    match ListQuery::from_pairs(&pairs(query)) {
        Ok(q) => panic!("{query} was accepted as {q:?}"),
        Err(e) => e,
    }
}

/// The message names the parameter and says what it accepts.
fn says(query: &str, parts: &[&str]) {
    let e = refused(query);
    let msg = e.to_string();
    assert_eq!(e.code(), "bad_query");
    for part in parts {
        assert!(msg.contains(part), "{query}: {msg:?} lacks {part:?}");
    }
}

#[test]
fn no_parameters_mean_everything_by_priority_fifty_at_a_time() {
    assert_eq!(parse(""), ListQuery::default());
    assert_eq!(parse("status=&tag="), ListQuery::default());
    assert_eq!(ListQuery::default().sort, Sort::Priority);
    assert_eq!(ListQuery::default().limit, 50);
}

#[test]
fn every_parameter_is_read() {
    let q = parse(
        "status=open,pending,open&tag=退款&assignee=a-9&team=billing&priority=urgent,low\
         &unread=true&channel=app&since=5&until=9&sort=activity&limit=100",
    );
    assert_eq!(q.status, [State::Open, State::Pending]);
    assert_eq!(q.tag.as_deref(), Some("退款"));
    assert_eq!(q.assignee, Some(AssigneeFilter::Agent(ParticipantId::new("a-9").unwrap())));
    assert_eq!(q.team, Some(TeamId::new("billing").unwrap()));
    assert_eq!(q.priority, [Priority::Urgent, Priority::Low]);
    assert!(q.unread);
    assert_eq!((q.channel.as_deref(), q.since, q.until), (Some("app"), Some(5), Some(9)));
    assert_eq!((q.sort, q.limit), (Sort::Activity, 100));
    assert_eq!(parse("assignee=me").assignee, Some(AssigneeFilter::Me));
    assert_eq!(parse("assignee=unassigned").assignee, Some(AssigneeFilter::Unassigned));
}

#[test]
fn an_unknown_parameter_is_named_with_the_known_ones() {
    says("stauts=open", &["`stauts`", &PARAMETERS.join(", ")]);
}

#[test]
fn a_repeated_parameter_is_refused() {
    assert_eq!(refused("status=open&status=pending"), QueryError::Repeated { name: "status" });
    says("limit=5&limit=5", &["`limit`", "more than once", "comma-separated"]);
}

#[test]
fn bad_values_name_the_parameter_and_what_is_allowed() {
    says("status=open,closed", &["`status`", "\"closed\"", "open, pending, snoozed, resolved"]);
    says("status=open,", &["`status`", "open, pending"]);
    says("priority=highest", &["`priority`", "low, normal, high, urgent"]);
    says("sort=newest", &["`sort`", "priority, waiting, activity"]);
    says("unread=yes", &["`unread`", "true or false"]);
    says("assignee=a/b", &["`assignee`", "me, unassigned or an agent id"]);
    says("team=a b", &["`team`", "allowed are"]);
    says("since=-1", &["`since`", "ms since the Unix epoch"]);
    says("until=soon", &["`until`", "ms"]);
    says("since=10&until=10", &["`until`", "greater than since"]);
    says("tag= x", &["`tag`", "1 to 64 bytes"]);
    for limit in ["0", "101", "-1", "ten"] {
        says(&format!("limit={limit}"), &["`limit`", "1 to 100"]);
    }
}

#[test]
fn a_bad_cursor_or_one_of_another_sort_is_refused() {
    says("cursor=not-a-cursor!", &["`cursor`", "next_cursor"]);
    let row = KeyRow { conversation: "c1".into(), rank: 1, waiting_key: 2, last_at: 3 };
    let waiting = Cursor::after(Sort::Waiting, &row).encode();
    assert!(parse(&format!("sort=waiting&cursor={waiting}")).cursor.is_some());
    // The sort is checked whichever order the parameters come in.
    says(
        &format!("cursor={waiting}&sort=activity"),
        &["`cursor`", "sort=waiting", "sort=activity"],
    );
    says(&format!("cursor={waiting}"), &["`cursor`", "sort=waiting", "sort=priority"]);
}

#[test]
fn the_json_form_reads_like_the_query_string() {
    let from_json = ListQuery::from_json(&json!({
        "status": ["open", "resolved"], "priority": "high", "tag": "vip", "assignee": "me",
        "unread": true, "since": 100, "until": "200", "limit": 20, "sort": "waiting",
        "channel": null, "team": "sales"
    }))
    .unwrap();
    let from_pairs = parse(
        "status=open,resolved&priority=high&tag=vip&assignee=me&unread=true&since=100\
         &until=200&limit=20&sort=waiting&team=sales",
    );
    assert_eq!(from_json, from_pairs);
    assert_eq!(ListQuery::from_json(&json!({})).unwrap(), ListQuery::default());
}

#[test]
fn the_json_form_refuses_wrong_types_and_unknown_fields() {
    let err = |v| ListQuery::from_json(&v).unwrap_err().to_string();
    assert!(err(json!({"limit": true})).contains("`limit` must be an integer"));
    assert!(err(json!({"limit": 1.5})).contains("`limit`"));
    assert!(err(json!({"unread": 1})).contains("`unread` must be true or false"));
    assert!(err(json!({"status": [1]})).contains("`status` must be"));
    assert!(err(json!({"tag": ["a"]})).contains("`tag` must be a string"));
    assert!(err(json!({"colour": "red"})).contains("`colour`"));
    assert!(err(json!([])).contains("JSON object"));
}
