//! What introspection keeps of a task beyond its id and state: its name,
//! where and when it was spawned, how often and how long it was polled, who
//! woke it last; and its done callbacks, which almost no task has.
//!
//! All of it sits in a record of its own, behind one pointer in the header
//! that stays null for a task that needs none: unnamed, without done
//! callbacks, on a loop that does not record task details
//! (`Builder::task_details`, or debug mode). Such a task pays one word for
//! all of it, where keeping the fields in every cell would cost five words
//! more than the whole of an idle async-executor task (docs/architecture.md,
//! "The task cell"). A task spawned with a name or on a recording loop gets
//! its record at spawn, with its origin; one that gets its first done
//! callback later gets a record without an origin, and its statistics are
//! shown only from then on (`Header::statistics` hides them).
//!
//! The record's statistics are written like the header's were: by the thread
//! holding the task's `RUNNING` bit (polls, poll times) or by its wakers (the
//! wake source), with relaxed plain stores; nothing waits on them.

use super::raw::DoneNode;
use crate::loom::UnsafeCell;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Where and when a task was spawned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub(crate) location: &'static Location<'static>,
    /// Nanoseconds since `task::EPOCH`, from the loop's coarse clock.
    pub(crate) spawned_at: u64,
}

/// A task's introspection record (see the module docs).
pub(crate) struct Details {
    /// The name it was spawned with, if any.
    pub(crate) name: Option<String>,
    /// Set when the record was made at spawn; `None` for a record made for
    /// a done callback, whose statistics start late.
    pub(crate) origin: Option<Origin>,
    /// How many times it has been polled. Only the thread holding RUNNING
    /// writes it, so a load and a store (no read-modify-write) count it.
    pub(crate) polls: AtomicU32,
    /// When its last poll began, in nanoseconds since `task::EPOCH` on the
    /// loop's coarse clock. Written like `polls`.
    pub(crate) last_polled: AtomicU64,
    /// The time spent in its polls, in nanoseconds. Written like `polls`.
    pub(crate) busy: AtomicU64,
    /// Who woke it last (`dump::WakeSource` as a byte): stored by the
    /// waker; the last one wins.
    pub(crate) wake_source: AtomicU8,
    /// The done callbacks, in registration order; touched only under the
    /// join lock (`State::lock_join`).
    pub(super) done_callbacks: UnsafeCell<Option<Box<DoneNode>>>,
}

impl Details {
    pub(crate) fn new(name: Option<String>, origin: Option<Origin>) -> Box<Details> {
        Box::new(Details {
            name,
            origin,
            polls: AtomicU32::new(0),
            last_polled: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            wake_source: AtomicU8::new(0),
            done_callbacks: UnsafeCell::new(None),
        })
    }

    /// A poll begins at `now` (the coarse clock): counts it and stamps it.
    /// Returns `now`, for `poll_ended`.
    #[inline]
    pub(crate) fn poll_started(&self, now: u64) -> u64 {
        // Relaxed, load + store: see the fields.
        self.polls.store(self.polls.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        self.last_polled.store(now, Ordering::Relaxed);
        now
    }

    /// The poll that `poll_started` stamped with `started` returned; `now`
    /// is the coarse clock again. A poll during which the coarse clock did
    /// not move (almost all: it moves once per sampling interval) adds
    /// nothing, and reads no clock. One during which it moved reads the
    /// clock once and adds the time since `started`: at least the poll's
    /// length, since the coarse clock only ever lags. Over many short polls
    /// the sum is right on average: a poll of length `d` crosses a tick of
    /// interval `i` with probability `d / i`.
    #[inline]
    pub(crate) fn poll_ended(&self, started: u64, now: u64) {
        if now != started {
            self.add_busy(super::since_epoch(std::time::Instant::now()).saturating_sub(started));
        }
    }

    /// Adds `nanos` to the time spent in polls.
    fn add_busy(&self, nanos: u64) {
        // Relaxed, load + store: see the fields.
        self.busy.store(self.busy.load(Ordering::Relaxed).saturating_add(nanos), Ordering::Relaxed);
    }

    /// Records who woke the task, as a `dump::WakeSource` byte.
    #[inline]
    pub(crate) fn set_wake_source(&self, source: u8) {
        // Relaxed: a statistic; the last store wins.
        self.wake_source.store(source, Ordering::Relaxed);
    }
}
