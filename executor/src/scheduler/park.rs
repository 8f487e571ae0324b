//! Parking one thread: the worker's (or strict driver's) sleep and wake-up.
//!
//! A three-state handshake, the same shape as `std::thread::park`: an
//! `unpark` that arrives before `park` is remembered, so a wake-up between
//! "found no work" and "went to sleep" is never lost.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker { state: AtomicUsize::new(EMPTY), lock: Mutex::new(()), cvar: Condvar::new() }
    }

    /// Blocks until `unpark` is called (or returns at once if it already
    /// was since the last `park`). May also return spuriously; callers
    /// re-check their condition.
    pub(crate) fn park(&self) {
        // Acquire pairs with the Release swap in `unpark`: what the unparker
        // did before waking us (pushing a task) is visible after we return.
        if self.state.compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        let mut guard = self.lock.lock();
        match self.state.compare_exchange(EMPTY, PARKED, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // Acquire: as above.
                let _ = self.state.swap(EMPTY, Ordering::Acquire);
                return;
            }
            Err(other) => unreachable!("one thread parks on a parker; found state {other}"),
        }
        loop {
            guard = self.cvar.wait(guard);
            // Acquire: as above.
            if self.state.compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return;
            }
        }
    }

    pub(crate) fn unpark(&self) {
        // Release pairs with the Acquire in `park`.
        match self.state.swap(NOTIFIED, Ordering::Release) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders this notify after the parked thread's
                // `wait` began (it held the lock from PARKED until waiting), so
                // the notification cannot fall between its check and its wait.
                drop(self.lock.lock());
                self.cvar.notify_one();
            }
            other => unreachable!("invalid parker state {other}"),
        }
    }
}
