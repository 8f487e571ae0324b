//! loom models of the task state machine: every interleaving of a wake, the
//! task's completion, a cancellation, the `Task` handle's drop or await,
//! and a done callback's record made while a waker reads it.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p loopwork --lib --release task::loom_test`.

use super::{new_task, DetailsSlot, Header, Notified, Schedule, TaskId, TaskRef};
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use loom::sync::Arc;
use loom::thread;
use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A scheduler that only queues; the model decides who runs what.
#[derive(Clone)]
struct Queue(Arc<QueueInner>);

struct QueueInner {
    run_queue: Mutex<VecDeque<Notified>>,
    registry: Mutex<Option<TaskRef>>,
    unhandled: AtomicUsize,
}

impl Schedule for Queue {
    fn schedule(&self, task: Notified) {
        // What the loop records of a wake (`dump::record_wake`), from the
        // waking thread: it reads the details slot, which a done callback
        // may be filling at the same time. Every model's task is spawned
        // in this file.
        if let Some(details) = task.header().details() {
            details.set_wake_source(1);
        }
        assert_eq!(task.header().spawn_location().file(), file!());
        self.0.run_queue.lock().push_back(task);
    }

    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }

    fn release(&self, _task: &Header) -> Option<TaskRef> {
        self.0.registry.lock().take()
    }

    fn unhandled_panic(&self, _task: &Header, _payload: Box<dyn Any + Send>) {
        self.0.unhandled.fetch_add(1, Ordering::Relaxed);
    }

    fn waker_panicked(&self, _task: &Header, _payload: Box<dyn Any + Send>) {
        unreachable!("the models' wakers do not panic");
    }

    fn defer(&self, callback: super::DoneCallback) {
        callback();
    }
}

