//! The support workflow as pure rules over a conversation's documents and the time: status
//! lifecycle, automatic tags and priority, auto-replies, and the timers behind SLAs,
//! reminders, snooze and auto-resolve. The Durable Object feeds it the documents, the
//! workspace configuration and the clock, and carries out what it returns.

pub mod availability;
pub mod config;
pub mod csat;
pub mod event;
pub mod fire;
pub mod plan;
pub mod profile;
pub mod react;
pub mod status;
pub mod timeline;
pub mod timers;
