//! The task's state word: lifecycle bits and the reference count in one
//! `AtomicUsize`, so that every transition is a single atomic operation.
//!
//! See `README.md` beside this file for the state table and the argument for
//! why each race (wake vs. complete vs. cancel vs. handle drop) is benign.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use std::fmt;

/// The future is being polled by exactly one thread, which owns the stage.
const RUNNING: usize = 1 << 0;
/// The task has finished: the stage holds the output or has been consumed.
const COMPLETE: usize = 1 << 1;
/// The task is in a run queue, or the thread polling it must put it back.
const NOTIFIED: usize = 1 << 2;
/// Somebody asked for cancellation; the next poller drops the future instead.
const CANCEL_REQUESTED: usize = 1 << 3;
/// The `Task` handle is alive and owns the output once the task completes.
const JOIN_INTEREST: usize = 1 << 4;
/// The task completed because it was cancelled (its output is `Cancelled`).
const ENDED_CANCELLED: usize = 1 << 5;
/// The task completed with a panic (its output is `Panicked`).
const ENDED_PANICKED: usize = 1 << 6;
/// A thread holds the join lock: it alone touches the join waker and the
/// done callbacks (see `lock_join`).
const JOIN_LOCK: usize = 1 << 7;

/// The output of a complete task was taken (or dropped) by its owner: the
/// stage is empty.
const OUTPUT_TAKEN: usize = 1 << 8;

/// Bits below this are flags; the reference count sits above them.
const REF_SHIFT: u32 = 9;
const REF_ONE: usize = 1 << REF_SHIFT;
const FLAGS_MASK: usize = REF_ONE - 1;

/// A new task is referenced by the registry, the `Task` handle and the run
/// queue entry it is first scheduled with; it starts `NOTIFIED` because that
/// first entry is already on its way.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

/// The atomic state word of one task.
pub(crate) struct State {
    word: AtomicUsize,
}

/// A copy of the state word at one moment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

/// What a worker that dequeued the task must do with it.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// The caller now owns the future and must poll it.
    Poll,
    /// The caller now owns the future and must drop it: cancellation won.
    Cancel,
    /// Another thread is polling it or it has completed: drop the reference.
    Skip,
}

/// What the poller must do after the future returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// Nobody woke it during the poll: it now waits for its waker. The
    /// caller's reference was released in the same step (never the last:
    /// the registry keeps one until the task completes).
    Idle,
    /// It was woken during the poll: reschedule it at the back of the queue
    /// with the new reference the transition added; the caller drops its own
    /// after rescheduling (the cell must outlive the call).
    Reschedule,
    /// Cancellation was requested during the poll: the caller still owns the
    /// future and must drop it.
    Cancel,
}

/// How a task ended, recorded in the state word so that it can be read
/// without touching the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Value,
    Cancelled,
    Panicked,
}

/// What a waker must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotified {
    /// Push the task to a run queue, handing over one reference.
    Submit,
    /// Nothing to do: the task is queued, running (its poller will see
    /// `NOTIFIED`) or complete.
    DoNothing,
    /// Nothing to do, and the reference the waker owned was the last one.
    Dealloc,
}

impl State {
    pub(crate) fn new() -> State {
        State { word: AtomicUsize::new(INITIAL) }
    }

    pub(crate) fn load(&self) -> Snapshot {
        // Acquire pairs with the AcqRel of `transition_to_complete`, so a
        // thread that sees COMPLETE also sees the output written before it.
        Snapshot(self.word.load(Ordering::Acquire))
    }

