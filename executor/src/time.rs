//! Timed callbacks, asyncio's `call_later` / `call_at`, on the reactor's
//! timer queue.
//!
//! A timed callback is a plain callback (see `callback.rs`) that a timer
//! queues when it fires: the timer's waker hands it to the loop's callback
//! queue. Timers with equal deadlines fire in the order they were set, and
//! the callback queue is FIFO, so `call_later`s with equal delays run in the
//! order they were made.

use crate::callback::{CallbackHandle, Runnable};
use crate::scheduler::Shared;
use loopwork_reactor::TimerId;
use parking_lot::Mutex;
use std::fmt;
use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};
use std::time::Instant;

/// A scheduled timed callback, asyncio's `TimerHandle`: cancel it before it
/// runs, or ask when it is due. Dropping it does not cancel the callback.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let event_loop = loopwork::EventLoop::new();
/// let handle = event_loop.handle();
/// let timer = handle.call_later(Duration::from_secs(3600), || unreachable!()).unwrap();
/// assert!(timer.when() > handle.time());
/// assert!(timer.cancel());
/// assert!(timer.cancelled());
/// ```
#[derive(Clone)]
pub struct TimerHandle {
    callback: CallbackHandle,
    timer: TimerId,
    shared: Arc<Shared>,
}

impl TimerHandle {
    /// Cancels the callback if it has not started; returns true if this call
    /// prevented it from running. The timer is removed at once.
    ///
    /// # Examples
    ///
    /// See [`TimerHandle`].
    pub fn cancel(&self) -> bool {
        let prevented = self.callback.cancel();
        // Frees the timer's slot now rather than when it would have fired.
        self.shared.reactor.remove_timer(self.timer);
        prevented
    }

    /// Returns true if the callback was cancelled before it ran.
    ///
    /// # Examples
    ///
    /// See [`TimerHandle`].
    pub fn cancelled(&self) -> bool {
        self.callback.cancelled()
    }

    /// When the callback is due, on the loop's clock ([`Handle::time`](crate::Handle::time)).
    ///
    /// # Examples
    ///
    /// See [`TimerHandle`].
    pub fn when(&self) -> Instant {
        self.timer.when()
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle").field("when", &self.when()).field("cancelled", &self.cancelled()).finish()
    }
}

/// The timer's waker: queues the callback when the timer fires.
struct Fire {
    callback: Mutex<Option<Arc<dyn Runnable>>>,
    /// Weak: the reactor (owned by `Shared`) holds this waker until the timer
    /// fires; a strong reference would keep a closed loop alive.
    shared: Weak<Shared>,
}

impl Wake for Fire {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let callback = self.callback.lock().take();
        if let (Some(callback), Some(shared)) = (callback, self.shared.upgrade()) {
            // A loop closed meanwhile drops the callback unrun.
            let _ = shared.push_callback(callback);
        }
    }
}

/// Arms a timer that queues `callback` at `when`.
pub(crate) fn call_at(
    shared: &Arc<Shared>,
    when: Instant,
    callback: Arc<dyn Runnable>,
    handle: CallbackHandle,
) -> TimerHandle {
    let fire = Arc::new(Fire { callback: Mutex::new(Some(callback)), shared: Arc::downgrade(shared) });
    let timer = shared.reactor.insert_timer(when, &Waker::from(fire));
    TimerHandle { callback: handle, timer, shared: shared.clone() }
}
