//! loom models of the parking protocol: a wake-up is never lost when work
//! is published while the last searcher goes to sleep.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p loopwork --lib --release scheduler::loom_test`.
//!
//! The run queue is modelled by a counter of published tasks; the workers
//! follow `worker.rs`'s order: search, park (re-checking as the last
//! searcher), and on wake-up search again.

use super::idle::Idle;
use super::park::Parker;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

struct Model {
    idle: Idle,
    parkers: Vec<Parker>,
    /// Published, not yet taken tasks.
    queued: AtomicUsize,
    taken: AtomicUsize,
    closed: AtomicBool,
}

impl Model {
    fn new(workers: usize) -> Arc<Model> {
        Arc::new(Model {
            idle: Idle::new(workers),
            parkers: (0..workers).map(|_| Parker::new(None)).collect(),
            queued: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// The post-work protocol of `push_remote`.
    fn publish(&self) {
        self.queued.fetch_add(1, Ordering::SeqCst);
        if let Some(index) = self.idle.worker_to_notify() {
            self.parkers[index].unpark();
        }
    }

    fn try_take(&self) -> bool {
        self.queued.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    /// A worker that runs until it has taken `goal` tasks in total (with
    /// the others) or the model closes.
    fn worker(&self, index: usize, goal: usize) {
        let mut searching = false;
        loop {
            if self.taken.load(Ordering::SeqCst) >= goal || self.closed.load(Ordering::SeqCst) {
                return;
            }
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            if searching && self.try_take() {
                if self.idle.transition_worker_from_searching() {
                    if let Some(other) = self.idle.worker_to_notify() {
                        self.parkers[other].unpark();
                    }
                }
                searching = false;
                if self.taken.fetch_add(1, Ordering::SeqCst) + 1 >= goal {
                    self.close();
                }
                continue;
            }
            let last = self.idle.transition_worker_to_parked(index, searching);
            if last && self.queued.load(Ordering::SeqCst) > 0 {
                if let Some(other) = self.idle.worker_to_notify() {
                    self.parkers[other].unpark();
                }
            }
            loop {
                if self.closed.load(Ordering::SeqCst) {
                    return;
                }
                let _ = self.parkers[index].park();
                if !self.idle.is_parked(index) {
                    searching = true;
                    break;
                }
            }
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for parker in &self.parkers {
            parker.unpark();
        }
    }
}

#[test]
fn a_task_published_as_the_only_worker_parks_is_run() {
    loom::model(|| {
        let model = Model::new(1);
        let worker = {
            let model = model.clone();
            thread::spawn(move || model.worker(0, 1))
        };
        model.publish();
        // If the wake-up were lost, the worker would park forever and loom
        // would report a deadlock here.
        worker.join().unwrap();
        assert_eq!(model.taken.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn two_tasks_published_while_two_workers_search_and_park_are_run() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let model = Model::new(2);
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let model = model.clone();
                thread::spawn(move || model.worker(index, 2))
            })
            .collect();
        model.publish();
        model.publish();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(model.taken.load(Ordering::SeqCst), 2);
    });
}
