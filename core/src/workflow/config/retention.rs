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
        let mut checked =
            |field: &str, value: Option<u32>, min: u32, max: u32, unit: &str| match value {
                Some(v) if v < min || v > max => {
                    let absent = if field.starts_with("delete") {
                        "to keep sealed history for good"
                    } else {
                        "for no such bound"
                    };
                    errors.push(
                        format!("retention.{field}"),
                        format!(
                            "{v} is out of range: {min} to {max} {unit} (leave it out {absent})"
                        ),
                    );
                    None
                }
                v => v,
            };
        RetentionPolicy {
            archive_after_days: checked(
                "archive_after_days",
                raw.archive_after_days,
                1,
                MAX_DAYS,
                "days",
            ),
            archive_after_messages: checked(
                "archive_after_messages",
                raw.archive_after_messages,
                MIN_ARCHIVE_MESSAGES,
                MAX_ARCHIVE_MESSAGES,
                "messages",
            ),
            delete_sealed_after_days: checked(
                "delete_sealed_after_days",
                raw.delete_sealed_after_days,
                1,
                MAX_DAYS,
                "days",
            ),
        }
    }
}
