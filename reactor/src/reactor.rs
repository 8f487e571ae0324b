//! The reactor: one poller, the table of registered sources, and the timer queue.

use std::any::Any;
use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::poller::{self, Events, Poller};
use parking_lot::{Mutex, MutexGuard};
use slab::Slab;

use crate::current::WakeCause;
use crate::net::{Lookup, Resolver};
use crate::source::{Direction, Source};
use crate::timer::{TimerId, TimerKey, Timers};

/// How sources are registered with the poller.
///
/// Both modes deliver the same readiness to the same waiters; they differ in system calls.
/// [`Reactor::new`] picks [`Trigger::Edge`] where the poller supports it (epoll, kqueue), the
/// faster of the two on the echo benchmark in the [design notes](crate::design).
///
/// # Examples
///
/// ```
/// use loopwork_reactor::{Reactor, Trigger};
///
/// let reactor = Reactor::with_trigger(Trigger::Oneshot)?;
/// assert_eq!(reactor.trigger(), Trigger::Oneshot);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// Each source is registered once for both directions, edge-triggered, and never touched
    /// again: an event costs no system call beyond the wait that reports it.
    Edge,
    /// Each source is armed for the directions somebody waits on and disarmed by every event,
    /// so a waiter that follows an event pays one `Poller::modify` to re-arm.
    Oneshot,
}

/// The I/O and timer driver of one event loop.
///
/// There is no reactor thread: whichever idle thread wins [`try_lock`](Reactor::try_lock)
/// waits in the poller with the next timer as its timeout, and [`notify`](Reactor::notify)
/// interrupts it. Sources ([`Async`](crate::Async) and the [`net`](crate::net) types) and
/// timers ([`sleep`](crate::sleep), [`insert_timer`](Reactor::insert_timer)) can be used from
/// any thread. Everything that reads time reads it through [`now`](Reactor::now).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use loopwork_reactor::{sleep, Reactor};
///
/// let reactor = Arc::new(Reactor::new()?);
/// let start = reactor.now();
/// reactor.block_on(sleep(Duration::from_millis(5)));
/// assert!(reactor.now() - start >= Duration::from_millis(5));
/// # std::io::Result::Ok(())
/// ```
pub struct Reactor {
    poller: Poller,
    trigger: Trigger,
    /// Registered sources by key; the lock holder looks events up here.
    sources: Mutex<Slab<Arc<Source>>>,
    /// `sources`' length, written under its lock, so that counting them takes no lock.
    sources_len: AtomicUsize,
    timers: Timers,
    /// What only the lock holder touches; `try_lock` is this mutex's `try_lock`.
    driver: Mutex<Driver>,
    clock: Clock,
    /// Where a panicking waker's payload goes; see `set_waker_panic_handler`.
    waker_panic_handler: Mutex<Option<WakerPanicHandler>>,
    /// Host name lookups for the sockets made on this reactor; `None`: on the calling thread.
    resolver: Mutex<Option<Resolver>>,
}

/// What [`Reactor::set_waker_panic_handler`] installs.
type WakerPanicHandler = Arc<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;

/// Where [`Reactor::now`] reads the time.
enum Clock {
    /// `Instant::now()`.
    Real,
    /// A virtual time that moves only when told ([`Reactor::advance`],
    /// [`Reactor::advance_to_next_timer`]): timers never wait in real time.
    Paused(Mutex<Instant>),
}

/// The lock holder's buffers, reused from one `react` to the next.
struct Driver {
    events: Events,
    wakers: Vec<Waker>,
}

