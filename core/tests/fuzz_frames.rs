//! Property test over frame decoding: any sequence of wire frames (random bytes, frames near
//! the size limits, honestly encoded fragments) yields exactly the documented message or the
//! documented typed error, and the reassembler never holds more than its limit.
//!
//! The target is shared with the libFuzzer harness in `fuzz/`. The default case count keeps
//! `cargo test` quick; `PROPTEST_CASES=100000` runs longer (README, "Fuzzing").

use proptest::collection::vec;
use proptest::prelude::*;

mod support;
use support::proptest_config as config;

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn any_frame_sequence_yields_the_documented_message_or_a_typed_error(
        data in vec(any::<u8>(), 0..4096)
    ) {
        edgedesk_core::fuzzing::frames(&data);
    }
}
