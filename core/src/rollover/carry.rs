//! What a new epoch's live document inherits: the conversation's state, not its history.
//!
//! Status, profile (name, rating, …) and read marks are copied by the relay's actor into one
//! change after the schema change, so every device that syncs the new epoch gets them. Read
//! marks naming sealed messages are kept: readers ignore ids not in their list (§8.4), and a
//! device's mark moves forward from there as before. Receipts stay with their messages in the
//! sealed segment.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ReadDoc, Value};

use crate::shared_doc::{DocError, SharedDoc};

/// Copies `from`'s status, profile and read marks into `into` (a fresh document), as one
/// change at `now_ms`. Only scalar values exist under these maps (§8); anything else is
/// skipped.
pub fn copy_state(from: &SharedDoc, into: &mut SharedDoc, now_ms: i64) -> Result<(), DocError> {
    let maps = [
        (from.status_obj().clone(), into.status_obj().clone()),
        (from.profile_obj().clone(), into.profile_obj().clone()),
        (from.read_obj().clone(), into.read_obj().clone()),
    ];
    let mut values = Vec::new();
    for (src, dst) in &maps {
        for key in from.automerge().keys(src) {
            if let Ok(Some((Value::Scalar(s), _))) = from.automerge().get(src, key.as_str()) {
                values.push((dst.clone(), key, s.into_owned()));
            }
        }
    }
    if values.is_empty() {
        return Ok(());
    }
    let mut tx = into.automerge_mut().transaction();
    for (obj, key, value) in values {
        tx.put(&obj, key, value)?;
    }
    tx.commit_with(CommitOptions::default().with_time(now_ms));
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::ids::{DeviceId, ParticipantId};
    use crate::shared_doc::tests::msg;
    use crate::workflow::csat::Rating;
    use crate::workflow::status::{State, Status};

    #[test]
    fn status_profile_rating_and_read_marks_carry_over_but_no_message_or_receipt() {
        let mut old = SharedDoc::new(ActorId::random()).unwrap();
        let m = msg("m1", "v", "你好");
        old.append(&m, 1).unwrap();
        old.stamp_delivered(std::slice::from_ref(&m.id), 2).unwrap();
        let reader = ParticipantId::new("alice").unwrap();
        old.mark_read(&reader, &DeviceId::new("laptop").unwrap(), &m.id, 3).unwrap();
        Status { state: State::Pending, snoozed_until: None }.write(&mut old, 4).unwrap();
        Rating::new(5, Some("很好")).unwrap().write(&mut old, 5).unwrap();

        let mut new = SharedDoc::new(ActorId::random()).unwrap();
        copy_state(&old, &mut new, 10).unwrap();
        assert_eq!(Status::read(&new).state, State::Pending);
        assert_eq!(Rating::read(&new).map(|r| r.score), Some(5));
        assert_eq!(new.read_marks(), old.read_marks());
        assert_eq!(new.message_count(), 0);
        assert!(new.delivered_times().is_empty());
    }
}
