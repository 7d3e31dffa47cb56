//! What the visitor's widget says about when the team will answer: "we usually reply in a few
//! minutes" only while the workspace is within business hours and an agent is online;
//! "we'll reply tomorrow from 9:00" outside them (PROTOCOL.md §2.8).

use serde::{Deserialize, Serialize};

use super::config::WorkspaceConfig;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// Within business hours (always, for a workspace without them).
    pub open: bool,
    /// At least one of the workspace's agents has the console open and is not away.
    pub agents_online: bool,
    /// While closed: when business hours next begin (ms since the epoch); `None` while open,
    /// or when they never do.
    pub next_open: Option<i64>,
}

impl Availability {
    pub fn at(config: &WorkspaceConfig, agents_online: bool, now: i64) -> Availability {
        let open = config.is_business_hours(now);
        let next_open =
            if open { None } else { config.business_hours.as_ref().and_then(|h| h.next_open(now)) };
        Availability { open, agents_online, next_open }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY_10_SHANGHAI: i64 = 1_790_560_800_000; // 2026-09-28T02:00Z
    const HOUR: i64 = 3_600_000;

    fn weekdays() -> WorkspaceConfig {
        WorkspaceConfig::parse(
            r#"{"business_hours": {"time_zone": "Asia/Shanghai", "weekly": {
                "mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]]}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn open_hours_with_an_agent_online_promise_a_quick_reply_and_closed_ones_name_the_next_opening()
    {
        let open = Availability::at(&weekdays(), true, MONDAY_10_SHANGHAI);
        assert_eq!(open, Availability { open: true, agents_online: true, next_open: None });
        // Monday 19:00 local: Tuesday 09:00 local, 14 hours later.
        let evening = MONDAY_10_SHANGHAI + 9 * HOUR;
        let closed = Availability::at(&weekdays(), false, evening);
        assert_eq!(closed.next_open, Some(evening + 14 * HOUR));
        assert!(!closed.open);
    }

    #[test]
    fn a_workspace_without_business_hours_is_always_open() {
        let a = Availability::at(&WorkspaceConfig::default(), false, MONDAY_10_SHANGHAI);
        assert_eq!(a, Availability { open: true, agents_online: false, next_open: None });
    }
}