impl Queue {
    fn new() -> Queue {
        Queue(Arc::new(QueueInner {
            run_queue: Mutex::new(VecDeque::new()),
            registry: Mutex::new(None),
            unhandled: AtomicUsize::new(0),
        }))
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

    fn has_queued(&self) -> bool {
        !self.0.run_queue.lock().is_empty()
    }

    fn drain(&self) {
        let drained: Vec<_> = self.0.run_queue.lock().drain(..).collect();
        drop(drained);
    }
}

/// Pending until woken once; hands its waker out through `slot`. Counts its
/// drops in `drops`.
struct WakeOnce {
    slot: Arc<Mutex<Option<Waker>>>,
    polled: bool,
    drops: Arc<AtomicUsize>,
}

impl Future for WakeOnce {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.polled {
            return Poll::Ready(7);
        }
        self.polled = true;
        *self.slot.lock() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for WakeOnce {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn spawn_wake_once(queue: &Queue) -> (super::Task<u32>, Arc<Mutex<Option<Waker>>>, Arc<AtomicUsize>) {
    let slot = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let future = WakeOnce { slot: slot.clone(), polled: false, drops: drops.clone() };
    let (registered, task, notified) =
        new_task(future, queue.clone(), TaskId(1), DetailsSlot::location(Location::caller()));
    *queue.0.registry.lock() = Some(registered);
    queue.schedule(notified);
    (task, slot, drops)
}

fn block_on_handle(task: &mut super::Task<u32>, queue: &Queue) -> Result<u32, crate::TaskError> {
    let waker = futures_noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        queue.run_all();
        if let Poll::Ready(out) = Pin::new(&mut *task).poll(&mut cx) {
            return out;
        }
        // Wait with loads only, as a woken poller would: each poll takes and
        // releases the join lock, two stores to the state word, and a loop
        // that stores lets loom starve the completer's compare-exchange
        // forever (a schedule no real thread keeps up).
        while !task.is_done() && !queue.has_queued() {
            thread::yield_now();
        }
    }
}

fn futures_noop_waker() -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: every function of the vtable ignores the (null) data pointer.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

#[test]
fn wake_races_with_handle_drop() {
    loom::model(|| {
        let queue = Queue::new();
        let (task, slot, drops) = spawn_wake_once(&queue);
        queue.run_all();
        let waker = slot.lock().take().expect("first poll stored its waker");
        let waker_thread = thread::spawn(move || waker.wake());
        drop(task);
        waker_thread.join().unwrap();
        queue.run_all();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert_eq!(queue.0.unhandled.load(Ordering::Relaxed), 0);
    });
}

#[test]
fn cancel_races_with_wake_and_completion() {
    loom::model(|| {
        let queue = Queue::new();
        let (mut task, slot, drops) = spawn_wake_once(&queue);
        queue.run_all();
        let waker = slot.lock().take().expect("first poll stored its waker");
        let worker_queue = queue.clone();
        let worker = thread::spawn(move || {
            waker.wake();
            worker_queue.run_all();
        });
        let cancelled = task.cancel();
        let result = block_on_handle(&mut task, &queue);
        worker.join().unwrap();
        queue.run_all();
        match result {
            Ok(7) => {}
            Err(err) => assert!(err.is_cancelled() && cancelled),
            other => panic!("unexpected result {other:?}"),
        }
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    });
}

#[test]
fn await_races_with_completion_on_another_thread() {
    loom::model(|| {
        let queue = Queue::new();
        let (mut task, slot, drops) = spawn_wake_once(&queue);
        queue.run_all();
        let waker = slot.lock().take().expect("first poll stored its waker");
        let worker_queue = queue.clone();
        let worker = thread::spawn(move || {
            waker.wake();
            worker_queue.run_all();
        });
        assert_eq!(block_on_handle(&mut task, &queue).unwrap(), 7);
        worker.join().unwrap();
        drop(task);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    });
}

#[test]
fn shutdown_races_with_wake() {
    loom::model(|| {
        let queue = Queue::new();
        let (task, slot, drops) = spawn_wake_once(&queue);
        queue.run_all();
        let waker = slot.lock().take().expect("first poll stored its waker");
        let waker_thread = thread::spawn(move || waker.wake());
        let registered = queue.0.registry.lock().take().expect("registered");
        registered.shutdown();
        waker_thread.join().unwrap();
        // A queued entry for a task shutdown completed must be skipped.
        queue.run_all();
        queue.drain();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert!(task.is_done());
    });
}

#[test]
fn done_callback_races_with_completion() {
    // The callback chain hangs in the task's `Details`, made under the join
    // lock by whichever of the two gets there first: the callback runs
    // exactly once, with the output, whether it was added before or after.
    loom::model(|| {
        let queue = Queue::new();
        let (task, slot, drops) = spawn_wake_once(&queue);
        queue.run_all();
        let waker = slot.lock().take().expect("first poll stored its waker");
        let worker_queue = queue.clone();
        let worker = thread::spawn(move || {
            waker.wake();
            worker_queue.run_all();
        });
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = ran.clone();
        task.add_done_callback(move |outcome| {
            assert_eq!(outcome.unwrap(), 7);
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .expect("the output is still there: the handle holds it");
        worker.join().unwrap();
        queue.run_all();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
        drop(task);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    });
}

#[test]
fn done_callback_record_races_with_a_waker_reading_the_slot() {
    // The task is spawned without a record: its slot holds the spawn
    // location. The first done callback makes the record (under the join
    // lock) while a waker on another thread reads the slot for the wake
    // source: the waker sees the location or the whole record (one it may
    // see before its initialization is a causality violation, see
    // `Details::initialized`), and the same location either way.
    loom::model(|| {
        let queue = Queue::new();
        let (task, slot, drops) = spawn_wake_once(&queue);
        let spawned_at = queue.0.registry.lock().as_ref().expect("registered").header().spawn_location();
        queue.run_all();
        let waker = slot.lock().take().expect("first poll stored its waker");
        let waker_thread = thread::spawn(move || waker.wake());
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = ran.clone();
        task.add_done_callback(move |outcome| {
            assert_eq!(outcome.unwrap(), 7);
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .expect("the output is still there: the handle holds it");
        waker_thread.join().unwrap();
        {
            let registry = queue.0.registry.lock();
            let header = registry.as_ref().expect("registered until it runs again").header();
            assert_eq!(header.spawn_location(), spawned_at);
            assert!(header.details().is_some() && header.statistics().is_none());
        }
        queue.run_all();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
        drop(task);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    });
}
