//! Property-based stress: random programs — trees of tasks that spawn,
//! join, cancel, sleep, yield, complete promises, send on channels, pass
//! values through queues, take locks and semaphore permits, and hand work to
//! foreign threads (`run_coroutine_threadsafe`, `call_soon_threadsafe`) —
//! run under a chaos seed and a virtual clock, each in strict mode and with
//! two workers. The oracle: the root's result and the virtual time it took
//! equal what a sequential evaluation of the same program computes; no case
//! hangs (a watchdog fails it and prints the seed); every task's future is
//! dropped exactly once.
//!
//! `LOOPWORK_STRESS_CASES` sets the number of cases (default 20,000; the local
//! long run is recorded in docs/testing.md).

use loopwork::EventLoop;
use loopwork_sync::{mpsc, Lock, Queue, Semaphore};
use loopwork_tests::{with_watchdog, DropCounter, DropToken};
use proptest::prelude::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One step of a task.
#[derive(Debug, Clone)]
enum Op {
    /// Adds a constant to the task's value.
    Add(u64),
    Yield,
    /// Sleeps this many virtual milliseconds.
    Sleep(u64),
    /// Spawns a child and awaits it; its value is added.
    Join(Program),
    /// Spawns a child and cancels it at once; it contributes nothing.
    Cancel(Program),
    /// Spawns a child that completes a promise with its value; awaits the
    /// promise and adds the value.
    Promise(Program),
    /// Spawns a child that sends its value on a channel; receives it.
    Channel(Program),
    /// Adds a constant to a shared counter under a lock, and to the value.
    Locked(u64),
    /// Takes one of two shared semaphore permits, yields holding it, and
    /// adds a constant.
    Permit(u64),
    /// Spawns a child that puts its value on a queue; gets it.
    Queue(Program),
    /// A foreign thread runs the child with `run_coroutine_threadsafe`,
    /// blocks for its value, and hands it back with `call_soon_threadsafe`
    /// completing a promise the task awaits.
    Foreign(Program),
}

/// A task: its steps, in order.
#[derive(Debug, Clone)]
struct Program(Vec<Op>);

impl Program {
    /// True if some step, here or in a child, cancels a child.
    fn has_cancel(&self) -> bool {
        self.0.iter().any(|op| match op {
            Op::Cancel(_) => true,
            Op::Join(child) | Op::Promise(child) | Op::Channel(child) | Op::Queue(child) | Op::Foreign(child) => {
                child.has_cancel()
            }
            Op::Add(_) | Op::Yield | Op::Sleep(_) | Op::Locked(_) | Op::Permit(_) => false,
        })
    }
}

fn program() -> impl Strategy<Value = Program> {
    let leaf = prop_oneof![
        (0..100u64).prop_map(Op::Add),
        Just(Op::Yield),
        (0..50u64).prop_map(Op::Sleep),
        (0..10u64).prop_map(Op::Locked),
        (0..10u64).prop_map(Op::Permit),
    ];
    let op = leaf.prop_recursive(3, 24, 4, |inner| {
        let child = prop::collection::vec(inner, 0..4).prop_map(Program);
        prop_oneof![
            4 => inner_leaf(),
            1 => child.clone().prop_map(Op::Join),
            1 => child.clone().prop_map(Op::Cancel),
            1 => child.clone().prop_map(Op::Promise),
            1 => child.clone().prop_map(Op::Channel),
            1 => child.clone().prop_map(Op::Queue),
            1 => child.prop_map(Op::Foreign),
        ]
    });
    prop::collection::vec(op, 0..6).prop_map(Program)
}

fn inner_leaf() -> impl Strategy<Value = Op> {
    prop_oneof![(0..100u64).prop_map(Op::Add), Just(Op::Yield), (0..50u64).prop_map(Op::Sleep)]
}

/// The sequential model: what the program computes, and how much virtual
/// time it takes (children that are awaited run while their parent waits;
/// a cancelled child takes none of its parent's time).
fn expected(program: &Program) -> (u64, Duration) {
    program.0.iter().fold((0, Duration::ZERO), |(value, time), op| {
        let (v, t) = match op {
            Op::Add(n) | Op::Locked(n) | Op::Permit(n) => (*n, Duration::ZERO),
            Op::Sleep(ms) => (0, Duration::from_millis(*ms)),
            Op::Yield | Op::Cancel(_) => (0, Duration::ZERO),
            Op::Join(child) | Op::Promise(child) | Op::Channel(child) | Op::Queue(child) | Op::Foreign(child) => {
                expected(child)
            }
        };
        (value + v, time + t)
    })
}

type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

/// What a run shares: the lock, and the counts of task bodies made and
/// dropped (how many are made depends on the run: a child cancelled before
/// it starts never makes its own children).
#[derive(Clone)]
struct Shared {
    lock: Arc<Lock<u64>>,
    permits: Arc<Semaphore>,
    /// The foreign threads `Op::Foreign` started, joined before counting.
    foreign_threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
    made: Arc<AtomicUsize>,
    drops: DropCounter,
}

