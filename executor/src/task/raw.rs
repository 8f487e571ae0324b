//! The task cell (one allocation per task) and the type-erased functions that
//! poll, complete, cancel and free it.
//!
//! Layout: `Cell<F, S>` is `#[repr(C)]` with the `Header` first, so a
//! `NonNull<Header>` can be cast back to the cell by the functions in the
//! header's vtable, which were instantiated for the right `F` and `S`.

use super::details::{Details, DetailsSlot};
use super::state::{Outcome, State, TransitionToIdle, TransitionToNotified, TransitionToRunning};
use super::{Notified, Schedule, TaskId, TaskRef};
use crate::error::TaskError;
use crate::loom::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// The part of a task every thread may look at without knowing its types.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: TaskId,
    /// The task's introspection record, or its spawn location while it has
    /// none (see `DetailsSlot`): set at spawn, or later by a holder of the
    /// join lock, and freed with the cell.
    details: DetailsSlot,
    /// The task's neighbours in its registry shard's list (previous,
    /// next); read and written only under that shard's lock.
    links: std::cell::UnsafeCell<[Option<NonNull<Header>>; 2]>,
}

/// The functions that need the task's concrete types.
pub(crate) struct Vtable {
    /// Runs a dequeued task; consumes the queue entry's reference.
    pub(crate) run: unsafe fn(NonNull<Header>),
    /// Hands the task to its scheduler; consumes one reference.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Frees the cell; the reference count has reached zero.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// `Task<T>::poll`: writes `Poll<Result<T, TaskError>>` to the pointer.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// `Task<T>::poll_complete`: true if complete, else registers the waker
    /// (leaving the output in place).
    pub(crate) poll_complete: unsafe fn(NonNull<Header>, &Waker) -> bool,
    /// `Task<T>::take_result` after COMPLETE: writes
    /// `Option<Result<T, TaskError>>` (None if already taken).
    pub(crate) take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// `Task<T>::try_result` after COMPLETE: calls the visitor with a
    /// `*const Result<T, TaskError>` (null if already taken), leaving the
    /// output in place.
    pub(crate) read_output: unsafe fn(NonNull<Header>, &mut dyn FnMut(*const ())),
    /// `Task<T>::drop`: gives up the output and the handle's reference.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>),
    /// The loop is closing: drop the future now unless someone is polling it.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
    /// Registers a done callback, or schedules it at once if the task is done.
    /// Returns false if the task is done and its output was taken (there
    /// is nothing left to hand the callback).
    pub(crate) add_done_callback: unsafe fn(NonNull<Header>, OnDone) -> bool,
}

/// A done callback: runs once the task has completed.
pub(crate) type DoneCallback = Box<dyn FnOnce() + Send>;

/// A done callback as registered: called once with a pointer to the task's
/// output (a `*const Result<F::Output, TaskError>`, valid for the call), it
/// makes its own copy of the outcome and returns what runs on the loop.
pub(crate) type OnDone = Box<dyn FnOnce(*const ()) -> DoneCallback + Send>;

/// One link of the done-callback chain, in registration order. A chain
/// rather than a `Vec`, so that the record of a task without done callbacks
/// pays one word for them.
pub(crate) struct DoneNode {
    callback: OnDone,
    next: Option<Box<DoneNode>>,
}

/// Appends `callback` to the chain at `head`.
fn push_done_callback(head: &mut Option<Box<DoneNode>>, callback: OnDone) {
    let mut tail = head;
    while let Some(node) = tail {
        tail = &mut node.next;
    }
    *tail = Some(Box::new(DoneNode { callback, next: None }));
}

impl Iterator for DoneChain {
    type Item = OnDone;

    fn next(&mut self) -> Option<OnDone> {
        let node = self.0.take()?;
        self.0 = node.next;
        Some(node.callback)
    }
}

/// Drains a done-callback chain front to back.
struct DoneChain(Option<Box<DoneNode>>);

/// The future, then its output, in the same bytes: a union rather than an
/// enum, whose tag would cost the cell a word. Which one it holds follows
/// from the state word: the future until `COMPLETE` (its owner drops it on
/// the way there, so an owner that has just dropped it knows it is gone),
/// then the output until `OUTPUT_TAKEN`.
union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Result<F::Output, TaskError>>,
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    /// The waker of whoever awaits the `Task` handle; touched only under
    /// the join lock (`State::lock_join`). The done callbacks, which almost
    /// no task has, are in the task's `Details`.
    join_waker: UnsafeCell<Option<Waker>>,
}

