//! A team's queue, an agent's backlog and the agents' load, as the inbox's SQLite answers
//! them (the tables of [`super::schema`]). Routing ([`super::routing`]) decides from these;
//! the Worker runs the very statements below through core's [`Sql`].

use crate::sql::{Sql, SqlError, SqlValue};

/// Most queued conversations one agent's arrival assigns from a team's queue.
pub const MAX_QUEUE: usize = 500;

/// A team's queue, oldest waiting first (then the oldest conversation, then by name, so the
/// order is total): the open conversations of `team` nobody holds. Each as (conversation,
/// sealed summary), at most [`MAX_QUEUE`].
pub fn queued(sql: &impl Sql, team: &str) -> Result<Vec<(String, Vec<u8>)>, SqlError> {
    let rows = sql.exec(
        "SELECT conversation, sealed FROM summaries
         WHERE assignee IS NULL AND status = 'open' AND team = ?
         ORDER BY waiting_key, created_at, conversation LIMIT ?",
        vec![team.into(), i64::try_from(MAX_QUEUE).unwrap_or(500).into()],
    )?;
    Ok(sealed_rows(rows))
}

/// Most conversations an agent's backlog lists when it comes online.
pub const MAX_BACKLOG: usize = 200;

/// What an agent finds waiting when it comes online, longest waiting first (then by name):
/// the conversations it holds with unread visitor messages, and the unassigned ones created
/// since it was last seen (`since`, ms), none resolved. Each as (conversation, sealed
/// summary), at most [`MAX_BACKLOG`].
pub fn backlog(
    sql: &impl Sql,
    agent: &str,
    since: i64,
) -> Result<Vec<(String, Vec<u8>)>, SqlError> {
    let rows = sql.exec(
        "SELECT conversation, sealed FROM summaries
         WHERE status != 'resolved'
           AND ((assignee = ? AND unread > 0) OR (assignee IS NULL AND created_at > ?))
         ORDER BY waiting_key, conversation LIMIT ?",
        vec![agent.into(), since.into(), i64::try_from(MAX_BACKLOG).unwrap_or(200).into()],
    )?;
    Ok(sealed_rows(rows))
}

fn sealed_rows(rows: Vec<Vec<SqlValue>>) -> Vec<(String, Vec<u8>)> {
    rows.into_iter()
        .filter_map(|r| match <[SqlValue; 2]>::try_from(r).ok()? {
            [SqlValue::Text(c), SqlValue::Blob(b)] => Some((c, b)),
            _ => None,
        })
        .collect()
}

/// Open conversations (anything not resolved) per assignee: routing's load.
pub fn open_counts(sql: &impl Sql) -> Result<Vec<(String, u32)>, SqlError> {
    let rows = sql.exec(
        "SELECT assignee, COUNT(*) FROM summaries
         WHERE assignee IS NOT NULL AND status != 'resolved' GROUP BY assignee",
        vec![],
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| match r.as_slice() {
            [SqlValue::Text(a), SqlValue::Integer(n)] => {
                Some((a.clone(), u32::try_from(*n).unwrap_or(u32::MAX)))
            }
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::schema::{NOT_WAITING, SCHEMA};
    use crate::sql::sqlite::Sqlite;

    /// A summary row as the inbox stores it (only the columns these statements read matter).
    fn put(sql: &Sqlite, c: &str, status: &str, assignee: Option<&str>, team: &str, waiting: i64) {
        let assignee = assignee.map_or(SqlValue::Null, |a| a.into());
        sql.exec(
            "INSERT INTO summaries (conversation, version, status, rank, assignee, team, channel,
                language, vip, unread, waiting_key, last_at, created_at, sealed)
             VALUES (?, 1, ?, 1, ?, ?, 'web', NULL, 0, 1, ?, 0, 1, ?)",
            vec![
                c.into(),
                status.into(),
                assignee,
                team.into(),
                waiting.into(),
                format!("sealed {c}").into_bytes().into(),
            ],
        )
        .unwrap();
    }

    fn store() -> Sqlite {
        let sql = Sqlite::memory();
        for s in SCHEMA {
            sql.exec(s, vec![]).unwrap();
        }
        sql
    }

    #[test]
    fn a_teams_queue_is_its_open_unheld_conversations_longest_waiting_first() {
        let sql = store();
        put(&sql, "c-late", "open", None, "billing", 300);
        put(&sql, "c-early", "open", None, "billing", 100);
        put(&sql, "c-held", "open", Some("a1"), "billing", 50);
        put(&sql, "c-pending", "pending", None, "billing", 60);
        put(&sql, "c-other", "open", None, "general", 10);
        put(&sql, "c-not-waiting", "open", None, "billing", NOT_WAITING);
        let q: Vec<String> = queued(&sql, "billing").unwrap().into_iter().map(|(c, _)| c).collect();
        assert_eq!(q, ["c-early", "c-late", "c-not-waiting"]);
        assert_eq!(queued(&sql, "billing").unwrap()[0].1, b"sealed c-early");
        assert!(queued(&sql, "nobody").unwrap().is_empty());
    }

    #[test]
    fn an_agents_backlog_is_its_unread_conversations_and_new_unassigned_ones() {
        let sql = store();
        put(&sql, "mine-unread", "open", Some("a1"), "t", 200);
        put(&sql, "mine-resolved", "resolved", Some("a1"), "t", 100);
        put(&sql, "theirs", "open", Some("a2"), "t", 50);
        put(&sql, "new-unassigned", "open", None, "t", 150);
        sql.exec(
            "UPDATE summaries SET created_at = 500 WHERE conversation = 'new-unassigned'",
            vec![],
        )
        .unwrap();
        put(&sql, "old-unassigned", "open", None, "t", 10);
        put(&sql, "mine-read", "pending", Some("a1"), "t", 20);
        sql.exec("UPDATE summaries SET unread = 0 WHERE conversation = 'mine-read'", vec![])
            .unwrap();
        let names = |since| -> Vec<String> {
            backlog(&sql, "a1", since).unwrap().into_iter().map(|(c, _)| c).collect()
        };
        assert_eq!(names(100), ["new-unassigned", "mine-unread"]);
        assert_eq!(names(0), ["old-unassigned", "new-unassigned", "mine-unread"]);
    }

    #[test]
    fn an_agents_load_is_what_it_holds_that_is_not_resolved() {
        let sql = store();
        put(&sql, "c1", "open", Some("a1"), "t", 1);
        put(&sql, "c2", "snoozed", Some("a1"), "t", 1);
        put(&sql, "c3", "resolved", Some("a1"), "t", 1);
        put(&sql, "c4", "pending", Some("a2"), "t", 1);
        put(&sql, "c5", "open", None, "t", 1);
        let mut load = open_counts(&sql).unwrap();
        load.sort();
        assert_eq!(load, [("a1".to_owned(), 2), ("a2".to_owned(), 1)]);
    }
}
