//! A device as its own process, so tests can SIGKILL a real client mid-flight.
//!
//! `edgedesk-device URL TOKEN CONVERSATION DIR COUNT [offline]` sends COUNT messages as the
//! visitor `killed-visitor` (TOKEN must be that visitor's, for CONVERSATION), printing
//! `SENT <id>` once each is durable in the local replica (and `ACKED <id>` when the relay's
//! receipt arrives), then `DONE`, then waits to be killed.

use std::io::Write;
use std::time::Duration;

use edgedesk_client::SdkEvent;
use edgedesk_core::client::Event;
use edgedesk_core::ids::ConversationId;
use edgedesk_core::message::Role;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: edgedesk-device URL TOKEN CONVERSATION DIR COUNT [offline]");
        std::process::exit(2);
    }
    let conv = ConversationId::new(args[3].clone()).expect("conversation id");
    let count: usize = args[5].parse().expect("count");
    let who = edgedesk_e2e::identity(Role::Visitor, "killed-visitor", "killed-device");
    let online = args.get(6).map(String::as_str) != Some("offline");
    let dir = std::path::Path::new(&args[4]);
    let client = edgedesk_e2e::client_with(&args[1], &args[2], &conv, who, dir, online).await;
    let mut events = client.events();
    tokio::spawn(async move {
        while let Ok(ev) = events.recv().await {
            if let SdkEvent::Core(Event::Delivered { id, .. }) = ev {
                println!("ACKED {id}");
            }
        }
    });
    for i in 0..count {
        let m = client.send_text(&format!("from a doomed process {i}")).await.expect("send");
        println!("SENT {}", m.id);
        let _ = std::io::stdout().flush();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("DONE");
    let _ = std::io::stdout().flush();
    tokio::time::sleep(Duration::from_secs(3600)).await;
}
