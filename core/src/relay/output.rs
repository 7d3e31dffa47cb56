//! What one relay call produced, as one value.
//!
//! Every entry point of [`super::Relay`] returns an [`Output`]: the owner commits it in one
//! place and cannot forget a part. (Before, callers pulled webhook events, accepted messages
//! and timers from side tables after each call; a forgotten pull lost outputs whose cause
//! was already durable.) The relay has persisted both documents before it returns one.

use super::Outgoing;
use crate::message::Message;
use crate::rollover::Sealed;
use crate::workflow::event::WebhookEvent;
use crate::workflow::timers::Timer;

/// Everything a relay call produced. Commit order (see [`super::Relay`]): `events` and
/// `timers` go into storage in the same transaction as the documents (no `await` between
/// the call and their writes), `accepted` into the inbox feed likewise; `frames` go out only
/// after storage confirmed that transaction, since they may acknowledge it.
#[must_use = "an output holds frames, webhook events and inbox messages to commit"]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Frames per peer.
    pub frames: Vec<Outgoing>,
    /// Webhook events the workflow raised, each to be queued once.
    pub events: Vec<WebhookEvent>,
    /// Messages accepted from peers or written by the relay, in order: the workspace's inbox
    /// indexes them for search.
    pub accepted: Vec<Message>,
    /// The conversation's pending timers after the call, earliest first (none without a
    /// workflow): the whole set, which replaces the stored one.
    pub timers: Vec<Timer>,
    /// The live document reached its bound and was sealed (PROTOCOL.md §16): the owner
    /// stores the segment and its carry in the same transaction as the documents, then,
    /// after sending `frames`, closes every socket with
    /// [`crate::rollover::CLOSE_EPOCH_MOVED`].
    pub sealed: Option<Sealed>,
}

impl Output {
    /// Appends a later call's output: frames, events and messages in order; its timers
    /// replace these (they describe the state after both calls).
    pub fn merge(&mut self, later: Output) {
        self.frames.extend(later.frames);
        self.events.extend(later.events);
        self.accepted.extend(later.accepted);
        self.timers = later.timers;
        if later.sealed.is_some() {
            self.sealed = later.sealed;
        }
    }

    /// The frames for `peer`, concatenated in order.
    pub fn frames_to(&self, peer: super::PeerId) -> Vec<&Vec<u8>> {
        self.frames.iter().filter(|o| o.to == peer).flat_map(|o| &o.frames).collect()
    }
}
