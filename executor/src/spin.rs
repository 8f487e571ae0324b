//! Waiting a few microseconds without sleeping.
//!
//! A thread that expects an event within microseconds (a worker that just
//! ran out of work, a foreign thread blocked on a result) looks for it for a
//! short while before it sleeps: a sleep and its wake-up cost a futex call
//! on each side and tens of microseconds of wake-up latency on a virtual
//! machine.
//!
//! That only pays while a core is free. When the machine runs more
//! CPU-bound threads than it has cores, each `sched_yield` between checks
//! hands the core to one of them for a whole time slice (milliseconds), and
//! a worker that is away for that long while still counted as searching
//! makes the next submission wait for it instead of waking another worker:
//! round trips of microseconds took milliseconds. So a yield that took as
//! long as a time slice ([`LONG_YIELD`]) switches spinning off for every
//! thread of the process for a while, doubling that while it keeps
//! happening: meanwhile every waiter parks at once, as a plain futex wait
//! does.
//!
//! Nor does it pay when the event comes later than the spin lasts: a loop
//! fed one task a millisecond spun 20 µs after each, for nothing, and used
//! two to four times the CPU of tokio or async-executor for the same
//! trickle. So after a run of spins that all ran out, only one call in
//! [`PROBE_EVERY`] spins, until a spin pays again.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A yield this long means another thread ran a time slice on this core:
/// none was free. A virtual machine's host delays a yield on a free core by
/// up to a few hundred microseconds now and then (up to 200 µs in 100,000
/// round trips of `run_coroutine_threadsafe` on a 2-core KVM guest), while
/// a CPU-bound thread takes the core for at least the kernel's minimum
/// slice, 0.75 ms (1 to 5 ms measured there with 4 spinning threads). The
/// spin's own limit (20 µs) was too short a bar: the host's delays turned
/// spinning off for 10 ms at a time, most of the time, and the median
/// round trip went from 7 µs to 20 µs.
const LONG_YIELD: Duration = Duration::from_micros(500);

/// How long spinning stays off after the first long yield, and at most
/// after many in a row.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// After this many spins in a row that ran out without the event, spinning
/// is taken not to pay.
const FRUITLESS_LIMIT: u32 = 8;
/// While spinning does not pay, one call in this many spins anyway, so that
/// a change of pace (a request/reply exchange starting) is noticed.
const PROBE_EVERY: u32 = 16;

/// The process's switch: every spinner of every loop shares the cores.
static BACKOFF: Backoff = Backoff::new(LONG_YIELD);

/// Checks `ready` until it returns true or `limit` has passed; returns the
/// last answer. Between checks the spinner yields its core rather than
/// spinning on it: the thread it waits for may need this very core (two
/// cores, three busy threads), and `sched_yield` hands it over at once. (A
/// phase of pause instructions first made the median round trip of
/// `run_coroutine_threadsafe` twice as long on a 2-core machine.) While
/// spinning is off because the cores are oversubscribed, or because recent
/// spins all ran out, checks once.
pub(crate) fn spin_until(limit: Duration, ready: impl FnMut() -> bool) -> bool {
    BACKOFF.spin_until(limit, ready)
}

/// False while recent spins all ran out without their event: work comes
/// too seldom for a thread kept awake to find it. While spinning is
/// switched off for oversubscription, the answer from before stays. A
/// searcher that found work asks this before it wakes another worker to
/// look for more (`worker.rs`, `leave_searching`), which is a way of
/// keeping a thread awake for the next submission too.
pub(crate) fn pays() -> bool {
    BACKOFF.pays()
}

/// The switch that turns spinning off while the cores are oversubscribed,
/// or while spins keep running out.
///
/// Every word is a hint read and written with Relaxed: they order nothing
/// else, and a thread that reads a stale value spins once more or parks
/// once early, which costs time, never correctness (every spinner parks
/// properly when its spin ends).
struct Backoff {
    /// A yield at least this long switches spinning off: [`LONG_YIELD`]
    /// (the tests, which a busy machine must not fail, set their own).
    long_yield: Duration,
    /// Nanoseconds after [`epoch`] until which spinning is off (0: on).
    off_until: AtomicU64,
    /// The next backoff in nanoseconds: 0 (meaning [`BACKOFF_MIN`]) after a
    /// spin whose yields all came back quickly, doubled by each long one.
    next_ns: AtomicU64,
    /// Spins in a row that ran out, and while at least [`FRUITLESS_LIMIT`],
    /// calls since (counting the probes); 0 again after a spin that paid.
    fruitless: AtomicU32,
}

