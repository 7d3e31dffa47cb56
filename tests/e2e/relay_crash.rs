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
    let acked_at_kill: HashSet<_> = acked.lock().unwrap().clone();
    for i in 0..5 {
        sender.send_text(&format!("while down {i}")).await.unwrap();
    }
    relay.restart();

    // A device that never saw the stream reads it back from the restarted relay.
    let reader =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "reader"), &tmp.path().join("r"))
            .await;
    converge(&relay, &conv, &[&sender, &reader], sent + 5).await;
    let stored: HashSet<_> = reader.messages().into_iter().map(|m| m.id).collect();
    let lost: Vec<_> = acked_at_kill.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(acked_at_kill.len() >= 40);
    assert_identical(&[&sender, &reader]);
}
