//! The visitor's satisfaction rating (CSAT) at the end of a conversation.
//!
//! It lives in the shared document's `profile` map, which visitors may already write (short
//! scalars, PROTOCOL.md §8.6), so a rating given offline syncs like a message and every agent
//! replica sees it. The score is an integer so analytics can average it without parsing.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::ReadDoc;
use serde::{Deserialize, Serialize};

use crate::shared_doc::{DocError, SharedDoc};

pub const SCORE_KEY: &str = "csat_score";
pub const COMMENT_KEY: &str = "csat_comment";
/// The profile map's value bound (PROTOCOL.md §8.6, `field-bounds`).
pub const MAX_COMMENT_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// 1 (very unhappy) to 5 (very happy).
    pub score: u8,
    pub comment: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RatingError {
    #[error("a rating's score is 1 to 5 (got {0})")]
    Score(i64),
    #[error("a rating's comment is at most {MAX_COMMENT_BYTES} bytes (got {0})")]
    CommentTooLong(usize),
}

impl Rating {
    pub fn new(score: i64, comment: Option<&str>) -> Result<Self, RatingError> {
        let score = u8::try_from(score)
            .ok()
            .filter(|s| (1..=5).contains(s))
            .ok_or(RatingError::Score(score))?;
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if let Some(c) = comment.filter(|c| c.len() > MAX_COMMENT_BYTES) {
            return Err(RatingError::CommentTooLong(c.len()));
        }
        Ok(Self { score, comment: comment.map(str::to_owned) })
    }

    /// The rating in the document, if one was given (a later rating replaces an earlier one).
    pub fn read(doc: &SharedDoc) -> Option<Self> {
        let am = doc.automerge();
        let get = |key: &str| am.get(doc.profile_obj(), key).ok().flatten().map(|(v, _)| v);
        let score = get(SCORE_KEY)?.as_i64()?;
        let comment = get(COMMENT_KEY).and_then(|v| v.as_str().map(str::to_owned));
        Rating::new(score, comment.as_deref()).ok()
    }

    /// Writes the rating as one change; a rating without a comment clears an earlier comment.
    pub fn write(&self, doc: &mut SharedDoc, now_ms: i64) -> Result<(), DocError> {
        let obj = doc.profile_obj().clone();
        let had_comment = doc.automerge().get(&obj, COMMENT_KEY).ok().flatten().is_some();
        let mut tx = doc.automerge_mut().transaction();
        tx.put(&obj, SCORE_KEY, i64::from(self.score))?;
        match &self.comment {
            Some(c) => tx.put(&obj, COMMENT_KEY, c.as_str())?,
            None if had_comment => tx.delete(&obj, COMMENT_KEY)?,
            None => {}
        }
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ActorId;

    #[test]
    fn a_rating_reads_back_and_a_later_one_replaces_it() {
        let mut doc = SharedDoc::new(ActorId::random()).unwrap();
        assert_eq!(Rating::read(&doc), None);
        Rating::new(2, None).unwrap().write(&mut doc, 1).unwrap();
        assert_eq!(Rating::read(&doc), Some(Rating { score: 2, comment: None }));
        Rating::new(4, Some(" 很好 ")).unwrap().write(&mut doc, 1).unwrap();
        assert_eq!(Rating::read(&doc), Some(Rating { score: 4, comment: Some("很好".into()) }));
        Rating::new(5, None).unwrap().write(&mut doc, 2).unwrap();
        assert_eq!(Rating::read(&doc), Some(Rating { score: 5, comment: None }));
    }

    #[test]
    fn scores_outside_one_to_five_and_long_comments_are_refused() {
        assert_eq!(Rating::new(0, None), Err(RatingError::Score(0)));
        assert_eq!(Rating::new(6, None), Err(RatingError::Score(6)));
        assert_eq!(Rating::new(-1, None), Err(RatingError::Score(-1)));
        let long = "x".repeat(MAX_COMMENT_BYTES + 1);
        assert_eq!(Rating::new(3, Some(&long)), Err(RatingError::CommentTooLong(1025)));
        assert_eq!(Rating::new(3, Some("  ")).unwrap().comment, None);
    }
}
