//! Driving one future on the calling thread, for programs and tests without an executor.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use crate::Reactor;

/// How long `block_on` parks before trying the reactor lock again when another thread holds
/// it: that thread dispatches our events, but it may let go of the lock without anyone
/// taking it over, and then only a retry keeps our I/O and timers moving.
const LOCK_RETRY: Duration = Duration::from_millis(10);

impl Reactor {
    /// Runs `future` to completion on this thread, with this reactor entered (see
    /// [`enter`](Reactor::enter)), driving the reactor whenever the future waits.
    ///
    /// This is the whole "event loop" of a program that needs only one task; loopwork's
    /// `EventLoop` runs many on a pool of threads. If another thread already drives this
    /// reactor, `block_on` parks and lets that thread deliver its events.
    ///
    /// # Panics
    ///
    /// Panics if waiting in the poller fails, and propagates a panic of `future`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use loopwork_reactor::{sleep, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let answer = reactor.block_on(async {
    ///     sleep(Duration::from_millis(1)).await;
    ///     42
    /// });
    /// assert_eq!(answer, 42);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn block_on<F: Future>(self: &Arc<Self>, future: F) -> F::Output {
        let _enter = self.enter();
        let signal = Arc::new(Signal {
            woken: AtomicBool::new(false),
            thread: thread::current(),
            reactor: Arc::downgrade(self),
        });
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            // One future and no one to yield to: the cooperative budget is off.
            let poll =
                loopwork_coop::with_budget(loopwork_coop::Budget::UNCONSTRAINED, || future.as_mut().poll(&mut cx));
            if let Poll::Ready(output) = poll {
                return output;
            }
            // Acquire pairs with the Release store in `Signal::wake`: whatever the waker's
            // caller did before waking is visible to the next poll.
            while !signal.woken.swap(false, Ordering::Acquire) {
                match self.try_lock() {
                    Some(mut lock) => {
                        if let Err(err) = lock.react(None) {
                            panic!("block_on: waiting in the reactor's poller failed: {err}");
                        }
                    }
                    None => thread::park_timeout(LOCK_RETRY),
                }
            }
        }
    }
}

/// The waker of `block_on`'s one future.
struct Signal {
    woken: AtomicBool,
    thread: Thread,
    reactor: Weak<Reactor>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release pairs with the Acquire swap in `block_on`.
        self.woken.store(true, Ordering::Release);
        if thread::current().id() != self.thread.id() {
            // The blocked thread is either parked (lock taken by someone else) or in the
            // poller; one of the two calls is redundant, and both are harmless.
            self.thread.unpark();
            if let Some(reactor) = self.reactor.upgrade() {
                reactor.notify();
            }
        }
    }
}
