//! Fuzz and property targets over the relay's input handling (feature `fuzzing`; not API).
//!
//! Each target takes arbitrary bytes, reads a structured script from them with `arbitrary`,
//! runs it against the real state machines and panics when a property breaks. Two drivers
//! call the same targets: core's property tests (`core/tests/fuzz_*.rs`: proptest feeding
//! random bytes, a bounded number of cases so `cargo test` stays quick) and the cargo-fuzz
//! crate in `fuzz/` (coverage-guided libFuzzer, for long runs). Nothing here reads a clock or
//! a random source, so a failing input replays exactly.
//!
//! - [`frames`]: wire frames and fragment sequences into a [`crate::frame::Reassembler`].
//! - [`validation`]: real sync messages and changes of honest devices, mutated, and hostile
//!   changes made with raw Automerge, fed to a [`crate::relay::Relay`] as a peer of any role.

mod corpus;
mod frames;
mod hostile;
mod mutate;
mod store;
mod validation;
mod view;

pub use frames::frames;
pub use validation::{validation, validation_metered, validation_script, Meter};