/// Allocates the cell and returns a pointer holding the initial references
/// (see `state::INITIAL`). Neither `F` nor its output need be `Send` here:
/// `task::new_task` requires both, and `task::new_local_task` instead makes
/// its caller keep the task on one thread.
pub(crate) fn allocate<F, S>(future: F, scheduler: S, id: TaskId, details: DetailsSlot) -> NonNull<Header>
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: vtable::<F, S>(),
            id,
            details,
            links: std::cell::UnsafeCell::new([None, None]),
        },
        scheduler,
        stage: UnsafeCell::new(Stage { future: ManuallyDrop::new(future) }),
        join_waker: UnsafeCell::new(None),
    });
    NonNull::from(Box::leak(cell)).cast()
}

fn vtable<F, S>() -> &'static Vtable
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    &Vtable {
        run: run::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        poll_complete: poll_complete::<F, S>,
        take_output: take_output_into::<F, S>,
        read_output: read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
        add_done_callback: add_done_callback::<F, S>,
    }
}

/// Borrows the cell behind a header pointer.
///
/// # Safety
///
/// `ptr` must come from `allocate::<F, S>` and the caller must hold a
/// reference, so the cell is alive for `'a`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: the header is the first field of a `#[repr(C)]` `Cell<F, S>`
    // (caller's contract), and the caller's reference keeps it allocated.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Runs a dequeued task: the vtable's `run`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>`, and the caller hands over one
/// reference (a queue entry's).
unsafe fn run<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the queue entry's
    // reference (consumed below) keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let entry = TaskRef::from_raw(ptr);
    match cell.header.state.transition_to_running() {
        TransitionToRunning::Poll => {}
        TransitionToRunning::Cancel => {
            cancel_and_complete(cell);
            // Dropped here, not inside `cancel_and_complete`: it may be the
            // last reference, and freeing the cell while a function still
            // holds `&Cell` as an argument is undefined behaviour.
            return drop(entry);
        }
        TransitionToRunning::Skip => return drop(entry),
    }

    // A task without a record (almost all) pays a load and two branches
    // for its statistics.
    let stamped = cell.header.details().map(|details| (details, details.poll_started(cell.scheduler.coarse_now())));
    let waker = super::waker::waker_ref(ptr);
    let mut cx = Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives this thread exclusive access to the
            // stage, which holds the future: the task is not complete. The
            // future lives inside the heap cell and is never moved until it
            // is dropped in place, so it is pinned.
            unsafe { Pin::new_unchecked(&mut *(*stage).future) }.poll(&mut cx)
        })
    }));
    if let Some((details, started)) = stamped {
        details.poll_ended(started, cell.scheduler.coarse_now());
    }
    match polled {
        Ok(Poll::Ready(output)) => match drop_future(cell) {
            Ok(()) => complete(cell, Ok(output)),
            // Its `Drop` panicked: that is how the task ended.
            Err(payload) => complete(cell, Err(TaskError::Panicked(payload))),
        },
        Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
            // The transition released the queue entry's reference already.
            TransitionToIdle::Idle => std::mem::forget(entry),
            TransitionToIdle::Reschedule => {
                // It woke itself (or was woken) while running: it goes to the
                // back of the queue, never the LIFO slot, so that a task that
                // keeps yielding cannot starve the others. The new entry has
                // the reference the transition added; `entry` keeps the cell
                // alive until `yield_now` returns.
                cell.scheduler.yield_now(Notified(TaskRef::from_raw(ptr)));
                drop(entry);
            }
            TransitionToIdle::Cancel => {
                cancel_and_complete(cell);
                drop(entry);
            }
        },
        Err(payload) => {
            // The future may be in any state after a panic; drop it now.
            let output = match drop_future(cell) {
                Ok(()) => Err(TaskError::Panicked(payload)),
                Err(drop_payload) => Err(TaskError::Panicked(drop_payload)),
            };
            complete(cell, output);
            drop(entry);
        }
    }
}

