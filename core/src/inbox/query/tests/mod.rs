//! The generated SQL run on real SQLite (rusqlite, bundled) against the real schema, checked
//! against the same rows filtered and sorted independently in Rust.

mod counts;
mod list;
mod paging;
mod parse;

use std::cmp::Reverse;

use rusqlite::types::Value;
use rusqlite::Connection;

use super::{AssigneeFilter, CountRow, KeyRow, ListQuery, Sort, SqlParam, Statement};
use crate::inbox::schema::{NOT_WAITING, SCHEMA};
use crate::inbox::summary::priority_rank;
use crate::workflow::status::State;

/// The asking agent.
const ME: &str = "a-1";
const TEAMS: [&str; 3] = ["billing", "sales", "support"];
const CHANNELS: [&str; 3] = ["web", "app", "email"];
const TAGS: [&str; 4] = ["vip", "refund", "退款", "bug"];

/// A summary as the model sees it: only what the queries look at.
#[derive(Debug, Clone)]
struct Row {
    conversation: String,
    status: State,
    rank: i64,
    assignee: Option<String>,
    team: Option<String>,
    channel: String,
    unread: i64,
    waiting_key: i64,
    last_at: i64,
    tags: Vec<String>,
    /// The visitor's id as the store keeps it (the worker's blind term; plain here).
    visitor: Option<String>,
}

/// Deterministic pseudo-random numbers (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Row `i`: few distinct sort keys, so ties (broken by conversation) are everywhere.
fn generate(rng: &mut Rng, i: usize) -> Row {
    Row {
        conversation: format!("c{:x}-{i}", rng.below(4096)),
        status: State::ALL[rng.below(4) as usize],
        rank: rng.below(4) as i64,
        assignee: (!rng.chance(30)).then(|| format!("a-{}", rng.below(5))),
        team: (!rng.chance(20)).then(|| rng.pick(&TEAMS).to_owned()),
        channel: rng.pick(&CHANNELS).to_owned(),
        unread: if rng.chance(50) { 0 } else { 1 + rng.below(9) as i64 },
        waiting_key: if rng.chance(40) { NOT_WAITING } else { 1000 + rng.below(40) as i64 },
        last_at: if rng.chance(10) { 0 } else { 10_000 + 1000 * rng.below(60) as i64 },
        tags: TAGS.iter().filter(|_| rng.chance(30)).map(|t| (*t).to_owned()).collect(),
        visitor: (!rng.chance(20)).then(|| format!("v-{}", rng.below(6))),
    }
}

struct Db {
    conn: Connection,
    rows: Vec<Row>,
}

impl Db {
    fn new() -> Db {
        let conn = Connection::open_in_memory().unwrap();
        // A Durable Object's SQLite refuses long compound SELECTs (nine terms failed on
        // workerd); allowing none here keeps every statement within whatever it accepts.
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_COMPOUND_SELECT, 1).unwrap();
        for statement in SCHEMA {
            conn.execute(statement, []).unwrap();
        }
        Db { conn, rows: Vec::new() }
    }

    /// A database of `n` generated rows.
    fn generated(seed: u64, n: usize) -> (Db, Rng) {
        let mut db = Db::new();
        let mut rng = Rng(seed);
        for i in 0..n {
            db.insert(generate(&mut rng, i));
        }
        (db, rng)
    }

    fn insert(&mut self, r: Row) {
        self.conn
            .execute(
                "INSERT INTO summaries (conversation, version, status, rank, assignee, team, \
                 channel, language, vip, unread, waiting_key, last_at, created_at, sealed) \
                 VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, NULL, 0, ?7, ?8, ?9, 0, x'00')",
                rusqlite::params![
                    r.conversation,
                    r.status.as_str(),
                    r.rank,
                    r.assignee,
                    r.team,
                    r.channel,
                    r.unread,
                    r.waiting_key,
                    r.last_at
                ],
            )
            .unwrap();
        for tag in &r.tags {
            self.conn
                .execute("INSERT INTO summary_tags VALUES (?1, ?2)", [&r.conversation, tag])
                .unwrap();
        }
        if let Some(v) = &r.visitor {
            self.conn
                .execute("INSERT INTO summary_visitors VALUES (?1, ?2)", [&r.conversation, v])
                .unwrap();
        }
        self.rows.push(r);
    }

    fn run(&self, st: &Statement) -> Vec<KeyRow> {
        let mut stmt = self.conn.prepare(&st.sql).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(st.params.iter().map(value)), |r| {
                let _sealed: Vec<u8> = r.get(1)?;
                Ok(KeyRow {
                    conversation: r.get(0)?,
                    rank: r.get(2)?,
                    waiting_key: r.get(3)?,
                    last_at: r.get(4)?,
                })
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn count_rows(&self, me: &str) -> Vec<CountRow> {
        let mut out = Vec::new();
        for st in super::counts_statements(me) {
            let mut stmt = self.conn.prepare(&st.sql).unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(st.params.iter().map(value)), |r| {
                    Ok(CountRow { dimension: r.get(0)?, key: r.get(1)?, n: r.get(2)? })
                })
                .unwrap();
            out.extend(rows.map(Result::unwrap));
        }
        out
    }
}

