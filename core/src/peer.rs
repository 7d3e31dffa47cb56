//! Who is on the other end of a connection: what the relay's write checks, audit and fan-out
//! judge a peer's input by. Its own module so that those checks need not know the relay.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, ParticipantId};
use crate::message::Role;

/// Who is on the other end of a connection. Kept by the Worker in the socket's attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub role: Role,
    pub participant: ParticipantId,
    pub device: DeviceId,
    /// The peer accepts [`crate::frame::FrameType::ChangesShared`] (it connected with
    /// `caps=changes`).
    #[serde(default)]
    pub fast: bool,
    /// The peer wants its changes frames acknowledged ([`crate::ack`]; it connected with
    /// `caps=acks`).
    #[serde(default)]
    pub acks: bool,
    /// The `author.name` the peer's messages and notes must carry: its token's display name
    /// ([`crate::auth::claims::Claims::display_name`]). `None` only for a connection recorded
    /// before names were (a socket attachment from an older version): not checked.
    #[serde(default)]
    pub name: Option<String>,
}
