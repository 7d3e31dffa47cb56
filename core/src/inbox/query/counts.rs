//! The sidebar's counts: a few statements, one pass of their rows, one JSON object.
//!
//! One statement per dimension, not one `UNION ALL` of them all: a Durable Object's SQLite
//! refuses a compound SELECT of nine terms ("too many terms in compound SELECT", seen on
//! workerd; D1 documents five). The worker runs them back to back in one synchronous
//! turn, so they read the same state.
//!
//! Counted over every conversation of the inbox (resolved ones included, per status), so the
//! numbers add up the way the filters they stand for do: `status=open` lists exactly
//! `status.open` conversations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{SqlParam, Statement};
use crate::inbox::summary::priority_rank;
use crate::internal_doc::Priority;
use crate::workflow::status::State;

const PRIORITIES: [Priority; 4] =
    [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

/// One row of [`counts_statements`]: `key` is `NULL` for the single-number dimensions
/// (`total`, `mine`, `unassigned`, `unread`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountRow {
    pub dimension: String,
    pub key: Option<String>,
    pub n: i64,
}

/// The counts as the client gets them. `status` and `priority` list every value, zeros
/// included, so a sidebar can show a stable set of entries; the other maps only what occurs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub status: BTreeMap<String, u64>,
    pub priority: BTreeMap<String, u64>,
    pub team: BTreeMap<String, u64>,
    pub channel: BTreeMap<String, u64>,
    pub tag: BTreeMap<String, u64>,
    /// Assigned to the asking agent.
    pub mine: u64,
    pub unassigned: u64,
    /// Conversations with unread > 0 (not the sum of unread messages).
    pub unread: u64,
}

/// The counts for agent `me`: statements each returning rows
/// `(dimension TEXT, key TEXT NULL, n INTEGER)`; read all their rows with
/// [`Counts::from_rows`]. Priorities come out as names.
pub fn counts_statements(me: &str) -> Vec<Statement> {
    let rank_name = PRIORITIES
        .iter()
        .map(|p| format!("WHEN {} THEN '{}'", priority_rank(*p), p.as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    let plain = |sql: String| Statement { sql, params: Vec::new() };
    vec![
        plain("SELECT 'total', NULL, COUNT(*) FROM summaries".to_owned()),
        plain("SELECT 'status', status, COUNT(*) FROM summaries GROUP BY status".to_owned()),
        plain(format!(
            "SELECT 'priority', CASE rank {rank_name} END, COUNT(*) FROM summaries GROUP BY rank"
        )),
        plain(
            "SELECT 'team', team, COUNT(*) FROM summaries WHERE team IS NOT NULL GROUP BY team"
                .to_owned(),
        ),
        plain("SELECT 'channel', channel, COUNT(*) FROM summaries GROUP BY channel".to_owned()),
        // Joined, so a tag row left behind by a removed summary is not counted.
        plain(
            "SELECT 'tag', summary_tags.tag, COUNT(*) FROM summary_tags JOIN summaries \
             ON summaries.conversation = summary_tags.conversation GROUP BY summary_tags.tag"
                .to_owned(),
        ),
        Statement {
            sql: "SELECT 'mine', NULL, COUNT(*) FROM summaries WHERE assignee = ?".to_owned(),
            params: vec![SqlParam::Text(me.into())],
        },
        plain("SELECT 'unassigned', NULL, COUNT(*) FROM summaries WHERE assignee IS NULL".into()),
        plain("SELECT 'unread', NULL, COUNT(*) FROM summaries WHERE unread > 0".to_owned()),
    ]
}

impl Counts {
    /// Collects the rows of [`counts_statements`]. Rows it does not know (a dimension added
    /// later, a keyed dimension without key) are skipped rather than failing the sidebar.
    pub fn from_rows(rows: impl IntoIterator<Item = CountRow>) -> Counts {
        let mut counts = Counts {
            status: State::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect(),
            priority: PRIORITIES.iter().map(|p| (p.as_str().to_owned(), 0)).collect(),
            ..Counts::default()
        };
        for row in rows {
            let n = u64::try_from(row.n).unwrap_or(0);
            let map = match row.dimension.as_str() {
                "total" => {
                    counts.total = n;
                    continue;
                }
                "mine" => {
                    counts.mine = n;
                    continue;
                }
                "unassigned" => {
                    counts.unassigned = n;
                    continue;
                }
                "unread" => {
                    counts.unread = n;
                    continue;
                }
                "status" => &mut counts.status,
                "priority" => &mut counts.priority,
                "team" => &mut counts.team,
                "channel" => &mut counts.channel,
                "tag" => &mut counts.tag,
                _ => continue,
            };
            if let Some(key) = row.key {
                *map.entry(key).or_default() += n;
            }
        }
        counts
    }
}
