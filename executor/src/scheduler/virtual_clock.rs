//! When a virtual clock (`Builder::paused_clock`) jumps to the next timer.
//!
//! The clock may jump only while nothing in the loop could still set an
//! earlier timer or wake a task: every worker is parked (a worker that the
//! reactor just gave tasks claims them before it lets go of the reactor), no
//! queue holds work, no task waits for I/O, and no *hold* is out. A hold is
//! taken by whatever runs loop code outside the workers: a `block_on` /
//! `run_forever` thread while its future runs or is woken, and a job on a
//! blocking pool until its result is delivered.
//!
//! Who jumps: only the thread that holds the reactor's lock, just before it
//! waits in the poller. So the clock never moves while the timers of the
//! previous jump are still being fired and their tasks handed out.
//!
//! Who asks it to: a thread that goes idle (a worker parking, a `block_on`
//! thread sleeping, a blocking job ending) checks whether the rest of the
//! loop is idle too, and if so interrupts the waiting thread, which then
//! re-checks and jumps. Going idle is a `SeqCst` read-modify-write (the
//! `Idle` word, the hold count) followed by `SeqCst` loads of the others, so
//! of two threads going idle at the same time the later one sees the
//! earlier (Dekker): the last thread to go idle always sends the interrupt.

use super::Shared;
use loopwork_reactor::ReactorLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How many holds keep a virtual clock from jumping.
#[derive(Debug, Default)]
pub(crate) struct ClockHolds(AtomicUsize);

impl ClockHolds {
    fn is_held(&self) -> bool {
        // SeqCst: the load half of the Dekker pair described above.
        self.0.load(Ordering::SeqCst) != 0
    }
}

/// A hold on a virtual clock, released (and the loop re-checked) on drop.
pub(crate) struct ClockHold(Arc<Shared>);

impl Drop for ClockHold {
    fn drop(&mut self) {
        self.0.release_virtual_clock();
    }
}

impl Shared {
    /// Keeps a virtual clock from jumping until the matching
    /// `release_virtual_clock`. Does nothing with a real clock.
    pub(crate) fn hold_virtual_clock(&self) {
        if self.reactor.is_paused() {
            // SeqCst: taken before the holder's work becomes invisible to
            // the idle check (the push, the wake it stands for).
            self.clock_holds.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Gives back a hold; if that leaves the loop idle, lets the reactor's
    /// waiter jump the clock.
    pub(crate) fn release_virtual_clock(&self) {
        if self.reactor.is_paused() {
            // SeqCst: the read-modify-write half of the Dekker pair.
            self.clock_holds.0.fetch_sub(1, Ordering::SeqCst);
            self.wake_virtual_clock_if_idle();
        }
    }

    /// A hold for the duration of a scope (a blocking job); `None` with a
    /// real clock.
    pub(crate) fn hold_virtual_clock_scoped(self: &Arc<Self>) -> Option<ClockHold> {
        self.reactor.is_paused().then(|| {
            self.hold_virtual_clock();
            ClockHold(self.clone())
        })
    }

    /// Called by the reactor's lock holder just before it waits: jumps a
    /// virtual clock to the next timer if the loop is idle, so the wait fires
    /// it at once.
    pub(crate) fn advance_virtual_clock_if_idle(&self, driver: &mut ReactorLock<'_>) {
        if self.reactor.is_paused() && self.virtual_clock_may_jump() {
            driver.advance_to_next_timer();
        }
    }

    /// Called by a thread that has just gone idle: if the whole loop now is,
    /// and a timer is pending, interrupts the thread waiting in the reactor
    /// so that it jumps the clock (`advance_virtual_clock_if_idle`).
    pub(crate) fn wake_virtual_clock_if_idle(&self) {
        if self.reactor.is_paused() && self.virtual_clock_may_jump() && self.reactor.next_deadline().is_some() {
            self.reactor.notify();
        }
    }

    /// Every worker parked, no queued work (a local task waiting for its
    /// owner thread included), no I/O waiter, no hold. (In strict mode
    /// there are no workers, and the driver adds its own future's
    /// readiness.)
    pub(crate) fn virtual_clock_may_jump(&self) -> bool {
        self.idle.all_parked()
            && !self.clock_holds.is_held()
            && !self.has_work()
            // SeqCst: pairs with the increment in `count_pinned`, as the
            // other loads here pair with their counters' updates.
            && self.pinned_pending.load(Ordering::SeqCst) == 0
            && !self.reactor.has_pending_io()
    }
}
