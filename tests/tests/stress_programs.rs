//! Property-based stress: random programs — trees of tasks that spawn,
//! join, cancel, sleep, yield, complete promises, send on channels and take
//! locks — run under a chaos seed and a virtual clock, in strict mode and
//! with two workers. The oracle: the root's result equals what a sequential
//! evaluation of the same program computes; no case hangs (a watchdog fails
//! it and prints the seed); every task's future is dropped exactly once.
//!
//! `LOOPWORK_STRESS_CASES` sets the number of cases (default 256; the local
//! long run is recorded in docs/testing.md).

use loopwork::EventLoop;
use loopwork_sync::{mpsc, Lock};
use loopwork_tests::{with_watchdog, DropCounter, DropToken};
use proptest::prelude::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
}

/// A task: its steps, in order.
#[derive(Debug, Clone)]
struct Program(Vec<Op>);

fn program() -> impl Strategy<Value = Program> {
    let leaf = prop_oneof![
        (0..100u64).prop_map(Op::Add),
        Just(Op::Yield),
        (0..50u64).prop_map(Op::Sleep),
        (0..10u64).prop_map(Op::Locked),
    ];
    let op = leaf.prop_recursive(3, 24, 4, |inner| {
        let child = prop::collection::vec(inner, 0..4).prop_map(Program);
        prop_oneof![
            4 => inner_leaf(),
            1 => child.clone().prop_map(Op::Join),
            1 => child.clone().prop_map(Op::Cancel),
            1 => child.clone().prop_map(Op::Promise),
            1 => child.prop_map(Op::Channel),
        ]
    });
    prop::collection::vec(op, 0..6).prop_map(Program)
}

fn inner_leaf() -> impl Strategy<Value = Op> {
    prop_oneof![(0..100u64).prop_map(Op::Add), Just(Op::Yield), (0..50u64).prop_map(Op::Sleep)]
}

/// The sequential model: what the program computes.
fn expected(program: &Program) -> u64 {
    program
        .0
        .iter()
        .map(|op| match op {
            Op::Add(n) | Op::Locked(n) => *n,
            Op::Yield | Op::Sleep(_) | Op::Cancel(_) => 0,
            Op::Join(child) | Op::Promise(child) | Op::Channel(child) => expected(child),
        })
        .sum()
}

type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

/// What a run shares: the lock, and the counts of task bodies made and
/// dropped (how many are made depends on the run: a child cancelled before
/// it starts never makes its own children).
#[derive(Clone)]
struct Shared {
    lock: Arc<Lock<u64>>,
    made: Arc<AtomicUsize>,
    drops: DropCounter,
}

/// The program as a task body. Each body holds a drop token.
fn run(program: Program, shared: Shared) -> BoxFuture {
    shared.made.fetch_add(1, Ordering::SeqCst);
    let token: DropToken = shared.drops.token();
    let lock = shared.lock.clone();
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
            }
        }
        value
    })
}

fn cases() -> u32 {
    loopwork_tests::env_count("LOOPWORK_STRESS_CASES", 256) as u32
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_compute_what_the_sequential_model_computes(
        program in program(),
        seed in any::<u64>(),
        workers in prop_oneof![Just(0usize), Just(2usize)],
    ) {
        let want = expected(&program);
        let description = format!("seed {seed}, workers {workers}, program {program:?}");
        let (got, made, dropped) = with_watchdog(Duration::from_secs(60), &description, move || {
            let event_loop = EventLoop::builder().workers(workers).chaos_seed(seed).paused_clock().build().unwrap();
            let shared =
                Shared { lock: Arc::new(Lock::new(0)), made: Arc::new(AtomicUsize::new(0)), drops: DropCounter::new() };
            let got = event_loop.block_on(run(program, shared.clone()));
            event_loop.close();
            (got, shared.made.load(Ordering::SeqCst), shared.drops.dropped())
        });
        prop_assert_eq!(got, want, "{}", description);
        prop_assert_eq!(dropped, made, "every task body is dropped exactly once ({})", description);
    }
}
