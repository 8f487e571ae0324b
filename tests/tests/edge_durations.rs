//! Every API that takes a `Duration` or an `Instant`, at the edges: zero,
//! one nanosecond, `Duration::MAX`, and instants far in the past or future.
//! One test per row of the table in docs/asyncio.md ("Edge values").
//!
//! "Never" is a deadline about 30 years ahead (`deadline_after`). Where time
//! matters the tests run on a virtual clock and see nothing happen within a
//! virtual year; timed callbacks are checked on the real clock, since an
//! idle loop's virtual clock jumps to the next timer, however far.

use loopwork::{EventLoop, ExceptionKind, ReturnWhen, ThreadPool};
use loopwork_tests::{far_future, far_past, panic_message, with_watchdog};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const WATCHDOG: Duration = Duration::from_secs(60);
const NS: Duration = Duration::from_nanos(1);
const YEAR: Duration = Duration::from_secs(86_400 * 365);
const DECADE: Duration = Duration::from_secs(86_400 * 365 * 10);

/// A one-worker loop on a virtual clock, under a watchdog.
fn on_virtual_clock(name: &str, body: impl FnOnce(&EventLoop) + Send + 'static) {
    with_watchdog(WATCHDOG, name, move || {
        let event_loop = EventLoop::builder().workers(1).paused_clock().build().expect("start the loop");
        body(&event_loop);
        event_loop.close();
    });
}

/// A callback that records `name` in `log`.
fn record(log: &Arc<Mutex<Vec<&'static str>>>, name: &'static str) -> impl FnOnce() + Send + 'static {
    let log = log.clone();
    move || log.lock().unwrap().push(name)
}

/// A one-worker loop on the real clock, under a watchdog: where "never"
/// must be seen not to happen, a virtual clock would jump to it once the
/// loop is idle.
fn on_real_clock(name: &str, body: impl FnOnce(&EventLoop) + Send + 'static) {
    with_watchdog(WATCHDOG, name, move || {
        let event_loop = EventLoop::builder().workers(1).build().expect("start the loop");
        body(&event_loop);
        event_loop.close();
    });
}

#[test]
fn call_later_runs_zero_and_one_nanosecond_soon_and_duration_max_never() {
    on_real_clock("call_later", |event_loop| {
        let handle = event_loop.handle();
        let log = Arc::new(Mutex::new(Vec::new()));
        let t0 = handle.time();
        let never = handle.call_later(Duration::MAX, record(&log, "never")).unwrap();
        handle.call_later(Duration::ZERO, record(&log, "zero")).unwrap();
        handle.call_later(NS, record(&log, "one ns")).unwrap();
        assert!(never.when() > t0 + DECADE);
        // Later than both: by then they ran, and a deadline that wrapped
        // around to the past would have run too.
        event_loop.block_on(loopwork::sleep(Duration::from_millis(5)));
        assert_eq!(*log.lock().unwrap(), ["zero", "one ns"]);
        assert!(never.cancel());
    });
}

#[test]
fn call_at_runs_a_past_instant_soon_and_a_far_future_one_never() {
    on_real_clock("call_at", |event_loop| {
        let handle = event_loop.handle();
        let log = Arc::new(Mutex::new(Vec::new()));
        let now = handle.time();
        let never = handle.call_at(far_future(now), record(&log, "never")).unwrap();
        handle.call_at(far_past(now), record(&log, "far past")).unwrap();
        handle.call_at(now, record(&log, "now")).unwrap();
        event_loop.block_on(loopwork::sleep(Duration::from_millis(5)));
        assert_eq!(*log.lock().unwrap(), ["far past", "now"]);
        assert!(never.cancel());
    });
}

#[test]
fn sleep_of_zero_and_one_nanosecond_end_and_duration_max_never_does() {
    on_virtual_clock("sleep", |event_loop| {
        let t0 = event_loop.handle().time();
        event_loop.block_on(loopwork::sleep(Duration::ZERO));
        event_loop.block_on(loopwork::sleep(NS));
        assert!(event_loop.handle().time() >= t0 + NS);
        let never = event_loop.block_on(async {
            let never = loopwork::sleep(Duration::MAX);
            assert!(never.deadline().unwrap() > t0 + DECADE);
            loopwork::timeout(YEAR, never).await
        });
        assert!(never.is_err(), "sleep(Duration::MAX) ended within a year");
    });
}

