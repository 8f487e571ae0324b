//! Parking one thread: the worker's (or strict driver's) sleep and wake-up.
//!
//! A handshake of the same shape as `std::thread::park`: an `unpark` that
//! arrives before `park` is remembered, so a wake-up between "found no
//! work" and "went to sleep" is never lost. A parker that has a reactor
//! sleeps in it when it can take the reactor's lock — waiting for I/O and
//! timers with the next deadline as its timeout — and `unpark` interrupts
//! that wait with `Reactor::notify`; otherwise it sleeps on its condvar.
//!
//! The reactor is reached through [`Driver`], so that the loom models can put
//! a model of the poller in its place (`loom_test.rs`).

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Condvar, Mutex};
use loopwork_reactor::{Reactor, ReactorLock};
use std::sync::Arc;

/// What a parker can sleep in: one thread at a time waits in it, and
/// `notify` makes that wait (or the next one) return.
pub(crate) trait Driver {
    /// The right to wait; whoever holds it is the one waiting thread.
    type Lock<'a>: DriverLock
    where
        Self: 'a;

    /// Takes the right to wait, if nobody holds it.
    fn try_lock(&self) -> Option<Self::Lock<'_>>;

    /// Interrupts the waiting thread, or makes the next wait return at once.
    fn notify(&self);
}

/// A held [`Driver`].
pub(crate) trait DriverLock {
    /// Waits for events (or a notification), dispatches them, and returns
    /// how many wakers it woke.
    fn react(&mut self) -> usize;
}

impl Driver for Reactor {
    type Lock<'a> = ReactorLock<'a>;

    fn try_lock(&self) -> Option<ReactorLock<'_>> {
        Reactor::try_lock(self)
    }

    fn notify(&self) {
        Reactor::notify(self);
    }
}

impl DriverLock for ReactorLock<'_> {
    fn react(&mut self) -> usize {
        // An error from the poller is as good as a spurious return: the
        // caller re-checks and parks again.
        ReactorLock::react(self, None).unwrap_or(0)
    }
}

const EMPTY: usize = 0;
/// Asleep on the condvar.
const PARKED: usize = 1;
const NOTIFIED: usize = 2;
/// Asleep in the reactor's poller.
const PARKED_IN_REACTOR: usize = 3;

#[derive(Debug)]
pub(crate) struct Parker<D: Driver = Reactor> {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
    reactor: Option<Arc<D>>,
}

impl<D: Driver> Parker<D> {
    /// A parker that sleeps in `reactor` when it can take its lock.
    pub(crate) fn new(reactor: Option<Arc<D>>) -> Parker<D> {
        Parker { state: AtomicUsize::new(EMPTY), lock: Mutex::new(()), cvar: Condvar::new(), reactor }
    }

    /// Blocks until `unpark` is called (or returns at once if it already
    /// was since the last `park`), or until the reactor it drove returned.
    /// May also return spuriously; callers re-check their condition.
    pub(crate) fn park(&self) {
        self.park_in_reactor_with(|_| {}, |_| {});
    }

    /// `park`, with two hooks run while this thread holds the reactor's lock,
    /// if it gets it: `before_wait` just before it waits in the poller (where
    /// a virtual clock may be moved: nobody else is firing timers), and
    /// `after_react` with the number of wakers the wait woke, before the lock
    /// is released (where a worker claims the tasks it woke, before another
    /// thread can take the reactor and look at the loop).
    pub(crate) fn park_in_reactor_with(
        &self,
        before_wait: impl FnOnce(&mut D::Lock<'_>),
        after_react: impl FnOnce(usize),
    ) {
        // Acquire pairs with the Release swap in `unpark`: what the unparker
        // did before waking us (pushing a task) is visible after we return.
        if self.state.compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        if let Some(mut driver) = self.reactor.as_ref().and_then(|reactor| reactor.try_lock()) {
            // Relaxed on success: the state only says where to send the
            // wake-up; the notification itself synchronizes through the
            // poller. Acquire on failure: as above.
            match self.state.compare_exchange(EMPTY, PARKED_IN_REACTOR, Ordering::Relaxed, Ordering::Acquire) {
                Ok(_) => {}
                Err(NOTIFIED) => {
                    let _ = self.state.swap(EMPTY, Ordering::Acquire);
                    return;
                }
                Err(other) => unreachable!("one thread parks on a parker; found state {other}"),
            }
            before_wait(&mut driver);
            let woken = driver.react();
            after_react(woken);
            drop(driver);
            // Acquire: an `unpark` that raced with the return is consumed
            // here, with what its caller published.
            let _ = self.state.swap(EMPTY, Ordering::Acquire);
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
            PARKED_IN_REACTOR => {
                // A notify that lands before the wait makes it return at once.
                if let Some(reactor) = &self.reactor {
                    reactor.notify();
                }
            }
            other => unreachable!("invalid parker state {other}"),
        }
    }
}
