//! A generated sweep of the public constructors and time APIs with values
//! from the edges: 0, 1, MAX, MAX - 1 and random ones, for durations,
//! counts and instants (far past, far future, near now).
//!
//! Each case must return, return an error, or panic with a message naming
//! the argument it rejects. Never an abort, a hang (a watchdog fails the
//! case), or an arithmetic-overflow panic from std.
//!
//! `LOOPWORK_EDGE_CASES` sets the number of cases (default 10,000; the long
//! run is recorded in docs/testing.md).

use loopwork::sync::{mpsc, Barrier, BoundedSemaphore, LifoQueue, PriorityQueue, Queue, Semaphore};
use loopwork::{EventLoop, Handle, ReturnWhen, ThreadPool};
use loopwork_tests::{far_future, far_past, with_watchdog};
use proptest::prelude::*;
use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

const NS: Duration = Duration::from_nanos(1);
const WATCHDOG: Duration = Duration::from_secs(60);

/// An instant given relative to the loop's clock when the case runs.
#[derive(Debug, Clone, Copy)]
enum At {
    FarPast,
    FarFuture,
    Before(Duration),
    After(Duration),
}

impl At {
    fn resolve(self, now: Instant) -> Instant {
        match self {
            At::FarPast => far_past(now),
            At::FarFuture => far_future(now),
            At::Before(by) => now.checked_sub(by).unwrap_or_else(|| far_past(now)),
            At::After(by) => now.checked_add(by).unwrap_or_else(|| far_future(now)),
        }
    }
}

/// One call of a public API with edge arguments.
#[derive(Debug, Clone)]
enum Op {
    CallLater(Duration),
    CallAt(At),
    Sleep(Duration),
    SleepUntil(At),
    Interval(Duration),
    IntervalAt(At, Duration),
    Timeout(Duration),
    TimeoutAt(At),
    WaitTimeout(Duration),
    ResultTimeout(Duration),
    Shutdown(Duration),
    PoolShutdown(Duration),
    SlowPollThreshold(Duration),
    /// Two moves of a virtual clock, then a timer and a sleep after them.
    Advance(Duration, Duration, Duration),
    Workers(usize),
    MaxBlockingThreads(usize),
    Channel(usize),
    Queue(usize),
    Semaphore(usize),
    BoundedSemaphore(usize),
    Barrier(usize),
}

impl Op {
    /// What a panic of this call must name; `None`: it must not panic.
    fn argument(&self) -> Option<&'static str> {
        match self {
            Op::Interval(_) | Op::IntervalAt(..) => Some("period"),
            Op::Workers(_) => Some("count"),
            Op::MaxBlockingThreads(_) => Some("count"),
            Op::Channel(_) => Some("capacity"),
            Op::Barrier(_) => Some("parties"),
            // More than `usize::MAX / 2` permits, made or released.
            Op::Semaphore(_) | Op::BoundedSemaphore(_) => Some("permit"),
            _ => None,
        }
    }
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(NS),
        Just(Duration::MAX),
        Just(Duration::MAX - NS),
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
        (0..10_000_000u64).prop_map(Duration::from_nanos),
    ]
}

fn count() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0), Just(1), Just(usize::MAX), Just(usize::MAX - 1), any::<usize>(), 0..100usize]
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![Just(At::FarPast), Just(At::FarFuture), duration().prop_map(At::Before), duration().prop_map(At::After)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        duration().prop_map(Op::CallLater),
        at().prop_map(Op::CallAt),
        duration().prop_map(Op::Sleep),
        at().prop_map(Op::SleepUntil),
        duration().prop_map(Op::Interval),
        (at(), duration()).prop_map(|(start, period)| Op::IntervalAt(start, period)),
        duration().prop_map(Op::Timeout),
        at().prop_map(Op::TimeoutAt),
        duration().prop_map(Op::WaitTimeout),
        duration().prop_map(Op::ResultTimeout),
        duration().prop_map(Op::Shutdown),
        duration().prop_map(Op::PoolShutdown),
        duration().prop_map(Op::SlowPollThreshold),
        (duration(), duration(), duration()).prop_map(|(a, b, c)| Op::Advance(a, b, c)),
        count().prop_map(Op::Workers),
        count().prop_map(Op::MaxBlockingThreads),
        count().prop_map(Op::Channel),
        count().prop_map(Op::Queue),
        count().prop_map(Op::Semaphore),
        count().prop_map(Op::BoundedSemaphore),
        count().prop_map(Op::Barrier),
    ]
}

/// Polls `future` once on the loop's thread, then drops it.
fn poll_once<F: Future>(event_loop: &EventLoop, future: F) {
    event_loop.block_on(async {
        let _ = futures_lite::future::poll_once(future).await;
    });
}

/// A strict-mode loop on a virtual clock: cheap, and nothing runs behind
/// the case's back.
fn strict_loop() -> EventLoop {
    EventLoop::builder().workers(0).paused_clock().build().expect("start the loop")
}

