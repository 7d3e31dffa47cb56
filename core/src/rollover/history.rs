//! Paging through sealed segments, newest first (PROTOCOL.md §16.3).
//!
//! A position in the history is a [`Cursor`], `epoch.index`: message `index` of segment
//! `epoch`. A page holds the messages just before a cursor, oldest first, crossing into older
//! segments until it is full, and names the cursor of its first message for the next page.
//! Segments are immutable, so a cursor stays valid for as long as its segment exists.

use std::fmt;
use std::str::FromStr;

use automerge::Automerge;
use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::shared_doc::{DocError, SharedDoc};

/// Most messages one page returns.
pub const MAX_PAGE: usize = 500;

/// A message of a sealed segment with its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archived {
    #[serde(flatten)]
    pub message: Message,
    /// The relay's receipt time (ms), as in the sealed document's `delivered` map.
    pub delivered: Option<i64>,
    /// The segment it is in.
    pub epoch: u64,
}

/// A position in the history: before message `index` of segment `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub epoch: u64,
    pub index: usize,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.epoch, self.index)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a history cursor: expected EPOCH.INDEX, e.g. 3.120, as a page's `before`")]
pub struct BadCursor(pub String);

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, BadCursor> {
        let bad = || BadCursor(s.chars().take(40).collect());
        let (e, i) = s.split_once('.').ok_or_else(bad)?;
        Ok(Cursor { epoch: e.parse().map_err(|_| bad())?, index: i.parse().map_err(|_| bad())? })
    }
}

/// One page of history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The live document's epoch now (a device whose replica is older moves over, §16.2).
    pub epoch: u64,
    /// Oldest first.
    pub messages: Vec<Archived>,
    /// The cursor for the page before this one; `None` at the beginning (of the conversation,
    /// or of the one segment asked for).
    pub before: Option<String>,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError<E: std::error::Error + 'static> {
    #[error("segment {epoch} does not exist: the conversation's live epoch is {live}")]
    NoSuchSegment { epoch: u64, live: u64 },
    #[error(transparent)]
    Load(E),
}

/// The page of at most `limit` messages before `before` (the end of the newest segment when
/// `None`), within segment `only` if given. `load(epoch)` returns a segment's messages in
/// order; it is called once per segment the page touches, newest first.
pub fn page<E: std::error::Error + 'static>(
    live_epoch: u64,
    before: Option<Cursor>,
    only: Option<u64>,
    limit: usize,
    mut load: impl FnMut(u64) -> Result<Vec<Archived>, E>,
) -> Result<Page, HistoryError<E>> {
    let limit = limit.clamp(1, MAX_PAGE);
    let start = match (before, only) {
        (Some(c), _) => c,
        (None, Some(epoch)) => Cursor { epoch, index: usize::MAX },
        (None, None) if live_epoch == 0 => {
            return Ok(Page { epoch: live_epoch, messages: Vec::new(), before: None })
        }
        (None, None) => Cursor { epoch: live_epoch - 1, index: usize::MAX },
    };
    if start.epoch >= live_epoch {
        return Err(HistoryError::NoSuchSegment { epoch: start.epoch, live: live_epoch });
    }
    let floor = only.unwrap_or(0);
    let mut taken: Vec<Archived> = Vec::new();
    let mut at = start;
    let mut next = None;
    loop {
        if at.epoch < floor || (only.is_some() && Some(at.epoch) != only) {
            break;
        }
        let segment = load(at.epoch).map_err(HistoryError::Load)?;
        let end = at.index.min(segment.len());
        let want = limit - taken.len();
        let from = end.saturating_sub(want);
        let mut part: Vec<Archived> = segment.into_iter().take(end).skip(from).collect();
        part.append(&mut taken);
        taken = part;
        if taken.len() >= limit {
            if from > 0 || at.epoch > floor {
                next = Some(Cursor { epoch: at.epoch, index: from });
            }
            break;
        }
        if at.epoch == 0 || at.epoch == floor {
            break;
        }
        at = Cursor { epoch: at.epoch - 1, index: usize::MAX };
    }
    // A cursor at index 0 of a segment means "before this segment": fine for the next call.
    Ok(Page { epoch: live_epoch, messages: taken, before: next.map(|c| c.to_string()) })
}

/// The messages of a sealed document, in order, with their receipts.
pub fn read_segment(epoch: u64, snapshot: &[u8]) -> Result<Vec<Archived>, DocError> {
    let am = Automerge::load(snapshot).map_err(DocError::from)?;
    let doc = SharedDoc::from_automerge(am)?;
    let delivered = doc.delivered_times();
    Ok(doc
        .messages()
        .into_iter()
        .map(|m| {
            let at = delivered.get(m.id.as_str()).copied();
            Archived { message: m, delivered: at, epoch }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::shared_doc::tests::msg;

    fn segments(sizes: &[usize]) -> Vec<Vec<Archived>> {
        sizes
            .iter()
            .enumerate()
            .map(|(e, &n)| {
                (0..n)
                    .map(|i| Archived {
                        message: msg(&format!("e{e}m{i}"), "v", &format!("{e}/{i}")),
                        delivered: Some(1),
                        epoch: e as u64,
                    })
                    .collect()
            })
            .collect()
    }

    fn all_pages(segs: &[Vec<Archived>], only: Option<u64>, limit: usize) -> Vec<String> {
        let live = segs.len() as u64;
        let mut before = None;
        let mut out: Vec<String> = Vec::new();
        loop {
            let p =
                page(live, before, only, limit, |e| Ok::<_, Infallible>(segs[e as usize].clone()))
                    .unwrap();
            assert!(p.messages.len() <= limit);
            let mut ids: Vec<String> =
                p.messages.iter().map(|m| m.message.id.to_string()).collect();
            ids.append(&mut out);
            out = ids;
            match p.before {
                Some(c) => before = Some(c.parse().unwrap()),
                None => return out,
            }
        }
    }

    #[test]
    fn paging_back_returns_every_archived_message_once_in_order_across_segments() {
        let segs = segments(&[7, 0, 5, 12]);
        let expected: Vec<String> =
            segs.iter().flatten().map(|m| m.message.id.to_string()).collect();
        for limit in [1, 3, 5, 24, 100] {
            assert_eq!(all_pages(&segs, None, limit), expected, "limit {limit}");
        }
    }

    #[test]
    fn one_segment_can_be_read_alone() {
        let segs = segments(&[7, 5, 12]);
        let expected: Vec<String> = segs[1].iter().map(|m| m.message.id.to_string()).collect();
        assert_eq!(all_pages(&segs, Some(1), 2), expected);
    }

    #[test]
    fn a_live_epoch_is_not_history_and_a_bad_cursor_says_what_is_expected() {
        let segs = segments(&[3]);
        let err = page(1, Some(Cursor { epoch: 1, index: 0 }), None, 10, |e| {
            Ok::<_, Infallible>(segs[e as usize].clone())
        });
        assert!(matches!(err, Err(HistoryError::NoSuchSegment { epoch: 1, live: 1 })));
        let empty = page(0, None, None, 10, |_| Ok::<_, Infallible>(Vec::new())).unwrap();
        assert_eq!((empty.messages.len(), empty.before), (0, None));
        assert!("3".parse::<Cursor>().unwrap_err().to_string().contains("EPOCH.INDEX"));
    }
}
