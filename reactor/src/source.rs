//! One registered I/O source: who waits on it in each direction, and the tick counters that
//! keep a readiness event from being lost or taken twice.
//!
//! Every operation follows one protocol (DESIGN.md, "The tick protocol"): sample the direction's tick,
//! try the operation, and only if it would block wait for the tick to move past the sample.
//! The reactor bumps the tick under the source's mutex when it delivers an event, and a
//! waiter compares under the same mutex, so an event delivered after the sample always
//! releases the waiter, and an event delivered before it was already seen by the attempt.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use polling::{Event, PollMode};
use slab::Slab;

use crate::poller::{Poller, Readiness, REPORTS_READ_CLOSED};
use crate::reactor::Trigger;

/// `Source::blocked`'s value before any operation would block: a tick never reaches it.
const NEVER_BLOCKED: u64 = u64::MAX;

/// Which half of a source an operation waits on.
///
/// # Examples
///
/// ```
/// use loopwork_reactor::{Direction, Reactor};
///
/// let reactor = Reactor::new()?;
/// let mut reads = 0;
/// reactor.for_each_io_waiter(|_key, direction, _waker| reads += usize::from(direction == Direction::Read));
/// assert_eq!(reads, 0);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Waiting until the source is readable.
    Read = 0,
    /// Waiting until the source is writable.
    Write = 1,
}

/// One future's wait for an event in one direction.
#[derive(Debug)]
pub(crate) struct Waiter {
    dir: Direction,
    /// The tick sampled before the operation that would block.
    since: u64,
    /// On the first poll, ask the poller to report the current state again: an edge that
    /// came before `since` is not repeated, and `readable()` must see readiness that is
    /// already there.
    recheck: bool,
    /// This future's entry in `Waiters::futures`, once registered.
    index: Option<usize>,
}

impl Waiter {
    pub(crate) fn new(dir: Direction, since: u64, recheck: bool) -> Waiter {
        Waiter { dir, since, recheck, index: None }
    }
}

/// The waiters of one direction.
#[derive(Debug, Default)]
struct Waiters {
    /// Futures (`readable()`, `read_with`, ...) each own one entry until they finish or drop,
    /// so an index is never reused under a live future. The reactor takes the waker out and
    /// leaves `None`.
    futures: Slab<Option<Waker>>,
    /// The single waker of the `poll_*` methods (`AsyncRead`, `poll_readable`, ...), which
    /// have nowhere else to keep state: the last task to poll is the one woken.
    slot: Option<Waker>,
    /// The tick `poll_readable`/`poll_writable` started waiting from.
    slot_since: Option<u64>,
    /// Oneshot only: interest in this direction is enabled in the poller.
    armed: bool,
}

impl Waiters {
    fn is_waiting(&self) -> bool {
        self.slot.is_some() || self.futures.iter().any(|(_, waker)| waker.is_some())
    }

    fn drain_into(&mut self, wakers: &mut Vec<Waker>) {
        wakers.extend(self.slot.take());
        wakers.extend(self.futures.iter_mut().filter_map(|(_, waker)| waker.take()));
    }

    /// Puts `waker` in `slot`; returns the waker it replaces, for the caller to drop once the
    /// lock is released (dropping a waker may run an executor's code, which may come back here).
    #[must_use = "drop the displaced waker after unlocking"]
    fn store(slot: &mut Option<Waker>, waker: &Waker) -> Option<Waker> {
        match slot {
            Some(current) if current.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        }
    }
}

