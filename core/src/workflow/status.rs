//! The conversation's status lifecycle, kept in the shared document's `status` map so the
//! visitor sees it: `state` is `open`, `pending` (waiting on the visitor), `snoozed` (until
//! `snoozed_until`, ms since the epoch) or `resolved`. A conversation with no `state` is open.
//!
//! Agents write it (the relay audits every change); the relay writes it too: a visitor
//! message reopens a pending, snoozed or resolved conversation, a snooze wakes up, and an
//! idle conversation is resolved.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ReadDoc, ScalarValue};
use serde::{Deserialize, Serialize};

use crate::shared_doc::{DocError, SharedDoc};

pub const STATE_KEY: &str = "state";
pub const SNOOZED_UNTIL_KEY: &str = "snoozed_until";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum State {
    #[default]
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl State {
    pub const ALL: [State; 4] = [State::Open, State::Pending, State::Snoozed, State::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Pending => "pending",
            State::Snoozed => "snoozed",
            State::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the conversation waits on an agent, so response timers run.
    pub fn awaits_agent(self) -> bool {
        self == State::Open
    }
}

/// The status as read from the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    /// When a snoozed conversation wakes up; meaningful only while snoozed.
    pub snoozed_until: Option<i64>,
}

impl Status {
    pub fn read(doc: &SharedDoc) -> Self {
        let am = doc.automerge();
        let get = |key: &str| am.get(doc.status_obj(), key).ok().flatten().map(|(v, _)| v);
        let state =
            get(STATE_KEY).and_then(|v| v.as_str().and_then(State::parse)).unwrap_or_default();
        let snoozed_until = get(SNOOZED_UNTIL_KEY).and_then(|v| v.as_i64());
        Self { state, snoozed_until }
    }

    /// Writes `self` as one change. `snoozed_until` is written only when set; a stale value
    /// left from an earlier snooze is harmless because it is read only while snoozed.
    pub fn write(&self, doc: &mut SharedDoc, now_ms: i64) -> Result<(), DocError> {
        let obj = doc.status_obj().clone();
        let mut tx = doc.automerge_mut().transaction();
        tx.put(&obj, STATE_KEY, self.state.as_str())?;
        if let Some(until) = self.snoozed_until {
            tx.put(&obj, SNOOZED_UNTIL_KEY, until)?;
        }
        tx.commit_with(CommitOptions::default().with_time(now_ms));
        Ok(())
    }
}

/// Checks one `status` field a peer wrote; the error says what is expected.
pub fn check_field(key: &str, value: &ScalarValue) -> Result<(), String> {
    match key {
        STATE_KEY => match value {
            ScalarValue::Str(s) if State::parse(s).is_some() => Ok(()),
            _ => Err(format!(
                "status.state must be one of open, pending, snoozed, resolved (got {value})"
            )),
        },
        SNOOZED_UNTIL_KEY => match value {
            ScalarValue::Int(ms) if *ms > 0 => Ok(()),
            ScalarValue::Uint(ms) if *ms > 0 && *ms <= i64::MAX as u64 => Ok(()),
            _ => Err("status.snoozed_until must be a positive integer (ms since the epoch)".into()),
        },
        other => Err(format!("status has no field {other:?}; it holds state and snoozed_until")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ActorId;

    #[test]
    fn a_conversation_without_state_is_open() {
        let doc = SharedDoc::new(ActorId::random()).unwrap();
        assert_eq!(Status::read(&doc), Status { state: State::Open, snoozed_until: None });
    }

    #[test]
    fn written_status_reads_back() {
        let mut doc = SharedDoc::new(ActorId::random()).unwrap();
        let snoozed = Status { state: State::Snoozed, snoozed_until: Some(5_000) };
        snoozed.write(&mut doc, 1).unwrap();
        assert_eq!(Status::read(&doc), snoozed);
        Status { state: State::Resolved, snoozed_until: None }.write(&mut doc, 2).unwrap();
        assert_eq!(Status::read(&doc).state, State::Resolved);
    }

    #[test]
    fn status_fields_are_checked() {
        assert!(check_field("state", &ScalarValue::Str("pending".into())).is_ok());
        assert!(check_field("state", &ScalarValue::Str("closed".into())).is_err());
        assert!(check_field("snoozed_until", &ScalarValue::Int(10)).is_ok());
        assert!(check_field("snoozed_until", &ScalarValue::Str("soon".into())).is_err());
        assert!(check_field("colour", &ScalarValue::Int(1)).is_err());
    }
}
