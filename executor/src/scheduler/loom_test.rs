//! loom models of the parking protocol: a wake-up is never lost when work
//! is published while the last searcher goes to sleep; the reactor is
//! handed on, so a worker stuck in a long poll does not leave I/O
//! unwatched; and a task pushed as the loop closes is never left queued.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p loopwork --lib --release scheduler::loom_test`.
//!
//! The run queue is modelled by a counter of published tasks; the workers
//! follow `worker.rs`'s order: search, park (re-checking as the last
//! searcher), and on wake-up search again. They use the real `Idle` and
//! `Parker`; the reactor is `ModelReactor`, a poller that loom can explore.

use super::idle::Idle;
use super::park::{Driver, DriverLock, Parker};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
use loom::thread;

/// A flag a thread can wait for.
type Flag = (Mutex<bool>, Condvar);

fn set(flag: &Flag) {
    *flag.0.lock().unwrap() = true;
    flag.1.notify_all();
}

fn wait(flag: &Flag) {
    let mut set = flag.0.lock().unwrap();
    while !*set {
        set = flag.1.wait(set).unwrap();
    }
}

struct Model {
    idle: Idle,
    parkers: Vec<Parker<ModelReactor>>,
    /// Published, not yet taken tasks.
    queued: AtomicUsize,
    taken: AtomicUsize,
    closed: AtomicBool,
    /// If set, the first task taken does not return until a second one has
    /// been taken: by another worker, which must have been woken for it.
    first_blocks: Option<Flag>,
}

impl Model {
    fn new(workers: usize) -> Arc<Model> {
        Model::with(workers, None)
    }

    fn with(workers: usize, first_blocks: Option<Flag>) -> Arc<Model> {
        Arc::new(Model {
            idle: Idle::new(workers),
            parkers: (0..workers).map(|_| Parker::new(None)).collect(),
            queued: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            first_blocks,
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
                // `leave_searching` also wakes one while spinning pays; a
                // wake-up more cannot lose one, so the model leaves it out.
                if self.idle.transition_worker_from_searching() && self.queued.load(Ordering::SeqCst) > 0 {
                    if let Some(other) = self.idle.worker_to_notify() {
                        self.parkers[other].unpark();
                    }
                }
                searching = false;
                let taken = self.taken.fetch_add(1, Ordering::SeqCst) + 1;
                match &self.first_blocks {
                    Some(second_taken) if taken == 1 => wait(second_taken),
                    Some(second_taken) => set(second_taken),
                    None => {}
                }
                if taken >= goal {
                    self.close();
                }
                continue;
            }
            self.idle.transition_worker_to_parked(index, searching);
            if self.queued.load(Ordering::SeqCst) > 0 {
                if let Some(other) = self.idle.worker_to_notify() {
                    self.parkers[other].unpark();
                }
            }
            loop {
                if self.closed.load(Ordering::SeqCst) {
                    return;
                }
                self.parkers[index].park();
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

/// Two workers, two tasks published while they search and park: both run.
/// `first_blocks` as in `Model`.
fn two_workers_run_two_tasks(first_blocks: impl Fn() -> Option<Flag> + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(move || {
        let model = Model::with(2, first_blocks());
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

#[test]
fn two_tasks_published_while_two_workers_search_and_park_are_run() {
    two_workers_run_two_tasks(|| None);
}

/// The last searcher takes a task and stops searching while a second task
/// is published. If nobody were woken for the second (the publisher saw a
/// searcher; the searcher, now running the first, did not look again), it
/// would wait for the first task to return, which here it never does
/// before the second has run: loom reports the deadlock.
#[test]
fn a_task_published_as_the_last_searcher_takes_another_gets_a_worker_of_its_own() {
    two_workers_run_two_tasks(|| Some((Mutex::new(false), Condvar::new())));
}

/// The reactor's poller, as loom can run it: one thread at a time holds the
/// right to wait; it sleeps until the network delivers events or somebody
/// notifies it (a notification is remembered, as the poller's eventfd is).
#[derive(Debug, Default)]
struct ModelReactor {
    driver: Mutex<()>,
    poller: Mutex<Poller>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct Poller {
    events: usize,
    notified: bool,
}

impl ModelReactor {
    /// An I/O event arrives: its waiter becomes a task for whoever reacts.
    fn deliver(&self) {
        self.poller.lock().unwrap().events += 1;
        self.ready.notify_all();
    }
}

struct ModelLock<'a> {
    reactor: &'a ModelReactor,
    _driver: MutexGuard<'a, ()>,
}

impl Driver for ModelReactor {
    type Lock<'a> = ModelLock<'a>;

    fn try_lock(&self) -> Option<ModelLock<'_>> {
        self.driver.try_lock().ok().map(|driver| ModelLock { reactor: self, _driver: driver })
    }

    fn notify(&self) {
        self.poller.lock().unwrap().notified = true;
        self.ready.notify_all();
    }
}

impl DriverLock for ModelLock<'_> {
    fn react(&mut self) -> usize {
        let mut poller = self.reactor.poller.lock().unwrap();
        while poller.events == 0 && !poller.notified {
            poller = self.reactor.ready.wait(poller).unwrap();
        }
        poller.notified = false;
        std::mem::take(&mut poller.events)
    }
}

/// Two workers and one reactor. The first I/O event's task runs a long
/// poll: it does not return until the second event's task has run. That is
/// only possible if, while the first worker is stuck in it, the other one
/// waits in the reactor and picks up the second event: the hand-off.
struct HandOff {
    idle: Idle,
    /// A std `Arc`, as `Parker` takes: sharing it is not what is modelled.
    reactor: std::sync::Arc<ModelReactor>,
    parkers: Vec<Parker<ModelReactor>>,
    /// Tasks the reactor woke on each worker: its own queue (the wakes go to
    /// the LIFO slot, which nobody steals).
    local: Vec<AtomicUsize>,
    started: AtomicUsize,
    /// The long poll has begun; then the second event is due.
    long_poll_began: Flag,
    /// The second task has run; then the long poll may end.
    second_ran: Flag,
    closed: AtomicBool,
}

impl HandOff {
    fn new() -> Arc<HandOff> {
        let reactor = std::sync::Arc::new(ModelReactor::default());
        Arc::new(HandOff {
            idle: Idle::new(2),
            parkers: (0..2).map(|_| Parker::new(Some(reactor.clone()))).collect(),
            reactor,
            local: (0..2).map(|_| AtomicUsize::new(0)).collect(),
            started: AtomicUsize::new(0),
            long_poll_began: (Mutex::new(false), Condvar::new()),
            second_ran: (Mutex::new(false), Condvar::new()),
            closed: AtomicBool::new(false),
        })
    }

    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.parkers[index].unpark();
        }
    }

    fn run_task(&self) {
        if self.started.fetch_add(1, Ordering::SeqCst) == 0 {
            set(&self.long_poll_began);
            wait(&self.second_ran);
            self.close();
        } else {
            set(&self.second_ran);
        }
    }

    /// `run_worker`'s loop and `WorkerCore::park`, without the queues that
    /// play no part here.
    fn worker(&self, index: usize) {
        let mut searching = false;
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            if self.local[index].fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                if searching {
                    // The last searcher wakes another only if a queue others
                    // can steal from holds work: here none ever does.
                    self.idle.transition_worker_from_searching();
                }
                searching = false;
                self.run_task();
                continue;
            }
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            // Nothing to steal: the only tasks sit in their workers' LIFO slots.
            self.idle.transition_worker_to_parked(index, searching);
            searching = false;
            loop {
                if self.closed.load(Ordering::SeqCst) {
                    return;
                }
                let mut claimed = false;
                self.parkers[index].park_in_reactor_with(
                    |_| {},
                    |woken| {
                        if woken > 0 {
                            self.local[index].fetch_add(woken, Ordering::SeqCst);
                            claimed = self.idle.unpark_self(index);
                        }
                    },
                );
                if claimed {
                    // The hand-off.
                    self.notify_parked();
                    break;
                }
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
fn a_worker_in_a_long_poll_hands_the_reactor_to_an_idle_one() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let model = HandOff::new();
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let model = model.clone();
                thread::spawn(move || model.worker(index))
            })
            .collect();
        model.reactor.deliver();
        wait(&model.long_poll_began);
        // If nobody took the reactor over, this event is never seen, the
        // long poll never ends, and loom reports a deadlock.
        model.reactor.deliver();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(model.started.load(Ordering::SeqCst), 2);
    });
}