/// The program as a task body. Each body holds a drop token.
fn run(program: Program, shared: Shared) -> BoxFuture {
    shared.made.fetch_add(1, Ordering::SeqCst);
    let token: DropToken = shared.drops.token();
    let (lock, permits) = (shared.lock.clone(), shared.permits.clone());
    Box::pin(async move {
        let _token = token;
        let mut value = 0;
        for op in program.0 {
            match op {
                Op::Add(n) => value += n,
                Op::Yield => loopwork::yield_now().await,
                Op::Sleep(ms) => loopwork::sleep(Duration::from_millis(ms)).await,
                Op::Locked(n) => {
                    *lock.lock().await += n;
                    value += n;
                }
                Op::Join(child) => value += loopwork::spawn(run(child, shared.clone())).await.unwrap(),
                Op::Cancel(child) => {
                    let task = loopwork::spawn(run(child, shared.clone()));
                    task.cancel();
                    // Either outcome is fine; the value is not used.
                    let _ = task.await;
                }
                Op::Promise(child) => {
                    let promise = loopwork::get_running_loop().unwrap().create_future::<u64>();
                    let setter = promise.clone();
                    let body = run(child, shared.clone());
                    loopwork::spawn(async move { setter.set_result(body.await).unwrap() });
                    value += promise.await.unwrap();
                }
                Op::Channel(child) => {
                    let (tx, mut rx) = mpsc::channel(1);
                    let body = run(child, shared.clone());
                    loopwork::spawn(async move { tx.send(body.await).await.unwrap() });
                    value += rx.recv().await.unwrap();
                }
                Op::Permit(n) => {
                    let _permit = permits.acquire().await;
                    loopwork::yield_now().await;
                    value += n;
                }
                Op::Queue(child) => {
                    let queue = Arc::new(Queue::new(1));
                    let body = run(child, shared.clone());
                    let producer = queue.clone();
                    loopwork::spawn(async move { producer.put(body.await).await.unwrap() });
                    value += queue.get().await.unwrap();
                }
                Op::Foreign(child) => {
                    let handle = loopwork::get_running_loop().unwrap();
                    let promise = handle.create_future::<u64>();
                    let setter = promise.clone();
                    let body = run(child, shared.clone());
                    let thread = std::thread::spawn(move || {
                        // Under a cancelled ancestor the loop may close
                        // first: the submission or the hand-back is then
                        // refused, and the body dropped, which is fine.
                        let Ok(submitted) = handle.run_coroutine_threadsafe(body) else { return };
                        if let Ok(child_value) = submitted.result() {
                            let _ = handle.call_soon_threadsafe(move || {
                                let _ = setter.set_result(child_value);
                            });
                        }
                    });
                    shared.foreign_threads.lock().unwrap().push(thread);
                    value += promise.await.unwrap();
                }
            }
        }
        value
    })
}

fn cases() -> u32 {
    loopwork_tests::env_count("LOOPWORK_STRESS_CASES", 20_000) as u32
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_compute_what_the_sequential_model_computes(program in program(), seed in any::<u64>()) {
        let (want, want_time) = expected(&program);
        for workers in [0, 2] {
            let description = format!("seed {seed}, workers {workers}, program {program:?}");
            let body = program.clone();
            let (got, took, made, dropped) = with_watchdog(Duration::from_secs(60), &description, move || {
                let event_loop =
                    EventLoop::builder().workers(workers).chaos_seed(seed).paused_clock().build().unwrap();
                let shared = Shared {
                    lock: Arc::new(Lock::new(0)),
                    permits: Arc::new(Semaphore::new(2)),
                    foreign_threads: Arc::default(),
                    made: Arc::new(AtomicUsize::new(0)),
                    drops: DropCounter::new(),
                };
                let start = event_loop.handle().time();
                let got = event_loop.block_on(run(body, shared.clone()));
                let took = event_loop.handle().time() - start;
                event_loop.close();
                // Each thread ends once its submission is refused or done.
                while let Some(thread) = shared.foreign_threads.lock().unwrap().pop() {
                    thread.join().unwrap();
                }
                (got, took, shared.made.load(Ordering::SeqCst), shared.drops.dropped())
            });
            prop_assert_eq!(got, want, "{}", description);
            // A timer never fires early, so the run takes at least the
            // model's time, and exactly that unless a cancelled child got to
            // spawn a grandchild (which lives on, detached) that sleeps
            // while a foreign thread works: the clock cannot see foreign
            // threads, and may jump to that grandchild's timer meanwhile.
            // Children cancelled before they start (always, in strict
            // mode) leave no such grandchild.
            prop_assert!(took >= want_time, "virtual time {:?} < {:?} ({})", took, want_time, description);
            if workers == 0 || !program.has_cancel() {
                prop_assert_eq!(took, want_time, "virtual time ({})", description);
            }
            prop_assert_eq!(dropped, made, "every task body is dropped exactly once ({})", description);
        }
    }
}
