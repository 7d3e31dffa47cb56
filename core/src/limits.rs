//! Per-conversation bounds an operator may tighten: frame size, message body size, frames per
//! second per socket, sockets per conversation. Each is enforced where its input arrives (the
//! reassembler, write validation, the relay's per-peer rate limiter, the Durable Object's
//! accept) and answered with a close code and a reason naming the limit (PROTOCOL.md §7).

use crate::frame::{MAX_CLIENT_MESSAGE, MAX_FRAME_PAYLOAD};
use crate::message::MAX_BODY_BYTES;

/// Largest chunk written as one row: under SQLite-in-DO's 2 MB value limit with headroom
/// for encryption overhead.
pub const MAX_ROW_BYTES: usize = 1536 * 1024;

pub const MAX_FRAME_BYTES_VAR: &str = "EDGEDESK_MAX_FRAME_BYTES";
pub const MAX_BODY_BYTES_VAR: &str = "EDGEDESK_MAX_BODY_BYTES";
pub const MAX_MESSAGES_PER_SECOND_VAR: &str = "EDGEDESK_MAX_MESSAGES_PER_SECOND";
pub const MAX_SOCKETS_VAR: &str = "EDGEDESK_MAX_SOCKETS_PER_CONVERSATION";
pub const ROLLOVER_MESSAGES_VAR: &str = "EDGEDESK_ROLLOVER_MESSAGES";
/// The inbox's coalescing window for summaries to agents, ms (PROTOCOL.md §15.x; 0 sends
/// each at once).
pub const INBOX_WINDOW_MS_VAR: &str = "EDGEDESK_INBOX_WINDOW_MS";
/// A day, in ms: the unit of the retention policy (PROTOCOL.md §16.4).
pub const DAY_MS: i64 = 86_400_000;
/// How long a "day" of the retention policy is, in ms: for tests, which cannot wait days.
pub const RETENTION_DAY_MS_VAR: &str = "EDGEDESK_RETENTION_DAY_MS";
/// Messages the live document holds before it is sealed into an archive segment
/// (PROTOCOL.md §16): a 1,000-message document loads in a few milliseconds and holds a few MB
/// of the isolate's 128 MB, whatever the conversation's length.
pub const DEFAULT_ROLLOVER_MESSAGES: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket message (one frame, type byte included) accepted from a client.
    /// Clients fragment at 256 KiB of payload, so lowering it below that refuses large syncs.
    pub max_frame_bytes: usize,
    /// Largest reassembled message from a client.
    pub max_message_bytes: usize,
    /// Largest message (and note) body, in bytes; at most [`MAX_BODY_BYTES`], which every
    /// client enforces too.
    pub max_body_bytes: usize,
    /// WebSocket messages a socket may send per second, sustained; bursts of twice as many
    /// are allowed (a reconnecting device's sync exchange comes in a burst).
    pub max_messages_per_second: u32,
    /// Open sockets one conversation serves at once.
    pub max_sockets_per_conversation: usize,
    /// Messages in the live document at which it rolls over into an archive segment; 0 never
    /// rolls over (the document grows without end, as before issue 17).
    pub rollover_messages: usize,
    /// A day of the retention policy, in ms (86,400,000 but in tests).
    pub retention_day_ms: i64,
    /// The inbox sends agents at most one summary frame per this many ms (read by the Inbox
    /// object, not the conversation).
    pub inbox_window_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: MAX_FRAME_PAYLOAD + 1,
            max_message_bytes: MAX_CLIENT_MESSAGE,
            max_body_bytes: MAX_BODY_BYTES,
            max_messages_per_second: 500,
            max_sockets_per_conversation: 64,
            rollover_messages: DEFAULT_ROLLOVER_MESSAGES,
            retention_day_ms: DAY_MS,
            inbox_window_ms: crate::inbox::coalesce::WINDOW_MS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?} is not valid: {expected}")]
pub struct LimitsError {
    pub var: &'static str,
    pub value: String,
    pub expected: String,
}

