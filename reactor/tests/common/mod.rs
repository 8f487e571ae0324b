//! A test-only, single-threaded driver: `block_on` plus `spawn` for concurrency.
//!
//! One thread owns the reactor lock for the whole run: it polls every woken task, and when
//! none is left it blocks in `react(None)`. A waker queues its task and, when called from
//! another thread, notifies the reactor so the driver wakes up.

#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};
use std::time::Duration;

use loopwork_reactor::Reactor;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// Every this many polls the driver also polls the poller without blocking, so a stream of
/// always-ready tasks cannot keep I/O events waiting.
const IO_EVERY: usize = 64;

struct Queue {
    ready: Mutex<VecDeque<usize>>,
    reactor: Arc<Reactor>,
    driver: ThreadId,
}

struct TaskWaker {
    id: usize,
    queued: AtomicBool,
    queue: Arc<Queue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel pairs with the Release store in `Executor::run`: a wake that lands after the
        // poll began always queues the task again.
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.ready.lock().unwrap().push_back(self.id);
            if thread::current().id() != self.queue.driver {
                self.queue.reactor.notify();
            }
        }
    }
}

struct Executor {
    queue: Arc<Queue>,
    tasks: RefCell<slab::Slab<(Option<LocalTask>, Arc<TaskWaker>)>>,
}

thread_local! {
    static EXECUTOR: RefCell<Option<Rc<Executor>>> = const { RefCell::new(None) };
}

impl Executor {
    fn spawn_task(&self, task: LocalTask) {
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let id = entry.key();
        let waker = Arc::new(TaskWaker { id, queued: AtomicBool::new(true), queue: self.queue.clone() });
        entry.insert((Some(task), waker));
        self.queue.ready.lock().unwrap().push_back(id);
    }

    /// Polls task `id` once, if it still exists.
    fn run(&self, id: usize) {
        let (task, waker) = match self.tasks.borrow_mut().get_mut(id) {
            Some((task, waker)) => (task.take(), waker.clone()),
            None => return,
        };
        let Some(mut task) = task else { return };
        // Release pairs with the AcqRel swap in `wake_by_ref`.
        waker.queued.store(false, Ordering::Release);
        let waker = Waker::from(waker);
        let mut cx = Context::from_waker(&waker);
        match task.as_mut().poll(&mut cx) {
            Poll::Ready(()) => {
                self.tasks.borrow_mut().remove(id);
            }
            Poll::Pending => self.tasks.borrow_mut()[id].0 = Some(task),
        }
    }
}

/// Runs `future` to completion on this thread, with `reactor` entered; tasks spawned with
/// [`spawn`] run alongside and are dropped when `future` completes.
pub fn block_on<T: 'static>(reactor: &Arc<Reactor>, future: impl Future<Output = T> + 'static) -> T {
    let _enter = reactor.enter();
    let queue = Arc::new(Queue {
        ready: Mutex::new(VecDeque::new()),
        reactor: reactor.clone(),
        driver: thread::current().id(),
    });
    let executor = Rc::new(Executor { queue: queue.clone(), tasks: RefCell::new(slab::Slab::new()) });
    let previous = EXECUTOR.with(|current| current.replace(Some(executor.clone())));
    let main = spawn(future);
    let mut lock = reactor.try_lock().expect("the test driver is the only one driving its reactor");
    let mut polls = 0usize;
    let output = loop {
        if let Some(output) = main.take() {
            break output;
        }
        let next = queue.ready.lock().unwrap().pop_front();
        match next {
            Some(id) => {
                executor.run(id);
                polls += 1;
                if polls % IO_EVERY == 0 {
                    lock.react(Some(Duration::ZERO)).expect("react failed");
                }
            }
            None => {
                lock.react(None).expect("react failed");
            }
        }
    };
    drop(lock);
    // Tasks hold sockets and timers: drop them while the reactor is still entered.
    let leftover = std::mem::take(&mut *executor.tasks.borrow_mut());
    drop(leftover);
    EXECUTOR.with(|current| current.replace(previous));
    output
}

/// Spawns a task on the `block_on` running on this thread.
pub fn spawn<T: 'static>(future: impl Future<Output = T> + 'static) -> JoinHandle<T> {
    let state = Rc::new(RefCell::new(JoinState { output: None, waker: None }));
    let task_state = state.clone();
    let task = Box::pin(async move {
        let output = future.await;
        let mut state = task_state.borrow_mut();
        state.output = Some(output);
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    });
    EXECUTOR.with(|current| {
        current.borrow().as_ref().expect("spawn called outside common::block_on").spawn_task(task);
    });
    JoinHandle { state }
}

struct JoinState<T> {
    output: Option<T>,
    waker: Option<Waker>,
}

/// Awaits a spawned task's output.
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

impl<T> JoinHandle<T> {
    fn take(&self) -> Option<T> {
        self.state.borrow_mut().output.take()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.borrow_mut();
        match state.output.take() {
            Some(output) => Poll::Ready(output),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Runs every future concurrently and returns their outputs in order.
pub async fn join_all<T: 'static>(futures: impl IntoIterator<Item = impl Future<Output = T> + 'static>) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await);
    }
    outputs
}

/// Makes sure this process may open `needed` descriptors, raising the soft limit up to the
/// hard one if it must. Returns why not, if it cannot.
pub fn ensure_nofile(needed: u64) -> Result<(), String> {
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= needed {
        return Ok(());
    }
    let maximum = limit.maximum.unwrap_or(u64::MAX);
    if maximum < needed {
        return Err(format!("RLIMIT_NOFILE hard limit is {maximum}, below the {needed} this test needs"));
    }
    setrlimit(Resource::Nofile, Rlimit { current: Some(needed), maximum: limit.maximum })
        .map_err(|err| format!("raising RLIMIT_NOFILE to {needed} failed: {err}"))
}

/// Lowers the soft RLIMIT_NOFILE of this process.
pub fn set_nofile(soft: u64) {
    let limit = getrlimit(Resource::Nofile);
    setrlimit(Resource::Nofile, Rlimit { current: Some(soft), maximum: limit.maximum })
        .expect("lowering RLIMIT_NOFILE");
}

/// Runs `f` on a helper thread and fails the test if it takes longer than `limit` (a hang
/// becomes a failure instead of a stuck test run).
pub fn with_watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => {
            worker.join().unwrap();
            output
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: surface its panic.
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("timed out after {limit:?}: a hang"),
    }
}

/// A small deterministic generator (xorshift64*), so tests need no random-number crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}
