//! What introspection keeps of a task beyond its id and state: its name,
//! where and when it was spawned, how often and how long it was polled, who
//! woke it last; and its done callbacks, which almost no task has.
//!
//! All of it sits in a record of its own, behind one word of the header
//! (`DetailsSlot`). A task that needs no record (unnamed, without done
//! callbacks, on a loop that does not record task details:
//! `Builder::task_details`, or debug mode) keeps its spawn location in that
//! word instead: it pays one word for all of it and still shows where it
//! was spawned, where keeping the fields in every cell would cost five words
//! more than the whole of an idle async-executor task (docs/architecture.md,
//! "The task cell"). A task spawned with a name or on a recording loop gets
//! its record at spawn, with its spawn time; one that gets its first done
//! callback later gets a record without one, which takes the location over,
//! and its statistics are shown only from then on (`Header::statistics`
//! hides them).
//!
//! The record's statistics are written like the header's were: by the thread
//! holding the task's `RUNNING` bit (polls, poll times) or by its wakers (the
//! wake source), with relaxed plain stores; nothing waits on them.

use super::raw::DoneNode;
use crate::loom::sync::atomic::AtomicPtr;
use crate::loom::UnsafeCell;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// A task's introspection record (see the module docs).
pub(crate) struct Details {
    /// The name it was spawned with, if any.
    pub(crate) name: Option<String>,
    /// The source line that spawned it.
    location: &'static Location<'static>,
    /// When it was spawned, in nanoseconds since `task::EPOCH` on the
    /// loop's coarse clock; meaningless unless `from_spawn` (read it
    /// through `spawned_at`).
    spawned_at: u64,
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
    /// False for a record made after the spawn, for a done callback: it
    /// has no spawn time and its statistics start late. A flag beside
    /// `spawned_at` rather than an `Option<u64>`, which would cost the
    /// record a word; this byte sits in the padding after `wake_source`.
    from_spawn: bool,
    /// The done callbacks, in registration order; touched only under the
    /// join lock (`State::lock_join`).
    pub(super) done_callbacks: UnsafeCell<Option<Box<DoneNode>>>,
    /// Under loom only: a cell nobody writes after `new`, read by every
    /// `DetailsSlot::load` that finds the record, so that loom reports a
    /// load that may not see the record initialized (a Release/Acquire
    /// pair gone missing) as a causality violation.
    #[cfg(loom)]
    initialized: UnsafeCell<()>,
}

impl Details {
    /// The record of a task spawned at `location` at `spawned_at` (the
    /// loop's coarse clock), with its statistics from the start.
    pub(crate) fn at_spawn(
        name: Option<String>,
        location: &'static Location<'static>,
        spawned_at: u64,
    ) -> Box<Details> {
        Details::new(name, location, spawned_at, true)
    }

    /// The record made for a task's first done callback, after its spawn.
    fn after_spawn(location: &'static Location<'static>) -> Box<Details> {
        Details::new(None, location, 0, false)
    }

    fn new(
        name: Option<String>,
        location: &'static Location<'static>,
        spawned_at: u64,
        from_spawn: bool,
    ) -> Box<Details> {
        Box::new(Details {
            name,
            location,
            spawned_at,
            polls: AtomicU32::new(0),
            last_polled: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            wake_source: AtomicU8::new(0),
            from_spawn,
            done_callbacks: UnsafeCell::new(None),
            #[cfg(loom)]
            initialized: UnsafeCell::new(()),
        })
    }