/// A registered file descriptor, shared by its `Async` and the reactor's source table.
#[derive(Debug)]
pub(crate) struct Source {
    /// The slab key, also the poller key.
    pub(crate) key: usize,
    trigger: Trigger,
    /// Events delivered per direction. Only bumped by the reactor with `state` locked.
    ticks: [AtomicU64; 2],
    /// Per direction, the tick an operation sampled before it last failed with `WouldBlock`
    /// (`NEVER_BLOCKED` until one does). While the tick still equals it, no event has come
    /// since the descriptor was found not ready, so trying again would fail again: the poll
    /// path registers without the system call (see `blocked_at`).
    blocked: [AtomicU64; 2],
    /// The poller reported that no more data will come (`Readiness::read_closed`). Never
    /// reset: a half-close is final. Written before the tick bump that reports it.
    read_closed: AtomicBool,
    /// The last read event reported urgent data pending (`Readiness::priority`). Written
    /// before the tick bump that reports it, like `read_closed`.
    read_priority: AtomicBool,
    state: Mutex<[Waiters; 2]>,
}

impl Source {
    pub(crate) fn new(key: usize, trigger: Trigger) -> Source {
        Source {
            key,
            trigger,
            ticks: [AtomicU64::new(0), AtomicU64::new(0)],
            blocked: [AtomicU64::new(NEVER_BLOCKED), AtomicU64::new(NEVER_BLOCKED)],
            read_closed: AtomicBool::new(false),
            read_priority: AtomicBool::new(false),
            state: Mutex::new([Waiters::default(), Waiters::default()]),
        }
    }

    /// The interest and mode a new registration starts with.
    pub(crate) fn initial_interest(&self) -> (Event, PollMode) {
        match self.trigger {
            // Edge: both directions, forever; no syscall after this one.
            Trigger::Edge => (Event::all(self.key), PollMode::Edge),
            // Oneshot: nothing until somebody waits (see `arm`).
            Trigger::Oneshot => (Event::none(self.key), PollMode::Oneshot),
        }
    }

    /// Samples the tick before an I/O attempt.
    pub(crate) fn tick(&self, dir: Direction) -> u64 {
        // Acquire pairs with the Release bump in `dispatch`: if we see an event's tick, the
        // poller's report of it happened before our attempt, so the attempt sees that readiness.
        self.ticks[dir as usize].load(Ordering::Acquire)
    }

    /// True if an operation sampled `since` and then failed with `WouldBlock`: the descriptor
    /// was not ready after `since`, and any readiness since would have bumped the tick past it
    /// (an edge, or the re-check that arming a oneshot registration makes), so the operation
    /// would fail again.
    ///
    /// This is how a task polled again for another reason (a hyper connection woken by its
    /// response body, say) skips a `recv` that can only return `EAGAIN`, as tokio's cleared
    /// readiness does. A stale answer costs nothing either way: `false` only means one more
    /// attempt, and `true` is checked again under the lock by `register_slot`, which refuses
    /// to sleep if the tick has moved.
    pub(crate) fn blocked_at(&self, dir: Direction, since: u64) -> bool {
        // Relaxed: the value is a hint that `register_slot` confirms under `state`.
        self.blocked[dir as usize].load(Ordering::Relaxed) == since
    }

    /// Records that an operation that sampled `since` failed with `WouldBlock`.
    pub(crate) fn set_blocked(&self, dir: Direction, since: u64) {
        // Relaxed: see `blocked_at`. Two tasks racing here can only leave an older tick, which
        // `blocked_at` then finds stale.
        self.blocked[dir as usize].store(since, Ordering::Relaxed);
    }

    /// A stream read that sampled `since` came back short (fewer bytes than asked for, but
    /// some): the receive queue was empty when it returned. Unless the peer has closed, more
    /// data can only come with an event that moves the tick, so the next read is treated as
    /// one that would block (`blocked_at`) and waits for that event without a `recv` that
    /// could only fail. With the peer closed, the next read must run: it returns the
    /// end-of-file, for which no further event will come.
    ///
    /// Only for TCP streams, where nothing else stops a read early: a datagram or a terminal
    /// line shorter than the buffer says nothing about what is queued behind it, and a Unix
    /// stream's read stops at a message that carries descriptors, which no poll flag reports.
    /// TCP's own early stop, the urgent mark, is reported (`EPOLLPRI`), and the mark is not
    /// made while the last read event carried it. And only with a poller that reports the
    /// peer's close (`poller::REPORTS_READ_CLOSED`); elsewhere every read is tried.
    pub(crate) fn read_came_back_short(&self, since: u64) {
        if !REPORTS_READ_CLOSED {
            return;
        }
        // Relaxed: the flag is stored before the tick bump that reports it (Release), and the
        // caller sampled `since` with Acquire before reading. If that bump is at or before
        // `since`, the flag is visible here; if after, the tick has moved past `since` and the
        // mark is stale before it is made.
        if !self.read_closed.load(Ordering::Relaxed) && !self.read_priority.load(Ordering::Relaxed) {
            self.set_blocked(Direction::Read, since);
        }
    }

