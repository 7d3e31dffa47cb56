//! `retention`: how long sealed history is kept (PROTOCOL.md §9.12, §16.4).

use super::errors::Errors;
use super::json::RawRetention;

/// Ten years: a longer period is a typo for "forever" (leave it out).
pub const MAX_DAYS: u32 = 3_650;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Sealed segments are crypto-shredded this many days after they were sealed; `None`
    /// keeps them for good. A conversation under legal hold is never shredded.
    pub delete_sealed_after_days: Option<u32>,
}

impl RetentionPolicy {
    pub(super) fn to_raw(self) -> Option<RawRetention> {
        self.delete_sealed_after_days.map(|d| RawRetention { delete_sealed_after_days: Some(d) })
    }

    pub(super) fn from_raw(raw: &RawRetention, errors: &mut Errors) -> RetentionPolicy {
        match raw.delete_sealed_after_days {
            Some(d) if d == 0 || d > MAX_DAYS => {
                errors.push(
                    "retention.delete_sealed_after_days",
                    format!("{d} is out of range: 1 to {MAX_DAYS} days (leave it out to keep sealed history for good)"),
                );
                RetentionPolicy::default()
            }
            d => RetentionPolicy { delete_sealed_after_days: d },
        }
    }
}
