//! Unit tests of the task cell on one thread, with a scheduler that only
//! queues: no reactor, no worker threads, so they also run under Miri
//! (`cargo +nightly miri test -p loopwork --lib task::test`), which checks
//! every reference into the cell against Stacked Borrows.

use super::{new_task, DetailsSlot, DoneCallback, Header, Notified, Schedule, Task, TaskId, TaskRef};
use crate::error::TaskError;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A scheduler that queues tasks and records what it is told.
#[derive(Clone, Default)]
struct Queue(Arc<QueueInner>);

#[derive(Default)]
struct QueueInner {
    run_queue: Mutex<VecDeque<Notified>>,
    registry: Mutex<Option<TaskRef>>,
    unhandled: Mutex<Vec<String>>,
    waker_panics: Mutex<Vec<String>>,
}

fn message(payload: &(dyn Any + Send)) -> String {
    crate::error::panic_message(payload).unwrap_or("<non-string payload>").to_owned()
}

impl Schedule for Queue {
    fn schedule(&self, task: Notified) {
        self.0.run_queue.lock().push_back(task);
    }

    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }

    fn release(&self, _task: &Header) -> Option<TaskRef> {
        self.0.registry.lock().take()
    }

    fn unhandled_panic(&self, _task: &Header, payload: Box<dyn Any + Send>) {
        self.0.unhandled.lock().push(message(payload.as_ref()));
    }

    fn waker_panicked(&self, _task: &Header, payload: Box<dyn Any + Send>) {
        self.0.waker_panics.lock().push(message(payload.as_ref()));
    }

    fn defer(&self, callback: DoneCallback) {
        callback();
    }
}

impl Queue {
    #[track_caller]
    fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (registered, task, notified) =
            new_task(future, self.clone(), TaskId(1), DetailsSlot::location(Location::caller()));
        *self.0.registry.lock() = Some(registered);
        self.schedule(notified);
        task
    }

    fn run_all(&self) {
        loop {
            let next = self.0.run_queue.lock().pop_front();
            match next {
                Some(task) => task.run(),
                None => return,
            }
        }
    }
}

/// Pending until polled a second time; hands its waker out through `slot`.
#[derive(Default)]
struct WakeOnce {
    slot: Arc<Mutex<Option<Waker>>>,
    polled: bool,
}

impl Future for WakeOnce {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if std::mem::replace(&mut self.polled, true) {
            return Poll::Ready(7);
        }
        *self.slot.lock() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A waker that panics when woken: foreign code misbehaving.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("the join waker panicked");
    }
}

#[test]
fn a_task_cancelled_before_its_first_poll_is_freed_by_the_run_that_cancels_it() {
    // The queue entry holds the last reference when the run drops the
    // future: the handle is gone and completing released the registry's.
    // Freeing the cell must not happen while a `&Cell` argument is live
    // (Miri reports that as undefined behaviour).
    let queue = Queue::default();
    let task = queue.spawn(WakeOnce::default());
    assert!(task.cancel());
    drop(task);
    queue.run_all();
    assert!(queue.0.run_queue.lock().is_empty());
    assert!(queue.0.registry.lock().is_none());
}

#[test]
fn a_task_cancelled_while_idle_completes_as_cancelled_for_its_handle() {
    let queue = Queue::default();
    let mut task = queue.spawn(WakeOnce::default());
    queue.run_all();
    assert!(task.cancel());
    queue.run_all();
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut task).poll(&mut cx) {
        Poll::Ready(Err(TaskError::Cancelled)) => {}
        other => panic!("expected a cancelled task, got {other:?}"),
    }
}

#[test]
fn a_task_shut_down_while_idle_is_freed_by_the_shutdown() {
    let queue = Queue::default();
    let task = queue.spawn(WakeOnce::default());
    queue.run_all();
    drop(task);
    // The loop closing: the registry's reference is the last one.
    let registered = queue.0.registry.lock().take().unwrap();
    registered.shutdown();
    assert!(queue.0.run_queue.lock().is_empty());
}

#[test]
fn a_panicking_join_waker_is_reported_and_does_not_unwind_into_the_runner() {
    let queue = Queue::default();
    let future = WakeOnce::default();
    let slot = future.slot.clone();
    let mut task = queue.spawn(future);
    queue.run_all();
    let waker = Waker::from(Arc::new(PanickingWaker));
    assert!(Pin::new(&mut task).poll(&mut Context::from_waker(&waker)).is_pending());
    // The task completes on its next run, which wakes the panicking waker.
    slot.lock().take().unwrap().wake();
    queue.run_all();
    assert_eq!(*queue.0.waker_panics.lock(), ["the join waker panicked"]);
    assert!(matches!(Pin::new(&mut task).poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(Ok(7))));
}

#[test]
fn a_task_keeps_its_spawn_location_when_its_first_done_callback_makes_its_record() {
    // Spawned without a record, the task keeps its location tagged in the
    // record's word; the record made for its done callback takes it over.
    // Under Miri this also checks the tagged pointer's provenance.
    let queue = Queue::default();
    let future = WakeOnce::default();
    let waker = future.slot.clone();
    let spawn_line = line!() + 1;
    let task = queue.spawn(future);
    let slot = |queue: &Queue| {
        let registry = queue.0.registry.lock();
        let header = registry.as_ref().expect("the task is registered until it completes").header();
        let location = header.spawn_location();
        ((location.file(), location.line()), header.details().is_some(), header.statistics().is_some())
    };
    assert_eq!(slot(&queue), ((file!(), spawn_line), false, false));
    queue.run_all();
    let outcome = Arc::new(Mutex::new(None));
    let seen = outcome.clone();
    task.add_done_callback(move |result| *seen.lock() = Some(result.unwrap())).unwrap();
    // A record now, without statistics: they would start late.
    assert_eq!(slot(&queue), ((file!(), spawn_line), true, false));
    waker.lock().take().expect("the first poll stored its waker").wake();
    queue.run_all();
    assert_eq!(*outcome.lock(), Some(7));
    drop(task);
}

/// The sizes docs/architecture.md ("The task cell") and docs/benchmarks.md
/// account for: a field added to the header costs every idle task.
#[test]
fn the_header_is_six_words_and_details_nine() {
    assert_eq!(std::mem::size_of::<Header>(), 48);
    assert_eq!(std::mem::size_of::<super::Details>(), 72);
}
