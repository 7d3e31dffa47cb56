//! `retention`: when live messages are archived into sealed segments and how long sealed
//! history is kept (PROTOCOL.md §9.12, §16.4).

use super::errors::Errors;
use super::json::RawRetention;

/// Ten years: a longer period is a typo for "forever" (leave it out).
pub const MAX_DAYS: u32 = 3_650;
/// Fewer messages per segment would seal (and move every device) every few messages.
pub const MIN_ARCHIVE_MESSAGES: u32 = 10;
/// The relay's own bound (`EDGEDESK_ROLLOVER_MESSAGES`) caps it anyway.
pub const MAX_ARCHIVE_MESSAGES: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The live document is sealed once its first message was received this many days ago,
    /// so no message stays live longer; `None`: only the message bound seals it.
    pub archive_after_days: Option<u32>,
    /// The live document is sealed once it holds this many messages, if fewer than the
    /// relay's own bound; `None`: the relay's bound.
    pub archive_after_messages: Option<u32>,
    /// Sealed segments are crypto-shredded this many days after they were sealed; `None`
    /// keeps them for good. A conversation under legal hold is never shredded.
    pub delete_sealed_after_days: Option<u32>,
}

impl RetentionPolicy {
    pub(super) fn to_raw(self) -> Option<RawRetention> {
        (self != RetentionPolicy::default()).then_some(RawRetention {
            archive_after_days: self.archive_after_days,
            archive_after_messages: self.archive_after_messages,
            delete_sealed_after_days: self.delete_sealed_after_days,
        })
    }

    pub(super) fn from_raw(raw: &RawRetention, errors: &mut Errors) -> RetentionPolicy {
        const NO_BOUND: &str = "for no such bound";
        RetentionPolicy {
            archive_after_days: in_range(
                errors,
                ("archive_after_days", raw.archive_after_days),
                (1, MAX_DAYS, "days"),
                NO_BOUND,
            ),
            archive_after_messages: in_range(
                errors,
                ("archive_after_messages", raw.archive_after_messages),
                (MIN_ARCHIVE_MESSAGES, MAX_ARCHIVE_MESSAGES, "messages"),
                NO_BOUND,
            ),
            delete_sealed_after_days: in_range(
                errors,
                ("delete_sealed_after_days", raw.delete_sealed_after_days),
                (1, MAX_DAYS, "days"),
                "to keep sealed history for good",
            ),
        }
    }
}

/// `value` of `retention.{field}` if absent or within `min..=max`; otherwise an error saying
/// the range and what leaving it out means (`absent`), and no value.
fn in_range(
    errors: &mut Errors,
    (field, value): (&str, Option<u32>),
    (min, max, unit): (u32, u32, &str),
    absent: &str,
) -> Option<u32> {
    match value {
        Some(v) if v < min || v > max => {
            errors.push(
                format!("retention.{field}"),
                format!("{v} is out of range: {min} to {max} {unit} (leave it out {absent})"),
            );
            None
        }
        v => v,
    }
}
