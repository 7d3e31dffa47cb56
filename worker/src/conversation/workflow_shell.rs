//! The conversation Durable Object's side of the support workflow: it keeps the relay's
//! workspace configuration current, stores the visitor's claims, writes the relay's timers
//! and webhook events into SQLite in the same transaction as the change behind them, and
//! runs the single alarm those timers and the outbox's retries are multiplexed onto.
//!
//! All the rules live in `edgedesk_core::workflow`; this module only moves their inputs and
//! outputs. The alarm is at-least-once (a crash mid-alarm re-delivers it): a fired timer
//! leaves the relay's timer set in the write that carries its effects, and the outbox stores
//! each (event, endpoint) once, so running an alarm twice sends nothing twice.

use std::sync::Arc;

use edgedesk_core::relay::{Output, WorkflowSetup};
use edgedesk_core::workflow::config::WorkspaceConfig;
use edgedesk_core::workflow::profile::VisitorProfile;
use serde::{Deserialize, Serialize};

use super::{log_open_error, Conversation, Live};
use crate::workflow_store::{CONFIG_RECORD, VISITOR_RECORD};
use crate::workspace::client::fetch_config;

/// The stored configuration record: what the workspace's Durable Object last answered.
#[derive(Serialize, Deserialize)]
struct ConfigRecord {
    version: u64,
    config: serde_json::Value,
}

/// Sets the relay's workflow up from the stored records, when the conversation opens.
pub(crate) fn restore(live: &mut Live) {
    live.visitor = stored_visitor(live);
    let record = live.workflow.record(&live.cipher, CONFIG_RECORD).ok().flatten();
    let Some(record) = record.and_then(|b| serde_json::from_slice::<ConfigRecord>(&b).ok()) else {
        return;
    };
    let Ok(config) = WorkspaceConfig::parse(&record.config.to_string()) else {
        worker::console_error!(
            "stored workspace configuration no longer parses; waiting for a fresh one"
        );
        return;
    };
    let visitor = live.visitor.clone();
    configure(live, Arc::new(config), record.version, visitor);
    // What the table holds, as long as nothing changed while the object slept.
    live.timers = live.relay.timers();
}

fn configure(live: &mut Live, config: Arc<WorkspaceConfig>, version: u64, visitor: VisitorProfile) {
    let name = live.cipher.conversation().to_owned();
    let (workspace, conversation) = name.split_once('/').unwrap_or(("", name.as_str()));
    live.relay.configure(Some(WorkflowSetup {
        config,
        version,
        visitor,
        workspace: workspace.to_owned(),
        conversation: conversation.to_owned(),
    }));
}

/// A visitor connected: keep its claims (the newest token wins) and welcome it.
pub(crate) fn visitor_joined(live: &mut Live, profile: VisitorProfile, now: i64) -> Output {
    // Kept even while the workspace has no configuration, for when it gets one.
    if live.visitor != profile {
        let stored = serde_json::to_vec(&profile).map_err(|e| e.to_string()).and_then(|b| {
            live.workflow.put_record(&live.cipher, VISITOR_RECORD, &b).map_err(|e| e.to_string())
        });
        match stored {
            Ok(()) => live.visitor = profile.clone(),
            Err(e) => worker::console_error!("could not store the visitor's claims: {e}"),
        }
    }
    let Some(setup) = live.relay.workflow().cloned() else { return Output::default() };
    if setup.visitor != profile {
        configure(live, setup.config, setup.version, profile);
    }
    live.relay.visitor_joined(now).unwrap_or_else(|e| {
        worker::console_error!("welcome message not written: {e}");
        Output::default()
    })
}

/// The last visitor's claims, as stored (empty if none or unreadable).
fn stored_visitor(live: &Live) -> VisitorProfile {
    live.workflow
        .record(&live.cipher, VISITOR_RECORD)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<VisitorProfile>(&b).ok())
        .unwrap_or_default()
}

/// The workflow's part of the stats endpoint: no contents, only counts and times.
pub(crate) fn stats(live: &Live) -> serde_json::Value {
    let outbox = live.outbox.counts().ok();
    serde_json::json!({
        "config_version": live.relay.workflow().map(|w| w.version),
        "timers": live.workflow.timers().unwrap_or_default().into_iter()
            .map(|(key, due)| serde_json::json!({ "key": key, "due": due }))
            .collect::<Vec<_>>(),
        "alarm_runs": live.workflow.counter("alarm_runs").ok().flatten().unwrap_or(0),
        "outbox": outbox,
        "inbox": live.feed.counts().ok().map(|(version, acked, queued)| {
            serde_json::json!({ "version": version, "acked": acked, "queued_messages": queued })
        }),
    })
}