    /// Stores `waker` in the poll slot unless an event arrived since `since`.
    ///
    /// `Ok(false)` means an event did arrive, so the caller retries its operation instead of
    /// sleeping; `Ok(true)` means the waker is registered (and the poller armed).
    pub(crate) fn register_slot(
        &self,
        poller: &Poller,
        fd: BorrowedFd<'_>,
        dir: Direction,
        since: u64,
        waker: &Waker,
    ) -> io::Result<bool> {
        // Declared before the guard so that it drops after the guard on every return path: a
        // replaced waker is dropped unlocked.
        let _displaced;
        let mut state = self.state.lock();
        if self.moved(dir, since) {
            return Ok(false);
        }
        _displaced = Waiters::store(&mut state[dir as usize].slot, waker);
        self.arm(&mut state, poller, fd, dir, false)?;
        Ok(true)
    }

    /// The stateless readiness check behind `poll_readable`/`poll_writable`: ready once an event
    /// arrives after the first call, which also asks the poller to re-check the current state.
    pub(crate) fn poll_ready(
        &self,
        poller: &Poller,
        fd: BorrowedFd<'_>,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        // Declared before the guard so that it drops after the guard on every return path: a
        // replaced waker is dropped unlocked.
        let _displaced;
        let mut state = self.state.lock();
        let tick = self.tick_locked(dir);
        let waiters = &mut state[dir as usize];
        let first = match waiters.slot_since {
            Some(since) if since != tick => {
                waiters.slot_since = None;
                return Poll::Ready(Ok(()));
            }
            Some(_) => false,
            None => {
                waiters.slot_since = Some(tick);
                true
            }
        };
        _displaced = Waiters::store(&mut waiters.slot, cx.waker());
        match self.arm(&mut state, poller, fd, dir, first) {
            Ok(()) => Poll::Pending,
            Err(err) => {
                state[dir as usize].slot_since = None;
                Poll::Ready(Err(err))
            }
        }
    }

    /// The body of the `Wait` future: ready once `waiter.dir`'s tick moved past `waiter.since`.
    pub(crate) fn poll_wait(
        &self,
        poller: &Poller,
        fd: BorrowedFd<'_>,
        waiter: &mut Waiter,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let dir = waiter.dir;
        // Declared before the guard so that it drops after the guard on every return path: a
        // replaced waker is dropped unlocked.
        let mut _displaced = None;
        let mut state = self.state.lock();
        let waiters = &mut state[dir as usize];
        if self.moved(dir, waiter.since) {
            if let Some(index) = waiter.index.take() {
                _displaced = waiters.futures.remove(index);
            }
            return Poll::Ready(Ok(()));
        }
        let first = match waiter.index {
            Some(index) => {
                _displaced = Waiters::store(&mut waiters.futures[index], cx.waker());
                false
            }
            None => {
                waiter.index = Some(waiters.futures.insert(Some(cx.waker().clone())));
                true
            }
        };
        match self.arm(&mut state, poller, fd, dir, waiter.recheck && first) {
            Ok(()) => Poll::Pending,
            Err(err) => {
                if let Some(index) = waiter.index.take() {
                    // Our own waker: dropping it under the lock runs nothing foreign.
                    state[dir as usize].futures.remove(index);
                }
                Poll::Ready(Err(err))
            }
        }
    }

