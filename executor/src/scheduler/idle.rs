//! Who is searching and who is parked: the counters behind "at most half the
//! workers search at once" and "no wake-up is lost". See `README.md`.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Mutex;

/// `num_unparked << UNPARKED_SHIFT | num_searching`, updated together so one
/// load sees a consistent pair.
const UNPARKED_SHIFT: u32 = 16;
const SEARCHING_MASK: usize = (1 << UNPARKED_SHIFT) - 1;
const ONE_UNPARKED: usize = 1 << UNPARKED_SHIFT;
const ONE_SEARCHING: usize = 1;
/// The most workers a loop can have: the counts must fit their 16 bits.
pub(crate) const MAX_WORKERS: usize = SEARCHING_MASK - 1;

#[derive(Debug)]
pub(crate) struct Idle {
    state: AtomicUsize,
    num_workers: usize,
    /// Indices of parked workers. Its lock also serializes "decide to park"
    /// against "decide whom to wake".
    sleepers: Mutex<Vec<usize>>,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers <= MAX_WORKERS, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARKED_SHIFT),
            num_workers,
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
        }
    }

    /// Picks a parked worker to wake after new work was published, or None
    /// if a searcher exists (it will find the work) or nobody is parked.
    /// The woken worker is counted as unparked and searching from here on.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.notify_should_wakeup() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        // Checked again under the lock: another notifier may have just woken
        // someone, who is now searching.
        if !self.notify_should_wakeup() {
            return None;
        }
        let worker = sleepers.pop()?;
        // SeqCst: part of the single order the no-lost-wake-up argument uses
        // (README, "post-work protocol").
        self.state.fetch_add(ONE_UNPARKED | ONE_SEARCHING, Ordering::SeqCst);
        Some(worker)
    }

    fn notify_should_wakeup(&self) -> bool {
        // SeqCst (a read-modify-write, so it also reads the latest value):
        // the notifier pushed its task before this; either a parking worker's
        // SeqCst decrement is ordered before this load (we see it parked and
        // wake someone) or after it (and its re-check sees the task).
        let state = self.state.fetch_add(0, Ordering::SeqCst);
        state & SEARCHING_MASK == 0 && state >> UNPARKED_SHIFT < self.num_workers
    }

    /// A read-modify-write of the word that changes nothing, for a thread
    /// that has seen the loop closed and is about to drain the injector:
    /// the other half of a Dekker pair with a remote push, whose
    /// `worker_to_notify` reads the word the same way before it looks at
    /// `closed` (`Shared::push_remote`). Every update of the word is a
    /// read-modify-write, so the two are ordered in the word's modification
    /// order, and the later one reads from (a release sequence of) the
    /// earlier: either the push comes later and sees `closed` (which the
    /// drainer saw before its own), or the drain does and sees the task.
    pub(crate) fn order_drain_after_pushes(&self) {
        // SeqCst (AcqRel would do for the pair; SeqCst as every update of
        // the word, README).
        self.state.fetch_add(0, Ordering::SeqCst);
    }

    /// A worker with nothing local asks to search; refused when half the
    /// workers already are, so a burst of wake-ups does not turn every
    /// worker into a thief hammering the same queues.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        // SeqCst, here and below: every update of the word takes part in the
        // single order the no-lost-wake-up argument uses (README); a
        // searcher must be visible to `notify_should_wakeup` from the moment
        // it counts itself.
        let state = self.state.load(Ordering::SeqCst);
        if 2 * (state & SEARCHING_MASK) >= self.num_workers {
            return false;
        }
        // Racy by design: two workers may both pass the check; the bound is
        // a throttle, not an invariant anything relies on.
        self.state.fetch_add(ONE_SEARCHING, Ordering::SeqCst);
        true
    }

    /// A searcher found work. Returns true if it was the last searcher: the
    /// caller must then re-check the queues, and wake one more worker if
    /// work is queued, since nobody is looking for it any more (README,
    /// "Why no wake-up is lost").
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        // SeqCst: as in `transition_worker_to_searching`.
        let prev = self.state.fetch_sub(ONE_SEARCHING, Ordering::SeqCst);
        prev & SEARCHING_MASK == 1
    }

    /// The worker goes to sleep. The caller must then re-check every queue
    /// before sleeping (README, "Why no wake-up is lost").
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) {
        let mut sleepers = self.sleepers.lock();
        let dec = ONE_UNPARKED | if is_searching { ONE_SEARCHING } else { 0 };
        // SeqCst: pairs with `notify_should_wakeup` (see there).
        self.state.fetch_sub(dec, Ordering::SeqCst);
        sleepers.push(worker);
    }

    /// Takes `worker` off the sleepers list itself, as unparked and not
    /// searching (it woke on its own, from the reactor). Returns false if a
    /// notifier took it off first (it is then counted as searching).
    pub(crate) fn unpark_self(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(position) => {
                sleepers.swap_remove(position);
                // SeqCst: as every update of the word (README).
                self.state.fetch_add(ONE_UNPARKED, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// True if every worker is parked.
    pub(crate) fn all_parked(&self) -> bool {
        // SeqCst: the load half of two Dekker pairs, with
        // `Monitor::wake_if_sleeping` and with the virtual clock's idle
        // check (`virtual_clock.rs`).
        self.state.load(Ordering::SeqCst) >> UNPARKED_SHIFT == 0
    }

    /// True while `worker` is on the sleepers list (nobody chose to wake it).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers.lock().contains(&worker)
    }
}
