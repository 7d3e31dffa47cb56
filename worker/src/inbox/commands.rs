//! What an agent asks of the inbox, over HTTP or its socket, and the answers: one
//! [`Command`] type for both, so the two surfaces cannot drift apart.

use edgedesk_core::ids::ConversationId;
use edgedesk_core::inbox::protocol::{ClientFrame, Target};
use edgedesk_core::inbox::push::AssignOrder;
use edgedesk_core::inbox::query::{counts_statements, CountRow, Counts, KeyRow, ListQuery};
use edgedesk_core::inbox::search::{parse_limit, SearchQuery};
use serde_json::{json, Value};
use worker::SqlStorageValue;

use super::Inbox;
use crate::inbox::request::{ForwardedAgent, TransferTarget};
use crate::request::Refusal;

pub(crate) enum Command {
    List(ListQuery),
    Counts,
    Search(SearchQuery, u32),
    Claim(ConversationId),
    Transfer(ConversationId, Target),
}

fn bad_query(e: impl std::fmt::Display) -> Refusal {
    Refusal::new(400, "bad_query", e.to_string())
}

fn search_of(q: &str, limit: Option<i64>) -> Result<Command, Refusal> {
    let bad = |e: edgedesk_core::inbox::search::SearchError| {
        Refusal::new(400, "bad_query", e.to_string())
    };
    let query = SearchQuery::parse(q).map_err(bad)?;
    let limit = parse_limit(limit).map_err(bad)?;
    Ok(Command::Search(query, limit))
}

impl Command {
    pub fn from_http(
        path: &str,
        pairs: &[(String, String)],
        body: &[u8],
    ) -> Result<Command, Refusal> {
        let conv = |c: &str| {
            ConversationId::new(c)
                .map_err(|e| Refusal::new(400, "bad_conversation_id", e.to_string()))
        };
        match path.split_once('/') {
            Some(("claim", c)) => return Ok(Command::Claim(conv(c)?)),
            Some(("transfer", c)) => {
                let to = match TransferTarget::parse(body)? {
                    TransferTarget::Agent(a) => Target::Agent(a),
                    TransferTarget::Team(t) => Target::Team(t),
                };
                return Ok(Command::Transfer(conv(c)?, to));
            }
            _ => {}
        }
        match path {
            "conversations" => ListQuery::from_pairs(pairs).map(Command::List).map_err(bad_query),
            "counts" => Ok(Command::Counts),
            "search" => {
                let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
                let limit = match get("limit") {
                    Some(l) => Some(l.parse::<i64>().map_err(|_| {
                        Refusal::new(400, "bad_query", "limit must be a whole number (1 to 100)")
                    })?),
                    None => None,
                };
                search_of(get("q").unwrap_or(""), limit)
            }
            _ => Err(Refusal::new(404, "not_found", "unknown inbox action")),
        }
    }

    pub fn from_frame(frame: ClientFrame) -> Result<Command, Refusal> {
        match frame {
            ClientFrame::Query { query, .. } => {
                ListQuery::from_json(&query).map(Command::List).map_err(bad_query)
            }
            ClientFrame::Counts { .. } => Ok(Command::Counts),
            ClientFrame::Search { q, limit, .. } => search_of(&q, limit.map(i64::from)),
            ClientFrame::Claim { conversation, .. } => Ok(Command::Claim(conversation)),
            ClientFrame::Transfer { conversation, to, .. } => {
                Ok(Command::Transfer(conversation, to))
            }
            ClientFrame::Presence { .. } => {
                Err(Refusal::new(400, "bad_frame", "presence is not a request"))
            }
        }
    }
}

fn int(v: &SqlStorageValue) -> i64 {
    match v {
        SqlStorageValue::Integer(i) => *i,
        _ => 0,
    }
}