/// Drops the future in place, catching a panic from its `Drop`.
fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> std::thread::Result<()> {
    catch_unwind(AssertUnwindSafe(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: the caller holds RUNNING (or is the shutdown owner),
            // which gives exclusive access to the stage, and has not dropped
            // the future yet (it completes the task next).
            unsafe { ManuallyDrop::drop(&mut (*stage).future) };
        })
    }))
}

/// The caller owns the future (RUNNING is set) and cancellation won: drop the
/// future and complete the task as cancelled.
///
/// The caller's reference keeps the cell alive across the call; the caller
/// releases it afterwards, once no `&Cell` argument is live.
fn cancel_and_complete<F, S>(cell: &Cell<F, S>)
where
    F: Future,
    S: Schedule,
{
    match drop_future(cell) {
        Ok(()) => complete(cell, Err(TaskError::Cancelled)),
        Err(payload) => complete(cell, Err(TaskError::Panicked(payload))),
    }
}

/// Stores the output, publishes COMPLETE, hands the output to whoever owns
/// it now, and releases the registry's reference.
fn complete<F, S>(cell: &Cell<F, S>, output: Result<F::Output, TaskError>)
where
    F: Future,
    S: Schedule,
{
    // Leave the registry first, so that whoever sees the task complete also
    // sees it gone from `Handle::num_tasks`. The caller's own reference keeps
    // the cell alive.
    if let Some(registered) = cell.scheduler.release(&cell.header) {
        drop(registered);
    }
    let outcome = match &output {
        Ok(_) => Outcome::Value,
        Err(TaskError::Cancelled) => Outcome::Cancelled,
        Err(TaskError::Panicked(_)) => Outcome::Panicked,
    };
    // Publishing COMPLETE and taking the waker and the callbacks under the
    // lock pairs with `try_read_output` and `add_done_callback`, which
    // check COMPLETE under the same lock before storing theirs: either they
    // saw COMPLETE, or we see what they stored. The done callbacks copy the
    // output before COMPLETE, while this thread still owns it (RUNNING): the
    // handle may take it the moment it sees COMPLETE.
    let (before, waker, callbacks) = {
        let mut join = JoinGuard::lock(cell);
        let chain = join.take_done_callbacks();
        let callbacks: Vec<DoneCallback> = cell.stage.with_mut(|stage| {
            // SAFETY: RUNNING is still set, so the stage is ours; the caller
            // dropped the future.
            let output: *const Result<F::Output, TaskError> = unsafe {
                (*stage).output = ManuallyDrop::new(output);
                &*(*stage).output
            };
            match chain {
                // A task without done callbacks (almost all) allocates
                // nothing and walks nothing.
                None => Vec::new(),
                head => DoneChain(head).map(|on_done| prepare_done_callback(on_done, output.cast())).collect(),
            }
        });
        let before = cell.header.state.transition_to_complete(outcome);
        (before, join.with_waker(Option::take), callbacks)
    };
    let has_callbacks = !callbacks.is_empty();
    for callback in callbacks {
        cell.scheduler.defer(callback);
    }
    if let Some(waker) = waker {
        if has_callbacks {
            // asyncio's awaiter is itself a done callback, added when it
            // awaited: it resumes after the callbacks added before. So the
            // wake queues behind them (callbacks run in FIFO order, one at a
            // time), and `block_on(task)` returns after they ran. Woken on
            // drop too: a closed loop drops the callback unrun, and the
            // awaiter must still learn that the task is done.
            let wake = WakeOnDrop(waker);
            cell.scheduler.defer(Box::new(move || drop(wake)));
        } else if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            // The join waker is foreign code (whoever awaits the handle, maybe
            // another runtime): its panic must not unwind into this worker,
            // which would die holding its queue. `catch_unwind` costs nothing
            // unless it catches.
            cell.scheduler.waker_panicked(&cell.header, payload);
        }
    }
    if !before.has_join_interest() {
        // The handle is gone and will not come back: nobody else can reach
        // the stage, so dropping the output is ours to do.
        let output = take_output(cell);
        drop_output(cell, output);
    }
}

/// Lets a done callback copy the outcome at `output`. A panic in that copy
/// (a `Clone` impl) is raised again where the callback would have run, so
/// the loop reports it as the callback's.
fn prepare_done_callback(on_done: OnDone, output: *const ()) -> DoneCallback {
    match catch_unwind(AssertUnwindSafe(move || on_done(output))) {
        Ok(callback) => callback,
        Err(payload) => Box::new(move || std::panic::resume_unwind(payload)),
    }
}

