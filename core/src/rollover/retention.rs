//! Retention (PROTOCOL.md §16.4): when the live document is archived (sealed by age or by a
//! workspace's message bound), which sealed segments are due to be crypto-shredded, and when
//! the next one is.
//!
//! A segment is shredded by deleting its wrapped key and its rows: no copy of its rows that
//! may survive (a backup, SQLite's free pages) can be read again. A conversation under legal
//! hold keeps everything. Pure functions of the segments' bookkeeping and the time, so the
//! relay's alarm and its timer agree on what is due.

use super::archive::SegmentInfo;

pub use crate::limits::DAY_MS;

/// When segment `s` is due, under a policy of `days` (`day_ms` is a day: [`DAY_MS`] except in
/// tests, which shorten it).
fn due_at(s: &SegmentInfo, days: u32, day_ms: i64) -> i64 {
    s.sealed_at.saturating_add(i64::from(days).saturating_mul(day_ms))
}

/// The segments to shred at `now`, oldest first.
pub fn due(
    segments: &[SegmentInfo],
    days: Option<u32>,
    held: bool,
    day_ms: i64,
    now: i64,
) -> Vec<u64> {
    let Some(days) = days.filter(|_| !held) else { return Vec::new() };
    segments
        .iter()
        .filter(|s| s.shredded_at.is_none() && due_at(s, days, day_ms) <= now)
        .map(|s| s.epoch)
        .collect()
}

/// When the next segment falls due, if any will.
pub fn next_due(
    segments: &[SegmentInfo],
    days: Option<u32>,
    held: bool,
    day_ms: i64,
) -> Option<i64> {
    let days = days.filter(|_| !held)?;
    segments.iter().filter(|s| s.shredded_at.is_none()).map(|s| due_at(s, days, day_ms)).min()
}

/// The message count at which the live document is sealed: the relay's bound (`relay`, 0 for
/// never), lowered by the workspace's `archive_after_messages` if set.
pub fn rollover_bound(relay: usize, workspace: Option<u32>) -> usize {
    match (relay, workspace.map(|m| m as usize)) {
        (0, Some(m)) => m,
        (r, Some(m)) => r.min(m),
        (r, None) => r,
    }
}

/// When the live document falls due to be archived under `archive_after_days`: that many days
/// after its first message was received (`first_received`; none while it holds no message).
pub fn archive_due_at(first_received: Option<i64>, days: Option<u32>, day_ms: i64) -> Option<i64> {
    Some(first_received?.saturating_add(i64::from(days?).saturating_mul(day_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(epoch: u64, sealed_at: i64, shredded: bool) -> SegmentInfo {
        SegmentInfo { epoch, messages: 10, sealed_at, shredded_at: shredded.then_some(sealed_at) }
    }

    #[test]
    fn segments_older_than_the_period_are_due_unless_shredded_held_or_kept_for_good() {
        let segs = [seg(0, 0, true), seg(1, 10 * DAY_MS, false), seg(2, 40 * DAY_MS, false)];
        assert_eq!(due(&segs, Some(30), false, DAY_MS, 45 * DAY_MS), vec![1]);
        assert_eq!(next_due(&segs, Some(30), false, DAY_MS), Some(40 * DAY_MS));
        assert_eq!(due(&segs, Some(30), false, DAY_MS, 70 * DAY_MS), vec![1, 2]);
        assert!(due(&segs, Some(30), true, DAY_MS, 70 * DAY_MS).is_empty(), "legal hold");
        assert_eq!(next_due(&segs, Some(30), true, DAY_MS), None);
        assert!(due(&segs, None, false, DAY_MS, i64::MAX).is_empty(), "kept for good");
        assert_eq!(next_due(&[seg(0, 0, true)], Some(1), false, DAY_MS), None);
    }

    #[test]
    fn a_workspace_bound_only_lowers_the_relays_and_age_counts_from_the_first_message() {
        assert_eq!(rollover_bound(1_000, None), 1_000);
        assert_eq!(rollover_bound(1_000, Some(200)), 200);
        assert_eq!(rollover_bound(1_000, Some(5_000)), 1_000, "the relay's memory bound holds");
        assert_eq!(
            rollover_bound(0, Some(200)),
            200,
            "a relay without a bound takes the workspace's"
        );
        assert_eq!(rollover_bound(0, None), 0);
        assert_eq!(archive_due_at(Some(5), Some(30), DAY_MS), Some(5 + 30 * DAY_MS));
        assert_eq!(archive_due_at(None, Some(30), DAY_MS), None, "nothing live, nothing due");
        assert_eq!(archive_due_at(Some(5), None, DAY_MS), None, "no age bound");
    }
}