/// The Dekker pair between a remote push and the drain of a closed loop,
/// as `Shared::push_remote` and `Shared::drop_unfinished_tasks` make it,
/// with the real `Idle`: the pusher publishes its task (a `Release` store,
/// no stronger than the injector's push), runs the post-work protocol, then
/// looks at `closed`. The drainer is another thread than the one that
/// closes (the last worker out, which has only seen `closed`): once it sees
/// `closed`, it makes `order_drain_after_pushes` (if `drain_orders`), then
/// looks at the queue. If the drainer saw the loop closed, one of the two
/// must see the other's write, or the task stays queued in a dead loop.
fn a_push_racing_the_drain(drain_orders: bool) {
    loom::model(move || {
        let idle = Arc::new(Idle::new(1));
        let pushed = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicBool::new(false));
        let pusher = {
            let (idle, pushed, closed) = (idle.clone(), pushed.clone(), closed.clone());
            thread::spawn(move || {
                pushed.store(true, Ordering::Release);
                // Nobody is parked, so no one is woken: only the word's
                // read-modify-write matters here.
                assert_eq!(idle.worker_to_notify(), None);
                closed.load(Ordering::Relaxed)
            })
        };
        let drainer = {
            let (idle, pushed, closed) = (idle.clone(), pushed.clone(), closed.clone());
            thread::spawn(move || {
                if !closed.load(Ordering::Acquire) {
                    return None;
                }
                if drain_orders {
                    idle.order_drain_after_pushes();
                }
                Some(pushed.load(Ordering::Acquire))
            })
        };
        closed.store(true, Ordering::SeqCst);
        let pusher_saw_closed = pusher.join().unwrap();
        if let Some(drainer_saw_task) = drainer.join().unwrap() {
            assert!(pusher_saw_closed || drainer_saw_task, "the task was left in a closed loop's queue");
        }
    });
}

#[test]
fn a_task_pushed_as_the_loop_closes_is_drained_by_one_side() {
    a_push_racing_the_drain(true);
}

/// The model can fail: without the drainer's read-modify-write, nothing
/// orders the two sides, and loom finds the run where neither sees the
/// other.
#[test]
#[should_panic(expected = "left in a closed loop's queue")]
fn without_the_drainers_read_modify_write_a_task_can_be_left_behind() {
    a_push_racing_the_drain(false);
}