/// Wakes its waker when dropped, whether or not it ran as a callback.
struct WakeOnDrop(Waker);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.wake_by_ref();
    }
}

/// Takes the output out of a complete task, or `None` if it was taken.
/// Only called by the thread that owns the output: the completer when there
/// is no handle, or the handle after `COMPLETE`.
fn take_output<F: Future, S>(cell: &Cell<F, S>) -> Option<Result<F::Output, TaskError>> {
    let state = cell.header.state.load();
    debug_assert!(state.is_complete());
    if state.is_output_taken() {
        return None;
    }
    cell.header.state.set_output_taken();
    cell.stage.with_mut(|stage| {
        // SAFETY: as above, the output is ours, and it was still there.
        Some(unsafe { ManuallyDrop::take(&mut (*stage).output) })
    })
}

/// Drops an output nobody will read, reporting a panic nobody observed.
fn drop_output<F: Future, S: Schedule>(cell: &Cell<F, S>, output: Option<Result<F::Output, TaskError>>) {
    match output {
        Some(Err(TaskError::Panicked(payload))) => cell.scheduler.unhandled_panic(&cell.header, payload),
        Some(other) => {
            // A value's `Drop` may panic; that must not unwind into a worker.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(other))) {
                cell.scheduler.unhandled_panic(&cell.header, payload);
            }
        }
        None => {}
    }
}

/// Hands the task to its scheduler: the vtable's `schedule`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>`, and the caller hands over one
/// reference, which becomes the queue entry's.
unsafe fn schedule<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the caller hands over a
    // reference, which the queue entry now owns.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.schedule(Notified(TaskRef::from_raw(ptr)));
}

/// Frees the cell: the vtable's `dealloc`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>` and its reference count is zero.
unsafe fn dealloc<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the reference count reached zero, so this is the only pointer
    // left, and it came from `Box::leak` in `allocate::<F, S>`.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    let state = cell.header.state.load();
    cell.stage.with_mut(|stage| {
        // SAFETY: the last reference is ours, so is the stage; the state
        // word says what it holds (see `Stage`).
        unsafe {
            if !state.is_complete() {
                ManuallyDrop::drop(&mut (*stage).future);
            } else if !state.is_output_taken() {
                ManuallyDrop::drop(&mut (*stage).output);
            }
        }
    });
    // Every path to here consumed or dropped the future already (a task
    // refused by a closed loop goes through `shutdown` too); what is left is
    // an output nobody took, or nothing. The exceptions hold futures that
    // were never polled: strict mode's callback cells dropped with a closed
    // loop's queue, and `block_on`'s stand-in task.
    drop(cell);
}

/// `Task<T>::poll`: the vtable's `try_read_output`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>`, the caller is the task's handle
/// (holding a reference and JOIN_INTEREST), and `dst` points to a
/// `Poll<Result<F::Output, TaskError>>`.
unsafe fn try_read_output<F, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the handle's reference
    // keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if !register_unless_complete(cell, waker) {
        return;
    }
    // COMPLETE with JOIN_INTEREST: the output is the handle's alone.
    let output = take_output(cell).expect("`Task` polled after it returned its result");
    // SAFETY: `Task<F::Output>::poll` passes a valid `*mut Poll<..>` of
    // exactly this type (the only caller).
    unsafe { *dst.cast::<Poll<Result<F::Output, TaskError>>>() = Poll::Ready(output) };
}

/// `Task<T>::poll_complete`: the vtable's `poll_complete`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>` and the caller is the task's handle
/// (holding a reference and JOIN_INTEREST, so the join waker is its own).
unsafe fn poll_complete<F, S>(ptr: NonNull<Header>, waker: &Waker) -> bool
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the handle's reference
    // keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    register_unless_complete(cell, waker)
}

/// Returns true if the task is complete; otherwise stores `waker` to be
/// woken when it is.
fn register_unless_complete<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    if cell.header.state.load().is_complete() {
        return true;
    }
    let mut join = JoinGuard::lock(cell);
    // Checked again under the lock; see `complete`.
    if cell.header.state.load().is_complete() {
        return true;
    }
    let replaced = join.with_waker(|slot| match slot.as_ref() {
        Some(existing) if existing.will_wake(waker) => None,
        _ => slot.replace(waker.clone()),
    });
    drop(join);
    // A waker's drop may run arbitrary code: not under the lock.
    drop(replaced);
    false
}

