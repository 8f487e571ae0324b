//! `tracing` integration, behind the `tracing` feature: a span per task,
//! entered on every poll, and events for a task's spawn, completion,
//! cancellation, panic, and lost wake-up; slow polls are reported as events
//! too. Without the feature this module is not compiled and nothing of it
//! is left on the spawn or poll paths.
//!
//! Names follow tokio's where they fit, so existing subscribers and filters
//! work: the span is `runtime.spawn` with target `tokio::task` and the
//! fields `kind`, `task.name`, `task.id`, `loc.file`, `loc.line`,
//! `loc.col`. Events have the target `loopwork::task`, an `op` naming
//! them (`task.spawn`, `task.complete`, `task.cancel`, `task.panic`,
//! `task.slow_poll`, `task.lost_wakeup`), as tokio's waker events do, and
//! a `task.id`.
//!
//! A lost wake-up is a task left pending with no live waker: nothing can
//! ever wake it. The task's future is wrapped so that the waker it sees is
//! one of ours, which counts its clones; when the last clone is dropped
//! while the task is pending and was not woken, the event is emitted.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// A task's future, instrumented.
pub(crate) struct Traced<F> {
    inner: F,
    span: ::tracing::Span,
    watch: Arc<Watch>,
    id: u64,
}

/// What the counting waker shares with the task.
struct Watch {
    /// The task's own waker, as of its latest poll.
    waker: parking_lot::Mutex<Option<Waker>>,
    /// Clones of the counting waker alive (the borrowed one of a poll is
    /// not counted).
    live: AtomicUsize,
    /// Woken since its latest poll began.
    woken: AtomicBool,
    /// Its latest poll returned `Pending`.
    pending: AtomicBool,
    /// The future completed or is being dropped: wakers going away then
    /// are no loss.
    finished: AtomicBool,
    id: u64,
    /// The task's header address, once allocated: how a dump recognizes
    /// this waker as the task's.
    task: AtomicUsize,
}

// Relaxed throughout `Watch`: the flags feed a diagnostic; a race makes it
// at worst miss or repeat one event, never affects the task.

impl Watch {
    fn wake(&self) {
        self.woken.store(true, Ordering::Relaxed);
        if let Some(waker) = self.waker.lock().as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Called when no counted waker is left.
    fn check_lost(&self) {
        let lost = self.pending.load(Ordering::Relaxed)
            && !self.woken.load(Ordering::Relaxed)
            && !self.finished.load(Ordering::Relaxed)
            && self.live.load(Ordering::Relaxed) == 0;
        if lost {
            ::tracing::warn!(
                target: "loopwork::task",
                op = "task.lost_wakeup",
                task.id = self.id,
                "the task is pending and its last waker was dropped without waking it; nothing can wake it again"
            );
        }
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// # Safety
///
/// `data` comes from `Arc::<Watch>::into_raw` or `Arc::as_ptr` of a `Watch`
/// that the caller keeps alive.
unsafe fn watch<'a>(data: *const ()) -> &'a Watch {
    // SAFETY: per the contract, `data` points to a live `Watch`.
    unsafe { &*(data as *const Watch) }
}

/// # Safety
///
/// As `watch`.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the caller's waker keeps the `Watch` alive.
    let watch = unsafe { watch(data) };
    watch.live.fetch_add(1, Ordering::Relaxed);
    // SAFETY: every counted waker owns one strong count of the `Arc`.
    unsafe { Arc::increment_strong_count(data as *const Watch) };
    RawWaker::new(data, &VTABLE)
}

/// # Safety
///
/// `data` is a counted waker's, whose strong count this consumes.
unsafe fn wake(data: *const ()) {
    // SAFETY: the waker being consumed keeps the `Watch` alive until the end.
    unsafe { watch(data) }.wake();
    // SAFETY: as above; `drop_waker` releases its count.
    unsafe { drop_waker(data) };
}

/// # Safety
///
/// As `watch`.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the caller's waker keeps the `Watch` alive.
    unsafe { watch(data) }.wake();
}

/// # Safety
///
/// `data` is a counted waker's, whose strong count this consumes.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker owns one strong count, released here.
    let watch = unsafe { Arc::from_raw(data as *const Watch) };
    if watch.live.fetch_sub(1, Ordering::Relaxed) == 1 {
        watch.check_lost();
    }
}