impl Backoff {
    const fn new(long_yield: Duration) -> Backoff {
        Backoff { long_yield, off_until: AtomicU64::new(0), next_ns: AtomicU64::new(0), fruitless: AtomicU32::new(0) }
    }

    fn spin_until(&self, limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        if since_epoch(start) < self.off_until.load(Relaxed) || self.skips_spin() {
            return ready();
        }
        let mut yielded = false;
        loop {
            if ready() {
                if yielded {
                    self.reset();
                    self.paid();
                }
                return true;
            }
            let before_yield = Instant::now();
            if before_yield - start >= limit {
                if yielded {
                    self.reset();
                }
                self.ran_out();
                return false;
            }
            std::thread::yield_now();
            yielded = true;
            let after_yield = Instant::now();
            if after_yield - before_yield >= self.long_yield {
                // Another thread ran a slice on this core: none was free.
                self.engage(after_yield);
                return ready();
            }
        }
    }

    /// Turns spinning off from `now` for the current backoff, and doubles
    /// the backoff for next time.
    fn engage(&self, now: Instant) {
        let backoff = self.next_ns.load(Relaxed).max(BACKOFF_MIN.as_nanos() as u64);
        self.off_until.store(since_epoch(now) + backoff, Relaxed);
        self.next_ns.store((backoff * 2).min(BACKOFF_MAX.as_nanos() as u64), Relaxed);
    }

    fn pays(&self) -> bool {
        // Relaxed: a hint, as every word here.
        self.fruitless.load(Relaxed) < FRUITLESS_LIMIT
    }

    /// True if recent spins all ran out and this call is not a probe.
    fn skips_spin(&self) -> bool {
        // Read first: the word stays shared (not written) while spins pay.
        // Wrapping after 2^32 calls only starts the count again.
        self.fruitless.load(Relaxed) >= FRUITLESS_LIMIT && self.fruitless.fetch_add(1, Relaxed) % PROBE_EVERY != 0
    }

    /// A spin ran out without its event. Past the limit the count is left to
    /// `skips_spin`, which keeps the probes one call in [`PROBE_EVERY`].
    fn ran_out(&self) {
        if self.fruitless.load(Relaxed) < FRUITLESS_LIMIT {
            self.fruitless.fetch_add(1, Relaxed);
        }
    }

    /// A spin found its event after waiting for it: spinning pays.
    fn paid(&self) {
        if self.fruitless.load(Relaxed) != 0 {
            self.fruitless.store(0, Relaxed);
        }
    }

    /// A spin whose yields all came back quickly: see `forget_if_calm`.
    fn reset(&self) {
        // Read first: the word stays shared (not written), and the clock
        // unread, while it is 0, as it is whenever a core is free.
        let backoff = self.next_ns.load(Relaxed);
        if backoff != 0 {
            self.forget_if_calm(backoff, Instant::now());
        }
    }

    /// If spinning has been back on, without a long yield, for as long as
    /// the next backoff (`backoff`) would keep it off, a core has been free
    /// all that time: the next long yield starts from the shortest backoff
    /// again. Sooner, one quick spin proves little: with every core taken,
    /// the kernel still hands a yielding thread its core back at once now
    /// and then, and forgetting the backoff on that made spinning come back
    /// every 10 ms, each time at the price of a time slice given away (a
    /// round trip's worst case went from one slice to two under `compare`'s
    /// oversubscribed rows).
    fn forget_if_calm(&self, backoff: u64, now: Instant) {
        // Relaxed: a hint, as every word here; a stale `off_until` only
        // forgets the backoff a little early or late.
        if since_epoch(now) >= self.off_until.load(Relaxed) + backoff {
            self.next_ns.store(0, Relaxed);
        }
    }
}

