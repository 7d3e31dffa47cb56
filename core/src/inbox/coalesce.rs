//! Coalescing the inbox's summary fan-out (PROTOCOL.md §15.5): at most one summary frame per
//! [`WINDOW_MS`] to every agent socket, carrying every conversation that changed in it.
//!
//! Each accepted message pushes its conversation's summary to the workspace's one Inbox
//! object, which wrote it to every agent socket: at 100 messages a second and 200 agents that
//! is 20,000 frames a second, and workerd's cost per frame written (~40 us here, outside
//! JavaScript) made the fan-out two thirds of the inbox's time (BENCHMARKS.md, capacity
//! model). Throttled with a leading edge: a summary after a quiet [`WINDOW_MS`] goes out at
//! once (no added latency when the workspace is calm); summaries arriving within the window
//! after it wait for the window's end and go out together, the newest per conversation only.
//! Sans-IO: the shell asks [`Coalescer::offer`] what to do and calls [`Coalescer::flush`]
//! when the wait it was told to schedule is over.

use super::protocol::ServerFrame;
use super::summary::Summary;

/// The shortest time between two summary frames to the agents, by default
/// (`EDGEDESK_INBOX_WINDOW_MS`; 0 sends every summary at once, as before coalescing).
pub const WINDOW_MS: i64 = 100;

/// Summaries in one frame at most: a burst over thousands of conversations (say, after a
/// restart) stays far below the clients' 1 MiB frame bound (`MAX_SERVER_FRAME_BYTES`).
pub const MAX_PER_FRAME: usize = 100;

/// What the shell does with an offered summary.
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    /// Send these frames to every agent socket now.
    SendNow(Vec<ServerFrame>),
    /// Wait this long, then call [`Coalescer::flush`] and send what it returns.
    FlushAfter { ms: i64 },
    /// Nothing: a flush already scheduled will carry it.
    Queued,
}

#[derive(Debug)]
pub struct Coalescer {
    window_ms: i64,
    /// Summaries waiting for the scheduled flush, in arrival order, one per conversation.
    pending: Vec<Summary>,
    last_sent_ms: Option<i64>,
    /// When the scheduled flush is due, if one is.
    flush_due_ms: Option<i64>,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new(WINDOW_MS)
    }
}

impl Coalescer {
    /// At most one frame per `window_ms` (0: every summary at once).
    pub fn new(window_ms: i64) -> Self {
        Self {
            window_ms: window_ms.max(0),
            pending: Vec::new(),
            last_sent_ms: None,
            flush_due_ms: None,
        }
    }

    /// A summary stored at `now_ms`, to be told to every agent device.
    pub fn offer(&mut self, summary: Summary, now_ms: i64) -> Offer {
        let window = self.window_ms;
        let quiet = self.last_sent_ms.is_none_or(|t| now_ms - t >= window);
        match self.flush_due_ms {
            None if quiet => {
                self.last_sent_ms = Some(now_ms);
                return Offer::SendNow(vec![ServerFrame::Summary { summary: Box::new(summary) }]);
            }
            // A flush a whole window overdue was lost (its caller never came back): what it
            // holds goes out now rather than never.
            Some(due) if now_ms - due >= window => {
                self.queue(summary);
                let frames = self.flush(now_ms);
                return if frames.is_empty() { Offer::Queued } else { Offer::SendNow(frames) };
            }
            Some(_) => {
                self.queue(summary);
                return Offer::Queued;
            }
            None => {}
        }
        self.queue(summary);
        let since = self.last_sent_ms.map_or(window, |t| now_ms - t);
        let wait = (window - since).clamp(0, window);
        self.flush_due_ms = Some(now_ms + wait);
        Offer::FlushAfter { ms: wait }
    }

