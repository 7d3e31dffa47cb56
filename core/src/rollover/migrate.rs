//! A device moving to a new epoch (PROTOCOL.md §16.2): which of its messages still need
//! writing.
//!
//! A device whose replica is of epoch `e` wrote only to epoch `e`: the relay refuses its
//! socket once the live epoch is past `e`. So each of its unacknowledged messages either was
//! stored in epoch `e` before the seal (its receipt just never reached the device) or never
//! reached the relay. Segment `e` is immutable once sealed: reading it whole tells the two
//! apart for good, and the device rewrites exactly the second kind into the new epoch.

use std::collections::HashSet;

use super::history::Archived;
use crate::message::Message;

/// `pending` (the device's unacknowledged messages in its replica of epoch `e`) minus those
/// sealed in segment `e`.
pub fn unsent(pending: Vec<Message>, sealed: &[Archived]) -> Vec<Message> {
    let stored: HashSet<&str> = sealed.iter().map(|a| a.message.id.as_str()).collect();
    pending.into_iter().filter(|m| !stored.contains(m.id.as_str())).collect()
}
