use super::*;

/// Every filter alone, a few together, and none.
const CASES: &[&str] = &[
    "",
    "status=open",
    "status=pending,snoozed",
    "status=resolved",
    "tag=vip",
    "tag=退款",
    "assignee=me",
    "assignee=unassigned",
    "assignee=a-3",
    "team=billing",
    "priority=urgent",
    "priority=low,high",
    "unread=true",
    "unread=false",
    "channel=app",
    "visitor=v-3",
    "visitor=v-1&status=open,pending",
    "since=40000",
    "until=30000",
    "since=20000&until=60000",
    "status=open&team=sales&unread=true",
    "tag=refund&priority=high,urgent&assignee=unassigned",
    "channel=web&since=1&status=open,pending",
];

#[test]
fn every_filter_and_sort_pages_through_exactly_the_expected_rows_in_order() {
    let (db, _) = Db::generated(0x5eed, 300);
    for case in CASES {
        for sort in Sort::ALL {
            for limit in [1, 7, 50, 100] {
                let q = parse(&format!("{case}&sort={sort}&limit={limit}"));
                let want = expected(&db.rows, &q);
                assert!(!want.is_empty(), "{case}: the fixture should have rows for it");
                let mut got = Vec::new();
                let mut page = Some(q);
                while let Some(q) = page {
                    let (rows, next) = next_page(&db, &q);
                    assert!(!rows.is_empty() && rows.len() <= limit, "{case} {sort}");
                    assert!(next.is_none() || rows.len() == limit, "{case} {sort}");
                    got.extend(rows.into_iter().map(|r| r.conversation));
                    page = next;
                }
                assert_eq!(got, want, "{case} sort={sort} limit={limit}");
            }
        }
    }
}

#[test]
fn a_filter_matching_nothing_gives_one_empty_page_without_cursor() {
    let (db, _) = Db::generated(7, 50);
    let q = parse("tag=nobody-has-this");
    let (rows, next) = next_page(&db, &q);
    assert!(rows.is_empty());
    assert!(next.is_none());
}

#[test]
fn a_list_of_exactly_limit_rows_ends_without_a_cursor() {
    let (db, _) = Db::generated(11, 40);
    let all = expected(&db.rows, &ListQuery::default());
    let q = parse(&format!("limit={}", all.len()));
    let (rows, next) = next_page(&db, &q);
    assert_eq!(rows.len(), all.len());
    assert!(next.is_none());
    let q = parse(&format!("limit={}", all.len() - 1));
    assert!(next_page(&db, &q).1.is_some());
}

/// The orders are served from the indexes in the schema, not by sorting every row on
/// every page.
#[test]
fn unfiltered_pages_are_read_in_index_order_without_sorting() {
    let (db, _) = Db::generated(3, 200);
    for sort in Sort::ALL {
        let first = parse(&format!("sort={sort}&limit=5"));
        let second = next_page(&db, &first).1.unwrap();
        for q in [first, second] {
            let st = q.statement(ME);
            let mut stmt = db.conn.prepare(&format!("EXPLAIN QUERY PLAN {}", st.sql)).unwrap();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(st.params.iter().map(value)), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(!plan.contains("TEMP B-TREE"), "sort={sort}:\n{plan}");
            assert!(plan.contains("INDEX summaries_by_"), "sort={sort}:\n{plan}");
        }
    }
}

#[test]
fn the_statement_binds_every_value_as_a_parameter() {
    let q = parse("status=open&tag=x'); DROP TABLE summaries; --&channel=web&assignee=me");
    let st = q.statement("a-'1");
    assert!(!st.sql.contains("DROP") && !st.sql.contains("a-'1"), "{}", st.sql);
    assert_eq!(st.sql.matches('?').count(), st.params.len());
    let db = Db::new();
    assert!(db.run(&st).is_empty());
}
