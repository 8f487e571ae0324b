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
//! round trips of microseconds took milliseconds. So a spin whose yield
//! outlasted the whole spin budget switches spinning off for every thread
//! of the process for a while, doubling that while it keeps happening:
//! meanwhile every waiter parks at once, as a plain futex wait does.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long spinning stays off after the first yield that outlasted its
/// spin, and at most after many in a row.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The process's switch: every spinner of every loop shares the cores.
static BACKOFF: Backoff = Backoff::new();

/// Checks `ready` until it returns true or `limit` has passed; returns the
/// last answer. Between checks the spinner yields its core rather than
/// spinning on it: the thread it waits for may need this very core (two
/// cores, three busy threads), and `sched_yield` hands it over at once. (A
/// phase of pause instructions first made the median round trip of
/// `run_coroutine_threadsafe` twice as long on a 2-core machine.) While
/// spinning is off because the cores are oversubscribed, checks once.
pub(crate) fn spin_until(limit: Duration, ready: impl FnMut() -> bool) -> bool {
    BACKOFF.spin_until(limit, ready)
}

/// The switch that turns spinning off while the cores are oversubscribed.
///
/// Both words are hints read and written with Relaxed: they order nothing
/// else, and a thread that reads a stale value spins once more or parks
/// once early, which costs time, never correctness (every spinner parks
/// properly when its spin ends).
struct Backoff {
    /// Nanoseconds after [`epoch`] until which spinning is off (0: on).
    off_until: AtomicU64,
    /// The next backoff in nanoseconds: 0 (meaning [`BACKOFF_MIN`]) after a
    /// spin whose yields all came back quickly, doubled by each long one.
    next_ns: AtomicU64,
}

impl Backoff {
    const fn new() -> Backoff {
        Backoff { off_until: AtomicU64::new(0), next_ns: AtomicU64::new(0) }
    }

    fn spin_until(&self, limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        if since_epoch(start) < self.off_until.load(Relaxed) {
            return ready();
        }
        let mut yielded = false;
        loop {
            if ready() {
                if yielded {
                    self.reset();
                }
                return true;
            }
            let before_yield = Instant::now();
            if before_yield - start >= limit {
                if yielded {
                    self.reset();
                }
                return false;
            }
            std::thread::yield_now();
            yielded = true;
            let after_yield = Instant::now();
            if after_yield - before_yield >= limit {
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

    /// A spin whose yields all came back quickly: a core was free, so the
    /// next long yield starts from the shortest backoff again.
    fn reset(&self) {
        // Read first: the word stays shared (not written) while it is 0,
        // as it is whenever a core is free.
        if self.next_ns.load(Relaxed) != 0 {
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

    #[test]
    fn returns_as_soon_as_ready_and_gives_up_after_the_limit() {
        let backoff = Backoff::new();
        let mut checks = 0;
        assert!(backoff.spin_until(Duration::from_secs(10), || {
            checks += 1;
            checks == 3
        }));
        assert_eq!(checks, 3);
        assert!(!backoff.spin_until(Duration::from_micros(1), || false));
    }

    #[test]
    fn a_long_yield_turns_spinning_off_for_the_backoff_which_doubles_up_to_its_cap() {
        let backoff = Backoff::new();
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
        backoff.reset();
        assert_eq!(backoff.next_ns.load(Relaxed), 0);
    }
}
