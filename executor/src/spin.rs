//! Waiting a few microseconds without sleeping.
//!
//! A thread that expects an event within microseconds (a worker that just
//! ran out of work, a foreign thread blocked on a result) looks for it for a
//! short while before it sleeps: a sleep and its wake-up cost a futex call
//! on each side and tens of microseconds of wake-up latency on a virtual
//! machine.

use std::time::{Duration, Instant};

/// Checks `ready` until it returns true or `limit` has passed; returns the
/// last answer. Between checks the spinner yields its core rather than
/// spinning on it: the thread it waits for may need this very core (two
/// cores, three busy threads), and `sched_yield` hands it over at once. (A
/// phase of pause instructions first made the median round trip of
/// `run_coroutine_threadsafe` twice as long on a 2-core machine.)
pub(crate) fn spin_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::yield_now();
    }
}