impl Inbox {
    pub(crate) async fn run(
        &self,
        who: &ForwardedAgent,
        command: Command,
    ) -> Result<Value, Refusal> {
        let ws = who.workspace.as_str();
        let me = who.agent.as_str();
        let unavailable = |e: String| {
            worker::console_error!("inbox: {e}");
            Refusal::new(503, "unavailable", "the inbox could not answer; retry")
        };
        match command {
            Command::List(mut q) => {
                let page = self.with_open(ws, |o| {
                    // Tags are stored as blind terms: the filter asks for the term.
                    q.tag = q.tag.as_deref().map(|t| o.store.tag_term(t));
                    q.visitor = q.visitor.as_deref().map(|v| o.store.visitor_term(v));
                    let rows = o.store.run(&q.statement(me))?;
                    let keys = |r: &Vec<SqlStorageValue>| KeyRow {
                        conversation: match r.first() {
                            Some(SqlStorageValue::String(c)) => c.clone(),
                            _ => String::new(),
                        },
                        rank: r.get(2).map_or(0, int),
                        waiting_key: r.get(3).map_or(0, int),
                        last_at: r.get(4).map_or(0, int),
                    };
                    let (rows, next) = q.page(rows, keys);
                    let items: Vec<_> = rows
                        .iter()
                        .filter_map(|r| match r.as_slice() {
                            [SqlStorageValue::String(c), SqlStorageValue::Blob(b), ..] => {
                                o.store.open(c, b)
                            }
                            _ => None,
                        })
                        .collect();
                    Ok::<_, crate::sql_store::SqlStoreError>(
                        json!({ "items": items, "next_cursor": next }),
                    )
                })?;
                page.map_err(|e| unavailable(e.to_string()))
            }
            Command::Counts => {
                let counts = self.with_open(ws, |o| {
                    let mut rows = Vec::new();
                    for statement in counts_statements(me) {
                        rows.extend(o.store.run(&statement)?);
                    }
                    let rows = rows.iter().filter_map(|r| match r.as_slice() {
                        [SqlStorageValue::String(d), k, SqlStorageValue::Integer(n)] => {
                            Some(CountRow {
                                dimension: d.clone(),
                                key: match k {
                                    // A tag's key is its blind term; its name is sealed beside.
                                    SqlStorageValue::String(s) if d == "tag" => o.store.tag_name(s),
                                    SqlStorageValue::String(s) => Some(s.clone()),
                                    _ => None,
                                },
                                n: *n,
                            })
                        }
                        _ => None,
                    });
                    Ok::<_, crate::sql_store::SqlStoreError>(Counts::from_rows(rows))
                })?;
                counts.map(|c| json!(c)).map_err(|e| unavailable(e.to_string()))
            }
            Command::Search(q, limit) => {
                let hits = self.with_open(ws, |o| o.search.search(&q, limit))?;
                hits.map(|h| json!({ "hits": h })).map_err(|e| unavailable(e.to_string()))
            }
            Command::Claim(c) => {
                self.known(ws, &c)?;
                let order = AssignOrder {
                    assignee: Some(me.to_owned()),
                    clear_assignee: false,
                    team: None,
                    by: Some((who.role, me.to_owned())),
                    only_if_unassigned: true,
                };
                self.order(ws, c.as_str(), order).await.map(|s| json!(s))
            }
            Command::Transfer(c, to) => {
                self.known(ws, &c)?;
                self.transfer(who, &c, to).await.map(|s| json!(s))
            }
        }
    }

    /// Only conversations the inbox has heard of are claimed or moved: an order to an
    /// unknown one would create an empty conversation object.
    fn known(&self, ws: &str, c: &ConversationId) -> Result<(), Refusal> {
        match self.with_open(ws, |o| o.store.version(c.as_str()))? {
            Ok(v) if v > 0 => Ok(()),
            Ok(_) => Err(Refusal::new(
                404,
                "not_found",
                format!("no conversation {c} in this workspace's inbox"),
            )),
            Err(e) => Err(Refusal::new(503, "unavailable", e.to_string())),
        }
    }
}