impl Limits {
    /// Reads the optional variables through `get`; an unset variable keeps its default, a set
    /// but invalid one is an error (never silently replaced by the default).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Limits, LimitsError> {
        let d = Limits::default();
        let read = |var: &'static str, min: usize, max: usize, default: usize| {
            let Some(value) = get(var) else { return Ok(default) };
            value.trim().parse::<usize>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(
                || LimitsError { var, value, expected: format!("an integer from {min} to {max}") },
            )
        };
        Ok(Limits {
            max_frame_bytes: read(
                MAX_FRAME_BYTES_VAR,
                1024,
                MAX_FRAME_PAYLOAD + 1,
                d.max_frame_bytes,
            )?,
            max_message_bytes: d.max_message_bytes,
            max_body_bytes: read(MAX_BODY_BYTES_VAR, 1, MAX_BODY_BYTES, d.max_body_bytes)?,
            max_messages_per_second: read(
                MAX_MESSAGES_PER_SECOND_VAR,
                1,
                10_000,
                d.max_messages_per_second as usize,
            )? as u32,
            max_sockets_per_conversation: read(
                MAX_SOCKETS_VAR,
                1,
                10_000,
                d.max_sockets_per_conversation,
            )?,
            rollover_messages: match read(ROLLOVER_MESSAGES_VAR, 0, 1_000_000, d.rollover_messages)?
            {
                // Fewer would seal a segment per handful of messages: each costs a key and rows.
                n @ 1..=9 => {
                    return Err(LimitsError {
                        var: ROLLOVER_MESSAGES_VAR,
                        value: n.to_string(),
                        expected: "0 (never) or an integer from 10 to 1000000".into(),
                    })
                }
                n => n,
            },
            retention_day_ms: read(
                RETENTION_DAY_MS_VAR,
                1_000,
                DAY_MS as usize,
                d.retention_day_ms as usize,
            )? as i64,
            inbox_window_ms: read(INBOX_WINDOW_MS_VAR, 0, 1_000, d.inbox_window_ms as usize)?
                as i64,
        })
    }
}

/// A token bucket: `rate` tokens per second, holding at most `2 * rate`. Time comes in as
/// milliseconds, so it is deterministic in tests.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: u32,
    /// Tokens, in thousandths, so refills of less than one token per millisecond add up.
    milli_tokens: u64,
    last_ms: Option<i64>,
}

impl RateLimiter {
    pub fn new(rate: u32) -> Self {
        Self { rate, milli_tokens: Self::capacity(rate), last_ms: None }
    }

    fn capacity(rate: u32) -> u64 {
        u64::from(rate.max(1)) * 2 * 1000
    }

    /// Takes one token at `now_ms`; `false` when the bucket is empty.
    pub fn allow(&mut self, now_ms: i64) -> bool {
        let elapsed = self.last_ms.map_or(0, |last| (now_ms - last).max(0) as u64);
        self.last_ms = Some(now_ms);
        // rate tokens per 1000 ms = rate milli-tokens per ms.
        let refill = elapsed.saturating_mul(u64::from(self.rate));
        self.milli_tokens =
            (self.milli_tokens.saturating_add(refill)).min(Self::capacity(self.rate));
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn unset_variables_keep_the_defaults_and_set_ones_apply() {
        assert_eq!(Limits::from_vars(vars(&[])).unwrap(), Limits::default());
        let l = Limits::from_vars(vars(&[(MAX_BODY_BYTES_VAR, "100"), (MAX_SOCKETS_VAR, "3")]))
            .unwrap();
        assert_eq!((l.max_body_bytes, l.max_sockets_per_conversation), (100, 3));
    }

    #[test]
    fn invalid_values_are_errors_naming_the_variable_and_the_range() {
        for (var, value) in [
            (MAX_BODY_BYTES_VAR, "0"),
            (MAX_BODY_BYTES_VAR, "1000000"),
            (MAX_FRAME_BYTES_VAR, "12"),
            (MAX_MESSAGES_PER_SECOND_VAR, "fast"),
        ] {
            let e = Limits::from_vars(vars(&[(var, value)])).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().contains("an integer from"), "{e}");
        }
    }

    #[test]
    fn the_rate_limiter_allows_a_burst_of_twice_the_rate_then_the_rate() {
        let mut r = RateLimiter::new(5);
        let burst = (0..20).filter(|_| r.allow(0)).count();
        assert_eq!(burst, 10);
        // 1 s later: 5 more.
        assert_eq!((0..20).filter(|_| r.allow(1000)).count(), 5);
        // 200 ms later: 1 more.
        assert!(r.allow(1200));
        assert!(!r.allow(1200));
    }
}