/// Wraps a task's future with its span and its counting waker, and emits
/// the spawn event.
pub(crate) fn instrument<F: Future>(
    future: F,
    id: u64,
    name: &str,
    location: &'static Location<'static>,
) -> (Traced<F>, TracedTask) {
    let span = ::tracing::trace_span!(
        target: "tokio::task",
        parent: None,
        "runtime.spawn",
        kind = "task",
        task.name = name,
        task.id = id,
        loc.file = location.file(),
        loc.line = location.line(),
        loc.col = location.column(),
    );
    ::tracing::trace!(target: "loopwork::task", parent: &span, op = "task.spawn", task.id = id);
    let watch = Arc::new(Watch {
        waker: parking_lot::Mutex::new(None),
        live: AtomicUsize::new(0),
        woken: AtomicBool::new(false),
        pending: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        id,
        task: AtomicUsize::new(0),
    });
    (Traced { inner: future, span, watch: watch.clone(), id }, TracedTask(watch))
}

/// Where `instrument` learns which task its future was allocated in.
pub(crate) struct TracedTask(Arc<Watch>);

impl TracedTask {
    /// Records the task's header, for dumps.
    pub(crate) fn allocated_in(self, task: &crate::task::Header) {
        self.0.task.store(task as *const crate::task::Header as usize, Ordering::Relaxed);
    }
}

/// The address of the task whose counting waker `waker` is, if it is one.
pub(crate) fn task_address(waker: &Waker) -> Option<usize> {
    if !std::ptr::eq(waker.vtable(), &VTABLE) {
        return None;
    }
    // SAFETY: a waker with this vtable holds (or borrows) a count of its
    // `Watch`, alive while `waker` is.
    let address = unsafe { watch(waker.data()) }.task.load(Ordering::Relaxed);
    (address != 0).then_some(address)
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of
        // `Traced`, and `Traced` has no `Unpin` impl of its own making it
        // movable while `inner` is pinned; the other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let _entered = this.span.enter();
        let watch = &this.watch;
        {
            let mut waker = watch.waker.lock();
            if !waker.as_ref().is_some_and(|current| current.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
        }
        watch.woken.store(false, Ordering::Relaxed);
        watch.pending.store(false, Ordering::Relaxed);
        // A borrowed counting waker: it owns no count (`ManuallyDrop`), the
        // `Arc` in `this.watch` keeps the `Watch` alive through the poll.
        // SAFETY: the vtable's contract holds for a `Watch` pointer (see the
        // functions above); `ManuallyDrop` keeps this uncounted waker from
        // releasing a count it does not own.
        let counting = std::mem::ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(Arc::as_ptr(watch) as *const (), &VTABLE))
        });
        let mut counting_cx = Context::from_waker(&counting);

        /// Emits the panic event if the poll unwinds (the future is then
        /// dropped, which is no cancellation).
        struct PanicGuard<'a>(&'a Watch);
        impl Drop for PanicGuard<'_> {
            fn drop(&mut self) {
                self.0.finished.store(true, Ordering::Relaxed);
                ::tracing::warn!(target: "loopwork::task", op = "task.panic", task.id = self.0.id);
            }
        }
        let guard = PanicGuard(watch);
        let polled = inner.poll(&mut counting_cx);
        std::mem::forget(guard);
        match polled {
            Poll::Ready(output) => {
                watch.finished.store(true, Ordering::Relaxed);
                ::tracing::trace!(target: "loopwork::task", op = "task.complete", task.id = this.id);
                Poll::Ready(output)
            }
            Poll::Pending => {
                watch.pending.store(true, Ordering::Relaxed);
                watch.check_lost();
                Poll::Pending
            }
        }
    }
}

impl<F> Drop for Traced<F> {
    fn drop(&mut self) {
        // Dropped before it completed: cancelled (or its loop closed).
        if !self.watch.finished.swap(true, Ordering::Relaxed) {
            let _entered = self.span.enter();
            ::tracing::debug!(target: "loopwork::task", op = "task.cancel", task.id = self.id);
        }
    }
}

/// Reports a slow poll as an event, beside the exception handler's report.
pub(crate) fn slow_poll(task_id: Option<u64>, duration: std::time::Duration, finished: bool) {
    ::tracing::warn!(
        target: "loopwork::task",
        op = "task.slow_poll",
        task.id = task_id,
        duration_ms = duration.as_secs_f64() * 1000.0,
        finished,
    );
}
