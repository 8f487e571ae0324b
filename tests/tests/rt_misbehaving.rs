//! The executor against misbehaving user code: wakers that panic when the
//! loop wakes them or re-enter a promise from their `Drop`, and a loop
//! closed or dropped from one of its own threads. Each test is named after
//! the failure it reproduces; a hang fails through the watchdog.

use loopwork::{EventLoop, ExceptionKind, Task};
use loopwork_tests::with_watchdog;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

/// How long a test may take before it counts as hung. Generous: these tests
/// panic on purpose, and with `RUST_BACKTRACE` set the first panic's
/// backtrace is symbolized from the test binary's debug info, which took 6 s
/// with a cold page cache on the 2-core machine (and longer on a busy one).
const LIMIT: Duration = Duration::from_secs(60);

struct Panics;

impl Wake for Panics {
    fn wake(self: Arc<Self>) {
        panic!("a misbehaving waker");
    }
}

/// A loop whose exception handler records the message of every panic it is
/// told of (not slow polls: printing a panic's backtrace can take long).
fn recording_loop(workers: usize) -> (EventLoop, Arc<Mutex<Vec<String>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let event_loop = EventLoop::builder()
        .workers(workers)
        .on_unhandled_panic(move |report| {
            if matches!(report.kind, ExceptionKind::UnhandledPanic(_)) {
                sink.lock().unwrap().push(report.message);
            }
        })
        .build()
        .unwrap();
    (event_loop, reports)
}

/// Checks that every worker of a loop is alive: `workers` tasks that can
/// only finish once all of them run at the same time.
fn assert_every_worker_runs(event_loop: &EventLoop, workers: usize) {
    let all_running = Arc::new(Barrier::new(workers));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let all_running = all_running.clone();
            event_loop
                .handle()
                .spawn(async move {
                    all_running.wait();
                })
                .unwrap()
        })
        .collect();
    for task in tasks {
        event_loop.block_on(task).unwrap();
    }
}

/// Waits (under the caller's watchdog) until the handler has been called.
fn wait_for_a_report(reports: &Mutex<Vec<String>>) {
    while reports.lock().unwrap().is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_panicking_join_waker_killed_the_worker_that_completed_the_task() {
    for workers in [1, 2] {
        with_watchdog(LIMIT, &format!("join waker, {workers} workers"), move || {
            let (event_loop, reports) = recording_loop(workers);
            let handle = event_loop.handle();
            let promise = handle.create_future::<()>();
            let awaited = promise.clone();
            let mut task: Task<()> = handle.spawn(async move { awaited.await.unwrap() }).unwrap();
            let panicking = Waker::from(Arc::new(Panics));
            assert!(Pin::new(&mut task).poll(&mut Context::from_waker(&panicking)).is_pending());
            // Not awaited again: that would replace the panicking waker.
            promise.set_result(()).unwrap();
            wait_for_a_report(&reports);
            assert!(task.try_result().unwrap().is_ok());
            assert_every_worker_runs(&event_loop, workers);
            let reports = reports.lock().unwrap();
            assert_eq!(reports.len(), 1, "{reports:?}");
            assert!(
                reports[0].contains("waker of whoever awaited task") && reports[0].ends_with("a misbehaving waker")
            );
        });
    }
}

#[test]
fn a_panicking_timer_waker_killed_the_worker_driving_the_reactor() {
    for workers in [1, 2] {
        with_watchdog(LIMIT, &format!("timer waker, {workers} workers"), move || {
            let (event_loop, reports) = recording_loop(workers);
            let handle = event_loop.handle();
            // A sleep polled by a foreign waker that panics, kept alive by
            // its task until `release` is set.
            let release = handle.create_future::<()>();
            let released = release.clone();
            let holder = handle
                .spawn(async move {
                    let mut sleep = Box::pin(loopwork::sleep(Duration::from_millis(20)));
                    let panicking = Waker::from(Arc::new(Panics));
                    assert!(sleep.as_mut().poll(&mut Context::from_waker(&panicking)).is_pending());
                    released.await.unwrap();
                })
                .unwrap();
            // A task sleeping alongside it is still woken.
            let sleeper = handle.spawn(loopwork::sleep(Duration::from_millis(20))).unwrap();
            event_loop.block_on(sleeper).unwrap();
            wait_for_a_report(&reports);
            assert_every_worker_runs(&event_loop, workers);
            assert_eq!(*reports.lock().unwrap(), ["a waker panicked when the loop woke it: a misbehaving waker"]);
            release.set_result(()).unwrap();
            event_loop.block_on(holder).unwrap();
        });
    }
}

#[test]
fn a_panicking_promise_waker_left_the_other_awaiters_asleep() {
    with_watchdog(LIMIT, "promise awaiters", || {
        let (event_loop, reports) = recording_loop(1);
        let promise = event_loop.handle().create_future::<u32>();
        let mut foreign = promise.clone();
        let panicking = Waker::from(Arc::new(Panics));
        assert!(Pin::new(&mut foreign).poll(&mut Context::from_waker(&panicking)).is_pending());
        let awaiter = promise.clone();
        let task = event_loop.handle().spawn(awaiter).unwrap();
        // Let the task wait behind the foreign awaiter.
        while event_loop.handle().all_tasks().iter().any(|t| t.state != loopwork::TaskState::Waiting) {
            std::thread::sleep(Duration::from_millis(1));
        }
        promise.set_result(4).unwrap();
        assert_eq!(event_loop.block_on(task).unwrap(), Ok(4));
        assert_eq!(reports.lock().unwrap().len(), 1);
    });
}

/// A waker whose `Drop` asks the promise whether it is done (which locks it).
struct AsksOnDrop(loopwork::Promise<u32>);

impl Wake for AsksOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for AsksOnDrop {
    fn drop(&mut self) {
        assert!(!self.0.is_done());
    }
}

#[test]
fn a_waker_whose_drop_reenters_the_promise_deadlocked_it() {
    with_watchdog(LIMIT, "re-entrant waker drop", || {
        let event_loop = EventLoop::builder().workers(1).build().unwrap();
        let promise = event_loop.handle().create_future::<u32>();
        let mut awaiter = promise.clone();
        let reentrant = || Waker::from(Arc::new(AsksOnDrop(promise.clone())));
        // Replaced by a later poll's waker.
        assert!(Pin::new(&mut awaiter).poll(&mut Context::from_waker(&reentrant())).is_pending());
        assert!(Pin::new(&mut awaiter).poll(&mut Context::from_waker(Waker::noop())).is_pending());
        // Dropped with the awaiting clone.
        assert!(Pin::new(&mut awaiter).poll(&mut Context::from_waker(&reentrant())).is_pending());
        drop(awaiter);
        assert!(!promise.is_done());
    });
}

#[test]
fn closing_the_loop_from_its_blocking_pool_waited_for_itself() {
    for drop_it in [false, true] {
        with_watchdog(LIMIT, "close from a blocking job", move || {
            let event_loop = EventLoop::builder().workers(2).build().unwrap();
            let handle = event_loop.handle();
            let (closed_tx, closed_rx) = mpsc::channel();
            let job = move || {
                if drop_it {
                    drop(event_loop);
                } else {
                    event_loop.close();
                }
                closed_tx.send(()).unwrap();
            };
            drop(handle.spawn(async move { loopwork::run_in_executor(job).await }).unwrap());
            closed_rx.recv().unwrap();
            assert!(handle.is_closed());
        });
    }
}

/// Sends when dropped.
struct SignalOnDrop(mpsc::Sender<()>);

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

thread_local! {
    /// Reports the thread's exit: a thread-local's destructor runs then.
    static ON_EXIT: RefCell<Option<SignalOnDrop>> = const { RefCell::new(None) };
}

#[test]
fn a_loop_dropped_inside_its_own_task_left_its_blocking_threads_running() {
    with_watchdog(LIMIT, "blocking threads of a loop dropped inside itself", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        let (exited_tx, exited_rx) = mpsc::channel();
        let started = handle.spawn(async move {
            loopwork::run_in_executor(move || {
                ON_EXIT.with(|on_exit| *on_exit.borrow_mut() = Some(SignalOnDrop(exited_tx)))
            })
            .await
        });
        event_loop.block_on(started.unwrap()).unwrap().unwrap();
        assert!(exited_rx.try_recv().is_err(), "the blocking thread waits for its next job");
        let (dropped_tx, dropped_rx) = mpsc::channel();
        handle
            .spawn(async move {
                drop(event_loop);
                dropped_tx.send(()).unwrap();
            })
            .unwrap();
        dropped_rx.recv().unwrap();
        // The pool thread leaves now, not after its 10 s idle timeout.
        exited_rx.recv_timeout(Duration::from_secs(5)).expect("the blocking thread is still running");
    });
}