/// `Task<T>::try_result`: the vtable's `read_output`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>`, the caller is the task's handle
/// (holding a reference and JOIN_INTEREST) through a shared borrow, and the
/// task is complete.
unsafe fn read_output<F, S>(ptr: NonNull<Header>, visit: &mut dyn FnMut(*const ()))
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the handle's reference
    // keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.load().is_output_taken() {
        return visit(std::ptr::null());
    }
    cell.stage.with(|stage| {
        // SAFETY: COMPLETE with JOIN_INTEREST, and not taken: the stage
        // holds the output, only the handle touches it now, and it moves the
        // output out only through `&mut` or by value, never while this
        // shared borrow lasts.
        let output: *const Result<F::Output, TaskError> = unsafe { &*(*stage).output };
        visit(output.cast())
    })
}

/// `Task<T>::take_result`: the vtable's `take_output`.
///
/// # Safety
///
/// As for `try_read_output`, the task is complete, and `dst` points to an
/// `Option<Result<F::Output, TaskError>>`.
unsafe fn take_output_into<F, S>(ptr: NonNull<Header>, dst: *mut ())
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the handle's reference
    // keeps the cell alive, and the caller checked COMPLETE.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: `Task<F::Output>::take_result` passes a valid pointer of this type.
    unsafe { *dst.cast::<Option<Result<F::Output, TaskError>>>() = take_output(cell) };
}

/// `Task<T>::drop`: the vtable's `drop_join_handle`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>`, and the caller is the task's handle,
/// giving up its reference and JOIN_INTEREST.
unsafe fn drop_join_handle<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the handle's reference,
    // released at the end, keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let handle_ref = TaskRef::from_raw(ptr);
    if cell.header.state.unset_join_interest().is_complete() {
        // The completer saw JOIN_INTEREST and left the output to us.
        let output = take_output(cell);
        drop_output(cell, output);
    }
    let waker = JoinGuard::lock(cell).with_waker(Option::take);
    drop(waker);
    drop(handle_ref);
}

/// `Task<T>::add_done_callback`: the vtable's `add_done_callback`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>`, the caller is the task's handle
/// (holding a reference and JOIN_INTEREST) through a shared borrow, and
/// `on_done` reads a `Result<F::Output, TaskError>`.
unsafe fn add_done_callback<F, S>(ptr: NonNull<Header>, on_done: OnDone) -> bool
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the caller (a `Task`
    // handle) holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    {
        let mut join = JoinGuard::lock(cell);
        if !cell.header.state.load().is_complete() {
            join.push_done_callback(on_done);
            return true;
        }
    }
    // Complete, with JOIN_INTEREST: the output is the handle's, and the
    // caller is the handle, through a shared borrow that excludes its takes.
    if cell.header.state.load().is_output_taken() {
        return false;
    }
    let callback = cell.stage.with(|stage| {
        // SAFETY: as above, and the output is there (not taken); only a
        // shared read.
        let output: *const Result<F::Output, TaskError> = unsafe { &*(*stage).output };
        Some(prepare_done_callback(on_done, output.cast()))
    });
    match callback {
        Some(callback) => {
            cell.scheduler.defer(callback);
            true
        }
        None => false,
    }
}

