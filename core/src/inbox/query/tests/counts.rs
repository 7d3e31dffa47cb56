use std::collections::BTreeMap;

use super::*;
use crate::inbox::query::Counts;

/// The counts, computed from the rows rather than from SQL.
fn model(rows: &[Row], me: &str) -> Counts {
    fn tally<'a>(keys: impl Iterator<Item = &'a str>, all: &[&str]) -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = all.iter().map(|k| ((*k).to_owned(), 0)).collect();
        for k in keys {
            *m.entry(k.to_owned()).or_default() += 1;
        }
        m
    }
    let names = ["low", "normal", "high", "urgent"];
    let statuses: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
    Counts {
        total: rows.len() as u64,
        status: tally(rows.iter().map(|r| r.status.as_str()), &statuses),
        priority: tally(rows.iter().map(|r| names[r.rank as usize]), &names),
        team: tally(rows.iter().filter_map(|r| r.team.as_deref()), &[]),
        channel: tally(rows.iter().map(|r| r.channel.as_str()), &[]),
        tag: tally(rows.iter().flat_map(|r| r.tags.iter().map(String::as_str)), &[]),
        mine: rows.iter().filter(|r| r.assignee.as_deref() == Some(me)).count() as u64,
        unassigned: rows.iter().filter(|r| r.assignee.is_none()).count() as u64,
        unread: rows.iter().filter(|r| r.unread > 0).count() as u64,
    }
}

#[test]
fn counts_match_counting_the_rows_independently() {
    let (db, _) = Db::generated(0xc0, 300);
    for me in [ME, "a-4", "nobody"] {
        let counts = Counts::from_rows(db.count_rows(me));
        assert_eq!(counts, model(&db.rows, me), "me={me}");
    }
    let counts = Counts::from_rows(db.count_rows(ME));
    assert!(counts.mine > 0 && counts.tag.len() == TAGS.len() && counts.team.len() == 3);
}

#[test]
fn each_count_is_what_the_matching_filter_lists() {
    let (db, _) = Db::generated(0xc1, 300);
    let counts = Counts::from_rows(db.count_rows(ME));
    let listed = |q: &str| expected(&db.rows, &parse(q)).len() as u64;
    assert_eq!(counts.total, listed(""));
    assert_eq!(counts.status["snoozed"], listed("status=snoozed"));
    assert_eq!(counts.priority["urgent"], listed("priority=urgent"));
    assert_eq!(counts.team["sales"], listed("team=sales"));
    assert_eq!(counts.channel["email"], listed("channel=email"));
    assert_eq!(counts.tag["退款"], listed("tag=退款"));
    assert_eq!(counts.mine, listed("assignee=me"));
    assert_eq!(counts.unassigned, listed("assignee=unassigned"));
    assert_eq!(counts.unread, listed("unread=true"));
}

#[test]
fn counts_of_an_empty_inbox_list_every_status_and_priority_at_zero() {
    let counts = Counts::from_rows(Db::new().count_rows(ME));
    let json = serde_json::to_value(&counts).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "total": 0,
            "status": {"open": 0, "pending": 0, "snoozed": 0, "resolved": 0},
            "priority": {"low": 0, "normal": 0, "high": 0, "urgent": 0},
            "team": {}, "channel": {}, "tag": {},
            "mine": 0, "unassigned": 0, "unread": 0
        })
    );
    assert_eq!(serde_json::from_value::<Counts>(json).unwrap(), counts);
}

#[test]
fn tag_rows_without_their_summary_are_not_counted() {
    let db = Db::new();
    db.conn.execute("INSERT INTO summary_tags VALUES ('gone', 'vip')", []).unwrap();
    assert!(Counts::from_rows(db.count_rows(ME)).tag.is_empty());
}
