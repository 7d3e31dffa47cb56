//! Reconnect delays: exponential growth with full jitter, so a relay restart does not bring
//! every device back in the same instant (a first sync costs the relay real CPU).

use std::time::Duration;

/// How long to wait between connection attempts: attempt `n` waits a uniformly random time
/// in `[0, min(max, initial * 2^n)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(100), max: Duration::from_secs(10) }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.ceiling(attempt).mul_f64(unit_random())
    }

    /// The largest delay retry number `attempt` may wait.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(30);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// A uniform number in `[0, 1]`. Without an entropy source (which no supported platform
/// lacks) it falls back to the middle: a fixed delay is still a delay.
fn unit_random() -> f64 {
    let mut buf = [0u8; 8];
    match getrandom::fill(&mut buf) {
        Ok(()) => (u64::from_le_bytes(buf) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_within_it() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
        for attempt in 0..40 {
            assert!(b.delay(attempt) <= b.ceiling(attempt));
        }
        let distinct: std::collections::HashSet<Duration> = (0..20).map(|_| b.delay(5)).collect();
        assert!(distinct.len() > 1, "jitter must vary the delay");
    }
}
