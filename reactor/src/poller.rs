//! The readiness poller under the reactor: epoll, driven directly, on Linux; the `polling`
//! crate (kqueue, event ports, `poll`) everywhere else.
//!
//! Both backends offer the same few calls the reactor makes, with `polling`'s signatures:
//! `add_with_mode`, `modify_with_mode`, `delete`, `wait`, `notify`, and an [`Events`] list
//! whose entries are [`Readiness`] reports.
//!
//! # Why epoll is driven directly on Linux
//!
//! A parked worker waits in the poller, so a wait is on the path of every wake-up from
//! idle. `polling`'s epoll backend pays five system calls for each: it arms (or disarms) a
//! timerfd and re-registers it, waits, then drains its notification eventfd and re-registers
//! that too, because both are registered in oneshot mode. Here both are registered once,
//! edge-triggered, so that:
//!
//! - a wait without a timeout is one `epoll_wait`;
//! - a wait with a timeout adds one `timerfd_settime` (the timerfd keeps the nanosecond
//!   precision a millisecond `epoll_wait` timeout would lose); arming a timerfd resets its
//!   expiry count, and every expiry queues a fresh edge, so it is never read;
//! - a notification is one `write` to the eventfd, which is never drained either: every
//!   write queues an edge, whatever the count (a count about to overflow, after some 2^64
//!   writes, is drained then).
//!
//! The second reason is `EPOLLRDHUP`: registering it tells a peer's half-close apart from
//! new data, which [`Readiness::read_closed`] reports and `polling` does not. A TCP stream
//! that knows its peer has not closed, and has no urgent data pending (`EPOLLPRI`), may take
//! a short read to mean its receive queue is empty, and skip the `recv` that would only fail
//! with `EAGAIN` (`Source::read_came_back_short` says where that holds).

#[cfg(target_os = "linux")]
pub(crate) use epoll::{wait, Events, Poller, REPORTS_READ_CLOSED};
#[cfg(not(target_os = "linux"))]
pub(crate) use portable::{wait, Events, Poller, REPORTS_READ_CLOSED};

/// One event the poller reported: which source, and what it may now do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// The source's key, as registered.
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer will send nothing more (it shut down its write side or closed), or the
    /// descriptor hung up or failed: a read that comes back short has not emptied a queue
    /// that more data may join. Always `false` from a backend that cannot tell.
    pub(crate) read_closed: bool,
    /// Urgent (out-of-band) data is pending (`EPOLLPRI`): a stream read stops short at its
    /// mark with more data queued behind it. Always `false` from a backend that cannot tell.
    pub(crate) priority: bool,
}

#[cfg(target_os = "linux")]
mod epoll {
    use super::Readiness;
    use polling::{Event, PollMode};
    use rustix::event::epoll::{self, EventData, EventFlags};
    use rustix::event::{eventfd, EventfdFlags, Timespec};
    use rustix::time::{timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags};
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
    use std::time::Duration;

    /// `Readiness::read_closed` is reported.
    pub(crate) const REPORTS_READ_CLOSED: bool = true;

    /// The keys of the poller's own descriptors, out of the range of source keys (a slab
    /// index never comes near them).
    const NOTIFY_KEY: u64 = u64::MAX;
    const TIMER_KEY: u64 = u64::MAX - 1;

    /// How many events one wait can return; more stay queued for the next wait.
    const CAPACITY: usize = 1024;

    /// An epoll instance with its notification eventfd and timeout timerfd.
    #[derive(Debug)]
    pub(crate) struct Poller {
        epoll: OwnedFd,
        notify: OwnedFd,
        timer: OwnedFd,
    }

    impl Poller {
        pub(crate) fn new() -> io::Result<Poller> {
            let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
            let notify = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            let timer = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK)?;
            // Edge-triggered and never re-registered: see the module docs.
            let edge = EventFlags::IN | EventFlags::ET;
            epoll::add(&epoll, &notify, EventData::new_u64(NOTIFY_KEY), edge)?;
            epoll::add(&epoll, &timer, EventData::new_u64(TIMER_KEY), edge)?;
            Ok(Poller { epoll, notify, timer })
        }

        pub(crate) fn supports_edge(&self) -> bool {
            true
        }

        /// Registers `fd`.
        ///
        /// # Safety
        ///
        /// `fd` must be deleted with [`delete`](Poller::delete) before it is closed, the
        /// contract `polling::Poller::add_with_mode` states: a closed descriptor's number may
        /// be reused, and its events reported under the old key.
        pub(crate) unsafe fn add_with_mode(&self, fd: RawFd, interest: Event, mode: PollMode) -> io::Result<()> {
            // SAFETY: the caller keeps `fd` open while it is registered (above), and this call
            // only lends it to `epoll_ctl`.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            epoll::add(&self.epoll, fd, EventData::new_u64(interest.key as u64), flags(interest, mode))?;
            Ok(())
        }

