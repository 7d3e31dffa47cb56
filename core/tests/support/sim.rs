//! Devices and a relay wired together in memory: the same state machines the Worker and the
//! SDK drive, with the network made explicit. Frames move until the network is quiet.

use edgedesk_core::client::{ClientSession, Event};
use edgedesk_core::message::Role;
use edgedesk_core::relay::{Outgoing, PeerId, PeerInfo, Relay};
use edgedesk_core::store::MemStore;

use super::identity;

/// The relay's clock in these simulations (ms).
pub const NOW: i64 = 1_000;

pub struct Device {
    pub peer: PeerId,
    pub session: ClientSession<MemStore>,
    /// Offline devices neither send nor receive; [`go_online`] connects one.
    pub online: bool,
    pub events: Vec<Event>,
    /// Every frame the relay sent this device, byte for byte.
    pub received: Vec<Vec<u8>>,
}

/// A device with the shared document only (how a visitor's SDK opens it).
pub fn device(peer: PeerId, role: Role, who: &str, dev: &str) -> Device {
    let session = ClientSession::open(MemStore::default(), identity(role, who, dev)).unwrap();
    Device { peer, session, online: false, events: Vec::new(), received: Vec::new() }
}

/// A device that also keeps the internal document (how an agent's SDK opens it).
pub fn device_with_internal(peer: PeerId, role: Role, who: &str, dev: &str) -> Device {
    let me = identity(role, who, dev);
    let session =
        ClientSession::open_with_internal(MemStore::default(), MemStore::default(), me).unwrap();
    Device { peer, session, online: false, events: Vec::new(), received: Vec::new() }
}

/// The connection's identity as the relay holds it; odd peers take the changes fast path.
pub fn info(d: &Device) -> PeerInfo {
    let me = d.session.identity();
    PeerInfo {
        role: me.role,
        participant: me.participant.clone(),
        device: me.device.clone(),
        fast: d.peer % 2 == 1,
        acks: true, // the SDK always asks for acks
        name: Some(me.name.clone()),
    }
}

/// Delivers `queue` and whatever online devices have to say until the network is quiet;
/// returns the number of frames moved.
pub fn pump(
    relay: &mut Relay<MemStore>,
    devices: &mut [Device],
    mut queue: Vec<Outgoing>,
) -> usize {
    let mut moved = 0;
    for d in devices.iter_mut().filter(|d| d.online) {
        for f in d.session.poll_frames() {
            queue.extend(relay.receive(d.peer, &f, NOW).unwrap().frames);
            moved += 1;
        }
    }
    while !queue.is_empty() {
        for out in std::mem::take(&mut queue) {
            let Some(d) = devices.iter_mut().find(|d| d.peer == out.to && d.online) else {
                continue;
            };
            for f in out.frames {
                moved += 1;
                d.received.push(f.clone());
                d.events.extend(d.session.handle_frame(&f).unwrap());
            }
            for f in d.session.poll_frames() {
                moved += 1;
                queue.extend(relay.receive(d.peer, &f, NOW).unwrap().frames);
            }
        }
        assert!(moved < 100_000, "network did not settle");
    }
    moved
}

/// Connects device `i` and runs the network until it is quiet.
pub fn go_online(relay: &mut Relay<MemStore>, devices: &mut [Device], i: usize) {
    let inf = info(&devices[i]);
    devices[i].online = true;
    let mut queue = relay.connect(devices[i].peer, inf).frames;
    for f in devices[i].session.connected() {
        queue.extend(relay.receive(devices[i].peer, &f, NOW).unwrap().frames);
    }
    pump(relay, devices, queue);
}
