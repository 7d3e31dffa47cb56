//! Acceptance 6: read marks from two devices of one agent merge to the maximum.

use std::time::Duration;

use edgedesk_core::ids::ParticipantId;
use edgedesk_core::message::Role;
use edgedesk_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_marks_of_one_agents_two_devices_merge_to_the_maximum_and_never_go_back() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("state"));
    let conv = conversation("marks");
    let visitor =
        client(&relay, &conv, identity(Role::Visitor, "v1", "v-phone"), &tmp.path().join("v"))
            .await;
    let phone =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "a-phone"), &tmp.path().join("p"))
            .await;
    let desk =
        client(&relay, &conv, identity(Role::Agent, "agent-1", "a-desk"), &tmp.path().join("d"))
            .await;
    let agent = ParticipantId::new("agent-1").unwrap();
    for i in 0..10 {
        visitor.send_text(&format!("question {i}")).await.unwrap();
    }
    let all = [&visitor, &phone, &desk];
    converge(&relay, &conv, &all, 10).await;
    let ids: Vec<_> = visitor.messages().into_iter().map(|m| m.id).collect();

    // Both devices read offline: the phone further than the desk.
    phone.set_online(false);
    desk.set_online(false);
    assert!(phone.mark_read(&ids[7]).await.unwrap());
    assert!(desk.mark_read(&ids[3]).await.unwrap());
    desk.set_online(true);
    desk.wait_until(Duration::from_secs(30), |v| v.in_sync()).await.unwrap();
    phone.set_online(true);
    converge(&relay, &conv, &all, 10).await;
    for c in all {
        assert_eq!(c.read_mark(&agent), Some(ids[7].clone()), "{:?}", c.identity().device);
    }

    // The desk reads on, but not past the phone: the effective mark stays at the maximum.
    assert!(desk.mark_read(&ids[5]).await.unwrap());
    // A device never moves its own mark back.
    assert!(!desk.mark_read(&ids[4]).await.unwrap());
    converge(&relay, &conv, &all, 10).await;
    for c in all {
        assert_eq!(c.read_mark(&agent), Some(ids[7].clone()));
    }
    assert!(phone.mark_read(&ids[9]).await.unwrap());
    converge(&relay, &conv, &all, 10).await;
    for c in all {
        assert_eq!(c.read_mark(&agent), Some(ids[9].clone()));
    }
}