fn run(op: &Op) {
    match *op {
        Op::CallLater(delay) => {
            let event_loop = strict_loop();
            let timer = event_loop.handle().call_later(delay, || ()).unwrap();
            poll_once(&event_loop, loopwork::yield_now());
            timer.cancel();
        }
        Op::CallAt(at) => {
            let event_loop = strict_loop();
            let handle = event_loop.handle();
            let timer = handle.call_at(at.resolve(handle.time()), || ()).unwrap();
            poll_once(&event_loop, loopwork::yield_now());
            timer.cancel();
        }
        Op::Sleep(duration) => poll_once(&strict_loop(), loopwork::sleep(duration)),
        Op::SleepUntil(at) => {
            let event_loop = strict_loop();
            let when = at.resolve(event_loop.handle().time());
            poll_once(&event_loop, loopwork::sleep_until(when));
        }
        Op::Interval(period) => {
            let event_loop = strict_loop();
            let mut ticks = loopwork::interval(period);
            poll_once(&event_loop, ticks.tick());
            poll_once(&event_loop, ticks.tick());
        }
        Op::IntervalAt(at, period) => {
            let event_loop = strict_loop();
            let mut ticks = loopwork::interval_at(at.resolve(event_loop.handle().time()), period);
            poll_once(&event_loop, ticks.tick());
            poll_once(&event_loop, ticks.tick());
        }
        Op::Timeout(duration) => {
            poll_once(&strict_loop(), loopwork::timeout(duration, std::future::pending::<()>()));
        }
        Op::TimeoutAt(at) => {
            let event_loop = strict_loop();
            let when = at.resolve(event_loop.handle().time());
            poll_once(&event_loop, loopwork::timeout_at(when, std::future::pending::<()>()));
        }
        Op::WaitTimeout(timeout) => {
            let event_loop = strict_loop();
            event_loop.block_on(async {
                let task = loopwork::spawn(std::future::pending::<()>());
                let _ = futures_lite::future::poll_once(loopwork::wait(
                    vec![task],
                    ReturnWhen::AllCompleted,
                    Some(timeout),
                ))
                .await;
            });
        }
        Op::ResultTimeout(timeout) => {
            let event_loop = EventLoop::builder().workers(1).build().unwrap();
            let mut future = event_loop.handle().run_coroutine_threadsafe(async { 1 }).unwrap();
            // Done at once, or timed out at once for a tiny timeout; never
            // a long wait.
            let _ = future.result_timeout(timeout);
        }
        Op::Shutdown(timeout) => {
            let event_loop = EventLoop::builder().workers(1).build().unwrap();
            // A short timeout may end before the worker has left: an error
            // naming it, the loop closed all the same.
            if let Err(err) = event_loop.shutdown(timeout) {
                assert!(err.workers <= 1, "{err:?}");
            }
            assert!(event_loop.handle().is_closed());
        }
        Op::PoolShutdown(timeout) => ThreadPool::new(1).shutdown(timeout).expect("an idle pool shuts down"),
        Op::SlowPollThreshold(threshold) => {
            let event_loop = EventLoop::builder().workers(0).slow_poll_threshold(threshold).build().unwrap();
            poll_once(&event_loop, loopwork::yield_now());
        }
        Op::Advance(first, second, delay) => {
            let event_loop = strict_loop();
            let handle: Handle = event_loop.handle();
            handle.advance(first);
            handle.advance(second);
            let timer = handle.call_later(delay, || ()).unwrap();
            poll_once(&event_loop, loopwork::sleep(delay));
            timer.cancel();
        }
        Op::Workers(count) => {
            let builder = EventLoop::builder().workers(count);
            // Only small loops are started: a case is not a load test.
            if count <= 2 {
                builder.build().unwrap().close();
            }
        }
        Op::MaxBlockingThreads(count) => {
            let event_loop = EventLoop::builder().workers(0).max_blocking_threads(count).build().unwrap();
            assert_eq!(event_loop.block_on(async { loopwork::run_in_executor(|| 1).await.unwrap() }), 1);
        }
        Op::Channel(capacity) => {
            let (tx, mut rx) = mpsc::channel(capacity);
            tx.try_send(1u8).unwrap();
            assert_eq!(rx.try_recv(), Ok(1));
        }
        Op::Queue(maxsize) => {
            let queue = Queue::new(maxsize);
            queue.try_put(1u8).unwrap();
            assert_eq!(queue.maxsize(), maxsize);
            assert_eq!(LifoQueue::<u8>::new(maxsize).maxsize(), maxsize);
            assert_eq!(PriorityQueue::<u8>::new(maxsize).maxsize(), maxsize);
        }
        Op::Semaphore(permits) => {
            let semaphore = Semaphore::new(permits);
            assert_eq!(semaphore.try_acquire().is_ok(), permits > 0);
            semaphore.release();
            semaphore.release();
        }
        Op::BoundedSemaphore(permits) => {
            let semaphore = BoundedSemaphore::new(permits);
            assert!(semaphore.release().is_err(), "released above the bound");
            let acquired = semaphore.try_acquire().is_ok();
            assert_eq!(acquired, permits > 0);
        }
        Op::Barrier(parties) => {
            let barrier = Barrier::new(parties);
            assert_eq!(barrier.parties(), parties);
            if parties == 1 {
                loopwork::run(async { assert!(barrier.wait().await.unwrap().is_leader()) });
            }
        }
    }
}

thread_local! {
    /// Set while a case runs: its panics are the sweep's to judge, not
    /// noise for the test's output.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `op` and returns its panic message, if it panicked.
fn run_catching(op: &Op) -> Option<String> {
    QUIET.with(|quiet| quiet.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| run(op)));
    QUIET.with(|quiet| quiet.set(false));
    let payload = outcome.err()?;
    Some(
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned()),
    )
}

fn cases() -> u32 {
    loopwork_tests::env_count("LOOPWORK_EDGE_CASES", 10_000) as u32
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn edge_values_return_error_or_panic_naming_the_argument(op in op()) {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(Cell::get) {
                    default(info);
                }
            }));
        });
        let description = format!("{op:?}");
        let case = op.clone();
        let panicked = with_watchdog(WATCHDOG, &description, move || run_catching(&case));
        if let Some(message) = panicked {
            prop_assert!(
                !message.contains("overflow when") && !message.contains("attempt to"),
                "{}: an arithmetic panic from std: {}", description, message
            );
            let named = op.argument().is_some_and(|argument| message.contains(argument));
            prop_assert!(named, "{}: panicked without naming its argument: {}", description, message);
        }
    }
}