/// The instant the process's spin clock counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds from [`epoch`] to `instant` (0 before it).
fn since_epoch(instant: Instant) -> u64 {
    instant.saturating_duration_since(epoch()).as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No yield is long enough to switch spinning off, however busy the
    /// machine: what a yield takes is not what these tests check.
    const NEVER: Duration = Duration::MAX;

    #[test]
    fn returns_as_soon_as_ready_and_gives_up_after_the_limit() {
        let backoff = Backoff::new(NEVER);
        let mut checks = 0;
        assert!(backoff.spin_until(Duration::from_secs(10), || {
            checks += 1;
            checks == 3
        }));
        assert_eq!(checks, 3);
        assert!(!backoff.spin_until(Duration::from_micros(1), || false));
    }

    #[test]
    fn engaging_turns_spinning_off_for_the_backoff_which_doubles_up_to_its_cap() {
        let backoff = Backoff::new(NEVER);
        let min = BACKOFF_MIN.as_nanos() as u64;
        // Far enough ahead that spinning is still off when checked below.
        let later = Instant::now() + Duration::from_secs(3600);
        backoff.engage(later);
        assert_eq!(backoff.off_until.load(Relaxed), since_epoch(later) + min);
        let mut checks = 0;
        assert!(!backoff.spin_until(Duration::from_secs(10), || {
            checks += 1;
            false
        }));
        assert_eq!(checks, 1, "while off, a spin checks once, however long its limit");
        backoff.engage(later);
        assert_eq!(backoff.off_until.load(Relaxed), since_epoch(later) + 2 * min);
        for _ in 0..20 {
            backoff.engage(later);
        }
        assert_eq!(backoff.next_ns.load(Relaxed), BACKOFF_MAX.as_nanos() as u64, "the backoff is capped");
        // Spinning comes back at `later + BACKOFF_MAX`; it has to stay calm
        // for the next backoff (the cap) before that is forgotten.
        let cap = BACKOFF_MAX.as_nanos() as u64;
        backoff.forget_if_calm(cap, later + BACKOFF_MAX + BACKOFF_MAX / 2);
        assert_eq!(backoff.next_ns.load(Relaxed), cap, "spinning came back too recently");
        backoff.forget_if_calm(cap, later + BACKOFF_MAX * 2);
        assert_eq!(backoff.next_ns.load(Relaxed), 0, "a backoff's worth of calm after spinning came back");
    }

    #[test]
    fn a_yield_as_long_as_the_bar_switches_spinning_off() {
        // Every yield takes at least no time.
        let backoff = Backoff::new(Duration::ZERO);
        let mut checks = 0;
        assert!(!backoff.spin_until(Duration::from_secs(10), || {
            checks += 1;
            false
        }));
        assert_eq!(checks, 2, "one check before the yield, one after it, then no more");
        assert_ne!(backoff.off_until.load(Relaxed), 0, "spinning is off");
    }

    #[test]
    fn after_spins_that_ran_out_only_probes_spin_until_one_pays() {
        let backoff = Backoff::new(NEVER);
        // A zero limit runs out at the first check, without yielding.
        for _ in 0..FRUITLESS_LIMIT {
            assert!(backoff.pays());
            assert!(!backoff.skips_spin());
            assert!(!backoff.spin_until(Duration::ZERO, || false));
        }
        assert!(!backoff.pays());
        let probes = (0..4 * PROBE_EVERY).filter(|_| !backoff.skips_spin()).count();
        assert_eq!(probes, 4, "one call in {PROBE_EVERY} probes");
        // Calls until a probe, whose event comes after two yields: spinning
        // pays again.
        let mut calls = 0;
        loop {
            calls += 1;
            let mut checks = 0;
            if backoff.spin_until(Duration::from_secs(10), || {
                checks += 1;
                checks == 3
            }) {
                break;
            }
            assert_eq!(checks, 1, "a skipped spin checks once");
        }
        assert!(calls <= PROBE_EVERY);
        assert_eq!(backoff.fruitless.load(Relaxed), 0);
        assert!(backoff.pays());
        assert!(!backoff.skips_spin(), "spinning is back on");
    }
}
