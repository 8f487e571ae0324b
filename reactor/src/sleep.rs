//! `sleep` and `sleep_until`: a future over one timer of the current reactor.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::timer::TimerKey;
use crate::{deadline_after, Reactor};

/// Waits until `duration` has passed on the loop's clock.
///
/// The deadline is [`Reactor::now`] `+ duration`, taken now if this thread is in an event loop
/// (see [`Reactor::enter`]) and at the first poll otherwise. The timer is registered with the
/// reactor current at the first poll and is removed if the `Sleep` is dropped first.
/// `Sleep` never completes before its deadline; sleeps with equal deadlines wake in the order
/// their timers were registered. A sleep made in a loop registers its timer at the first poll
/// without reading the clock again, so a positive one always waits for a round of the
/// reactor's timers, even if its deadline passed before that poll (as asyncio's `sleep`
/// always waits for its `call_later`). `Duration::ZERO` completes at the first poll; a duration too
/// long to add to the clock (`Duration::MAX`) never completes (see [`deadline_after`]).
///
/// # Panics
///
/// The returned future panics if it is first polled on a thread with no current reactor.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use loopwork_reactor::{sleep, Reactor};
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let start = Reactor::current().unwrap().now();
///     sleep(Duration::from_millis(3)).await;
///     assert!(Reactor::current().unwrap().now() - start >= Duration::from_millis(3));
/// });
/// # std::io::Result::Ok(())
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let deadline = Reactor::with_current(|reactor| {
        let when = deadline_after(reactor?.now(), duration);
        Some(if duration.is_zero() { Deadline::At(when) } else { Deadline::Ahead(when) })
    });
    Sleep { deadline: deadline.unwrap_or(Deadline::After(duration)), reactor: None, timer: None }
}

/// Waits until the loop's clock reaches `deadline`.
///
/// Like [`sleep`], except that the deadline is given. A deadline already past completes at
/// the first poll.
///
/// # Panics
///
/// The returned future panics if it is first polled on a thread with no current reactor.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use loopwork_reactor::{sleep_until, Reactor};
///
/// let reactor = Arc::new(Reactor::new()?);
/// let deadline = reactor.now() + Duration::from_millis(2);
/// reactor.block_on(sleep_until(deadline));
/// assert!(reactor.now() >= deadline);
/// # std::io::Result::Ok(())
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline: Deadline::At(deadline), reactor: None, timer: None }
}

#[derive(Debug, Clone, Copy)]
enum Deadline {
    /// Created outside any loop: the clock to count from is known at the first poll.
    After(Duration),
    /// Created in a loop, a positive duration ahead of its clock: the first poll registers
    /// the timer without reading the clock again (if the deadline passed in between, the
    /// reactor's next round of timers fires it, as asyncio's `sleep` waits for its
    /// `call_later` even then).
    Ahead(Instant),
    At(Instant),
}

/// The future of [`sleep`] and [`sleep_until`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use loopwork_reactor::{sleep, Reactor, Sleep};
///
/// let reactor = Arc::new(Reactor::new()?);
/// let _guard = reactor.enter();
/// let timer: Sleep = sleep(Duration::from_millis(1));
/// assert!(timer.deadline().is_some());
/// reactor.block_on(timer);
/// # std::io::Result::Ok(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Deadline,
    /// The reactor of the first poll; kept so that `reset` and later polls use the same one.
    reactor: Option<Arc<Reactor>>,
    /// Registered timer, if the deadline was still ahead at the last poll.
    timer: Option<TimerKey>,
}

impl Sleep {
    /// The instant this sleep completes at, or `None` if it was created outside an event loop
    /// and has not been polled yet (its clock is not known).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwork_reactor::{sleep, sleep_until};
    ///
    /// let at = Instant::now();
    /// assert_eq!(sleep_until(at).deadline(), Some(at));
    /// assert_eq!(sleep(Duration::from_secs(1)).deadline(), None); // no loop on this thread
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        match self.deadline {
            Deadline::At(deadline) | Deadline::Ahead(deadline) => Some(deadline),
            Deadline::After(_) => None,
        }
    }

    /// Moves the deadline. A registered timer keeps its waker, so a task waiting on this
    /// sleep is woken at the new deadline even if it does not poll in between.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use loopwork_reactor::{sleep, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let mut timer = sleep(Duration::from_secs(3600));
    /// timer.reset(reactor.now() + Duration::from_millis(1));
    /// reactor.block_on(timer);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = Deadline::At(deadline);
        if let (Some(reactor), Some(id)) = (&self.reactor, self.timer) {
            self.timer = reactor.reschedule_timer(id, deadline);
        }
    }

    /// The reactor this sleep registered with, once polled.
    pub(crate) fn reactor(&self) -> Option<&Arc<Reactor>> {
        self.reactor.as_ref()
    }

    /// `poll`, naming the caller in the panic message for a poll outside any loop.
    pub(crate) fn poll_as(&mut self, cx: &mut Context<'_>, what: &str) -> Poll<()> {
        let Sleep { deadline, reactor, timer } = self;
        let reactor = match reactor {
            Some(reactor) => &*reactor,
            None => reactor.insert(Reactor::current().unwrap_or_else(|| {
                panic!(
                    "{what} polled outside a loopwork event loop; await it in a task of an \
                     EventLoop, or enter a Reactor on this thread first (Reactor::enter)"
                )
            })),
        };
        let (now, when) = match *deadline {
            Deadline::Ahead(when) => {
                *deadline = Deadline::At(when);
                *timer = Some(reactor.insert_timer(when, cx.waker()).key());
                return Poll::Pending;
            }
            Deadline::At(when) => (reactor.now(), when),
            Deadline::After(duration) => {
                let now = reactor.now();
                let when = deadline_after(now, duration);
                *deadline = Deadline::At(when);
                (now, when)
            }
        };
        if now >= when {
            // Already due, it completes without waiting: one unit of the cooperative budget (see
            // `loopwork_coop`), so that a loop over due timers lets the other tasks in.
            std::task::ready!(loopwork_coop::poll_proceed(cx));
            if let Some(id) = timer.take() {
                reactor.remove_timer_at(id);
            }
            return Poll::Ready(());
        }
        match *timer {
            Some(id) if reactor.set_timer_waker(id, cx.waker()) => {}
            // Not yet registered, or fired early by a clock that moved backwards (possible
            // only with a virtual clock): register (again) for the deadline.
            _ => *timer = Some(reactor.insert_timer(when, cx.waker()).key()),
        }
        Poll::Pending
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_as(cx, "sleep")
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(reactor), Some(id)) = (&self.reactor, self.timer) {
            reactor.remove_timer_at(id);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").field("deadline", &self.deadline).field("timer", &self.timer).finish_non_exhaustive()
    }
}