impl Conversation {
    /// Fetches the workspace's configuration if it changed (best effort: on failure the
    /// conversation keeps the one it has) and stores it for after a wake-up.
    pub(crate) async fn refresh_config(&self, name: &str) {
        let known = self.with_live(Some(name), |l| l.relay.workflow().map(|w| w.version));
        let known = known.ok().flatten();
        let workspace = name.split_once('/').map_or(name, |(ws, _)| ws);
        let fetched = match fetch_config(&self.env, workspace, known).await {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) => {
                worker::console_error!("workspace configuration not refreshed: {e}");
                return;
            }
        };
        // Version 0, a workspace never configured, runs the defaults like any other version
        // (reopen on a visitor message, the default tags, no auto-reply): issue 16.
        let (version, config) = fetched;
        let _ = self.with_live(Some(name), |live| {
            let record = ConfigRecord { version, config: config.to_json(false) };
            if let Ok(bytes) = serde_json::to_vec(&record) {
                if let Err(e) = live.workflow.put_record(&live.cipher, CONFIG_RECORD, &bytes) {
                    worker::console_error!("could not store the configuration: {e}");
                }
            }
            let visitor = live.visitor.clone();
            configure(live, Arc::new(config), version, visitor);
        });
    }

    /// Sets the alarm to `next` (ms), if any. Setting it replaces an earlier one; an alarm
    /// that finds nothing due only re-arms itself.
    pub(crate) async fn arm(&self, next: Option<i64>) {
        let Some(at) = next else { return };
        // An alarm already set to ring no later than `at` is kept: it rings early, finds
        // nothing due and re-arms. Moving it later on every message (the inbox push's retry
        // time moves with each one) cost a storage write per message.
        if self.armed.get().is_some_and(|armed| armed <= at) {
            return;
        }
        self.armed.set(Some(at));
        let when = worker::js_sys::Date::new(&worker::wasm_bindgen::JsValue::from_f64(at as f64));
        if let Err(e) = self.state.storage().set_alarm(worker::ScheduledTime::new(when)).await {
            worker::console_error!("could not set the alarm: {e}");
        }
    }

    /// The alarm: fires due timers, then sends due webhooks, then re-arms. Never fails: a
    /// failing webhook is retried by the outbox's own schedule, and an error returned to
    /// workerd would only spend its few retries before the alarm is dropped.
    pub(crate) async fn run_alarm(&self) {
        let now = worker::Date::now().as_millis() as i64;
        self.armed.set(None);
        let name = match self.with_live(None, |l| l.cipher.conversation().to_owned()) {
            Ok(n) => n,
            Err(e) => {
                log_open_error(&e);
                return;
            }
        };
        self.refresh_config(&name).await;
        let fired = self.with_live(Some(&name), |live| {
            let _ = live.workflow.bump("alarm_runs");
            let out = live.relay.fire_due(now);
            let out = out.unwrap_or_else(|e| {
                worker::console_error!("due timers not run: {e}");
                Output::default()
            });
            let rolled = out.sealed.as_ref().map(|s| s.carry.epoch);
            let (out, _) = super::commit::commit(live, out, now);
            // The outbox's own due time is asked again after delivering, below.
            let next = live.timers.first().map(|t| t.due_ms);
            let endpoints =
                live.relay.workflow().map(|w| w.config.webhooks.clone()).unwrap_or_default();
            (out, next, endpoints, live.outbox.clone(), live.cipher.clone(), rolled)
        });
        let Ok((out, next, endpoints, outbox, cipher, rolled)) = fired else { return };
        // Every due timer has just fired; one still due means firing failed (logged above):
        // try again in a minute rather than spinning on the alarm.
        let next = next.map(|t| if t <= now { now + 60_000 } else { t });
        if !out.is_empty() {
            self.deliver(out, &self.sockets()).await;
        }
        if let Some(live_epoch) = rolled {
            // Archived by age (PROTOCOL.md §16.4): every device moves to the new epoch.
            Self::close_sealed_epoch(&self.sockets(), live_epoch);
        }
        if let Err(e) = crate::outbox::deliver_due(&outbox, now, &endpoints, &cipher).await {
            worker::console_error!("{e}");
        }
        self.push_inbox().await;
        let retry = outbox.next_due().ok().flatten();
        let owed = self.with_live(None, |l| super::inbox_push::record(l, &[], now)).ok().flatten();
        self.arm(next.into_iter().chain(retry).chain(owed).min()).await;
    }
}
