//! The penalty box: a participant whose write the relay refused waits before its next socket.
//!
//! A refused write costs the conversation a reload from storage (the refused changes were
//! applied in memory to be checked), so a client that loops forged writes and reconnects
//! would otherwise make the conversation reload as fast as it can reconnect, slowing every
//! honest device. After each refusal the participant's sockets are refused for a wait that
//! doubles with every refusal in a row (1 s, 2 s, 4 s … at most [`MAX_WAIT_MS`]) and is
//! forgotten after [`FORGET_AFTER_MS`] without one. Kept in memory by the conversation's
//! object: an eviction forgets it, which costs at most one more reload.

use std::collections::HashMap;

use crate::ids::ParticipantId;

/// The wait after a first refusal.
pub const FIRST_WAIT_MS: i64 = 1_000;
/// The longest wait.
pub const MAX_WAIT_MS: i64 = 60_000;
/// Refusals older than this no longer count.
pub const FORGET_AFTER_MS: i64 = 10 * 60_000;
/// Most participants remembered; past it the quietest is forgotten (a conversation has few
/// participants, so only an attack that no wait slows fills it).
pub const MAX_REMEMBERED: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Strikes {
    /// Refusals in a row, each within [`FORGET_AFTER_MS`] of the last.
    count: u32,
    last_ms: i64,
    until_ms: i64,
}

#[derive(Debug, Default)]
pub struct PenaltyBox {
    by_participant: HashMap<ParticipantId, Strikes>,
}

impl PenaltyBox {
    /// Records a refused write of `who` at `now_ms`; returns until when its sockets wait.
    pub fn strike(&mut self, who: &ParticipantId, now_ms: i64) -> i64 {
        self.by_participant.retain(|_, s| now_ms - s.last_ms < FORGET_AFTER_MS);
        if self.by_participant.len() >= MAX_REMEMBERED && !self.by_participant.contains_key(who) {
            if let Some(oldest) =
                self.by_participant.iter().min_by_key(|(_, s)| s.last_ms).map(|(p, _)| p.clone())
            {
                self.by_participant.remove(&oldest);
            }
        }
        let count = self.by_participant.get(who).map_or(0, |s| s.count).saturating_add(1);
        let wait = FIRST_WAIT_MS.saturating_mul(1 << (count - 1).min(16)).min(MAX_WAIT_MS);
        let until_ms = now_ms + wait;
        self.by_participant.insert(who.clone(), Strikes { count, last_ms: now_ms, until_ms });
        until_ms
    }

    /// How long `who` must still wait before a socket is accepted (ms), if at all.
    pub fn wait_ms(&self, who: &ParticipantId, now_ms: i64) -> Option<i64> {
        self.by_participant.get(who).map(|s| s.until_ms - now_ms).filter(|w| *w > 0)
    }
}

/// The close reason of a socket refused while its participant waits (PROTOCOL.md §8.6).
pub fn reason(wait_ms: i64) -> String {
    let seconds = (wait_ms.max(0) + 999) / 1000;
    format!("a write of yours was refused: wait {seconds} s before reconnecting")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ParticipantId {
        ParticipantId::new(s).unwrap()
    }

    #[test]
    fn each_refusal_in_a_row_doubles_the_wait_up_to_a_minute() {
        let mut b = PenaltyBox::default();
        let v = p("v-forger");
        let mut now = 1_000_000;
        let mut waits = Vec::new();
        for _ in 0..9 {
            let until = b.strike(&v, now);
            waits.push(until - now);
            assert_eq!(b.wait_ms(&v, now), Some(until - now));
            assert_eq!(b.wait_ms(&v, until), None, "free again at the end of the wait");
            now = until;
        }
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
        assert_eq!(b.wait_ms(&p("v-honest"), now), None, "others never wait");
    }

    #[test]
    fn a_quiet_participant_is_forgiven_and_memory_stays_bounded() {
        let mut b = PenaltyBox::default();
        let v = p("v-once");
        b.strike(&v, 0);
        b.strike(&v, 1_000);
        let until = b.strike(&v, FORGET_AFTER_MS + 1_000 + 1);
        assert_eq!(until - (FORGET_AFTER_MS + 1_001), FIRST_WAIT_MS, "counting starts again");
        for i in 0..(MAX_REMEMBERED + 10) {
            b.strike(&p(&format!("v-{i}")), 2 * FORGET_AFTER_MS + i as i64);
        }
        assert!(b.by_participant.len() <= MAX_REMEMBERED);
        let last = p(&format!("v-{}", MAX_REMEMBERED + 9));
        assert!(b.wait_ms(&last, 2 * FORGET_AFTER_MS + MAX_REMEMBERED as i64).is_some());
    }
}
