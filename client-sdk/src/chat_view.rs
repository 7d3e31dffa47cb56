//! What a chat screen shows, computed from a session: messages with their ticks, the status,
//! the rating, an agent's case panel. The browser SDK hands these to JavaScript as they are
//! (camelCase, documented in edgedesk.d.ts), so the rules for ticks live here, in Rust and
//! under test, not in every UI.

use std::collections::HashMap;

use edgedesk_core::client::ClientSession;
use edgedesk_core::internal_doc::{CaseField, InternalDoc};
use edgedesk_core::message::Message;
use edgedesk_core::store::ChunkStore;
use edgedesk_core::workflow::csat::Rating;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorView {
    pub id: String,
    pub role: &'static str,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub kind: &'static str,
    pub body: String,
    pub author: AuthorView,
    pub device: String,
    pub sent_at: i64,
    /// The relay's receipt: the message is durable there (one tick).
    pub delivered_at: Option<i64>,
    /// Other participants whose read mark is at or after this message (two ticks).
    pub read_by: Vec<String>,
    /// Written by this participant (on any of its devices).
    pub own: bool,
    /// The file sent with the message: fetch it with `attachmentUrl(id)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub content_type: String,
    pub size: u64,
    /// A raster image a browser may show inline.
    pub image: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub state: &'static str,
    pub snoozed_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InternalView {
    pub tags: Vec<String>,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub priority: Option<String>,
    pub notes: Vec<MessageView>,
}

/// Someone else's typing state, from an ephemeral `{"typing": bool}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypingView {
    pub participant: String,
    pub role: String,
    pub typing: bool,
}

fn view(m: Message, me: &str, delivered_at: Option<i64>, read_by: Vec<String>) -> MessageView {
    MessageView {
        own: m.author.id.as_str() == me,
        id: m.id.to_string(),
        kind: m.kind.as_str(),
        body: m.body,
        author: AuthorView {
            id: m.author.id.to_string(),
            role: m.author.role.as_str(),
            name: m.author.name,
        },
        device: m.device.to_string(),
        sent_at: m.sent_at,
        delivered_at,
        read_by,
        attachment: m.attachment.map(|a| AttachmentView {
            image: a.is_inline_image(),
            id: a.id,
            name: a.name,
            content_type: a.content_type,
            size: a.size,
        }),
    }
}

/// One message as it arrives (its receipt and readers come with the next `messages()`).
pub fn message(m: Message, me: &str) -> MessageView {
    view(m, me, None, Vec::new())
}

/// Every message in conversation order, with its receipt and who has read it.
pub fn messages<S: ChunkStore>(session: &ClientSession<S>) -> Vec<MessageView> {
    let me = session.identity().participant.as_str();
    let doc = session.doc();
    let messages = doc.messages();
    let position: HashMap<&str, usize> =
        messages.iter().enumerate().map(|(i, m)| (m.id.as_str(), i)).collect();
    // Each other participant's furthest mark over all its devices.
    let mut furthest: HashMap<String, usize> = HashMap::new();
    for (participant, _device, message) in doc.read_marks() {
        if participant.as_str() == me {
            continue;
        }
        if let Some(&p) = position.get(message.as_str()) {
            let e = furthest.entry(participant.to_string()).or_insert(p);
            *e = (*e).max(p);
        }
    }
    let mut readers: Vec<(String, usize)> = furthest.into_iter().collect();
    readers.sort();
    let delivered: Vec<Option<i64>> = messages.iter().map(|m| doc.delivered_at(&m.id)).collect();
    messages
        .into_iter()
        .zip(delivered)
        .enumerate()
        .map(|(i, (m, at))| {
            let read_by = readers.iter().filter(|(_, p)| *p >= i).map(|(r, _)| r.clone()).collect();
            view(m, me, at, read_by)
        })
        .collect()
}

pub fn status<S: ChunkStore>(session: &ClientSession<S>) -> StatusView {
    let s = session.status();
    StatusView { state: s.state.as_str(), snoozed_until: s.snoozed_until }
}

pub fn rating<S: ChunkStore>(session: &ClientSession<S>) -> Option<Rating> {
    Rating::read(session.doc())
}

/// The case panel of an agent; `None` for visitors, who never hold the internal document.
pub fn internal(doc: Option<&InternalDoc>, me: &str) -> Option<InternalView> {
    let doc = doc?;
    Some(InternalView {
        tags: doc.tags().into_iter().collect(),
        assignee: doc.case_field(CaseField::Assignee),
        team: doc.case_field(CaseField::Team),
        priority: doc.case_field(CaseField::Priority),
        notes: doc.notes().into_iter().map(|n| view(n, me, None, Vec::new())).collect(),
    })
}

/// The typing state in a relayed ephemeral (`{"from":{…},"data":{"typing":…}}`), if any.
pub fn typing(ephemeral: &serde_json::Value) -> Option<TypingView> {
    let from = &ephemeral["from"];
    Some(TypingView {
        participant: from["id"].as_str()?.to_owned(),
        role: from["role"].as_str()?.to_owned(),
        typing: ephemeral["data"]["typing"].as_bool()?,
    })
}

#[cfg(test)]
mod tests;