/// Cancels the task as the loop closes: the vtable's `shutdown`.
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>`, and the caller hands over one
/// reference (the registry's, or one its owner's registry handed out).
unsafe fn shutdown<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the vtable was built for these types; the reference the
    // caller hands over keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let registered = TaskRef::from_raw(ptr);
    if !cell.scheduler.may_drop_future_here() {
        // A local task of another thread: only that thread may drop its
        // future. Cancelled, it is queued to that thread, which drops it
        // when it runs it, or when that thread leaves the loop.
        cancel(ptr);
        return drop(registered);
    }
    if cell.header.state.transition_to_shutdown() {
        cancel_and_complete(cell);
    }
    // Possibly the last reference: released here, as in `run`.
    drop(registered);
}

/// Wakes the task by reference (the `Waker::wake_by_ref` path).
///
/// Takes the pointer the caller's reference came with, not `&Header`:
/// `schedule` casts it back to the whole cell, which a pointer derived from
/// a `&Header` has no right to reach (Stacked Borrows confines it to the
/// header's bytes).
pub(crate) fn wake_by_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller holds (or borrows) a reference, so the header is alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified_by_ref() == TransitionToNotified::Submit {
        // SAFETY: the transition added the reference `schedule` consumes.
        unsafe { (header.vtable.schedule)(ptr) };
    }
}

/// Requests cancellation; see `Task::cancel`. Takes the pointer for the
/// reason `wake_by_ref` does.
pub(crate) fn cancel(ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller holds a reference, so the header is alive.
    let header = unsafe { ptr.as_ref() };
    let (counted, action) = header.state.transition_to_cancel_requested();
    if action == TransitionToNotified::Submit {
        // SAFETY: the transition added the reference `schedule` consumes.
        unsafe { (header.vtable.schedule)(ptr) };
    }
    counted
}

/// The join lock, held (`State::lock_join`): the right to touch the join
/// waker and the done callbacks. Released when dropped, on unwinding too.
struct JoinGuard<'a, F: Future, S> {
    cell: &'a Cell<F, S>,
}

impl<'a, F: Future, S> JoinGuard<'a, F, S> {
    fn lock(cell: &'a Cell<F, S>) -> JoinGuard<'a, F, S> {
        cell.header.state.lock_join();
        JoinGuard { cell }
    }

    fn with_waker<R>(&mut self, f: impl FnOnce(&mut Option<Waker>) -> R) -> R {
        // SAFETY: the join lock gives this thread exclusive access to the
        // join waker.
        self.cell.join_waker.with_mut(|waker| f(unsafe { &mut *waker }))
    }

    fn push_done_callback(&mut self, callback: OnDone) {
        // SAFETY: this guard holds the join lock.
        let details = unsafe { self.cell.header.details.get_or_insert() };
        // SAFETY: the join lock gives this thread exclusive access to the
        // done callbacks.
        details.done_callbacks.with_mut(|head| push_done_callback(unsafe { &mut *head }, callback));
    }

    fn take_done_callbacks(&mut self) -> Option<Box<DoneNode>> {
        let details = self.cell.header.details()?;
        // SAFETY: as in `push_done_callback`.
        details.done_callbacks.with_mut(|head| unsafe { (*head).take() })
    }
}

impl<F: Future, S> Drop for JoinGuard<'_, F, S> {
    fn drop(&mut self) {
        self.cell.header.state.unlock_join();
    }
}

impl Header {
    /// The task's introspection record, if it has one.
    #[inline]
    pub(crate) fn details(&self) -> Option<&Details> {
        self.details.get()
    }

    /// The source line that spawned the task; every task has one.
    pub(crate) fn spawn_location(&self) -> &'static std::panic::Location<'static> {
        self.details.spawn_location()
    }

    /// The task's name: the one it was spawned with, or `Task-{id}`.
    pub(crate) fn name(&self) -> String {
        match self.details().and_then(|details| details.name.as_deref()) {
            Some(name) => name.to_owned(),
            None => format!("Task-{}", self.id.0),
        }
    }
}

/// Releases a reference, freeing the cell if it was the last one.
pub(crate) fn drop_reference(ptr: NonNull<Header>) {
    // SAFETY: the caller owns a reference, so the header is alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

/// The registry's links (see `scheduler::registry`).
impl Header {
    /// The previous task in the registry shard's list.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the task's registry shard.
    pub(crate) unsafe fn prev(&self) -> Option<NonNull<Header>> {
        // SAFETY: the shard's lock, which the caller holds, guards the links.
        unsafe { (*self.links.get())[0] }
    }

    /// The next task in the registry shard's list.
    ///
    /// # Safety
    ///
    /// As for `prev`.
    pub(crate) unsafe fn next(&self) -> Option<NonNull<Header>> {
        // SAFETY: as in `prev`.
        unsafe { (*self.links.get())[1] }
    }

    /// Sets both links.
    ///
    /// # Safety
    ///
    /// As for `prev`.
    pub(crate) unsafe fn set_links(&self, prev: Option<NonNull<Header>>, next: Option<NonNull<Header>>) {
        // SAFETY: as in `prev`; no reference to the links outlives a call.
        unsafe { *self.links.get() = [prev, next] };
    }
}
