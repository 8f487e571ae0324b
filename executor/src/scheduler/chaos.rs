//! Chaos mode (`Builder::chaos_seed`): seeded randomness that perturbs
//! scheduling decisions a correct program must not depend on — which victim
//! is robbed, whether a woken task runs next or waits its turn, extra yields
//! and spurious wake-ups — so stress tests explore more interleavings.
//!
//! Every decision comes from a per-thread generator seeded from the chaos
//! seed, so a strict-mode (`workers(0)`) run is reproduced exactly by its
//! seed; with workers, the OS still chooses how threads interleave, and the
//! seed reproduces each thread's own decisions.

use std::cell::Cell;

/// One thread's chaos generator.
#[derive(Debug)]
pub(crate) struct Chaos {
    state: Cell<u64>,
}

/// One in how many polls gets an injected yield, and (separately) a
/// spurious wake-up: often enough to matter in a few thousand polls, rare
/// enough that programs still make progress at a useful speed.
const ONE_IN: u64 = 8;

impl Chaos {
    /// The generator of thread `stream` (a worker index) under `seed`.
    pub(crate) fn new(seed: u64, stream: u64) -> Chaos {
        // splitmix64 of the pair, so nearby seeds and streams diverge at once.
        let mut z = seed.wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Chaos { state: Cell::new((z ^ (z >> 31)) | 1) }
    }

    pub(crate) fn next(&self) -> u64 {
        // xorshift64*
        let mut x = self.state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Decides whether to inject a yield before a poll.
    pub(crate) fn inject_yield(&self) -> bool {
        self.next() % ONE_IN == 0
    }

    /// Decides whether to wake a task spuriously after its poll.
    pub(crate) fn inject_spurious_wake(&self) -> bool {
        self.next() % ONE_IN == 0
    }

    /// Decides whether a woken task takes the LIFO slot (or the back).
    pub(crate) fn use_lifo_slot(&self) -> bool {
        self.next() & 1 == 0
    }
}