#[test]
fn sleep_until_a_past_instant_ends_and_a_far_future_one_never_does() {
    on_virtual_clock("sleep_until", |event_loop| {
        let now = event_loop.handle().time();
        event_loop.block_on(loopwork::sleep_until(far_past(now)));
        event_loop.block_on(loopwork::sleep_until(now));
        let never = event_loop.block_on(loopwork::timeout(YEAR, loopwork::sleep_until(far_future(now))));
        assert!(never.is_err(), "sleep_until(far future) ended within a year");
    });
}

#[test]
fn interval_of_zero_panics_naming_the_period_one_nanosecond_ticks_and_duration_max_ticks_once() {
    let message = panic_message(|| drop(loopwork::interval(Duration::ZERO)));
    assert!(message.contains("period"), "{message}");
    on_virtual_clock("interval", |event_loop| {
        event_loop.block_on(async {
            let mut ticks = loopwork::interval(NS);
            let (first, second) = (ticks.tick().await, ticks.tick().await);
            assert!(second > first);
            let mut once = loopwork::interval(Duration::MAX);
            once.tick().await;
            assert!(loopwork::timeout(YEAR, once.tick()).await.is_err(), "a second tick within a year");
        });
    });
}

#[test]
fn interval_at_a_far_past_start_ticks_at_once_and_a_far_future_start_never() {
    let message = panic_message(|| drop(loopwork::interval_at(Instant::now(), Duration::ZERO)));
    assert!(message.contains("period"), "{message}");
    on_virtual_clock("interval_at", |event_loop| {
        let now = event_loop.handle().time();
        event_loop.block_on(async move {
            let start = far_past(now);
            let mut ticks = loopwork::interval_at(start, NS);
            assert_eq!(ticks.tick().await, start);
            // The missed ticks are skipped: the next is on the grid, not before now.
            assert!(ticks.tick().await >= now);
            let mut once = loopwork::interval_at(start, Duration::MAX);
            assert_eq!(once.tick().await, start);
            assert!(loopwork::timeout(YEAR, once.tick()).await.is_err(), "a second tick within a year");
            let mut later = loopwork::interval_at(far_future(now), Duration::from_secs(1));
            assert!(loopwork::timeout(YEAR, later.tick()).await.is_err(), "a far future start ticked");
        });
    });
}

#[test]
fn timeout_of_zero_keeps_a_ready_value_and_duration_max_never_expires() {
    on_virtual_clock("timeout", |event_loop| {
        event_loop.block_on(async {
            assert_eq!(loopwork::timeout(Duration::ZERO, async { 1 }).await, Ok(1));
            assert!(loopwork::timeout(Duration::ZERO, std::future::pending::<()>()).await.is_err());
            assert!(loopwork::timeout(NS, loopwork::sleep(Duration::from_secs(1))).await.is_err());
            assert_eq!(loopwork::timeout(Duration::MAX, loopwork::sleep(YEAR)).await, Ok(()));
        });
    });
}

#[test]
fn timeout_at_a_past_instant_expires_and_a_far_future_one_never() {
    on_virtual_clock("timeout_at", |event_loop| {
        let now = event_loop.handle().time();
        event_loop.block_on(async move {
            assert_eq!(loopwork::timeout_at(far_past(now), async { 1 }).await, Ok(1));
            assert!(loopwork::timeout_at(far_past(now), std::future::pending::<()>()).await.is_err());
            assert_eq!(loopwork::timeout_at(far_future(now), loopwork::sleep(YEAR)).await, Ok(()));
        });
    });
}

#[test]
fn wait_with_a_zero_timeout_returns_at_once_and_with_duration_max_waits_for_the_tasks() {
    on_virtual_clock("wait", |event_loop| {
        event_loop.block_on(async {
            for timeout in [Duration::ZERO, NS] {
                let task = loopwork::spawn(loopwork::sleep(Duration::from_secs(1)));
                let (done, pending) = loopwork::wait([task], ReturnWhen::AllCompleted, Some(timeout)).await;
                assert_eq!((done.len(), pending.len()), (0, 1), "timeout {timeout:?}");
            }
            let task = loopwork::spawn(loopwork::sleep(YEAR));
            let (done, pending) = loopwork::wait([task], ReturnWhen::AllCompleted, Some(Duration::MAX)).await;
            assert_eq!((done.len(), pending.len()), (1, 0));
        });
    });
}

