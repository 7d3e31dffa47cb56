//! Property test over change validation: real sync messages and changes of honest devices,
//! mutated (bit flips, truncation, splicing, insertion, swapped between sessions), hostile
//! changes made with raw Automerge, and deflate bombs, sent to a relay as a peer of any role.
//! A refusal stores nothing; an acceptance keeps history intact and adds only what the role
//! may write; no frame costs the relay unbounded memory; an honest device is served after.
//!
//! The target is shared with the libFuzzer harness in `fuzz/`. The default case count keeps
//! `cargo test` quick; `PROPTEST_CASES=10000` runs longer (README, "Fuzzing").

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::collection::vec;
use proptest::prelude::*;

use edgedesk_core::fuzzing::{validation_metered, Meter};

/// Counts this thread's live heap bytes and their peak, for the memory bound.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + n;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are
// const-initialised thread-locals without destructors, so touching them never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        shrank(layout.size());
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        q
    }
}

#[global_allocator]
static HEAP: Counting = Counting;

struct Heap;

impl Meter for Heap {
    fn start(&self) -> usize {
        let live = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(live));
        live
    }

    fn peak(&self) -> usize {
        PEAK.with(Cell::get)
    }
}

mod support;
use support::proptest_config as config;

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn the_relay_keeps_its_invariants_under_mutated_and_hostile_input(
        data in vec(any::<u8>(), 0..2048)
    ) {
        validation_metered(&data, &Heap);
    }
}