    /// Drops the entry of a waiter that went away before its event.
    pub(crate) fn remove_wait(&self, waiter: &mut Waiter) {
        if let Some(index) = waiter.index.take() {
            // The guard is a temporary of this statement; the waker drops after it.
            let displaced = self.state.lock()[waiter.dir as usize].futures.remove(index);
            drop(displaced);
        }
    }

    /// Delivers one poller event: bumps the reported directions' ticks and hands their
    /// waiters to the reactor, which wakes them after releasing every lock.
    pub(crate) fn dispatch(&self, event: Readiness, wakers: &mut Vec<Waker>) {
        let mut state = self.state.lock();
        if event.read_closed {
            // Relaxed: published by the Release bump of the read tick just below.
            self.read_closed.store(true, Ordering::Relaxed);
        }
        debug_assert!(event.readable || !(event.read_closed || event.priority), "a close or urgent data reads");
        if event.readable {
            // Relaxed: as `read_closed`.
            self.read_priority.store(event.priority, Ordering::Relaxed);
        }
        for (dir, ready) in [(Direction::Read, event.readable), (Direction::Write, event.writable)] {
            let waiters = &mut state[dir as usize];
            if ready {
                // Release pairs with the Acquire in `tick`; the bump is made under `state`, so
                // waiters comparing under the lock see it too.
                self.ticks[dir as usize].fetch_add(1, Ordering::Release);
                waiters.drain_into(wakers);
            } else if waiters.armed {
                // Oneshot disabled the whole descriptor, this direction included; its
                // waiters are woken spuriously so that they re-arm it themselves, since only
                // they can lend the descriptor to `Poller::modify`.
                waiters.drain_into(wakers);
            }
            waiters.armed = false;
        }
    }

    /// Calls `f` with every waker waiting on this source, under its lock.
    pub(crate) fn for_each_waker(&self, mut f: impl FnMut(Direction, &Waker)) {
        let state = self.state.lock();
        for (direction, waiters) in [(Direction::Read, &state[0]), (Direction::Write, &state[1])] {
            waiters
                .slot
                .iter()
                .chain(waiters.futures.iter().filter_map(|(_, waker)| waker.as_ref()))
                .for_each(|waker| f(direction, waker));
        }
    }

    /// True if any future or poll slot waits on this source.
    pub(crate) fn has_waiters(&self) -> bool {
        let state = self.state.lock();
        state.iter().any(Waiters::is_waiting)
    }

    /// The tick, read by a caller that holds `state`.
    fn tick_locked(&self, dir: Direction) -> u64 {
        // Relaxed is enough: every bump happens under `state`, which the caller holds.
        self.ticks[dir as usize].load(Ordering::Relaxed)
    }

    fn moved(&self, dir: Direction, since: u64) -> bool {
        self.tick_locked(dir) != since
    }

    /// Makes sure the poller will report the next readiness of `dir` to a waiter just stored.
    fn arm(
        &self,
        state: &mut [Waiters; 2],
        poller: &Poller,
        fd: BorrowedFd<'_>,
        dir: Direction,
        recheck: bool,
    ) -> io::Result<()> {
        match self.trigger {
            Trigger::Edge if recheck => {
                // Re-registering makes the kernel test the descriptor now and queue an event
                // if it is ready, which an edge that came before `since` would not repeat.
                poller.modify_with_mode(fd, Event::all(self.key), PollMode::Edge)
            }
            Trigger::Edge => Ok(()),
            Trigger::Oneshot => {
                if state[dir as usize].armed {
                    // Already enabled since the last event: it reports the current state.
                    return Ok(());
                }
                state[dir as usize].armed = true;
                let read = state[Direction::Read as usize].armed;
                let write = state[Direction::Write as usize].armed;
                let result = poller.modify_with_mode(fd, Event::new(self.key, read, write), PollMode::Oneshot);
                if result.is_err() {
                    state[dir as usize].armed = false;
                }
                result
            }
        }
    }
}