impl Reactor {
    /// Creates a reactor with its own poller, edge-triggered where the poller supports it.
    ///
    /// # Errors
    ///
    /// Fails if the operating system refuses a new poller (out of descriptors or memory).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// assert_eq!(reactor.next_deadline(), None);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new() -> io::Result<Reactor> {
        let poller = Poller::new()?;
        let trigger = if poller.supports_edge() { Trigger::Edge } else { Trigger::Oneshot };
        Ok(Reactor::from_parts(poller, trigger))
    }

    /// Creates a reactor that registers sources with the given [`Trigger`].
    ///
    /// # Errors
    ///
    /// Fails like [`Reactor::new`], and with [`io::ErrorKind::Unsupported`] if `trigger` is
    /// [`Trigger::Edge`] on a poller without edge-triggered mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::{Reactor, Trigger};
    ///
    /// let reactor = Reactor::with_trigger(Trigger::Edge)?;
    /// assert_eq!(reactor.trigger(), Trigger::Edge);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn with_trigger(trigger: Trigger) -> io::Result<Reactor> {
        let poller = Poller::new()?;
        if trigger == Trigger::Edge && !poller.supports_edge() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "this poller has no edge-triggered mode"));
        }
        Ok(Reactor::from_parts(poller, trigger))
    }

    /// Creates a reactor whose clock is virtual: it starts at the real time
    /// now and then moves only by [`advance`](Reactor::advance) and
    /// [`advance_to_next_timer`](Reactor::advance_to_next_timer), so an hour of
    /// timers can run in milliseconds. I/O works as usual.
    ///
    /// # Errors
    ///
    /// Fails like [`Reactor::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::with_paused_clock()?;
    /// let start = reactor.now();
    /// reactor.advance(Duration::from_secs(3600));
    /// assert_eq!(reactor.now() - start, Duration::from_secs(3600));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn with_paused_clock() -> io::Result<Reactor> {
        let mut reactor = Reactor::new()?;
        reactor.clock = Clock::Paused(Mutex::new(Instant::now()));
        Ok(reactor)
    }

    /// True if the clock is virtual (see [`with_paused_clock`](Reactor::with_paused_clock)).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!loopwork_reactor::Reactor::new()?.is_paused());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn is_paused(&self) -> bool {
        matches!(self.clock, Clock::Paused(_))
    }

    /// Moves a virtual clock forward by `by`; the timers that become due fire
    /// at the next `react` (a thread waiting in `react` is interrupted).
    /// A `by` too long to add (`Duration::MAX`) moves it about 30 years, as
    /// [`deadline_after`](crate::deadline_after) does.
    ///
    /// # Panics
    ///
    /// If the clock is real: only a paused clock can be moved.
    ///
    /// # Examples
    ///
    /// See [`with_paused_clock`](Reactor::with_paused_clock).
    pub fn advance(&self, by: Duration) {
        let Clock::Paused(now) = &self.clock else {
            panic!("Reactor::advance needs a paused clock; build the reactor with Reactor::with_paused_clock")
        };
        let mut now = now.lock();
        // Saturating, as every delay is: `Duration::MAX` moves the clock decades ahead.
        *now = crate::deadline_after(*now, by);
        drop(now);
        self.notify();
    }

    /// Moves a virtual clock to the earliest pending timer, if it lies ahead,
    /// and interrupts a waiting `react` so that it fires. Returns false if no
    /// timer is pending (or the clock is real, which this never moves): what
    /// a loop whose every thread is idle calls to skip the wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::Waker;
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::with_paused_clock()?);
    /// let when = reactor.now() + Duration::from_secs(60);
    /// reactor.insert_timer(when, Waker::noop());
    /// assert!(reactor.advance_to_next_timer());
    /// assert_eq!(reactor.now(), when);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn advance_to_next_timer(&self) -> bool {
        let pending = self.jump_to_next_timer();
        if pending {
            self.notify();
        }
        pending
    }

    /// Moves a virtual clock to the earliest pending timer if it lies ahead; false if no timer
    /// is pending or the clock is real.
    fn jump_to_next_timer(&self) -> bool {
        let Clock::Paused(now) = &self.clock else { return false };
        let Some(next) = self.next_deadline() else { return false };
        let mut now = now.lock();
        if next > *now {
            *now = next;
        }
        true
    }

    pub(crate) fn timers(&self) -> &Timers {
        &self.timers
    }

    fn from_parts(poller: Poller, trigger: Trigger) -> Reactor {
        Reactor {
            clock: Clock::Real,
            poller,
            trigger,
            sources: Mutex::new(Slab::new()),
            sources_len: AtomicUsize::new(0),
            timers: Timers::new(),
            driver: Mutex::new(Driver { events: Events::new(), wakers: Vec::new() }),
            waker_panic_handler: Mutex::new(None),
            resolver: Mutex::new(None),
        }
    }

    /// Sends the panics of wakers woken by [`ReactorLock::react`] to `handler` instead of
    /// resuming them: how an executor reports them its own way (loopwork passes them to the
    /// loop's exception handler) without the thread that drove the reactor unwinding.
    ///
    /// Wakers are foreign code. Whether or not a handler is set, a waker that panics does not
    /// stop the others: `react` catches the panic and wakes every remaining waiter first.
    /// Without a handler, it then resumes the first panic (the others were already printed
    /// by the panic hook when they happened). The handler runs on the thread inside `react`,
    /// which holds the reactor's lock meanwhile: it should return promptly.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::task::{Wake, Waker};
    /// use loopwork_reactor::Reactor;
    ///
    /// struct Panics;
    /// impl Wake for Panics {
    ///     fn wake(self: Arc<Self>) {
    ///         panic!("a misbehaving waker");
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let caught = Arc::new(Mutex::new(0));
    /// let count = caught.clone();
    /// reactor.set_waker_panic_handler(move |_payload| *count.lock().unwrap() += 1);
    /// reactor.insert_timer(reactor.now(), &Waker::from(Arc::new(Panics)));
    /// reactor.try_lock().unwrap().react(Some(std::time::Duration::ZERO))?;
    /// assert_eq!(*caught.lock().unwrap(), 1);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_waker_panic_handler(&self, handler: impl Fn(Box<dyn Any + Send>) + Send + Sync + 'static) {
        *self.waker_panic_handler.lock() = Some(Arc::new(handler));
    }

    /// Installs how host names given to the [`net`](crate::net) constructors are resolved
    /// from now on (literal addresses never are). An executor installs one that runs the
    /// system's blocking lookup off its worker threads; without one, lookups block the
    /// calling thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::lookup_host;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.set_resolver(|host, port| {
    ///     let answer = if host == "db.internal" { Ok(vec![([10, 0, 0, 7], port).into()]) } else { Ok(vec![]) };
    ///     Box::pin(std::future::ready(answer))
    /// });
    /// let addrs = reactor.block_on(lookup_host("db.internal:5432"))?;
    /// assert_eq!(addrs, [([10, 0, 0, 7], 5432).into()]);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_resolver(&self, resolver: impl Fn(&str, u16) -> Lookup + Send + Sync + 'static) {
        *self.resolver.lock() = Some(Arc::new(resolver));
    }

    /// The resolver installed with [`Reactor::set_resolver`].
    pub(crate) fn resolver(&self) -> Option<Resolver> {
        self.resolver.lock().clone()
    }

    /// How this reactor registers sources.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::{Reactor, Trigger};
    ///
    /// let reactor = Reactor::new()?;
    /// # #[cfg(target_os = "linux")]
    /// assert_eq!(reactor.trigger(), Trigger::Edge);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn trigger(&self) -> Trigger {
        self.trigger
    }

    /// The loop's clock. Timers compare their deadlines with this and nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let a = reactor.now();
    /// assert!(reactor.now() >= a);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn now(&self) -> Instant {
        match &self.clock {
            Clock::Real => Instant::now(),
            Clock::Paused(now) => *now.lock(),
        }
    }

    /// Takes the right to wait in the poller, if nobody holds it.
    ///
    /// At most one thread drives the reactor at a time; the others park and are woken by the
    /// wakers the driver calls.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let lock = reactor.try_lock().expect("nobody else drives");
    /// assert!(reactor.try_lock().is_none());
    /// drop(lock);
    /// assert!(reactor.try_lock().is_some());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_lock(&self) -> Option<ReactorLock<'_>> {
        self.driver.try_lock().map(|driver| ReactorLock { reactor: self, driver })
    }

    /// Interrupts the thread blocked in [`ReactorLock::react`], or makes the next `react`
    /// return at once if nobody is blocked.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// reactor.notify();
    /// // Returns immediately instead of waiting forever.
    /// assert_eq!(reactor.try_lock().unwrap().react(None)?, 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn notify(&self) {
        // The poller's notifier is an eventfd (or pipe) that cannot fill up: `polling` drains
        // it on every wait, and on Linux it is drained when its count nears overflow. Should
        // the write fail anyway, the only loss is this one early return, and the caller has
        // no better recourse than we do.
        let _ = self.poller.notify();
    }

    /// The earliest pending timer's deadline (one more than a day before the reactor was
    /// created is given as that instant).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::Waker;
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let when = reactor.now() + Duration::from_secs(1);
    /// let id = reactor.insert_timer(when, Waker::noop());
    /// assert_eq!(reactor.next_deadline(), Some(when));
    /// reactor.remove_timer(id);
    /// assert_eq!(reactor.next_deadline(), None);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// True if some task waits for I/O on one of this reactor's sources.
    ///
    /// A waker left behind by a `poll_*` call whose caller gave up counts until the next event
    /// on that source. The check visits every source (O(sources)); it is meant for rare
    /// decisions such as advancing a virtual clock, not for a hot path.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// assert!(!reactor.has_pending_io());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn has_pending_io(&self) -> bool {
        self.sources.lock().iter().any(|(_, source)| source.has_waiters())
    }

    /// The number of timers set and not yet fired or removed. Takes no lock: the count may
    /// be a few inserts or removals behind when timers change on other threads meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let id = reactor.insert_timer(reactor.now() + Duration::from_secs(60), std::task::Waker::noop());
    /// assert_eq!(reactor.timers_pending(), 1);
    /// reactor.remove_timer(id);
    /// assert_eq!(reactor.timers_pending(), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// The number of I/O sources registered (each live [`Async`](crate::Async)). Takes no
    /// lock, like [`timers_pending`](Reactor::timers_pending).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let listener = Async::new(std::net::TcpListener::bind("127.0.0.1:0")?)?;
    /// assert_eq!(reactor.io_sources(), 1);
    /// drop(listener);
    /// assert_eq!(reactor.io_sources(), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn io_sources(&self) -> usize {
        // Relaxed: see `insert_source`.
        self.sources_len.load(Ordering::Relaxed)
    }

    /// Calls `f` with the deadline and waker of every pending timer, one timer shard locked at
    /// a time: for diagnostics (which task waits on which timer), not for a hot path. `f` runs
    /// under the shard's lock, so it must not touch this reactor's timers. A deadline more than
    /// a day before the reactor was created is given as that instant.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let when = reactor.now() + Duration::from_secs(60);
    /// reactor.insert_timer(when, std::task::Waker::noop());
    /// let mut deadlines = Vec::new();
    /// reactor.for_each_timer(|deadline, _waker| deadlines.push(deadline));
    /// assert_eq!(deadlines, [when]);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn for_each_timer(&self, f: impl FnMut(Instant, &Waker)) {
        self.timers.for_each(f);
    }

    /// Calls `f` with the key, direction and waker of every task waiting for I/O on one of
    /// this reactor's sources, one source locked at a time: for diagnostics, like
    /// [`for_each_timer`](Reactor::for_each_timer). `f` must not touch this reactor's sources.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let mut waiters = 0;
    /// reactor.for_each_io_waiter(|_key, _direction, _waker| waiters += 1);
    /// assert_eq!(waiters, 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn for_each_io_waiter(&self, mut f: impl FnMut(usize, Direction, &Waker)) {
        let sources = self.sources.lock();
        for (key, source) in sources.iter() {
            source.for_each_waker(|direction, waker| f(key, direction, waker));
        }
    }

    /// Sets a timer: `waker` is woken by the first `react` that finds [`now`](Reactor::now)
    /// at or past `when`. Never earlier; timers with equal deadlines wake in the order set.
    ///
    /// If a thread is blocked in `react` past `when`, it is interrupted so it can wait for
    /// the new, earlier deadline instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::Waker;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.insert_timer(reactor.now(), Waker::noop());
    /// assert_eq!(reactor.try_lock().unwrap().react(None)?, 1);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn insert_timer(&self, when: Instant, waker: &Waker) -> TimerId {
        let (id, interrupt) = self.timers.insert(self.timer_shard(), when, waker.clone());
        if interrupt {
            self.notify();
        }
        id
    }

    /// Cancels a timer; a timer that already fired (or was removed) is ignored. O(log n).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::Waker;
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let id = reactor.insert_timer(reactor.now(), Waker::noop());
    /// reactor.remove_timer(id);
    /// let woken = reactor.try_lock().unwrap().react(Some(Duration::ZERO))?;
    /// assert_eq!(woken, 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn remove_timer(&self, id: TimerId) {
        self.remove_timer_at(id.key());
    }

    /// [`remove_timer`](Reactor::remove_timer) by the timer's key.
    pub(crate) fn remove_timer_at(&self, key: TimerKey) {
        // Dropped outside the lock: a waker's drop may run arbitrary code.
        let waker = self.timers.remove(key);
        drop(waker);
    }

    /// Removes every pending timer without waking it, as a loop that closes does: what the
    /// wakers keep alive (the callbacks of `call_later`) is dropped now, not when the last
    /// handle to the reactor goes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// reactor.insert_timer(reactor.now() + Duration::from_secs(60), std::task::Waker::noop());
    /// reactor.clear_timers();
    /// assert_eq!(reactor.next_deadline(), None);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn clear_timers(&self) {
        // Dropped outside the lock: a waker's drop may run arbitrary code.
        let wakers = self.timers.take_all();
        drop(wakers);
    }

    /// Points a pending timer at a new waker; false if it already fired or was removed.
    pub(crate) fn set_timer_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        // The displaced waker drops here, after the shard's lock is released.
        let replaced = self.timers.set_waker(key, waker);
        replaced.is_ok()
    }

    /// Moves a pending timer to a new deadline, keeping its waker; `None` if it already fired.
    pub(crate) fn reschedule_timer(&self, key: TimerKey, when: Instant) -> Option<TimerKey> {
        let waker = self.timers.remove(key)?;
        let (id, interrupt) = self.timers.insert(self.timer_shard(), when, waker);
        if interrupt {
            self.notify();
        }
        Some(id.key())
    }

    #[cfg(test)]
    pub(crate) fn has_source(&self, key: usize) -> bool {
        self.sources.lock().contains(key)
    }

    pub(crate) fn poller(&self) -> &Poller {
        &self.poller
    }

    /// Reserves a key and the waiter state for a descriptor about to be added to the poller.
    pub(crate) fn insert_source(&self) -> Arc<Source> {
        let mut sources = self.sources.lock();
        let entry = sources.vacant_entry();
        let source = Arc::new(Source::new(entry.key(), self.trigger));
        entry.insert(source.clone());
        // Relaxed: a statistic; nothing is published through it.
        self.sources_len.store(sources.len(), Ordering::Relaxed);
        source
    }

    /// Deletes a source from the poller, then forgets its key. The caller still owns the
    /// descriptor and closes it only after this returns.
    pub(crate) fn remove_source(&self, source: &Source, fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
        let result = fd.map_or(Ok(()), |fd| self.poller.delete(fd));
        let mut sources = self.sources.lock();
        sources.try_remove(source.key);
        // Relaxed: as in `insert_source`.
        self.sources_len.store(sources.len(), Ordering::Relaxed);
        result
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("trigger", &self.trigger)
            .field("sources", &self.sources.lock().len())
            .field("timers", &self.timers.len())
            .finish_non_exhaustive()
    }
}

