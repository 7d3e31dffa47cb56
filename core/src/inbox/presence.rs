//! Whether an agent is reachable: each of its devices says online or away while its inbox
//! socket is open, and the agent is as present as its most present device. Reading on the
//! phone while the desktop sits idle is being online.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// An agent's (or one device's) presence. Ordered by how reachable it is: `Online` is the
/// greatest, so the best of several is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Presence::Offline => 0,
            Presence::Away => 1,
            Presence::Online => 2,
        }
    }
}

impl Ord for Presence {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Presence {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent's presence from its devices' (one per open socket): the best of them, `Offline`
/// when it has none.
pub fn presence_of(devices: impl Iterator<Item = Presence>) -> Presence {
    devices.max().unwrap_or(Presence::Offline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Presence::*;

    #[test]
    fn an_agent_is_as_present_as_its_most_present_device() {
        assert_eq!(presence_of([Away, Online, Away].into_iter()), Online);
        assert_eq!(presence_of([Away, Away].into_iter()), Away);
        assert_eq!(presence_of([Offline, Away].into_iter()), Away);
        assert_eq!(presence_of([Online].into_iter()), Online);
    }

    #[test]
    fn an_agent_without_devices_is_offline() {
        assert_eq!(presence_of(std::iter::empty()), Offline);
    }

    #[test]
    fn online_ranks_above_away_above_offline() {
        assert!(Online > Away && Away > Offline);
        let mut all = vec![Online, Offline, Away];
        all.sort();
        assert_eq!(all, [Offline, Away, Online]);
    }

    #[test]
    fn presence_is_a_lowercase_word_on_the_wire() {
        for p in [Online, Away, Offline] {
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        assert!(serde_json::from_str::<Presence>("\"busy\"").is_err());
    }
}
