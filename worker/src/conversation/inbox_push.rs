//! How a conversation object keeps its workspace's inbox informed, and takes assignments
//! from it.
//!
//! [`record`] runs in the commit of every relay call, inside its transaction: it stores the new
//! summary and accepted messages ([`edgedesk_core::inbox::feed`]) and asks for a retry alarm. The
//! push itself ([`Conversation::push_inbox`]) runs after the change is durable; changes that
//! land while one push is in flight are coalesced into the next, so a burst costs a few
//! pushes, not one per frame. Whatever is not acknowledged is pushed again by the alarm.

use edgedesk_core::automerge::ChangeHash;
use edgedesk_core::inbox::push::{Push, PushAck};
use edgedesk_core::message::Message;
use edgedesk_core::workflow::profile::VisitorProfile;
use worker::{Env, Method};

use super::{log_open_error, Conversation, Live};
use crate::object_call::{self, Call};
use crate::request::Forwarded;
use edgedesk_core::inbox::feed::{next_push, FeedState};

/// Records the conversation's summary and the call's accepted messages for the inbox, if
/// anything changed. Returns when the alarm should retry, while the inbox is owed something.
pub(crate) fn record(live: &mut Live, accepted: &[Message], now: i64) -> Option<i64> {
    let basis = FeedBasis::of(live);
    let unchanged = accepted.is_empty() && live.feed_basis.as_ref() == Some(&basis);
    if !unchanged {
        let name = live.cipher.conversation().to_owned();
        let conversation = name.split_once('/').map_or(name.as_str(), |(_, c)| c);
        let summary = live.relay.summary(conversation, &live.visitor);
        let doc = live.relay.doc();
        let at = |m: &edgedesk_core::message::Message| doc.received_at(m);
        match live.feed.record(&live.cipher, live.feed_state.as_ref(), summary, accepted, at) {
            Ok(next) => {
                if let Some(summary) = next {
                    let acked = live.feed_state.as_ref().map_or(0, |s| s.acked);
                    live.feed_state = Some(FeedState { summary, acked });
                }
                live.feed_basis = Some(basis);
                live.feed_backlog |= !accepted.is_empty();
            }
            Err(e) => worker::console_error!("inbox feed not recorded: {e}"),
        }
    }
    next_push(live.feed_backlog, live.feed_state.as_ref(), now)
}

/// What a summary is computed from: both documents' heads and the visitor's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeedBasis {
    shared: Vec<ChangeHash>,
    internal: Vec<ChangeHash>,
    visitor: VisitorProfile,
}

impl FeedBasis {
    fn of(live: &Live) -> Self {
        Self {
            shared: live.relay.doc().heads(),
            internal: live.relay.internal().heads(),
            visitor: live.visitor.clone(),
        }
    }
}

/// Sends `push` to the workspace's inbox; its acknowledgement.
async fn send(env: &Env, forwarded: &Forwarded, push: &Push) -> Result<PushAck, String> {
    let body = serde_json::to_string(push).map_err(|e| e.to_string())?;
    let bytes = post(env, forwarded, "push", &body).await?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the inbox's acknowledgement: {e}"))
}

/// Tells the workspace's inbox that conversation `name` was erased: it drops the summary,
/// tags and search entries it holds, and refuses the conversation from then on.
pub(crate) async fn forget(env: &Env, name: &str) -> Result<(), String> {
    let forwarded = forwarded_for(name).ok_or("not a conversation's name")?;
    post(env, &forwarded, "forget", "").await.map(|_| ())
}

/// `POST {path}` to the inbox of the conversation's workspace, as that conversation; the
/// body of a 200 answer.
async fn post(env: &Env, forwarded: &Forwarded, path: &str, body: &str) -> Result<Vec<u8>, String> {
    let answer = Call {
        to: object_call::INBOX,
        name: forwarded.workspace.as_str(),
        method: Method::Post,
        path,
        forwarded: forwarded.to_header(),
        headers: &[],
        body: Some(body.to_owned()),
    }
    .send(env)
    .await
    .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("the inbox answered {}", answer.status));
    }
    Ok(answer.body)
}

impl Conversation {
    /// Pushes what the inbox is owed, until nothing is (or the inbox is unreachable: the
    /// alarm retries). Only one push runs at a time; a call during one asks it to go on.
    pub(crate) async fn push_inbox(&self) {
        if self.pushing.replace(true) {
            self.push_again.set(true);
            return;
        }
        loop {
            self.push_again.set(false);
            let pending = self.with_live(None, |l| {
                let pending = l.feed.pending(&l.cipher, l.feed_state.as_ref());
                (pending, l.cipher.conversation().to_owned())
            });
            let push = match pending {
                Ok((Ok(Some(push)), name)) => (push, name),
                Ok((Ok(None), _)) => {
                    let _ = self.with_live(None, |l| l.feed_backlog = false);
                    break;
                }
                Ok((Err(e), _)) => {
                    worker::console_error!("inbox feed unreadable: {e}");
                    break;
                }
                Err(e) => {
                    log_open_error(&e);
                    break;
                }
            };
            let (push, name) = push;
            let Some(forwarded) = forwarded_for(&name) else { break };
            match send(&self.env, &forwarded, &push).await {
                Ok(ack) => {
                    let _ = self.with_live(None, |l| {
                        if let Err(e) = l.feed.ack(ack) {
                            worker::console_error!("inbox acknowledgement not stored: {e}");
                        }
                        if let Some(s) = l.feed_state.as_mut() {
                            s.acked = s.acked.max(ack.version);
                        }
                    });
                }
                Err(e) => {
                    // No contents in the text: statuses and parse errors only.
                    worker::console_error!("inbox push failed, the alarm retries: {e}");
                    break;
                }
            }
        }
        self.pushing.set(false);
    }
}

/// The identity a push travels with: the conversation's own names.
fn forwarded_for(name: &str) -> Option<Forwarded> {
    let (ws, conv) = name.split_once('/')?;
    Some(Forwarded {
        workspace: edgedesk_core::ids::WorkspaceId::new(ws).ok()?,
        conversation: edgedesk_core::ids::ConversationId::new(conv).ok()?,
        peer: None,
    })
}
