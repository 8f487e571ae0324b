//! The task waker: two words (the header pointer and this vtable), each clone
//! one counted reference.

use super::raw::{self, drop_reference, Header};
use super::state::TransitionToNotified;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker borrowed for one poll: it owns no reference (the poller's queue
/// entry keeps the task alive), so it must not be dropped as a `Waker`.
pub(super) struct WakerRef(ManuallyDrop<Waker>);

impl Deref for WakerRef {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        &self.0
    }
}

pub(super) fn waker_ref(ptr: NonNull<Header>) -> WakerRef {
    // SAFETY: the vtable's contract holds for a task header pointer: `clone`
    // adds a reference, `wake` and `drop` consume one; `ManuallyDrop` keeps
    // this borrowed waker from consuming the reference it does not own.
    WakerRef(ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &VTABLE)) }))
}

/// The address of the task `waker` wakes, if it is a loopwork task's own
/// waker: how a dump matches the timers and I/O waiters the reactor holds
/// with the tasks. Only compared, never dereferenced.
pub(crate) fn task_address(waker: &Waker) -> Option<usize> {
    if std::ptr::eq(waker.vtable(), &VTABLE) {
        return Some(waker.data() as usize);
    }
    // With the `tracing` feature a task's future sees a counting waker.
    #[cfg(feature = "tracing")]
    return crate::tracing::task_address(waker);
    #[cfg(not(feature = "tracing"))]
    None
}

/// # Safety
///
/// `data` is a live task header pointer whose reference the caller holds.
unsafe fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: per the contract, `data` points to a live header.
    unsafe { &*(data as *const Header) }
}

/// The `RawWakerVTable`'s `clone`: one more reference.
///
/// # Safety
///
/// `data` is a live task header pointer whose reference the caller holds.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds (or borrows) a reference.
    unsafe { header(data) }.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

/// The `RawWakerVTable`'s `wake`: consumes the waker's reference.
///
/// # Safety
///
/// `data` is a task header pointer with a reference the caller gives up.
unsafe fn wake(data: *const ()) {
    // SAFETY: a waker owns one reference, consumed here. The pointer keeps
    // the provenance of the whole cell (see `raw::wake_by_ref`).
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above, the header is alive.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_val() {
        TransitionToNotified::Submit => {
            // SAFETY: the transition added the reference `schedule` hands to
            // the queue entry; the waker's own keeps the cell alive meanwhile.
            unsafe { (header.vtable.schedule)(ptr) };
            drop_reference(ptr);
        }
        TransitionToNotified::DoNothing => {}
        // SAFETY: the transition dropped the last reference.
        TransitionToNotified::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
    }
}

/// The `RawWakerVTable`'s `wake_by_ref`.
///
/// # Safety
///
/// `data` is a live task header pointer whose reference the caller holds.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds (or borrows) a reference; `data` is non-null.
    raw::wake_by_ref(unsafe { NonNull::new_unchecked(data as *mut Header) });
}

/// The `RawWakerVTable`'s `drop`: releases the waker's reference.
///
/// # Safety
///
/// `data` is a task header pointer with a reference the caller gives up.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: a waker owns one reference; `data` is a non-null header.
    drop_reference(unsafe { NonNull::new_unchecked(data as *mut Header) });
}