    /// The scheduled flush: the summaries queued since, in frames of at most
    /// [`MAX_PER_FRAME`] (none if a removal took them all).
    pub fn flush(&mut self, now_ms: i64) -> Vec<ServerFrame> {
        self.flush_due_ms = None;
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Vec::new();
        }
        self.last_sent_ms = Some(now_ms);
        pending
            .chunks(MAX_PER_FRAME)
            .map(|chunk| match chunk {
                [one] => ServerFrame::Summary { summary: Box::new(one.clone()) },
                many => ServerFrame::Summaries { summaries: many.to_vec() },
            })
            .collect()
    }

    /// A conversation was erased and its removal is sent now: a queued summary of it must
    /// not bring it back after.
    pub fn forget(&mut self, conversation: &str) {
        self.pending.retain(|s| s.conversation != conversation);
    }

    /// Summaries waiting now.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    fn queue(&mut self, summary: Summary) {
        match self.pending.iter_mut().find(|s| s.conversation == summary.conversation) {
            Some(older) if older.version <= summary.version => *older = summary,
            Some(_) => {}
            None => self.pending.push(summary),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(conversation: &str, version: u64) -> Summary {
        Summary { version, ..Summary::blank(conversation) }
    }

    /// What `frames` carry, in order.
    fn conversations(frames: &[ServerFrame]) -> Vec<(String, u64)> {
        frames
            .iter()
            .flat_map(|frame| match frame {
                ServerFrame::Summary { summary } => {
                    vec![(summary.conversation.clone(), summary.version)]
                }
                ServerFrame::Summaries { summaries } => {
                    summaries.iter().map(|s| (s.conversation.clone(), s.version)).collect()
                }
                other => panic!("not a summary frame: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_summary_after_a_quiet_window_goes_out_at_once() {
        let mut c = Coalescer::default();
        assert!(matches!(c.offer(s("c1", 1), 0), Offer::SendNow(_)));
        assert!(matches!(c.offer(s("c1", 2), WINDOW_MS), Offer::SendNow(_)));
        assert!(matches!(c.offer(s("c2", 1), 10 * WINDOW_MS), Offer::SendNow(_)));
    }

    #[test]
    fn summaries_within_the_window_go_out_together_newest_per_conversation_once() {
        let mut c = Coalescer::default();
        let Offer::SendNow(first) = c.offer(s("c1", 1), 1_000) else { panic!("leading edge") };
        assert_eq!(conversations(&first), [("c1".into(), 1)]);
        assert_eq!(c.offer(s("c2", 1), 1_030), Offer::FlushAfter { ms: 70 });
        assert_eq!(c.offer(s("c1", 2), 1_040), Offer::Queued);
        assert_eq!(c.offer(s("c1", 3), 1_050), Offer::Queued);
        assert_eq!(c.offer(s("c2", 0), 1_060), Offer::Queued, "an older version is dropped");
        assert_eq!(c.queued(), 2);
        let frames = c.flush(1_100);
        assert_eq!(frames.len(), 1, "one frame");
        assert_eq!(conversations(&frames), [("c2".into(), 1), ("c1".into(), 3)]);
        // Right after a flush the window starts again: the next one waits for it.
        assert_eq!(c.offer(s("c3", 1), 1_120), Offer::FlushAfter { ms: 80 });
        let frames = c.flush(1_200);
        assert!(
            matches!(frames[..], [ServerFrame::Summary { .. }]),
            "one summary, the plain frame"
        );
        assert_eq!(c.flush(1_300), [], "nothing queued, nothing sent");
        assert!(matches!(c.offer(s("c4", 1), 1_400), Offer::SendNow(_)), "quiet again");
    }

    #[test]
    fn a_removed_conversation_is_not_sent_again_by_the_flush() {
        let mut c = Coalescer::default();
        let _ = c.offer(s("c1", 1), 0);
        assert_eq!(c.offer(s("c2", 1), 10), Offer::FlushAfter { ms: 90 });
        let _ = c.offer(s("c3", 1), 20);
        c.forget("c2");
        assert_eq!(conversations(&c.flush(100)), [("c3".into(), 1)]);
        let _ = c.offer(s("c4", 1), 150);
        c.forget("c4");
        assert_eq!(c.flush(200), []);
    }

    #[test]
    fn a_burst_over_many_conversations_is_split_into_frames_of_at_most_max_per_frame() {
        let mut c = Coalescer::default();
        let _ = c.offer(s("first", 1), 0);
        for i in 0..(2 * MAX_PER_FRAME + 1) {
            let _ = c.offer(s(&format!("c{i}"), 1), 10);
        }
        let frames = c.flush(100);
        assert_eq!(frames.len(), 3);
        assert!(matches!(frames[2], ServerFrame::Summary { .. }), "the one left over");
        let all = conversations(&frames);
        assert_eq!(all.len(), 2 * MAX_PER_FRAME + 1, "every one, once");
        assert_eq!(all[MAX_PER_FRAME].0, format!("c{MAX_PER_FRAME}"), "in order");
    }

    #[test]
    fn a_window_of_zero_sends_every_summary_at_once() {
        let mut c = Coalescer::new(0);
        for ms in [0, 0, 1, 1, 2] {
            assert!(matches!(c.offer(s("c1", ms as u64), ms), Offer::SendNow(_)));
        }
    }

    #[test]
    fn a_flush_whose_caller_never_came_back_is_sent_with_the_next_summary() {
        let mut c = Coalescer::default();
        let _ = c.offer(s("c1", 1), 0);
        assert_eq!(c.offer(s("c2", 1), 10), Offer::FlushAfter { ms: 90 });
        assert_eq!(c.offer(s("c3", 1), 150), Offer::Queued, "due at 100, not yet overdue");
        let Offer::SendNow(frame) = c.offer(s("c4", 1), 200) else { panic!("sent at once") };
        assert_eq!(conversations(&frame).len(), 3);
        assert_eq!(c.queued(), 0);
        assert_eq!(c.offer(s("c5", 1), 210), Offer::FlushAfter { ms: 90 }, "a new window");
    }

    #[test]
    fn the_frame_rate_is_bounded_whatever_the_push_rate() {
        let mut c = Coalescer::default();
        let (mut frames, mut flush_at) = (0, None);
        for ms in 0..10_000i64 {
            if flush_at == Some(ms) {
                flush_at = None;
                frames += c.flush(ms).len();
            }
            // A push every millisecond, over 50 conversations.
            match c.offer(s(&format!("c{}", ms % 50), ms as u64), ms) {
                Offer::SendNow(_) => frames += 1,
                Offer::FlushAfter { ms: wait } => flush_at = Some(ms + wait.max(1)),
                Offer::Queued => {}
            }
        }
        assert!(frames <= 10_000 / WINDOW_MS as usize + 1, "{frames} frames in 10 s");
        assert!(frames >= 10_000 / WINDOW_MS as usize - 1, "and one per window: {frames}");
    }
}