/// The right to wait in a [`Reactor`]'s poller, from [`Reactor::try_lock`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loopwork_reactor::Reactor;
///
/// let reactor = Reactor::new()?;
/// let mut lock = reactor.try_lock().unwrap();
/// assert_eq!(lock.react(Some(Duration::ZERO))?, 0);
/// # std::io::Result::Ok(())
/// ```
pub struct ReactorLock<'a> {
    reactor: &'a Reactor,
    driver: MutexGuard<'a, Driver>,
}

impl ReactorLock<'_> {
    /// [`Reactor::advance_to_next_timer`] for the thread about to wait: the next
    /// [`react`](ReactorLock::react) fires the timer, so nobody needs interrupting. Holding
    /// the lock is what makes a virtual clock's jump safe for a scheduler: no other thread
    /// is firing the timers of an earlier jump meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::Waker;
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::with_paused_clock()?);
    /// reactor.insert_timer(reactor.now() + Duration::from_secs(60), Waker::noop());
    /// let mut lock = reactor.try_lock().unwrap();
    /// assert!(lock.advance_to_next_timer());
    /// assert_eq!(lock.react(None)?, 1);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn advance_to_next_timer(&mut self) -> bool {
        self.reactor.jump_to_next_timer()
    }

    /// Waits for I/O events or the next timer, at most `timeout`, then wakes every waiter of
    /// every reported event and every timer that is due, and returns how many wakers it woke.
    ///
    /// `None` waits until an event, a timer or [`Reactor::notify`]; `Some(Duration::ZERO)`
    /// polls without blocking. The wait may also end early with nothing to wake (a
    /// notification, or a spurious return of the poller): callers loop.
    ///
    /// Wakers run after the source table and timer locks are released (the caller still
    /// holds this lock, the right to wait), I/O waiters before timers (as
    /// asyncio runs I/O callbacks before the timers of the same round), timers earliest
    /// deadline first and in the order they were set among equal deadlines.
    ///
    /// # Errors
    ///
    /// Returns the poller's error if waiting fails (interruptions by signals are retried).
    ///
    /// # Panics
    ///
    /// If a waker panicked and no [`Reactor::set_waker_panic_handler`] is set: the first
    /// waker panic is resumed once every other waiter has been woken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::Waker;
    /// use std::time::Duration;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let when = reactor.now() + Duration::from_millis(2);
    /// reactor.insert_timer(when, Waker::noop());
    /// let mut lock = reactor.try_lock().unwrap();
    /// while lock.react(None)? == 0 {}
    /// assert!(reactor.now() >= when);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn react(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let reactor = self.reactor;
        let driver = &mut *self.driver;

        let wait = reactor.timers.begin_wait(timeout, reactor.now(), reactor.is_paused());

        let waited = poller::wait(&reactor.poller, &mut driver.events, wait);

        let mut wakers = std::mem::take(&mut driver.wakers);
        if waited.is_ok() {
            let sources = reactor.sources.lock();
            for event in driver.events.iter() {
                // A missing key is a source removed after the poller reported it.
                if let Some(source) = sources.get(event.key) {
                    source.dispatch(event, &mut wakers);
                }
            }
        }
        reactor.timers.unblock();
        let io_woken = wakers.len();
        reactor.timers.fire(reactor.now(), &mut wakers);
        let timers_due = wakers.len() - io_woken;

        let woken = wakers.len();
        // The I/O events' wakers come first, then the timers'.
        let timers_from = woken - timers_due;
        let mut first_panic = None;
        for (index, waker) in wakers.drain(..).enumerate() {
            let cause = if index < timers_from { WakeCause::Io } else { WakeCause::Timer };
            // A waker is foreign code: its panic must not keep the waiters after it asleep.
            // `catch_unwind` costs nothing unless it catches.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| crate::current::waking(cause, || waker.wake()))) {
                let handler = reactor.waker_panic_handler.lock().clone();
                match handler {
                    Some(handler) => handler(payload),
                    None => {
                        first_panic.get_or_insert(payload);
                    }
                }
            }
        }
        driver.wakers = wakers;
        if let Some(payload) = first_panic {
            resume_unwind(payload);
        }
        waited.map(|_| woken)
    }
}

