//! Where every relay call's [`Output`] is committed: the one place that turns what the relay
//! produced into storage writes, so no part can be forgotten (the destructuring below stops
//! compiling if `Output` gains a field).
//!
//! Called right after the relay call, with no `await` in between: the webhook outbox, the
//! timers table and the inbox feed are written in the same implicit transaction as the
//! documents the relay just persisted. The frames are handed back to be sent once storage
//! confirms that transaction ([`super::Conversation::deliver`]).

use edgedesk_core::relay::{Outgoing, Output};
use edgedesk_core::webhook::deliveries;

use super::Live;

/// Commits `output`; returns its frames and when the alarm should next run (a timer, a
/// webhook retry, or a push the inbox is owed).
pub(crate) fn commit(live: &mut Live, output: Output, now: i64) -> (Vec<Outgoing>, Option<i64>) {
    // `sealed`: the relay stored the segment itself, before the new live document
    // (edgedesk_core::rollover::archive); the socket handler closes the sockets after the frames.
    let Output { frames, events, accepted, timers, sealed: _ } = output;
    let mut next_send = None;
    if let Some(setup) = live.relay.workflow() {
        let jobs = deliveries(&setup.config.webhooks, &events);
        let queued =
            if jobs.is_empty() { Ok(0) } else { live.outbox.enqueue(&jobs, &live.cipher, now) };
        // Retries waiting in the outbox keep their turn when the alarm moves.
        match queued.and_then(|_| live.outbox.next_due()) {
            Ok(due) => next_send = due,
            Err(e) => worker::console_error!("webhook outbox: {e}"),
        }
    }
    if timers != live.timers {
        match live.workflow.set_timers(&timers) {
            Ok(()) => live.timers = timers,
            Err(e) => worker::console_error!("timers table: {e}"),
        }
    }
    let next_timer = live.timers.first().map(|t| t.due_ms);
    let next_push = super::inbox_push::record(live, &accepted, now);
    (frames, next_timer.into_iter().chain(next_send).chain(next_push).min())
}
