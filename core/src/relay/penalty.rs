//! The penalty box: a participant whose write the relay refused waits before its next socket.
//!
//! A refused write costs the conversation a reload from storage (the refused changes were
//! applied in memory to be checked), so a client that loops forged writes and reconnects
//! would otherwise make the conversation reload as fast as it can reconnect, slowing every
//! honest device. After each refusal the participant's sockets are refused for a wait that
//! doubles with every refusal in a row (1 s, 2 s, 4 s … at most [`MAX_WAIT_MS`]) and is
//! forgotten after [`FORGET_AFTER_MS`] without one. Kept in memory by the conversation's
//! object: an eviction forgets it, which costs at most one more reload.
//!
//! A socket asked for while the participant waits is held unanswered until the wait ends (at
//! most [`MAX_HOLD_MS`]) rather than refused at once: refusing at once let a client that
//! reconnects the moment it is closed make ~100 attempts a second, each one a TCP accept, an
//! HTTP request, a token check and a WebSocket upgrade on the thread that serves every other
//! conversation too. Held, it makes one attempt per wait, and an honest device of that
//! participant simply connects when its wait is over. Only [`MAX_HELD_PER_PARTICIPANT`] of a
//! participant's requests (and [`MAX_HELD`] in all) are held; past that they are refused at
//! once, so holding cannot be used to pile up open requests.

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
/// The longest a socket request is held before it is answered: under the SDKs' 10 s connect
/// timeout, so a held device is answered, not timed out.
pub const MAX_HOLD_MS: i64 = 5_000;
/// Requests of one participant held at once.
pub const MAX_HELD_PER_PARTICIPANT: u32 = 2;
/// Requests held at once in one conversation.
pub const MAX_HELD: u32 = 64;

/// What to do with a socket request (PROTOCOL.md §8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The participant does not wait: open the socket.
    Open,
    /// Hold the request this long, call [`PenaltyBox::released`], then ask again with
    /// [`PenaltyBox::wait_ms`]: open if the wait is over, else refuse.
    Hold { ms: i64 },
    /// Refuse at once (1013): the participant waits this much longer and already has as many
    /// requests held as it may.
    Refuse { wait_ms: i64 },
}

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
    /// Requests held now, by participant (entries at zero removed).
    held: HashMap<ParticipantId, u32>,
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

    /// Decides a socket request of `who` at `now_ms`; a [`Admission::Hold`] counts as held
    /// until [`PenaltyBox::released`].
    pub fn admit(&mut self, who: &ParticipantId, now_ms: i64) -> Admission {
        let Some(wait_ms) = self.wait_ms(who, now_ms) else {
            return Admission::Open;
        };
        let mine = self.held.get(who).copied().unwrap_or(0);
        let all: u32 = self.held.values().sum();
        if mine >= MAX_HELD_PER_PARTICIPANT || all >= MAX_HELD {
            return Admission::Refuse { wait_ms };
        }
        self.held.insert(who.clone(), mine + 1);
        Admission::Hold { ms: wait_ms.min(MAX_HOLD_MS) }
    }

    /// A held request of `who` was answered (or abandoned).
    pub fn released(&mut self, who: &ParticipantId) {
        if let Some(n) = self.held.get_mut(who) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.held.remove(who);
            }
        }
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
    fn a_request_while_waiting_is_held_until_the_wait_ends_and_only_two_at_a_time() {
        let mut b = PenaltyBox::default();
        let (v, honest) = (p("v-forger"), p("v-honest"));
        assert_eq!(b.admit(&v, 0), Admission::Open, "no refusal yet");
        b.strike(&v, 0);
        assert_eq!(b.admit(&v, 400), Admission::Hold { ms: 600 }, "held for the rest of 1 s");
        assert_eq!(b.admit(&v, 400), Admission::Hold { ms: 600 });
        assert_eq!(b.admit(&v, 400), Admission::Refuse { wait_ms: 600 }, "a third is refused");
        assert_eq!(b.admit(&honest, 400), Admission::Open, "others never wait");
        b.released(&v);
        assert_eq!(b.admit(&v, 500), Admission::Hold { ms: 500 }, "a slot is free again");
        b.released(&v);
        b.released(&v);
        b.released(&v);
        assert!(b.held.is_empty(), "released more often than held stays at zero");
        assert_eq!(b.admit(&v, 1_000), Admission::Open, "the wait is over");
        for _ in 0..6 {
            b.strike(&v, 1_000);
        }
        let Admission::Hold { ms } = b.admit(&v, 1_000) else { panic!("held") };
        assert_eq!(ms, MAX_HOLD_MS, "a long wait is held for at most MAX_HOLD_MS");
        assert!(b.wait_ms(&v, 1_000 + ms).is_some(), "then refused: the wait goes on");
    }

    #[test]
    fn no_more_than_max_held_requests_are_held_in_a_conversation() {
        let mut b = PenaltyBox::default();
        let mut held = 0;
        for i in 0..(MAX_HELD + 10) {
            let v = p(&format!("v-{i}"));
            b.strike(&v, 0);
            if let Admission::Hold { .. } = b.admit(&v, 1) {
                held += 1;
            }
        }
        assert_eq!(held, MAX_HELD);
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
