//! `Event`: asyncio's `Event`, a flag tasks can wait to see set.

use crate::waiters::{Handoff, Wait, WaitList, Waiters, WakeList};
use parking_lot::Mutex;
use std::fmt;

/// A flag that tasks wait on until it is set, asyncio's `Event`.
///
/// [`set`](Event::set) wakes every task waiting at that moment, and those
/// tasks proceed even if [`clear`](Event::clear) follows at once: setting
/// grants each current waiter its wake-up, and clearing only affects waits
/// that begin afterwards.
///
/// # Examples
///
/// ```
/// use loopwork_sync::Event;
/// use std::sync::Arc;
///
/// let event = Arc::new(Event::new());
/// let setter = Arc::clone(&event);
/// let thread = std::thread::spawn(move || setter.set());
/// futures_lite::future::block_on(event.wait());
/// assert!(event.is_set());
/// thread.join().unwrap();
/// ```
pub struct Event {
    state: Mutex<EventState>,
}

struct EventState {
    set: bool,
    waiters: WaitList<()>,
}

impl Handoff<Waiters> for EventState {
    type Grant = ();

    fn waiters(&mut self) -> &mut WaitList<()> {
        &mut self.waiters
    }

    /// Every waiter present at `set` got its own wake-up, so one that leaves
    /// owes nobody anything.
    fn pass_on(&mut self, _: (), _: &mut WakeList) -> Option<()> {
        None
    }
}

impl Event {
    /// A new event, not set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!loopwork_sync::Event::new().is_set());
    /// ```
    pub const fn new() -> Event {
        Event { state: Mutex::new(EventState { set: false, waiters: WaitList::new() }) }
    }

    /// Sets the flag and wakes every task waiting for it. Waits that start
    /// while the flag is set return at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = loopwork_sync::Event::new();
    /// event.set();
    /// futures_lite::future::block_on(event.wait()); // returns at once
    /// ```
    pub fn set(&self) {
        let mut wakers = WakeList::new();
        let mut state = self.state.lock();
        if !state.set {
            state.set = true;
            state.waiters.grant_all(|| (), &mut wakers);
        }
        drop(state);
        wakers.wake_all();
    }

    /// Clears the flag, so later waits wait for the next [`set`](Event::set).
    /// Tasks already woken by a `set` still proceed.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = loopwork_sync::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.lock().set = false;
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = loopwork_sync::Event::new();
    /// assert!(!event.is_set());
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.state.lock().set
    }

    /// Waits until the flag is set; returns at once if it already is.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::future;
    ///
    /// let event = loopwork_sync::Event::new();
    /// // The wait is polled first, finds the flag clear and sleeps until the
    /// // second future sets it.
    /// future::block_on(future::zip(event.wait(), async { event.set() }));
    /// ```
    pub async fn wait(&self) {
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        Wait::<_, Waiters, _>::new(&self.state, |st: &mut EventState, _: &mut WakeList| st.set.then_some(())).await;
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Event").field("set", &state.set).field("waiters", &state.waiters.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Event;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    #[test]
    fn set_then_clear_still_releases_every_current_waiter() {
        let event = Event::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = pin!(event.wait());
        let mut second = pin!(event.wait());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        event.set();
        event.clear();
        let mut late = pin!(event.wait());
        assert!(late.as_mut().poll(&mut cx).is_pending());
        assert!(first.as_mut().poll(&mut cx).is_ready());
        assert!(second.as_mut().poll(&mut cx).is_ready());
        assert!(late.as_mut().poll(&mut cx).is_pending());
    }
}
