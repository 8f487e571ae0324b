//! The timer queue: wakers ordered by deadline, then by the order they were set.

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;

/// Names one timer set with [`Reactor::insert_timer`](crate::Reactor::insert_timer).
///
/// The id is the timer's key in the queue (its deadline and a sequence number), so
/// [`Reactor::remove_timer`](crate::Reactor::remove_timer) finds the entry without a scan.
/// Ids are ordered the way the timers fire: by deadline, then by the order they were set.
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
/// let when = reactor.now() + Duration::from_secs(60);
/// let first = reactor.insert_timer(when, Waker::noop());
/// let second = reactor.insert_timer(when, Waker::noop());
/// assert_eq!(first.when(), when);
/// assert!(first < second); // same deadline: the one set first fires first
/// reactor.remove_timer(first);
/// reactor.remove_timer(second);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    // Field order is the ordering: deadline first, then sequence number (FIFO among equals).
    when: Instant,
    seq: u64,
}

impl TimerId {
    /// The deadline this timer was set for.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::Waker;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let when = reactor.now();
    /// let id = reactor.insert_timer(when, Waker::noop());
    /// assert_eq!(id.when(), when);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn when(&self) -> Instant {
        self.when
    }
}

/// The timer is no longer in the queue: it fired or was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gone;

/// What the thread holding the reactor lock is doing, as far as timers are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Nobody is blocked in the poller, or the one who is has already been notified: a new
    /// timer needs no wake-up, because the next wait computes its timeout from the queue.
    Unblocked,
    /// A thread is blocked in the poller until this instant.
    Until(Instant),
    /// A thread is blocked in the poller with no timeout.
    Forever,
}

/// The deadlines, guarded by the reactor's timer mutex.
#[derive(Debug)]
pub(crate) struct TimerQueue {
    timers: BTreeMap<TimerId, Waker>,
    next_seq: u64,
    /// Written by the lock holder around `Poller::wait`, read by `insert`: both under the
    /// same mutex, which is what makes "a timer earlier than the wait interrupts it" race-free.
    pub(crate) wait: Wait,
}

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue { timers: BTreeMap::new(), next_seq: 0, wait: Wait::Unblocked }
    }

    /// Adds a timer; the flag says whether the blocked lock holder must be notified.
    pub(crate) fn insert(&mut self, when: Instant, waker: Waker) -> (TimerId, bool) {
        let id = TimerId { when, seq: self.next_seq };
        self.next_seq += 1;
        self.timers.insert(id, waker);
        let interrupt = match self.wait {
            Wait::Unblocked => false,
            Wait::Until(deadline) => when < deadline,
            Wait::Forever => true,
        };
        if interrupt {
            // One notification ends the wait; later inserts need not send another.
            self.wait = Wait::Unblocked;
        }
        (id, interrupt)
    }

    pub(crate) fn remove(&mut self, id: TimerId) -> Option<Waker> {
        self.timers.remove(&id)
    }

    /// Replaces the waker of a pending timer: `Err` if the timer already fired or was removed,
    /// else the replaced waker, for the caller to drop after unlocking (a waker's drop may run
    /// executor code that touches the queue).
    pub(crate) fn set_waker(&mut self, id: TimerId, waker: &Waker) -> Result<Option<Waker>, Gone> {
        match self.timers.get_mut(&id) {
            Some(current) if current.will_wake(waker) => Ok(None),
            Some(current) => Ok(Some(std::mem::replace(current, waker.clone()))),
            None => Err(Gone),
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.first_key_value().map(|(id, _)| id.when)
    }

    /// Moves every timer due at `now` into `wakers`, earliest first and FIFO among equal deadlines.
    pub(crate) fn fire(&mut self, now: Instant, wakers: &mut Vec<Waker>) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().when > now {
                break;
            }
            wakers.push(entry.remove());
        }
    }

    /// Empties the queue, handing back the wakers for the caller to drop after unlocking.
    pub(crate) fn take_all(&mut self) -> BTreeMap<TimerId, Waker> {
        std::mem::take(&mut self.timers)
    }

    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;
    use std::time::Duration;

    struct Record {
        label: usize,
        log: Arc<Mutex<Vec<usize>>>,
    }

    impl Wake for Record {
        fn wake(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.label);
        }
    }

    fn recorder(label: usize, log: &Arc<Mutex<Vec<usize>>>) -> Waker {
        Waker::from(Arc::new(Record { label, log: log.clone() }))
    }

    #[test]
    fn equal_deadlines_fire_in_insertion_order_after_earlier_ones() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut queue = TimerQueue::new();
        let base = Instant::now();
        let later = base + Duration::from_millis(5);
        for label in 0..10 {
            queue.insert(later, recorder(label, &log));
        }
        queue.insert(base, recorder(100, &log));
        let mut wakers = Vec::new();
        queue.fire(later, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        let mut expected = vec![100];
        expected.extend(0..10);
        assert_eq!(*log.lock().unwrap(), expected);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn fire_leaves_future_deadlines_and_remove_needs_no_scan() {
        let mut queue = TimerQueue::new();
        let now = Instant::now();
        let (soon, _) = queue.insert(now, Waker::noop().clone());
        let (late, _) = queue.insert(now + Duration::from_secs(1), Waker::noop().clone());
        let mut wakers = Vec::new();
        queue.fire(now, &mut wakers);
        assert_eq!(wakers.len(), 1);
        assert!(queue.remove(soon).is_none(), "a fired timer is gone");
        assert_eq!(queue.next_deadline(), Some(late.when()));
        assert!(queue.set_waker(late, Waker::noop()).is_ok());
        assert!(queue.remove(late).is_some());
        assert!(matches!(queue.set_waker(late, Waker::noop()), Err(Gone)));
    }

    #[test]
    fn only_a_timer_earlier_than_the_wait_interrupts_it_and_only_once() {
        let mut queue = TimerQueue::new();
        let now = Instant::now();
        assert!(!queue.insert(now, Waker::noop().clone()).1, "nobody waits");
        queue.wait = Wait::Until(now + Duration::from_millis(10));
        assert!(!queue.insert(now + Duration::from_millis(10), Waker::noop().clone()).1);
        assert!(queue.insert(now + Duration::from_millis(9), Waker::noop().clone()).1);
        assert!(!queue.insert(now, Waker::noop().clone()).1, "already notified");
        queue.wait = Wait::Forever;
        assert!(queue.insert(now + Duration::from_secs(3600), Waker::noop().clone()).1);
    }
}
