//! Driving one of this crate's futures to completion on a thread that is not
//! running an event loop (the `*_blocking` methods).
//!
//! The blocking methods reuse the async path unchanged: the thread polls the
//! future with a waker that unparks it, and parks between polls. So a
//! foreign thread waits in the same FIFO line, with the same hand-off and
//! cancellation rules, as a task does.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker {
    thread: Thread,
    /// Set by a wake-up, so a spurious unpark does not cost a poll (which
    /// would take the primitive's mutex for nothing).
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release pairs with the Acquire swap in `block_on`; the primitive's
        // mutex already orders the state itself, this only keeps the flag
        // from being seen before the unpark it announces.
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on the calling thread, parking it while the
/// future is pending.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let parker = Arc::new(ThreadWaker { thread: thread::current(), woken: AtomicBool::new(false) });
    let waker = Waker::from(Arc::clone(&parker));
    let mut cx = Context::from_waker(&waker);
    loop {
        // This thread blocks until the future completes, so there is no one
        // to yield to: the cooperative budget is off (also if a task calls
        // this by mistake, which would otherwise yield forever).
        let poll = loopwork_coop::with_budget(loopwork_coop::Budget::UNCONSTRAINED, || future.as_mut().poll(&mut cx));
        if let Poll::Ready(output) = poll {
            return output;
        }
        // An unpark that came before this park makes it return at once, so a
        // wake-up between the poll and the park is not lost.
        while !parker.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::block_on;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};
    use std::thread;
    use std::time::Duration;

    /// Pending until another thread sets the value and wakes the waiter.
    type Shared = Arc<Mutex<(Option<u32>, Option<Waker>)>>;

    struct Slot(Shared);

    impl Future for Slot {
        type Output = u32;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            let mut slot = self.0.lock().unwrap();
            match slot.0.take() {
                Some(value) => Poll::Ready(value),
                None => {
                    slot.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    #[test]
    fn a_ready_future_returns_without_parking() {
        assert_eq!(block_on(async { 3 }), 3);
    }

    #[test]
    fn a_wake_from_another_thread_resumes_the_blocked_thread() {
        let shared: Shared = Arc::new(Mutex::new((None, None)));
        let setter = Arc::clone(&shared);
        let handle = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            let waker: Option<Waker> = {
                let mut slot = setter.lock().unwrap();
                slot.0 = Some(9);
                slot.1.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        assert_eq!(block_on(Slot(shared)), 9);
        handle.join().unwrap();
    }
}
