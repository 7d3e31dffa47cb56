//! The SQL of a list query: filters, the keyset condition of the cursor, the order, and one
//! row more than the page so the worker knows whether another page follows.

use super::{AssigneeFilter, ListQuery, Sort, SqlParam, Statement};
use crate::inbox::summary::priority_rank;

/// The columns each listed row carries: the sealed summary and what a cursor is made of.
pub const COLUMNS: &str = "conversation, sealed, rank, waiting_key, last_at";

impl Sort {
    /// The ORDER BY of this sort (the indexes in [`crate::inbox::schema`] follow it).
    pub fn order_by(self) -> &'static str {
        match self {
            Sort::Priority => "rank DESC, waiting_key ASC, conversation ASC",
            Sort::Waiting => "waiting_key ASC, conversation ASC",
            Sort::Activity => "last_at DESC, conversation ASC",
        }
    }
}

/// WHERE conditions (ANDed) and their parameters, in placeholder order.
#[derive(Default)]
struct Filter {
    conditions: Vec<String>,
    params: Vec<SqlParam>,
}

impl Filter {
    fn add(&mut self, condition: impl Into<String>, params: impl IntoIterator<Item = SqlParam>) {
        self.conditions.push(condition.into());
        self.params.extend(params);
    }

    /// `column IN (?, …)` over `values`, nothing if there are none.
    fn any_of(&mut self, column: &str, values: Vec<SqlParam>) {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.add(format!("{column} IN ({marks})"), values);
    }
}

impl ListQuery {
    /// The page's SELECT for the agent `me` (who `assignee=me` means). Returns
    /// [`COLUMNS`] for up to `limit + 1` rows, in the sort's order, after the cursor if any.
    pub fn statement(&self, me: &str) -> Statement {
        use SqlParam::{Int, Text};
        let mut f = Filter::default();
        f.any_of("status", self.status.iter().map(|s| Text(s.as_str().into())).collect());
        f.any_of("rank", self.priority.iter().map(|p| Int(priority_rank(*p))).collect());
        if let Some(tag) = &self.tag {
            f.add(
                "EXISTS (SELECT 1 FROM summary_tags WHERE summary_tags.conversation = \
                 summaries.conversation AND summary_tags.tag = ?)",
                [Text(tag.clone())],
            );
        }
        match &self.assignee {
            None => {}
            Some(AssigneeFilter::Me) => f.add("assignee = ?", [Text(me.into())]),
            Some(AssigneeFilter::Unassigned) => f.add("assignee IS NULL", []),
            Some(AssigneeFilter::Agent(a)) => f.add("assignee = ?", [Text(a.as_str().into())]),
        }
        if let Some(team) = &self.team {
            f.add("team = ?", [Text(team.as_str().into())]);
        }
        if self.unread {
            f.add("unread > 0", []);
        }
        if let Some(channel) = &self.channel {
            f.add("channel = ?", [Text(channel.clone())]);
        }
        if let Some(visitor) = &self.visitor {
            f.add(
                "EXISTS (SELECT 1 FROM summary_visitors WHERE summary_visitors.conversation = \
                 summaries.conversation AND summary_visitors.visitor = ?)",
                [Text(visitor.clone())],
            );
        }
        if let Some(since) = self.since {
            f.add("last_at >= ?", [Int(since)]);
        }
        if let Some(until) = self.until {
            f.add("last_at < ?", [Int(until)]);
        }
        // A cursor of another sort cannot be parsed (see `Cursor::decode`); one put there by
        // hand is ignored rather than misread.
        if let Some(cursor) = self.cursor.as_ref().filter(|c| c.sort() == self.sort) {
            let [k0, k1] = cursor.keys();
            let c = || Text(cursor.conversation().into());
            // Strictly after the cursor in the sort's order. The leading `<=`/`>=` bounds the
            // index range; row values compare the ascending tail in one go.
            match cursor.sort() {
                Sort::Priority => f.add(
                    "rank <= ? AND (rank < ? OR (waiting_key, conversation) > (?, ?))",
                    [Int(k0), Int(k0), Int(k1), c()],
                ),
                Sort::Waiting => f.add("(waiting_key, conversation) > (?, ?)", [Int(k0), c()]),
                Sort::Activity => f.add(
                    "last_at <= ? AND (last_at < ? OR conversation > ?)",
                    [Int(k0), Int(k0), c()],
                ),
            }
        }
        let mut sql = format!("SELECT {COLUMNS} FROM summaries");
        if !f.conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&f.conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY ");
        sql.push_str(self.sort.order_by());
        sql.push_str(" LIMIT ?");
        f.params.push(Int(i64::from(self.limit) + 1));
        Statement { sql, params: f.params }
    }
}