impl fmt::Debug for ReactorLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorLock").field("reactor", self.reactor).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::Reactor;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::time::Duration;

    struct Panics;

    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a misbehaving waker");
        }
    }

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Three timers due at once, the middle one with a waker that panics.
    fn reactor_with_a_panicking_timer_waker() -> (Reactor, Arc<Count>) {
        let reactor = Reactor::new().unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let now = reactor.now();
        reactor.insert_timer(now, &Waker::from(count.clone()));
        reactor.insert_timer(now, &Waker::from(Arc::new(Panics)));
        reactor.insert_timer(now, &Waker::from(count.clone()));
        (reactor, count)
    }

    #[test]
    fn a_panicking_waker_leaves_no_other_waiter_asleep_and_its_panic_is_resumed() {
        let (reactor, count) = reactor_with_a_panicking_timer_waker();
        let reacted = catch_unwind(AssertUnwindSafe(|| reactor.try_lock().unwrap().react(Some(Duration::ZERO))));
        let payload = reacted.expect_err("without a handler the waker's panic is resumed");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"a misbehaving waker"));
        assert_eq!(count.0.load(Ordering::SeqCst), 2, "every other waiter is woken first");
        // The reactor is still usable.
        assert_eq!(reactor.try_lock().unwrap().react(Some(Duration::ZERO)).unwrap(), 0);
    }

    #[test]
    fn a_waker_panic_handler_receives_the_panic_and_react_returns() {
        let (reactor, count) = reactor_with_a_panicking_timer_waker();
        let caught = Arc::new(AtomicUsize::new(0));
        let seen = caught.clone();
        reactor.set_waker_panic_handler(move |payload| {
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"a misbehaving waker"));
            seen.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(reactor.try_lock().unwrap().react(Some(Duration::ZERO)).unwrap(), 3);
        assert_eq!((caught.load(Ordering::SeqCst), count.0.load(Ordering::SeqCst)), (1, 2));
    }
}
