//! How guessing is slowed: an account locks after [`MAX_FAILURES`] wrong passwords in a row,
//! for [`LOCK_SECONDS`]; and a workspace takes at most [`SIGN_INS_PER_MINUTE`] password
//! attempts a minute in all, which also bounds the CPU argon2 spends on them.

use serde::{Deserialize, Serialize};

pub const MAX_FAILURES: u32 = 5;
pub const LOCK_SECONDS: i64 = 15 * 60;
pub const SIGN_INS_PER_MINUTE: u32 = 60;

/// An account's failed attempts, as stored with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// Wrong passwords since the last success or lock.
    pub failures: u32,
    /// Seconds since the epoch until which the account refuses every password.
    pub locked_until: Option<i64>,
}

impl Attempts {
    /// Until when the account is locked, if it is at `now`.
    pub fn locked(&self, now: i64) -> Option<i64> {
        self.locked_until.filter(|until| now < *until)
    }

    /// After a wrong password: the fifth in a row locks the account and starts counting anew.
    pub fn failed(self, now: i64) -> Attempts {
        let failures = self.failures.saturating_add(1);
        if failures >= MAX_FAILURES {
            Attempts { failures: 0, locked_until: Some(now + LOCK_SECONDS) }
        } else {
            Attempts { failures, locked_until: None }
        }
    }
}

/// A fixed one-minute window of password attempts for a whole workspace, kept in memory by
/// the workspace's object (an evicted object starts a fresh window: the per-account lock is
/// the durable bound).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateWindow {
    /// When the current window opened; none before the first attempt.
    start: Option<i64>,
    count: u32,
}

impl RateWindow {
    /// Counts an attempt at `now`, or says in how many seconds to retry.
    pub fn admit(&mut self, now: i64) -> Result<(), i64> {
        let start = match self.start {
            Some(start) if now < start + 60 => start,
            _ => {
                *self = RateWindow { start: Some(now), count: 0 };
                now
            }
        };
        if self.count >= SIGN_INS_PER_MINUTE {
            return Err((start + 60 - now).max(1));
        }
        self.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_wrong_password_locks_for_fifteen_minutes() {
        let mut a = Attempts::default();
        for _ in 0..4 {
            a = a.failed(1000);
            assert_eq!(a.locked(1000), None);
        }
        a = a.failed(1000);
        assert_eq!(a.locked(1000), Some(1000 + LOCK_SECONDS));
        assert_eq!(a.locked(1000 + LOCK_SECONDS - 1), Some(1000 + LOCK_SECONDS));
        assert_eq!(a.locked(1000 + LOCK_SECONDS), None);
        // After the lock, five more wrong passwords are needed to lock again.
        assert_eq!(a.failed(2000).locked(2000), None);
    }

    #[test]
    fn a_workspace_takes_a_bounded_number_of_attempts_a_minute() {
        let mut w = RateWindow::default();
        for _ in 0..SIGN_INS_PER_MINUTE {
            assert!(w.admit(100).is_ok());
        }
        assert_eq!(w.admit(130), Err(30));
        assert!(w.admit(160).is_ok());
    }
}