fn value(p: &SqlParam) -> Value {
    match p {
        SqlParam::Int(i) => Value::Integer(*i),
        SqlParam::Text(t) => Value::Text(t.clone()),
    }
}

/// `"a=1&b=2"` as the worker hands a query string to [`ListQuery::from_pairs`].
fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn parse(query: &str) -> ListQuery {
    ListQuery::from_pairs(&pairs(query)).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The model of a filter, written from the contract rather than from the SQL.
fn matches(q: &ListQuery, r: &Row) -> bool {
    (q.status.is_empty() || q.status.contains(&r.status))
        && (q.priority.is_empty() || q.priority.iter().any(|p| priority_rank(*p) == r.rank))
        && q.tag.as_ref().is_none_or(|t| r.tags.contains(t))
        && match &q.assignee {
            None => true,
            Some(AssigneeFilter::Me) => r.assignee.as_deref() == Some(ME),
            Some(AssigneeFilter::Unassigned) => r.assignee.is_none(),
            Some(AssigneeFilter::Agent(a)) => r.assignee.as_deref() == Some(a.as_str()),
        }
        && q.team.as_ref().is_none_or(|t| r.team.as_deref() == Some(t.as_str()))
        && (!q.unread || r.unread > 0)
        && q.channel.as_ref().is_none_or(|c| &r.channel == c)
        && q.visitor.as_ref().is_none_or(|v| r.visitor.as_ref() == Some(v))
        && q.since.is_none_or(|s| r.last_at >= s)
        && q.until.is_none_or(|u| r.last_at < u)
}

/// The whole list `q` stands for (ignoring its cursor and limit), in order.
fn expected(rows: &[Row], q: &ListQuery) -> Vec<String> {
    let mut hits: Vec<&Row> = rows.iter().filter(|r| matches(q, r)).collect();
    match q.sort {
        Sort::Priority => {
            hits.sort_by_key(|r| (Reverse(r.rank), r.waiting_key, r.conversation.clone()))
        }
        Sort::Waiting => hits.sort_by_key(|r| (r.waiting_key, r.conversation.clone())),
        Sort::Activity => hits.sort_by_key(|r| (Reverse(r.last_at), r.conversation.clone())),
    }
    hits.into_iter().map(|r| r.conversation.clone()).collect()
}

/// Runs one page of `q` the way the worker does; returns its rows and the next query.
fn next_page(db: &Db, q: &ListQuery) -> (Vec<KeyRow>, Option<ListQuery>) {
    let rows = db.run(&q.statement(ME));
    assert!(rows.len() <= q.limit as usize + 1);
    let (rows, cursor) = q.page(rows, KeyRow::clone);
    let next = cursor.map(|c| {
        let mut pairs = vec![("sort".to_owned(), q.sort.as_str().to_owned())];
        pairs.push(("cursor".to_owned(), c));
        let cursor = ListQuery::from_pairs(&pairs).unwrap().cursor;
        // A cursor that stays put would page forever rather than fail.
        assert_ne!(cursor, q.cursor, "the cursor did not advance");
        ListQuery { cursor, ..q.clone() }
    });
    (rows, next)
}