    /// When the task was spawned (nanoseconds since `task::EPOCH`), if
    /// this record was made then: only such a record has the statistics
    /// of the task's whole life.
    pub(crate) fn spawned_at(&self) -> Option<u64> {
        self.from_spawn.then_some(self.spawned_at)
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

/// The header's word for introspection: a pointer to the task's `Details`,
/// or, while it has none, the location that spawned it with its low bit
/// set (`LOCATION_TAG`). So every task can say where it was spawned, for
/// the word that the record's pointer costs anyway.
///
/// | word | meaning |
/// |---|---|
/// | `location` with `LOCATION_TAG` set | no record; spawned at `location` |
/// | `&Details` (tag clear) | the record, which holds the location |
///
/// The spawner sets the word before the task is published (a queue push or
/// a registry insert, which order it before every reader); after that it
/// changes at most once, from a location to a record (`get_or_insert`,
/// under the task's join lock), and never back. The record is freed when
/// the slot drops, with the cell, so a reader holding a reference to the
/// task may keep it for as long as that reference lives.
pub(crate) struct DetailsSlot(AtomicPtr<()>);

/// Set in a `DetailsSlot` that holds a location rather than a record. Both
/// pointees are at least two-byte aligned (checked below), so bit 0 of
/// either address is zero and free to say which one it is.
const LOCATION_TAG: usize = 1;

const _: () = assert!(std::mem::align_of::<Location<'static>>() > LOCATION_TAG);
const _: () = assert!(std::mem::align_of::<Details>() > LOCATION_TAG);

/// What a `DetailsSlot` holds, decoded.
enum Slot<'a> {
    Record(&'a Details),
    Location(&'static Location<'static>),
}

impl DetailsSlot {
    /// A slot holding `location`, for a task spawned without a record:
    /// an `or` on the spawn path, no allocation.
    #[inline]
    pub(crate) fn location(location: &'static Location<'static>) -> DetailsSlot {
        let word = std::ptr::from_ref(location).cast_mut().cast::<()>();
        DetailsSlot(AtomicPtr::new(word.map_addr(|addr| addr | LOCATION_TAG)))
    }

    /// A slot holding `details`, for a task spawned with its record.
    pub(crate) fn record(details: Box<Details>) -> DetailsSlot {
        DetailsSlot(AtomicPtr::new(Box::into_raw(details).cast()))
    }

    /// The task's record, if it has one.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Details> {
        match self.load() {
            Slot::Record(details) => Some(details),
            Slot::Location(_) => None,
        }
    }

    /// Where the task was spawned: the record's location if it has one,
    /// else the one in the word. The same either way, since a record made
    /// late takes it over.
    pub(crate) fn spawn_location(&self) -> &'static Location<'static> {
        match self.load() {
            Slot::Record(details) => details.location,
            Slot::Location(location) => location,
        }
    }

    /// The task's record, made now if it has none, taking over the
    /// location (so a task keeps it when it gets its first done callback
    /// late).
    ///
    /// # Safety
    ///
    /// The caller holds the task's join lock (`State::lock_join`): no other
    /// thread may insert at the same time, or one record would replace the
    /// other while it is read.
    pub(crate) unsafe fn get_or_insert(&self) -> &Details {
        let location = match self.load() {
            Slot::Record(details) => return details,
            Slot::Location(location) => location,
        };
        let details = Box::into_raw(Details::after_spawn(location));
        // Release pairs with the Acquire in `load`: a waker, the poller or
        // a dump that sees the record sees it initialized. The caller's
        // join lock orders this store before the next holder's `load`.
        self.0.store(details.cast(), Ordering::Release);
        // SAFETY: just made from a `Box`; freed only when the slot drops,
        // which `&self` outlives.
        unsafe { &*details }
    }

    #[inline]
    fn load(&self) -> Slot<'_> {
        // Acquire pairs with the Release in `get_or_insert`, for a record
        // made after the spawn; a location needs none (static data that
        // never changes), nor does a word set at spawn (published with the
        // task). A reader that races with the insert sees the location
        // (the same one the record holds) and no record: it misses a
        // statistic of a record whose statistics start late anyway.
        let word = self.0.load(Ordering::Acquire);
        if word.addr() & LOCATION_TAG != 0 {
            let location = word.map_addr(|addr| addr & !LOCATION_TAG).cast::<Location<'static>>();
            // SAFETY: a tagged word was made by `location` from a
            // `&'static Location`; clearing the tag gives that pointer back.
            Slot::Location(unsafe { &*location })
        } else {
            // SAFETY: an untagged word came from `Box::into_raw` (`record`
            // or `get_or_insert`) and is freed only when the slot drops,
            // which `&self` outlives.
            let details = unsafe { &*word.cast::<Details>() };
            // Tells the compiler what `Box::into_raw` guarantees, so that
            // testing the `Option` this becomes is testing the tag: without
            // it, `task::raw::run`, which keeps the `Option` across the
            // poll, spends two instructions a poll (not one) turning a
            // tagged word into the null of `None` (docs/benchmarks.md).
            // SAFETY: as above, the word is a `Box`'s address: never null.
            unsafe { std::hint::assert_unchecked(!word.is_null()) };
            #[cfg(loom)]
            details.initialized.with(|_| ());
            Slot::Record(details)
        }
    }
}

impl Drop for DetailsSlot {
    fn drop(&mut self) {
        // Relaxed: `&mut self` is the last access, ordered after every
        // store by the AcqRel `ref_dec` that released the task's last
        // reference (a load rather than `get_mut`, which loom's atomics
        // lack).
        let word = self.0.load(Ordering::Relaxed);
        if word.addr() & LOCATION_TAG == 0 {
            // SAFETY: an untagged word is a record made by `Box::into_raw`
            // that nothing else frees, and this is its last use.
            drop(unsafe { Box::from_raw(word.cast::<Details>()) });
        }
    }
}
