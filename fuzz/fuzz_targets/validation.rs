//! Mutated and hostile sync input into the relay (see `edgedesk_core::fuzzing`). The memory
//! bound is libFuzzer's `-malloc_limit_mb`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgedesk_core::fuzzing::validation(data));
