//! Acceptance 5: workerd SIGKILLed during a stream of acknowledged messages loses none of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgedesk_client::SdkEvent;
use edgedesk_core::client::Event;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_a_workerd_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("crash");
    let sender =
        client(&relay, &conv, identity(Role::Visitor, "v1", "streamer"), &tmp.path().join("s"))
            .await;

    let acked = Arc::new(Mutex::new(HashSet::new()));
    let mut events = sender.events();
    let seen = acked.clone();
    tokio::spawn(async move {
        while let Ok(ev) = events.recv().await {
            if let SdkEvent::Core(Event::Delivered { id, .. }) = ev {
                seen.lock().unwrap().insert(id);
            }
        }
    });
    // Stream until a good number is acknowledged, then kill the relay mid-stream.
    let mut sent = 0;
    while acked.lock().unwrap().len() < 40 {
        sender.send_text(&format!("stream {sent}")).await.unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(sent < 5000, "no acknowledgements arrived");
    }
    relay.kill();
    // The sender stays away until the check below: its replica holds every message and would
    // hand the restarted relay whatever the crash lost, hiding the loss.
    sender.set_online(false);
    let acked_at_kill: HashSet<_> = acked.lock().unwrap().clone();
    for i in 0..5 {
        sender.send_text(&format!("while down {i}")).await.unwrap();
    }
    relay.restart();

    // A device that never saw the stream reads back what the restarted relay holds on its own.
    let reader =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "reader"), &tmp.path().join("r"))
            .await;
    let held = relay.stats(conv.as_str())["messages"].as_u64().unwrap_or(0) as usize;
    converge(&relay, &conv, &[&reader], held).await;
    let stored: HashSet<_> = reader.messages().into_iter().map(|m| m.id).collect();
    let lost: Vec<_> = acked_at_kill.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(held < sent + 5, "the relay cannot hold what was written while it was down");

    // Back online, the sender delivers the rest; everyone ends with everything.
    sender.set_online(true);
    converge(&relay, &conv, &[&sender, &reader], sent + 5).await;
    assert_identical(&[&sender, &reader]);
}
