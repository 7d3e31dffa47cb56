//! Wire frames and fragment sequences into the reassembler (see `edgedesk_core::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgedesk_core::fuzzing::frames(data));