#[test]
fn result_timeout_of_zero_only_looks_and_duration_max_waits_like_result() {
    with_watchdog(WATCHDOG, "result_timeout", || {
        let event_loop = EventLoop::builder().workers(1).build().unwrap();
        let handle = event_loop.handle();
        let mut pending = handle.run_coroutine_threadsafe(std::future::pending::<()>()).unwrap();
        assert!(pending.result_timeout(Duration::ZERO).is_err());
        assert!(pending.result_timeout(NS).is_err());
        let (tx, rx) = mpsc::channel::<()>();
        let mut later = handle
            .run_coroutine_threadsafe(async move {
                loopwork::run_in_executor(move || rx.recv().unwrap()).await.unwrap();
                7
            })
            .unwrap();
        tx.send(()).unwrap();
        assert_eq!(later.result_timeout(Duration::MAX).unwrap().unwrap(), 7);
        pending.cancel();
        event_loop.close();
    });
}

#[test]
fn shutdown_of_zero_does_not_wait_for_a_busy_worker_and_duration_max_waits() {
    with_watchdog(WATCHDOG, "shutdown", || {
        let idle = EventLoop::builder().workers(1).build().unwrap();
        assert!(idle.shutdown(Duration::MAX).is_ok());
        let busy = EventLoop::builder().workers(1).build().unwrap();
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        busy.handle()
            .spawn(async move {
                started_tx.send(()).unwrap();
                // Blocks its worker until the test has tried to shut down.
                release_rx.recv_timeout(WATCHDOG).unwrap();
            })
            .unwrap();
        started.recv().unwrap();
        let err = busy.shutdown(Duration::ZERO).expect_err("a busy worker was waited for");
        assert_eq!(err.workers, 1);
        release.send(()).unwrap();
        for timeout in [Duration::ZERO, NS, Duration::MAX] {
            assert!(ThreadPool::new(1).shutdown(timeout).is_ok());
        }
    });
}

/// A loop whose exception handler sends a `()` for every slow-poll report.
fn reporting_slow_polls(threshold: Duration) -> (EventLoop, mpsc::Receiver<()>) {
    let (tx, reports) = mpsc::channel();
    let tx = Mutex::new(tx);
    let event_loop = EventLoop::builder()
        .workers(1)
        .slow_poll_threshold(threshold)
        .on_unhandled_panic(move |report| {
            if matches!(report.kind, ExceptionKind::SlowPoll { .. }) {
                let _ = tx.lock().unwrap().send(());
            }
        })
        .build()
        .unwrap();
    (event_loop, reports)
}

#[test]
fn slow_poll_threshold_of_zero_reports_a_running_poll_and_duration_max_reports_none() {
    with_watchdog(WATCHDOG, "slow_poll_threshold", || {
        let (event_loop, reports) = reporting_slow_polls(Duration::ZERO);
        // The poll stays stuck until the monitor has reported it.
        let task = event_loop.handle().spawn(async move { reports.recv_timeout(WATCHDOG).is_ok() }).unwrap();
        assert!(event_loop.block_on(task).unwrap(), "a stuck poll was not reported at threshold zero");
        event_loop.close();

        let (event_loop, reports) = reporting_slow_polls(Duration::MAX);
        // Long enough for the monitor to sample it many times.
        let task = event_loop.handle().spawn(async { std::thread::sleep(Duration::from_millis(50)) }).unwrap();
        event_loop.block_on(task).unwrap();
        event_loop.close();
        assert!(reports.try_recv().is_err(), "a poll was reported at threshold Duration::MAX");
    });
}

#[test]
fn advance_by_zero_stays_by_one_nanosecond_moves_and_by_duration_max_moves_decades() {
    on_virtual_clock("advance", |event_loop| {
        let handle = event_loop.handle();
        let log = Arc::new(Mutex::new(Vec::new()));
        let t0 = handle.time();
        handle.advance(Duration::ZERO);
        assert_eq!(handle.time(), t0);
        handle.advance(NS);
        assert_eq!(handle.time(), t0 + NS);
        handle.call_later(YEAR, record(&log, "a year")).unwrap();
        handle.advance(Duration::MAX);
        assert!(handle.time() > t0 + DECADE);
        handle.advance(Duration::MAX);
        event_loop.block_on(loopwork::sleep(Duration::from_millis(1)));
        assert_eq!(*log.lock().unwrap(), ["a year"]);
    });
}