        pub(crate) fn modify_with_mode(&self, fd: BorrowedFd<'_>, interest: Event, mode: PollMode) -> io::Result<()> {
            epoll::modify(&self.epoll, fd, EventData::new_u64(interest.key as u64), flags(interest, mode))?;
            Ok(())
        }

        pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
            epoll::delete(&self.epoll, fd)?;
            Ok(())
        }

        /// Interrupts the current wait, or the next one if none is in progress.
        pub(crate) fn notify(&self) -> io::Result<()> {
            let one = 1u64.to_ne_bytes();
            match rustix::io::write(&self.notify, &one) {
                Ok(_) => Ok(()),
                Err(rustix::io::Errno::AGAIN) => {
                    // The count is about to overflow: drain it, then write again.
                    let mut count = [0; 8];
                    let _ = rustix::io::read(&self.notify, &mut count);
                    rustix::io::write(&self.notify, &one).map(drop).map_err(io::Error::from)
                }
                Err(err) => Err(err.into()),
            }
        }
    }

    /// The epoll flags for an interest: `polling`'s read and write sets, plus `EPOLLRDHUP`
    /// with reads so that a peer's half-close is reported as such.
    fn flags(interest: Event, mode: PollMode) -> EventFlags {
        let mut flags = match mode {
            PollMode::Oneshot => EventFlags::ONESHOT,
            PollMode::Level => EventFlags::empty(),
            PollMode::Edge => EventFlags::ET,
            PollMode::EdgeOneshot => EventFlags::ET | EventFlags::ONESHOT,
            // `PollMode` is non-exhaustive; the reactor uses only the modes above.
            _ => unreachable!("a poll mode the reactor never asks for: {mode:?}"),
        };
        if interest.readable {
            flags |= EventFlags::IN | EventFlags::PRI | EventFlags::RDHUP;
        }
        if interest.writable {
            flags |= EventFlags::OUT;
        }
        flags
    }

    /// Waits in `poller` until an event, a notification, or `timeout`; `events` then holds
    /// what it reported. Returns how many events there are, the poller's own included.
    pub(crate) fn wait(poller: &Poller, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        events.list.clear();
        let epoll_timeout = match timeout {
            None => None,
            Some(Duration::ZERO) => Some(Timespec { tv_sec: 0, tv_nsec: 0 }),
            Some(timeout) => {
                // The timerfd rather than epoll's millisecond timeout: a timer due in
                // 300 µs should not wait a whole millisecond.
                let it_value = Timespec {
                    tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
                    tv_nsec: timeout.subsec_nanos().into(),
                };
                let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
                let spec = Itimerspec { it_interval: zero, it_value };
                timerfd_settime(&poller.timer, TimerfdTimerFlags::empty(), &spec)?;
                None
            }
        };
        match epoll::wait(&poller.epoll, rustix::buffer::spare_capacity(&mut events.list), epoll_timeout.as_ref()) {
            Ok(_) => {}
            // A signal handler ran: as good as a spurious return.
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
        Ok(events.list.len())
    }

    /// A reusable list of reported events.
    pub(crate) struct Events {
        list: Vec<epoll::Event>,
    }

    // SAFETY: an `epoll::Event` is `!Send` only because its data may hold a pointer; every
    // registration here stores a plain integer key in it, so a list of them carries no
    // pointer between threads.
    unsafe impl Send for Events {}

    impl Events {
        pub(crate) fn new() -> Events {
            Events { list: Vec::with_capacity(CAPACITY) }
        }

        /// The sources' events of the last wait.
        pub(crate) fn iter(&self) -> impl Iterator<Item = Readiness> + '_ {
            self.list.iter().filter_map(|event| {
                let (key, flags) = (event.data.u64(), event.flags);
                if key == NOTIFY_KEY || key == TIMER_KEY {
                    return None;
                }
                let failed = EventFlags::HUP | EventFlags::ERR;
                Some(Readiness {
                    key: key as usize,
                    readable: flags.intersects(EventFlags::IN | EventFlags::PRI | EventFlags::RDHUP | failed),
                    writable: flags.intersects(EventFlags::OUT | failed),
                    // mio's test: a hang-up, or the peer's half-close reported with the
                    // readability it brings. Not `EPOLLERR` alone: an error queue's traffic
                    // is no close.
                    read_closed: flags.contains(EventFlags::HUP) || flags.contains(EventFlags::IN | EventFlags::RDHUP),
                    priority: flags.contains(EventFlags::PRI),
                })
            })
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod portable {
    use super::Readiness;
    use std::io;
    use std::time::Duration;

    pub(crate) use polling::Poller;

    /// `Readiness::read_closed` is never reported: `polling` does not tell a half-close from
    /// data.
    pub(crate) const REPORTS_READ_CLOSED: bool = false;

    /// Waits in `poller` until an event, a notification, or `timeout`; `events` then holds
    /// what it reported.
    pub(crate) fn wait(poller: &Poller, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        events.0.clear();
        poller.wait(&mut events.0, timeout)
    }

    /// `polling`'s event list, reported as [`Readiness`].
    #[derive(Debug)]
    pub(crate) struct Events(polling::Events);

    impl Events {
        pub(crate) fn new() -> Events {
            Events(polling::Events::new())
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = Readiness> + '_ {
            self.0.iter().map(|event| Readiness {
                key: event.key,
                readable: event.readable,
                writable: event.writable,
                read_closed: false,
                priority: false,
            })
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{wait, Events, Poller};
    use std::time::{Duration, Instant};

    fn timed_wait(poller: &Poller, events: &mut Events, timeout: Option<Duration>) -> Duration {
        let start = Instant::now();
        wait(poller, events, timeout).unwrap();
        start.elapsed()
    }

    // Upper bounds on how long a wait took are generous (seconds): a busy machine may keep
    // this thread off a core for a while. Lower bounds are exact: a wait never ends early.

    #[test]
    fn a_notification_ends_one_wait_and_the_undrained_eventfd_does_not_end_the_next() {
        let poller = Poller::new().unwrap();
        let mut events = Events::new();
        for _ in 0..3 {
            poller.notify().unwrap();
            poller.notify().unwrap();
            // Sent before the wait: it returns long before its timeout ...
            assert!(timed_wait(&poller, &mut events, Some(Duration::from_secs(20))) < Duration::from_secs(10));
            // ... and the count left in the eventfd queues no second event.
            assert!(timed_wait(&poller, &mut events, Some(Duration::from_millis(30))) >= Duration::from_millis(30));
        }
    }

    #[test]
    fn a_timed_wait_never_ends_early_and_its_expiry_is_not_seen_twice() {
        let poller = Poller::new().unwrap();
        let mut events = Events::new();
        for _ in 0..5 {
            let took = timed_wait(&poller, &mut events, Some(Duration::from_micros(300)));
            assert!(took >= Duration::from_micros(300), "{took:?}");
            assert!(took < Duration::from_secs(10), "{took:?}");
        }
        // An expired timerfd whose count is never read queues no event for a later wait.
        assert!(timed_wait(&poller, &mut events, Some(Duration::from_millis(30))) >= Duration::from_millis(30));
    }

    #[test]
    fn the_timer_of_a_wait_ended_early_ends_a_later_untimed_wait_once() {
        let poller = Poller::new().unwrap();
        let mut events = Events::new();
        poller.notify().unwrap();
        // Ended by the notification; its 2 s timer stays armed.
        let start = Instant::now();
        wait(&poller, &mut events, Some(Duration::from_secs(2))).unwrap();
        let notified_after = start.elapsed();
        // An untimed wait returns when that timer expires: the documented spurious return. A
        // watchdog notifies after 30 s, so that losing the return fails rather than hangs.
        let ended = std::thread::scope(|scope| {
            let (done, watched) = std::sync::mpsc::channel::<()>();
            let poller = &poller;
            scope.spawn(move || {
                let timed_out = std::sync::mpsc::RecvTimeoutError::Timeout;
                if watched.recv_timeout(Duration::from_secs(30)) == Err(timed_out) {
                    poller.notify().unwrap();
                }
            });
            wait(poller, &mut events, None).unwrap();
            let ended = start.elapsed();
            drop(done);
            ended
        });
        assert!(ended < Duration::from_secs(25), "{ended:?}");
        if notified_after < Duration::from_secs(2) {
            assert!(ended >= Duration::from_secs(2), "{ended:?}");
        }
        // Once only: the next untimed wait lasts until the next notification.
        std::thread::scope(|scope| {
            let start = Instant::now();
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                poller.notify().unwrap();
            });
            wait(&poller, &mut events, None).unwrap();
            assert!(start.elapsed() >= Duration::from_millis(200), "{:?}", start.elapsed());
        });
    }
}