#[test]
fn a_panicking_exception_handler_leaves_the_loop_running_and_is_called_again() {
    for workers in [0, 1, 2] {
        with_watchdog(LIMIT, &format!("panicking handler, {workers} workers"), move || {
            let calls = Arc::new(Mutex::new(0));
            let counted = calls.clone();
            let event_loop = EventLoop::builder()
                .workers(workers)
                .on_unhandled_panic(move |report| {
                    if matches!(report.kind, ExceptionKind::UnhandledPanic(_)) {
                        *counted.lock().unwrap() += 1;
                        panic!("a misbehaving exception handler");
                    }
                })
                .build()
                .unwrap();
            let handle = event_loop.handle();
            for _ in 0..2 {
                // A detached task's panic goes to the handler, which panics.
                drop(handle.spawn(async { panic!("nobody awaits this") }).unwrap());
                event_loop.block_on(handle.spawn(async {}).unwrap()).unwrap();
            }
            while *calls.lock().unwrap() < 2 {
                event_loop.block_on(loopwork::yield_now());
            }
            assert_eq!(event_loop.block_on(handle.spawn(async { 3 }).unwrap()).unwrap(), 3);
        });
    }
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a misbehaving Drop");
    }
}

#[test]
fn a_panic_in_the_drop_of_an_output_nobody_claimed_is_reported() {
    for workers in [0, 1, 2] {
        with_watchdog(LIMIT, &format!("output drop, {workers} workers"), move || {
            let (event_loop, reports) = recording_loop(workers);
            let handle = event_loop.handle();
            // Detached: the worker that completes it drops the output.
            drop(handle.spawn_named("unclaimed", async { PanicsOnDrop }).unwrap());
            while reports.lock().unwrap().is_empty() {
                event_loop.block_on(loopwork::yield_now());
            }
            assert_eq!(
                *reports.lock().unwrap(),
                ["task 'unclaimed' (id 1) panicked and its result was never retrieved: a misbehaving Drop"]
            );
            assert_eq!(event_loop.block_on(handle.spawn(async { 3 }).unwrap()).unwrap(), 3);
        });
    }
}