    /// Applies `f` until the compare-exchange succeeds; `f` returns the
    /// result and, if the word should change, the new word.
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let (action, next) = f(Snapshot(current));
            let Some(next) = next else { return action };
            // AcqRel: the release half publishes what this thread wrote to the
            // task cell before the transition (the future, the output); the
            // acquire half makes what the previous owner wrote visible.
            match self.word.compare_exchange_weak(current, next.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return action,
                Err(actual) => current = actual,
            }
        }
    }

    /// A worker dequeued the task: take ownership of the future.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|s| {
            debug_assert!(s.is_notified(), "a dequeued task must be NOTIFIED");
            if s.is_running() || s.is_complete() {
                return (TransitionToRunning::Skip, None);
            }
            let next = Snapshot((s.0 | RUNNING) & !NOTIFIED);
            if s.is_cancel_requested() {
                (TransitionToRunning::Cancel, Some(next))
            } else {
                (TransitionToRunning::Poll, Some(next))
            }
        })
    }

    /// The future returned `Pending`: release ownership unless a wake or a
    /// cancellation arrived while it was being polled. When nothing did, the
    /// caller's reference is dropped in the same atomic step, saving a second
    /// read-modify-write on every poll.
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update_action(|s| {
            debug_assert!(s.is_running());
            if s.is_cancel_requested() {
                // Keep RUNNING: the caller drops the future next.
                return (TransitionToIdle::Cancel, None);
            }
            let next = s.0 & !RUNNING;
            if s.is_notified() {
                (TransitionToIdle::Reschedule, Some(Snapshot(next + REF_ONE)))
            } else {
                debug_assert!(s.ref_count() > 1, "an unfinished task is still registered");
                (TransitionToIdle::Idle, Some(Snapshot(next - REF_ONE)))
            }
        })
    }

    /// The output (or the cancellation) has been stored: the task is done.
    /// Returns the snapshot before the transition.
    pub(crate) fn transition_to_complete(&self, outcome: Outcome) -> Snapshot {
        let set = match outcome {
            Outcome::Value => COMPLETE,
            Outcome::Cancelled => COMPLETE | ENDED_CANCELLED,
            Outcome::Panicked => COMPLETE | ENDED_PANICKED,
        };
        // XOR flips RUNNING off and COMPLETE on in one step; AcqRel: release
        // publishes the output to the `Task` handle (pairs with the Acquire in
        // `load` / `unset_join_interest`), acquire orders it after any
        // `unset_join_interest` we might race with.
        let prev = Snapshot(self.word.fetch_xor(RUNNING | set, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// `Waker::wake_by_ref`: the caller keeps its reference.
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.fetch_update_action(|s| {
            if s.is_complete() || s.is_notified() {
                (TransitionToNotified::DoNothing, None)
            } else if s.is_running() {
                // The poller reschedules it when the poll returns.
                (TransitionToNotified::DoNothing, Some(Snapshot(s.0 | NOTIFIED)))
            } else {
                // The new queue entry needs a reference of its own.
                (TransitionToNotified::Submit, Some(Snapshot((s.0 | NOTIFIED) + REF_ONE)))
            }
        })
    }

    /// `Waker::wake`: consumes the caller's reference, except on `Submit`,
    /// where the queue entry gets a new one and the caller drops its own after
    /// submitting.
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotified {
        self.fetch_update_action(|s| {
            if s.is_complete() || s.is_notified() {
                let next = s.0 - REF_ONE;
                let action = if next >> REF_SHIFT == 0 {
                    TransitionToNotified::Dealloc
                } else {
                    TransitionToNotified::DoNothing
                };
                (action, Some(Snapshot(next)))
            } else if s.is_running() {
                (TransitionToNotified::DoNothing, Some(Snapshot((s.0 | NOTIFIED) - REF_ONE)))
            } else {
                // The queue entry gets a new reference and the waker keeps its
                // own until `schedule` has returned: the cell (which holds the
                // scheduler `schedule` runs on) must outlive that call even if
                // a worker runs and frees the task at once.
                (TransitionToNotified::Submit, Some(Snapshot((s.0 | NOTIFIED) + REF_ONE)))
            }
        })
    }

    /// Requests cancellation. Returns whether the task was still unfinished
    /// (so the request counts) and whether the caller must submit it so that
    /// a worker drops the future.
    pub(crate) fn transition_to_cancel_requested(&self) -> (bool, TransitionToNotified) {
        self.fetch_update_action(|s| {
            if s.is_complete() {
                return ((false, TransitionToNotified::DoNothing), None);
            }
            let with_cancel = s.0 | CANCEL_REQUESTED;
            if s.is_running() || s.is_notified() {
                // A queue entry or the current poller will see the request.
                ((true, TransitionToNotified::DoNothing), Some(Snapshot(with_cancel | NOTIFIED)))
            } else {
                ((true, TransitionToNotified::Submit), Some(Snapshot((with_cancel | NOTIFIED) + REF_ONE)))
            }
        })
    }

    /// Shutdown: take ownership of the future if nobody is polling it, so the
    /// shutting-down thread can drop it. Returns false if the task is
    /// complete or running (its poller will see the request instead).
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update_action(|s| {
            if s.is_complete() {
                (false, None)
            } else if s.is_running() {
                (false, Some(Snapshot(s.0 | CANCEL_REQUESTED | NOTIFIED)))
            } else {
                (true, Some(Snapshot(s.0 | CANCEL_REQUESTED | RUNNING)))
            }
        })
    }

    /// The `Task` handle is going away. Returns the snapshot after the
    /// transition: if it is complete, the handle owns the output and must drop
    /// it; otherwise the completer will, since it sees no JOIN_INTEREST.
    pub(crate) fn unset_join_interest(&self) -> Snapshot {
        self.fetch_update_action(|s| {
            debug_assert!(s.has_join_interest());
            if s.is_complete() {
                (s, None)
            } else {
                let next = Snapshot(s.0 & !JOIN_INTEREST);
                (next, Some(next))
            }
        })
    }

    /// The owner of a complete task's output took it out of the stage.
    pub(crate) fn set_output_taken(&self) {
        // Relaxed is enough: the output's owner is the only thread that
        // reads the stage's contents after COMPLETE, and the thread that
        // frees the cell synchronizes with it through `ref_dec`'s AcqRel.
        self.word.fetch_or(OUTPUT_TAKEN, Ordering::Relaxed);
    }

    /// Takes the join lock: the bit that guards the join waker and the done
    /// callbacks, in the state word rather than a mutex of its own, which
    /// would cost the cell a word. It is held for a few stores (and a waker
    /// clone), once per await of a pending task, per done callback and at
    /// completion, never on the poll path, so a contender spins briefly and
    /// then yields its thread instead of parking.
    pub(crate) fn lock_join(&self) {
        let mut spins = 0u32;
        loop {
            // Acquire pairs with the Release in `unlock_join`: what the
            // previous holder wrote to the join slot is visible to us.
            if self.word.fetch_or(JOIN_LOCK, Ordering::Acquire) & JOIN_LOCK == 0 {
                return;
            }
            // Relaxed: only a hint of when to try again; the fetch_or above
            // is what synchronizes.
            while self.word.load(Ordering::Relaxed) & JOIN_LOCK != 0 {
                spins += 1;
                // Under loom a spin is only more states to explore: yield at once.
                if spins < if cfg!(loom) { 0 } else { 64 } {
                    std::hint::spin_loop();
                } else {
                    crate::loom::thread::yield_now();
                }
            }
        }
    }

    /// Releases the join lock taken by `lock_join`.
    pub(crate) fn unlock_join(&self) {
        // Release pairs with the Acquire in `lock_join`.
        let prev = self.word.fetch_and(!JOIN_LOCK, Ordering::Release);
        debug_assert!(prev & JOIN_LOCK != 0, "the join lock was not held");
    }

    pub(crate) fn ref_inc(&self) {
        // Relaxed is enough: a new reference is made from an existing one,
        // which keeps the task alive; nothing is published by counting.
        let prev = self.word.fetch_add(REF_ONE, Ordering::Relaxed);
        assert!(prev <= isize::MAX as usize, "task reference count overflow");
    }

    /// Drops one reference; returns true if it was the last.
    pub(crate) fn ref_dec(&self) -> bool {
        // AcqRel: release so this thread's uses of the task happen before the
        // deallocation; acquire so the deallocating thread sees every other
        // thread's uses (the same argument as `Arc::drop`).
        let prev = self.word.fetch_sub(REF_ONE, Ordering::AcqRel);
        debug_assert!(prev >> REF_SHIFT >= 1, "task reference count underflow");
        prev >> REF_SHIFT == 1
    }
}

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }

    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }

    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }

    pub(crate) fn is_cancel_requested(self) -> bool {
        self.0 & CANCEL_REQUESTED != 0
    }

    pub(crate) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }

    pub(crate) fn ended_cancelled(self) -> bool {
        self.0 & ENDED_CANCELLED != 0
    }

    pub(crate) fn is_output_taken(self) -> bool {
        self.0 & OUTPUT_TAKEN != 0
    }

    pub(crate) fn ended_panicked(self) -> bool {
        self.0 & ENDED_PANICKED != 0
    }

    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancel_requested", &self.is_cancel_requested())
            .field("join_interest", &self.has_join_interest())
            .field("ended_cancelled", &self.ended_cancelled())
            .field("refs", &self.ref_count())
            .field("flags", &(self.0 & FLAGS_MASK))
            .finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_new_task_is_notified_with_three_references() {
        let s = State::new().load();
        assert!(s.is_notified() && s.has_join_interest() && !s.is_running());
        assert_eq!(s.ref_count(), 3);
    }

    #[test]
    fn a_wake_during_the_poll_reschedules() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), TransitionToRunning::Poll);
        assert_eq!(state.transition_to_notified_by_ref(), TransitionToNotified::DoNothing);
        assert_eq!(state.transition_to_idle(), TransitionToIdle::Reschedule);
        assert!(state.load().is_notified() && !state.load().is_running());
    }

    #[test]
    fn cancelling_an_idle_task_submits_it_once() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), TransitionToRunning::Poll);
        assert_eq!(state.transition_to_idle(), TransitionToIdle::Idle);
        assert_eq!(state.transition_to_cancel_requested(), (true, TransitionToNotified::Submit));
        assert_eq!(state.transition_to_cancel_requested(), (true, TransitionToNotified::DoNothing));
        assert_eq!(state.transition_to_running(), TransitionToRunning::Cancel);
        let before = state.transition_to_complete(Outcome::Cancelled);
        assert!(before.is_running());
        assert!(state.load().ended_cancelled());
        assert_eq!(state.transition_to_cancel_requested(), (false, TransitionToNotified::DoNothing));
    }

    #[test]
    fn waking_a_complete_task_by_value_releases_the_reference() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), TransitionToRunning::Poll);
        let _ = state.transition_to_complete(Outcome::Value);
        assert_eq!(state.transition_to_notified_by_val(), TransitionToNotified::DoNothing);
        assert_eq!(state.load().ref_count(), 2);
    }
}
